//! The district's check of logbook entries (verify, return with a note) and the months a
//! province locks after a district's report: an entry dated in a locked month is not added or
//! changed — by the API here, by the importer through its own check of the same table.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::reports::Month;
use chrono::{NaiveDate, Utc};
use entity::types::{AreaCode, AreaLevel, Verification};
use entity::{household, logbook_entry, month_lock, problem};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, Set,
};
use std::collections::{HashMap, HashSet};

/// Most entries one `verifyEntries` call takes.
pub const MAX_VERIFY: usize = 500;

/// Longest note on a returned entry, characters.
pub const MAX_NOTE: usize = 1000;

/// Refuses a write dated `date` in a district whose month is locked, as stored now. A write
/// checks it in its transaction after taking its district's shared lock and the change
/// counter's lock ([`super::stats::Counted::before`] takes both), as [`lock`] takes them (on
/// PostgreSQL; SQLite's writing transaction holds the one write lock), so a month locked
/// concurrently is either seen there or waits until the write ends.
pub async fn ensure_open(
    db: &impl ConnectionTrait,
    district: &str,
    date: NaiveDate,
) -> ApiResult<()> {
    ensure_all_open(db, &[(district, date)]).await
}

/// [`ensure_open`] for several writes, each a district and a date, in one statement; the
/// first in a locked month is refused.
async fn ensure_all_open(db: &impl ConnectionTrait, dated: &[(&str, NaiveDate)]) -> ApiResult<()> {
    let locked: HashSet<(String, String)> = month_lock::Entity::find()
        .filter(month_lock::Column::DistrictCode.is_in(dated.iter().map(|(d, _)| *d)))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.district_code, l.month))
        .collect();
    for (district, date) in dated {
        let month = month_lock::month_of(*date);
        if locked.contains(&(district.to_string(), month.clone())) {
            return Err(ApiError::MonthLocked {
                district: district.to_string(),
                month,
            });
        }
    }
    Ok(())
}

/// An entry `p` may see, with its household's district; NOT_FOUND otherwise.
pub async fn visible_entry(
    db: &impl ConnectionTrait,
    p: &Principal,
    id: i32,
) -> ApiResult<(logbook_entry::Model, String)> {
    let v = visible_entries(db, p, &[id])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("logbook entry {id}")))?;
    Ok((v.entry, v.district))
}

/// An entry `p` may see, with where its household is.
struct Visible {
    entry: logbook_entry::Model,
    district: String,
    house: String,
}

/// The entries `ids` (distinct, in that order), each with its household's district and house
/// code, in two statements whatever their number; NOT_FOUND for the first id `p` may not see
/// (or that does not exist).
async fn visible_entries(
    db: &impl ConnectionTrait,
    p: &Principal,
    ids: &[i32],
) -> ApiResult<Vec<Visible>> {
    let mut entries: HashMap<i32, logbook_entry::Model> = logbook_entry::Entity::find()
        .filter(logbook_entry::Column::Id.is_in(ids.iter().copied()))
        .filter(p.entries())
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    // each problem's district and house, where `p` may see its household
    let places: HashMap<i32, (String, String)> = problem::Entity::find()
        .select_only()
        .column(problem::Column::Id)
        .column(household::Column::DistrictCode)
        .column(problem::Column::HouseCode)
        .join(JoinType::InnerJoin, problem::Relation::Household.def())
        .filter(problem::Column::Id.is_in(entries.values().map(|e| e.problem_id)))
        .filter(p.households())
        .into_tuple::<(i32, String, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, district, house)| (id, (district, house)))
        .collect();
    ids.iter()
        .map(|id| {
            entries
                .remove(id)
                .and_then(|entry| {
                    let (district, house) = places.get(&entry.problem_id)?.clone();
                    Some(Visible {
                        entry,
                        district,
                        house,
                    })
                })
                .ok_or_else(|| ApiError::NotFound(format!("logbook entry {id}")))
        })
        .collect()
}

/// Sets entries' check state in one transaction: all of `ids` or none (each must be visible
/// to `p`, and dated in an open month). A fixed number of statements, however many ids.
async fn set(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i32],
    state: Verification,
    note: Option<String>,
) -> ApiResult<Vec<logbook_entry::Model>> {
    p.may_verify()?;
    let txn = super::begin_write(db).await?;
    let mut houses: Vec<String> = visible_entries(&txn, p, ids)
        .await?
        .into_iter()
        .map(|v| v.house)
        .collect();
    houses.sort_unstable();
    houses.dedup();
    // the districts' and the counter's locks (as [`ensure_open`] asks), once for every
    // entry's month check; the entries read again under them (an import of their district
    // may have committed while this write waited)
    let counted = super::stats::Counted::before(&txn, &houses).await?;
    let found = visible_entries(&txn, p, ids).await?;
    let dated: Vec<(&str, NaiveDate)> = found
        .iter()
        .map(|v| (v.district.as_str(), v.entry.entry_date))
        .collect();
    ensure_all_open(&txn, &dated).await?;
    let stamp = entity::db::stamp(&txn).await?;
    logbook_entry::Entity::update_many()
        .col_expr(logbook_entry::Column::Verification, Expr::value(state))
        .col_expr(
            logbook_entry::Column::VerificationNote,
            Expr::value(note.clone()),
        )
        .col_expr(logbook_entry::Column::VerifiedBy, Expr::value(p.label()))
        .col_expr(logbook_entry::Column::VerifiedAt, Expr::value(stamp.at))
        // a change the feed reports
        .col_expr(logbook_entry::Column::ChangeSeq, Expr::value(stamp.seq))
        .col_expr(logbook_entry::Column::UpdatedAt, Expr::value(stamp.at))
        .filter(logbook_entry::Column::Id.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let out = logbook_entry::Entity::find()
        .filter(logbook_entry::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(logbook_entry::Column::Id)
        .all(&txn)
        .await?;
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
    // the writes that check a month hold these locks while they check and write (an import
    // its district's alone, the API's the district's shared and the counter's): a lock
    // commits before or after each of them, never in between
    entity::db::share_districts(&txn, std::slice::from_ref(&district)).await?;
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
