//! Opening a workbook from bytes and finding its sheets by name (after normalisation).

use crate::error::ImportError;
use calamine::{Data, Range, Reader, Sheets, open_workbook_auto_from_rs};
use entity::types::text::header_key;
use serde::Serialize;
use std::io::Cursor;

/// The five sheets the importer knows, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    /// ครัวเรือน
    Households,
    /// สมาชิก
    Members,
    /// ปัญหา
    Problems,
    /// วิเคราะห์
    Analysis,
    /// การช่วยเหลือ
    Assistance,
}

impl SheetKind {
    /// All, in dependency order.
    pub const ALL: [SheetKind; 5] = [
        SheetKind::Households,
        SheetKind::Members,
        SheetKind::Problems,
        SheetKind::Analysis,
        SheetKind::Assistance,
    ];

    /// Canonical English name (report keys).
    pub fn key(self) -> &'static str {
        match self {
            SheetKind::Households => "households",
            SheetKind::Members => "members",
            SheetKind::Problems => "problems",
            SheetKind::Analysis => "analysis",
            SheetKind::Assistance => "assistance",
        }
    }

    /// Canonical Thai name.
    pub fn name_th(self) -> &'static str {
        self.aliases()[0]
    }

    /// Names the sheet may have; the first is the canonical Thai one.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            SheetKind::Households => &["ครัวเรือน", "households", "household", "ข้อมูลครัวเรือน"],
            SheetKind::Members => &["สมาชิก", "members", "สมาชิกในครัวเรือน"],
            SheetKind::Problems => &["ปัญหา", "problems", "ปัญหาตามตัวชี้วัด", "ตัวชี้วัดที่ไม่ผ่าน"],
            SheetKind::Analysis => &["วิเคราะห์", "analysis", "วิเคราะห์ 4ท", "ศจพ.3"],
            SheetKind::Assistance => &["การช่วยเหลือ", "assistance", "logbook", "ผลการช่วยเหลือ"],
        }
    }

    /// The sheet a normalised name means, if any.
    pub fn from_name(name: &str) -> Option<SheetKind> {
        let k = header_key(name);
        SheetKind::ALL
            .into_iter()
            .find(|s| s.aliases().iter().any(|a| header_key(a) == k))
    }
}

/// An opened workbook.
pub struct Workbook {
    sheets: Sheets<Cursor<Vec<u8>>>,
}

impl Workbook {
    /// Opens xlsx, xls, xlsb or ods bytes.
    pub fn open(bytes: Vec<u8>) -> Result<Self, ImportError> {
        let sheets = open_workbook_auto_from_rs(Cursor::new(bytes))
            .map_err(|e| ImportError::Unreadable(e.to_string()))?;
        Ok(Self { sheets })
    }

    /// Sheet names in workbook order.
    pub fn sheet_names(&self) -> Vec<String> {
        self.sheets.sheet_names()
    }

    /// The cells of a sheet.
    pub fn range(&mut self, name: &str) -> Result<Range<Data>, ImportError> {
        self.sheets
            .worksheet_range(name)
            .map_err(|e| ImportError::Unreadable(format!("{name}: {e}")))
    }
}
