//! The import report: per-sheet counts, errors and warnings, each naming sheet, row,
//! column and value, with a stable code and messages in Thai and English.

use crate::workbook::SheetKind;
use entity::types::ValueError;
use serde::Serialize;
use std::collections::BTreeMap;

/// Error (rejects the batch) or warning (reported, imported anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Rejects the row and so the batch.
    Error,
    /// Reported; the row is imported.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Canonical English sheet name; none for the whole file.
    pub sheet: Option<SheetKind>,
    /// Row number as Excel shows it (1-based).
    pub row: Option<u32>,
    /// Column header as written in the workbook (or the canonical one when missing).
    pub column: Option<String>,
    /// Cell value as written.
    pub value: Option<String>,
    /// Stable code, e.g. `citizen_id_length`.
    pub code: String,
    /// Message in Thai.
    pub message_th: String,
    /// Message in English.
    pub message_en: String,
    /// Error or warning.
    #[serde(skip)]
    pub severity: Severity,
}

impl Issue {
    /// The error a refused file gets: its code, messages, sheet, row and cell.
    pub fn from_refusal(r: &crate::limits::Refusal) -> Self {
        let sheet = r.sheet.as_deref().and_then(SheetKind::from_name);
        let mut i = Self::new(
            Severity::Error,
            sheet,
            r.row,
            r.code,
            r.th.clone(),
            r.en.clone(),
        );
        if let Some(c) = &r.cell {
            i = i.column(c.clone());
        }
        if sheet.is_none() && r.sheet.is_some() {
            i = i.value(r.sheet.clone());
        }
        i
    }

    /// An issue with explicit code and messages.
    pub fn new(
        severity: Severity,
        sheet: Option<SheetKind>,
        row: Option<u32>,
        code: &str,
        th: String,
        en: String,
    ) -> Self {
        Self {
            sheet,
            row,
            column: None,
            value: None,
            code: code.to_string(),
            message_th: th,
            message_en: en,
            severity,
        }
    }

    /// An error from a domain parser.
    pub fn from_value_error(
        sheet: SheetKind,
        row: u32,
        column: &str,
        value: Option<String>,
        e: &ValueError,
    ) -> Self {
        Self {
            sheet: Some(sheet),
            row: Some(row),
            column: Some(column.to_string()),
            value: value.map(|v| crate::cells::shown(&v)),
            code: e.code(),
            message_th: e.message_th(),
            message_en: e.message_en(),
            severity: Severity::Error,
        }
    }

    /// Sets the column (cut as values are).
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(crate::cells::shown(&column.into()));
        self
    }

    /// Sets the value (cut to [`crate::cells::SHOWN_CHARS`] characters).
    pub fn value(mut self, value: Option<String>) -> Self {
        self.value = value.map(|v| crate::cells::shown(&v));
        self
    }
}

/// Counts of one sheet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SheetCounts {
    /// Data rows read.
    pub read: u32,
    /// Rows whose identity is new.
    pub inserted: u32,
    /// Rows whose values differ from what is stored.
    pub updated: u32,
    /// Rows equal to what is stored.
    pub unchanged: u32,
    /// Rows with at least one error (dependants included).
    pub rejected: u32,
}

/// What happened to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Written.
    Imported,
    /// Refused: nothing written.
    Rejected,
    /// Validated only; would have been imported.
    DryRun,
}

impl ImportStatus {
    /// `imported`, `rejected`, `dry_run`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Imported => "imported",
            ImportStatus::Rejected => "rejected",
            ImportStatus::DryRun => "dry_run",
        }
    }
}

/// An outcome is the state its batch is recorded in.
impl From<ImportStatus> for entity::types::BatchStatus {
    fn from(s: ImportStatus) -> Self {
        match s {
            ImportStatus::Imported => Self::Imported,
            ImportStatus::Rejected => Self::Rejected,
            ImportStatus::DryRun => Self::DryRun,
        }
    }
}

/// The report of one file.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// File name.
    pub file: String,
    /// Outcome.
    pub status: ImportStatus,
    /// Batch id when the batch was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<i32>,
    /// Counts per sheet, keyed by canonical English name.
    pub sheets: BTreeMap<SheetKind, SheetCounts>,
    /// Errors.
    pub errors: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
}

impl ImportReport {
    /// Total data rows read.
    pub fn rows_read(&self) -> u32 {
        self.sheets.values().map(|c| c.read).sum()
    }
}
