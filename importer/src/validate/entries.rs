//! The logbook-entries sheet: each entry on a known problem of a household in scope (its
//! cohort the one named, or the latest), its agency matched within the household's province
//! (a warning when unknown, kept as text), one entry per problem, day, agency and activity.

use super::check::{Checker, House, Rejected, column_label};
use super::{Context, ProblemIdent, Row, Seen, Validated};
use crate::header::aa;
use crate::reference::squash;
use crate::report::{Issue, IssueCode, Severity};
use crate::rows::{EntryIn, Parsed};
use crate::workbook::SheetKind;
use chrono::NaiveDate;
use entity::catalog::Unit;
use entity::logbook_entry;
use entity::rules::{AgencyRec, entry_key};
use entity::types::Cohort;
use entity::types::Verification;
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::HashMap;

/// Checks the logbook-entries sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<EntryIn>>,
    ctx: &Context<'_>,
    seen: &Seen,
    out: &mut Validated,
) {
    // problems known per (house, indicator, person): cohorts available
    let mut cohorts_of: HashMap<(String, i32, String), Vec<Cohort>> = HashMap::new();
    for ident in seen.problems.keys() {
        cohorts_of
            .entry((
                ident.house_code.clone(),
                ident.indicator,
                ident.person_key.clone(),
            ))
            .or_default()
            .push(ident.cohort);
    }
    let cohort_by_id: HashMap<i32, Cohort> =
        ctx.stored.cohorts.iter().map(|(c, id)| (*id, *c)).collect();
    for (house, ind, person, cohort_id) in ctx.stored.problems.keys() {
        if let Some(c) = cohort_by_id.get(cohort_id) {
            let v = cohorts_of
                .entry((house.clone(), *ind, person.clone()))
                .or_default();
            if !v.contains(c) {
                v.push(*c);
            }
        }
    }
    let mut first_row: HashMap<(ProblemIdent, NaiveDate, String), u32> = HashMap::new();
    // the workbook's province, for rows whose household is not known
    let mut provinces: HashMap<&str, usize> = HashMap::new();
    for (_, _, p) in seen.households.values() {
        *provinces.entry(p.as_str()).or_default() += 1;
    }
    let main_province: String = provinces
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
        .map(|(p, _)| p.to_string())
        .or_else(|| ctx.scope.map(|d| d[..2].to_string()))
        .unwrap_or_default();
    out.entries.reserve(rows.len());
    // a province's entries name a few dozen agencies over and over: each text is matched once
    // (by province, then as written), with the key an unknown one is kept under
    let mut matched: HashMap<String, HashMap<String, (Option<AgencyRec>, String)>> = HashMap::new();
    for p in rows {
        let Some(e) = p.value else { continue };
        let house = e.house_code.to_string();
        let state = seen.house(&house, ctx);
        let province = match state {
            House::Ok { province } => province,
            _ => main_province.as_str(),
        };
        // checked on every row, so that one pass shows staff every unknown agency
        let (agency, agency_key) = match matched.get(province).and_then(|m| m.get(&e.agency)) {
            Some((a, k)) => (a.clone(), k.clone()),
            None => {
                let a = ctx.agencies.find(province, &e.agency).cloned();
                let k = a
                    .as_ref()
                    .map_or_else(|| squash(&e.agency), |a| a.code.clone());
                matched
                    .entry(province.to_string())
                    .or_default()
                    .insert(e.agency.clone(), (a.clone(), k.clone()));
                (a, k)
            }
        };
        if agency.is_none() {
            ck.warn(
                p.row,
                &ck.col(aa::AGENCY),
                Some(e.agency.clone()),
                IssueCode::UnknownAgency,
                format!(
                    "ไม่พบหน่วยงาน \"{}\" ในรายชื่อหน่วยงานของจังหวัด จึงบันทึกไว้เป็นข้อความ",
                    e.agency
                ),
                format!(
                    "\"{}\" is not a known agency of the province; kept as text",
                    e.agency
                ),
            );
        }
        if !ck.house(p.row, &ck.col(aa::HOUSE_CODE), &house, state) {
            ck.reject(p.row);
            continue;
        }
        let Some(problem) = find_problem(p.row, &e, &house, ck, &cohorts_of, &seen.rejected) else {
            ck.reject(p.row);
            continue;
        };
        // the fund its text names, among the funds of the household's district and province
        let district = seen.district(&house, ctx);
        let fund_id = match (&e.fund, &district) {
            (Some(text), Some(d)) => {
                let found = ctx.funds.find(d, text);
                if found.is_none() && ctx.funds.keeps_funds(province) {
                    ck.warn(
                        p.row,
                        &ck.col(aa::FUND),
                        Some(text.clone()),
                        IssueCode::UnknownFund,
                        format!("ไม่พบกองทุน \"{text}\" ในกองทุนของอำเภอและจังหวัด จึงบันทึกไว้เป็นข้อความ"),
                        format!(
                            "\"{text}\" is not a fund of the district or province; kept as text"
                        ),
                    );
                }
                found
            }
            _ => None,
        };
        let key = entry_key(&agency_key, &e.activity);
        let id = (problem.clone(), e.date, key.clone());
        if let Some(first) = first_row.get(&id) {
            ck.duplicate(
                p.row,
                &ck.col(aa::ACTIVITY),
                Some(e.activity.clone()),
                *first,
            );
            ck.reject(p.row);
            continue;
        }
        first_row.insert(id, p.row);
        let model = logbook_entry::ActiveModel {
            id: NotSet,
            problem_id: NotSet,
            entry_date: Set(e.date),
            agency_id: Set(agency.as_ref().map(|a| a.id)),
            agency_text: Set(e.agency),
            entry_key: Set(key),
            activity: Set(e.activity),
            menu: Set(e.menu),
            amount_satang: Set(e.amount.map(|a| a.satang())),
            fund: Set(e.fund),
            fund_id: Set(fund_id),
            status: Set(e.status),
            note: Set(e.note),
            recorded_by: NotSet,
            written_seq: NotSet,
            // the writing transaction's place in the change feed
            change_seq: NotSet,
            updated_at: NotSet,
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
            next_visit_on: Set(e.next_visit_on),
            latitude: Set(e.latitude),
            longitude: Set(e.longitude),
            // a new or changed entry waits for the district's check again
            verification: Set(Verification::Recorded),
            verification_note: Set(None),
            verified_by: Set(None),
            verified_at: Set(None),
        };
        out.entries.push(Row {
            row: p.row,
            model,
            link: problem,
        });
    }
}

/// The error for an entry row dated in a month its district has locked, which the row
/// would add or change: found once the rows are compared with what is stored (an
/// unchanged row is fine), or in the write's own transaction for a month locked since
/// ([`crate::write::WriteError::MonthLocked`]).
pub(crate) fn month_locked(
    read: &crate::ReadWorkbook,
    row: u32,
    date: NaiveDate,
    district: &str,
) -> Issue {
    let month = entity::month_lock::month_of(date);
    Issue::new(
        Severity::Error,
        Some(SheetKind::Assistance),
        Some(row),
        IssueCode::MonthLocked,
        format!(
            "เดือน {month} ของอำเภอ {district} ปิดแล้วหลังส่งรายงาน จึงเพิ่มหรือแก้รายการในเดือนนี้ไม่ได้ ให้ขอศูนย์จังหวัดเปิดเดือนนี้ หรือบันทึกเป็นรายการในเดือนที่ยังเปิด"
        ),
        format!(
            "Month {month} of district {district} is locked after its report: entries dated in it cannot be added or changed; ask the province centre to unlock it, or record the help in an open month"
        ),
    )
    .column(column_label(read, SheetKind::Assistance, aa::DATE))
    .value(Some(entity::types::ThaiDate::from_stored(date).to_thai()))
}

/// The problem a logbook entry is on (the latest cohort when the row names none), or the
/// error saying why there is none.
fn find_problem(
    row: u32,
    e: &EntryIn,
    house: &str,
    ck: &mut Checker<'_>,
    cohorts_of: &HashMap<(String, i32, String), Vec<Cohort>>,
    refs: &Rejected,
) -> Option<ProblemIdent> {
    let ind = i32::from(e.indicator.get());
    let person = e
        .citizen_id
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let key = (house.to_string(), ind, person.clone());
    if let Some(on_row) = refs.problems.get(&key) {
        ck.depends(
            row,
            &ck.col(aa::INDICATOR),
            Some(ind.to_string()),
            (SheetKind::Problems, *on_row),
        );
        return None;
    }
    let found = cohorts_of.get(&key).and_then(|cohorts| match e.cohort {
        Some(c) => cohorts.contains(&c).then_some(c),
        None => cohorts
            .iter()
            .max_by_key(|c| (c.be_year, c.source))
            .copied(),
    });
    if let Some(cohort) = found {
        return Some(ProblemIdent {
            house_code: house.to_string(),
            indicator: ind,
            person_key: person,
            cohort,
        });
    }
    let def = e.indicator.def();
    if def.unit == Unit::Person && e.citizen_id.is_none() {
        ck.error(
            row,
            &ck.col(aa::CITIZEN_ID),
            None,
            IssueCode::CitizenIdRequired,
            format!(
                "ตัวชี้วัดที่ {} เป็นตัวชี้วัดรายบุคคล ต้องระบุเลขบัตรประชาชนของผู้ได้รับความช่วยเหลือ",
                def.code
            ),
            format!(
                "Indicator {} is about a person: give the citizen ID of the person helped",
                def.code
            ),
        );
        return None;
    }
    if !person.is_empty()
        && let Some(on_row) = refs.member(house, &person)
    {
        ck.depends(
            row,
            &ck.col(aa::CITIZEN_ID),
            Some(person),
            (SheetKind::Members, on_row),
        );
        return None;
    }
    // the problem may be a rejected row whose indicator or house code was wrong
    if let Some(on_row) = refs
        .houses_with_problems
        .get(house)
        .or_else(|| refs.orphan_problems.get(&(ind, person.clone())))
    {
        ck.depends(
            row,
            &ck.col(aa::INDICATOR),
            Some(ind.to_string()),
            (SheetKind::Problems, *on_row),
        );
        return None;
    }
    let cohort_th = e.cohort.map(|c| format!(" ที่มา {c}")).unwrap_or_default();
    let cohort_en = e
        .cohort
        .map(|c| format!(" in cohort {c}"))
        .unwrap_or_default();
    ck.error(
        row,
        &ck.col(aa::INDICATOR),
        Some(ind.to_string()),
        IssueCode::ProblemUnknown,
        format!("ครัวเรือน {house} ไม่มีปัญหาตัวชี้วัดที่ {ind}{cohort_th} ทั้งในแผ่นงานปัญหาและในฐานข้อมูล"),
        format!("Household {house} has no problem for indicator {ind}{cohort_en} in the problems sheet or stored"),
    );
    None
}
