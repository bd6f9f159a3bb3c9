//! Problems: the conditions filters on problems become.

use entity::catalog::INDICATORS;
use entity::types::{Cohort, Dimension};
use entity::{cohort, problem};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition};

/// Problems of a dimension, an indicator, a status and a cohort (each optional).
pub fn matching(
    dimension: Option<Dimension>,
    indicator: Option<i32>,
    status: Option<&str>,
    cohort: Option<Cohort>,
) -> Condition {
    let mut c = Condition::all();
    if let Some(d) = dimension {
        let codes: Vec<i32> = INDICATORS
            .iter()
            .filter(|i| i.dimension == d)
            .map(|i| i32::from(i.code))
            .collect();
        c = c.add(problem::Column::IndicatorCode.is_in(codes));
    }
    if let Some(i) = indicator {
        c = c.add(problem::Column::IndicatorCode.eq(i));
    }
    if let Some(s) = status {
        c = c.add(problem::Column::Status.eq(s));
    }
    if let Some(co) = cohort {
        c = c.add(problem::Column::CohortId.in_subquery(cohort_ids(co)));
    }
    c
}

/// The id of a cohort, as a subquery.
pub fn cohort_ids(co: Cohort) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(cohort::Column::Id)
        .from(cohort::Entity)
        .and_where(cohort::Column::Source.eq(co.source.key()))
        .and_where(cohort::Column::BeYear.eq(co.be_year))
        .to_owned()
}

/// Problems of households matching `c`.
pub fn of_households(c: Condition) -> Condition {
    Condition::all().add(
        problem::Column::HouseCode.in_subquery(
            Query::select()
                .column(entity::household::Column::HouseCode)
                .from(entity::household::Entity)
                .cond_where(c)
                .to_owned(),
        ),
    )
}

/// A page of problems matching `condition` (which includes the principal's), after an id.
pub async fn page(
    db: &impl sea_orm::ConnectionTrait,
    condition: Condition,
    after: Option<i32>,
    first: u64,
) -> crate::error::ApiResult<(Vec<problem::Model>, bool)> {
    use sea_orm::{EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = problem::Entity::find().filter(condition);
    if let Some(a) = after {
        q = q.filter(problem::Column::Id.gt(a));
    }
    let mut rows = q
        .order_by_asc(problem::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// How many problems match `condition`.
pub async fn count(
    db: &impl sea_orm::ConnectionTrait,
    condition: Condition,
) -> crate::error::ApiResult<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter};
    Ok(problem::Entity::find().filter(condition).count(db).await?)
}
