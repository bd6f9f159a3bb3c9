//! The checks every sheet shares: the sheet's issues and rejected rows, where a house code stands for
//! the rows that refer to it, and the rows rejected so far that later rows may depend on.

use super::Validated;
use crate::ReadWorkbook;
use crate::report::{Issue, IssueCode, Severity};
use crate::rows::Parsed;
use crate::workbook::SheetKind;
use std::collections::{HashMap, HashSet};

/// Where a house code stands for rows that refer to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum House<'a> {
    /// Passed on the households sheet or stored, in scope; in that province.
    Ok {
        /// The household's province code.
        province: &'a str,
    },
    /// Rejected on that households row.
    Rejected(u32),
    /// Stored, outside the area the upload is for.
    OutOfScope,
    /// Neither on the households sheet nor stored.
    Unknown,
}

/// The label of column `col` of sheet `kind` as the workbook's header gives it (the first
/// alias when the sheet has no header).
pub(crate) fn column_label(read: &ReadWorkbook, kind: SheetKind, col: usize) -> String {
    read.header(kind).map_or_else(
        || crate::header::columns(kind)[col].aliases[0].to_string(),
        |h| h.label(kind, col).to_string(),
    )
}

/// One sheet's check in progress: the rows it reads, the issues it writes (each naming its
/// row, column and value) and the rows it rejects, counted once however many errors they
/// have.
pub(super) struct Checker<'a> {
    /// The sheet checked.
    pub(super) kind: SheetKind,
    /// The workbook read, for its column labels (and the members sheet's identities).
    pub(super) read: &'a ReadWorkbook,
    issues: Vec<Issue>,
    rejected: HashSet<u32>,
}

impl<'a> Checker<'a> {
    /// A check of `kind` over `rows`, starting from the rows the read already refused.
    pub(super) fn new<T>(read: &'a ReadWorkbook, kind: SheetKind, rows: &[Parsed<T>]) -> Self {
        Checker {
            kind,
            read,
            issues: Vec::new(),
            rejected: match read.sheets.get(&kind) {
                // a broken sheet: every row is rejected
                Some(s) if s.broken => (0..s.read).collect(),
                _ => rows
                    .iter()
                    .filter(|p| p.value.is_none())
                    .map(|p| p.row)
                    .collect(),
            },
        }
    }

    /// The label of column `col` as the workbook's header gives it (the first alias when
    /// the sheet has no header).
    pub(super) fn col(&self, col: usize) -> String {
        column_label(self.read, self.kind, col)
    }

    /// Counts `row` as rejected.
    pub(super) fn reject(&mut self, row: u32) {
        self.rejected.insert(row);
    }

    /// Hands the sheet's issues and rejected-row count to the output.
    pub(super) fn finish(self, out: &mut Validated) {
        out.issues.extend(self.issues);
        out.rejected.insert(self.kind, self.rejected.len() as u32);
    }

    /// An issue of `severity` on `row`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn issue(
        &mut self,
        severity: Severity,
        row: u32,
        column: &str,
        value: Option<String>,
        code: IssueCode,
        th: String,
        en: String,
    ) {
        self.issues.push(
            Issue::new(severity, Some(self.kind), Some(row), code, th, en)
                .column(column)
                .value(value),
        );
    }

    /// An error on `row`.
    pub(super) fn error(
        &mut self,
        row: u32,
        column: &str,
        value: Option<String>,
        code: IssueCode,
        th: String,
        en: String,
    ) {
        self.issue(Severity::Error, row, column, value, code, th, en);
    }

    /// A warning on `row`.
    pub(super) fn warn(
        &mut self,
        row: u32,
        column: &str,
        value: Option<String>,
        code: IssueCode,
        th: String,
        en: String,
    ) {
        self.issue(Severity::Warning, row, column, value, code, th, en);
    }

    /// An error for a row that refers to a rejected row (`on` = that row's sheet and row).
    pub(super) fn depends(
        &mut self,
        row: u32,
        column: &str,
        value: Option<String>,
        on: (SheetKind, u32),
    ) {
        let (sheet, on_row) = on;
        self.error(
            row,
            column,
            value,
            IssueCode::DependsOnRejectedRow,
            format!(
                "แถวนี้อ้างถึงแผ่นงาน{} แถวที่ {on_row} ซึ่งมีข้อผิดพลาด จึงนำเข้าไม่ได้ ให้แก้ไขแถวนั้นก่อน",
                sheet.name_th()
            ),
            format!(
                "This row refers to {} row {on_row}, which has errors; fix that row first",
                sheet.key()
            ),
        );
    }

    /// Whether a row may refer to the household; when not, the error saying why.
    pub(super) fn house(&mut self, row: u32, column: &str, code: &str, state: House<'_>) -> bool {
        match state {
            House::Ok { .. } => true,
            House::Rejected(on_row) => {
                self.depends(
                    row,
                    column,
                    Some(code.to_string()),
                    (SheetKind::Households, on_row),
                );
                false
            }
            House::OutOfScope => {
                self.error(
                    row,
                    column,
                    Some(code.to_string()),
                    IssueCode::OutOfDistrict,
                    format!("ครัวเรือน {code} ไม่อยู่ในพื้นที่ของท่าน (อำเภอหรือจังหวัดที่รับผิดชอบ)"),
                    format!("Household {code} is not in your area (your district or province)"),
                );
                false
            }
            House::Unknown => {
                self.error(
                    row,
                    column,
                    Some(code.to_string()),
                    IssueCode::HouseholdUnknown,
                    format!("ไม่พบครัวเรือนรหัสบ้าน {code} ทั้งในแผ่นงานครัวเรือนและในฐานข้อมูล"),
                    format!("Household {code} is neither in the households sheet nor stored"),
                );
                false
            }
        }
    }

    /// An error for the second of two rows that are the same record.
    pub(super) fn duplicate(&mut self, row: u32, column: &str, value: Option<String>, first: u32) {
        self.error(
            row,
            column,
            value,
            IssueCode::DuplicateRow,
            format!("ข้อมูลซ้ำกับแถวที่ {first} (แถว {first} และแถว {row} เป็นรายการเดียวกัน)"),
            format!("Duplicate of row {first} (rows {first} and {row} are the same record)"),
        );
    }
}

/// Rows rejected so far that later rows may depend on, by the identity they refer to.
#[derive(Debug, Default)]
pub(super) struct Rejected {
    /// house code → households row.
    pub(super) households: HashMap<String, u32>,
    /// (house, indicator, person) → problems row.
    pub(super) problems: HashMap<(String, i32, String), u32>,
    /// (indicator, person) → problems row whose household is unknown or unreadable.
    pub(super) orphan_problems: HashMap<(i32, String), u32>,
    /// (house, citizen) → members row.
    pub(super) citizens: HashMap<(String, String), u32>,
    /// house → first rejected members row.
    pub(super) houses_with_members: HashMap<String, u32>,
    /// house → first rejected problems row whose indicator cannot be read.
    pub(super) houses_with_problems: HashMap<String, u32>,
}

impl Rejected {
    /// The members row a reference to `cid` in `house` depends on: that citizen's rejected
    /// row, or else any rejected members row of the household.
    pub(super) fn member(&self, house: &str, cid: &str) -> Option<u32> {
        self.citizens
            .get(&(house.to_string(), cid.to_string()))
            .or_else(|| self.houses_with_members.get(house))
            .copied()
    }

    /// Records a rejected members row of `house` (and of `cid`, when it can be read).
    pub(super) fn add_member(&mut self, house: &str, cid: Option<&str>, row: u32) {
        self.houses_with_members
            .entry(house.to_string())
            .or_insert(row);
        if let Some(cid) = cid {
            self.citizens
                .insert((house.to_string(), cid.to_string()), row);
        }
    }
}
