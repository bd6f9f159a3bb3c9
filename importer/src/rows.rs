//! Rows: a sheet's cells cut into data rows below its header, then each row parsed into
//! typed values through the domain types. Pure: no database, no clock (today is given).

use crate::cells::Cell;
use crate::header::{self, Header, aa, an, columns, ff, hh, mm, pp};
use crate::limits::Refusal;
use crate::report::IssueCode;
use crate::report::{Issue, Severity};
use crate::workbook::SheetKind;
use chrono::NaiveDate;
use entity::types::{
    Baht, CitizenId, Classification, ClosureReason, Cohort, Dimension, FundMovementKind, HouseCode,
    IndicatorCode, ProblemStatus, Raw, Sex, ThaiDate, Title, ValueError, VillageCode, VillageNo,
    parse_latitude, parse_longitude, parse_whole, parse_yes_no, raw_text,
};
use std::collections::BTreeMap;

/// A data row: its Excel row number and its cells by known column index.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Row number as Excel shows it.
    pub row: u32,
    /// Cells by column index of [`header::columns`].
    pub cells: Vec<Cell>,
}

/// One sheet's header and data rows.
#[derive(Debug, Clone)]
pub struct SheetRows {
    /// Which sheet.
    pub kind: SheetKind,
    /// Its header.
    pub header: Header,
    /// The header's row as Excel numbers it.
    pub header_row: u32,
    /// Merged ranges of the sheet (an empty required cell under one gets a hint).
    pub merges: Vec<crate::container::Merge>,
    /// Cells of the header row that could not be read: (cell reference, why).
    pub header_refused: Vec<(String, ValueError)>,
    /// Data rows.
    pub rows: Vec<RawRow>,
}

/// Rows searched for the header, from the first row with a value.
pub const HEADER_WINDOW: u32 = 15;

/// Builds a sheet's data rows from its cells as they stream in, holding only what it
/// needs: the first [`HEADER_WINDOW`] rows until the header is found, then for each data
/// row only the columns the header maps. Bounded: at most `max_rows` data rows and
/// `max_text` bytes of text, else the sheet is refused where it stopped.
pub struct SheetBuilder {
    kind: SheetKind,
    name: String,
    max_rows: u32,
    max_text: u64,
    first_row: Option<u32>,
    head: BTreeMap<u32, Vec<Cell>>,
    header: Option<Option<Header>>,
    /// Column position → known column index, after the header.
    map: Vec<Option<usize>>,
    rows: Vec<RawRow>,
    last_row: Option<u32>,
    header_refused: Vec<(String, ValueError)>,
    distinct: u32,
    text: u64,
}

impl SheetBuilder {
    /// A builder for one sheet.
    pub fn new(kind: SheetKind, name: &str, limits: &crate::limits::ReadLimits) -> Self {
        Self {
            kind,
            name: name.to_string(),
            max_rows: limits.max_rows,
            max_text: limits.max_unzipped / 2,
            first_row: None,
            head: BTreeMap::new(),
            header: None,
            map: Vec::new(),
            rows: Vec::new(),
            last_row: None,
            header_refused: Vec::new(),
            distinct: 0,
            text: 0,
        }
    }

    fn count_text(&mut self, cell: &Cell, row: u32, col: u32) -> Result<(), Refusal> {
        self.text += cell.text_len() as u64;
        if self.text > self.max_text {
            return Err(Refusal::sheet_too_large(
                &self.name,
                &format!("ข้อความรวมเกิน {} MB", self.max_text >> 20),
                &format!("over {} MB of text", self.max_text >> 20),
            )
            .at(row, col));
        }
        Ok(())
    }

    /// Takes one non-blank cell (0-based position); `make` turns it into a [`Cell`], and is
    /// called only when the cell is kept (the header window, or a column the header maps).
    pub fn push(&mut self, row: u32, col: u32, make: impl FnOnce() -> Cell) -> Result<(), Refusal> {
        if self.last_row != Some(row) {
            self.last_row = Some(row);
            self.distinct += 1;
            if self.distinct > self.max_rows.saturating_add(HEADER_WINDOW) {
                return Err(Refusal::sheet_too_large(
                    &self.name,
                    &format!("เกิน {} แถว", self.max_rows),
                    &format!("over {} data rows", self.max_rows),
                )
                .at(row, col));
            }
        }
        let first = *self.first_row.get_or_insert(row);
        if self.header.is_none() {
            if row < first || row - first < HEADER_WINDOW {
                self.first_row = Some(first.min(row));
                let cell = make();
                if cell.is_empty() {
                    return Ok(());
                }
                self.count_text(&cell, row, col)?;
                let cells = self.head.entry(row).or_default();
                let c = col as usize;
                if cells.len() <= c {
                    cells.resize(c + 1, Cell::Empty);
                }
                cells[c] = cell;
                return Ok(());
            }
            self.find_header();
        }
        let mapped = self.map.get(col as usize).copied().flatten();
        let cell = match mapped {
            Some(_) => {
                let cell = make();
                if cell.is_empty() {
                    return Ok(());
                }
                self.count_text(&cell, row, col)?;
                cell
            }
            None => Cell::Empty,
        };
        self.data_cell(row, col as usize, cell);
        if self.rows.len() as u32 > self.max_rows {
            return Err(Refusal::sheet_too_large(
                &self.name,
                &format!("เกิน {} แถว", self.max_rows),
                &format!("over {} data rows", self.max_rows),
            )
            .at(row, col));
        }
        Ok(())
    }

    /// Looks for the header in the rows held, then moves the rows below it to data rows.
    fn find_header(&mut self) {
        let first = self.head.keys().next().copied().unwrap_or(0);
        let grid: Vec<Vec<Cell>> = (first..first.saturating_add(HEADER_WINDOW))
            .map(|r| self.head.get(&r).cloned().unwrap_or_default())
            .collect();
        let header = header::find_header(self.kind, &grid);
        self.first_row = Some(first);
        if let Some(h) = &header {
            let width = h.known.iter().map(|(p, _)| p + 1).max().unwrap_or(0);
            self.map = vec![None; width];
            for &(pos, col) in &h.known {
                self.map[pos] = Some(col);
            }
        }
        let header_row = header.as_ref().map(|h| first + h.row_index as u32);
        if let Some(hr) = header_row
            && let Some(cells) = self.head.get(&hr)
        {
            self.header_refused = cells
                .iter()
                .enumerate()
                .filter_map(|(c, cell)| {
                    cell.refused()
                        .map(|e| (crate::limits::cell_ref(hr, c as u32), e.clone()))
                })
                .collect();
        }
        self.header = Some(header);
        let head = std::mem::take(&mut self.head);
        if let Some(hr) = header_row {
            for (row, cells) in head.into_iter().filter(|(r, _)| *r > hr) {
                for (col, cell) in cells.into_iter().enumerate() {
                    if !cell.is_empty() {
                        self.data_cell(row, col, cell);
                    }
                }
            }
        }
    }

    /// One cell below the header.
    fn data_cell(&mut self, row: u32, pos: usize, cell: Cell) {
        let Some(Some(h)) = &self.header else {
            return;
        };
        if Some(pos) == h.row_no {
            // the running number alone does not make a row
            if self.rows.last().is_none_or(|r| r.row != row + 1) {
                return;
            }
        }
        let ncols = columns(self.kind).len();
        let idx = match self.rows.last() {
            Some(r) if r.row == row + 1 => self.rows.len() - 1,
            Some(r) if r.row > row + 1 => {
                // out of order: find or insert the row where it belongs
                match self.rows.binary_search_by_key(&(row + 1), |r| r.row) {
                    Ok(i) => i,
                    Err(i) => {
                        self.rows.insert(
                            i,
                            RawRow {
                                row: row + 1,
                                cells: vec![Cell::Empty; ncols],
                            },
                        );
                        i
                    }
                }
            }
            _ => {
                self.rows.push(RawRow {
                    row: row + 1,
                    cells: vec![Cell::Empty; ncols],
                });
                self.rows.len() - 1
            }
        };
        if let Some(Some(col)) = self.map.get(pos) {
            self.rows[idx].cells[*col] = cell;
        }
    }

    /// The sheet's header and rows; when no header row was found, the number of rows with
    /// a value instead.
    pub fn finish(mut self) -> Result<SheetRows, u32> {
        if self.header.is_none() {
            self.find_header();
        }
        match self.header.take().flatten() {
            Some(header) => Ok(SheetRows {
                kind: self.kind,
                header_row: self.first_row.unwrap_or(0) + header.row_index as u32 + 1,
                merges: Vec::new(),
                header_refused: self.header_refused,
                header,
                rows: self.rows,
            }),
            None => Err(self.distinct),
        }
    }
}

/// What identifies a row, as far as its cells could be read; used to reject the rows that
/// depend on a rejected one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ident {
    /// House code.
    pub house_code: Option<HouseCode>,
    /// Citizen ID.
    pub citizen_id: Option<CitizenId>,
    /// Indicator.
    pub indicator: Option<IndicatorCode>,
    /// Cohort.
    pub cohort: Option<Cohort>,
}

/// A parsed row: its value when every cell was good, and its identity either way.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// Row number as Excel shows it.
    pub row: u32,
    /// The typed row, or `None` when any cell had an error.
    pub value: Option<T>,
    /// Identity fields that could be read.
    pub ident: Ident,
}

/// A household row.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// บ้านเลขที่, as written
    pub house_no: Option<String>,
    /// หมู่ที่
    pub village_no: VillageNo,
    /// ชื่อหมู่บ้าน
    pub village_name: Option<String>,
    /// ตำบล as written
    pub subdistrict: String,
    /// อำเภอ as written
    pub district: String,
    /// จังหวัด as written
    pub province: String,
    /// รหัสหมู่บ้าน
    pub village_code: Option<VillageCode>,
    /// คำนำหน้า (or split off the name)
    pub head_title: Option<String>,
    /// ชื่อ-สกุล
    pub head_name: Option<String>,
    /// เลขบัตรประชาชนหัวหน้าครัวเรือน
    pub head_citizen_id: Option<CitizenId>,
    /// จำนวนสมาชิก
    pub member_count: Option<i32>,
    /// ประเภทครัวเรือน
    pub classification: Option<Classification>,
    /// ที่มา
    pub cohort: Cohort,
    /// ละติจูด
    pub latitude: Option<f64>,
    /// ลองจิจูด
    pub longitude: Option<f64>,
    /// เร่งด่วน (optional): a critical target (yes), or no longer (no); blank leaves it as
    /// it is
    pub urgent: Option<bool>,
    /// เหตุเร่งด่วน
    pub urgent_reason: Option<String>,
    /// ออกจากเป้าหมายเพราะ (optional): why it left the open work
    pub closed_reason: Option<ClosureReason>,
    /// วันที่ออกจากเป้าหมาย
    pub closed_on: Option<NaiveDate>,
    /// หมายเหตุการปิด
    pub closed_note: Option<String>,
    /// รวมเข้ากับรหัสบ้าน
    pub merged_into: Option<HouseCode>,
}

/// A member row.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// เลขบัตรประชาชน
    pub citizen_id: CitizenId,
    /// คำนำหน้า
    pub title: Option<String>,
    /// ชื่อ
    pub first_name: String,
    /// นามสกุล
    pub last_name: Option<String>,
    /// เพศ (or from the title)
    pub sex: Sex,
    /// วันเกิด
    pub birth_date: Option<NaiveDate>,
    /// อายุ
    pub age: Option<i32>,
    /// ความสัมพันธ์
    pub relation: Option<String>,
    /// ความพิการ
    pub disabled: bool,
}

/// A problem row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// ตัวชี้วัด
    pub indicator: IndicatorCode,
    /// เลขบัตรประชาชน
    pub citizen_id: Option<CitizenId>,
    /// มิติ as given
    pub dimension: Option<Dimension>,
    /// ที่มา
    pub cohort: Cohort,
    /// รายละเอียด
    pub detail: Option<String>,
}

/// An analysis row.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// ทัศนคติ
    pub attitude: Option<String>,
    /// ทักษะ
    pub skills: Option<String>,
    /// ทรัพยากร
    pub resources: Option<String>,
    /// ทางออก
    pub way_out: Option<String>,
    /// วันที่วิเคราะห์
    pub analysed_on: Option<NaiveDate>,
    /// ทีมพี่เลี้ยง
    pub mentor: Option<String>,
}

/// A logbook row.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// ตัวชี้วัด
    pub indicator: IndicatorCode,
    /// เลขบัตรประชาชน
    pub citizen_id: Option<CitizenId>,
    /// ที่มา (optional)
    pub cohort: Option<Cohort>,
    /// วันที่
    pub date: NaiveDate,
    /// หน่วยงาน as written
    pub agency: String,
    /// กิจกรรม
    pub activity: String,
    /// เมนูแก้จน
    pub menu: Option<String>,
    /// งบประมาณ
    pub amount: Option<Baht>,
    /// กองทุน
    pub fund: Option<String>,
    /// ผลการดำเนินงาน
    pub status: ProblemStatus,
    /// หมายเหตุ
    pub note: Option<String>,
    /// นัดเยี่ยมครั้งถัดไป (optional): on or after the help's date, at most two years ahead
    pub next_visit_on: Option<NaiveDate>,
    /// ละติจูด (optional): where the help was given
    pub latitude: Option<f64>,
    /// ลองจิจูด (optional)
    pub longitude: Option<f64>,
}

/// A funds row: money a district's poverty fund gave, lent, was repaid or wrote off.
#[derive(Debug, Clone, PartialEq)]
pub struct FundRowIn {
    /// รหัสบ้าน
    pub house_code: HouseCode,
    /// กองทุน as written (matched to a fund of the household's district or province)
    pub fund: String,
    /// รายการ: grant, loan, repayment or write-off
    pub kind: FundMovementKind,
    /// วันที่ the money moved
    pub date: NaiveDate,
    /// จำนวนเงิน, above zero
    pub amount: Baht,
    /// ระยะผ่อน (loans only, required there): 1–120 months
    pub term_months: Option<i32>,
    /// ชำระทุก (loans only): a divisor of the term; 1 when blank
    pub every_months: Option<i32>,
    /// วันที่ยืม (repayments and write-offs only, required there): the day of the loan
    /// repaid, on or before the row's day
    pub loan_date: Option<NaiveDate>,
    /// หมายเหตุ
    pub note: Option<String>,
}

/// The most characters a stored text field holds (docs/workbook-format.md): free-text
/// notes and the 4ท analysis 4,000; every other text (names, places, activities) 500.
pub fn text_limit(key: &str) -> usize {
    match key {
        "note" | "detail" | "attitude" | "skills" | "resources" | "way_out" => 4_000,
        _ => 500,
    }
}

fn bounded_text(r: &Raw<'_>, max: usize) -> Result<Option<String>, ValueError> {
    let t = raw_text(r)?;
    match &t {
        Some(s) if s.len() > max && s.chars().count() > max => Err(ValueError::TooLong { max }),
        _ => Ok(t),
    }
}

/// Parses cells of one row, collecting one issue per bad cell.
struct RowCtx<'a> {
    kind: SheetKind,
    header: &'a Header,
    merges: &'a [crate::container::Merge],
    row: &'a RawRow,
    issues: &'a mut Vec<Issue>,
    failed: bool,
}

impl<'a> RowCtx<'a> {
    fn raw(&self, col: usize) -> Raw<'a> {
        self.row.cells[col].raw()
    }

    /// True (and the error recorded) when the cell could not be read as a value at all.
    fn refused(&mut self, col: usize) -> bool {
        match self.row.cells[col].refused().cloned() {
            Some(e) => {
                self.fail(col, &e);
                true
            }
            None => false,
        }
    }

    fn fail(&mut self, col: usize, e: &ValueError) {
        self.failed = true;
        self.issues.push(Issue::from_value_error(
            self.kind,
            self.row.row,
            self.header.label(self.kind, col),
            self.row.cells[col].display(),
            e,
        ));
    }

    /// A value whose parser returns `Result<T>`; a required column must be non-empty.
    fn req<T>(
        &mut self,
        col: usize,
        f: impl FnOnce(&Raw<'a>) -> Result<T, ValueError>,
    ) -> Option<T> {
        if self.refused(col) {
            return None;
        }
        let raw = self.raw(col);
        if raw.is_empty() {
            let merged = self
                .header
                .known
                .iter()
                .find(|(_, c)| *c == col)
                .is_some_and(|(pos, _)| {
                    self.merges
                        .iter()
                        .any(|m| m.covers(self.row.row - 1, *pos as u32))
                });
            let e = if merged {
                ValueError::MergedCell
            } else {
                ValueError::Required
            };
            self.fail(col, &e);
            return None;
        }
        match f(&raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(col, &e);
                None
            }
        }
    }

    /// An optional value: empty is `None`.
    fn opt<T>(
        &mut self,
        col: usize,
        f: impl FnOnce(&Raw<'a>) -> Result<Option<T>, ValueError>,
    ) -> Option<T> {
        if self.refused(col) {
            return None;
        }
        let raw = self.raw(col);
        match f(&raw) {
            Ok(v) => v,
            Err(e) => {
                self.fail(col, &e);
                None
            }
        }
    }

    fn text(&mut self, col: usize) -> Option<String> {
        let max = text_limit(columns(self.kind)[col].key);
        self.opt(col, |r| bounded_text(r, max))
    }

    fn req_text(&mut self, col: usize) -> Option<String> {
        let max = text_limit(columns(self.kind)[col].key);
        self.req(col, |r| {
            bounded_text(r, max).and_then(|t| t.ok_or(ValueError::Required))
        })
    }

    fn warn(&mut self, col: usize, code: IssueCode, th: String, en: String) {
        let issue = Issue::new(
            Severity::Warning,
            Some(self.kind),
            Some(self.row.row),
            code,
            th,
            en,
        )
        .column(self.header.label(self.kind, col))
        .value(self.row.cells[col].display());
        self.issues.push(issue);
    }

    fn checksum_warning(&mut self, col: usize, id: &Option<CitizenId>) {
        if let Some(id) = id
            && !id.checksum_valid()
        {
            self.warn(
                col,
                IssueCode::CitizenIdChecksum,
                format!("เลขบัตรประชาชน {id} หลักตรวจสอบ (หลักที่ 13) ไม่ถูกต้อง นำเข้าแล้วแต่ควรตรวจสอบ"),
                format!(
                    "Citizen ID {id} has a wrong check digit; imported and marked for checking"
                ),
            );
        }
    }
}

fn parse_rows<T>(
    sheet: &SheetRows,
    issues: &mut Vec<Issue>,
    mut f: impl FnMut(&mut RowCtx<'_>, &mut Ident) -> Option<T>,
) -> Vec<Parsed<T>> {
    sheet
        .rows
        .iter()
        .map(|row| {
            let mut ctx = RowCtx {
                kind: sheet.kind,
                header: &sheet.header,
                merges: &sheet.merges,
                row,
                issues,
                failed: false,
            };
            let mut ident = Ident::default();
            let v = f(&mut ctx, &mut ident);
            Parsed {
                row: row.row,
                value: if ctx.failed { None } else { v },
                ident,
            }
        })
        .collect()
}

/// Households.
pub fn parse_households(
    sheet: &SheetRows,
    today: NaiveDate,
    issues: &mut Vec<Issue>,
) -> Vec<Parsed<HouseholdIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(hh::HOUSE_CODE, HouseCode::parse);
        ident.house_code = house_code.clone();
        let village_no = c.req(hh::VILLAGE_NO, VillageNo::parse);
        let subdistrict = c.req_text(hh::SUBDISTRICT);
        let district = c.req_text(hh::DISTRICT);
        let province = c.req_text(hh::PROVINCE);
        let cohort = c.req(hh::COHORT, Cohort::parse);
        let village_code = c.opt(hh::VILLAGE_CODE, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                VillageCode::parse(r).map(Some)
            }
        });
        let mut head_title = c.text(hh::HEAD_TITLE);
        let mut head_name = c.text(hh::HEAD_NAME);
        if head_title.is_none()
            && let Some((t, rest)) = head_name.as_deref().and_then(Title::split_name)
        {
            head_title = Some(t.as_str().to_string());
            head_name = Some(rest);
        }
        let head_citizen_id = c.opt(hh::HEAD_CITIZEN_ID, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                CitizenId::parse(r).map(Some)
            }
        });
        c.checksum_warning(hh::HEAD_CITIZEN_ID, &head_citizen_id);
        // identifies the household when its house code cannot be read
        ident.citizen_id = head_citizen_id.clone();
        let member_count = c
            .opt(hh::MEMBERS, |r| parse_whole(r, 1, 99))
            .map(|n| n as i32);
        let classification = c.opt(hh::CLASSIFICATION, Classification::parse);
        let latitude = c.opt(hh::LATITUDE, parse_latitude);
        let longitude = c.opt(hh::LONGITUDE, parse_longitude);
        let urgent = c.opt(hh::URGENT, |r| {
            if r.is_empty() {
                return Ok(None);
            }
            parse_yes_no(r).map(Some).map_err(|e| match e {
                ValueError::NotInList { .. } => ValueError::NotInList {
                    what: "urgent",
                    allowed: "ใช่, ไม่ใช่",
                },
                other => other,
            })
        });
        let urgent_reason = c.text(hh::URGENT_REASON);
        let closed_reason = c.opt(hh::CLOSED_REASON, ClosureReason::parse);
        let closed_on = c.opt(hh::CLOSED_ON, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                ThaiDate::parse(r, today).map(|d| Some(d.date()))
            }
        });
        let closed_note = c.text(hh::CLOSED_NOTE);
        let merged_into = c.opt(hh::MERGED_INTO, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                HouseCode::parse(r).map(Some)
            }
        });
        // a closure is a reason and a day; the day, a note or a household merged into
        // without a reason names the empty reason
        match closed_reason {
            Some(reason) => {
                if closed_on.is_none() && c.raw(hh::CLOSED_ON).is_empty() {
                    c.fail(hh::CLOSED_ON, &ValueError::Required);
                }
                if reason == ClosureReason::MergedInto
                    && merged_into.is_none()
                    && c.raw(hh::MERGED_INTO).is_empty()
                {
                    c.fail(hh::MERGED_INTO, &ValueError::Required);
                }
                if reason == ClosureReason::Other && closed_note.is_none() {
                    c.fail(hh::CLOSED_NOTE, &ValueError::Required);
                }
            }
            None if c.raw(hh::CLOSED_REASON).is_empty()
                && (closed_on.is_some() || merged_into.is_some() || closed_note.is_some()) =>
            {
                c.fail(hh::CLOSED_REASON, &ValueError::Required);
            }
            None => {}
        }
        let house_no = c.text(hh::HOUSE_NO);
        let village_name = c.text(hh::VILLAGE_NAME);
        Some(HouseholdIn {
            house_code: house_code?,
            house_no,
            village_no: village_no?,
            village_name,
            subdistrict: subdistrict?,
            district: district?,
            province: province?,
            village_code,
            head_title,
            head_name,
            head_citizen_id,
            member_count,
            classification,
            cohort: cohort?,
            latitude,
            longitude,
            urgent,
            urgent_reason,
            closed_reason,
            closed_on,
            closed_note,
            merged_into,
        })
    })
}

/// Members. `today` bounds birth dates.
pub fn parse_members(
    sheet: &SheetRows,
    today: NaiveDate,
    issues: &mut Vec<Issue>,
) -> Vec<Parsed<MemberIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(mm::HOUSE_CODE, HouseCode::parse);
        let citizen_id = c.req(mm::CITIZEN_ID, CitizenId::parse);
        ident.house_code = house_code.clone();
        ident.citizen_id = citizen_id.clone();
        c.checksum_warning(mm::CITIZEN_ID, &citizen_id);
        let mut title = c.opt(mm::TITLE, Title::parse);
        let mut first_name = c.req_text(mm::FIRST_NAME);
        if title.is_none()
            && let Some((t, rest)) = first_name.as_deref().and_then(Title::split_name)
        {
            title = Some(t);
            first_name = Some(rest);
        }
        let last_name = c.text(mm::LAST_NAME);
        let sex = c.opt(mm::SEX, Sex::parse);
        let birth_date = c.opt(mm::BIRTH_DATE, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                ThaiDate::parse(r, today).map(Some)
            }
        });
        let age = c.opt(mm::AGE, |r| parse_whole(r, 0, 130)).map(|n| n as i32);
        let relation = c.text(mm::RELATION);
        let disabled = c
            .opt(mm::DISABLED, |r| parse_yes_no(r).map(Some))
            .unwrap_or(false);
        let sex = sex
            .or_else(|| title.as_ref().and_then(Title::implied_sex))
            .unwrap_or(Sex::Unknown);
        Some(MemberIn {
            house_code: house_code?,
            citizen_id: citizen_id?,
            title: title.map(|t| t.as_str().to_string()),
            first_name: first_name?,
            last_name,
            sex,
            birth_date: birth_date.map(ThaiDate::date),
            age,
            relation,
            disabled,
        })
    })
}

fn opt_citizen(r: &Raw<'_>) -> Result<Option<CitizenId>, ValueError> {
    if r.is_empty() {
        Ok(None)
    } else {
        CitizenId::parse(r).map(Some)
    }
}

/// Problems.
pub fn parse_problems(sheet: &SheetRows, issues: &mut Vec<Issue>) -> Vec<Parsed<ProblemIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(pp::HOUSE_CODE, HouseCode::parse);
        let indicator = c.req(pp::INDICATOR, IndicatorCode::parse);
        let citizen_id = c.opt(pp::CITIZEN_ID, opt_citizen);
        let cohort = c.req(pp::COHORT, Cohort::parse);
        *ident = Ident {
            house_code: house_code.clone(),
            citizen_id: citizen_id.clone(),
            indicator,
            cohort,
        };
        let dimension = c.opt(pp::DIMENSION, Dimension::parse);
        let detail = c.text(pp::DETAIL);
        Some(ProblemIn {
            house_code: house_code?,
            indicator: indicator?,
            citizen_id,
            dimension,
            cohort: cohort?,
            detail,
        })
    })
}

/// Analyses.
pub fn parse_analyses(
    sheet: &SheetRows,
    today: NaiveDate,
    issues: &mut Vec<Issue>,
) -> Vec<Parsed<AnalysisIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(an::HOUSE_CODE, HouseCode::parse);
        ident.house_code = house_code.clone();
        let attitude = c.text(an::ATTITUDE);
        let skills = c.text(an::SKILLS);
        let resources = c.text(an::RESOURCES);
        let way_out = c.text(an::WAY_OUT);
        let analysed_on = c.opt(an::ANALYSED_ON, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                ThaiDate::parse(r, today).map(Some)
            }
        });
        let mentor = c.text(an::MENTOR);
        Some(AnalysisIn {
            house_code: house_code?,
            attitude,
            skills,
            resources,
            way_out,
            analysed_on: analysed_on.map(ThaiDate::date),
            mentor,
        })
    })
}

/// Logbook entries.
pub fn parse_entries(
    sheet: &SheetRows,
    today: NaiveDate,
    issues: &mut Vec<Issue>,
) -> Vec<Parsed<EntryIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(aa::HOUSE_CODE, HouseCode::parse);
        let indicator = c.req(aa::INDICATOR, IndicatorCode::parse);
        let citizen_id = c.opt(aa::CITIZEN_ID, opt_citizen);
        let cohort = c.opt(aa::COHORT, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                Cohort::parse(r).map(Some)
            }
        });
        *ident = Ident {
            house_code: house_code.clone(),
            citizen_id: citizen_id.clone(),
            indicator,
            cohort,
        };
        let date = c.req(aa::DATE, |r| ThaiDate::parse(r, today));
        let agency = c.req_text(aa::AGENCY);
        let activity = c.req_text(aa::ACTIVITY);
        let menu = c.text(aa::MENU);
        let amount = c.opt(aa::AMOUNT, Baht::parse);
        let fund = c.text(aa::FUND);
        let status = c.req(aa::STATUS, ProblemStatus::parse_result);
        let note = c.text(aa::NOTE);
        let helped = date.as_ref().map(|d| d.date());
        let next_visit_on = c.opt(aa::NEXT_VISIT_ON, |r| {
            if r.is_empty() {
                return Ok(None);
            }
            let next = ThaiDate::parse(r, today + chrono::Days::new(730))
                .map_err(|e| match e {
                    ValueError::DateFuture => ValueError::DateTooFar { years: 2 },
                    other => other,
                })?
                .date();
            if helped.is_some_and(|h| next < h) {
                return Err(ValueError::DateBefore {
                    what: "date of the help",
                });
            }
            Ok(Some(next))
        });
        let latitude = c.opt(aa::LATITUDE, parse_latitude);
        let longitude = c.opt(aa::LONGITUDE, parse_longitude);
        // a point is both or neither: the blank one is named
        let (latitude, longitude) = match (latitude, longitude) {
            (Some(_), None) if c.raw(aa::LONGITUDE).is_empty() => {
                c.fail(aa::LONGITUDE, &ValueError::Required);
                (None, None)
            }
            (None, Some(_)) if c.raw(aa::LATITUDE).is_empty() => {
                c.fail(aa::LATITUDE, &ValueError::Required);
                (None, None)
            }
            pair => pair,
        };
        Some(EntryIn {
            house_code: house_code?,
            indicator: indicator?,
            citizen_id,
            cohort,
            date: date?.date(),
            agency: agency?,
            activity: activity?,
            menu,
            amount,
            fund,
            status: status?,
            note,
            next_visit_on,
            latitude,
            longitude,
        })
    })
}

/// Funds rows. `today` bounds dates.
pub fn parse_fund_rows(
    sheet: &SheetRows,
    today: NaiveDate,
    issues: &mut Vec<Issue>,
) -> Vec<Parsed<FundRowIn>> {
    parse_rows(sheet, issues, |c, ident| {
        let house_code = c.req(ff::HOUSE_CODE, HouseCode::parse);
        ident.house_code = house_code.clone();
        let fund = c.req_text(ff::FUND);
        let kind = c.req(ff::KIND, FundMovementKind::parse_sheet);
        let date = c
            .req(ff::DATE, |r| ThaiDate::parse(r, today))
            .map(ThaiDate::date);
        let amount = c.req(ff::AMOUNT, |r| match Baht::parse(r)? {
            Some(b) if b.satang() > 0 => Ok(b),
            Some(_) => Err(ValueError::AmountZero),
            None => Err(ValueError::Required),
        });
        let months = |r: &Raw<'_>| {
            parse_whole(r, 1, i64::from(entity::funds::MAX_TERM_MONTHS))
                .map(|n| n.map(|n| n as i32))
        };
        let mut term_months = c.opt(ff::TERM_MONTHS, months);
        let mut every_months = c.opt(ff::EVERY_MONTHS, months);
        let mut loan_date = c.opt(ff::LOAN_DATE, |r| {
            if r.is_empty() {
                Ok(None)
            } else {
                ThaiDate::parse(r, today).map(|d| Some(d.date()))
            }
        });
        let note = c.text(ff::NOTE);
        // what each kind takes: a loan its terms, a repayment or write-off its loan's day
        let loans = ValueError::NotApplicable { only: "loans" };
        let of_loans = ValueError::NotApplicable {
            only: "repayments and write-offs",
        };
        let given = |c: &RowCtx<'_>, col: usize| !c.raw(col).is_empty();
        match kind {
            Some(FundMovementKind::Loan) => {
                match term_months {
                    None if !given(c, ff::TERM_MONTHS) => {
                        c.fail(ff::TERM_MONTHS, &ValueError::Required)
                    }
                    Some(term) => {
                        let every = *every_months.get_or_insert(1);
                        if entity::funds::check_terms(term, every).is_err() {
                            c.fail(ff::EVERY_MONTHS, &ValueError::EveryNotDivisor { term });
                        }
                    }
                    None => {}
                }
                if given(c, ff::LOAN_DATE) {
                    c.fail(ff::LOAN_DATE, &of_loans);
                    loan_date = None;
                }
            }
            Some(k) if k.of_loan() => {
                if loan_date.is_none() && !given(c, ff::LOAN_DATE) {
                    c.fail(ff::LOAN_DATE, &ValueError::Required);
                }
                if let (Some(lent), Some(d)) = (loan_date, date)
                    && d < lent
                {
                    c.fail(
                        ff::DATE,
                        &ValueError::DateBefore {
                            what: "date of the loan",
                        },
                    );
                }
                for col in [ff::TERM_MONTHS, ff::EVERY_MONTHS] {
                    if given(c, col) {
                        c.fail(col, &loans);
                    }
                }
                (term_months, every_months) = (None, None);
            }
            _ => {
                for col in [ff::TERM_MONTHS, ff::EVERY_MONTHS] {
                    if given(c, col) {
                        c.fail(col, &loans);
                    }
                }
                if given(c, ff::LOAN_DATE) {
                    c.fail(ff::LOAN_DATE, &of_loans);
                }
                (term_months, every_months, loan_date) = (None, None, None);
            }
        }
        Some(FundRowIn {
            house_code: house_code?,
            fund: fund?,
            kind: kind?,
            date: date?,
            amount: amount?,
            term_months,
            every_months,
            loan_date,
            note,
        })
    })
}
