//! The import report: per-sheet counts, errors and warnings, each naming sheet, row,
//! column and value, with a stable code and messages in Thai and English. The codes of a
//! file, sheet or row are [`IssueCode`]s; a cell's own are [`ValueError`]'s.

use crate::workbook::SheetKind;
use entity::types::ValueError;
use serde::Serialize;
use std::collections::BTreeMap;

macro_rules! issue_codes {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $key:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)+
            /// A cell's value, by [`ValueError::code`] (`house_code_length`, `date_future` …).
            Value(Box<str>),
        }

        impl $name {
            /// The stable code clients, the error workbook and the database read.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => $key,)+
                    $name::Value(code) => code,
                }
            }
        }
    };
}

issue_codes!(
    /// What an issue is about, as a stable code. The strings never change: agencies' systems
    /// and the error workbook match on them.
    IssueCode {
        /// A row refers to a row rejected on another sheet.
        DependsOnRejectedRow = "depends_on_rejected_row",
        /// The household is outside the district the upload is for.
        OutOfDistrict = "out_of_district",
        /// A new or changed logbook entry dated in a month the province has locked.
        MonthLocked = "month_locked",
        /// The house code is on no households row nor stored.
        HouseholdUnknown = "household_unknown",
        /// The same record appears twice.
        DuplicateRow = "duplicate_row",
        /// The village code disagrees with the area names.
        VillageCodeMismatch = "village_code_mismatch",
        /// A known village under another name (warning).
        VillageRenamed = "village_renamed",
        /// An agency not in the province's list (warning).
        UnknownAgency = "unknown_agency",
        /// A fund not among the funds of the household's district and province (warning;
        /// only where the province keeps its funds in logbook).
        UnknownFund = "unknown_fund",
        /// A funds row names a fund that is not the district's (error on the funds sheet).
        FundUnknown = "fund_unknown",
        /// A funds row of a fund the importing centre does not keep (a district importing
        /// the provincial fund's grants).
        FundNotKept = "fund_not_kept",
        /// A repayment or write-off whose loan (household, fund and day) is not found.
        LoanUnknown = "loan_unknown",
        /// A repayment or write-off whose day of loan matches two loans of the household.
        LoanAmbiguous = "loan_ambiguous",
        /// A funds row that differs from the movement stored for its fund, kind, household
        /// and day: movements are removed and recorded again, never changed.
        FundMovementChanged = "fund_movement_changed",
        /// Grants and loans that spend more than the fund holds on some day.
        FundOverdrawn = "fund_overdrawn",
        /// Repayments and write-offs over what is owed on the loan.
        OverRepaid = "over_repaid",
        /// The province name is not in the area tree.
        ProvinceUnknown = "province_unknown",
        /// The district name is not in the province.
        DistrictUnknown = "district_unknown",
        /// The subdistrict name is not in the district.
        SubdistrictUnknown = "subdistrict_unknown",
        /// The dimension written disagrees with the indicator's.
        DimensionMismatch = "dimension_mismatch",
        /// A person-level indicator without a citizen id.
        CitizenIdRequired = "citizen_id_required",
        /// A household-level indicator with a citizen id (warning).
        CitizenIdNotExpected = "citizen_id_not_expected",
        /// The citizen id is not a member of that household.
        MemberNotInHousehold = "member_not_in_household",
        /// An assistance row for a problem on no problems row nor stored.
        ProblemUnknown = "problem_unknown",
        /// Two columns with the same header.
        DuplicateColumn = "duplicate_column",
        /// Two sheets of the same kind.
        DuplicateSheet = "duplicate_sheet",
        /// No header row in the first rows of a sheet.
        HeaderNotFound = "header_not_found",
        /// A sheet has hidden rows (warning).
        HiddenRows = "hidden_rows",
        /// A hidden sheet is imported (warning).
        HiddenSheet = "hidden_sheet",
        /// A required column is missing.
        MissingColumn = "missing_column",
        /// The workbook has headers and no data.
        NoDataRows = "no_data_rows",
        /// No sheet has a known name.
        NoKnownSheets = "no_known_sheets",
        /// A column that is not in the contract (warning).
        UnknownColumn = "unknown_column",
        /// A sheet that is not in the contract (warning).
        UnknownSheet = "unknown_sheet",
        /// The file is password-protected.
        FileEncrypted = "file_encrypted",
        /// The file or its unzipped parts exceed a limit.
        FileTooLarge = "file_too_large",
        /// The file is not a workbook that can be opened.
        FileUnreadable = "file_unreadable",
        /// A sheet exceeds the row or cell limits.
        SheetTooLarge = "sheet_too_large",
        /// A bug met on this file (logged).
        InternalError = "internal_error",
        /// A citizen id whose check digit is wrong (warning).
        CitizenIdChecksum = "citizen_id_checksum",
    }
);

impl std::fmt::Display for IssueCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for IssueCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for IssueCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&ValueError> for IssueCode {
    fn from(e: &ValueError) -> Self {
        IssueCode::Value(e.code().into())
    }
}

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
    pub code: IssueCode,
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
            r.code.clone(),
            r.th.clone(),
            r.en.clone(),
        );
        if let Some(c) = &r.cell {
            i = i.column(c.to_string());
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
        code: IssueCode,
        th: String,
        en: String,
    ) -> Self {
        Self {
            sheet,
            row,
            column: None,
            value: None,
            code,
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
            code: e.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_stable_strings() {
        assert_eq!(IssueCode::OutOfDistrict.as_str(), "out_of_district");
        assert_eq!(
            IssueCode::VillageCodeMismatch.to_string(),
            "village_code_mismatch"
        );
        assert_eq!(
            serde_json::to_string(&IssueCode::FileEncrypted).unwrap(),
            "\"file_encrypted\""
        );
        let value = IssueCode::from(&ValueError::DateFuture);
        assert_eq!(value, "date_future");
        assert_ne!(IssueCode::HiddenRows, "hidden_sheet");
    }
}
