//! Follow-up: what drives the field work. A household may be marked urgent (a critical
//! target) or closed (it left the open work, its history kept) by its district or an admin;
//! a problem is overdue when its planned next visit has passed, or when it has not been
//! started long after it was recorded; the worklist puts the open problems a key may see in
//! the order they should be worked: urgent first, then the longest overdue, then those not
//! started.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDate;
use entity::types::{ClosureReason, HouseCode, ProblemStatus, ThaiDate};
use entity::{household, household_follow_up, problem};
use sea_orm::sea_query::{Expr, JoinType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait, RelationDef, Set,
};
use serde_json::json;

/// Longest urgency reason or closure note.
pub const MAX_NOTE: usize = 500;

/// When a problem is overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueRule {
    /// Today.
    pub today: NaiveDate,
    /// Days a problem may stay `not_started` after it was recorded (`--overdue-days`).
    pub days: u32,
}

impl Default for OverdueRule {
    fn default() -> Self {
        Self {
            today: chrono::Local::now().date_naive(),
            days: 30,
        }
    }
}

impl OverdueRule {
    /// The day a problem is due, as SQL over `problems` (its next visit when it is followed
    /// up, `days` after it was recorded when not started; none otherwise).
    pub fn due_sql(&self, backend: DbBackend) -> String {
        let plus = entity::db::date_plus_days(backend, r#""problems"."created_at""#, self.days);
        format!(
            r#"(CASE WHEN "problems"."status" IN ('awaiting_follow_up', 'following_up') THEN "problems"."next_visit_on" WHEN "problems"."status" = 'not_started' THEN {plus} END)"#
        )
    }

    /// Whether a problem is overdue, as SQL over `problems` (`today` inlined: a date this
    /// type made, not input).
    pub fn overdue_sql(&self, backend: DbBackend) -> String {
        format!(
            "({} < {})",
            self.due_sql(backend),
            entity::db::date_literal(backend, self.today)
        )
    }

    /// The day a problem of this status, next visit and creation is due.
    pub fn due(&self, p: &problem::Model) -> Option<NaiveDate> {
        self.due_of(p.status, p.next_visit_on, p.created_at)
    }

    /// The day a problem is due from its status, its next visit and when it was recorded
    /// (the rule [`Self::due_sql`] writes in SQL, which the monthly report applies as of a
    /// day over the statuses of that day).
    pub fn due_of(
        &self,
        status: ProblemStatus,
        next_visit_on: Option<NaiveDate>,
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<NaiveDate> {
        match status {
            ProblemStatus::AwaitingFollowUp | ProblemStatus::FollowingUp => next_visit_on,
            ProblemStatus::NotStarted => {
                created_at.map(|t| t.date_naive() + chrono::Days::new(u64::from(self.days)))
            }
            _ => None,
        }
    }
}

fn house(code: &str) -> ApiResult<HouseCode> {
    HouseCode::parse_str(code).map_err(|e| ApiError::bad_input("houseCode", e.message_en()))
}

fn note(field: &str, s: Option<&str>) -> ApiResult<Option<String>> {
    super::free_text(field, s, MAX_NOTE)
}

/// The household, if `p` may keep its follow-up: districts and admins, in their area.
async fn kept(
    db: &impl ConnectionTrait,
    p: &Principal,
    code: &HouseCode,
) -> ApiResult<household::Model> {
    p.may_follow_up()?;
    household::Entity::find_by_id(code.clone())
        .filter(p.households())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("household {code}")))
}

/// A household's follow-up state (none: neither urgent nor closed).
pub async fn of(
    db: &impl ConnectionTrait,
    code: &str,
) -> ApiResult<Option<household_follow_up::Model>> {
    Ok(household_follow_up::Entity::find_by_id(code.to_string())
        .one(db)
        .await?)
}

/// Writes a household's follow-up state in `db`'s transaction: the row, the household's
/// place in the change feed (its record changed), and the audit event.
async fn write(
    tx: &impl ConnectionTrait,
    p: &Principal,
    h: &household::Model,
    change: impl FnOnce(&mut household_follow_up::ActiveModel),
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<household_follow_up::Model> {
    let stamp = entity::db::stamp(tx).await?;
    let existing = household_follow_up::Entity::find_by_id(h.house_code.to_string())
        .one(tx)
        .await?;
    let is_new = existing.is_none();
    let mut m: household_follow_up::ActiveModel = match existing {
        Some(f) => f.into(),
        None => household_follow_up::ActiveModel {
            house_code: Set(h.house_code.to_string()),
            urgent: Set(false),
            urgent_reason: Set(None),
            closed_reason: Set(None),
            closed_on: Set(None),
            closed_note: Set(None),
            merged_into: Set(None),
            updated_by: Set(p.label()),
            updated_at: Set(stamp.at),
        },
    };
    change(&mut m);
    m.updated_by = Set(p.label());
    m.updated_at = Set(stamp.at);
    let saved = if is_new {
        m.insert(tx).await?
    } else {
        m.update(tx).await?
    };
    household::Entity::update_many()
        .col_expr(household::Column::ChangeSeq, Expr::value(stamp.seq))
        .col_expr(household::Column::UpdatedAt, Expr::value(stamp.at))
        .filter(household::Column::HouseCode.eq(h.house_code.as_str()))
        .exec(tx)
        .await?;
    super::audit::record(
        tx,
        p,
        action,
        Some(h.province_code.as_str()),
        h.house_code.as_str(),
        detail,
    )
    .await?;
    Ok(saved)
}

/// Marks a household urgent (with a reason) or not.
pub async fn set_urgent(
    db: &DatabaseConnection,
    p: &Principal,
    code: &str,
    urgent: bool,
    reason: Option<&str>,
) -> ApiResult<household_follow_up::Model> {
    let code = house(code)?;
    let reason = note("reason", reason)?;
    if urgent && reason.is_none() {
        return Err(ApiError::bad_input(
            "reason",
            "say why the household is urgent (it is shown on the worklist)",
        ));
    }
    let tx = super::begin_write(db).await?;
    let h = kept(&tx, p, &code).await?;
    let counted = super::stats::Counted::before(&tx, &[code.as_str().to_string()]).await?;
    let r = reason.clone();
    let saved = write(
        &tx,
        p,
        &h,
        |m| {
            m.urgent = Set(urgent);
            m.urgent_reason = Set(if urgent { r } else { None });
        },
        "household.urgent",
        json!({"urgent": urgent, "reason": reason}),
    )
    .await?;
    counted.commit(tx).await?;
    Ok(saved)
}

/// What closing a household says.
#[derive(Debug, Clone)]
pub struct Closure {
    /// Why.
    pub reason: ClosureReason,
    /// When (`2026-11-30`, `30/11/2569` …), not after today.
    pub on: String,
    /// A note (required for `other`).
    pub note: Option<String>,
    /// The household it was merged into (required for `merged_into`).
    pub merged_into: Option<String>,
}

/// Closes a household: it leaves the open work (the worklist) and is counted apart; its
/// records and history stay.
pub async fn close(
    db: &DatabaseConnection,
    p: &Principal,
    code: &str,
    c: Closure,
    today: NaiveDate,
) -> ApiResult<household_follow_up::Model> {
    let code = house(code)?;
    let on = ThaiDate::parse_str(&c.on, today)
        .map_err(|e| ApiError::bad_input("on", e.message_en()))?
        .date();
    let text = note("note", c.note.as_deref())?;
    if c.reason == ClosureReason::Other && text.is_none() {
        return Err(ApiError::bad_input(
            "note",
            "say why the household is closed (reason OTHER)",
        ));
    }
    let merged = match (c.reason, c.merged_into.as_deref()) {
        (ClosureReason::MergedInto, Some(m)) => {
            let m = HouseCode::parse_str(m)
                .map_err(|e| ApiError::bad_input("mergedInto", e.message_en()))?;
            if m == code {
                return Err(ApiError::bad_input(
                    "mergedInto",
                    "a household is not merged into itself",
                ));
            }
            Some(m)
        }
        (ClosureReason::MergedInto, None) => {
            return Err(ApiError::bad_input(
                "mergedInto",
                "name the house code it was merged into",
            ));
        }
        (_, _) => None,
    };
    let tx = super::begin_write(db).await?;
    let h = kept(&tx, p, &code).await?;
    let counted = super::stats::Counted::before(&tx, &[code.as_str().to_string()]).await?;
    if let Some(m) = &merged
        && household::Entity::find_by_id(m.clone())
            .filter(p.households())
            .one(&tx)
            .await?
            .is_none()
    {
        return Err(ApiError::bad_input(
            "mergedInto",
            format!("no household {m} in this key's area"),
        ));
    }
    if let Some(f) = of(&tx, code.as_str()).await?
        && let (Some(r), Some(d)) = (f.closed_reason, f.closed_on)
    {
        return Err(ApiError::bad_input(
            "houseCode",
            format!("household {code} is already closed ({r}, {d}); reopen it first"),
        ));
    }
    let merged_text = merged.map(|m| m.to_string());
    let detail = json!({"reason": c.reason.key(), "on": on.to_string(), "note": text, "mergedInto": merged_text});
    let saved = write(
        &tx,
        p,
        &h,
        |m| {
            m.closed_reason = Set(Some(c.reason));
            m.closed_on = Set(Some(on));
            m.closed_note = Set(text);
            m.merged_into = Set(merged_text);
        },
        "household.close",
        detail,
    )
    .await?;
    counted.commit(tx).await?;
    Ok(saved)
}

/// Reopens a closed household: it is open work again.
pub async fn reopen(
    db: &DatabaseConnection,
    p: &Principal,
    code: &str,
) -> ApiResult<household_follow_up::Model> {
    let code = house(code)?;
    let tx = super::begin_write(db).await?;
    let h = kept(&tx, p, &code).await?;
    let counted = super::stats::Counted::before(&tx, &[code.as_str().to_string()]).await?;
    if of(&tx, code.as_str())
        .await?
        .is_none_or(|f| f.closed_reason.is_none())
    {
        return Err(ApiError::bad_input(
            "houseCode",
            format!("household {code} is not closed"),
        ));
    }
    let saved = write(
        &tx,
        p,
        &h,
        |m| {
            m.closed_reason = Set(None);
            m.closed_on = Set(None);
            m.closed_note = Set(None);
            m.merged_into = Set(None);
        },
        "household.reopen",
        json!({}),
    )
    .await?;
    counted.commit(tx).await?;
    Ok(saved)
}

/// One problem on the worklist.
#[derive(Debug, Clone)]
pub struct Work {
    /// The problem.
    pub problem: problem::Model,
    /// Its household is urgent.
    pub urgent: bool,
    /// Why.
    pub urgent_reason: Option<String>,
    /// When it is (or was) due.
    pub due_on: Option<NaiveDate>,
}

/// The follow-up columns read beside a problem.
#[derive(Debug, FromQueryResult)]
struct Beside {
    f_urgent: Option<bool>,
    f_reason: Option<String>,
}

fn follow_ups() -> RelationDef {
    problem::Entity::belongs_to(household_follow_up::Entity)
        .from(problem::Column::HouseCode)
        .to(household_follow_up::Column::HouseCode)
        .into()
}

/// The problems of closed households, as a condition to exclude them.
pub fn of_closed() -> Condition {
    Condition::all().add(
        problem::Column::HouseCode.in_subquery(
            Query::select()
                .column(household_follow_up::Column::HouseCode)
                .from(household_follow_up::Entity)
                .and_where(household_follow_up::Column::ClosedReason.is_not_null())
                .to_owned(),
        ),
    )
}

/// A page of the worklist of `p`: its open problems (not solved, household not closed)
/// matching `filter` (and, when given, overdue or not, urgent or not), urgent first, then
/// the longest overdue, then not started, then by id; from `offset`, at most `first`; and
/// whether more follow.
#[allow(clippy::too_many_arguments)]
pub async fn worklist(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    overdue: Option<bool>,
    urgent: Option<bool>,
    rule: OverdueRule,
    offset: u64,
    first: u64,
) -> ApiResult<(Vec<Work>, bool)> {
    let backend = db.get_database_backend();
    let overdue_sql = rule.overdue_sql(backend);
    let urgent_sql = r#"COALESCE("household_follow_ups"."urgent", FALSE)"#;
    let mut q = problem::Entity::find()
        .join(JoinType::LeftJoin, follow_ups())
        .filter(p.problems())
        .filter(filter)
        .filter(problem::Column::Status.ne(ProblemStatus::Solved))
        // not `closed_reason IS NULL` on the joined row: PostgreSQL gives that 0.5 %
        // selectivity (23 rows expected of 4,695 for a health agency) and then checks the
        // province row by row; as NOT IN it expects the right count (22.8 against 28.5 ms)
        .filter(of_closed().not())
        .column_as(
            Expr::col((
                household_follow_up::Entity,
                household_follow_up::Column::Urgent,
            )),
            "f_urgent",
        )
        .column_as(
            Expr::col((
                household_follow_up::Entity,
                household_follow_up::Column::UrgentReason,
            )),
            "f_reason",
        );
    if let Some(o) = overdue {
        let c = Expr::cust(overdue_sql.clone());
        q = q.filter(if o {
            Condition::all().add(c)
        } else {
            Condition::all().add(Expr::cust(format!("NOT COALESCE({overdue_sql}, FALSE)")))
        });
    }
    if let Some(u) = urgent {
        q = q.filter(Expr::cust(format!(
            "{urgent_sql} = {}",
            if u { "TRUE" } else { "FALSE" }
        )));
    }
    let mut stmt = q.into_query();
    stmt.order_by_expr(
        Expr::cust(format!("CASE WHEN {urgent_sql} THEN 0 ELSE 1 END")),
        sea_orm::Order::Asc,
    )
    // the overdue by due day, the rest after them (one key: an overdue flag before the day
    // computed the due day three times a row: 10–12 % of the statement on PostgreSQL)
    .order_by_expr_with_nulls(
        Expr::cust(format!(
            "CASE WHEN {overdue_sql} THEN {} END",
            rule.due_sql(backend)
        )),
        sea_orm::Order::Asc,
        sea_orm::sea_query::NullOrdering::Last,
    )
    .order_by_expr(
        Expr::cust(r#"CASE WHEN "problems"."status" = 'not_started' THEN 0 ELSE 1 END"#),
        sea_orm::Order::Asc,
    )
    .order_by((problem::Entity, problem::Column::Id), sea_orm::Order::Asc)
    .limit(first + 1)
    .offset(offset);
    let built = backend.build(&stmt);
    let rows = db.query_all_raw(built).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let m = problem::Model::from_query_result(r, "")?;
        let b = Beside::from_query_result(r, "")?;
        out.push(Work {
            due_on: rule.due(&m),
            problem: m,
            urgent: b.f_urgent.unwrap_or(false),
            urgent_reason: b.f_reason,
        });
    }
    let more = out.len() as u64 > first;
    out.truncate(first as usize);
    Ok((out, more))
}
