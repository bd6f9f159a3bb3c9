//! The province's targets: the problems of a cohort (optionally one dimension) to be solved
//! by a day, and each target's progress per district and dimension on a day — done,
//! remaining, days left, the rate needed per week against the rate of the last four weeks.
//! Who sets them comes from [`crate::access`]; the counts from [`super::stats`].

use super::stats::{self, Key};
use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{NaiveDate, Utc};
use entity::types::{AreaCode, AreaLevel, Cohort, Dimension, ProblemStatus, ThaiDate};
use entity::{cohort, target};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::collections::BTreeMap;

/// Most characters of a target's name.
const MAX_NAME: usize = 300;

/// A target, as raw values.
#[derive(Debug, Clone)]
pub struct TargetInput {
    /// Province code.
    pub province: String,
    /// Name.
    pub name: String,
    /// Only this cohort's problems (`TPMAP 2565`).
    pub cohort: Option<String>,
    /// Only this dimension's.
    pub dimension: Option<Dimension>,
    /// By when (up to ten years ahead).
    pub due_on: String,
}

/// Sets a target for a province `p` administers.
pub async fn set(
    db: &DatabaseConnection,
    p: &Principal,
    input: TargetInput,
    today: NaiveDate,
) -> ApiResult<target::Model> {
    let province = AreaCode::parse_level(&input.province, AreaLevel::Province)
        .map_err(|e| ApiError::bad_input("province", e.message_en()))?;
    p.may_set_targets(province.as_str())?;
    let name = super::free_text("name", Some(&input.name), MAX_NAME)?
        .ok_or_else(|| ApiError::bad_input("name", "must not be empty"))?;
    let due_on = ThaiDate::parse_str(&input.due_on, today + chrono::Days::new(3_660))
        .map_err(|e| ApiError::bad_input("dueOn", e.message_en()))?
        .date();
    let cohort = input
        .cohort
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(Cohort::parse_str)
        .transpose()
        .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
    let txn = super::begin_write(db).await?;
    let cohort_id = match cohort {
        Some(c) => Some(
            cohort::Entity::find()
                .filter(cohort::Column::Source.eq(c.source.key()))
                .filter(cohort::Column::BeYear.eq(c.be_year))
                .one(&txn)
                .await?
                .ok_or_else(|| ApiError::bad_input("cohort", "no problem is of this cohort"))?
                .id,
        ),
        None => None,
    };
    let t = target::ActiveModel {
        province_code: Set(province.as_str().to_string()),
        name: Set(name),
        cohort_id: Set(cohort_id),
        dimension: Set(input.dimension),
        due_on: Set(due_on),
        created_by: Set(p.label()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    super::audit::record(
        &txn,
        p,
        "target.set",
        Some(province.as_str()),
        &format!("target:{}", t.id),
        serde_json::json!({ "name": t.name, "due_on": t.due_on.to_string() }),
    )
    .await?;
    txn.commit().await?;
    Ok(t)
}

/// The targets `p` may see, soonest first.
pub async fn list(db: &impl ConnectionTrait, p: &Principal) -> ApiResult<Vec<target::Model>> {
    Ok(target::Entity::find()
        .filter(p.targets())
        .order_by_asc(target::Column::DueOn)
        .order_by_asc(target::Column::Id)
        .all(db)
        .await?)
}

/// Removes a target.
pub async fn remove(db: &DatabaseConnection, p: &Principal, id: i32) -> ApiResult<()> {
    let txn = super::begin_write(db).await?;
    let t = target::Entity::find_by_id(id)
        .filter(p.targets())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("target {id}")))?;
    p.may_set_targets(&t.province_code)?;
    target::Entity::delete_by_id(t.id).exec(&txn).await?;
    super::audit::record(
        &txn,
        p,
        "target.remove",
        Some(&t.province_code),
        &format!("target:{}", t.id),
        serde_json::json!({ "name": t.name }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A target's progress in one district and dimension (both none: the whole target).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    /// District code.
    pub district_code: Option<String>,
    /// District name.
    pub district_name: Option<String>,
    /// Dimension.
    pub dimension: Option<Dimension>,
    /// Problems the target covers.
    pub total: u64,
    /// Of those, solved on the day.
    pub done: u64,
    /// Not solved.
    pub remaining: u64,
    /// Days from the day to the deadline (negative when past).
    pub days_left: i64,
    /// Problems to solve per week to finish on time (all remaining when the deadline has
    /// passed or is today).
    pub needed_per_week: f64,
    /// Problems solved per week over the last four weeks (solved on the day and not 28 days
    /// before).
    pub last_four_weeks_per_week: f64,
}

impl Progress {
    /// Whether the last four weeks' rate finishes on time (done when nothing remains).
    pub fn on_track(&self) -> bool {
        self.remaining == 0
            || (self.days_left > 0 && self.last_four_weeks_per_week >= self.needed_per_week)
    }
}

/// The progress of `t` on `day` over the problems `p` may see: the whole target first, then
/// per district and dimension.
pub async fn progress(
    db: &impl ConnectionTrait,
    p: &Principal,
    t: &target::Model,
    day: NaiveDate,
) -> ApiResult<Vec<Progress>> {
    Ok(progress_of(db, p, std::slice::from_ref(t), day)
        .await?
        .pop()
        .unwrap_or_default())
}

/// A group of problems a target may cover: district, dimension, cohort.
type Place = (String, Dimension, i32);

/// Problems per district, dimension and cohort on a day: how many, how many solved, how many
/// solved on the day and not 28 days before.
type Standing = BTreeMap<Place, (u64, u64, u64)>;

/// [`progress`] of several targets, over one count of the problems (grouped by the database:
/// districts × dimensions × cohorts, whatever the size of the history).
pub async fn progress_of(
    db: &impl ConnectionTrait,
    p: &Principal,
    targets: &[target::Model],
    day: NaiveDate,
) -> ApiResult<Vec<Vec<Progress>>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let keys = [Key::District, Key::Dimension, Key::Cohort, Key::Status];
    let place = |k: &[Option<String>]| {
        let (district, dim) = super::periods::area_and_dimension(k)?;
        Some((district, dim, k.get(2)?.as_deref()?.parse::<i32>().ok()?))
    };
    // solved on the day and not 28 days before
    let newly = [stats::Measure::Problems(
        stats::solved_at(day - chrono::Days::new(28)).not(),
    )];
    let mut standing = Standing::new();
    let counted = stats::problems_counted(db, p, Condition::all(), &keys, Some(day), &newly);
    for (k, n) in counted.await? {
        if let (Some(at), Some(s)) = (place(&k), super::periods::status_key(&k, 3)) {
            let g = standing.entry(at).or_default();
            g.0 += n[0];
            if s == ProblemStatus::Solved {
                g.1 += n[0];
                g.2 += n[1];
            }
        }
    }
    let names = super::catalog::district_names(db).await?;
    Ok(targets
        .iter()
        .map(|t| one(t, &standing, &names, day))
        .collect())
}

fn one(
    t: &target::Model,
    standing: &Standing,
    names: &std::collections::HashMap<String, String>,
    day: NaiveDate,
) -> Vec<Progress> {
    let days_left = (t.due_on - day).num_days();
    let mut rows: BTreeMap<(String, Dimension), Progress> = BTreeMap::new();
    let mut whole = Progress::default();
    let mut fresh: BTreeMap<(String, Dimension), u64> = BTreeMap::new();
    let mut fresh_all = 0u64;
    for ((district, dim, cohort_id), (total, solved, newly)) in standing {
        if !district.starts_with(&t.province_code)
            || t.cohort_id.is_some_and(|c| c != *cohort_id)
            || t.dimension.is_some_and(|d| d != *dim)
        {
            continue;
        }
        for r in [
            rows.entry((district.clone(), *dim)).or_default(),
            &mut whole,
        ] {
            r.total += total;
            r.done += solved;
        }
        *fresh.entry((district.clone(), *dim)).or_default() += newly;
        fresh_all += newly;
    }
    let finish = |mut r: Progress, newly: u64| {
        r.remaining = r.total - r.done;
        r.days_left = days_left;
        r.needed_per_week = if days_left > 0 {
            r.remaining as f64 * 7.0 / days_left as f64
        } else {
            r.remaining as f64
        };
        r.last_four_weeks_per_week = newly as f64 / 4.0;
        r
    };
    let mut out = vec![finish(whole, fresh_all)];
    for ((district, dim), r) in rows {
        let newly = fresh.get(&(district.clone(), dim)).copied().unwrap_or(0);
        out.push(finish(
            Progress {
                district_name: names.get(&district).cloned(),
                district_code: Some(district),
                dimension: Some(dim),
                ..r
            },
            newly,
        ));
    }
    out
}
