//! Dates as Thai workbooks write them: Excel date cells (with Buddhist-Era years inside),
//! `d/m/yyyy` in BE or CE, two-digit BE years, Thai month names and abbreviations.

use super::{Raw, ValueError, text};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use std::fmt;

/// Full Thai month names, January first.
pub const MONTHS_FULL: [&str; 12] = [
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
];
/// Thai month abbreviations without their dots (`ม.ค.` → `มค`).
const MONTHS_ABBR: [&str; 12] = [
    "มค",
    "กพ",
    "มีค",
    "เมย",
    "พค",
    "มิย",
    "กค",
    "สค",
    "กย",
    "ตค",
    "พย",
    "ธค",
];

/// Thai abbreviated month names with dots, for display.
pub const MONTHS_ABBR_DOTTED: [&str; 12] = [
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
];

/// Days between Excel's day 0 (1899-12-30, counting the 1900 leap-year bug) and 1970-01-01.
const EXCEL_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1899, 12, 30) {
    Some(d) => d,
    None => unreachable!(),
};

/// A calendar date (stored in the Gregorian calendar), parsed from any spelling a workbook uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ThaiDate(NaiveDate);

impl ThaiDate {
    /// Parses a cell. `today` bounds it: a date after today is an error, and a two-digit
    /// BE year goes to the latest century that does not put the date after today.
    pub fn parse(raw: &Raw<'_>, today: NaiveDate) -> Result<Self, ValueError> {
        let date = match raw {
            Raw::Empty => return Err(ValueError::Required),
            Raw::Error(e) => return Err(ValueError::ExcelError((*e).to_string())),
            Raw::Date(serial) | Raw::Number(serial) => from_excel_serial(*serial)?,
            Raw::Bool(_) => return Err(ValueError::DateInvalid),
            Raw::Text(s) => {
                let norm = text::normalize_text(s);
                let ascii = text::ascii_digits(&norm);
                parse_text(&ascii, today)?
            }
        };
        Self::check(date, today)
    }

    /// Parses text (a stored value or an API argument), with the same rules.
    pub fn parse_str(s: &str, today: NaiveDate) -> Result<Self, ValueError> {
        Self::parse(&Raw::Text(s), today)
    }

    fn check(date: NaiveDate, today: NaiveDate) -> Result<Self, ValueError> {
        if date.year() < 1900 {
            return Err(ValueError::DateTooEarly);
        }
        if date > today {
            return Err(ValueError::DateFuture);
        }
        Ok(Self(date))
    }

    /// Wraps a date known to be good (read back from the database).
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    /// The Gregorian date.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// `15 ก.ย. 2565`.
    pub fn to_thai(self) -> String {
        format!(
            "{} {} {}",
            self.0.day(),
            MONTHS_ABBR_DOTTED[self.0.month0() as usize],
            self.0.year() + 543
        )
    }
}

impl fmt::Display for ThaiDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Year written in a cell → Gregorian year. Four digits above 2400 are BE; two digits are
/// BE in the latest century that keeps (year, month, day) on or before today.
fn resolve_year(y: &str, month: u32, day: u32, today: NaiveDate) -> Result<i32, ValueError> {
    let n: i32 = y.parse().map_err(|_| ValueError::DateInvalid)?;
    match y.len() {
        4 if n > 2400 => Ok(n - 543),
        4 => Ok(n),
        2 => {
            let today_be = today.year() + 543;
            let mut be = today_be - today_be % 100 + n;
            // keep the latest century that does not put the date after today
            loop {
                let ce = be - 543;
                let ok = match NaiveDate::from_ymd_opt(ce, month, day) {
                    Some(d) => d <= today,
                    // 29 February of a non-leap year: compare with the 28th
                    None => (ce, month, day.min(28)) <= (today.year(), today.month(), today.day()),
                };
                if ok {
                    return Ok(ce);
                }
                be -= 100;
            }
        }
        _ => Err(ValueError::DateInvalid),
    }
}

fn ymd(year: i32, month: u32, day: u32) -> Result<NaiveDate, ValueError> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(ValueError::DateInvalid);
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(ValueError::DateNonexistent)
}

fn from_excel_serial(serial: f64) -> Result<NaiveDate, ValueError> {
    if !serial.is_finite() || !(1.0..3_000_000.0).contains(&serial) {
        return Err(ValueError::DateInvalid);
    }
    let d = EXCEL_EPOCH
        .checked_add_days(Days::new(serial.floor() as u64))
        .ok_or(ValueError::DateInvalid)?;
    if d.year() > 2400 {
        // a Buddhist-Era year typed into a date cell
        return ymd(d.year() - 543, d.month(), d.day());
    }
    Ok(d)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_text(s: &str, today: NaiveDate) -> Result<NaiveDate, ValueError> {
    let s = s.trim();
    // drop a time part Excel sometimes appends
    let s = s.split_once(" 00:00").map_or(s, |(d, _)| d).trim();
    if s.is_empty() {
        return Err(ValueError::Required);
    }
    // yyyy-mm-dd
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() == 3 && parts[0].len() == 4 && parts.iter().all(|p| digits(p)) {
        let (m, d) = (parts[1].parse().unwrap_or(0), parts[2].parse().unwrap_or(0));
        let y = resolve_year(parts[0], m, d, today)?;
        return ymd(y, m, d);
    }
    // d/m/y, d-m-y, d.m.y
    for sep in ['/', '-', '.'] {
        let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
        if parts.len() == 3
            && parts.iter().all(|p| digits(p))
            && parts[0].len() <= 2
            && parts[1].len() <= 2
        {
            let (d, m): (u32, u32) = (parts[0].parse().unwrap_or(0), parts[1].parse().unwrap_or(0));
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                return Err(ValueError::DateInvalid);
            }
            let y = resolve_year(parts[2], m, d, today)?;
            return ymd(y, m, d);
        }
    }
    // d <Thai month> y
    let day_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let year_start = s.len() - text::split_trailing_digits(s).1.len();
    if day_end == 0 || year_start >= s.len() || day_end > year_start {
        return Err(ValueError::DateInvalid);
    }
    let (day, month_part, year) = (&s[..day_end], &s[day_end..year_start], &s[year_start..]);
    let month_key: String = month_part
        .replace("พ.ศ.", "")
        .replace("พ.ศ", "")
        .chars()
        .filter(|c| *c != '.' && *c != ' ')
        .collect();
    let month = MONTHS_FULL
        .iter()
        .position(|m| *m == month_key)
        .or_else(|| MONTHS_ABBR.iter().position(|m| *m == month_key))
        .ok_or(ValueError::DateInvalid)? as u32
        + 1;
    let d: u32 = day.parse().map_err(|_| ValueError::DateInvalid)?;
    if !(1..=31).contains(&d) {
        return Err(ValueError::DateInvalid);
    }
    let y = resolve_year(year, month, d, today)?;
    ymd(y, month, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn p(s: &str) -> Result<NaiveDate, String> {
        ThaiDate::parse(&Raw::Text(s), today())
            .map(ThaiDate::date)
            .map_err(|e| e.code())
    }

    fn d(y: i32, m: u32, day: u32) -> Result<NaiveDate, String> {
        Ok(NaiveDate::from_ymd_opt(y, m, day).unwrap())
    }

    #[test]
    fn slashed_dashed_and_dotted_dates_in_be_and_ce() {
        assert_eq!(p("2/07/2555"), d(2012, 7, 2));
        assert_eq!(p("25-3-2489"), d(1946, 3, 25));
        assert_eq!(p("15.9.2565"), d(2022, 9, 15));
        assert_eq!(p("15/09/2022"), d(2022, 9, 15));
        assert_eq!(p("2022-06-02"), d(2022, 6, 2));
        assert_eq!(p("2565-06-02"), d(2022, 6, 2));
    }

    #[test]
    fn thai_month_names_with_and_without_dots() {
        assert_eq!(p("15 ก.ย. 2565"), d(2022, 9, 15));
        assert_eq!(p("15 กันยายน 2565"), d(2022, 9, 15));
        assert_eq!(p("5 เม.ย 2565"), d(2022, 4, 5));
        assert_eq!(p("5 เมย 2565"), d(2022, 4, 5));
        assert_eq!(p("15 ส.ค 64"), d(2021, 8, 15));
        assert_eq!(p("๑๘ พฤษภาคม ๒๕๖๕"), d(2022, 5, 18));
        assert_eq!(p("15ก.ย.2565"), d(2022, 9, 15));
        assert_eq!(p("15 ก.ย. พ.ศ. 2565"), d(2022, 9, 15));
    }

    #[test]
    fn two_digit_years_are_be_in_the_latest_century_not_in_the_future() {
        assert_eq!(p("8 มี.ค 65"), d(2022, 3, 8));
        assert_eq!(p("31 ม.ค. 81"), d(1938, 1, 31));
        assert_eq!(p("29 ม.ค 05"), d(1962, 1, 29));
        assert_eq!(p("1/1/69"), d(2026, 1, 1));
        assert_eq!(p("1/12/69"), d(1926, 12, 1));
    }

    #[test]
    fn impossible_future_and_ancient_dates_are_refused() {
        assert_eq!(p("31/02/2565"), Err("date_nonexistent".into()));
        assert_eq!(p("29/02/2564"), Err("date_nonexistent".into()));
        assert_eq!(p("29/02/2563"), d(2020, 2, 29));
        assert_eq!(p("15/09/2599"), Err("date_future".into()));
        assert_eq!(p("1/1/2442"), Err("date_too_early".into()));
        assert_eq!(p("32/01/2565"), Err("date_invalid".into()));
        assert_eq!(p("15 foo 2565"), Err("date_invalid".into()));
        assert_eq!(p("12/3"), Err("date_invalid".into()));
        assert_eq!(p("yesterday"), Err("date_invalid".into()));
        // Thai text where a year should end the date: an error, never a panic
        assert_eq!(p("15 มกราคม"), Err("date_invalid".into()));
        assert_eq!(p("มกราคม"), Err("date_invalid".into()));
        assert_eq!(p("ก"), Err("date_invalid".into()));
    }

    #[test]
    fn excel_date_cells_with_be_and_ce_years() {
        // 2022-03-24 is serial 44644
        let ce = ThaiDate::parse(&Raw::Date(44644.0), today()).unwrap();
        assert_eq!(ce.date(), NaiveDate::from_ymd_opt(2022, 3, 24).unwrap());
        // the same day typed with its BE year: 2565-03-24 in Excel's calendar
        let serial =
            (NaiveDate::from_ymd_opt(2565, 3, 24).unwrap() - EXCEL_EPOCH).num_days() as f64;
        let be = ThaiDate::parse(&Raw::Date(serial), today()).unwrap();
        assert_eq!(be.date(), NaiveDate::from_ymd_opt(2022, 3, 24).unwrap());
        // 2564-02-29 exists in Excel's calendar but 2021-02-29 does not
        let serial =
            (NaiveDate::from_ymd_opt(2564, 2, 29).unwrap() - EXCEL_EPOCH).num_days() as f64;
        assert_eq!(
            ThaiDate::parse(&Raw::Date(serial), today())
                .unwrap_err()
                .code(),
            "date_nonexistent"
        );
    }

    #[test]
    fn displays_in_thai() {
        let t = ThaiDate::parse(&Raw::Text("15/09/2565"), today()).unwrap();
        assert_eq!(t.to_thai(), "15 ก.ย. 2565");
        assert_eq!(t.to_string(), "2022-09-15");
    }
}
