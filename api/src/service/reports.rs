//! The monthly district-to-province report (due on the 10th): problems per district ×
//! dimension × status as of the month's last day, the month's logbook entries, and the
//! follow-up per district (households closed by that day, urgent now, problems overdue on
//! that day), over what the principal may see; written as a workbook.
//!
//! A problem's status as of a day is the result of its latest logbook entry on or before that
//! day (by date, then write order), or "not started". Every stored problem is counted: the
//! workbooks carry no date on which a problem was found.

use super::stats;
use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{Datelike, NaiveDate};
use entity::catalog::dimension_of;
use entity::types::{Dimension, MONTHS_FULL, ProblemStatus};
use entity::{household, logbook_entry, problem};
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook};
use sea_orm::sea_query::JoinType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use std::collections::{BTreeMap, HashMap};

/// A month, parsed from `YYYY-MM` (CE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// Year, CE.
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// Parses `2026-10`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_input("month", format!("\"{s}\" is not a month like 2026-10"));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(2000..=2200).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    /// `2026-10`, as month locks are kept ([`entity::month_lock::month_of`]).
    pub fn key(self) -> String {
        entity::month_lock::month_of(self.first_day())
    }

    /// The first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    /// The last day.
    pub fn last_day(self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or_default()
    }

    /// `ตุลาคม 2569`.
    pub fn name_th(self) -> String {
        format!(
            "{} {}",
            MONTHS_FULL[(self.month - 1) as usize],
            self.year + 543
        )
    }
}

/// Counts of one district and dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// District code.
    pub district_code: String,
    /// District name.
    pub district_name: String,
    /// Dimension.
    pub dimension: Dimension,
    /// Problems per status, in [`ProblemStatus::ALL`] order.
    pub by_status: [u64; 5],
}

/// One logbook entry of the month.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRow {
    /// District code.
    pub district_code: String,
    /// House code.
    pub house_code: String,
    /// Indicator code.
    pub indicator: i32,
    /// Date.
    pub date: NaiveDate,
    /// Agency as written.
    pub agency: String,
    /// What was done.
    pub activity: String,
    /// Amount, baht.
    pub amount: Option<f64>,
    /// Result.
    pub status: ProblemStatus,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// The district's check.
    pub verification: entity::types::Verification,
}

/// The follow-up of one district.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FollowUpRow {
    /// District code.
    pub district_code: String,
    /// District name.
    pub district_name: String,
    /// Households with problems.
    pub households: u64,
    /// Of those, closed on or before the month's last day.
    pub closed: u64,
    /// Of those, urgent (as they stand when the report is made: urgency keeps no history).
    pub urgent: u64,
    /// Problems overdue on the month's last day, of households not closed by then.
    pub overdue: u64,
    /// The month's entries not verified by the district (recorded or returned), as they
    /// stand when the report is made.
    pub unverified: u64,
    /// Whether the province has locked the month for the district.
    pub locked: bool,
}

/// The report's content.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyReport {
    /// The month.
    pub month: Month,
    /// Per district × dimension, every dimension of every district with problems.
    pub summary: Vec<SummaryRow>,
    /// The month's entries, by district, date and house.
    pub entries: Vec<EntryRow>,
    /// Per district with problems.
    pub follow_up: Vec<FollowUpRow>,
}

/// A logbook entry of the month as the report reads it: date, agency as written, activity,
/// amount (satang), result, who recorded it, the district's check, then its problem's house,
/// indicator and district.
type MonthEntry = (
    NaiveDate,
    String,
    String,
    Option<i64>,
    ProblemStatus,
    Option<String>,
    entity::types::Verification,
    String,
    i32,
    String,
);

/// Builds the report of `month` over what `p` may see; a problem not started is overdue
/// `overdue_days` after it was recorded (`--overdue-days`).
pub async fn monthly(
    db: &impl ConnectionTrait,
    p: &Principal,
    month: Month,
    overdue_days: u32,
) -> ApiResult<MonthlyReport> {
    let last = month.last_day();
    let first = month.first_day();
    let rule = super::follow_up::OverdueRule {
        today: last,
        days: overdue_days,
    };
    let names = super::catalog::district_names(db).await?;
    // per district × dimension × status, as of the last day
    let mut summary: BTreeMap<(String, Dimension), [u64; 5]> = BTreeMap::new();
    for (at, s, n) in super::periods::Statuses::count(db, p, last, &[]).await?.0 {
        summary.entry(at).or_default()[s.index()] += n[0];
    }
    // every dimension of a district with problems, so the table has no holes
    let districts: Vec<String> = summary.keys().map(|(d, _)| d.clone()).collect();
    for d in districts {
        for dim in Dimension::ALL {
            summary.entry((d.clone(), *dim)).or_default();
        }
    }
    // the follow-up per district as of the last day
    let follow = stats::follow_up_counted(db, p, rule).await?;
    // the month's entries (the report lists them: its size is the month's), with their
    // problem's district, house and indicator
    let mut month_entries: Vec<EntryRow> = logbook_entry::Entity::find()
        .select_only()
        .columns([
            logbook_entry::Column::EntryDate,
            logbook_entry::Column::AgencyText,
            logbook_entry::Column::Activity,
            logbook_entry::Column::AmountSatang,
            logbook_entry::Column::Status,
            logbook_entry::Column::RecordedBy,
            logbook_entry::Column::Verification,
        ])
        .column(problem::Column::HouseCode)
        .column(problem::Column::IndicatorCode)
        .column(household::Column::DistrictCode)
        .join(JoinType::InnerJoin, logbook_entry::Relation::Problem.def())
        .join(JoinType::InnerJoin, problem::Relation::Household.def())
        .filter(p.problems())
        .filter(logbook_entry::Column::EntryDate.between(first, last))
        // in the order written within a day (the sort below keeps it)
        .order_by_asc(logbook_entry::Column::EntryDate)
        .order_by_asc(logbook_entry::Column::WrittenSeq)
        .order_by_asc(logbook_entry::Column::Id)
        .into_tuple::<MonthEntry>()
        .all(db)
        .await?
        .into_iter()
        .filter(|e| dimension_of(e.8).is_some())
        .map(|e| EntryRow {
            date: e.0,
            agency: e.1,
            activity: e.2,
            amount: e.3.map(|s| s as f64 / 100.0),
            status: e.4,
            recorded_by: e.5,
            verification: e.6,
            house_code: e.7,
            indicator: e.8,
            district_code: e.9,
        })
        .collect();
    month_entries.sort_by(|a, b| {
        (&a.district_code, a.date, &a.house_code).cmp(&(&b.district_code, b.date, &b.house_code))
    });
    let mut unverified: HashMap<&str, u64> = HashMap::new();
    for e in &month_entries {
        if e.verification != entity::types::Verification::Verified {
            *unverified.entry(e.district_code.as_str()).or_default() += 1;
        }
    }
    let locked: std::collections::HashSet<String> = entity::month_lock::Entity::find()
        .filter(entity::month_lock::Column::Month.eq(month.key()))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.district_code)
        .collect();
    let follow_up = follow
        .into_iter()
        .filter_map(|(keys, n)| {
            let district_code = keys.into_iter().next().flatten()?;
            Some(FollowUpRow {
                district_name: names.get(&district_code).cloned().unwrap_or_default(),
                households: n[1],
                closed: n[2],
                urgent: n[3],
                overdue: n[4],
                unverified: unverified.get(district_code.as_str()).copied().unwrap_or(0),
                locked: locked.contains(&district_code),
                district_code,
            })
        })
        .collect();
    Ok(MonthlyReport {
        follow_up,
        month,
        summary: summary
            .into_iter()
            .map(|((district_code, dimension), by_status)| SummaryRow {
                district_name: names.get(&district_code).cloned().unwrap_or_default(),
                district_code,
                dimension,
                by_status,
            })
            .collect(),
        entries: month_entries,
    })
}

/// The cell formats every report workbook uses.
pub(crate) struct Formats {
    /// A sheet's title line.
    pub title: Format,
    /// A column heading.
    pub head: Format,
    /// A plain cell.
    pub cell: Format,
    /// A total (bold).
    pub total: Format,
    /// A date, `d/m/yyyy`.
    pub date: Format,
    /// Baht, `#,##0.00`.
    pub money: Format,
    /// A total in baht.
    pub money_total: Format,
}

impl Formats {
    /// The formats.
    pub fn new() -> Self {
        let thin = |f: Format| f.set_border(FormatBorder::Thin);
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            head: thin(
                Format::new()
                    .set_bold()
                    .set_text_wrap()
                    .set_background_color(Color::RGB(0xDDEBF7)),
            ),
            cell: thin(Format::new()),
            total: thin(Format::new().set_bold()),
            date: thin(Format::new().set_num_format("d/m/yyyy")),
            money: thin(Format::new().set_num_format("#,##0.00")),
            money_total: thin(Format::new().set_bold().set_num_format("#,##0.00")),
        }
    }
}

/// `30/9/2565`: a day as the reports' titles write it (Buddhist era).
pub(crate) fn day_th(d: NaiveDate) -> String {
    format!("{}/{}/{}", d.day(), d.month(), d.year() + 543)
}

/// Writes the report as a workbook: a summary sheet and an entries sheet, in Thai.
pub fn monthly_workbook(r: &MonthlyReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let Formats {
        title,
        head,
        cell,
        total,
        date,
        money,
        ..
    } = Formats::new();

    let ws = wb.add_worksheet();
    ws.set_name("สรุปรายอำเภอ")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "รายงานผลการแก้ไขปัญหาความยากจน ประจำเดือน{} ณ วันที่ {}",
            r.month.name_th(),
            day_th(r.month.last_day())
        ),
        &title,
    )?;
    let mut cols: Vec<String> = vec!["รหัสอำเภอ".into(), "อำเภอ".into(), "มิติ".into()];
    cols.extend(ProblemStatus::ALL.iter().map(|s| s.name_th().to_string()));
    cols.push("รวม".into());
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, h, &head)?;
    }
    let mut row = 3u32;
    let mut grand = [0u64; 5];
    for s in &r.summary {
        ws.write_string_with_format(row, 0, &s.district_code, &cell)?;
        ws.write_string_with_format(row, 1, &s.district_name, &cell)?;
        ws.write_string_with_format(row, 2, s.dimension.name_th(), &cell)?;
        for (i, n) in s.by_status.iter().enumerate() {
            ws.write_number_with_format(row, 3 + i as u16, *n as f64, &cell)?;
            grand[i] += n;
        }
        ws.write_number_with_format(row, 8, s.by_status.iter().sum::<u64>() as f64, &total)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "รวมทั้งหมด", &total)?;
    ws.write_string_with_format(row, 1, "", &total)?;
    ws.write_string_with_format(row, 2, "", &total)?;
    for (i, n) in grand.iter().enumerate() {
        ws.write_number_with_format(row, 3 + i as u16, *n as f64, &total)?;
    }
    ws.write_number_with_format(row, 8, grand.iter().sum::<u64>() as f64, &total)?;
    ws.set_column_width(1, 18)?;
    ws.set_column_width(2, 24)?;
    for c in 3..9 {
        ws.set_column_width(c, 14)?;
    }
    ws.set_row_height(2, 36)?;
    ws.set_freeze_panes(3, 0)?;

    // the entries' sheet is second (as before); the follow-up's is added after it. It has a
    // row per entry of the month, so its rows go to a temporary file as they are written
    // (low-memory mode: rows in order, strings still shared) instead of staying in memory
    // until the save — about 2.6 KB an entry otherwise
    let ws = wb.add_worksheet_with_low_memory()?;
    ws.set_name("การช่วยเหลือประจำเดือน")?;
    ws.set_column_width(1, 14)?;
    ws.set_column_width(3, 12)?;
    ws.set_column_width(4, 18)?;
    ws.set_column_width(5, 40)?;
    ws.set_column_width(6, 14)?;
    ws.set_column_width(7, 24)?;
    ws.set_column_width(8, 20)?;
    ws.set_freeze_panes(3, 0)?;
    ws.write_string_with_format(
        0,
        0,
        format!("การช่วยเหลือที่บันทึกในเดือน{}", r.month.name_th()),
        &title,
    )?;
    for (c, h) in [
        "รหัสอำเภอ",
        "รหัสบ้าน",
        "ตัวชี้วัด",
        "วันที่",
        "หน่วยงาน",
        "กิจกรรม",
        "จำนวนเงิน (บาท)",
        "ผล",
        "ผู้บันทึก",
        "การตรวจสอบ",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &head)?;
    }
    for (i, e) in r.entries.iter().enumerate() {
        let row = 3 + i as u32;
        ws.write_string_with_format(row, 0, &e.district_code, &cell)?;
        ws.write_string_with_format(row, 1, &e.house_code, &cell)?;
        ws.write_number_with_format(row, 2, f64::from(e.indicator), &cell)?;
        ws.write_date_with_format(row, 3, e.date, &date)?;
        ws.write_string_with_format(row, 4, &e.agency, &cell)?;
        ws.write_string_with_format(row, 5, &e.activity, &cell)?;
        match e.amount {
            Some(a) => ws.write_number_with_format(row, 6, a, &money)?,
            None => ws.write_string_with_format(row, 6, "", &cell)?,
        };
        ws.write_string_with_format(row, 7, e.status.name_th(), &cell)?;
        ws.write_string_with_format(row, 8, e.recorded_by.as_deref().unwrap_or(""), &cell)?;
        ws.write_string_with_format(row, 9, verification_th(e.verification), &cell)?;
    }
    let ws = wb.add_worksheet();
    ws.set_name("การติดตามรายอำเภอ")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "การติดตามครัวเรือนเป้าหมาย ณ วันที่ {}",
            day_th(r.month.last_day())
        ),
        &title,
    )?;
    for (c, h) in [
        "รหัสอำเภอ",
        "อำเภอ",
        "ครัวเรือนที่มีปัญหา",
        "ปิดแล้ว (เสียชีวิต ย้าย ฯลฯ)",
        "เร่งด่วน",
        "ปัญหาเกินกำหนดติดตาม",
        "รายการในเดือนที่ยังไม่ตรวจสอบ",
        "ปิดเดือนแล้ว",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &head)?;
    }
    for (row, f) in (3u32..).zip(r.follow_up.iter()) {
        ws.write_string_with_format(row, 0, &f.district_code, &cell)?;
        ws.write_string_with_format(row, 1, &f.district_name, &cell)?;
        for (c, n) in [f.households, f.closed, f.urgent, f.overdue, f.unverified]
            .iter()
            .enumerate()
        {
            ws.write_number_with_format(row, 2 + c as u16, *n as f64, &cell)?;
        }
        ws.write_string_with_format(
            row,
            7,
            if f.locked {
                "ปิดแล้ว"
            } else {
                ""
            },
            &cell,
        )?;
    }
    ws.set_column_width(1, 18)?;
    for c in 2..8 {
        ws.set_column_width(c, 16)?;
    }
    ws.set_row_height(2, 36)?;

    wb.save_to_buffer()
}

/// A verification state as the report writes it.
fn verification_th(v: entity::types::Verification) -> &'static str {
    use entity::types::Verification;
    match v {
        Verification::Recorded => "รอตรวจสอบ",
        Verification::Verified => "ตรวจสอบแล้ว",
        Verification::Returned => "ส่งกลับแก้ไข",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_know_their_days() {
        let m = Month::parse("2026-02").expect("a month");
        assert_eq!(
            m.first_day(),
            NaiveDate::from_ymd_opt(2026, 2, 1).expect("d")
        );
        assert_eq!(
            m.last_day(),
            NaiveDate::from_ymd_opt(2026, 2, 28).expect("d")
        );
        assert_eq!(
            Month::parse("2024-12").expect("m").last_day(),
            NaiveDate::from_ymd_opt(2024, 12, 31).expect("d")
        );
        assert_eq!(m.name_th(), "กุมภาพันธ์ 2569");
        for bad in ["2026", "2026-13", "26-01", "2026-00", "abcd-ef", ""] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
