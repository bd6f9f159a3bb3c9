//! Rows: a sheet's cells cut into data rows below its header, then each row parsed into
//! typed values through the domain types. Pure: no database, no clock (today is given).

use crate::cells::Cell;
use crate::header::{self, Header, aa, an, columns, hh, mm, pp};
use crate::report::{Issue, Severity};
use crate::workbook::SheetKind;
use chrono::NaiveDate;
use entity::types::{
    Baht, CitizenId, Classification, Cohort, Dimension, HouseCode, IndicatorCode, ProblemStatus,
    Raw, Sex, ThaiDate, Title, ValueError, VillageCode, VillageNo, parse_latitude, parse_longitude,
    parse_whole, parse_yes_no, raw_text,
};

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
    /// Sheet name as written.
    pub name: String,
    /// Its header.
    pub header: Header,
    /// Data rows.
    pub rows: Vec<RawRow>,
}

/// Cuts a sheet's cells into rows. `first_row` is the 0-based row of `grid[0]`.
/// Returns `None` when no header row is found.
pub fn cut_rows(
    kind: SheetKind,
    name: &str,
    grid: Vec<Vec<Cell>>,
    first_row: u32,
) -> Option<SheetRows> {
    let header = header::find_header(kind, &grid)?;
    let ncols = columns(kind).len();
    let mut rows = Vec::with_capacity(grid.len().saturating_sub(header.row_index + 1));
    for (i, mut cells) in grid.into_iter().enumerate().skip(header.row_index + 1) {
        let filled = cells
            .iter()
            .enumerate()
            .filter(|(p, c)| !c.is_empty() && Some(*p) != header.row_no)
            .count();
        if filled == 0 {
            continue;
        }
        let mut by_col = vec![Cell::Empty; ncols];
        for &(pos, col) in &header.known {
            if let Some(c) = cells.get_mut(pos) {
                by_col[col] = std::mem::take(c);
            }
        }
        rows.push(RawRow {
            row: first_row + i as u32 + 1,
            cells: by_col,
        });
    }
    Some(SheetRows {
        kind,
        name: name.to_string(),
        header,
        rows,
    })
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
}

/// Parses cells of one row, collecting one issue per bad cell.
struct RowCtx<'a> {
    kind: SheetKind,
    header: &'a Header,
    row: &'a RawRow,
    issues: &'a mut Vec<Issue>,
    failed: bool,
}

impl<'a> RowCtx<'a> {
    fn raw(&self, col: usize) -> Raw<'a> {
        self.row.cells[col].raw()
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
        let raw = self.raw(col);
        if raw.is_empty() {
            self.fail(col, &ValueError::Required);
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
        self.opt(col, raw_text)
    }

    fn req_text(&mut self, col: usize) -> Option<String> {
        self.req(col, |r| {
            raw_text(r).and_then(|t| t.ok_or(ValueError::Required))
        })
    }

    fn warn(&mut self, col: usize, code: &str, th: String, en: String) {
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
                "citizen_id_checksum",
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
pub fn parse_households(sheet: &SheetRows, issues: &mut Vec<Issue>) -> Vec<Parsed<HouseholdIn>> {
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
        })
    })
}
