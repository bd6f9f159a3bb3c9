//! Services: plain async functions over a connection, with no GraphQL inside. Each takes the
//! principal's condition from [`crate::access`] and applies it in its statements.

pub mod agencies;
pub mod assistance;
pub mod audit;
pub mod catalog;
pub mod changes;
pub mod evidence;
pub mod exports;
pub mod follow_up;
pub mod funds;
pub mod households;
pub mod imports;
pub mod keys;
pub mod logbook;
pub mod periods;
pub mod plans;
pub mod problems;
pub mod reports;
pub mod stats;
pub mod targets;
pub mod verification;
pub mod webhooks;

use crate::error::ApiResult;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// A page of rows newest first (by the integer key `id`), before an id; and whether more
/// follow. `select` already carries the principal's condition.
pub(crate) async fn newest_first<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: E::Column,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<E::Model>, bool)> {
    let mut q = select;
    if let Some(b) = before {
        q = q.filter(id.lt(b));
    }
    let mut rows = q.order_by_desc(id).limit(first + 1).all(db).await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// Free text from a caller, for `field`: at most `max` characters, no control character
/// (`BAD_USER_INPUT` naming the field otherwise), normalised; empty is none.
pub(crate) fn free_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> crate::error::ApiResult<Option<String>> {
    raw.map(|r| entity::types::text::parse_free_text(r, max))
        .transpose()
        .map(Option::flatten)
        .map_err(|e| crate::error::ApiError::bad_input(field, e.message_en()))
}

/// The day a caller names for figures "as of" (`2022-09-30`, `30/9/2565` …; not after
/// `today`), or `today` when it names none; `BAD_USER_INPUT` naming `field` otherwise.
pub fn day_or_today(
    field: &str,
    raw: Option<&str>,
    today: chrono::NaiveDate,
) -> crate::error::ApiResult<chrono::NaiveDate> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(today),
        Some(s) => entity::types::ThaiDate::parse_str(s, today)
            .map(|d| d.date())
            .map_err(|e| crate::error::ApiError::bad_input(field, e.message_en())),
    }
}

/// Begins a transaction that will write (the backends differ: [`entity::db::begin_write`]).
pub(crate) use entity::db::begin_write;

/// Takes, in a short write's transaction, the shared lock of the districts the households
/// `houses` are in ([`entity::db::share_districts`]): before the change counter's lock, so a
/// write in a district an import is writing waits for it without holding up the others.
pub(crate) async fn share_districts_of(
    txn: &impl ConnectionTrait,
    houses: &[String],
) -> ApiResult<()> {
    if houses.is_empty() {
        return Ok(());
    }
    let districts: Vec<String> = entity::household::Entity::find()
        .select_only()
        .column(entity::household::Column::DistrictCode)
        .distinct()
        .filter(entity::household::Column::HouseCode.is_in(houses.iter().cloned()))
        .into_tuple()
        .all(txn)
        .await?;
    entity::db::share_districts(txn, &districts).await?;
    Ok(())
}
