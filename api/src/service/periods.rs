//! The board's reports over periods of the Thai fiscal year (October to September, named by
//! its Buddhist-era year; Q1 = October–December): problems per district × dimension × status
//! at the period's end, what changed in it (problems recorded, problems solved, entries, money
//! by fund), and the per-agency results the agencies present — all recomputed from the
//! logbook's history, over what the principal may see; written as a workbook.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{Datelike, NaiveDate};
use entity::catalog::dimension_of;
use entity::types::{Dimension, FundMovementKind, MONTHS_ABBR_DOTTED, ProblemStatus};
use entity::{
    agency, agency_dimension, fund, fund_movement, household, logbook_entry, plan, problem,
};
use sea_orm::sea_query::JoinType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use std::collections::{BTreeMap, HashMap};

/// A quarter or a whole fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Quarter `q` (1–4) of fiscal year `fy` (Buddhist era).
    Quarter {
        /// Fiscal year, BE.
        fy: i32,
        /// 1 = October–December … 4 = July–September.
        q: u32,
    },
    /// Fiscal year `fy` (Buddhist era): 1 October of BE `fy − 1` to 30 September of BE `fy`.
    FiscalYear {
        /// Fiscal year, BE.
        fy: i32,
    },
}

fn fiscal_year(field: &str, s: &str) -> ApiResult<i32> {
    let fy: i32 = s.parse().map_err(|_| {
        ApiError::bad_input(
            field,
            format!("\"{s}\" is not a fiscal year: its Buddhist-era year, like 2566"),
        )
    })?;
    if !(2543..=2743).contains(&fy) {
        return Err(ApiError::bad_input(
            field,
            format!("{fy} is not a Buddhist-era fiscal year (2543–2743), like 2566"),
        ));
    }
    Ok(fy)
}

impl Period {
    /// Parses `2566Q1` (also `2566-Q1`, `2566q1`).
    pub fn parse_quarter(s: &str) -> ApiResult<Self> {
        let t = s.trim().to_uppercase();
        let (y, q) = t.split_once('Q').ok_or_else(|| {
            ApiError::bad_input(
                "quarter",
                format!("\"{s}\" is not a quarter like 2566Q1 (fiscal year, Q, 1–4)"),
            )
        })?;
        let fy = fiscal_year("quarter", y.trim_end_matches('-'))?;
        let q: u32 = q
            .parse()
            .ok()
            .filter(|q| (1..=4).contains(q))
            .ok_or_else(|| {
                ApiError::bad_input("quarter", "the quarter is 1 to 4 (Q1 = October–December)")
            })?;
        Ok(Period::Quarter { fy, q })
    }

    /// Parses `2566`.
    pub fn parse_fiscal_year(s: &str) -> ApiResult<Self> {
        Ok(Period::FiscalYear {
            fy: fiscal_year("fiscalYear", s.trim())?,
        })
    }

    /// The fiscal year a day falls in (BE).
    pub fn fiscal_year_of(day: NaiveDate) -> i32 {
        day.year() + 543 + i32::from(day.month() >= 10)
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        let (fy, q) = match self {
            Period::Quarter { fy, q } => (fy, q),
            Period::FiscalYear { fy } => (fy, 1),
        };
        // Q1 begins on 1 October of the CE year before the fiscal year's end
        let end_year = fy - 543;
        let (y, m) = match q {
            1 => (end_year - 1, 10),
            n => (end_year, 1 + 3 * (n - 2)),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default()
    }

    /// The last day.
    pub fn last_day(self) -> NaiveDate {
        let months = match self {
            Period::Quarter { .. } => 3,
            Period::FiscalYear { .. } => 12,
        };
        self.first_day()
            .checked_add_months(chrono::Months::new(months))
            .and_then(|d| d.pred_opt())
            .unwrap_or_default()
    }

    /// `2566Q1` or `2566`.
    pub fn key(self) -> String {
        match self {
            Period::Quarter { fy, q } => format!("{fy}Q{q}"),
            Period::FiscalYear { fy } => fy.to_string(),
        }
    }

    /// `ไตรมาสที่ 1 ปีงบประมาณ 2566 (1 ต.ค. 2565 – 31 ธ.ค. 2565)`.
    pub fn name_th(self) -> String {
        let d = |x: NaiveDate| {
            format!(
                "{} {} {}",
                x.day(),
                MONTHS_ABBR_DOTTED[x.month0() as usize],
                x.year() + 543
            )
        };
        let span = format!("({} – {})", d(self.first_day()), d(self.last_day()));
        match self {
            Period::Quarter { fy, q } => format!("ไตรมาสที่ {q} ปีงบประมาณ {fy} {span}"),
            Period::FiscalYear { fy } => format!("ปีงบประมาณ {fy} {span}"),
        }
    }
}

/// A problem as the history needs it: id, indicator, house, district, when recorded, cohort.
pub(crate) type ProblemRow = (
    i32,
    i32,
    String,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    i32,
);

/// What `p` may see of the logbook up to a day: its problems and their entries in order.
pub(crate) struct History {
    pub(crate) problems: Vec<ProblemRow>,
    pub(crate) entries: Vec<logbook_entry::Model>,
}

impl History {
    pub(crate) async fn load(
        db: &impl ConnectionTrait,
        p: &Principal,
        until: NaiveDate,
    ) -> ApiResult<Self> {
        let problems: Vec<ProblemRow> = problem::Entity::find()
            .select_only()
            .column(problem::Column::Id)
            .column(problem::Column::IndicatorCode)
            .column(problem::Column::HouseCode)
            .column(household::Column::DistrictCode)
            .column(problem::Column::CreatedAt)
            .column(problem::Column::CohortId)
            .join(JoinType::InnerJoin, problem::Relation::Household.def())
            .filter(p.problems())
            .into_tuple()
            .all(db)
            .await?;
        let entries = logbook_entry::Entity::find()
            .filter(p.entries())
            .filter(logbook_entry::Column::EntryDate.lte(until))
            .order_by_asc(logbook_entry::Column::EntryDate)
            .order_by_asc(logbook_entry::Column::WrittenSeq)
            .order_by_asc(logbook_entry::Column::Id)
            .all(db)
            .await?;
        Ok(History { problems, entries })
    }

    /// Each problem's status at the end of `day` (not started when absent).
    pub(crate) fn statuses_at(&self, day: NaiveDate) -> HashMap<i32, ProblemStatus> {
        let mut s = HashMap::new();
        for e in self.entries.iter().take_while(|e| e.entry_date <= day) {
            s.insert(e.problem_id, e.status);
        }
        s
    }
}

/// One district and dimension of a period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodRow {
    /// District code.
    pub district_code: String,
    /// District name.
    pub district_name: String,
    /// Dimension.
    pub dimension: Option<Dimension>,
    /// Problems per status at the period's end, in [`ProblemStatus::ALL`] order.
    pub by_status: [u64; 5],
    /// Problems recorded in logbook during the period.
    pub recorded: u64,
    /// Problems solved during it: solved at its end, not on the day before it began.
    pub solved: u64,
    /// Logbook entries dated in it.
    pub entries: u64,
    /// Their amounts, satang.
    pub amount: i64,
}

/// Money of one fund (or fund text) in one district during a period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MoneyRow {
    /// District code (a provincial fund's movements: the province's code).
    pub area_code: String,
    /// The fund: its name when matched, else the text written, else `ไม่ระบุกองทุน`.
    pub fund: String,
    /// Logbook entries naming it in the period.
    pub entries: u64,
    /// Their amounts, satang.
    pub entry_amount: i64,
    /// Grants from it in the period, satang.
    pub granted: i64,
    /// Loans from it, satang.
    pub lent: i64,
    /// Repayments to it, satang.
    pub repaid: i64,
}

/// One agency and one dimension it owns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgencyRow {
    /// Agency code.
    pub agency_code: String,
    /// Agency name.
    pub agency_name: String,
    /// The dimension.
    pub dimension: Option<Dimension>,
    /// Problems of the dimension in the agency's province.
    pub problems: u64,
    /// Of those, solved.
    pub solved: u64,
    /// Awaiting or under follow-up.
    pub following_up: u64,
    /// Not yet solvable.
    pub not_solvable_yet: u64,
    /// Not started.
    pub not_started: u64,
    /// Entries the agency recorded on them.
    pub entries: u64,
    /// Money it gave on them, satang.
    pub money: i64,
    /// Its plans on them.
    pub planned: u64,
    /// Of those, done.
    pub planned_done: u64,
}

/// A period's report.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodReport {
    /// The period.
    pub period: Period,
    /// Per district × dimension (every dimension of a district with problems).
    pub rows: Vec<PeriodRow>,
    /// Money by district and fund.
    pub money: Vec<MoneyRow>,
    /// Per agency and dimension, at the period's end.
    pub agencies: Vec<AgencyRow>,
}

/// Builds the report of `period` over what `p` may see.
pub async fn period(
    db: &impl ConnectionTrait,
    p: &Principal,
    period: Period,
) -> ApiResult<PeriodReport> {
    let (first, last) = (period.first_day(), period.last_day());
    let h = History::load(db, p, last).await?;
    let before = h.statuses_at(first.pred_opt().unwrap_or(first));
    let after = h.statuses_at(last);
    let names = super::catalog::district_names(db).await?;
    let mut rows: BTreeMap<(String, Dimension), PeriodRow> = BTreeMap::new();
    let mut where_is: HashMap<i32, (&str, Dimension)> = HashMap::new();
    for (id, ind, _, district, created, _) in &h.problems {
        let Some(dim) = dimension_of(*ind) else {
            continue;
        };
        where_is.insert(*id, (district.as_str(), dim));
        let r = rows.entry((district.clone(), dim)).or_default();
        let end = after.get(id).copied().unwrap_or(ProblemStatus::NotStarted);
        r.by_status[end.index()] += 1;
        if created.is_some_and(|t| (first..=last).contains(&t.date_naive())) {
            r.recorded += 1;
        }
        if end == ProblemStatus::Solved && before.get(id) != Some(&ProblemStatus::Solved) {
            r.solved += 1;
        }
    }
    let fund_names: HashMap<i32, fund::Model> = fund::Entity::find()
        .filter(p.funds())
        .all(db)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut money: BTreeMap<(String, String), MoneyRow> = BTreeMap::new();
    for e in h.entries.iter().filter(|e| e.entry_date >= first) {
        let Some((district, dim)) = where_is.get(&e.problem_id) else {
            continue;
        };
        let r = rows.entry((district.to_string(), *dim)).or_default();
        r.entries += 1;
        r.amount += e.amount_satang.unwrap_or(0);
        if e.amount_satang.is_some() || e.fund.is_some() {
            let name = e
                .fund_id
                .and_then(|id| fund_names.get(&id))
                .map(|f| f.name.clone())
                .or_else(|| e.fund.clone())
                .unwrap_or_else(|| "ไม่ระบุกองทุน".into());
            let m = money.entry((district.to_string(), name)).or_default();
            m.entries += 1;
            m.entry_amount += e.amount_satang.unwrap_or(0);
        }
    }
    let movements = fund_movement::Entity::find()
        .filter(p.fund_movements())
        .filter(fund_movement::Column::MovedOn.between(first, last))
        .all(db)
        .await?;
    for mv in &movements {
        let Some(f) = fund_names.get(&mv.fund_id) else {
            continue;
        };
        let m = money
            .entry((f.area_code.clone(), f.name.clone()))
            .or_default();
        match mv.kind {
            FundMovementKind::Grant => m.granted += mv.amount_satang,
            FundMovementKind::Loan => m.lent += mv.amount_satang,
            FundMovementKind::Repayment => m.repaid += mv.amount_satang,
            _ => {}
        }
    }
    // every dimension of a district with problems, so the table has no holes
    let districts: Vec<String> = rows.keys().map(|(d, _)| d.clone()).collect();
    for d in districts {
        for dim in Dimension::ALL {
            rows.entry((d.clone(), *dim)).or_default();
        }
    }
    let agencies = agency_rows(db, p, &h, &after, last).await?;
    Ok(PeriodReport {
        period,
        rows: rows
            .into_iter()
            .map(|((district, dim), r)| PeriodRow {
                district_name: names.get(&district).cloned().unwrap_or_default(),
                district_code: district,
                dimension: Some(dim),
                ..r
            })
            .collect(),
        money: money
            .into_iter()
            .map(|((area_code, fund), m)| MoneyRow {
                area_code,
                fund,
                ..m
            })
            .collect(),
        agencies,
    })
}

/// The per-agency results over what `p` may see, at the end of `as_of`.
pub async fn agency_results(
    db: &impl ConnectionTrait,
    p: &Principal,
    as_of: NaiveDate,
) -> ApiResult<Vec<AgencyRow>> {
    let h = History::load(db, p, as_of).await?;
    let statuses = h.statuses_at(as_of);
    agency_rows(db, p, &h, &statuses, as_of).await
}

async fn agency_rows(
    db: &impl ConnectionTrait,
    p: &Principal,
    h: &History,
    statuses: &HashMap<i32, ProblemStatus>,
    as_of: NaiveDate,
) -> ApiResult<Vec<AgencyRow>> {
    let agencies = agency::Entity::find()
        .filter(p.agencies())
        .order_by_asc(agency::Column::Code)
        .all(db)
        .await?;
    let owned = agency_dimension::Entity::find()
        .filter(agency_dimension::Column::AgencyId.is_in(agencies.iter().map(|a| a.id)))
        .all(db)
        .await?;
    let plans = plan::Entity::find()
        .filter(p.plans())
        .filter(plan::Column::MadeOn.lte(as_of))
        .all(db)
        .await?;
    // problems per (province, dimension)
    let mut by_dim: HashMap<(&str, Dimension), Vec<i32>> = HashMap::new();
    for (id, ind, _, district, _, _) in &h.problems {
        if let Some(d) = dimension_of(*ind) {
            by_dim
                .entry((district.get(..2).unwrap_or(""), d))
                .or_default()
                .push(*id);
        }
    }
    // per (agency, problem): entries, money, the latest day of its help
    let mut entries_of: HashMap<(i32, i32), (u64, i64, NaiveDate)> = HashMap::new();
    for e in &h.entries {
        if let Some(a) = e.agency_id {
            let t = entries_of
                .entry((a, e.problem_id))
                .or_insert((0, 0, e.entry_date));
            t.0 += 1;
            t.1 += e.amount_satang.unwrap_or(0);
            t.2 = t.2.max(e.entry_date);
        }
    }
    let mut out = Vec::new();
    for a in &agencies {
        let mut dims: Vec<Dimension> = owned
            .iter()
            .filter(|o| o.agency_id == a.id)
            .map(|o| o.dimension)
            .collect();
        dims.sort();
        for dim in dims {
            let mut r = AgencyRow {
                agency_code: a.code.clone(),
                agency_name: a.name_th.clone(),
                dimension: Some(dim),
                ..AgencyRow::default()
            };
            let ids = by_dim
                .get(&(a.province_code.as_str(), dim))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let set: std::collections::HashSet<i32> = ids.iter().copied().collect();
            for id in ids {
                r.problems += 1;
                match statuses
                    .get(id)
                    .copied()
                    .unwrap_or(ProblemStatus::NotStarted)
                {
                    ProblemStatus::Solved => r.solved += 1,
                    ProblemStatus::AwaitingFollowUp | ProblemStatus::FollowingUp => {
                        r.following_up += 1
                    }
                    ProblemStatus::NotSolvableYet => r.not_solvable_yet += 1,
                    ProblemStatus::NotStarted => r.not_started += 1,
                }
                if let Some((n, m, _)) = entries_of.get(&(a.id, *id)) {
                    r.entries += n;
                    r.money += m;
                }
            }
            for pl in plans
                .iter()
                .filter(|pl| pl.agency_id == a.id && set.contains(&pl.problem_id))
            {
                r.planned += 1;
                let done = entries_of
                    .get(&(a.id, pl.problem_id))
                    .is_some_and(|t| t.2 >= pl.made_on);
                r.planned_done += u64::from(done);
            }
            out.push(r);
        }
    }
    Ok(out)
}

/// Writes a period's report as a workbook, in Thai: per district × dimension, money by fund,
/// and per agency.
pub fn period_workbook(r: &PeriodReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use super::reports::{Formats, day_th};
    let f = Formats::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let baht = |s: i64| s as f64 / 100.0;

    let ws = wb.add_worksheet();
    ws.set_name("สรุปรายอำเภอ")?;
    ws.write_string_with_format(
        0,
        0,
        format!("รายงานผลการแก้ไขปัญหาความยากจน {}", r.period.name_th()),
        &f.title,
    )?;
    let mut heads: Vec<String> = vec!["รหัสอำเภอ".into(), "อำเภอ".into(), "มิติ".into()];
    heads.extend(
        ProblemStatus::ALL
            .iter()
            .map(|s| format!("{} ณ {}", s.name_th(), day_th(r.period.last_day()))),
    );
    heads.extend(
        [
            "รวมปัญหา",
            "ปัญหาที่บันทึกในช่วงนี้",
            "แก้ไขได้ในช่วงนี้",
            "รายการช่วยเหลือในช่วงนี้",
            "จำนวนเงิน (บาท)",
        ]
        .map(String::from),
    );
    for (c, h) in heads.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, h, &f.head)?;
    }
    let mut total = PeriodRow::default();
    let mut row = 3u32;
    for x in &r.rows {
        ws.write_string_with_format(row, 0, &x.district_code, &f.cell)?;
        ws.write_string_with_format(row, 1, &x.district_name, &f.cell)?;
        ws.write_string_with_format(row, 2, x.dimension.map_or("", |d| d.name_th()), &f.cell)?;
        let counts = x.by_status.iter().copied().chain([
            x.by_status.iter().sum(),
            x.recorded,
            x.solved,
            x.entries,
        ]);
        for (i, n) in counts.enumerate() {
            ws.write_number_with_format(row, 3 + i as u16, n as f64, &f.cell)?;
        }
        ws.write_number_with_format(row, 12, baht(x.amount), &f.money)?;
        for i in 0..5 {
            total.by_status[i] += x.by_status[i];
        }
        total.recorded += x.recorded;
        total.solved += x.solved;
        total.entries += x.entries;
        total.amount += x.amount;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "รวมทั้งหมด", &f.total)?;
    ws.write_string_with_format(row, 1, "", &f.total)?;
    ws.write_string_with_format(row, 2, "", &f.total)?;
    let counts = total.by_status.iter().copied().chain([
        total.by_status.iter().sum(),
        total.recorded,
        total.solved,
        total.entries,
    ]);
    for (i, n) in counts.enumerate() {
        ws.write_number_with_format(row, 3 + i as u16, n as f64, &f.total)?;
    }
    ws.write_number_with_format(row, 12, baht(total.amount), &f.money_total)?;
    ws.set_column_width(1, 18)?;
    ws.set_column_width(2, 24)?;
    for c in 3..13 {
        ws.set_column_width(c, 14)?;
    }
    ws.set_row_height(2, 48)?;
    ws.set_freeze_panes(3, 3)?;

    let ws = wb.add_worksheet();
    ws.set_name("เงินรายกองทุน")?;
    ws.write_string_with_format(
        0,
        0,
        format!("เงินช่วยเหลือรายกองทุน {}", r.period.name_th()),
        &f.title,
    )?;
    for (c, h) in [
        "รหัสพื้นที่",
        "กองทุน",
        "รายการช่วยเหลือ",
        "เงินตามรายการช่วยเหลือ (บาท)",
        "ให้เปล่า (บาท)",
        "ให้ยืม (บาท)",
        "ชำระคืน (บาท)",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &f.head)?;
    }
    for (row, m) in (3u32..).zip(r.money.iter()) {
        ws.write_string_with_format(row, 0, &m.area_code, &f.cell)?;
        ws.write_string_with_format(row, 1, &m.fund, &f.cell)?;
        ws.write_number_with_format(row, 2, m.entries as f64, &f.cell)?;
        for (i, v) in [m.entry_amount, m.granted, m.lent, m.repaid]
            .iter()
            .enumerate()
        {
            ws.write_number_with_format(row, 3 + i as u16, baht(*v), &f.money)?;
        }
    }
    ws.set_column_width(1, 36)?;
    for c in 2..7 {
        ws.set_column_width(c, 16)?;
    }
    ws.set_row_height(2, 36)?;

    agency_sheet(&mut wb, &f, &r.agencies, r.period.last_day())?;
    wb.save_to_buffer()
}

/// The per-agency sheet, as the agencies present their results to the board.
pub(crate) fn agency_sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    f: &super::reports::Formats,
    rows: &[AgencyRow],
    as_of: NaiveDate,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name("ผลรายหน่วยงาน")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "ผลการแก้ไขปัญหารายหน่วยงานและมิติ ณ วันที่ {}",
            super::reports::day_th(as_of)
        ),
        &f.title,
    )?;
    for (c, h) in [
        "รหัสหน่วยงาน",
        "หน่วยงาน",
        "มิติ",
        "ปัญหา",
        "แก้ไขได้แล้ว",
        "อยู่ระหว่างติดตาม",
        "ยังไม่สามารถแก้ไขได้",
        "ยังไม่ได้ดำเนินการ",
        "รายการช่วยเหลือของหน่วยงาน",
        "เงินที่ให้ (บาท)",
        "อยู่ในแผน",
        "ดำเนินการตามแผนแล้ว",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &f.head)?;
    }
    for (row, a) in (3u32..).zip(rows.iter()) {
        ws.write_string_with_format(row, 0, &a.agency_code, &f.cell)?;
        ws.write_string_with_format(row, 1, &a.agency_name, &f.cell)?;
        ws.write_string_with_format(row, 2, a.dimension.map_or("", |d| d.name_th()), &f.cell)?;
        for (i, n) in [
            a.problems,
            a.solved,
            a.following_up,
            a.not_solvable_yet,
            a.not_started,
            a.entries,
        ]
        .iter()
        .enumerate()
        {
            ws.write_number_with_format(row, 3 + i as u16, *n as f64, &f.cell)?;
        }
        ws.write_number_with_format(row, 9, a.money as f64 / 100.0, &f.money)?;
        ws.write_number_with_format(row, 10, a.planned as f64, &f.cell)?;
        ws.write_number_with_format(row, 11, a.planned_done as f64, &f.cell)?;
    }
    ws.set_column_width(1, 36)?;
    ws.set_column_width(2, 24)?;
    for c in 3..12 {
        ws.set_column_width(c, 14)?;
    }
    ws.set_row_height(2, 48)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a day")
    }

    #[test]
    fn quarters_and_fiscal_years_have_their_days() {
        let q1 = Period::parse_quarter("2566Q1").expect("q1");
        assert_eq!(
            (q1.first_day(), q1.last_day()),
            (d(2022, 10, 1), d(2022, 12, 31))
        );
        let q2 = Period::parse_quarter("2566-q2").expect("q2");
        assert_eq!(
            (q2.first_day(), q2.last_day()),
            (d(2023, 1, 1), d(2023, 3, 31))
        );
        let q3 = Period::parse_quarter(" 2566Q3 ").expect("q3");
        assert_eq!(
            (q3.first_day(), q3.last_day()),
            (d(2023, 4, 1), d(2023, 6, 30))
        );
        let q4 = Period::parse_quarter("2566Q4").expect("q4");
        assert_eq!(
            (q4.first_day(), q4.last_day()),
            (d(2023, 7, 1), d(2023, 9, 30))
        );
        let fy = Period::parse_fiscal_year("2566").expect("fy");
        assert_eq!(
            (fy.first_day(), fy.last_day()),
            (d(2022, 10, 1), d(2023, 9, 30))
        );
        assert_eq!(fy.key(), "2566");
        assert_eq!(q1.key(), "2566Q1");
        assert_eq!(
            q1.name_th(),
            "ไตรมาสที่ 1 ปีงบประมาณ 2566 (1 ต.ค. 2565 – 31 ธ.ค. 2565)"
        );
        // 30 September ends a fiscal year; 1 October begins the next
        assert_eq!(Period::fiscal_year_of(d(2023, 9, 30)), 2566);
        assert_eq!(Period::fiscal_year_of(d(2023, 10, 1)), 2567);
        assert_eq!(Period::fiscal_year_of(d(2024, 2, 29)), 2567);
        for bad in ["2566Q5", "2566Q0", "2566", "Q1", "2023Q1", "2566Qx", ""] {
            assert!(Period::parse_quarter(bad).is_err(), "{bad}");
        }
        for bad in ["2023", "25x6", "", "2566Q1"] {
            assert!(Period::parse_fiscal_year(bad).is_err(), "{bad}");
        }
    }
}
