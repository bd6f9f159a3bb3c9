//! The district's check of logbook entries (verify, return with a note) and the months a
//! province locks after a district's report: an entry dated in a locked month is not added or
//! changed — by the API here, by the importer through its own check of the same table.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::reports::Month;
use chrono::{NaiveDate, Utc};
use entity::types::{AreaCode, AreaLevel, Verification};
use entity::{household, logbook_entry, month_lock, problem};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// Most entries one `verifyEntries` call takes.
pub const MAX_VERIFY: usize = 500;

/// Longest note on a returned entry, characters.
pub const MAX_NOTE: usize = 1000;

/// Refuses a write dated `date` in a district whose month is locked, in the write's own
/// transaction: first the change counter's lock, as [`lock`] takes it (on PostgreSQL;
/// SQLite's writing transaction holds the one write lock), so a month locked concurrently
/// is either seen here or waits until `txn` ends.
pub async fn ensure_open_in(
    txn: &sea_orm::DatabaseTransaction,
    district: &str,
    date: NaiveDate,
) -> ApiResult<()> {
    entity::stats_dirty::lock(txn).await?;
    ensure_open(txn, district, date).await
}

/// Refuses a write dated `date` in a district whose month is locked, as stored now. A write
/// in a transaction checks with [`ensure_open_in`], or takes the counter's lock once itself
/// before checking several entries with this.
pub async fn ensure_open(
    db: &impl ConnectionTrait,
    district: &str,
    date: NaiveDate,
) -> ApiResult<()> {
    let month = month_lock::month_of(date);
    let locked = month_lock::Entity::find_by_id((district.to_string(), month.clone()))
        .one(db)
        .await?;
    match locked {
        Some(_) => Err(ApiError::MonthLocked {
            district: district.to_string(),
            month,
        }),
        None => Ok(()),
    }
}

/// An entry `p` may see, with its household's district; NOT_FOUND otherwise.
pub async fn visible_entry(
    db: &impl ConnectionTrait,
    p: &Principal,
    id: i32,
) -> ApiResult<(logbook_entry::Model, String)> {
    let not_found = || ApiError::NotFound(format!("logbook entry {id}"));
    let entry = logbook_entry::Entity::find_by_id(id)
        .filter(p.entries())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let district: Option<String> = household::Entity::find()
        .select_only()
        .column(household::Column::DistrictCode)
        .filter(
            household::Column::HouseCode.in_subquery(
                Query::select()
                    .column(problem::Column::HouseCode)
                    .from(problem::Entity)
                    .and_where(problem::Column::Id.eq(entry.problem_id))
                    .to_owned(),
            ),
        )
        .filter(p.households())
        .into_tuple()
        .one(db)
        .await?;
    Ok((entry, district.ok_or_else(not_found)?))
}

/// Sets entries' check state in one transaction: all of `ids` or none (each must be visible
/// to `p`, and dated in an open month).
async fn set(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i32],
    state: Verification,
    note: Option<String>,
) -> ApiResult<Vec<logbook_entry::Model>> {
    p.may_verify()?;
    let txn = super::begin_write(db).await?;
    // the counter's lock once for every entry's month check ([`ensure_open_in`])
    entity::stats_dirty::lock(&txn).await?;
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let (e, district) = visible_entry(&txn, p, *id).await?;
        ensure_open(&txn, &district, e.entry_date).await?;
        found.push(e);
    }
    let stamp = entity::db::stamp(&txn).await?;
    let houses: Vec<String> = problem::Entity::find()
        .select_only()
        .column(problem::Column::HouseCode)
        .filter(problem::Column::Id.is_in(found.iter().map(|e| e.problem_id)))
        .into_tuple()
        .all(&txn)
        .await?;
    let counted = super::stats::Counted::before(&txn, &houses).await?;
    let mut out = Vec::with_capacity(found.len());
    for e in found {
        let mut m: logbook_entry::ActiveModel = e.into();
        m.verification = Set(state);
        m.verification_note = Set(note.clone());
        m.verified_by = Set(Some(p.label()));
        m.verified_at = Set(Some(stamp.at));
        // a change the feed reports
        m.change_seq = Set(stamp.seq);
        m.updated_at = Set(stamp.at);
        out.push(m.update(&txn).await?);
    }
    super::audit::record(
        &txn,
        p,
        match state {
            Verification::Verified => "entries.verified",
            Verification::Returned => "entry.returned",
            Verification::Recorded => "entries.recorded",
        },
        p.province(),
        &ids.iter().map(i32::to_string).collect::<Vec<_>>().join(","),
        serde_json::json!({ "ids": ids, "note": note }),
    )
    .await?;
    counted.commit(txn).await?;
    Ok(out)
}

/// Verifies entries (1–[`MAX_VERIFY`] ids; repeats count once).
pub async fn verify(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i32],
) -> ApiResult<Vec<logbook_entry::Model>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_VERIFY {
        return Err(ApiError::bad_input(
            "ids",
            format!("from 1 to {MAX_VERIFY} entry ids"),
        ));
    }
    set(db, p, &ids, Verification::Verified, None).await
}

/// Returns an entry to be corrected, with a note saying what is wrong.
pub async fn return_entry(
    db: &DatabaseConnection,
    p: &Principal,
    id: i32,
    note: &str,
) -> ApiResult<logbook_entry::Model> {
    let note = super::free_text("note", Some(note), MAX_NOTE)?.ok_or_else(|| {
        ApiError::bad_input(
            "note",
            "say what is to be corrected (the recorder reads it)",
        )
    })?;
    let mut out = set(db, p, &[id], Verification::Returned, Some(note)).await?;
    out.pop()
        .ok_or_else(|| ApiError::NotFound(format!("logbook entry {id}")))
}

/// A district code as given: 4 digits of a known district.
async fn district_code(db: &impl ConnectionTrait, raw: &str) -> ApiResult<String> {
    let code = AreaCode::parse_str(raw)
        .ok()
        .filter(|c| c.level() == AreaLevel::District)
        .ok_or_else(|| ApiError::bad_input("district", "a district code of 4 digits, e.g. 3318"))?;
    let known = entity::area::Entity::find_by_id(code.clone())
        .one(db)
        .await?
        .is_some();
    if !known {
        return Err(ApiError::NotFound(format!("district {code}")));
    }
    Ok(code.as_str().to_string())
}

/// Locks a district's month (again: nothing changes).
pub async fn lock(
    db: &DatabaseConnection,
    p: &Principal,
    district: &str,
    month: &str,
) -> ApiResult<month_lock::Model> {
    let month = Month::parse(month)?.key();
    let district = district_code(db, district).await?;
    p.may_lock(&district)?;
    let txn = super::begin_write(db).await?;
    // the writes that check a month (the API's and an import's) hold this lock while they
    // check and write: a lock commits before or after each of them, never in between
    entity::stats_dirty::lock(&txn).await?;
    if let Some(l) = month_lock::Entity::find_by_id((district.clone(), month.clone()))
        .one(&txn)
        .await?
    {
        return Ok(l);
    }
    let l = month_lock::ActiveModel {
        district_code: Set(district.clone()),
        month: Set(month.clone()),
        locked_by: Set(p.label()),
        locked_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    super::audit::record(
        &txn,
        p,
        "month.locked",
        district.get(..2),
        &format!("{district}/{month}"),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(l)
}

/// Unlocks a district's month; whether it was locked.
pub async fn unlock(
    db: &DatabaseConnection,
    p: &Principal,
    district: &str,
    month: &str,
) -> ApiResult<bool> {
    let month = Month::parse(month)?.key();
    let district = district_code(db, district).await?;
    p.may_lock(&district)?;
    let txn = super::begin_write(db).await?;
    let gone = month_lock::Entity::delete_by_id((district.clone(), month.clone()))
        .exec(&txn)
        .await?
        .rows_affected
        > 0;
    if gone {
        super::audit::record(
            &txn,
            p,
            "month.unlocked",
            district.get(..2),
            &format!("{district}/{month}"),
            serde_json::json!({}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(gone)
}

/// The locked months of the districts `p` may see, newest first.
pub async fn locks(db: &impl ConnectionTrait, p: &Principal) -> ApiResult<Vec<month_lock::Model>> {
    let mut q = month_lock::Entity::find();
    if let Some(prefix) = match p {
        Principal::District { district, .. } => Some(district.clone()),
        other => other.province().map(str::to_string),
    } {
        q = q.filter(month_lock::Column::DistrictCode.starts_with(&prefix));
    }
    Ok(q.order_by_desc(month_lock::Column::Month)
        .order_by_asc(month_lock::Column::DistrictCode)
        .all(db)
        .await?)
}

/// A page of entries waiting for the district's check (or in `state`), oldest first from an
/// entry id, with their agency's code: what the verification queue shows.
pub async fn queue(
    db: &impl ConnectionTrait,
    p: &Principal,
    state: Verification,
    after: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<(logbook_entry::Model, Option<String>)>, bool)> {
    p.may_verify()?;
    let condition = sea_orm::Condition::all()
        .add(p.entries())
        .add(logbook_entry::Column::Verification.eq(state));
    super::logbook::page(db, condition, after, first).await
}
