//! Codes and identifiers: citizen IDs, house codes, area and village codes, village numbers.
//! Each is a string of digits of a fixed length, read from text or numeric cells.

use super::{Raw, UnknownKey, ValueError, text};
use serde::Serialize;
use std::fmt;

/// True for text such as `1.23456789012E+12`: a number Excel turned into scientific notation.
fn looks_scientific(s: &str) -> bool {
    let Some(pos) = s.find(['e', 'E']) else {
        return false;
    };
    let (mantissa, exp) = (&s[..pos], &s[pos + 1..]);
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && !exp.is_empty()
        && exp.chars().all(|c| c.is_ascii_digit())
}

/// Reads a fixed-length digit code from a cell: text with Thai digits, spaces and dashes,
/// or a numeric cell holding the exact whole number.
pub(crate) fn parse_digits(
    raw: &Raw<'_>,
    what: &'static str,
    len: usize,
) -> Result<String, ValueError> {
    let digits = match raw {
        Raw::Empty => return Err(ValueError::Required),
        Raw::Error(e) => return Err(ValueError::ExcelError((*e).to_string())),
        Raw::Text(s) => {
            let norm = text::normalize_text(s);
            let ascii = text::ascii_digits(&norm);
            let s: String = ascii.chars().filter(|c| *c != ' ' && *c != '-').collect();
            if s.is_empty() {
                return Err(ValueError::Required);
            }
            if looks_scientific(&s) {
                return Err(ValueError::Scientific { what });
            }
            if !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(ValueError::NotDigits { what });
            }
            s
        }
        Raw::Number(f) => {
            if !f.is_finite() || *f < 0.0 || f.fract() != 0.0 || *f >= 1e15 {
                return Err(ValueError::NotDigits { what });
            }
            format!("{:.0}", f)
        }
        Raw::Date(_) | Raw::Bool(_) => return Err(ValueError::NotDigits { what }),
    };
    if digits.len() != len {
        return Err(ValueError::Length {
            what,
            expected: len,
            found: digits.len(),
        });
    }
    Ok(digits)
}

macro_rules! digit_code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $len:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize,
            sea_orm::DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Number of digits.
            pub const LEN: usize = $len;

            /// Parses a cell; the only way to make one.
            pub fn parse(raw: &Raw<'_>) -> Result<Self, ValueError> {
                parse_digits(raw, $what, $len).map(Self)
            }

            /// Parses text (a stored value, an API argument).
            pub fn parse_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(&Raw::Text(s))
            }

            /// The digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The digits, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

digit_code!(
    /// A 13-digit Thai citizen ID (เลขประจำตัวประชาชน). Parsing does not check the
    /// check digit: a wrong one is a warning, see [`CitizenId::checksum_valid`].
    CitizenId,
    "citizen_id",
    13
);
digit_code!(
    /// An 11-digit house code (รหัสบ้าน). Its first four digits are the registration
    /// office, which need not be the household's district; it has no check digit.
    HouseCode,
    "house_code",
    11
);
digit_code!(
    /// An 8-digit village code: subdistrict code + two-digit village number.
    VillageCode,
    "village_code",
    8
);

impl CitizenId {
    /// Whether d13 = (11 − Σ dᵢ(14 − i) mod 11) mod 10.
    pub fn checksum_valid(&self) -> bool {
        let d: Vec<u32> = self.0.bytes().map(|b| u32::from(b - b'0')).collect();
        let s: u32 = (0..12).map(|i| d[i] * (13 - i as u32)).sum();
        (11 - s % 11) % 10 == d[12]
    }

    /// Computes the check digit for 12 leading digits (for generators and tests).
    pub fn check_digit(first12: &str) -> Option<char> {
        if first12.len() != 12 || !first12.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let s: u32 = first12
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * (13 - i as u32))
            .sum();
        char::from_digit((11 - s % 11) % 10, 10)
    }
}

impl VillageCode {
    /// The village code for a subdistrict and a village number.
    pub fn of(subdistrict: &AreaCode, village: VillageNo) -> Option<Self> {
        (subdistrict.level() == AreaLevel::Subdistrict)
            .then(|| Self(format!("{}{:02}", subdistrict.0, village.0)))
    }

    /// The subdistrict part.
    pub fn subdistrict(&self) -> &str {
        &self.0[..6]
    }

    /// The village number part.
    pub fn village_no(&self) -> VillageNo {
        VillageNo(self.0[6..].parse().unwrap_or(0))
    }
}

/// The level of an administrative area.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sea_orm::DeriveValueType,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
#[sea_orm(
    value_type = "String",
    from_str = "AreaLevel::from_db",
    to_str = "AreaLevel::db_key"
)]
pub enum AreaLevel {
    /// จังหวัด, 2 digits
    Province,
    /// อำเภอ / เขต, 4 digits
    District,
    /// ตำบล / แขวง, 6 digits
    Subdistrict,
    /// หมู่บ้าน, 8 digits
    Village,
}

impl AreaLevel {
    /// `province`, `district`, `subdistrict`, `village`.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::Province => "province",
            AreaLevel::District => "district",
            AreaLevel::Subdistrict => "subdistrict",
            AreaLevel::Village => "village",
        }
    }

    /// Parses the level names above.
    pub fn parse(s: &str) -> Option<Self> {
        match text::match_key(s).as_str() {
            "province" => Some(AreaLevel::Province),
            "district" => Some(AreaLevel::District),
            "subdistrict" => Some(AreaLevel::Subdistrict),
            "village" => Some(AreaLevel::Village),
            _ => None,
        }
    }

    /// Reads a stored level (exactly as written, unlike [`Self::parse`]).
    fn from_db(s: &str) -> Result<Self, UnknownKey> {
        [
            AreaLevel::Province,
            AreaLevel::District,
            AreaLevel::Subdistrict,
            AreaLevel::Village,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| UnknownKey {
            what: "AreaLevel",
            key: s.to_string(),
        })
    }

    fn db_key(&self) -> &'static str {
        self.as_str()
    }

    /// Number of digits in a code of this level.
    pub fn code_len(self) -> usize {
        match self {
            AreaLevel::Province => 2,
            AreaLevel::District => 4,
            AreaLevel::Subdistrict => 6,
            AreaLevel::Village => 8,
        }
    }
}

/// An area code of any level (2, 4, 6 or 8 digits); the length tells the level.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sea_orm::DeriveValueType,
)]
#[serde(transparent)]
pub struct AreaCode(String);

impl AreaCode {
    /// Parses a code of any level.
    pub fn parse(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let s = match raw {
            Raw::Number(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1e9 => format!("{:.0}", f),
            Raw::Text(s) => text::ascii_digits(&text::normalize_text(s)).replace([' ', '-'], ""),
            Raw::Empty => return Err(ValueError::Required),
            Raw::Error(e) => return Err(ValueError::ExcelError((*e).to_string())),
            _ => return Err(ValueError::NotDigits { what: "area_code" }),
        };
        if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
            return Err(ValueError::NotDigits { what: "area_code" });
        }
        if ![2, 4, 6, 8].contains(&s.len()) {
            return Err(ValueError::Length {
                what: "area_code",
                expected: 6,
                found: s.len(),
            });
        }
        Ok(Self(s))
    }

    /// Parses text.
    pub fn parse_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(&Raw::Text(s))
    }

    /// Parses text that must be of the given level.
    pub fn parse_level(s: &str, level: AreaLevel) -> Result<Self, ValueError> {
        let c = Self::parse_str(s)?;
        if c.level() != level {
            return Err(ValueError::Length {
                what: "area_code",
                expected: level.code_len(),
                found: c.0.len(),
            });
        }
        Ok(c)
    }

    /// The level, from the length.
    pub fn level(&self) -> AreaLevel {
        match self.0.len() {
            2 => AreaLevel::Province,
            4 => AreaLevel::District,
            6 => AreaLevel::Subdistrict,
            _ => AreaLevel::Village,
        }
    }

    /// The enclosing area's code, if any.
    pub fn parent(&self) -> Option<AreaCode> {
        (self.0.len() > 2).then(|| AreaCode(self.0[..self.0.len() - 2].to_string()))
    }

    /// The code at a coarser level (`province_of("331801") == "33"`).
    pub fn ancestor(&self, level: AreaLevel) -> Option<AreaCode> {
        (level.code_len() <= self.0.len()).then(|| AreaCode(self.0[..level.code_len()].to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<VillageCode> for AreaCode {
    fn from(v: VillageCode) -> Self {
        AreaCode(v.0)
    }
}

impl PartialEq<&str> for AreaCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl AsRef<str> for AreaCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A village number (หมู่ที่), 1–99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct VillageNo(u8);

impl VillageNo {
    /// Parses `5`, `05`, `ม.5`, `หมู่ 5`, `หมู่ที่ 5`, `0105` (last two digits), Thai digits, numeric cells.
    pub fn parse(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let n: u32 = match raw {
            Raw::Empty => return Err(ValueError::Required),
            Raw::Error(e) => return Err(ValueError::ExcelError((*e).to_string())),
            Raw::Number(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 10000.0 => *f as u32,
            Raw::Text(s) => {
                let norm = text::normalize_text(s);
                let ascii = text::ascii_digits(&norm);
                let rest =
                    text::strip_prefixes(&ascii, &["หมู่ที่", "หมู่", "ม.", "ม", "moo", "Moo", "หมู่ที่."]);
                let rest = rest.trim_start_matches('.').trim();
                if rest.is_empty() || rest.len() > 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ValueError::VillageNo);
                }
                let v: u32 = rest.parse().map_err(|_| ValueError::VillageNo)?;
                if rest.len() == 4 { v % 100 } else { v }
            }
            _ => return Err(ValueError::VillageNo),
        };
        let n = if (100..10000).contains(&n) {
            n % 100
        } else {
            n
        };
        if !(1..=99).contains(&n) {
            return Err(ValueError::VillageNo);
        }
        Ok(Self(n as u8))
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// A village number from a known-good integer (generators, stored codes).
    pub fn new(n: u8) -> Option<Self> {
        (1..=99).contains(&n).then_some(Self(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn citizen_id_from_text_with_dashes_and_thai_digits() {
        let id = CitizenId::parse(&Raw::Text("1-2345-67890-12-1")).unwrap();
        assert_eq!(id.as_str(), "1234567890121");
        assert!(id.checksum_valid());
        let id = CitizenId::parse(&Raw::Text("๑๒๓๔๕๖๗๘๙๐๑๒๑")).unwrap();
        assert_eq!(id.as_str(), "1234567890121");
        let id = CitizenId::parse(&Raw::Text(" 1217743668751\u{200B}")).unwrap();
        assert_eq!(id.as_str(), "1217743668751");
    }

    #[test]
    fn citizen_id_from_a_numeric_cell() {
        let id = CitizenId::parse(&Raw::Number(1234567890121.0)).unwrap();
        assert_eq!(id.as_str(), "1234567890121");
        assert_eq!(
            CitizenId::parse(&Raw::Number(1234567890121.5))
                .unwrap_err()
                .code(),
            "citizen_id_invalid"
        );
    }

    #[test]
    fn citizen_id_in_scientific_notation_is_its_own_error() {
        let e = CitizenId::parse(&Raw::Text("1.23456789012E+12")).unwrap_err();
        assert_eq!(e.code(), "citizen_id_scientific");
        let e = CitizenId::parse(&Raw::Text("1.23457E+12")).unwrap_err();
        assert_eq!(e.code(), "citizen_id_scientific");
    }

    #[test]
    fn citizen_id_wrong_length_and_bad_characters() {
        assert_eq!(
            CitizenId::parse(&Raw::Text("12345678901"))
                .unwrap_err()
                .code(),
            "citizen_id_length"
        );
        assert_eq!(
            CitizenId::parse(&Raw::Text("12345678901x3"))
                .unwrap_err()
                .code(),
            "citizen_id_invalid"
        );
        assert_eq!(
            CitizenId::parse(&Raw::Empty).unwrap_err().code(),
            "required"
        );
        assert_eq!(
            CitizenId::parse(&Raw::Error("#N/A")).unwrap_err().code(),
            "excel_error"
        );
    }

    #[test]
    fn citizen_id_checksum() {
        assert!(
            CitizenId::parse_str("1234567890121")
                .unwrap()
                .checksum_valid()
        );
        assert!(
            !CitizenId::parse_str("1234567890122")
                .unwrap()
                .checksum_valid()
        );
        assert_eq!(CitizenId::check_digit("123456789012"), Some('1'));
    }

    #[test]
    fn house_code_needs_eleven_digits() {
        assert_eq!(
            HouseCode::parse(&Raw::Text("๓๓๑๘๑๑๘๓๖๘๗"))
                .unwrap()
                .as_str(),
            "33181183687"
        );
        assert_eq!(
            HouseCode::parse(&Raw::Number(33181183687.0))
                .unwrap()
                .as_str(),
            "33181183687"
        );
        assert_eq!(
            HouseCode::parse(&Raw::Text("12345")).unwrap_err().code(),
            "house_code_length"
        );
        assert_eq!(
            HouseCode::parse(&Raw::Text("3.3181E+10"))
                .unwrap_err()
                .code(),
            "house_code_scientific"
        );
    }

    #[test]
    fn village_numbers_in_every_spelling() {
        for s in [
            "5",
            "05",
            "ม.5",
            "ม. 5",
            "หมู่ที่ 5",
            "หมู่ 5",
            "0105",
            "๕",
            "หมู่ที่ ๐๕",
        ] {
            assert_eq!(VillageNo::parse(&Raw::Text(s)).unwrap().get(), 5, "{s}");
        }
        assert_eq!(VillageNo::parse(&Raw::Number(7.0)).unwrap().get(), 7);
        assert_eq!(VillageNo::parse(&Raw::Text("0503")).unwrap().get(), 3);
        for s in ["0", "100", "ห้า", "5a", ""] {
            assert!(VillageNo::parse(&Raw::Text(s)).is_err(), "{s}");
        }
        assert_eq!(
            VillageNo::parse(&Raw::Empty).unwrap_err().code(),
            "required"
        );
    }

    #[test]
    fn area_codes_know_their_level_and_parents() {
        let c = AreaCode::parse_str("331801").unwrap();
        assert_eq!(c.level(), AreaLevel::Subdistrict);
        assert_eq!(c.parent().unwrap().as_str(), "3318");
        assert_eq!(c.ancestor(AreaLevel::Province).unwrap().as_str(), "33");
        let v = VillageCode::of(&c, VillageNo::new(5).unwrap()).unwrap();
        assert_eq!(v.as_str(), "33180105");
        assert_eq!(v.village_no().get(), 5);
        assert!(AreaCode::parse_str("331").is_err());
        assert!(AreaCode::parse_level("3318", AreaLevel::Province).is_err());
    }

    fn spellings(id: &str) -> Vec<Raw<'static>> {
        let thai: String = id
            .chars()
            .map(|c| char::from_u32(0x0E50 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        let dashed = format!(
            "{}-{}-{}-{}-{}",
            &id[0..1],
            &id[1..5],
            &id[5..10],
            &id[10..12],
            &id[12..13]
        );
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        vec![
            Raw::Text(leak(id.to_string())),
            Raw::Text(leak(thai)),
            Raw::Text(leak(dashed)),
            Raw::Text(leak(format!(" {id}\u{200B}"))),
            Raw::Text(leak(format!("{} {}", &id[..6], &id[6..]))),
            Raw::Number(id.parse::<f64>().unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn every_valid_citizen_id_round_trips_through_every_spelling(first in 1u64..9, rest in 0u64..100_000_000_000) {
            let first12 = format!("{first}{rest:011}");
            let id = format!("{first12}{}", CitizenId::check_digit(&first12).unwrap());
            for raw in spellings(&id) {
                let parsed = CitizenId::parse(&raw).unwrap();
                prop_assert_eq!(parsed.as_str(), id.as_str());
                prop_assert!(parsed.checksum_valid());
            }
        }
    }
}
