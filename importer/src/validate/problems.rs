//! The problems sheet: each failed indicator on a household on the sheet or stored, in the
//! dimension its indicator belongs to, with a citizen ID exactly when the indicator is about
//! a person, that person a member of the household; one row per problem.

use super::check::{Checker, House};
use super::{Context, ProblemIdent, Row, Seen, Validated};
use crate::header::pp;
use crate::report::IssueCode;
use crate::rows::{Parsed, ProblemIn};
use crate::workbook::SheetKind;
use entity::catalog::Unit;
use entity::problem;
use sea_orm::ActiveValue::{NotSet, Set};

/// Checks the problems sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<ProblemIn>>,
    ctx: &Context<'_>,
    seen: &mut Seen,
    out: &mut Validated,
) {
    out.problems.reserve(rows.len());
    for p in rows {
        let Some(pr) = p.value else {
            if let (Some(h), None) = (&p.ident.house_code, p.ident.indicator) {
                seen.rejected
                    .houses_with_problems
                    .entry(h.to_string())
                    .or_insert(p.row);
            }
            if let Some(i) = p.ident.indicator {
                let person = p
                    .ident
                    .citizen_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let ind = i32::from(i.get());
                match &p.ident.house_code {
                    Some(h) if !matches!(seen.house(h.as_str(), ctx), House::Unknown) => {
                        seen.rejected
                            .problems
                            .insert((h.to_string(), ind, person), p.row);
                    }
                    _ => {
                        seen.rejected
                            .orphan_problems
                            .entry((ind, person))
                            .or_insert(p.row);
                    }
                }
            }
            continue;
        };
        let house = pr.house_code.to_string();
        let person = pr
            .citizen_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let ind = i32::from(pr.indicator.get());
        let ok = check_problem(p.row, &pr, &house, ck, seen, ctx);
        let ident = ProblemIdent {
            house_code: house.clone(),
            indicator: ind,
            person_key: person.clone(),
            cohort: pr.cohort,
        };
        if ok && let Some(first) = seen.problems.get(&ident) {
            ck.duplicate(
                p.row,
                &ck.col(pp::INDICATOR),
                Some(pr.indicator.get().to_string()),
                *first,
            );
        } else if ok {
            seen.problems.insert(ident.clone(), p.row);
            out.problems.push(Row {
                row: p.row,
                model: problem::ActiveModel {
                    id: NotSet,
                    house_code: Set(pr.house_code),
                    // the household's: written with it, never compared
                    province_code: NotSet,
                    indicator_code: Set(ind),
                    citizen_id: Set(pr.citizen_id),
                    person_key: Set(person.clone()),
                    cohort_id: NotSet,
                    detail: Set(pr.detail),
                    // derived from the logbook: set on insert, never compared
                    status: NotSet,
                    // the writing transaction's place in the change feed
                    change_seq: NotSet,
                    updated_at: NotSet,
                    batch_id: NotSet,
                    source_sheet: NotSet,
                    source_row: NotSet,
                    // derived from the logbook, and set once: never compared
                    next_visit_on: NotSet,
                    created_at: NotSet,
                },
                link: ident,
            });
            continue;
        }
        ck.reject(p.row);
        if matches!(seen.house(&house, ctx), House::Unknown) {
            seen.rejected
                .orphan_problems
                .entry((ind, person))
                .or_insert(p.row);
        } else {
            seen.rejected.problems.insert((house, ind, person), p.row);
        }
    }
}

/// Whether a problems row may be kept: its household, its dimension, its citizen ID as its
/// indicator asks, that citizen a member of the household.
fn check_problem(
    row: u32,
    pr: &ProblemIn,
    house: &str,
    ck: &mut Checker<'_>,
    seen: &Seen,
    ctx: &Context<'_>,
) -> bool {
    if !ck.house(row, &ck.col(pp::HOUSE_CODE), house, seen.house(house, ctx)) {
        return false;
    }
    let def = pr.indicator.def();
    if let Some(d) = pr.dimension
        && d != def.dimension
    {
        ck.error(
            row,
            &ck.col(pp::DIMENSION),
            Some(d.name_th().to_string()),
            IssueCode::DimensionMismatch,
            format!(
                "ตัวชี้วัดที่ {} อยู่ใน{} ไม่ใช่{}",
                def.code,
                def.dimension.name_th(),
                d.name_th()
            ),
            format!(
                "Indicator {} belongs to {}, not {}",
                def.code,
                def.dimension.name_en(),
                d.name_en()
            ),
        );
        return false;
    }
    match (def.unit, &pr.citizen_id) {
        (Unit::Person, None) => {
            ck.error(
                row,
                &ck.col(pp::CITIZEN_ID),
                None,
                IssueCode::CitizenIdRequired,
                format!(
                    "ตัวชี้วัดที่ {} เป็นตัวชี้วัดรายบุคคล ต้องระบุเลขบัตรประชาชนของสมาชิก",
                    def.code
                ),
                format!(
                    "Indicator {} is about a person: give the member's citizen ID",
                    def.code
                ),
            );
            false
        }
        (Unit::Household, Some(c)) => {
            ck.error(
                row,
                &ck.col(pp::CITIZEN_ID),
                Some(c.to_string()),
                IssueCode::CitizenIdNotExpected,
                format!(
                    "ตัวชี้วัดที่ {} เป็นตัวชี้วัดระดับครัวเรือน ไม่ต้องระบุเลขบัตรประชาชน",
                    def.code
                ),
                format!(
                    "Indicator {} is about the household: leave the citizen ID empty",
                    def.code
                ),
            );
            false
        }
        (Unit::Person, Some(c)) => member_ok(
            row,
            house,
            c.as_ref(),
            ck,
            &ck.col(pp::CITIZEN_ID),
            seen,
            ctx,
        ),
        (Unit::Household, None) => true,
    }
}

/// Whether `cid` is a member of `house`; when not, an error (or a dependency on a
/// rejected members row of that household).
fn member_ok(
    row: u32,
    house: &str,
    cid: &str,
    ck: &mut Checker<'_>,
    column: &str,
    seen: &Seen,
    ctx: &Context<'_>,
) -> bool {
    if seen.is_member(house, cid, ctx) {
        return true;
    }
    match seen.rejected.member(house, cid) {
        Some(on_row) => ck.depends(
            row,
            column,
            Some(cid.to_string()),
            (SheetKind::Members, on_row),
        ),
        None => ck.error(
            row,
            column,
            Some(cid.to_string()),
            IssueCode::MemberNotInHousehold,
            format!("เลขบัตรประชาชน {cid} ไม่ใช่สมาชิกของครัวเรือน {house}"),
            format!("Citizen {cid} is not a member of household {house}"),
        ),
    }
    false
}
