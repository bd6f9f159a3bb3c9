//! Poverty funds: creating them, recording their money (capital, grants and interest-free
//! loans to households, repayments, write-offs), and reading them on a day. Who may keep a
//! fund and what movements a key sees come from [`crate::access`]; the arithmetic from
//! [`entity::funds`].

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{Local, NaiveDate, Utc};
use entity::funds::{self, Position};
use entity::types::{
    AreaCode, AreaLevel, Baht, FundLevel, FundMovementKind as Kind, HouseCode, Raw, ThaiDate,
};
use entity::{area, fund, fund_movement, household, logbook_entry, problem};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use std::collections::HashMap;

/// Most characters of a fund's name.
const MAX_NAME: usize = 200;
/// Most characters of a source or note.
const MAX_TEXT: usize = 500;

// the GraphQL inputs `CreateFundInput` and `FundMovementInput` are these, not mirrors of them
/// A new fund.
#[derive(Debug, Clone, async_graphql::InputObject)]
#[graphql(name = "CreateFundInput")]
pub struct FundInput {
    /// The owning area: a province (2 digits) or a district (4 digits).
    pub area: String,
    /// Name, unique in the area (at most 200 characters).
    pub name: String,
    /// When it was set up (`2022-01-15`, `15/1/2565` …).
    pub established: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// Money in or out of a fund; which fields a kind takes is in `recordFundMovement`.
#[derive(Debug, Clone, async_graphql::InputObject)]
#[graphql(name = "FundMovementInput")]
pub struct MovementInput {
    /// The fund.
    pub fund_id: i32,
    /// What it is.
    pub kind: Kind,
    /// The day the money moved (not after today).
    pub date: String,
    /// Baht, above zero, at most two decimals.
    pub amount: f64,
    /// GRANT, LOAN: the household.
    pub house_code: Option<String>,
    /// GRANT, LOAN: the problem it is for (of that household).
    pub problem_id: Option<i32>,
    /// GRANT, LOAN: the logbook entry it was recorded with.
    pub entry_id: Option<i32>,
    /// REPAYMENT, WRITE_OFF: the loan.
    pub loan_id: Option<i32>,
    /// CAPITAL: where it came from (required); others: the purpose.
    pub source: Option<String>,
    /// LOAN: the term in months (1–120).
    pub term_months: Option<i32>,
    /// LOAN: an instalment every this many months (1 unless given; the term for one payment
    /// at its end).
    pub every_months: Option<i32>,
    /// Note.
    pub note: Option<String>,
}

fn date(field: &str, raw: &str) -> ApiResult<NaiveDate> {
    ThaiDate::parse_str(raw, Local::now().date_naive())
        .map(|d| d.date())
        .map_err(|e| ApiError::bad_input(field, e.message_en()))
}

/// An amount above zero, exact to the satang.
pub(crate) fn positive_amount(field: &str, baht: f64) -> ApiResult<i64> {
    match Baht::parse(&Raw::Number(baht)) {
        Ok(Some(b)) if b.satang() > 0 => Ok(b.satang()),
        _ => Err(ApiError::bad_input(
            field,
            "an amount of baht above zero, at most two decimals",
        )),
    }
}

/// Creates a fund of a province or district `p` may keep. The name is unique in its area.
pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: FundInput,
) -> ApiResult<fund::Model> {
    let area = AreaCode::parse_str(&input.area)
        .map_err(|e| ApiError::bad_input("area", e.message_en()))?;
    let level = match area.level() {
        AreaLevel::Province => FundLevel::Province,
        AreaLevel::District => FundLevel::District,
        _ => {
            return Err(ApiError::bad_input(
                "area",
                "a fund belongs to a province (2 digits) or a district (4 digits)",
            ));
        }
    };
    p.may_manage_fund(area.as_str())?;
    let name = super::free_text("name", Some(&input.name), MAX_NAME)?
        .ok_or_else(|| ApiError::bad_input("name", "must not be empty"))?;
    let established = input
        .established
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| date("established", s))
        .transpose()?;
    let note = super::free_text("note", input.note.as_deref(), MAX_TEXT)?;
    let txn = super::begin_write(db).await?;
    if area::Entity::find_by_id(area.clone())
        .one(&txn)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_input(
            "area",
            format!("no area {} in the area master data", area.as_str()),
        ));
    }
    let taken = fund::Entity::find()
        .filter(fund::Column::AreaCode.eq(area.as_str()))
        .filter(fund::Column::Name.eq(&name))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(ApiError::bad_input(
            "name",
            format!("area {} already has a fund named \"{name}\"", area.as_str()),
        ));
    }
    let province = area.as_str().get(..2).unwrap_or_default().to_string();
    let f = fund::ActiveModel {
        name: Set(name),
        level: Set(level),
        area_code: Set(area.as_str().to_string()),
        province_code: Set(province.clone()),
        established_on: Set(established),
        note: Set(note),
        created_by: Set(p.label()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    super::audit::record(
        &txn,
        p,
        "fund.create",
        Some(&province),
        &format!("fund:{}", f.id),
        serde_json::json!({ "name": f.name, "area": f.area_code }),
    )
    .await?;
    txn.commit().await?;
    Ok(f)
}

/// The funds `p` may see, in one area (a province's and its districts', or a district's)
/// or all; by area, then name.
pub async fn list(
    db: &impl ConnectionTrait,
    p: &Principal,
    area: Option<&str>,
) -> ApiResult<Vec<fund::Model>> {
    let mut q = fund::Entity::find().filter(p.funds());
    if let Some(a) = area {
        let a = AreaCode::parse_str(a).map_err(|e| ApiError::bad_input("area", e.message_en()))?;
        q = q.filter(fund::Column::AreaCode.starts_with(a.as_str()));
    }
    Ok(q.order_by_asc(fund::Column::AreaCode)
        .order_by_asc(fund::Column::Name)
        .all(db)
        .await?)
}

/// One fund `p` may see.
pub async fn get(db: &impl ConnectionTrait, p: &Principal, id: i32) -> ApiResult<fund::Model> {
    fund::Entity::find_by_id(id)
        .filter(p.funds())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("fund {id}")))
}

/// Every movement of some funds (for their figures: sums, not rows, are shown from them).
async fn all_of(
    db: &impl ConnectionTrait,
    fund_ids: &[i32],
) -> ApiResult<Vec<fund_movement::Model>> {
    Ok(fund_movement::Entity::find()
        .filter(fund_movement::Column::FundId.is_in(fund_ids.iter().copied()))
        .order_by_asc(fund_movement::Column::MovedOn)
        .order_by_asc(fund_movement::Column::Id)
        .all(db)
        .await?)
}

/// Every movement (by date) of the funds among `ids` that `p` may see, by fund, each
/// listed: what their figures are summed from (sums, not rows, are shown). One statement
/// however many funds (the `Fund.position` loader).
pub async fn for_figures(
    db: &impl ConnectionTrait,
    p: &Principal,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<fund_movement::Model>>> {
    by_fund(db, ids, p.fund_sums()).await
}

/// The movements `p` may see (capital, and those on households it may see), by date, of the
/// funds among `ids`, by fund, each listed. One statement however many funds (the
/// `Fund.movements` loader).
pub async fn visible_of(
    db: &impl ConnectionTrait,
    p: &Principal,
    ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<fund_movement::Model>>> {
    by_fund(db, ids, p.fund_movements()).await
}

/// The movements of the funds among `ids` that `rule` keeps, by date, by fund (an empty list
/// for a fund with none).
async fn by_fund(
    db: &impl ConnectionTrait,
    ids: &[i32],
    rule: sea_orm::Condition,
) -> ApiResult<HashMap<i32, Vec<fund_movement::Model>>> {
    let rows = fund_movement::Entity::find()
        .filter(fund_movement::Column::FundId.is_in(ids.iter().copied()))
        .filter(rule)
        .order_by_asc(fund_movement::Column::MovedOn)
        .order_by_asc(fund_movement::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<i32, Vec<fund_movement::Model>> =
        ids.iter().map(|id| (*id, Vec::new())).collect();
    for m in rows {
        out.entry(m.fund_id).or_default().push(m);
    }
    Ok(out)
}

/// The figures of a fund `p` may see on `as_of`.
pub async fn position(
    db: &impl ConnectionTrait,
    p: &Principal,
    fund_id: i32,
    as_of: NaiveDate,
) -> ApiResult<Position> {
    let f = get(db, p, fund_id).await?;
    Ok(funds::position(&all_of(db, &[f.id]).await?, as_of))
}

/// The grants, loans, repayments and write-offs of a household `p` may see, by date.
pub async fn of_household(
    db: &impl ConnectionTrait,
    p: &Principal,
    house_code: &str,
) -> ApiResult<Vec<fund_movement::Model>> {
    Ok(fund_movement::Entity::find()
        .filter(fund_movement::Column::HouseCode.eq(house_code))
        .filter(p.fund_movements())
        .order_by_asc(fund_movement::Column::MovedOn)
        .order_by_asc(fund_movement::Column::Id)
        .all(db)
        .await?)
}

/// Where a loan `p` may see stands on `as_of`, with its instalments.
pub async fn loan(
    db: &impl ConnectionTrait,
    p: &Principal,
    loan_id: i32,
    as_of: NaiveDate,
) -> ApiResult<(
    fund_movement::Model,
    funds::LoanState,
    Vec<funds::Instalment>,
)> {
    let l = fund_movement::Entity::find_by_id(loan_id)
        .filter(fund_movement::Column::Kind.eq(Kind::Loan))
        .filter(p.fund_movements())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("loan {loan_id}")))?;
    let of_loan = fund_movement::Entity::find()
        .filter(fund_movement::Column::LoanId.eq(loan_id))
        .all(db)
        .await?;
    let state = funds::loan_state(&l, &of_loan, as_of);
    let schedule = match (l.term_months, l.every_months) {
        (Some(t), Some(e)) => {
            funds::schedule(l.moved_on, l.amount_satang, t, e).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    Ok((l, state, schedule))
}

/// Records a movement in a fund `p` may keep, in one transaction: the fund is locked while
/// its balance is checked, so two grants cannot both spend the same money.
///
/// - capital: a `source`; no household;
/// - grant, loan: a household of the fund's area that `p` may see, optionally the problem
///   and logbook entry it was for (of that household); not more than the fund holds on that
///   day and every later one; a loan's `termMonths` (1–120) and `everyMonths`;
/// - repayment, write-off: a `loanId` of the fund, on or after the loan's day, not more than
///   is still owed.
pub async fn record(
    db: &DatabaseConnection,
    p: &Principal,
    input: MovementInput,
) -> ApiResult<fund_movement::Model> {
    let moved_on = date("date", &input.date)?;
    let amount = positive_amount("amount", input.amount)?;
    let source = super::free_text("source", input.source.as_deref(), MAX_TEXT)?;
    let note = super::free_text("note", input.note.as_deref(), MAX_TEXT)?;
    let kind = input.kind;
    let refuse = |field: &str, given: bool| -> ApiResult<()> {
        if given {
            Err(ApiError::bad_input(
                field,
                format!("a {} takes no {field}", kind.key()),
            ))
        } else {
            Ok(())
        }
    };
    if kind == Kind::Loan {
        let term = input
            .term_months
            .ok_or_else(|| ApiError::bad_input("termMonths", "a loan needs its term in months"))?;
        funds::check_terms(term, input.every_months.unwrap_or(1)).map_err(|e| match e {
            funds::TermsError::Term => ApiError::bad_input("termMonths", e.to_string()),
            funds::TermsError::Every(_) => ApiError::bad_input("everyMonths", e.to_string()),
        })?;
    } else {
        refuse("termMonths", input.term_months.is_some())?;
        refuse("everyMonths", input.every_months.is_some())?;
    }
    if !kind.of_loan() {
        refuse("loanId", input.loan_id.is_some())?;
    }
    // capital has no household; a repayment's is its loan's
    if !kind.pays_out() {
        refuse("houseCode", input.house_code.is_some())?;
        refuse("problemId", input.problem_id.is_some())?;
        refuse("entryId", input.entry_id.is_some())?;
    }
    if kind == Kind::Capital && source.is_none() {
        return Err(ApiError::bad_input(
            "source",
            "say where the capital came from (e.g. งบประมาณจังหวัด, เงินบริจาค)",
        ));
    }
    let house = match (kind.pays_out(), input.house_code.as_deref()) {
        (true, Some(h)) => Some(
            HouseCode::parse_str(h)
                .map_err(|e| ApiError::bad_input("houseCode", e.message_en()))?,
        ),
        (true, None) => {
            return Err(ApiError::bad_input(
                "houseCode",
                format!("a {} goes to a household: give its house code", kind.key()),
            ));
        }
        (false, _) => None,
    };

    let txn = super::begin_write(db).await?;
    let f = entity::db::for_update(
        fund::Entity::find_by_id(input.fund_id).filter(p.funds()),
        txn.get_database_backend(),
    )
    .one(&txn)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("fund {}", input.fund_id)))?;
    p.may_manage_fund(&f.area_code)?;
    let existing = all_of(&txn, &[f.id]).await?;
    let mut house_code = house.as_ref().map(|h| h.as_str().to_string());
    if let Some(h) = &house {
        let found = household::Entity::find_by_id(h.clone())
            .filter(p.households())
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("household {}", h.as_str())))?;
        if !found.district_code.as_str().starts_with(&f.area_code) {
            return Err(ApiError::bad_input(
                "houseCode",
                format!(
                    "household {} is not in the fund's area {}",
                    h.as_str(),
                    f.area_code
                ),
            ));
        }
    }
    if let Some(pid) = input.problem_id {
        let on_house = problem::Entity::find_by_id(pid)
            .filter(p.problems())
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("problem {pid}")))?;
        if Some(on_house.house_code.as_str()) != house_code.as_deref() {
            return Err(ApiError::bad_input(
                "problemId",
                "the problem is of another household",
            ));
        }
    }
    if let Some(eid) = input.entry_id {
        let e = logbook_entry::Entity::find_by_id(eid)
            .filter(p.entries())
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("logbook entry {eid}")))?;
        let of = problem::Entity::find_by_id(e.problem_id).one(&txn).await?;
        if of.map(|pr| pr.house_code.as_str().to_string()) != house_code {
            return Err(ApiError::bad_input(
                "entryId",
                "the logbook entry is of another household",
            ));
        }
        if input.problem_id.is_some_and(|pid| pid != e.problem_id) {
            return Err(ApiError::bad_input(
                "entryId",
                "the logbook entry is on another problem than problemId",
            ));
        }
    }
    if kind.of_loan() {
        let lid = input
            .loan_id
            .ok_or_else(|| ApiError::bad_input("loanId", "give the loan it belongs to"))?;
        let l = existing
            .iter()
            .find(|m| m.id == lid && m.kind == Kind::Loan)
            .ok_or_else(|| ApiError::NotFound(format!("loan {lid} of fund {}", f.id)))?;
        if moved_on < l.moved_on {
            return Err(ApiError::bad_input(
                "date",
                format!(
                    "the loan was made on {}",
                    ThaiDate::from_stored(l.moved_on).to_thai()
                ),
            ));
        }
        let owed = funds::owed(&existing).get(&lid).copied().unwrap_or(0);
        if amount > owed {
            return Err(ApiError::bad_input(
                "amount",
                format!(
                    "{} baht is still owed on loan {lid}",
                    Baht::from_satang(owed.max(0))
                ),
            ));
        }
        house_code = l.house_code.clone();
    }
    let row = fund_movement::ActiveModel {
        fund_id: Set(f.id),
        kind: Set(kind),
        moved_on: Set(moved_on),
        amount_satang: Set(amount),
        house_code: Set(house_code),
        problem_id: Set(input.problem_id),
        entry_id: Set(input.entry_id),
        loan_id: Set(input.loan_id),
        source: Set(source),
        term_months: Set(input.term_months),
        every_months: Set((kind == Kind::Loan).then(|| input.every_months.unwrap_or(1))),
        note: Set(note),
        recorded_by: Set(p.label()),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    if kind.pays_out() {
        let mut with = existing.clone();
        with.push(funds::draft(f.id, kind, moved_on, amount));
        let lowest = funds::lowest_balance_from(&with, moved_on);
        if lowest < 0 {
            return Err(ApiError::bad_input(
                "amount",
                format!(
                    "the fund does not hold {} baht from {} on (it would be short by {} baht): record its capital first",
                    Baht::from_satang(amount),
                    ThaiDate::from_stored(moved_on).to_thai(),
                    Baht::from_satang(-lowest)
                ),
            ));
        }
    }
    let m = row.insert(&txn).await?;
    audit_movement(&txn, p, "fund.movement", &f, &m).await?;
    txn.commit().await?;
    Ok(m)
}

/// Audits a movement recorded or removed.
async fn audit_movement(
    txn: &impl ConnectionTrait,
    p: &Principal,
    action: &str,
    f: &fund::Model,
    m: &fund_movement::Model,
) -> ApiResult<()> {
    super::audit::record(
        txn,
        p,
        action,
        Some(&f.province_code),
        &format!("fund:{}", f.id),
        serde_json::json!({
            "movement": m.id,
            "kind": m.kind.key(),
            "amount": Baht::from_satang(m.amount_satang).to_string(),
            "house": m.house_code,
        }),
    )
    .await
}

/// Removes a movement recorded by mistake (a loan only once its repayments are removed),
/// for a key that may keep the fund. The balance it leaves is checked as a new grant's is.
pub async fn remove(db: &DatabaseConnection, p: &Principal, id: i32) -> ApiResult<()> {
    let txn = super::begin_write(db).await?;
    let m = fund_movement::Entity::find_by_id(id)
        .filter(p.fund_movements())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("fund movement {id}")))?;
    let f = entity::db::for_update(
        fund::Entity::find_by_id(m.fund_id),
        txn.get_database_backend(),
    )
    .one(&txn)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("fund {}", m.fund_id)))?;
    p.may_manage_fund(&f.area_code)?;
    let existing = all_of(&txn, &[f.id]).await?;
    if m.kind == Kind::Loan && existing.iter().any(|o| o.loan_id == Some(m.id)) {
        return Err(ApiError::bad_input(
            "id",
            "the loan has repayments or write-offs: remove those first",
        ));
    }
    if matches!(m.kind, Kind::Capital | Kind::Repayment) {
        let without: Vec<_> = existing.iter().filter(|o| o.id != m.id).cloned().collect();
        let lowest = funds::lowest_balance_from(&without, m.moved_on);
        if lowest < 0 {
            return Err(ApiError::bad_input(
                "id",
                format!(
                    "without it the fund would be short by {} baht: remove the grants or loans it paid for first",
                    Baht::from_satang(-lowest)
                ),
            ));
        }
    }
    fund_movement::Entity::delete_by_id(m.id).exec(&txn).await?;
    audit_movement(&txn, p, "fund.movement.remove", &f, &m).await?;
    txn.commit().await?;
    Ok(())
}

/// One row of the fund report: a fund and its figures on the day.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The fund.
    pub fund: fund::Model,
    /// The district (or province) name.
    pub area_name: String,
    /// Its figures.
    pub position: Position,
}

/// The fund report on `as_of`: every fund `p` may see in `area` (or all), with its
/// figures, provincial funds first then by district.
pub async fn report(
    db: &impl ConnectionTrait,
    p: &Principal,
    area: Option<&str>,
    as_of: NaiveDate,
) -> ApiResult<Vec<ReportRow>> {
    let fs = list(db, p, area).await?;
    let ids: Vec<i32> = fs.iter().map(|f| f.id).collect();
    let mut all = for_figures(db, p, &ids).await?;
    let codes: Vec<AreaCode> = fs
        .iter()
        .filter_map(|f| AreaCode::parse_str(&f.area_code).ok())
        .collect();
    let names: std::collections::HashMap<String, String> = area::Entity::find()
        .filter(area::Column::Code.is_in(codes))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_string(), a.name_th))
        .collect();
    let mut rows: Vec<ReportRow> = fs
        .into_iter()
        .map(|f| {
            let mine = all.remove(&f.id).unwrap_or_default();
            ReportRow {
                area_name: names.get(&f.area_code).cloned().unwrap_or_default(),
                position: funds::position(&mine, as_of),
                fund: f,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            a.fund.level != FundLevel::Province,
            &a.fund.area_code,
            &a.fund.name,
        )
            .cmp(&(
                b.fund.level != FundLevel::Province,
                &b.fund.area_code,
                &b.fund.name,
            ))
    });
    Ok(rows)
}

/// The fund report as a workbook, in Thai: a sheet per fund and a sheet per district (the
/// provincial fund on its own line), figures in baht on `as_of`, with totals.
pub fn report_workbook(
    rows: &[ReportRow],
    as_of: NaiveDate,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use super::reports::{Formats, day_th};
    let f = Formats::new();
    let mut wb = rust_xlsxwriter::Workbook::new();
    const FIGURES: [&str; 11] = [
        "เงินทุน (บาท)",
        "ให้เปล่า (ครั้ง)",
        "ให้เปล่า (บาท)",
        "ให้ยืม (ราย)",
        "ให้ยืม (บาท)",
        "ชำระคืน (บาท)",
        "ตัดหนี้สูญ (บาท)",
        "ลูกหนี้คงค้าง (บาท)",
        "ค้างชำระ (บาท)",
        "ราย ค้างชำระ",
        "คงเหลือ (บาท)",
    ];
    // (value, is money) in FIGURES' order
    let figures = |p: &Position| -> [(f64, bool); 11] {
        let b = |s: i64| s as f64 / 100.0;
        [
            (b(p.capital), true),
            (p.grants as f64, false),
            (b(p.granted), true),
            (p.loans as f64, false),
            (b(p.lent), true),
            (b(p.repaid), true),
            (b(p.written_off), true),
            (b(p.outstanding), true),
            (b(p.arrears), true),
            (p.loans_in_arrears as f64, false),
            (b(p.balance), true),
        ]
    };
    let write_figures = |ws: &mut rust_xlsxwriter::Worksheet,
                         row: u32,
                         col: u16,
                         p: &Position,
                         bold: bool|
     -> Result<(), rust_xlsxwriter::XlsxError> {
        for (i, (v, is_money)) in figures(p).into_iter().enumerate() {
            let fmt = match (is_money, bold) {
                (true, false) => &f.money,
                (true, true) => &f.money_total,
                (false, false) => &f.cell,
                (false, true) => &f.total,
            };
            ws.write_number_with_format(row, col + i as u16, v, fmt)?;
        }
        Ok(())
    };

    let ws = wb.add_worksheet();
    ws.set_name("กองทุน")?;
    ws.write_string_with_format(
        0,
        0,
        format!("รายงานกองทุนแก้ไขปัญหาความยากจน ณ วันที่ {}", day_th(as_of)),
        &f.title,
    )?;
    let heads = ["ระดับ", "รหัสพื้นที่", "พื้นที่", "กองทุน"];
    for (c, h) in heads.iter().chain(FIGURES.iter()).enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &f.head)?;
    }
    let mut total = Position::default();
    let mut row = 3u32;
    for r in rows {
        ws.write_string_with_format(row, 0, r.fund.level.name_th(), &f.cell)?;
        ws.write_string_with_format(row, 1, &r.fund.area_code, &f.cell)?;
        ws.write_string_with_format(row, 2, &r.area_name, &f.cell)?;
        ws.write_string_with_format(row, 3, &r.fund.name, &f.cell)?;
        write_figures(ws, row, 4, &r.position, false)?;
        total += r.position;
        row += 1;
    }
    ws.write_string_with_format(row, 0, format!("รวม {} กองทุน", rows.len()), &f.total)?;
    for c in 1..4 {
        ws.write_string_with_format(row, c, "", &f.total)?;
    }
    write_figures(ws, row, 4, &total, true)?;
    ws.set_column_width(2, 18)?;
    ws.set_column_width(3, 36)?;
    for c in 4..15 {
        ws.set_column_width(c, 14)?;
    }
    ws.set_row_height(2, 36)?;
    ws.set_freeze_panes(3, 4)?;

    let ws = wb.add_worksheet();
    ws.set_name("รายอำเภอ")?;
    ws.write_string_with_format(
        0,
        0,
        format!("กองทุนรายอำเภอ ณ วันที่ {}", day_th(as_of)),
        &f.title,
    )?;
    for (c, h) in ["รหัสพื้นที่", "พื้นที่", "กองทุน (แห่ง)"]
        .iter()
        .chain(FIGURES.iter())
        .enumerate()
    {
        ws.write_string_with_format(2, c as u16, *h, &f.head)?;
    }
    let mut per_area: std::collections::BTreeMap<(bool, &str), (&str, u32, Position)> =
        Default::default();
    for r in rows {
        let e = per_area
            .entry((
                r.fund.level != FundLevel::Province,
                r.fund.area_code.as_str(),
            ))
            .or_insert((r.area_name.as_str(), 0, Position::default()));
        e.1 += 1;
        e.2 += r.position;
    }
    let mut row = 3u32;
    for ((_, code), (name, n, pos)) in &per_area {
        ws.write_string_with_format(row, 0, *code, &f.cell)?;
        ws.write_string_with_format(row, 1, *name, &f.cell)?;
        ws.write_number_with_format(row, 2, f64::from(*n), &f.cell)?;
        write_figures(ws, row, 3, pos, false)?;
        row += 1;
    }
    ws.write_string_with_format(row, 0, "รวม", &f.total)?;
    ws.write_string_with_format(row, 1, "", &f.total)?;
    ws.write_number_with_format(row, 2, rows.len() as f64, &f.total)?;
    write_figures(ws, row, 3, &total, true)?;
    ws.set_column_width(1, 18)?;
    for c in 2..14 {
        ws.set_column_width(c, 14)?;
    }
    ws.set_row_height(2, 36)?;
    ws.set_freeze_panes(3, 2)?;
    wb.save_to_buffer()
}
