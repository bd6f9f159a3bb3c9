//! Evidence photos of logbook entries: attached by whoever may see the entry, listed and
//! served only to a key that may see the entry and its household's personal data.
//!
//! Nothing half-stored: the row is written `pending` (committed) before its objects, and
//! `stored` after both are written. Only stored rows are listed or served; a pending row left
//! by a crash, with whatever objects it had written, is removed by [`sweep`].
//!
//! One at a time per entry: the check (the same photo, the limit) and the pending row are one
//! writing transaction holding the entry's row, and a pending row younger than
//! [`PENDING_FOR`] counts as attached, so photos sent at the same moment cannot both pass.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::evidence::EvidenceStore;
use chrono::Utc;
use entity::evidence;
use entity::types::EvidenceState;
use entity::{household, logbook_entry, problem};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::collections::HashMap;

/// Most photos on one entry.
pub const MAX_PER_ENTRY: u64 = 10;

/// Longest caption, characters.
pub const MAX_CAPTION: usize = 500;

/// How long a pending row may wait before [`sweep`] takes it for a crash's leftover.
pub const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// The entries (by id) whose evidence `p` may see: visible entries of households whose
/// personal data it may see.
fn visible_entries(p: &Principal) -> sea_orm::Condition {
    sea_orm::Condition::all().add(
        evidence::Column::EntryId.in_subquery(
            Query::select()
                .column(logbook_entry::Column::Id)
                .from(logbook_entry::Entity)
                .cond_where(p.entries())
                .and_where(
                    logbook_entry::Column::ProblemId.in_subquery(
                        Query::select()
                            .column(problem::Column::Id)
                            .from(problem::Entity)
                            .and_where(
                                problem::Column::HouseCode.in_subquery(
                                    Query::select()
                                        .column(household::Column::HouseCode)
                                        .from(household::Entity)
                                        .cond_where(p.households())
                                        .to_owned(),
                                ),
                            )
                            .to_owned(),
                    ),
                )
                .to_owned(),
        ),
    )
}

/// Attaches a photo to an entry: checked and cleaned first (nothing is written for a photo
/// that is refused), then stored as described in the module's note.
pub async fn attach(
    db: &DatabaseConnection,
    store: &EvidenceStore,
    p: &Principal,
    entry_id: i32,
    bytes: Vec<u8>,
    caption: Option<&str>,
) -> ApiResult<evidence::Model> {
    let caption = super::free_text("caption", caption, MAX_CAPTION)?;
    let (entry, district) = super::verification::visible_entry(db, p, entry_id).await?;
    super::verification::ensure_open(db, &district, entry.entry_date).await?;
    let photo = store.process(bytes).await.map_err(|e| e.api())?;
    // checked and claimed in one writing transaction that holds the entry: two uploads of the
    // same photo at once, or past the limit, would both pass a check made beside the other
    let tx = super::begin_write(db).await?;
    entity::db::for_update(
        logbook_entry::Entity::find_by_id(entry.id),
        tx.get_database_backend(),
    )
    .one(&tx)
    .await?;
    // stored, or on its way (pending, younger than a crash's leftover the sweep takes)
    let held = evidence::Entity::find()
        .filter(evidence::Column::EntryId.eq(entry.id))
        .filter(
            Condition::any()
                .add(evidence::Column::State.eq(EvidenceState::Stored))
                .add(evidence::Column::CreatedAt.gt(Utc::now() - PENDING_FOR)),
        )
        .all(&tx)
        .await?;
    if held.iter().any(|e| e.sha256 == photo.sha256) {
        return Err(ApiError::bad_input(
            "file",
            "this photo is already attached to the entry (or is being attached now)",
        ));
    }
    if held.len() as u64 >= MAX_PER_ENTRY {
        return Err(ApiError::LimitExceeded(format!(
            "an entry keeps at most {MAX_PER_ENTRY} photos"
        )));
    }
    let token = format!("{:032x}", rand::random::<u128>());
    let base = format!("evidence/{}/{token}", entry.id);
    let row = evidence::ActiveModel {
        entry_id: Set(entry.id),
        state: Set(EvidenceState::Pending),
        object_key: Set(format!("{base}.{}", photo.extension)),
        thumb_key: Set(format!("{base}-thumb.jpg")),
        media_type: Set(photo.media_type.to_string()),
        byte_size: Set(photo.photo.len() as i64),
        width: Set(photo.width as i32),
        height: Set(photo.height as i32),
        sha256: Set(photo.sha256.clone()),
        caption: Set(caption),
        recorded_by: Set(p.label()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    let written = async {
        store.put(&row.object_key, photo.photo).await?;
        store.put(&row.thumb_key, photo.thumb).await
    }
    .await;
    if let Err(e) = written {
        tracing::warn!(evidence = row.id, error = %e, "the object store refused the photo");
        // undone at once; if this fails too, the sweep removes the pending row later
        discard(db, store, &row).await;
        return Err(ApiError::StorageUnavailable(e.to_string()));
    }
    let mut done: evidence::ActiveModel = row.into();
    done.state = Set(EvidenceState::Stored);
    let done = done.update(db).await?;
    tracing::info!(principal = %p.label(), entry = entry.id, evidence = done.id, bytes = done.byte_size, "evidence attached");
    Ok(done)
}

/// Removes a row and its objects (objects first: a row without objects is never left
/// visible, since only stored rows are shown and this row goes next).
async fn discard(db: &impl ConnectionTrait, store: &EvidenceStore, row: &evidence::Model) {
    for key in [&row.object_key, &row.thumb_key] {
        if let Err(e) = store.delete(key).await {
            tracing::warn!(evidence = row.id, key, error = %e, "could not delete an object");
        }
    }
    if let Err(e) = evidence::Entity::delete_by_id(row.id).exec(db).await {
        tracing::warn!(evidence = row.id, error = %e, "could not delete an evidence row");
    }
}

/// A stored photo `p` may see.
pub async fn visible(
    db: &impl ConnectionTrait,
    p: &Principal,
    id: i32,
) -> ApiResult<Option<evidence::Model>> {
    Ok(evidence::Entity::find_by_id(id)
        .filter(evidence::Column::State.eq(EvidenceState::Stored))
        .filter(visible_entries(p))
        .one(db)
        .await?)
}

/// The stored photos of these entries that `p` may see, oldest first, by entry.
pub async fn of_entries(
    db: &impl ConnectionTrait,
    p: &Principal,
    entry_ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<evidence::Model>>> {
    let mut out: HashMap<i32, Vec<evidence::Model>> = HashMap::new();
    for chunk in entry_ids.chunks(500) {
        for e in evidence::Entity::find()
            .filter(evidence::Column::EntryId.is_in(chunk.iter().copied()))
            .filter(evidence::Column::State.eq(EvidenceState::Stored))
            .filter(visible_entries(p))
            .order_by_asc(evidence::Column::Id)
            .all(db)
            .await?
        {
            out.entry(e.entry_id).or_default().push(e);
        }
    }
    Ok(out)
}

/// Deletes a photo: by whoever attached it, or by the district or an admin over the entry
/// (checked with the entry's visibility), in an open month.
pub async fn delete(
    db: &DatabaseConnection,
    store: &EvidenceStore,
    p: &Principal,
    id: i32,
) -> ApiResult<()> {
    let not_found = || ApiError::NotFound(format!("evidence {id}"));
    let row = visible(db, p, id).await?.ok_or_else(not_found)?;
    if row.recorded_by != p.label() {
        p.may_verify()
            .map_err(|_| ApiError::Forbidden("only who attached a photo may delete it".into()))?;
    }
    let (entry, district) = super::verification::visible_entry(db, p, row.entry_id).await?;
    super::verification::ensure_open(db, &district, entry.entry_date).await?;
    // hidden first (a crash after this leaves a pending row the sweep removes)
    let mut m: evidence::ActiveModel = row.clone().into();
    m.state = Set(EvidenceState::Pending);
    m.update(db).await?;
    discard(db, store, &row).await;
    super::audit::record(
        db,
        p,
        "evidence.deleted",
        p.province(),
        &format!("evidence/{id}"),
        serde_json::json!({ "entry": row.entry_id }),
    )
    .await?;
    Ok(())
}

/// Removes pending rows older than `older_than` with their objects: what a crash between the
/// objects and the row's last write leaves. Returns how many.
pub async fn sweep(
    db: &impl ConnectionTrait,
    store: &EvidenceStore,
    older_than: chrono::Duration,
) -> ApiResult<usize> {
    let before = Utc::now() - older_than;
    let rows = evidence::Entity::find()
        .filter(evidence::Column::State.eq(EvidenceState::Pending))
        .filter(evidence::Column::CreatedAt.lte(before))
        .all(db)
        .await?;
    for r in &rows {
        discard(db, store, r).await;
    }
    if !rows.is_empty() {
        tracing::info!(rows = rows.len(), "evidence left pending was removed");
    }
    Ok(rows.len())
}

/// Sweeps every few minutes until `stop` is set.
pub async fn upkeep(
    db: DatabaseConnection,
    store: EvidenceStore,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = sweep(&db, &store, PENDING_FOR).await {
            tracing::warn!(error = %e, "evidence sweep");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
        }
    }
}
