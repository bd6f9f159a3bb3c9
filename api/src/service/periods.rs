//! The board's reports over periods of the Thai fiscal year (October to September, named by
//! its Buddhist-era year; Q1 = October–December): problems per district × dimension × status
//! at the period's end, what changed in it (problems recorded, problems solved, entries, money
//! by fund), and the per-agency results the agencies present — all recomputed from the
//! logbook's history by the database (grouped statements through [`super::stats`], so a
//! report's memory is its rows, not the history), over what the principal may see; written
//! as a workbook.

use super::stats::{self, EntryKey, Key, Measure};
use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{Datelike, NaiveDate};
use entity::types::{Dimension, FundMovementKind, MONTHS_ABBR_DOTTED, ProblemStatus};
use entity::{agency, agency_dimension, fund, fund_movement, logbook_entry, problem};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
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

/// A group's district (or province) and dimension, read back from the keys of
/// [`stats::problems_counted`] and its kin (`None` for a dimension not in the catalog).
pub(crate) fn area_and_dimension(keys: &[Option<String>]) -> Option<(String, Dimension)> {
    let area = keys.first()?.clone()?;
    let dim = Dimension::from_key(keys.get(1)?.as_deref()?)?;
    Some((area, dim))
}

/// A group's status, the key after `at`.
pub(crate) fn status_key(keys: &[Option<String>], at: usize) -> Option<ProblemStatus> {
    ProblemStatus::from_key(keys.get(at)?.as_deref()?)
}

/// Problems recorded from the start of `first` to the end of `last` (UTC days), as a
/// condition on `problems`.
fn recorded_between(first: NaiveDate, last: NaiveDate) -> Condition {
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let mut c = Condition::all();
    if let Some(t) = start(first) {
        c = c.add(problem::Column::CreatedAt.gte(t));
    }
    if let Some(t) = last.succ_opt().and_then(start) {
        c = c.add(problem::Column::CreatedAt.lt(t));
    }
    c
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

/// Builds the report of `period` over what `p` may see: every figure counted by the
/// database (grouped statements whose rows are districts × dimensions, whatever the size of
/// the history).
pub async fn period(
    db: &impl ConnectionTrait,
    p: &Principal,
    period: Period,
) -> ApiResult<PeriodReport> {
    let (first, last) = (period.first_day(), period.last_day());
    let before = first.pred_opt().unwrap_or(first);
    let names = super::catalog::district_names(db).await?;
    let place = [Key::District, Key::Dimension];
    let mut rows: BTreeMap<(String, Dimension), PeriodRow> = BTreeMap::new();
    // per district × dimension × status at the period's end: how many, how many recorded in
    // it, how many not solved on the day before it began
    let measures = [
        Measure::Problems(recorded_between(first, last)),
        Measure::Problems(stats::solved_at(before).not()),
    ];
    let statuses = Statuses::count(db, p, last, &measures).await?;
    for (at, s, n) in &statuses.0 {
        let r = rows.entry(at.clone()).or_default();
        r.by_status[s.index()] += n[0];
        r.recorded += n[1];
        if *s == ProblemStatus::Solved {
            r.solved += n[2];
        }
    }
    let dated = stats::entries_counted(db, p, Condition::all(), &place, &[], Some(first), last);
    for (keys, (n, amount)) in dated.await? {
        if let Some(at) = area_and_dimension(&keys) {
            let r = rows.entry(at).or_default();
            r.entries += n;
            r.amount += amount;
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
    let with_money = Condition::any()
        .add(logbook_entry::Column::AmountSatang.is_not_null())
        .add(logbook_entry::Column::Fund.is_not_null());
    let by_fund = [EntryKey::Fund, EntryKey::FundText];
    let named = stats::entries_counted(
        db,
        p,
        with_money,
        &[Key::District, Key::Dimension],
        &by_fund,
        Some(first),
        last,
    );
    for (keys, (n, amount)) in named.await? {
        let Some((district, _)) = area_and_dimension(&keys) else {
            continue;
        };
        let name = keys[2]
            .as_deref()
            .and_then(|id| id.parse::<i32>().ok())
            .and_then(|id| fund_names.get(&id))
            .map(|f| f.name.clone())
            .or_else(|| keys[3].clone())
            .unwrap_or_else(|| "ไม่ระบุกองทุน".into());
        let m = money.entry((district, name)).or_default();
        m.entries += n;
        m.entry_amount += amount;
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
    let agencies = agency_rows(db, p, &statuses, last).await?;
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

/// The per-agency results over what `p` may see, at the end of `as_of`: for each agency and
/// dimension it owns, the problems of the dimension in its province by status, the entries
/// and money it recorded on them, its plans and those done — counted by the database.
pub async fn agency_results(
    db: &impl ConnectionTrait,
    p: &Principal,
    as_of: NaiveDate,
) -> ApiResult<Vec<AgencyRow>> {
    let statuses = Statuses::count(db, p, as_of, &[]).await?;
    agency_rows(db, p, &statuses, as_of).await
}

/// Problems per district × dimension × status at the end of a day, each with its count and
/// the counts of the measures asked.
pub(crate) struct Statuses(pub(crate) Vec<((String, Dimension), ProblemStatus, Vec<u64>)>);

impl Statuses {
    /// Counts them over what `p` may see.
    pub(crate) async fn count(
        db: &impl ConnectionTrait,
        p: &Principal,
        day: NaiveDate,
        measures: &[Measure],
    ) -> ApiResult<Self> {
        let keys = [Key::District, Key::Dimension, Key::Status];
        let rows = stats::problems_counted(db, p, Condition::all(), &keys, Some(day), measures);
        Ok(Statuses(
            rows.await?
                .into_iter()
                .filter_map(|(k, n)| Some((area_and_dimension(&k)?, status_key(&k, 2)?, n)))
                .collect(),
        ))
    }
}

async fn agency_rows(
    db: &impl ConnectionTrait,
    p: &Principal,
    counted: &Statuses,
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
    // problems per (province, dimension) by status: the province is the district's first two
    // digits
    let mut statuses: HashMap<(String, Dimension), [u64; 5]> = HashMap::new();
    for ((district, dim), s, n) in &counted.0 {
        let province = district.get(..2).unwrap_or_default().to_string();
        statuses.entry((province, *dim)).or_default()[s.index()] += n[0];
    }
    let place = [Key::Province, Key::Dimension];
    let agency_of = |keys: &[Option<String>]| {
        Some((
            keys.get(2)?.as_deref()?.parse::<i32>().ok()?,
            area_and_dimension(keys)?,
        ))
    };
    // per (agency, province, dimension): entries and money, plans and those done
    let mut entries: HashMap<(i32, (String, Dimension)), (u64, i64)> = HashMap::new();
    let recorded = Condition::all().add(logbook_entry::Column::AgencyId.is_not_null());
    let theirs = stats::entries_counted(db, p, recorded, &place, &[EntryKey::Agency], None, as_of);
    for (keys, figures) in theirs.await? {
        if let Some(k) = agency_of(&keys) {
            entries.insert(k, figures);
        }
    }
    let mut plans: HashMap<(i32, (String, Dimension)), (u64, u64)> = HashMap::new();
    for (keys, figures) in stats::plans_counted(db, p, &place, as_of).await? {
        if let Some(k) = agency_of(&keys) {
            plans.insert(k, figures);
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
            let at = (a.province_code.clone(), dim);
            let s = statuses.get(&at).copied().unwrap_or_default();
            let (entries, money) = entries
                .get(&(a.id, at.clone()))
                .copied()
                .unwrap_or_default();
            let (planned, planned_done) = plans.get(&(a.id, at)).copied().unwrap_or_default();
            let of = |st: ProblemStatus| s[st.index()];
            out.push(AgencyRow {
                agency_code: a.code.clone(),
                agency_name: a.name_th.clone(),
                dimension: Some(dim),
                problems: s.iter().sum(),
                solved: of(ProblemStatus::Solved),
                following_up: of(ProblemStatus::AwaitingFollowUp) + of(ProblemStatus::FollowingUp),
                not_solvable_yet: of(ProblemStatus::NotSolvableYet),
                not_started: of(ProblemStatus::NotStarted),
                entries,
                money,
                planned,
                planned_done,
            });
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
