//! Logbook entries: filters, keyset pages and counts under a principal's condition.

use crate::error::ApiResult;
use chrono::NaiveDate;
use entity::{agency, logbook_entry};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Entries dated within a range, of an agency (code), with a result, on problems matching `problems`.
pub fn matching(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    agency: Option<&str>,
    status: Option<&str>,
    problems: Option<Condition>,
) -> Condition {
    let mut c = Condition::all();
    if let Some(f) = from {
        c = c.add(logbook_entry::Column::EntryDate.gte(f));
    }
    if let Some(t) = to {
        c = c.add(logbook_entry::Column::EntryDate.lte(t));
    }
    if let Some(a) = agency {
        c = c.add(
            logbook_entry::Column::AgencyId.in_subquery(
                Query::select()
                    .column(agency::Column::Id)
                    .from(agency::Entity)
                    .and_where(agency::Column::Code.eq(a))
                    .to_owned(),
            ),
        );
    }
    if let Some(s) = status {
        c = c.add(logbook_entry::Column::Status.eq(s));
    }
    if let Some(p) = problems {
        c = c.add(
            logbook_entry::Column::ProblemId.in_subquery(
                Query::select()
                    .column(entity::problem::Column::Id)
                    .from(entity::problem::Entity)
                    .cond_where(p)
                    .to_owned(),
            ),
        );
    }
    c
}

/// A page of entries with their agency's code, after an id.
pub async fn page(
    db: &impl ConnectionTrait,
    condition: Condition,
    after: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<(logbook_entry::Model, Option<String>)>, bool)> {
    let mut q = logbook_entry::Entity::find().filter(condition);
    if let Some(a) = after {
        q = q.filter(logbook_entry::Column::Id.gt(a));
    }
    let mut rows = q
        .order_by_asc(logbook_entry::Column::Id)
        .limit(first + 1)
        .find_also_related(agency::Entity)
        .all(db)
        .await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((
        rows.into_iter()
            .map(|(e, a)| (e, a.map(|a| a.code)))
            .collect(),
        more,
    ))
}

/// The codes of the known agencies of `entries`, by agency id.
pub async fn agency_codes(
    db: &impl ConnectionTrait,
    entries: &[logbook_entry::Model],
) -> ApiResult<std::collections::HashMap<i32, String>> {
    let mut ids: Vec<i32> = entries.iter().filter_map(|e| e.agency_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(agency::Entity::find()
        .filter(agency::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.code))
        .collect())
}

/// How many entries match `condition`.
pub async fn count(db: &impl ConnectionTrait, condition: Condition) -> ApiResult<u64> {
    Ok(logbook_entry::Entity::find()
        .filter(condition)
        .count(db)
        .await?)
}
