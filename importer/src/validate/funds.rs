//! The funds sheet: each grant, loan, repayment or write-off in a fund the importing centre
//! keeps (the household's district's; the province's only when the import is not limited to
//! a district), to a household in scope; a repayment's loan found by its household, fund and
//! day; nothing twice; a row already stored left as it is, one that differs from it refused
//! (movements are removed and recorded again, never changed); and over each fund's stored
//! and new movements together, never more paid out than the fund holds on any day
//! ([`entity::funds::first_overdrawn`]) nor more repaid than is owed.

use super::check::Checker;
use super::{Context, LoanKey, Row, Seen, Validated};
use crate::header::ff;
use crate::plan::{Action, movement_action};
use crate::report::IssueCode;
use crate::rows::{FundRowIn, Parsed};
use chrono::NaiveDate;
use entity::fund_movement;
use entity::types::{Baht, FundMovementKind as Kind, ThaiDate};
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::{BTreeMap, HashMap};

/// A row that passed the row checks, before the checks over whole funds.
struct Checked {
    row: u32,
    fund_id: i32,
    house: String,
    kind: Kind,
    date: NaiveDate,
    amount: i64,
    loan_date: Option<NaiveDate>,
    model: fund_movement::ActiveModel,
}

fn shown(d: NaiveDate) -> String {
    ThaiDate::from_stored(d).to_thai()
}

/// Checks the funds sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<FundRowIn>>,
    ctx: &Context<'_>,
    seen: &Seen,
    out: &mut Validated,
) {
    // (fund, kind, house, day) → first row: one movement per identity in a file
    let mut first_row: HashMap<(i32, Kind, String, NaiveDate), u32> = HashMap::new();
    let mut checked: Vec<Checked> = Vec::with_capacity(rows.len());
    for p in rows {
        let Some(f) = p.value else { continue };
        let house = f.house_code.to_string();
        let state = seen.house(&house, ctx);
        if !ck.house(p.row, &ck.col(ff::HOUSE_CODE), &house, state) {
            ck.reject(p.row);
            continue;
        }
        let district = seen.district(&house, ctx).unwrap_or_default();
        let Some(fund_id) = ctx.funds.find(&district, &f.fund) else {
            ck.error(
                p.row,
                &ck.col(ff::FUND),
                Some(f.fund.clone()),
                IssueCode::FundUnknown,
                format!(
                    "ไม่พบกองทุน \"{}\" ในกองทุนของอำเภอ {district} หรือของจังหวัด ให้แก้ชื่อให้ตรงกับที่ลงทะเบียนไว้ หรือให้ผู้ดูแลสร้างกองทุนก่อน (logbook fund create)",
                    f.fund
                ),
                format!(
                    "\"{}\" is not a fund of district {district} or its province; correct the name, or have the fund created first (logbook fund create)",
                    f.fund
                ),
            );
            ck.reject(p.row);
            continue;
        };
        let (area, name) = ctx.funds.fund(fund_id).unwrap_or(("", ""));
        if let Some(scope) = ctx.scope
            && !area.starts_with(scope)
        {
            ck.error(
                p.row,
                &ck.col(ff::FUND),
                Some(f.fund.clone()),
                IssueCode::FundNotKept,
                format!("กองทุน \"{name}\" เป็นกองทุนระดับจังหวัด ศูนย์จังหวัดเป็นผู้บันทึกรายการของกองทุนนี้ อำเภอบันทึกได้เฉพาะกองทุนของอำเภอ"),
                format!("\"{name}\" is the province's fund: the province centre records its movements; a district records only its own funds"),
            );
            ck.reject(p.row);
            continue;
        }
        let id = (fund_id, f.kind, house.clone(), f.date);
        if let Some(first) = first_row.get(&id) {
            ck.duplicate(
                p.row,
                &ck.col(ff::KIND),
                Some(f.kind.name_th().into()),
                *first,
            );
            ck.reject(p.row);
            continue;
        }
        first_row.insert(id, p.row);
        let model = fund_movement::ActiveModel {
            id: NotSet,
            fund_id: Set(fund_id),
            kind: Set(f.kind),
            moved_on: Set(f.date),
            amount_satang: Set(f.amount.satang()),
            house_code: Set(Some(house.clone())),
            // what the workbook does not say is left as the API recorded it
            problem_id: NotSet,
            entry_id: NotSet,
            // a repayment's loan is found below
            loan_id: if f.kind.of_loan() { NotSet } else { Set(None) },
            source: NotSet,
            term_months: Set(f.term_months),
            every_months: Set(f.every_months),
            note: Set(f.note),
            recorded_by: NotSet,
            created_at: NotSet,
            batch_id: NotSet,
            source_row: NotSet,
        };
        checked.push(Checked {
            row: p.row,
            fund_id,
            house,
            kind: f.kind,
            date: f.date,
            amount: f.amount.satang(),
            loan_date: f.loan_date,
            model,
        });
    }

    // the loans of this file, by what a repayment names them by
    let in_file: HashMap<LoanKey, u32> = checked
        .iter()
        .filter(|c| c.kind == Kind::Loan)
        .map(|c| (loan_key(c.fund_id, &c.house, c.date), c.row))
        .collect();
    let mut links: Vec<Option<LoanKey>> = Vec::with_capacity(checked.len());
    let mut keep = vec![true; checked.len()];
    for (i, c) in checked.iter_mut().enumerate() {
        links.push(None);
        let Some(lent_on) = c.loan_date.filter(|_| c.kind.of_loan()) else {
            continue;
        };
        let stored: Vec<&fund_movement::Model> = ctx
            .stored
            .movements_like(c.fund_id, Kind::Loan, &c.house, lent_on)
            .collect();
        match stored.as_slice() {
            [one] => c.model.loan_id = Set(Some(one.id)),
            [] if in_file.contains_key(&loan_key(c.fund_id, &c.house, lent_on)) => {
                links[i] = Some(loan_key(c.fund_id, &c.house, lent_on));
            }
            [] => {
                ck.error(
                    c.row,
                    &ck.col(ff::LOAN_DATE),
                    Some(shown(lent_on)),
                    IssueCode::LoanUnknown,
                    format!(
                        "ครัวเรือน {} ไม่มีรายการให้ยืมจากกองทุนนี้ลงวันที่ {} ทั้งในแผ่นงานนี้และในฐานข้อมูล ให้ตรวจวันที่ยืม",
                        c.house,
                        shown(lent_on)
                    ),
                    format!(
                        "Household {} has no loan from this fund dated {} in this sheet or stored; check the loan's date",
                        c.house,
                        shown(lent_on)
                    ),
                );
                ck.reject(c.row);
                keep[i] = false;
            }
            many => {
                let ids: Vec<String> = many.iter().map(|m| m.id.to_string()).collect();
                ck.error(
                    c.row,
                    &ck.col(ff::LOAN_DATE),
                    Some(shown(lent_on)),
                    IssueCode::LoanAmbiguous,
                    format!(
                        "ครัวเรือน {} มีรายการให้ยืมลงวันที่ {} จากกองทุนนี้ {} รายการ (เลขที่ {}) ให้บันทึกการชำระคืนในระบบ logbook โดยระบุเลขที่รายการให้ยืม",
                        c.house,
                        shown(lent_on),
                        many.len(),
                        ids.join(", ")
                    ),
                    format!(
                        "Household {} has {} loans from this fund dated {} (ids {}); record the repayment in logbook naming the loan's id",
                        c.house,
                        many.len(),
                        shown(lent_on),
                        ids.join(", ")
                    ),
                );
                ck.reject(c.row);
                keep[i] = false;
            }
        }
    }

    // a row already stored stays; one that differs from what is stored is refused
    let mut new_rows: Vec<usize> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        match movement_action(&c.model, ctx.stored) {
            Action::Insert => new_rows.push(i),
            Action::Unchanged => {}
            Action::Update => {
                let was = stored_twin(c, ctx);
                let (id, amount) = was.map_or((0, 0), |m| (m.id, m.amount_satang));
                ck.error(
                    c.row,
                    &ck.col(ff::AMOUNT),
                    Some(Baht::from_satang(c.amount).to_string()),
                    IssueCode::FundMovementChanged,
                    format!(
                        "รายการนี้ต่างจากรายการ{}ที่บันทึกไว้แล้ว (เลขที่ {id}, {} บาท) รายการเงินกองทุนแก้ไขไม่ได้ ให้ลบรายการเดิม (logbook fund remove {id}) แล้วนำเข้าใหม่ หรือแก้แถวนี้ให้ตรงกับที่บันทึกไว้",
                        c.kind.name_th(),
                        Baht::from_satang(amount)
                    ),
                    format!(
                        "This row differs from the {} already recorded (id {id}, {} baht); a fund movement is never changed: remove it (logbook fund remove {id}) and import again, or make the row match it",
                        c.kind.key(),
                        Baht::from_satang(amount)
                    ),
                );
                ck.reject(c.row);
                keep[i] = false;
            }
        }
    }

    overdrawn(ck, ctx, &checked, &new_rows, &mut keep);
    // a repayment of a loan of this file that was refused cannot be written either
    let index_of: HashMap<u32, usize> = checked
        .iter()
        .enumerate()
        .map(|(i, c)| (c.row, i))
        .collect();
    for i in 0..checked.len() {
        let Some(k) = &links[i] else { continue };
        if keep[i]
            && let Some(&on) = in_file.get(k)
            && index_of.get(&on).is_some_and(|&j| !keep[j])
        {
            let c = &checked[i];
            ck.depends(
                c.row,
                &ck.col(ff::LOAN_DATE),
                c.loan_date.map(shown),
                (crate::workbook::SheetKind::Funds, on),
            );
            ck.reject(c.row);
            keep[i] = false;
        }
    }
    over_repaid(ck, ctx, &checked, &links, &new_rows, &mut keep);

    out.fund_movements.reserve(new_rows.len());
    for (i, c) in checked.into_iter().enumerate() {
        if keep[i] {
            out.fund_movements.push(Row {
                row: c.row,
                model: c.model,
                link: links[i].take(),
            });
        }
    }
}

fn loan_key(fund_id: i32, house: &str, lent_on: NaiveDate) -> LoanKey {
    LoanKey {
        fund_id,
        house_code: house.to_string(),
        lent_on,
    }
}

/// The stored movement a row's identity finds (for naming it in an error).
fn stored_twin<'a>(c: &Checked, ctx: &'a Context<'_>) -> Option<&'a fund_movement::Model> {
    ctx.stored.fund_movements.get(&c.fund_id)?.iter().find(|m| {
        m.kind == c.kind && m.moved_on == c.date && m.house_code.as_deref() == Some(&c.house)
    })
}

/// A stored movement as the arithmetic sees a new row (id 0: it repays no stored loan).
fn as_movement(c: &Checked) -> fund_movement::Model {
    entity::funds::draft(c.fund_id, c.kind, c.date, c.amount)
}

/// Per fund, the stored movements with the new rows: the first day the balance is below 0
/// is an error on the latest new grant or loan on or before it.
fn overdrawn(
    ck: &mut Checker<'_>,
    ctx: &Context<'_>,
    checked: &[Checked],
    new_rows: &[usize],
    keep: &mut [bool],
) {
    let mut by_fund: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for &i in new_rows {
        if keep[i] {
            by_fund.entry(checked[i].fund_id).or_default().push(i);
        }
    }
    for (fund_id, rows) in by_fund {
        let mut all: Vec<fund_movement::Model> = ctx
            .stored
            .fund_movements
            .get(&fund_id)
            .cloned()
            .unwrap_or_default();
        all.extend(rows.iter().map(|&i| as_movement(&checked[i])));
        let from = rows.iter().map(|&i| checked[i].date).min();
        let Some((day, balance)) = from.and_then(|f| entity::funds::first_overdrawn(&all, f))
        else {
            continue;
        };
        let Some(&blame) = rows
            .iter()
            .filter(|&&i| checked[i].kind.pays_out() && checked[i].date <= day)
            .max_by_key(|&&i| (checked[i].date, checked[i].row))
        else {
            continue;
        };
        let c = &checked[blame];
        let name = ctx.funds.fund(fund_id).map_or("", |(_, n)| n);
        let short = Baht::from_satang(-balance);
        ck.error(
            c.row,
            &ck.col(ff::AMOUNT),
            Some(Baht::from_satang(c.amount).to_string()),
            IssueCode::FundOverdrawn,
            format!(
                "กองทุน \"{name}\" มีเงินไม่พอ: เมื่อรวมรายการให้เปล่าและให้ยืมในแฟ้มนี้ ยอดคงเหลือวันที่ {} ติดลบ {short} บาท ให้บันทึกเงินทุนที่ได้รับก่อน (logbook fund record --kind capital) หรือตรวจจำนวนเงิน",
                shown(day)
            ),
            format!(
                "Fund \"{name}\" does not hold enough: with this file's grants and loans its balance on {} is {short} baht below zero; record the capital it received first (logbook fund record --kind capital) or check the amounts",
                shown(day)
            ),
        );
        ck.reject(c.row);
        keep[blame] = false;
    }
}

/// Per loan, what is owed after its stored repayments: the new ones, in date order, may not
/// take it below 0; the first that does is an error.
fn over_repaid(
    ck: &mut Checker<'_>,
    ctx: &Context<'_>,
    checked: &[Checked],
    links: &[Option<LoanKey>],
    new_rows: &[usize],
    keep: &mut [bool],
) {
    // loan → what is owed before this file's repayments
    let mut owed: HashMap<LoanRef, i64> = HashMap::new();
    for c in checked.iter().filter(|c| c.kind == Kind::Loan) {
        owed.insert(
            LoanRef::File(loan_key(c.fund_id, &c.house, c.date)),
            c.amount,
        );
    }
    let mut stored_owed: HashMap<i32, HashMap<i32, i64>> = HashMap::new();
    let mut repaid: Vec<(LoanRef, usize)> = Vec::new();
    for &i in new_rows {
        let c = &checked[i];
        if !keep[i] || !c.kind.of_loan() {
            continue;
        }
        let loan = match (&c.model.loan_id, &links[i]) {
            (sea_orm::ActiveValue::Set(Some(id)), _) => LoanRef::Stored(*id),
            (_, Some(k)) => LoanRef::File(k.clone()),
            _ => continue,
        };
        if let LoanRef::Stored(id) = &loan
            && !owed.contains_key(&loan)
        {
            // what is owed on every stored loan of the fund, worked out once per fund
            let of_fund = stored_owed.entry(c.fund_id).or_insert_with(|| {
                ctx.stored
                    .fund_movements
                    .get(&c.fund_id)
                    .map(|ms| entity::funds::owed(ms))
                    .unwrap_or_default()
            });
            owed.insert(loan.clone(), of_fund.get(id).copied().unwrap_or(0));
        }
        repaid.push((loan, i));
    }
    repaid.sort_by_key(|(_, i)| (checked[*i].date, checked[*i].row));
    for (loan, i) in repaid {
        let c = &checked[i];
        let left = owed.get(&loan).copied().unwrap_or(0);
        if c.amount > left {
            ck.error(
                c.row,
                &ck.col(ff::AMOUNT),
                Some(Baht::from_satang(c.amount).to_string()),
                IssueCode::OverRepaid,
                format!(
                    "เกินยอดที่ยังค้างชำระ: เงินยืมวันที่ {} ยังค้างอยู่ {} บาท (รวมรายการก่อนหน้าในแฟ้มนี้แล้ว)",
                    c.loan_date.map(shown).unwrap_or_default(),
                    Baht::from_satang(left.max(0))
                ),
                format!(
                    "More than is owed: {} baht is still owed on the loan of {} (after this file's earlier rows)",
                    Baht::from_satang(left.max(0)),
                    c.loan_date.map(shown).unwrap_or_default()
                ),
            );
            ck.reject(c.row);
            keep[i] = false;
            continue;
        }
        owed.insert(loan, left - c.amount);
    }
}

/// A loan a repayment is of: stored, or on this sheet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LoanRef {
    Stored(i32),
    File(LoanKey),
}
