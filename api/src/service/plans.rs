//! Agencies' plans: a problem an agency may see put into one of its projects
//! (`planAssistance`), listed per agency and per problem, done when that agency records help
//! on the problem on or after the day the plan was made. Who plans for which agency comes
//! from [`crate::access`].

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::{NaiveDate, Utc};
use entity::catalog::dimension_of;
use entity::types::ThaiDate;
use entity::{agency, agency_dimension, household, logbook_entry, plan, problem};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use std::collections::HashSet;

/// Most characters of a project's name.
const MAX_PROJECT: usize = 300;

/// A plan, as raw values.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// The problem.
    pub problem_id: i32,
    /// The agency's code (district and admin keys; an agency key plans as itself).
    pub agency: Option<String>,
    /// The project (โครงการ).
    pub project: String,
    /// When the help is planned for (at most two years ahead).
    pub planned_on: String,
    /// Budget in baht.
    pub budget: Option<f64>,
}

/// A plan and whether it is done.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    /// The plan.
    pub plan: plan::Model,
    /// The agency's code.
    pub agency_code: String,
    /// Done: the agency recorded help on the problem on or after the day the plan was made.
    pub done: bool,
}

/// Puts a problem `p` may see into an agency's plan. The agency must own the problem's
/// dimension in the problem's province; one plan per problem, agency and project.
pub async fn make(
    db: &DatabaseConnection,
    p: &Principal,
    input: PlanInput,
    today: NaiveDate,
) -> ApiResult<PlanRow> {
    let project = super::free_text("project", Some(&input.project), MAX_PROJECT)?
        .ok_or_else(|| ApiError::bad_input("project", "name the project"))?;
    let planned_on = ThaiDate::parse_str(&input.planned_on, today + chrono::Days::new(730))
        .map_err(|e| ApiError::bad_input("plannedOn", e.message_en()))?
        .date();
    let budget = match input.budget {
        Some(b) => Some(super::funds::positive_amount("budget", b)?),
        None => None,
    };
    let txn = super::begin_write(db).await?;
    let pr = problem::Entity::find_by_id(input.problem_id)
        .filter(p.problems())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("problem {}", input.problem_id)))?;
    let province: String = household::Entity::find_by_id(pr.house_code.clone())
        .select_only()
        .column(household::Column::ProvinceCode)
        .into_tuple()
        .one(&txn)
        .await?
        .unwrap_or_default();
    let given = match input
        .agency
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(code) => Some(
            agency::Entity::find()
                .filter(agency::Column::Code.eq(code))
                .filter(agency::Column::ProvinceCode.eq(&province))
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    ApiError::bad_input(
                        "agency",
                        format!("no agency {code} in province {province}"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let agency_id = p.plan_agency(given)?;
    let a = agency::Entity::find_by_id(agency_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("agency {agency_id}")))?;
    let dimension = dimension_of(pr.indicator_code)
        .ok_or_else(|| ApiError::Internal(format!("indicator {}", pr.indicator_code)))?;
    let owns = agency_dimension::Entity::find()
        .filter(agency_dimension::Column::AgencyId.eq(a.id))
        .filter(agency_dimension::Column::Dimension.eq(dimension))
        .one(&txn)
        .await?
        .is_some();
    if !owns {
        return Err(ApiError::bad_input(
            "agency",
            format!(
                "{} does not own the dimension {} of this problem",
                a.code,
                dimension.name_en()
            ),
        ));
    }
    let taken = plan::Entity::find()
        .filter(plan::Column::ProblemId.eq(pr.id))
        .filter(plan::Column::AgencyId.eq(a.id))
        .filter(plan::Column::Project.eq(&project))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(ApiError::bad_input(
            "project",
            format!(
                "the problem is already in {}'s project \"{project}\"",
                a.code
            ),
        ));
    }
    let counted =
        super::stats::Counted::before(&txn, &[pr.house_code.as_str().to_string()]).await?;
    let row = plan::ActiveModel {
        problem_id: Set(pr.id),
        agency_id: Set(a.id),
        project: Set(project),
        planned_on: Set(planned_on),
        budget_satang: Set(budget),
        made_on: Set(today),
        recorded_by: Set(p.label()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    super::audit::record(
        &txn,
        p,
        "plan.make",
        Some(&province),
        &format!("plan:{}", row.id),
        serde_json::json!({ "problem": row.problem_id, "agency": a.code, "project": row.project }),
    )
    .await?;
    counted.commit(txn).await?;
    let done = done_of(db, std::slice::from_ref(&row)).await?;
    Ok(PlanRow {
        done: done.contains(&row.id),
        agency_code: a.code,
        plan: row,
    })
}

/// The ids of the plans among `plans` that are done.
async fn done_of(db: &impl ConnectionTrait, plans: &[plan::Model]) -> ApiResult<HashSet<i32>> {
    let problems: Vec<i32> = plans.iter().map(|p| p.problem_id).collect();
    let mut done = HashSet::new();
    for chunk in problems.chunks(5_000) {
        let entries: Vec<(i32, Option<i32>, NaiveDate)> = logbook_entry::Entity::find()
            .select_only()
            .column(logbook_entry::Column::ProblemId)
            .column(logbook_entry::Column::AgencyId)
            .column(logbook_entry::Column::EntryDate)
            .filter(logbook_entry::Column::ProblemId.is_in(chunk.iter().copied()))
            .filter(logbook_entry::Column::AgencyId.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        for pl in plans {
            if entries.iter().any(|(pid, aid, d)| {
                *pid == pl.problem_id && *aid == Some(pl.agency_id) && *d >= pl.made_on
            }) {
                done.insert(pl.id);
            }
        }
    }
    Ok(done)
}

/// The plans `p` may see (those on problems it may see), of one agency and/or one problem,
/// newest first, at most `first`.
pub async fn list(
    db: &impl ConnectionTrait,
    p: &Principal,
    agency_code: Option<&str>,
    problem_id: Option<i32>,
    first: u64,
) -> ApiResult<Vec<PlanRow>> {
    let mut q = plan::Entity::find().filter(p.plans());
    if let Some(code) = agency_code {
        let ids: Vec<i32> = agency::Entity::find()
            .filter(agency::Column::Code.eq(code))
            .all(db)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        q = q.filter(plan::Column::AgencyId.is_in(ids));
    }
    if let Some(id) = problem_id {
        q = q.filter(plan::Column::ProblemId.eq(id));
    }
    let plans = q
        .order_by_desc(plan::Column::Id)
        .limit(first)
        .all(db)
        .await?;
    let done = done_of(db, &plans).await?;
    let codes: std::collections::HashMap<i32, String> = agency::Entity::find()
        .filter(agency::Column::Id.is_in(plans.iter().map(|p| p.agency_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.code))
        .collect();
    Ok(plans
        .into_iter()
        .map(|pl| PlanRow {
            done: done.contains(&pl.id),
            agency_code: codes.get(&pl.agency_id).cloned().unwrap_or_default(),
            plan: pl,
        })
        .collect())
}

/// Removes a plan: the agency itself (its own plans), the district or an admin (of plans
/// they may see).
pub async fn remove(db: &DatabaseConnection, p: &Principal, id: i32) -> ApiResult<()> {
    let txn = super::begin_write(db).await?;
    let pl = plan::Entity::find_by_id(id)
        .filter(p.plans())
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("plan {id}")))?;
    p.plan_agency(Some(pl.agency_id))?;
    let houses: Vec<String> = problem::Entity::find_by_id(pl.problem_id)
        .select_only()
        .column(problem::Column::HouseCode)
        .into_tuple()
        .all(&txn)
        .await?;
    let counted = super::stats::Counted::before(&txn, &houses).await?;
    plan::Entity::delete_by_id(pl.id).exec(&txn).await?;
    super::audit::record(
        &txn,
        p,
        "plan.remove",
        p.province(),
        &format!("plan:{}", pl.id),
        serde_json::json!({ "problem": pl.problem_id, "project": pl.project }),
    )
    .await?;
    counted.commit(txn).await?;
    Ok(())
}
