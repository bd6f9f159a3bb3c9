//! The bounds on reading one workbook, and the refusal a workbook gets when it is over one
//! of them or cannot be read at all. Every bound is checked as bytes and cells stream in, so
//! a hostile file stops at the limit, not after it.

use crate::report::IssueCode;
use serde::Serialize;

/// How much of a workbook the importer will read. Each has a flag on `import` and `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReadLimits {
    /// Data rows (rows with any value) per sheet.
    pub max_rows: u32,
    /// Columns per sheet: a value right of this column is refused.
    pub max_columns: u32,
    /// Bytes of the whole file once unzipped (xlsx, ods).
    pub max_unzipped: u64,
    /// Unzipped bytes per zipped byte, over the whole file, once it is over 16 MiB unzipped.
    pub max_ratio: u64,
    /// Characters in one cell (Excel's own limit is 32,767).
    pub max_cell_chars: usize,
    /// Cells a format that reads whole sheets at once (xls, ods) may materialise per sheet.
    pub max_sheet_cells: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_rows: 250_000,
            max_columns: 200,
            max_unzipped: 256 * 1024 * 1024,
            max_ratio: 100,
            max_cell_chars: entity::types::text::MAX_CELL_CHARS,
            max_sheet_cells: 4_000_000,
        }
    }
}

/// Unzipped size under which the ratio is not checked: small XML compresses very well.
pub const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

/// Longest stretch of XML between two `<` the reader accepts: a cell's text, escaped, is
/// at most a few hundred KB; anything longer is a bomb of white space or of one attribute.
pub const MAX_XML_RUN: u64 = 4 * 1024 * 1024;

/// Why a whole file is refused before (or while) its rows are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code: `file_too_large`, `sheet_too_large`, `file_encrypted`, `file_unreadable`,
    /// `internal_error`.
    pub code: IssueCode,
    /// The sheet, as named in the file, when one sheet is the cause.
    pub sheet: Option<String>,
    /// The row (as Excel numbers it) where reading stopped.
    pub row: Option<u32>,
    /// The cell reference (`C12`) where reading stopped.
    pub cell: Option<Box<str>>,
    /// What happened and what the officer can do, in Thai.
    pub th: String,
    /// The same in English; never a library's internal text.
    pub en: String,
}

impl Refusal {
    /// A refusal with a code and messages.
    pub fn new(code: IssueCode, th: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code,
            sheet: None,
            row: None,
            cell: None,
            th: th.into(),
            en: en.into(),
        }
    }

    /// The file is not a workbook that can be opened.
    pub fn unreadable() -> Self {
        Self::new(
            IssueCode::FileUnreadable,
            "เปิดแฟ้มไม่ได้ แฟ้มต้องเป็น Excel (.xlsx, .xls) หรือ .ods ที่ไม่เสียหาย ลองเปิดใน Excel แล้วบันทึกเป็น .xlsx ใหม่",
            "The file cannot be opened as a workbook (.xlsx, .xls, .ods); open it in Excel and save it again as .xlsx",
        )
    }

    /// One sheet cannot be read past some point.
    pub fn sheet_unreadable(sheet: &str) -> Self {
        Self::new(
            IssueCode::FileUnreadable,
            format!("อ่านแผ่นงาน \"{sheet}\" ไม่ได้ แฟ้มเสียหาย ลองเปิดใน Excel แล้วบันทึกเป็น .xlsx ใหม่"),
            format!("Sheet \"{sheet}\" cannot be read: the file is damaged; open it in Excel and save it again as .xlsx"),
        )
        .sheet(sheet)
    }

    /// The file has a password.
    pub fn encrypted() -> Self {
        Self::new(
            IssueCode::FileEncrypted,
            "แฟ้มมีรหัสผ่าน กรุณาบันทึกแบบไม่มีรหัสผ่านแล้วส่งใหม่",
            "The file is protected by a password; save it without a password and send it again",
        )
    }

    /// The file is bigger unzipped than the importer reads.
    pub fn file_too_large(what_th: &str, what_en: &str) -> Self {
        Self::new(
            IssueCode::FileTooLarge,
            format!(
                "แฟ้มใหญ่เกินกว่าที่ระบบอ่านได้ ({what_th}) ให้แบ่งเป็นหลายแฟ้ม หรือลบแถวและแผ่นงานที่ว่างหรือไม่ใช้ออกแล้วบันทึกใหม่"
            ),
            format!(
                "The file is larger than the importer reads ({what_en}); split it into several files, or delete empty and unused rows and sheets, then save it again"
            ),
        )
    }

    /// A sheet is bigger than the importer reads.
    pub fn sheet_too_large(sheet: &str, what_th: &str, what_en: &str) -> Self {
        Self::new(
            IssueCode::SheetTooLarge,
            format!("แผ่นงาน \"{sheet}\" ใหญ่เกินกว่าที่ระบบอ่านได้ ({what_th}) ให้แบ่งเป็นหลายแฟ้ม หรือลบแถวและคอลัมน์ว่างที่อยู่ใต้และทางขวาของข้อมูลแล้วบันทึกใหม่"),
            format!("Sheet \"{sheet}\" is larger than the importer reads ({what_en}); split it into several files, or delete the empty rows below and columns right of the data, then save it again"),
        )
        .sheet(sheet)
    }

    /// The importer failed on this file: a bug, logged with its backtrace.
    pub fn internal(batch: Option<i32>) -> Self {
        let id = batch.map_or_else(String::new, |b| format!(" (ชุดนำเข้า {b})"));
        let id_en = batch.map_or_else(String::new, |b| format!(" (batch {b})"));
        Self::new(
            IssueCode::InternalError,
            format!(
                "ขออภัย ระบบอ่านแฟ้มนี้ไม่ได้เพราะข้อผิดพลาดภายในระบบ{id} ไม่มีข้อมูลใดถูกบันทึก กรุณาแจ้งผู้ดูแลระบบพร้อมแนบแฟ้มนี้"
            ),
            format!(
                "Sorry: the importer failed on this file through an internal error{id_en}; nothing was saved. Please tell the administrator and attach the file"
            ),
        )
    }

    /// Names the sheet.
    pub fn sheet(mut self, sheet: &str) -> Self {
        self.sheet = Some(sheet.to_string());
        self
    }

    /// Names the row and cell where reading stopped (0-based position).
    pub fn at(mut self, row: u32, col: u32) -> Self {
        self.row = Some(row + 1);
        self.cell = Some(cell_ref(row, col).into());
        self
    }
}

/// `C12` for 0-based (11, 2).
pub fn cell_ref(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col), u64::from(row) + 1)
}

/// (row, col), 0-based, of `C12`; `None` when it is no cell reference (or past u32).
pub fn parse_cell_ref(r: &str) -> Option<(u32, u32)> {
    let r = r.trim().trim_start_matches('$');
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    let letters = letters.trim_end_matches('$');
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let col = letters.bytes().fold(0u32, |n, b| {
        n * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

/// `A`, `Z`, `AA` … for a 0-based column.
pub fn column_letters(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_as_excel_writes_them() {
        assert_eq!(cell_ref(0, 0), "A1");
        assert_eq!(cell_ref(11, 2), "C12");
        assert_eq!(cell_ref(0, 25), "Z1");
        assert_eq!(cell_ref(0, 26), "AA1");
        assert_eq!(cell_ref(1_048_575, 16_383), "XFD1048576");
        assert_eq!(cell_ref(0, 701), "ZZ1");
        assert_eq!(cell_ref(0, 702), "AAA1");
    }

    #[test]
    fn cell_references_are_parsed_back() {
        assert_eq!(parse_cell_ref("C12"), Some((11, 2)));
        assert_eq!(parse_cell_ref("$AA$1"), Some((0, 26)));
        assert_eq!(parse_cell_ref("XFD1048576"), Some((1_048_575, 16_383)));
        for bad in ["", "12", "A", "A0", "ABCD1", "A99999999999", "ก1", "A-1"] {
            assert_eq!(parse_cell_ref(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusals_name_the_batch_and_say_what_to_do() {
        let r = Refusal::internal(Some(42));
        assert_eq!(r.code, IssueCode::InternalError);
        assert!(r.th.contains("ชุดนำเข้า 42") && r.th.contains("แจ้งผู้ดูแลระบบ"));
        let r = Refusal::sheet_too_large("สมาชิก", "เกิน 10 แถว", "over 10 rows").at(10, 0);
        assert_eq!((r.row, r.cell.as_deref()), (Some(11), Some("A11")));
        assert!(r.en.contains("split it"));
    }
}
