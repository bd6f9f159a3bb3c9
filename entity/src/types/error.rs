//! The one error type every domain parser returns: a stable code plus a message in
//! Thai and in English that a district officer can act on.

use thiserror::Error;

/// Why a cell value could not become a domain value.
///
/// `code()` is stable and machine-readable; `message_th()` / `message_en()` are for people.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ValueError {
    /// A required value is empty.
    #[error("value is required")]
    Required,
    /// A code or ID typed as text in scientific notation (`1.23456789012E+12`): digits were lost.
    #[error("{what} is in scientific notation and has lost digits")]
    Scientific {
        /// `citizen_id`, `house_code`, …
        what: &'static str,
    },
    /// A code or ID holds characters other than digits, spaces and dashes.
    #[error("{what} must contain digits only")]
    NotDigits {
        /// `citizen_id`, `house_code`, …
        what: &'static str,
    },
    /// A code or ID has the wrong number of digits.
    #[error("{what} must have {expected} digits, found {found}")]
    Length {
        /// `citizen_id`, `house_code`, …
        what: &'static str,
        /// digits required
        expected: usize,
        /// digits found
        found: usize,
    },
    /// Not a date in any accepted spelling.
    #[error("not a date")]
    DateInvalid,
    /// A date that does not exist in the calendar (`31/02/2565`).
    #[error("date does not exist")]
    DateNonexistent,
    /// A date after today.
    #[error("date is in the future")]
    DateFuture,
    /// A date before 1900.
    #[error("date is before 1900")]
    DateTooEarly,
    /// A date before another on the row (a next visit before the help).
    #[error("date is before the {what}")]
    DateBefore {
        /// what it must not come before
        what: &'static str,
    },
    /// A date too far ahead (a next visit more than two years on).
    #[error("date is more than {years} years ahead")]
    DateTooFar {
        /// how many years ahead it may be
        years: u8,
    },
    /// Not a number.
    #[error("not a number")]
    NumberInvalid,
    /// Not a whole number in the allowed range.
    #[error("must be a whole number from {min} to {max}")]
    OutOfRange {
        /// smallest allowed
        min: i64,
        /// largest allowed
        max: i64,
    },
    /// Coordinates outside Thailand.
    #[error("{what} must be between {min} and {max}")]
    Coordinate {
        /// `latitude` or `longitude`
        what: &'static str,
        /// smallest allowed
        min: f64,
        /// largest allowed
        max: f64,
    },
    /// Village number not readable or outside 1–99.
    #[error("village number must be 1–99")]
    VillageNo,
    /// Not one of a fixed list of values.
    #[error("{what} must be one of: {allowed}")]
    NotInList {
        /// `status`, `classification`, `sex`, …
        what: &'static str,
        /// the accepted values, for the message
        allowed: &'static str,
    },
    /// Indicator not among 1–17 and not an indicator's text.
    #[error("unknown indicator (1–17)")]
    IndicatorUnknown,
    /// Cohort not of the form source + BE year.
    #[error("cohort must be a source and a year, e.g. TPMAP 2565")]
    Cohort,
    /// An Excel error cell such as `#N/A`.
    #[error("Excel error cell {0}")]
    ExcelError(String),
    /// An amount not in the one accepted spelling (`1,500.50`, `1500`, `1,500 บาท`).
    #[error(
        "amount must be digits with optional thousands commas and at most two decimals, e.g. 1,500.50"
    )]
    AmountInvalid,
    /// Text holding a control character (NUL, escape…), which no typed cell holds.
    #[error("the text holds a control character at position {position}; retype the cell")]
    ControlCharacter {
        /// 1-based character position
        position: usize,
    },
    /// Text longer than the field may hold.
    #[error("the text is longer than {max} characters")]
    TooLong {
        /// most characters allowed
        max: usize,
    },
    /// A formula whose result was never saved in the file (made by a program, not Excel).
    #[error(
        "the cell holds a formula with no saved value; open the file in Excel and save it again"
    )]
    FormulaWithoutValue,
    /// A required cell empty because it lies under a merged cell.
    #[error("the cell is empty because it is part of a merged cell; unmerge and fill every row")]
    MergedCell,
    /// A cell whose stored value cannot be read (a shared-string index outside the table).
    #[error("the cell's value cannot be read (the file is damaged here); retype the cell")]
    CellUnreadable,
    /// An amount of money that must be above zero (a fund's grant, loan or repayment).
    #[error("the amount must be above 0")]
    AmountZero,
    /// A value given where the row's kind takes none (a term on a grant).
    #[error("leave this cell empty: it is only for {only}")]
    NotApplicable {
        /// the kinds of row the column is for (`loans`, …)
        only: &'static str,
    },
    /// A loan's instalment interval that does not divide its term.
    #[error("must divide the term of {term} months (1, or the term itself for one payment)")]
    EveryNotDivisor {
        /// the loan's term in months
        term: i32,
    },
}

impl ValueError {
    /// The stable code: `citizen_id_length`, `date_future`, …
    pub fn code(&self) -> String {
        match self {
            ValueError::Required => "required".into(),
            ValueError::Scientific { what } => format!("{what}_scientific"),
            ValueError::NotDigits { what } => format!("{what}_invalid"),
            ValueError::Length { what, .. } => format!("{what}_length"),
            ValueError::DateInvalid => "date_invalid".into(),
            ValueError::DateNonexistent => "date_nonexistent".into(),
            ValueError::DateFuture => "date_future".into(),
            ValueError::DateTooEarly => "date_too_early".into(),
            ValueError::DateBefore { .. } => "date_before".into(),
            ValueError::DateTooFar { .. } => "date_too_far".into(),
            ValueError::NumberInvalid => "number_invalid".into(),
            ValueError::OutOfRange { .. } => "out_of_range".into(),
            ValueError::Coordinate { what, .. } => format!("{what}_out_of_range"),
            ValueError::VillageNo => "village_no_invalid".into(),
            ValueError::NotInList { what, .. } => format!("{what}_invalid"),
            ValueError::IndicatorUnknown => "indicator_unknown".into(),
            ValueError::Cohort => "cohort_invalid".into(),
            ValueError::ExcelError(_) => "excel_error".into(),
            ValueError::AmountInvalid => "amount_invalid".into(),
            ValueError::ControlCharacter { .. } => "control_character".into(),
            ValueError::TooLong { .. } => "too_long".into(),
            ValueError::FormulaWithoutValue => "formula_without_value".into(),
            ValueError::MergedCell => "merged_cell".into(),
            ValueError::CellUnreadable => "cell_unreadable".into(),
            ValueError::AmountZero => "amount_zero".into(),
            ValueError::NotApplicable { .. } => "not_applicable".into(),
            ValueError::EveryNotDivisor { .. } => "every_months_invalid".into(),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        let s = self.to_string();
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => s,
        }
    }

    /// The message in Thai.
    pub fn message_th(&self) -> String {
        match self {
            ValueError::Required => "ต้องกรอกข้อมูลช่องนี้".into(),
            ValueError::Scientific { what } => format!(
                "{}ถูกแสดงเป็นเลขยกกำลัง (เช่น 1.23E+12) ตัวเลขบางหลักหายไป ให้จัดรูปแบบเซลล์เป็นข้อความแล้วพิมพ์ใหม่",
                thai_name(what)
            ),
            ValueError::NotDigits { what } => format!("{}ต้องเป็นตัวเลขเท่านั้น", thai_name(what)),
            ValueError::Length {
                what,
                expected,
                found,
            } => {
                format!("{}ต้องมี {expected} หลัก แต่พบ {found} หลัก", thai_name(what))
            }
            ValueError::DateInvalid => {
                "วันที่ไม่ถูกต้อง ใช้รูปแบบ วัน/เดือน/ปี พ.ศ. เช่น 15/09/2565 หรือ 15 ก.ย. 2565".into()
            }
            ValueError::DateNonexistent => "ไม่มีวันที่นี้ในปฏิทิน".into(),
            ValueError::DateFuture => "วันที่อยู่ในอนาคต".into(),
            ValueError::DateTooEarly => "วันที่ก่อนปี ค.ศ. 1900 (พ.ศ. 2443)".into(),
            ValueError::DateBefore { what } => format!("วันที่อยู่ก่อน{}", thai_name(what)),
            ValueError::DateTooFar { years } => format!("วันที่ไกลเกิน {years} ปีข้างหน้า"),
            ValueError::NumberInvalid => "ต้องเป็นตัวเลข".into(),
            ValueError::OutOfRange { min, max } => format!("ต้องเป็นจำนวนเต็มตั้งแต่ {min} ถึง {max}"),
            ValueError::Coordinate { what, min, max } => {
                format!(
                    "{}ต้องอยู่ระหว่าง {min} ถึง {max} (ในประเทศไทย)",
                    thai_name(what)
                )
            }
            ValueError::VillageNo => "หมู่ที่ต้องเป็นตัวเลข 1–99 เช่น 5, ม.5, หมู่ที่ 5".into(),
            ValueError::NotInList { what, allowed } => {
                format!("{}ต้องเป็นค่าใดค่าหนึ่งต่อไปนี้: {allowed}", thai_name(what))
            }
            ValueError::IndicatorUnknown => "ไม่รู้จักตัวชี้วัดนี้ (ตัวชี้วัดมี 1–17)".into(),
            ValueError::Cohort => "ที่มาต้องระบุแหล่งและปี พ.ศ. เช่น TPMAP 2565 หรือ ตกหล่น 2565".into(),
            ValueError::ExcelError(e) => format!("เซลล์มีข้อผิดพลาดของ Excel ({e})"),
            ValueError::AmountInvalid => "จำนวนเงินต้องเป็นตัวเลข ใช้จุลภาคคั่นหลักพันได้ และมีทศนิยมไม่เกิน 2 ตำแหน่ง เช่น 1,500.50 หรือ 1500 บาท (ห้ามใช้จุดคั่นหลักพันหรือจุลภาคแทนจุดทศนิยม)".into(),
            ValueError::ControlCharacter { position } => format!("ข้อความมีอักขระควบคุมที่มองไม่เห็น (ตำแหน่งที่ {position}) ให้ลบแล้วพิมพ์เซลล์นี้ใหม่"),
            ValueError::TooLong { max } => format!("ข้อความยาวเกิน {max} ตัวอักษร ให้ย่อให้สั้นลง"),
            ValueError::FormulaWithoutValue => "เซลล์เป็นสูตรที่ไม่มีค่าที่คำนวณไว้ เปิดแฟ้มใน Excel แล้วบันทึกใหม่".into(),
            ValueError::MergedCell => "เซลล์ว่างเพราะอยู่ในช่วงเซลล์ที่ผสานไว้ ให้ยกเลิกการผสานเซลล์แล้วกรอกข้อมูลให้ครบทุกแถว".into(),
            ValueError::CellUnreadable => "อ่านค่าในเซลล์นี้ไม่ได้ (แฟ้มเสียหายตรงนี้) ให้พิมพ์เซลล์นี้ใหม่แล้วบันทึก".into(),
            ValueError::AmountZero => "จำนวนเงินต้องมากกว่า 0".into(),
            ValueError::NotApplicable { only } => {
                format!("ให้เว้นว่างช่องนี้ ใช้เฉพาะ{}", thai_name(only))
            }
            ValueError::EveryNotDivisor { term } => format!(
                "ต้องหารระยะผ่อน {term} เดือนได้ลงตัว (เช่น 1 คือผ่อนทุกเดือน หรือ {term} คือชำระครั้งเดียวเมื่อครบกำหนด)"
            ),
        }
    }
}

fn thai_name(what: &str) -> &'static str {
    match what {
        "citizen_id" => "เลขบัตรประชาชน",
        "house_code" => "รหัสบ้าน",
        "village_code" => "รหัสหมู่บ้าน",
        "area_code" => "รหัสพื้นที่",
        "latitude" => "ละติจูด",
        "longitude" => "ลองจิจูด",
        "status" => "ผลการดำเนินงาน",
        "classification" => "ประเภทครัวเรือน",
        "sex" => "เพศ",
        "dimension" => "มิติ",
        "disabled" => "ความพิการ",
        "date of the help" => "วันที่ให้ความช่วยเหลือ",
        "date of the loan" => "วันที่ให้ยืม",
        "kind" => "รายการ",
        "loans" => "รายการให้ยืม",
        "repayments and write-offs" => "รายการชำระคืนและตัดหนี้สูญ",
        _ => "ค่า",
    }
}

/// A stored key that names no value of its type (a database written by something else).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("unknown {what} \"{key}\" in the database")]
pub struct UnknownKey {
    /// The type.
    pub what: &'static str,
    /// The stored text.
    pub key: String,
}
