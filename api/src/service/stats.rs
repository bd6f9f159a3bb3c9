//! The one stats engine. Grouped counts over the problems a principal may see: problems,
//! households with at least one of them, people in those households, households whose
//! counted problems are all solved, and logbook entries on them — grouped by the database,
//! two queries per call; and the summary figures of an area built on them. Beside it, the
//! cells kept ahead (`stats_cells`): counted for the villages writes mark, in the writers'
//! own transactions, and read instead of the whole tables when they can answer.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::follow_up::OverdueRule;
use chrono::NaiveDate;
use entity::summary::Summary;
use entity::types::{AreaCode, Classification, Dimension, ProblemStatus, VillageCode};
use entity::{
    analysis, household, household_follow_up, indicator, logbook_entry, member, plan, problem,
    stats_cell, stats_dirty,
};
use futures::TryStreamExt;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Iterable, PaginatorTrait,
    QueryFilter, StreamTrait,
};
use std::collections::BTreeMap;
use std::str::FromStr;

// the GraphQL enum `StatsKey` is this one, not a mirror of it
/// What `stats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
#[graphql(name = "StatsKey")]
pub enum Key {
    /// The household's province.
    Province,
    /// The household's district.
    District,
    /// The household's subdistrict.
    Subdistrict,
    /// The household's village.
    Village,
    /// The problem's dimension.
    Dimension,
    /// The problem's indicator.
    Indicator,
    /// The problem's status.
    Status,
    /// The household's classification.
    Classification,
    /// The problem's cohort.
    Cohort,
}

/// One group's values (in the order of the keys asked) and measures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Key → value (`None` where the value is empty, e.g. no classification).
    pub keys: BTreeMap<Key, Option<String>>,
    /// Problems counted.
    pub problems: u64,
    /// Households with at least one of them.
    pub households: u64,
    /// Members of those households.
    pub people: u64,
    /// Those households whose counted problems are all solved.
    pub solved_households: u64,
    /// Logbook entries on those problems.
    pub logbook_entries: u64,
    /// Those problems overdue (of households not closed).
    pub overdue_problems: u64,
    /// Those households that are closed.
    pub closed_households: u64,
    /// Those households that are urgent.
    pub urgent_households: u64,
    /// Logbook entries on those problems not yet verified by the district (recorded or
    /// returned).
    pub unverified_entries: u64,
    /// Agencies' plans on those problems.
    pub planned: u64,
    /// Those plans done: the agency recorded help on the problem on or after the day the
    /// plan was made.
    pub planned_done: u64,
}

/// The key as a text expression (so every key reads back the same way).
fn key_expr(k: Key) -> Expr {
    match k {
        Key::Province => Expr::col((household::Entity, household::Column::ProvinceCode)),
        Key::District => Expr::col((household::Entity, household::Column::DistrictCode)),
        Key::Subdistrict => Expr::col((household::Entity, household::Column::SubdistrictCode)),
        Key::Village => Expr::col((household::Entity, household::Column::VillageCode)),
        Key::Dimension => Expr::col((indicator::Entity, indicator::Column::Dimension)),
        Key::Indicator => Expr::cust(r#"CAST("problems"."indicator_code" AS TEXT)"#),
        Key::Status => Expr::col((problem::Entity, problem::Column::Status)),
        Key::Classification => Expr::col((household::Entity, household::Column::Classification)),
        Key::Cohort => Expr::cust(r#"CAST("problems"."cohort_id" AS TEXT)"#),
    }
}

/// The sum of a column over a group, 0 when it has none, as a 64-bit integer.
fn total(column: &str) -> Expr {
    Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

fn g(i: usize) -> Alias {
    Alias::new(format!("g{i}"))
}

/// Each problem's logbook entries on or before `day`, ranked from the latest (`rn` 1: by
/// date, then the order written): problem, status, next visit.
fn ranked_entries(day: NaiveDate) -> SelectStatement {
    Query::select()
        .columns([
            logbook_entry::Column::ProblemId,
            logbook_entry::Column::Status,
            logbook_entry::Column::NextVisitOn,
        ])
        .expr_as(
            Expr::cust(
                r#"ROW_NUMBER() OVER (PARTITION BY "problem_id" ORDER BY "entry_date" DESC, "written_seq" DESC, "id" DESC)"#,
            ),
            Alias::new("rn"),
        )
        .from(logbook_entry::Entity)
        .and_where(logbook_entry::Column::EntryDate.lte(day))
        .to_owned()
}

/// The problems solved at the end of `day` (their latest entry by then says so), as a
/// condition on `problems` — for a figure of problems solved between two days.
pub(crate) fn solved_at(day: NaiveDate) -> Condition {
    let w = Alias::new("w");
    let ids = Query::select()
        .column((w.clone(), logbook_entry::Column::ProblemId))
        .from_subquery(ranked_entries(day), w)
        .and_where(Expr::cust(r#""w"."rn" = 1"#))
        .and_where(Expr::cust(r#""w"."status" = 'solved'"#))
        .to_owned();
    Condition::all().add(Expr::col((problem::Entity, problem::Column::Id)).in_subquery(ids))
}

/// `problems` as they stood at the end of `day`: every stored problem, its status and next
/// visit those of its latest logbook entry on or before the day (by date, then the order
/// written), or not started. Aliased `problems`, so every condition and expression over the
/// table reads the day's values. The latest entries come from one ranked pass over the
/// entries (a window function both databases have), not a lookup per problem: on PostgreSQL
/// a correlated lookup per problem made the as-of statement 10.7× the present one.
fn problems_as_of(day: NaiveDate) -> SelectStatement {
    let (w, l) = (Alias::new("w"), Alias::new("l"));
    let ranked = ranked_entries(day);
    let latest = Query::select()
        .columns([
            (w.clone(), logbook_entry::Column::ProblemId),
            (w.clone(), logbook_entry::Column::Status),
            (w.clone(), logbook_entry::Column::NextVisitOn),
        ])
        .from_subquery(ranked, w.clone())
        .and_where(Expr::col((w, Alias::new("rn"))).eq(1))
        .to_owned();
    let mut q = Query::select();
    for c in problem::Column::iter()
        .filter(|c| !matches!(c, problem::Column::Status | problem::Column::NextVisitOn))
    {
        q.column((problem::Entity, c));
    }
    q.expr_as(
        Expr::cust(r#"COALESCE("l"."status", 'not_started')"#),
        problem::Column::Status,
    )
    .expr_as(
        Expr::col((l.clone(), logbook_entry::Column::NextVisitOn)),
        problem::Column::NextVisitOn,
    )
    .from(problem::Entity)
    .join_subquery(
        JoinType::LeftJoin,
        latest,
        l.clone(),
        Expr::col((l, logbook_entry::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    )
    .to_owned()
}

/// `household_follow_ups` as they stood at the end of `day`: a household closed after it is
/// open (urgency keeps no history: as it stands now).
fn follow_ups_as_of(backend: DbBackend, day: NaiveDate) -> SelectStatement {
    use household_follow_up::Column as F;
    let d = entity::db::date_literal(backend, day);
    let mut q = Query::select();
    for c in F::iter().filter(|c| !matches!(c, F::ClosedReason | F::ClosedOn)) {
        q.column(c);
    }
    q.expr_as(
        Expr::cust(format!(
            r#"CASE WHEN "closed_on" <= {d} THEN "closed_reason" END"#
        )),
        F::ClosedReason,
    )
    .expr_as(
        Expr::cust(format!(
            r#"CASE WHEN "closed_on" <= {d} THEN "closed_on" END"#
        )),
        F::ClosedOn,
    )
    .from(household_follow_up::Entity)
    .to_owned()
}

/// Visible problems joined to their household and indicator, filtered; as they stood at the
/// end of a day when one is given.
fn base(condition: &Condition, as_of: Option<(DbBackend, NaiveDate)>) -> SelectStatement {
    let mut q = Query::select();
    match as_of {
        Some((b, day)) => q
            .from_subquery(problems_as_of(day), problem::Entity)
            .join_subquery(
                JoinType::LeftJoin,
                follow_ups_as_of(b, day),
                household_follow_up::Entity,
                Expr::col((
                    household_follow_up::Entity,
                    household_follow_up::Column::HouseCode,
                ))
                .equals((problem::Entity, problem::Column::HouseCode)),
            ),
        None => q.from(problem::Entity).join(
            JoinType::LeftJoin,
            household_follow_up::Entity,
            Expr::col((
                household_follow_up::Entity,
                household_follow_up::Column::HouseCode,
            ))
            .equals((problem::Entity, problem::Column::HouseCode)),
        ),
    };
    q.inner_join(
        household::Entity,
        Expr::col((household::Entity, household::Column::HouseCode))
            .equals((problem::Entity, problem::Column::HouseCode)),
    )
    .inner_join(
        indicator::Entity,
        Expr::col((indicator::Entity, indicator::Column::Code))
            .equals((problem::Entity, problem::Column::IndicatorCode)),
    )
    .cond_where(condition.clone())
    .to_owned()
}

/// The ids of the problems of `houses` (a subquery of house codes).
fn problems_of(houses: &SelectStatement) -> SelectStatement {
    Query::select()
        .column(problem::Column::Id)
        .from(problem::Entity)
        .and_where(problem::Column::HouseCode.in_subquery(houses.clone()))
        .to_owned()
}

/// Logbook entries per problem (`n`) and those not verified (`u`), up to the day when one is
/// given, of the problems of `houses` only when given.
fn entries_per_problem(
    as_of: Option<(DbBackend, NaiveDate)>,
    houses: Option<&SelectStatement>,
) -> SelectStatement {
    let mut q = Query::select()
        .column(logbook_entry::Column::ProblemId)
        .expr_as(
            Func::count(Expr::col(logbook_entry::Column::Id)),
            Alias::new("n"),
        )
        .expr_as(
            Expr::cust(r#"SUM(CASE WHEN "verification" <> 'verified' THEN 1 ELSE 0 END)"#),
            Alias::new("u"),
        )
        .from(logbook_entry::Entity)
        .group_by_col(logbook_entry::Column::ProblemId)
        .to_owned();
    if let Some(h) = houses {
        q.and_where(logbook_entry::Column::ProblemId.in_subquery(problems_of(h)));
    }
    if let Some((_, day)) = as_of {
        q.and_where(logbook_entry::Column::EntryDate.lte(day));
    }
    q
}

/// Plans per problem (`n`), and those done (`d`): the agency recorded help on the problem on
/// or after the day the plan was made (both by the day, as of one); of the problems of
/// `houses` only when given; per problem and agency (`agency_id`) when `by_agency`.
fn plans_per_problem(
    as_of: Option<(DbBackend, NaiveDate)>,
    houses: Option<&SelectStatement>,
    by_agency: bool,
) -> SelectStatement {
    let until = match as_of {
        Some((b, day)) => format!(
            r#" AND "le"."entry_date" <= {}"#,
            entity::db::date_literal(b, day)
        ),
        None => String::new(),
    };
    let mut q = Query::select()
        .column(plan::Column::ProblemId)
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .expr_as(
            Expr::cust(format!(
                r#"SUM(CASE WHEN EXISTS (SELECT 1 FROM "logbook_entries" "le" WHERE "le"."problem_id" = "plans"."problem_id" AND "le"."agency_id" = "plans"."agency_id" AND "le"."entry_date" >= "plans"."made_on"{until}) THEN 1 ELSE 0 END)"#
            )),
            Alias::new("d"),
        )
        .from(plan::Entity)
        .group_by_col(plan::Column::ProblemId)
        .to_owned();
    if let Some((_, day)) = as_of {
        q.and_where(plan::Column::MadeOn.lte(day));
    }
    if let Some(h) = houses {
        q.and_where(plan::Column::ProblemId.in_subquery(problems_of(h)));
    }
    if by_agency {
        q.column(plan::Column::AgencyId)
            .group_by_col(plan::Column::AgencyId);
    }
    q
}

/// Members per household (`n`), of `houses` only when given.
fn people_per_house(houses: Option<&SelectStatement>) -> SelectStatement {
    let mut q = Query::select()
        .column(member::Column::HouseCode)
        .expr_as(
            Func::count(Expr::col(member::Column::CitizenId)),
            Alias::new("n"),
        )
        .from(member::Entity)
        .group_by_col(member::Column::HouseCode)
        .to_owned();
    if let Some(h) = houses {
        q.and_where(member::Column::HouseCode.in_subquery(h.clone()));
    }
    q
}

fn read_keys(r: &sea_orm::QueryResult, n: usize) -> Result<Vec<Option<String>>, sea_orm::DbErr> {
    (0..n)
        .map(|i| r.try_get_by_index::<Option<String>>(i))
        .collect()
}

/// Grouped counts over the problems `p` may see that match `filter`, aggregated by the
/// database: problems and entries per group, then households, solved households and people
/// from a per-household grouping.
pub async fn grouped(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    group_by: &[Key],
    rule: OverdueRule,
) -> ApiResult<Vec<Row>> {
    grouped_as_of(db, p, filter, group_by, rule, None).await
}

/// [`grouped`] as things stood at the end of `as_of` (now when none): every stored problem
/// with the status of its latest logbook entry on or before the day, the entries up to the
/// day, households closed by the day, and problems overdue on it (`rule.today` is the day).
/// Urgency keeps no history: it is counted as it stands.
pub async fn grouped_as_of(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    group_by: &[Key],
    rule: OverdueRule,
    as_of: Option<NaiveDate>,
) -> ApiResult<Vec<Row>> {
    let backend = db.get_database_backend();
    let rule = match as_of {
        Some(day) => OverdueRule { today: day, ..rule },
        None => rule,
    };
    let as_of = as_of.map(|d| (backend, d));
    let overdue = rule.overdue_sql(backend);
    let condition = Condition::all().add(p.problems()).add(filter);
    let n = group_by.len();

    let per_problem = entries_per_problem(as_of, None);
    let per_plan = plans_per_problem(as_of, None, false);
    let mut a = base(&condition, as_of);
    for (i, k) in group_by.iter().enumerate() {
        a.expr_as(key_expr(*k), g(i)).add_group_by([key_expr(*k)]);
    }
    a.expr_as(Expr::cust("COUNT(*)"), Alias::new("problems"))
        .expr_as(
            total(r#""e"."n""#),
            Alias::new("entries"),
        )
        .expr_as(
            Expr::cust(format!(
                r#"CAST(COALESCE(SUM(CASE WHEN {overdue} AND "household_follow_ups"."closed_reason" IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT)"#
            )),
            Alias::new("overdue"),
        )
        .expr_as(
            total(r#""e"."u""#),
            Alias::new("unverified"),
        )
        .expr_as(
            total(r#""pl"."n""#),
            Alias::new("planned"),
        )
        .expr_as(
            total(r#""pl"."d""#),
            Alias::new("planned_done"),
        )
        .join_subquery(
            JoinType::LeftJoin,
            per_problem,
            Alias::new("e"),
            Expr::col((Alias::new("e"), logbook_entry::Column::ProblemId))
                .equals((problem::Entity, problem::Column::Id)),
        )
        .join_subquery(
            JoinType::LeftJoin,
            per_plan,
            Alias::new("pl"),
            Expr::col((Alias::new("pl"), plan::Column::ProblemId))
                .equals((problem::Entity, problem::Column::Id)),
        );

    // households, solved households and people per group
    let mut inner = base(&condition, as_of);
    for (i, k) in group_by.iter().enumerate() {
        inner
            .expr_as(key_expr(*k), g(i))
            .add_group_by([key_expr(*k)]);
    }
    inner
        .expr_as(
            Expr::col((problem::Entity, problem::Column::HouseCode)),
            Alias::new("hc"),
        )
        .expr_as(
            Expr::cust(r#"MAX(CASE WHEN "problems"."status" <> 'solved' THEN 1 ELSE 0 END)"#),
            Alias::new("open"),
        )
        .expr_as(
            Expr::cust(
                r#"MAX(CASE WHEN "household_follow_ups"."closed_reason" IS NOT NULL THEN 1 ELSE 0 END)"#,
            ),
            Alias::new("closed"),
        )
        .expr_as(
            Expr::cust(r#"MAX(CASE WHEN "household_follow_ups"."urgent" THEN 1 ELSE 0 END)"#),
            Alias::new("urgent"),
        )
        .add_group_by([Expr::col((problem::Entity, problem::Column::HouseCode))]);
    let people = people_per_house(None);
    let mut b = Query::select();
    for i in 0..n {
        b.expr_as(Expr::col((Alias::new("t"), g(i))), g(i))
            .add_group_by([Expr::col((Alias::new("t"), g(i)))]);
    }
    b.expr_as(Expr::cust("COUNT(*)"), Alias::new("households"))
        .expr_as(
            Expr::cust(
                r#"CAST(COALESCE(SUM(CASE WHEN "t"."open" = 0 THEN 1 ELSE 0 END), 0) AS BIGINT)"#,
            ),
            Alias::new("solved"),
        )
        .expr_as(total(r#""m"."n""#), Alias::new("people"))
        .expr_as(total(r#""t"."closed""#), Alias::new("closed"))
        .expr_as(total(r#""t"."urgent""#), Alias::new("urgent"))
        .from_subquery(inner, Alias::new("t"))
        .join_subquery(
            JoinType::LeftJoin,
            people,
            Alias::new("m"),
            Expr::col((Alias::new("m"), member::Column::HouseCode))
                .equals((Alias::new("t"), Alias::new("hc"))),
        );

    let mut groups: BTreeMap<Vec<Option<String>>, Row> = BTreeMap::new();
    for r in db.query_all(&a).await? {
        let keys = read_keys(&r, n)?;
        let row = groups.entry(keys.clone()).or_insert_with(|| Row {
            keys: group_by.iter().copied().zip(keys).collect(),
            ..Row::default()
        });
        row.problems = u64::try_from(r.try_get_by_index::<i64>(n)?).unwrap_or(0);
        row.logbook_entries = u64::try_from(r.try_get_by_index::<i64>(n + 1)?).unwrap_or(0);
        row.overdue_problems = u64::try_from(r.try_get_by_index::<i64>(n + 2)?).unwrap_or(0);
        row.unverified_entries = u64::try_from(r.try_get_by_index::<i64>(n + 3)?).unwrap_or(0);
        row.planned = u64::try_from(r.try_get_by_index::<i64>(n + 4)?).unwrap_or(0);
        row.planned_done = u64::try_from(r.try_get_by_index::<i64>(n + 5)?).unwrap_or(0);
    }
    for r in db.query_all(&b).await? {
        let keys = read_keys(&r, n)?;
        let row = groups.entry(keys.clone()).or_insert_with(|| Row {
            keys: group_by.iter().copied().zip(keys).collect(),
            ..Row::default()
        });
        row.households = u64::try_from(r.try_get_by_index::<i64>(n)?).unwrap_or(0);
        row.solved_households = u64::try_from(r.try_get_by_index::<i64>(n + 1)?).unwrap_or(0);
        row.people = u64::try_from(r.try_get_by_index::<i64>(n + 2)?).unwrap_or(0);
        row.closed_households = u64::try_from(r.try_get_by_index::<i64>(n + 3)?).unwrap_or(0);
        row.urgent_households = u64::try_from(r.try_get_by_index::<i64>(n + 4)?).unwrap_or(0);
    }
    if groups.is_empty() && group_by.is_empty() {
        groups.insert(Vec::new(), Row::default());
    }
    Ok(groups
        .into_values()
        .filter(|r| r.problems > 0 || group_by.is_empty())
        .collect())
}

/// Keys plus the figures of one group, as the reports' counts return them.
pub(crate) type Counts<T> = (Vec<Option<String>>, T);

/// Reads `n` keys, then `k` counts (64-bit), from each row of `q`.
async fn keyed_counts(
    db: &impl ConnectionTrait,
    q: &SelectStatement,
    n: usize,
    k: usize,
) -> ApiResult<Vec<Counts<Vec<i64>>>> {
    db.query_all(q)
        .await?
        .iter()
        .map(|r| {
            let keys = read_keys(r, n)?;
            let figures = (n..n + k)
                .map(|i| r.try_get_by_index::<i64>(i))
                .collect::<Result<Vec<i64>, _>>()?;
            Ok((keys, figures))
        })
        .collect()
}

/// Groups `q` by `group_by`, selecting the keys first (`g0`, `g1` …).
fn group(q: &mut SelectStatement, group_by: &[Key]) {
    for (i, k) in group_by.iter().enumerate() {
        q.expr_as(key_expr(*k), g(i)).add_group_by([key_expr(*k)]);
    }
}

/// A figure [`problems_counted`] gives per group beside its problems.
#[derive(Debug, Clone)]
pub(crate) enum Measure {
    /// How many of the group's problems meet the condition.
    Problems(Condition),
    /// How many households have a problem in the group that meets the condition (every
    /// household with a problem in it when the condition is empty).
    Households(Condition),
}

impl Measure {
    fn expr(&self) -> Expr {
        let house = || Expr::col((problem::Entity, problem::Column::HouseCode));
        match self {
            Measure::Problems(c) => {
                Func::sum(Expr::case(c.clone(), Expr::val(1i64)).finally(Expr::val(0i64))).into()
            }
            Measure::Households(c) if c.is_empty() => Func::count_distinct(house()).into(),
            Measure::Households(c) => {
                Func::count_distinct(Expr::case(c.clone(), house()).finally(Expr::null())).into()
            }
        }
    }
}

/// Problems `p` may see that match `filter`, counted per group of `group_by` as they stood
/// at the end of `as_of` (as they stand when none): [`grouped_as_of`]'s problem count, then
/// each of `measures` — one grouped statement for the reports (a handful of rows per
/// district, whatever the size of the history).
pub(crate) async fn problems_counted(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    group_by: &[Key],
    as_of: Option<NaiveDate>,
    measures: &[Measure],
) -> ApiResult<Vec<Counts<Vec<u64>>>> {
    let condition = Condition::all().add(p.problems()).add(filter);
    let backend = db.get_database_backend();
    let mut q = base(&condition, as_of.map(|d| (backend, d)));
    group(&mut q, group_by);
    q.expr_as(Expr::cust("COUNT(*)"), Alias::new("problems"));
    for (i, m) in measures.iter().enumerate() {
        q.expr_as(
            Func::cast_as(m.expr(), Alias::new("BIGINT")),
            Alias::new(format!("m{i}")),
        );
    }
    Ok(keyed_counts(db, &q, group_by.len(), 1 + measures.len())
        .await?
        .into_iter()
        .map(|(keys, f)| {
            let f = f.into_iter().map(|n| u64::try_from(n).unwrap_or(0));
            (keys, f.collect())
        })
        .collect())
}

/// Per district, as things stood at the end of `rule.today`: households with problems `p`
/// may see, those closed, those urgent (as they stand: urgency keeps no history), and
/// problems overdue in households not closed — the monthly report's follow-up, in one
/// statement.
pub(crate) async fn follow_up_counted(
    db: &impl ConnectionTrait,
    p: &Principal,
    rule: OverdueRule,
) -> ApiResult<Vec<Counts<Vec<u64>>>> {
    let f = household_follow_up::Entity;
    let closed = || {
        Condition::all()
            .add(Expr::col((f, household_follow_up::Column::ClosedReason)).is_not_null())
    };
    let open =
        Condition::all().add(Expr::col((f, household_follow_up::Column::ClosedReason)).is_null());
    let measures = [
        Measure::Households(Condition::all()),
        Measure::Households(closed()),
        Measure::Households(
            Condition::all().add(Expr::col((f, household_follow_up::Column::Urgent)).eq(true)),
        ),
        Measure::Problems(open.add(Expr::cust(rule.overdue_sql(db.get_database_backend())))),
    ];
    problems_counted(
        db,
        p,
        Condition::all(),
        &[Key::District],
        Some(rule.today),
        &measures,
    )
    .await
}

/// What logbook entries are grouped by besides their problem's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKey {
    /// The agency that recorded it (its id, as text).
    Agency,
    /// The fund it names (the fund's id, as text).
    Fund,
    /// The fund as written.
    FundText,
}

fn entry_key_expr(k: EntryKey) -> Expr {
    match k {
        EntryKey::Agency => Expr::cust(r#"CAST("logbook_entries"."agency_id" AS TEXT)"#),
        EntryKey::Fund => Expr::cust(r#"CAST("logbook_entries"."fund_id" AS TEXT)"#),
        EntryKey::FundText => Expr::col((logbook_entry::Entity, logbook_entry::Column::Fund)),
    }
}

/// Logbook entries `p` may see dated `from` (when given) to `to` whose problem matches
/// `filter`: per group of their problem's `group_by`, then their own `by`, how many and
/// their amounts (satang), in one grouped statement.
pub(crate) async fn entries_counted(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    group_by: &[Key],
    by: &[EntryKey],
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> ApiResult<Vec<Counts<(u64, i64)>>> {
    let condition = Condition::all().add(p.problems()).add(filter);
    let mut q = base(&condition, None);
    q.inner_join(
        logbook_entry::Entity,
        Expr::col((logbook_entry::Entity, logbook_entry::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    )
    .and_where(Expr::col((logbook_entry::Entity, logbook_entry::Column::EntryDate)).lte(to));
    if let Some(from) = from {
        q.and_where(Expr::col((logbook_entry::Entity, logbook_entry::Column::EntryDate)).gte(from));
    }
    group(&mut q, group_by);
    for (i, k) in by.iter().enumerate() {
        q.expr_as(entry_key_expr(*k), g(group_by.len() + i))
            .add_group_by([entry_key_expr(*k)]);
    }
    q.expr_as(Expr::cust("COUNT(*)"), Alias::new("n")).expr_as(
        total(r#""logbook_entries"."amount_satang""#),
        Alias::new("amount"),
    );
    let n = group_by.len() + by.len();
    Ok(keyed_counts(db, &q, n, 2)
        .await?
        .into_iter()
        .map(|(keys, f)| (keys, (u64::try_from(f[0]).unwrap_or(0), f[1])))
        .collect())
}

/// Plans `p` may see made by the end of `as_of`, per group of their problem's `group_by` and
/// agency (its id, as text, the last key): how many, and how many done by the day (the agency
/// recorded help on the problem on or after the day the plan was made).
pub(crate) async fn plans_counted(
    db: &impl ConnectionTrait,
    p: &Principal,
    group_by: &[Key],
    as_of: NaiveDate,
) -> ApiResult<Vec<Counts<(u64, u64)>>> {
    let backend = db.get_database_backend();
    let pl = Alias::new("pl");
    let mut q = base(&p.problems(), None);
    q.join_subquery(
        JoinType::InnerJoin,
        plans_per_problem(Some((backend, as_of)), None, true),
        pl.clone(),
        Expr::col((pl.clone(), plan::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    );
    group(&mut q, group_by);
    q.expr_as(
        Expr::cust(r#"CAST("pl"."agency_id" AS TEXT)"#),
        g(group_by.len()),
    )
    .add_group_by([Expr::col((pl, plan::Column::AgencyId))])
    .expr_as(total(r#""pl"."n""#), Alias::new("n"))
    .expr_as(total(r#""pl"."d""#), Alias::new("d"));
    Ok(keyed_counts(db, &q, group_by.len() + 1, 2)
        .await?
        .into_iter()
        .map(|(keys, f)| {
            (
                keys,
                (
                    u64::try_from(f[0]).unwrap_or(0),
                    u64::try_from(f[1]).unwrap_or(0),
                ),
            )
        })
        .collect())
}

/// The summary figures over what `p` may see, in one area or everywhere: every visible
/// household, its members and analyses (with or without a problem), and the visible
/// problems and entries through [`grouped`] — the one stats engine `logbook stats`, the
/// tests and GraphQL share.
pub async fn summary(
    db: &impl ConnectionTrait,
    p: &Principal,
    area: Option<&AreaCode>,
) -> ApiResult<Summary> {
    let mut houses = p.households();
    if let Some(a) = area {
        houses = houses.add(super::households::in_area(a));
    }
    let house_codes = Query::select()
        .column(household::Column::HouseCode)
        .from(household::Entity)
        .cond_where(houses.clone())
        .to_owned();
    let mut s = Summary {
        households: count(household::Entity::find().filter(houses).count(db).await?),
        members: count(
            member::Entity::find()
                .filter(member::Column::HouseCode.in_subquery(house_codes.clone()))
                .count(db)
                .await?,
        ),
        analyses: count(
            analysis::Entity::find()
                .filter(analysis::Column::HouseCode.in_subquery(house_codes.clone()))
                .count(db)
                .await?,
        ),
        ..Summary::default()
    };
    let in_area =
        || Condition::all().add(problem::Column::HouseCode.in_subquery(house_codes.clone()));
    for r in grouped(db, p, in_area(), &[Key::Status], OverdueRule::default()).await? {
        let key = r
            .keys
            .get(&Key::Status)
            .cloned()
            .flatten()
            .unwrap_or_default();
        let status = ProblemStatus::from_str(&key)
            .map_err(|e| ApiError::Internal(format!("stored problem status: {e}")))?;
        s.problems_by_status.add(status, count(r.problems));
        s.problems += count(r.problems);
        s.logbook_entries += count(r.logbook_entries);
    }
    for r in grouped(db, p, in_area(), &[Key::Dimension], OverdueRule::default()).await? {
        let key = r
            .keys
            .get(&Key::Dimension)
            .cloned()
            .flatten()
            .unwrap_or_default();
        let dimension = Dimension::from_str(&key)
            .map_err(|e| ApiError::Internal(format!("stored dimension: {e}")))?;
        s.problems_by_dimension.add(dimension, count(r.problems));
    }
    s.households_solved = grouped(db, p, in_area(), &[], OverdueRule::default())
        .await?
        .first()
        .map_or(0, |r| count(r.solved_households));
    Ok(s)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The cell column a key reads, where `stats` cells keep it.
fn cell_column(k: Key) -> Option<stats_cell::Column> {
    match k {
        Key::Province => Some(stats_cell::Column::ProvinceCode),
        Key::District => Some(stats_cell::Column::DistrictCode),
        Key::Subdistrict => Some(stats_cell::Column::SubdistrictCode),
        Key::Village => Some(stats_cell::Column::VillageCode),
        Key::Classification => Some(stats_cell::Column::Classification),
        Key::Dimension => Some(stats_cell::Column::Dimension),
        Key::Status => Some(stats_cell::Column::Status),
        Key::Indicator | Key::Cohort => None,
    }
}

/// [`grouped`] with no filter, read from the `stats` cells kept ahead (a few hundred rows a
/// district instead of every problem, entry and member): the same rows, but
/// `overdue_problems`, which cells do not keep, is 0. `None` where cells cannot answer: a
/// key they do not keep (indicator, cohort), an agency not grouping by dimension, or a
/// village of the principal's reach waiting to be counted again.
pub async fn grouped_from_cells(
    db: &impl ConnectionTrait,
    p: &Principal,
    group_by: &[Key],
) -> ApiResult<Option<Vec<Row>>> {
    let Some(columns) = group_by
        .iter()
        .map(|k| cell_column(*k))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    let Some(scope) = p.stats_cells(group_by.contains(&Key::Dimension)) else {
        return Ok(None);
    };
    let waiting = stats_dirty::Entity::find()
        .filter(p.stats_dirty())
        .one(db)
        .await?;
    if waiting.is_some() {
        return Ok(None);
    }
    let mut q = Query::select();
    for (i, c) in columns.iter().enumerate() {
        q.expr_as(Expr::col((stats_cell::Entity, *c)), g(i))
            .add_group_by([Expr::col((stats_cell::Entity, *c))]);
    }
    for m in stats_cell::MEASURES {
        use sea_orm::IdenStatic;
        q.expr_as(
            Expr::cust(format!(
                r#"CAST(COALESCE(SUM("stats_cells"."{}"), 0) AS BIGINT)"#,
                m.as_str()
            )),
            Alias::new(m.as_str()),
        );
    }
    // a district's cells (its villages' summed) unless the grouping is finer
    let by_village = group_by.contains(&Key::Village) || group_by.contains(&Key::Subdistrict);
    q.from(stats_cell::Entity)
        .cond_where(scope.add(cell_level(by_village, group_by.contains(&Key::Status))));
    let n = group_by.len();
    let mut rows = Vec::new();
    for r in db.query_all(&q).await? {
        let keys = read_keys(&r, n)?;
        let m = |i: usize| -> Result<u64, sea_orm::DbErr> {
            Ok(u64::try_from(r.try_get_by_index::<i64>(n + i)?).unwrap_or(0))
        };
        let row = Row {
            keys: group_by.iter().copied().zip(keys.clone()).collect(),
            problems: m(0)?,
            households: m(1)?,
            people: m(2)?,
            solved_households: m(3)?,
            logbook_entries: m(4)?,
            overdue_problems: 0,
            closed_households: m(5)?,
            urgent_households: m(6)?,
            unverified_entries: m(7)?,
            planned: m(8)?,
            planned_done: m(9)?,
        };
        if row.problems > 0 || group_by.is_empty() {
            rows.push((keys, row));
        }
    }
    if rows.is_empty() && group_by.is_empty() {
        rows.push((Vec::new(), Row::default()));
    }
    // in [`grouped`]'s order: by the keys' values, in the order the keys were asked
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(rows.into_iter().map(|(_, r)| r).collect()))
}

/// The cells a reading sums: villages' (`by_village`) or districts' (their villages' summed,
/// no village code), and those of one status each (`by_status`) or of every status at once.
/// Reading both kinds would count a household twice.
fn cell_level(by_village: bool, by_status: bool) -> Condition {
    Condition::all()
        .add(if by_village {
            stats_cell::Column::VillageCode.is_not_null()
        } else {
            stats_cell::Column::VillageCode.is_null()
        })
        .add(if by_status {
            stats_cell::Column::Status.is_not_null()
        } else {
            stats_cell::Column::Status.is_null()
        })
}

/// A households count the `stats` cells keep: the households in every one of `areas` (any
/// level), of one classification when asked, with at least one problem of one dimension
/// (any dimension when none) and, when asked, of one status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptCount {
    /// The areas the households are in (all of them).
    pub areas: Vec<AreaCode>,
    /// Their classification, when asked.
    pub classification: Option<Classification>,
    /// Their problem's dimension; none: any dimension.
    pub dimension: Option<Dimension>,
    /// Their problem's status; none: any status.
    pub status: Option<ProblemStatus>,
}

/// The households of `ask` that `p` may see, summed from the `stats` cells kept ahead (a
/// handful of rows instead of a semi-join over every household of the area); `None` where
/// the cells cannot answer: a key that sees some dimensions only asking for any dimension,
/// or a village of the areas asked waiting to be counted again. One statement, so the
/// check for waiting villages and the sum read one snapshot.
pub async fn households_from_cells(
    db: &impl ConnectionTrait,
    p: &Principal,
    ask: &KeptCount,
) -> ApiResult<Option<u64>> {
    let Some(mut cells) = p.stats_cells(ask.dimension.is_some()) else {
        return Ok(None);
    };
    let mut waiting = p.stats_dirty();
    // a district's cells (its villages' summed) unless a finer area is asked
    let mut by_village = false;
    for code in &ask.areas {
        let c = code.as_str();
        match code.level() {
            entity::types::AreaLevel::Province => {
                cells = cells.add(stats_cell::Column::ProvinceCode.eq(c));
                waiting = waiting.add(stats_dirty::Column::ProvinceCode.eq(c));
            }
            entity::types::AreaLevel::District => {
                cells = cells.add(stats_cell::Column::DistrictCode.eq(c));
                waiting = waiting.add(stats_dirty::Column::DistrictCode.eq(c));
            }
            entity::types::AreaLevel::Subdistrict => {
                by_village = true;
                cells = cells.add(stats_cell::Column::SubdistrictCode.eq(c));
            }
            entity::types::AreaLevel::Village => {
                by_village = true;
                cells = cells.add(stats_cell::Column::VillageCode.eq(c));
                waiting = waiting.add(stats_dirty::Column::VillageCode.eq(c));
            }
        }
    }
    cells = cells.add(cell_level(by_village, ask.status.is_some()));
    if let Some(s) = ask.status {
        cells = cells.add(stats_cell::Column::Status.eq(s.key()));
    }
    if let Some(d) = ask.dimension {
        cells = cells.add(stats_cell::Column::Dimension.eq(d.key()));
    }
    if let Some(c) = ask.classification {
        cells = cells.add(stats_cell::Column::Classification.eq(c.key()));
    }
    let mut q = Query::select();
    q.expr_as(total(r#""stats_cells"."households""#), Alias::new("n"))
        .expr_as(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(stats_dirty::Entity)
                    .cond_where(waiting)
                    .to_owned(),
            ),
            Alias::new("waiting"),
        )
        .from(stats_cell::Entity)
        .cond_where(cells);
    let Some(r) = db.query_one(&q).await? else {
        return Ok(None);
    };
    if r.try_get_by_index::<bool>(1)? {
        return Ok(None);
    }
    Ok(Some(
        u64::try_from(r.try_get_by_index::<i64>(0)?).unwrap_or(0),
    ))
}

/// The groupings cells are kept for: every village, classification, and each of dimension
/// and status or all of them at once.
const CELL_LEVELS: [&[Key]; 4] = [
    &[Key::Dimension, Key::Status],
    &[Key::Dimension],
    &[Key::Status],
    &[],
];

/// What some households add to the `stats` cells, taken in a write's transaction before it
/// changes them; [`Counted::commit`] takes it again after the write and adds the
/// difference to their villages' and districts' cells. Every measure adds up over
/// households (a household is in one village, counted once per cell), so a write costs a
/// count of its own households, not of their villages (a village of 1,200 households took
/// 30 ms of PostgreSQL's time to count).
pub struct Counted {
    houses: Vec<String>,
    before: Vec<stats_cell::Model>,
}

impl Counted {
    /// Takes the shared lock of the households' districts (an import of them waits, or is
    /// waited for) and the change counter's lock (on PostgreSQL; SQLite's writing
    /// transaction holds the one write lock), so no other short write or count changes these
    /// cells until `txn` ends, then what `houses` add to the cells now.
    pub async fn before(txn: &sea_orm::DatabaseTransaction, houses: &[String]) -> ApiResult<Self> {
        super::share_districts_of(txn, houses).await?;
        stats_dirty::lock(txn).await?;
        let before = cells_of(txn, &named(houses)).await?;
        Ok(Counted {
            houses: houses.to_vec(),
            before,
        })
    }

    /// Adds what the write changed to the cells, in `txn`, and commits: no reader ever sees
    /// the write without its counts, nor the counts without the write. Cells that do not
    /// agree (a difference that would make one negative) are left for the server to count
    /// again from the whole tables.
    pub async fn commit(self, txn: sea_orm::DatabaseTransaction) -> ApiResult<()> {
        let after = cells_of(&txn, &named(&self.houses)).await?;
        if !add_difference(&txn, &self.before, &after).await? {
            tracing::warn!(houses = ?self.houses, "stats cells disagree with a write: its villages counted again");
            stats_dirty::mark_houses(&txn, &self.houses).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// The households named, as a subquery of their house codes.
fn named(houses: &[String]) -> SelectStatement {
    Query::select()
        .column(household::Column::HouseCode)
        .from(household::Entity)
        .and_where(household::Column::HouseCode.is_in(houses.iter().cloned()))
        .to_owned()
}

/// A cell's identity: its village (none for a district's cell), district, classification,
/// dimension and status.
type CellIdentity = (
    Option<VillageCode>,
    AreaCode,
    Option<Classification>,
    Option<Dimension>,
    Option<ProblemStatus>,
);

fn identity(c: &stats_cell::Model) -> CellIdentity {
    (
        c.village_code.clone(),
        c.district_code.clone(),
        c.classification,
        c.dimension,
        c.status,
    )
}

/// Adds `after − before` (village cells of the same households) to the stored cells of
/// their villages and districts. `false`, writing nothing, when a stored cell would go
/// negative or keep figures with no problems: the cells did not agree with the tables.
async fn add_difference(
    txn: &sea_orm::DatabaseTransaction,
    before: &[stats_cell::Model],
    after: &[stats_cell::Model],
) -> ApiResult<bool> {
    use std::collections::HashMap;
    let mut difference: HashMap<CellIdentity, (stats_cell::Model, [i64; 10])> = HashMap::new();
    for (sign, cells) in [(1, after), (-1, before)] {
        for village in cells {
            let mut district = village.clone();
            district.village_code = None;
            district.subdistrict_code = None;
            for cell in [village.clone(), district] {
                let (_, d) = difference
                    .entry(identity(&cell))
                    .or_insert_with(|| (cell.clone(), [0; 10]));
                for (d, m) in d.iter_mut().zip(cell.measures()) {
                    *d += sign * m;
                }
            }
        }
    }
    difference.retain(|_, (_, d)| d.iter().any(|n| *n != 0));
    if difference.is_empty() {
        return Ok(true);
    }
    let mut villages: Vec<VillageCode> = Vec::new();
    let mut districts: Vec<AreaCode> = Vec::new();
    for (v, d, ..) in difference.keys() {
        match v {
            Some(v) => villages.push(v.clone()),
            None => districts.push(d.clone()),
        }
    }
    villages.sort();
    villages.dedup();
    districts.sort();
    districts.dedup();
    let stored = stats_cell::Entity::find()
        .filter(
            Condition::any()
                .add(stats_cell::Column::VillageCode.is_in(villages))
                .add(
                    Condition::all()
                        .add(stats_cell::Column::VillageCode.is_null())
                        .add(stats_cell::Column::DistrictCode.is_in(districts)),
                ),
        )
        .all(txn)
        .await?;
    let mut replaced = Vec::new();
    let mut cells = Vec::new();
    for mut cell in stored {
        if let Some((_, d)) = difference.remove(&identity(&cell)) {
            replaced.push(cell.id);
            let mut m = cell.measures();
            for (m, d) in m.iter_mut().zip(d) {
                *m += d;
            }
            cell.set_measures(m);
            cells.push(cell);
        }
    }
    for (_, (mut cell, d)) in difference {
        cell.set_measures(d);
        cells.push(cell);
    }
    if cells.iter().any(|c| {
        c.measures()
            .iter()
            .any(|m| *m < 0 || (c.problems == 0 && *m > 0))
    }) {
        return Ok(false);
    }
    if !replaced.is_empty() {
        stats_cell::Entity::delete_many()
            .filter(stats_cell::Column::Id.is_in(replaced))
            .exec(txn)
            .await?;
    }
    cells.retain(|c| c.problems > 0);
    insert_cells(txn, cells).await?;
    Ok(true)
}

/// Counts again the cells of every village waiting for it (with [`cells_of`], over the same
/// joins and subqueries as [`grouped`]) and of their districts, and clears the marks it read,
/// in one writing transaction that holds those districts' locks alone (no short write there
/// changes their cells meanwhile; a district a write or an import holds is left for the next
/// count; an import's mark made meanwhile is a new generation, left for the next count).
/// Returns how many villages were counted. The command line and the import worker call it
/// after each import; the API server also runs it every [`COUNT_EVERY`].
pub async fn count_waiting(db: &sea_orm::DatabaseConnection) -> ApiResult<u64> {
    use sea_orm::QuerySelect;
    if stats_dirty::Entity::find().one(db).await?.is_none() {
        return Ok(0);
    }
    let tx = entity::db::begin_write(db).await?;
    let txn = &tx;
    let started = std::time::Instant::now();
    let marked: Vec<(String, String, i64)> = stats_dirty::Entity::find()
        .select_only()
        .column(stats_dirty::Column::VillageCode)
        .column(stats_dirty::Column::DistrictCode)
        .column(stats_dirty::Column::Generation)
        .into_tuple()
        .all(txn)
        .await?;
    let mut districts: Vec<String> = marked.iter().map(|(_, d, _)| d.clone()).collect();
    districts.sort();
    districts.dedup();
    // the districts counted, each held alone until the commit: no short write there changes
    // their cells meanwhile (it takes its district's lock shared, first), and no other
    // district waits. One held by a write or an import now is left for the next count
    let districts = entity::db::try_lock_districts(txn, &districts).await?;
    let marked: Vec<(String, String, i64)> = marked
        .into_iter()
        .filter(|(_, d, _)| districts.binary_search(d).is_ok())
        .collect();
    if marked.is_empty() {
        return Ok(0);
    }
    let villages: Vec<String> = marked.iter().map(|(v, _, _)| v.clone()).collect();
    let mut written = 0;
    // the villages named (not a subquery of the marks, whose size neither planner knows):
    // each statement starts from those villages' households by index; a few thousand a
    // batch keeps every statement well under both databases' parameter limits
    for batch in villages.chunks(VILLAGES_A_BATCH) {
        let houses = Query::select()
            .column(household::Column::HouseCode)
            .from(household::Entity)
            .and_where(household::Column::VillageCode.is_in(batch.iter().cloned()))
            .to_owned();
        let cells = cells_of(txn, &houses).await?;
        stats_cell::Entity::delete_many()
            .filter(stats_cell::Column::VillageCode.is_in(batch.iter().cloned()))
            .exec(txn)
            .await?;
        written += cells.len();
        insert_cells(txn, cells).await?;
    }
    // each district's cells: its villages' summed (a household is in one village, so every
    // measure adds up)
    for batch in districts.chunks(VILLAGES_A_BATCH) {
        sum_districts(txn, batch).await?;
    }
    // the marks read, at the generation read: an import marks without its district's lock
    // being free to a count, and a village it marked again meanwhile (committed after the
    // count read it) stays marked for the next count
    // (a few hundred an `OR`: SQLite's expression depth stops at 1,000)
    for batch in marked.chunks(400) {
        let read = batch.iter().fold(Condition::any(), |c, (v, _, g)| {
            c.add(
                Condition::all()
                    .add(stats_dirty::Column::VillageCode.eq(v.clone()))
                    .add(stats_dirty::Column::Generation.eq(*g)),
            )
        });
        stats_dirty::Entity::delete_many()
            .filter(read)
            .exec(txn)
            .await?;
    }
    tx.commit().await?;
    tracing::debug!(
        stats.villages = villages.len(),
        stats.cells = written,
        stats.ms = started.elapsed().as_millis() as u64,
        "stats cells counted"
    );
    Ok(villages.len() as u64)
}

/// Inserts cells (new rows: their ids are the table's), a thousand a statement (17
/// parameters a row: well under both databases' limits).
async fn insert_cells(
    txn: &sea_orm::DatabaseTransaction,
    cells: Vec<stats_cell::Model>,
) -> ApiResult<()> {
    use sea_orm::ActiveValue::NotSet;
    let mut rows = cells.into_iter().map(|c| {
        let mut a: stats_cell::ActiveModel = c.into();
        a.id = NotSet;
        a
    });
    loop {
        let chunk: Vec<stats_cell::ActiveModel> = rows.by_ref().take(1_000).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        stats_cell::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
}

/// One household's problems of one dimension and status, with what [`grouped`] sums over
/// them and the household's own figures; text interned (indexes into [`Interned`]).
struct Part {
    place: usize,
    house: usize,
    dimension: usize,
    status: usize,
    problems: u64,
    entries: u64,
    unverified: u64,
    planned: u64,
    planned_done: u64,
    closed: bool,
    urgent: bool,
}

/// Each distinct value once, by its index: a cell's places (village, subdistrict, district,
/// province, classification), and the house codes, dimensions and statuses.
struct Interned<T> {
    values: Vec<T>,
    index: std::collections::HashMap<T, usize>,
}

impl<T: Clone + Eq + std::hash::Hash> Interned<T> {
    fn new() -> Self {
        Interned {
            values: Vec::new(),
            index: std::collections::HashMap::new(),
        }
    }

    /// The value's index, added when first seen.
    fn id(&mut self, v: T) -> usize {
        if let Some(i) = self.index.get(&v) {
            return *i;
        }
        self.values.push(v.clone());
        self.index.insert(v, self.values.len() - 1);
        self.values.len() - 1
    }
}

/// A cell at one level: its place, and its dimension and status where the level has them.
type CellKey = (usize, Option<usize>, Option<usize>);

/// The cells of the households `houses` (a subquery of house codes), at every level of
/// [`CELL_LEVELS`]: one statement reads each household's problems per dimension and status
/// with their entries and plans (the same subqueries [`grouped`] joins), one its members;
/// the levels are summed here, a household counted once per cell as [`grouped`] counts it.
async fn cells_of(
    db: &(impl ConnectionTrait + StreamTrait),
    houses: &SelectStatement,
) -> ApiResult<Vec<stats_cell::Model>> {
    let condition = Condition::all()
        .add(Expr::col((problem::Entity, problem::Column::HouseCode)).in_subquery(houses.clone()));
    let mut q = base(&condition, None);
    let cols = [
        Expr::col((household::Entity, household::Column::VillageCode)),
        Expr::col((household::Entity, household::Column::SubdistrictCode)),
        Expr::col((household::Entity, household::Column::DistrictCode)),
        Expr::col((household::Entity, household::Column::ProvinceCode)),
        Expr::col((household::Entity, household::Column::Classification)),
        Expr::col((household::Entity, household::Column::HouseCode)),
        Expr::col((indicator::Entity, indicator::Column::Dimension)),
        Expr::col((problem::Entity, problem::Column::Status)),
    ];
    for (i, c) in cols.iter().enumerate() {
        q.expr_as(c.clone(), g(i));
    }
    // grouped by the household's key, dimension and status: its place and classification
    // follow from its key (PostgreSQL knows it from the primary key; SQLite takes them from
    // the group's rows, which are one household's). A sort on three keys instead of eight:
    // a province's count 215-270 -> 155-169 ms on PostgreSQL (docs/benchmarks.md)
    q.add_group_by(cols[5..].iter().cloned());
    for (name, sum) in [
        ("problems", "COUNT(*)"),
        ("entries", r#"SUM("e"."n")"#),
        ("unverified", r#"SUM("e"."u")"#),
        ("planned", r#"SUM("pl"."n")"#),
        ("planned_done", r#"SUM("pl"."d")"#),
        (
            "closed",
            r#"MAX(CASE WHEN "household_follow_ups"."closed_reason" IS NOT NULL THEN 1 ELSE 0 END)"#,
        ),
        (
            "urgent",
            r#"MAX(CASE WHEN "household_follow_ups"."urgent" THEN 1 ELSE 0 END)"#,
        ),
    ] {
        q.expr_as(
            Expr::cust(format!("CAST(COALESCE({sum}, 0) AS BIGINT)")),
            Alias::new(name),
        );
    }
    q.join_subquery(
        JoinType::LeftJoin,
        entries_per_problem(None, Some(houses)),
        Alias::new("e"),
        Expr::col((Alias::new("e"), logbook_entry::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    )
    .join_subquery(
        JoinType::LeftJoin,
        plans_per_problem(None, Some(houses), false),
        Alias::new("pl"),
        Expr::col((Alias::new("pl"), plan::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    );
    let mut places: Interned<[Option<String>; 5]> = Interned::new();
    let mut names: Interned<String> = Interned::new();
    let mut parts = Vec::new();
    // streamed: a province's 28,000 grouped rows never sit in the driver's memory at once (on
    // SQLite each held row is a copy of its values: the count after a province import grew the
    // process by 19-37 MB, streamed by 0-22); each stream ends, letting go of the
    // transaction's connection, before the next statement
    {
        let mut rows = std::pin::pin!(db.stream(&q).await?);
        while let Some(r) = rows.try_next().await? {
            let text = |i: usize| r.try_get_by_index::<Option<String>>(i);
            let n = |i: usize| -> Result<u64, sea_orm::DbErr> {
                Ok(u64::try_from(r.try_get_by_index::<i64>(i)?).unwrap_or(0))
            };
            parts.push(Part {
                place: places.id([text(0)?, text(1)?, text(2)?, text(3)?, text(4)?]),
                house: names.id(text(5)?.unwrap_or_default()),
                dimension: names.id(text(6)?.unwrap_or_default()),
                status: names.id(text(7)?.unwrap_or_default()),
                problems: n(8)?,
                entries: n(9)?,
                unverified: n(10)?,
                planned: n(11)?,
                planned_done: n(12)?,
                closed: n(13)? > 0,
                urgent: n(14)? > 0,
            });
        }
    }
    let mut people: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    {
        let mut rows = std::pin::pin!(db.stream(&people_per_house(Some(houses))).await?);
        while let Some(r) = rows.try_next().await? {
            let house = names.id(r.try_get_by_index(0)?);
            let n = u64::try_from(r.try_get_by_index::<i64>(1)?).unwrap_or(0);
            people.insert(house, n);
        }
    }
    let solved = names.id(ProblemStatus::Solved.key().to_string());
    let mut cells = Vec::new();
    for level in CELL_LEVELS {
        let (by_dimension, by_status) = (
            level.contains(&Key::Dimension),
            level.contains(&Key::Status),
        );
        let mut rows: std::collections::HashMap<CellKey, Row> = std::collections::HashMap::new();
        // (cell, household) → (every problem solved so far, closed, urgent)
        let mut seen: std::collections::HashMap<(CellKey, usize), (bool, bool, bool)> =
            std::collections::HashMap::new();
        for part in &parts {
            let key = (
                part.place,
                by_dimension.then_some(part.dimension),
                by_status.then_some(part.status),
            );
            let row = rows.entry(key).or_default();
            row.problems += part.problems;
            row.logbook_entries += part.entries;
            row.unverified_entries += part.unverified;
            row.planned += part.planned;
            row.planned_done += part.planned_done;
            let all_solved = part.status == solved;
            seen.entry((key, part.house))
                .and_modify(|h| h.0 &= all_solved)
                .or_insert((all_solved, part.closed, part.urgent));
        }
        for ((key, house), (all_solved, closed, urgent)) in seen {
            if let Some(row) = rows.get_mut(&key) {
                row.households += 1;
                row.people += people.get(&house).copied().unwrap_or(0);
                row.solved_households += u64::from(all_solved);
                row.closed_households += u64::from(closed);
                row.urgent_households += u64::from(urgent);
            }
        }
        for ((place, dimension, status), mut row) in rows {
            let mut keys = places.values[place].to_vec();
            keys.push(dimension.map(|d| names.values[d].clone()));
            keys.push(status.map(|s| names.values[s].clone()));
            let order = [
                Key::Village,
                Key::Subdistrict,
                Key::District,
                Key::Province,
                Key::Classification,
                Key::Dimension,
                Key::Status,
            ];
            row.keys = order.into_iter().zip(keys).collect();
            cells.push(cell_of(&row)?);
        }
    }
    Ok(cells)
}

/// Replaces the district cells of `districts` by the sums of their village cells.
async fn sum_districts(txn: &sea_orm::DatabaseTransaction, districts: &[String]) -> ApiResult<()> {
    use stats_cell::Column as C;
    stats_cell::Entity::delete_many()
        .filter(C::VillageCode.is_null())
        .filter(C::DistrictCode.is_in(districts.iter().cloned()))
        .exec(txn)
        .await?;
    let grouped = [C::DistrictCode, C::Classification, C::Dimension, C::Status];
    let mut sums = Query::select();
    sums.columns(grouped)
        .expr(Expr::cust(r#"MIN("province_code")"#));
    for m in stats_cell::MEASURES {
        use sea_orm::IdenStatic;
        sums.expr(Expr::cust(format!(r#"SUM("{}")"#, m.as_str())));
    }
    sums.from(stats_cell::Entity)
        .and_where(C::VillageCode.is_not_null())
        .and_where(C::DistrictCode.is_in(districts.iter().cloned()))
        .group_by_columns(grouped);
    let mut into = vec![
        C::DistrictCode,
        C::Classification,
        C::Dimension,
        C::Status,
        C::ProvinceCode,
    ];
    into.extend(stats_cell::MEASURES);
    let insert = Query::insert()
        .into_table(stats_cell::Entity)
        .columns(into)
        .select_from(sums)
        .map_err(|e| ApiError::Internal(format!("summing district cells: {e}")))?
        .to_owned();
    txn.execute(&insert).await?;
    Ok(())
}

/// Villages counted by one batch of statements (each names them up to three times).
const VILLAGES_A_BATCH: usize = 5_000;

/// A village's cell from a row summed by [`cells_of`], keyed by village, subdistrict,
/// district, province, classification and the level's keys.
fn cell_of(r: &Row) -> ApiResult<stats_cell::Model> {
    let key = |k: Key| r.keys.get(&k).cloned().flatten();
    let stored = |what: &str, e: String| ApiError::Internal(format!("stored {what}: {e}"));
    let area = |k: Key| {
        AreaCode::parse_str(&key(k).unwrap_or_default())
            .map_err(|e| stored("area code", e.to_string()))
    };
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(stats_cell::Model {
        id: 0,
        village_code: Some(
            VillageCode::parse_str(&key(Key::Village).unwrap_or_default())
                .map_err(|e| stored("village code", e.to_string()))?,
        ),
        subdistrict_code: Some(area(Key::Subdistrict)?),
        district_code: area(Key::District)?,
        province_code: area(Key::Province)?,
        classification: match key(Key::Classification) {
            Some(c) => {
                Some(Classification::from_str(&c).map_err(|e| stored("class", e.to_string()))?)
            }
            None => None,
        },
        dimension: match key(Key::Dimension) {
            Some(d) => {
                Some(Dimension::from_str(&d).map_err(|e| stored("dimension", e.to_string()))?)
            }
            None => None,
        },
        status: match key(Key::Status) {
            Some(s) => {
                Some(ProblemStatus::from_str(&s).map_err(|e| stored("status", e.to_string()))?)
            }
            None => None,
        },
        problems: int(r.problems),
        households: int(r.households),
        people: int(r.people),
        solved_households: int(r.solved_households),
        logbook_entries: int(r.logbook_entries),
        closed_households: int(r.closed_households),
        urgent_households: int(r.urgent_households),
        unverified_entries: int(r.unverified_entries),
        planned: int(r.planned),
        planned_done: int(r.planned_done),
    })
}

/// How often the server looks for villages left waiting (by an import in another process, or
/// a write whose cells disagreed) and counts them.
pub const COUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Counts waiting villages every [`COUNT_EVERY`] until `stop`.
pub async fn upkeep(db: sea_orm::DatabaseConnection, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = count_waiting(&db).await {
            tracing::warn!(error = %e, "stats cells: counting waiting villages");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(COUNT_EVERY) => {}
        }
    }
}
