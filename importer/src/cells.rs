//! Cells: calamine's values turned into owned, normalised cells that the domain parsers
//! read through [`entity::types::Raw`]. A cell no parser may see — control characters,
//! text over Excel's cell limit, a formula with no saved value, an ISO date that is no date —
//! becomes [`Cell::Refused`] with the reason, so the row gets an error on that column.

use calamine::{Data, DataRef, ExcelDateTime};
use entity::types::{Raw, ValueError, text};

/// Characters of a value echoed into a report or an error workbook.
pub const SHOWN_CHARS: usize = 200;

/// One cell, text already normalised. 24 bytes: a sheet holds one per known column of each
/// data row until the row is parsed, so the rare cases (an error value, a refusal) are boxed.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    /// Nothing (or only white space).
    #[default]
    Empty,
    /// Normalised text (shared: cells of one shared string hold one copy).
    Text(std::sync::Arc<str>),
    /// A number.
    Number(f64),
    /// An Excel date: its serial in the 1900 date system (days since 1899-12-30), whatever
    /// system the workbook uses.
    Date(f64),
    /// A boolean.
    Bool(bool),
    /// An error cell (`#N/A`).
    Error(Box<str>),
    /// A cell that cannot be read as a value.
    Refused(Box<Unreadable>),
}

// a province's sheets hold a few million cells while they are parsed
const _: () = assert!(std::mem::size_of::<Cell>() <= 24);

/// Why a cell cannot be read, and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// The reason.
    pub why: ValueError,
    /// What the cell holds as a report shows it (cut to [`SHOWN_CHARS`]).
    pub shown: Option<String>,
}

impl Cell {
    /// A cell that cannot be read for `why`, showing `shown`.
    pub fn refused_for(why: ValueError, shown: Option<String>) -> Cell {
        Cell::Refused(Box::new(Unreadable { why, shown }))
    }

    /// From a calamine value of a whole-sheet range (xls, ods, xlsb).
    pub fn from_data(d: &Data, max_chars: usize) -> Cell {
        match d {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::text(s, max_chars),
            Data::Int(i) => Cell::Number(*i as f64),
            Data::Float(f) => Cell::Number(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => Cell::date(dt),
            Data::DateTimeIso(s) => Cell::iso_date(s),
            Data::DurationIso(s) => Cell::text(s, max_chars),
            Data::Error(e) => Cell::Error(e.to_string().into()),
        }
    }

    /// From a streamed xlsx value.
    pub fn from_data_ref(d: &DataRef<'_>, max_chars: usize) -> Cell {
        match d {
            DataRef::Empty => Cell::Empty,
            DataRef::String(s) => Cell::text(&ooxml_unescape(s), max_chars),
            DataRef::SharedString(s) => Cell::text(&ooxml_unescape(s), max_chars),
            DataRef::Int(i) => Cell::Number(*i as f64),
            DataRef::Float(f) => Cell::Number(*f),
            DataRef::Bool(b) => Cell::Bool(*b),
            DataRef::DateTime(dt) => Cell::date(dt),
            DataRef::DateTimeIso(s) => Cell::iso_date(s),
            DataRef::DurationIso(s) => Cell::text(s, max_chars),
            DataRef::Error(e) => Cell::Error(e.to_string().into()),
        }
    }

    /// Text as typed: refused when over `max_chars` or holding a control character,
    /// else normalised.
    pub fn text(s: &str, max_chars: usize) -> Cell {
        if s.len() > max_chars && s.chars().count() > max_chars {
            return Cell::refused_for(ValueError::TooLong { max: max_chars }, Some(shown(s)));
        }
        // control characters are bytes below 0x20, 0x7F, or C1 (0xC2 0x80–0x9F) in UTF-8
        let maybe_control = s.bytes().any(|b| {
            (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0x7F || b == 0xC2
        });
        if maybe_control && let Some((position, _)) = text::find_control(s) {
            let visible: String = s
                .chars()
                .take(SHOWN_CHARS)
                .map(|c| if text::is_control(c) { '\u{FFFD}' } else { c })
                .collect();
            return Cell::refused_for(ValueError::ControlCharacter { position }, Some(visible));
        }
        let t = text::normalize_text(s);
        if t.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(std::sync::Arc::from(t.as_ref()))
        }
    }

    /// An Excel date cell, in the 1900 system whichever the workbook uses (`date1904`):
    /// calamine's `as_datetime` knows the workbook's system; its day counted from 1899-12-30
    /// is the 1900 serial.
    fn date(dt: &ExcelDateTime) -> Cell {
        if dt.is_duration() {
            return Cell::Number(dt.as_f64());
        }
        let epoch =
            chrono::NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|e| e.and_hms_opt(0, 0, 0));
        match (dt.as_datetime(), epoch) {
            (Some(d), Some(e)) => Cell::Date((d - e).num_seconds() as f64 / 86_400.0),
            _ => Cell::refused_for(ValueError::DateInvalid, Some(dt.as_f64().to_string())),
        }
    }

    /// A `t="d"` cell: an ISO 8601 date or date-time, as the 1900 serial of its day.
    fn iso_date(s: &str) -> Cell {
        let day = s.get(..10).unwrap_or(s);
        match chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) => match chrono::NaiveDate::from_ymd_opt(1899, 12, 30) {
                Some(epoch) => Cell::Date((d - epoch).num_days() as f64),
                None => Cell::refused_for(ValueError::DateInvalid, Some(shown(s))),
            },
            Err(_) => Cell::refused_for(ValueError::DateInvalid, Some(shown(s))),
        }
    }

    /// The view domain parsers take (a refused cell reads as empty: callers check
    /// [`Cell::refused`] first).
    pub fn raw(&self) -> Raw<'_> {
        match self {
            Cell::Empty | Cell::Refused(..) => Raw::Empty,
            Cell::Text(s) => Raw::Text(s),
            Cell::Number(f) => Raw::Number(*f),
            Cell::Date(f) => Raw::Date(*f),
            Cell::Bool(b) => Raw::Bool(*b),
            Cell::Error(e) => Raw::Error(e),
        }
    }

    /// Why the cell cannot be read, when it cannot.
    pub fn refused(&self) -> Option<&ValueError> {
        match self {
            Cell::Refused(u) => Some(&u.why),
            _ => None,
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// Bytes of text the cell holds (for the reader's memory bound).
    pub fn text_len(&self) -> usize {
        match self {
            Cell::Text(s) => s.len(),
            Cell::Error(s) => s.len(),
            Cell::Refused(u) => u.shown.as_ref().map_or(0, String::len),
            _ => 0,
        }
    }

    /// The value as a report shows it, cut to [`SHOWN_CHARS`] characters.
    pub fn display(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) => Some(shown(s)),
            Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{:.0}", f)),
            Cell::Number(f) => Some(f.to_string()),
            Cell::Date(serial) => Some(
                chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                    .and_then(|d| d.checked_add_days(chrono::Days::new(serial.max(0.0) as u64)))
                    .map_or_else(|| serial.to_string(), |d| d.format("%Y-%m-%d").to_string()),
            ),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Error(e) => Some(shown(e)),
            Cell::Refused(u) => u.shown.clone(),
        }
    }
}

/// Decodes the `_xHHHH_` escapes Office Open XML writes for characters XML cannot hold
/// (control characters: `_x0001_`), as Excel reads them; `_x005F_` is a literal `_`.
/// Borrows when there is none.
pub fn ooxml_unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("_x") {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find("_x") {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let code = tail
            .get(2..6)
            .filter(|h| {
                h.bytes().all(|b| b.is_ascii_hexdigit()) && tail.as_bytes().get(6) == Some(&b'_')
            })
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &tail[7..];
            }
            None => {
                out.push_str("_x");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Text cut for a report.
pub fn shown(s: &str) -> String {
    text::truncate_chars(s, SHOWN_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn dates_of_the_1904_system_read_as_the_same_day() {
        // 2022-03-24: 1900 serial 44644, 1904 serial 43182
        let d1900 = ExcelDateTime::new(44644.0, ExcelDateTimeType::DateTime, false);
        let d1904 = ExcelDateTime::new(43182.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(Cell::date(&d1900), Cell::Date(44644.0));
        assert_eq!(Cell::date(&d1904), Cell::Date(44644.0));
    }

    #[test]
    fn iso_date_cells_are_dates() {
        assert_eq!(Cell::iso_date("2022-03-24T00:00:00"), Cell::Date(44644.0));
        assert_eq!(Cell::iso_date("2022-03-24"), Cell::Date(44644.0));
        assert_eq!(
            Cell::iso_date("24/03/2022").refused(),
            Some(&ValueError::DateInvalid)
        );
        assert_eq!(
            Cell::iso_date("ก").refused(),
            Some(&ValueError::DateInvalid)
        );
    }

    #[test]
    fn office_escapes_are_decoded_as_excel_reads_them() {
        assert_eq!(ooxml_unescape("a_x0001_b"), "a\u{1}b");
        assert_eq!(ooxml_unescape("_x005F_x0000_"), "_x0000_");
        assert_eq!(ooxml_unescape("snake_x_case_x12"), "snake_x_case_x12");
        assert_eq!(ooxml_unescape("ก_x0E01_"), "กก");
        let c = Cell::from_data_ref(&DataRef::SharedString("ab_x0000_c"), 100);
        assert_eq!(
            c.refused().map(ValueError::code),
            Some("control_character".into())
        );
    }

    #[test]
    fn control_characters_and_over_long_text_are_refused() {
        let c = Cell::text("ab\u{0}c", 100);
        assert_eq!(
            c.refused().map(|e| e.code()),
            Some("control_character".into())
        );
        assert_eq!(c.display().as_deref(), Some("ab\u{FFFD}c"));
        let long = "ก".repeat(32_768);
        let c = Cell::text(&long, 32_767);
        assert_eq!(c.refused().map(|e| e.code()), Some("too_long".into()));
        assert_eq!(
            c.display().map(|s| s.chars().count()),
            Some(SHOWN_CHARS + 1)
        );
        assert_eq!(
            Cell::text(&"ก".repeat(32_767), 32_767).text_len(),
            32_767 * 3
        );
        // line breaks and tabs are white space, not control characters
        assert_eq!(
            Cell::text("บ้าน\nเลขที่\t5", 100),
            Cell::Text("บ้าน เลขที่ 5".into())
        );
    }
}
