//! Webhooks: a key's subscriptions (create, list, delete, their deliveries), the events API
//! writes add to the outbox in their own transaction, the fan-out of events into deliveries,
//! and each delivery's course — claimed when due, the key's rule checked again, sent,
//! retried with backoff, given up after a day. Sending itself is [`crate::delivery`].

use crate::access::Principal;
use crate::delivery::{Policy, Sender};
use crate::error::{ApiError, ApiResult};
use base64::Engine;
use chrono::{DateTime, Utc};
use entity::catalog::dimension_of;
use entity::outbox::{self, Subscribed};
use entity::types::{AreaCode, DeliveryStatus, Dimension, ProblemStatus, WebhookTopic};
use entity::{
    agency, import_batch, logbook_entry, problem, webhook, webhook_attempt, webhook_delivery,
    webhook_event,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    Iterable, PaginatorTrait, PrimaryKeyToColumn, QueryFilter, QueryOrder, QuerySelect, Set,
    Statement,
};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// Webhooks one key may have.
pub const MAX_PER_KEY: u64 = 10;
/// Area codes one webhook may filter on.
pub const MAX_AREAS: usize = 50;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// What a caller asks for, as given.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Where to post.
    pub url: String,
    /// What to post.
    pub topics: Vec<WebhookTopic>,
    /// What it is for.
    pub description: Option<String>,
    /// Only problems in these dimensions (none: all the key sees).
    pub dimensions: Vec<Dimension>,
    /// Only these areas (codes of 2, 4, 6 or 8 digits; none: all the key sees).
    pub area_codes: Vec<String>,
}

/// A webhook's settings, read back from its row.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Its topics.
    pub topics: Vec<WebhookTopic>,
    /// Its dimensions (empty: all).
    pub dimensions: Vec<Dimension>,
    /// Its area codes (empty: all).
    pub area_codes: Vec<String>,
}

impl Subscription {
    /// The settings stored in `w`.
    pub fn of(w: &webhook::Model) -> Self {
        fn list(s: Option<&str>) -> impl Iterator<Item = &str> {
            s.unwrap_or("").split(',').filter(|k| !k.is_empty())
        }
        Self {
            topics: list(Some(&w.topics))
                .filter_map(WebhookTopic::from_key)
                .collect(),
            dimensions: list(w.dimensions.as_deref())
                .filter_map(Dimension::from_key)
                .collect(),
            area_codes: list(w.area_codes.as_deref()).map(str::to_string).collect(),
        }
    }

    /// Whether an event passes its topic, dimension and area filters (the key's rule is
    /// checked apart). A batch has no dimension: a dimension filter lets it through.
    pub fn matches(&self, e: &webhook_event::Model) -> bool {
        let dimension = e.indicator_code.and_then(dimension_of);
        self.topics.contains(&e.topic)
            && (self.dimensions.is_empty()
                || dimension.is_none_or(|d| self.dimensions.contains(&d)))
            && (self.area_codes.is_empty()
                || e.area_code
                    .as_deref()
                    .is_some_and(|a| self.area_codes.iter().any(|c| a.starts_with(c.as_str()))))
    }
}

fn join<T>(items: &[T], key: impl Fn(&T) -> &str) -> Option<String> {
    (!items.is_empty()).then(|| items.iter().map(key).collect::<Vec<_>>().join(","))
}

/// Creates a webhook for the caller's key; returns it and its signing secret (shown this
/// once). The URL must pass `policy`.
pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    policy: &Policy,
    new: NewWebhook,
) -> ApiResult<(webhook::Model, String)> {
    let Some(key_id) = p.key_id() else {
        return Err(ApiError::Forbidden(
            "a webhook belongs to an API key; the command line has none".into(),
        ));
    };
    let mut topics = new.topics;
    topics.sort();
    topics.dedup();
    if topics.is_empty() {
        return Err(ApiError::bad_input("topics", "name at least one topic"));
    }
    if topics.contains(&WebhookTopic::ImportBatchFinished) && !p.sees_batches() {
        return Err(ApiError::bad_input(
            "topics",
            "an agency key sees no import batches: IMPORT_BATCH_FINISHED is for district and admin keys",
        ));
    }
    let mut dimensions = new.dimensions;
    dimensions.sort();
    dimensions.dedup();
    if new.area_codes.len() > MAX_AREAS {
        return Err(ApiError::bad_input(
            "areaCodes",
            format!("at most {MAX_AREAS} area codes"),
        ));
    }
    let mut areas = Vec::new();
    for a in &new.area_codes {
        let code = AreaCode::parse_str(a)
            .map_err(|e| ApiError::bad_input("areaCodes", format!("{a}: {}", e.message_en())))?;
        areas.push(code.as_str().to_string());
    }
    areas.sort();
    areas.dedup();
    let description = super::free_text("description", new.description.as_deref(), MAX_DESCRIPTION)?;
    let url = policy.check_new(&new.url).await?;
    let held = webhook::Entity::find()
        .filter(webhook::Column::KeyId.eq(key_id))
        .count(db)
        .await?;
    if held >= MAX_PER_KEY {
        return Err(ApiError::LimitExceeded(format!(
            "a key has at most {MAX_PER_KEY} webhooks; delete one first"
        )));
    }
    let secret = new_secret();
    let tx = super::begin_write(db).await?;
    let hook = webhook::ActiveModel {
        key_id: Set(key_id),
        url: Set(url.to_string()),
        topics: Set(join(&topics, |t| t.key()).unwrap_or_default()),
        dimensions: Set(join(&dimensions, |d| d.key())),
        area_codes: Set(join(&areas, |a| a.as_str())),
        description: Set(description),
        secret: Set(secret.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    super::audit::record(
        &tx,
        p,
        "webhook.create",
        p.province(),
        &hook.id.to_string(),
        json!({"url": hook.url, "topics": hook.topics, "dimensions": hook.dimensions, "areaCodes": hook.area_codes}),
    )
    .await?;
    tx.commit().await?;
    Ok((hook, secret))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64 (Standard Webhooks).
fn new_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    )
}

/// How long a webhook's previous secret keeps signing after a rotation unless the key says,
/// in hours.
pub const DEFAULT_KEEP_PREVIOUS_HOURS: i32 = 24;

/// Longest a webhook's previous secret may keep signing after a rotation, in hours (a week).
pub const MAX_KEEP_PREVIOUS_HOURS: i32 = 168;

/// Replaces the signing secret of a webhook of the caller's key; returns the webhook and the
/// new secret (shown this once). The secret it replaces keeps signing beside the new one for
/// `keep_previous_hours` (0: not at all; at most [`MAX_KEEP_PREVIOUS_HOURS`]), so a receiver
/// that still checks the old one refuses nothing while it switches; an older previous secret
/// stops at once.
pub async fn rotate_secret(
    db: &DatabaseConnection,
    p: &Principal,
    id: i32,
    keep_previous_hours: i32,
) -> ApiResult<(webhook::Model, String)> {
    if !(0..=MAX_KEEP_PREVIOUS_HOURS).contains(&keep_previous_hours) {
        return Err(ApiError::bad_input(
            "keepPreviousHours",
            format!("0 to {MAX_KEEP_PREVIOUS_HOURS} hours (a week)"),
        ));
    }
    let tx = super::begin_write(db).await?;
    let hook = own(&tx, p, id).await?;
    let secret = new_secret();
    let keep = keep_previous_hours > 0;
    let until = Utc::now() + chrono::Duration::hours(i64::from(keep_previous_hours));
    let mut m: webhook::ActiveModel = hook.clone().into();
    m.secret = Set(secret.clone());
    m.previous_secret = Set(keep.then_some(hook.secret));
    m.previous_secret_until = Set(keep.then_some(until));
    let saved = m.update(&tx).await?;
    super::audit::record(
        &tx,
        p,
        "webhook.rotate_secret",
        p.province(),
        &id.to_string(),
        json!({"keepPreviousHours": keep_previous_hours}),
    )
    .await?;
    tx.commit().await?;
    Ok((saved, secret))
}

/// The secrets a delivery to `hook` is signed with at `now`: its secret, and its previous one
/// until that one's time ends.
pub fn signing_secrets(hook: &webhook::Model, now: DateTime<Utc>) -> Vec<&str> {
    let mut out = vec![hook.secret.as_str()];
    if let (Some(old), Some(until)) = (&hook.previous_secret, hook.previous_secret_until)
        && now < until
    {
        out.push(old.as_str());
    }
    out
}

/// The webhooks of the caller's key, oldest first.
pub async fn list(db: &impl ConnectionTrait, p: &Principal) -> ApiResult<Vec<webhook::Model>> {
    let Some(key_id) = p.key_id() else {
        return Ok(Vec::new());
    };
    Ok(webhook::Entity::find()
        .filter(webhook::Column::KeyId.eq(key_id))
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?)
}

/// One webhook of the caller's key.
pub async fn own(db: &impl ConnectionTrait, p: &Principal, id: i32) -> ApiResult<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::KeyId.eq(p.key_id().unwrap_or(-1)))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook {id} of this key")))
}

/// Deletes a webhook of the caller's key, with its deliveries (none is sent after).
pub async fn delete(db: &DatabaseConnection, p: &Principal, id: i32) -> ApiResult<()> {
    let hook = own(db, p, id).await?;
    let tx = super::begin_write(db).await?;
    webhook::Entity::delete_by_id(hook.id).exec(&tx).await?;
    super::audit::record(
        &tx,
        p,
        "webhook.delete",
        p.province(),
        &id.to_string(),
        json!({"url": hook.url}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A delivery with its event.
pub type DeliveryRow = (webhook_delivery::Model, webhook_event::Model);

/// A page of a webhook's deliveries, newest first, before an id (optionally of one
/// status); and whether more follow.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    p: &Principal,
    webhook_id: i32,
    status: Option<DeliveryStatus>,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<DeliveryRow>, bool)> {
    let hook = own(db, p, webhook_id).await?;
    let mut q =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(hook.id));
    if let Some(s) = status {
        q = q.filter(webhook_delivery::Column::Status.eq(s));
    }
    let (rows, more) =
        super::newest_first(db, q, webhook_delivery::Column::Id, before, first).await?;
    let ids: Vec<i32> = rows.iter().map(|d| d.event_id).collect();
    let events: HashMap<i32, webhook_event::Model> = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok((
        rows.into_iter()
            .filter_map(|d| events.get(&d.event_id).cloned().map(|e| (d, e)))
            .collect(),
        more,
    ))
}

/// The attempts of these deliveries, in order, by delivery.
pub async fn attempts(
    db: &impl ConnectionTrait,
    delivery_ids: &[i32],
) -> ApiResult<HashMap<i32, Vec<webhook_attempt::Model>>> {
    let mut out: HashMap<i32, Vec<webhook_attempt::Model>> = HashMap::new();
    for a in webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(delivery_ids.to_vec()))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(db)
        .await?
    {
        out.entry(a.delivery_id).or_default().push(a);
    }
    Ok(out)
}

async fn run(db: &impl ConnectionTrait, sql: String, values: Vec<sea_orm::Value>) -> ApiResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// In a writer's transaction: announces help recorded through the API — the entry, and the
/// problem's status when it moved from `was` — to the webhooks that want them. `stamp` is the
/// write's change.
pub async fn announce_assistance(
    txn: &impl ConnectionTrait,
    entry_id: i32,
    problem_id: i32,
    was: ProblemStatus,
    stamp: entity::db::Stamp,
) -> ApiResult<()> {
    let at = stamp.at;
    let subs = Subscribed::load(txn).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let ph = |n| entity::db::placeholder(txn.get_database_backend(), n);
    if subs.wants(WebhookTopic::LogbookEntryCreated) {
        run(
            txn,
            outbox::entries_created(ph),
            vec![at.into(), (entry_id - 1).into(), stamp.seq.into()],
        )
        .await?;
    }
    if subs.wants(WebhookTopic::ProblemStatusChanged) {
        let now = problem::Entity::find_by_id(problem_id)
            .select_only()
            .column(problem::Column::Status)
            .into_tuple::<ProblemStatus>()
            .one(txn)
            .await?;
        if now.is_some_and(|s| s != was) {
            run(
                txn,
                outbox::statuses_changed(&[(problem_id, was)], ph),
                vec![at.into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// In a writer's transaction: announces a batch's end (one that failed outside the
/// importer; the importer announces its own).
pub async fn announce_batch(
    txn: &impl ConnectionTrait,
    batch: &import_batch::Model,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    if Subscribed::load(txn)
        .await?
        .wants(WebhookTopic::ImportBatchFinished)
    {
        let ph = |n| entity::db::placeholder(txn.get_database_backend(), n);
        run(
            txn,
            outbox::batch_finished(ph),
            vec![
                batch.id.into(),
                batch.district_code.clone().into(),
                at.into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The subjects among `ids` of events of `topic` that `p` may see now.
async fn visible(
    db: &impl ConnectionTrait,
    p: &Principal,
    topic: WebhookTopic,
    ids: Vec<i32>,
) -> ApiResult<HashSet<i32>> {
    let found: Vec<i32> = match topic {
        WebhookTopic::ProblemCreated | WebhookTopic::ProblemStatusChanged => {
            problem::Entity::find()
                .select_only()
                .column(problem::Column::Id)
                .filter(p.problems())
                .filter(problem::Column::Id.is_in(ids))
                .into_tuple()
                .all(db)
                .await?
        }
        WebhookTopic::LogbookEntryCreated => {
            logbook_entry::Entity::find()
                .select_only()
                .column(logbook_entry::Column::Id)
                .filter(p.entries())
                .filter(logbook_entry::Column::Id.is_in(ids))
                .into_tuple()
                .all(db)
                .await?
        }
        WebhookTopic::ImportBatchFinished => {
            import_batch::Entity::find()
                .select_only()
                .column(import_batch::Column::Id)
                .filter(p.batches())
                .filter(import_batch::Column::Id.is_in(ids))
                .into_tuple()
                .all(db)
                .await?
        }
    };
    Ok(found.into_iter().collect())
}

/// Deletes up to `limit` events older than `keep` that were fanned out and have no delivery
/// still pending, with their deliveries and attempts (the schema cascades); the oldest first.
/// Returns how many events went. Retries end a day after their event, so with any `keep`
/// longer than that only finished deliveries go.
pub async fn prune(db: &DatabaseConnection, keep: chrono::Duration, limit: u64) -> ApiResult<u64> {
    use sea_orm::sea_query::Query;
    let cutoff = Utc::now() - keep;
    let old = Query::select()
        .column(webhook_event::Column::Id)
        .from(webhook_event::Entity)
        .and_where(webhook_event::Column::Dispatched.eq(true))
        .and_where(webhook_event::Column::At.lt(cutoff))
        .and_where(
            webhook_event::Column::Id.not_in_subquery(
                Query::select()
                    .column(webhook_delivery::Column::EventId)
                    .from(webhook_delivery::Entity)
                    .and_where(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
                    .to_owned(),
            ),
        )
        .order_by(webhook_event::Column::Id, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    let gone = webhook_event::Entity::delete_many()
        .filter(webhook_event::Column::Id.in_subquery(old))
        .exec(db)
        .await?;
    Ok(gone.rows_affected)
}

/// Fans out up to `limit` events not yet fanned out: one pending delivery for each webhook
/// whose filters the event passes and whose key may see its record now; an event no
/// webhook takes is dropped. Returns the deliveries made. Safe beside another process doing
/// the same (a delivery is unique per webhook and event).
pub async fn fan_out(db: &DatabaseConnection, limit: u64) -> ApiResult<usize> {
    let events = webhook_event::Entity::find()
        .filter(webhook_event::Column::Dispatched.eq(false))
        .order_by_asc(webhook_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    if events.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    for hook in webhook::Entity::find().all(db).await? {
        let Some(key) = super::keys::by_id(db, hook.key_id).await? else {
            continue;
        };
        let sub = Subscription::of(&hook);
        let mut by_topic: HashMap<WebhookTopic, Vec<&webhook_event::Model>> = HashMap::new();
        for e in events.iter().filter(|e| sub.matches(e)) {
            by_topic.entry(e.topic).or_default().push(e);
        }
        for (topic, evs) in by_topic {
            let seen = visible(
                db,
                &key.principal,
                topic,
                evs.iter().map(|e| e.subject_id).collect(),
            )
            .await?;
            rows.extend(
                evs.iter()
                    .filter(|e| seen.contains(&e.subject_id))
                    .map(|e| webhook_delivery::ActiveModel {
                        webhook_id: Set(hook.id),
                        event_id: Set(e.id),
                        status: Set(DeliveryStatus::Pending),
                        attempts: Set(0),
                        next_attempt_at: Set(Some(now)),
                        lease_until: Set(None),
                        last_response: Set(None),
                        last_error: Set(None),
                        created_at: Set(now),
                        finished_at: Set(None),
                        ..Default::default()
                    }),
            );
        }
    }
    let made = rows.len();
    let tx = super::begin_write(db).await?;
    for chunk in rows.chunks(500) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    webhook_delivery::Column::WebhookId,
                    webhook_delivery::Column::EventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&tx)
            .await?;
    }
    webhook_event::Entity::update_many()
        .col_expr(webhook_event::Column::Dispatched, Expr::value(true))
        .filter(webhook_event::Column::Id.is_in(events.iter().map(|e| e.id)))
        .exec(&tx)
        .await?;
    // an event no webhook took is not kept
    let taken: HashSet<i32> = rows
        .iter()
        .filter_map(|r| match &r.event_id {
            sea_orm::ActiveValue::Set(id) => Some(*id),
            _ => None,
        })
        .collect();
    let untaken: Vec<i32> = events
        .iter()
        .map(|e| e.id)
        .filter(|id| !taken.contains(id))
        .collect();
    if !untaken.is_empty() {
        webhook_event::Entity::delete_many()
            .filter(webhook_event::Column::Id.is_in(untaken))
            .filter(
                webhook_event::Column::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(webhook_delivery::Column::EventId)
                        .from(webhook_delivery::Entity)
                        .to_owned(),
                ),
            )
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    if made > 0 {
        tracing::debug!(
            events = events.len(),
            deliveries = made,
            "webhook events fanned out"
        );
    }
    Ok(made)
}

/// How long a sender holds a claimed delivery before another may take it.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// Claims up to `limit` pending deliveries now due, oldest due first: their ids read, then
/// leased in one statement that takes only those still pending and free (another sender may
/// have taken some in between), returning what it took.
pub async fn claim_due(
    db: &DatabaseConnection,
    limit: u64,
) -> ApiResult<Vec<webhook_delivery::Model>> {
    use webhook_delivery::Column as D;
    let now = Utc::now();
    let free = || {
        Condition::any()
            .add(D::LeaseUntil.is_null())
            .add(D::LeaseUntil.lt(now))
    };
    let due: Vec<i32> = webhook_delivery::Entity::find()
        .select_only()
        .column(D::Id)
        .filter(D::Status.eq(DeliveryStatus::Pending))
        .filter(D::NextAttemptAt.lte(now))
        .filter(free())
        .order_by_asc(D::NextAttemptAt)
        .order_by_asc(D::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = webhook_delivery::Entity::update_many()
        .col_expr(D::LeaseUntil, Expr::value(now + LEASE))
        .filter(D::Id.is_in(due))
        .filter(D::Status.eq(DeliveryStatus::Pending))
        .filter(free())
        .exec_with_returning(db)
        .await?;
    claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
    Ok(claimed)
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        response: i32,
        /// How long it took.
        ms: i32,
    },
    /// It did not.
    Failed {
        /// The receiver's status, if it answered.
        response: Option<i32>,
        /// Why, when it did not answer (or answered a redirect).
        error: Option<String>,
        /// How long it took.
        ms: i32,
    },
}

/// The bodies of `events` for `p`, by event id; an event whose record `p` may not see now
/// has none. One statement per topic (and one for the entries' agencies), whatever the
/// number of events.
pub async fn bodies(
    db: &impl ConnectionTrait,
    p: &Principal,
    events: &[webhook_event::Model],
) -> ApiResult<HashMap<i32, serde_json::Value>> {
    let dimension = |code: Option<i32>| code.and_then(dimension_of).map(|d| d.key());
    let status = |s: Option<ProblemStatus>| s.map(|s| s.key());
    let of = |topics: &[WebhookTopic]| -> Vec<i32> {
        events
            .iter()
            .filter(|e| topics.contains(&e.topic))
            .map(|e| e.subject_id)
            .collect()
    };
    let problems = of(&[
        WebhookTopic::ProblemCreated,
        WebhookTopic::ProblemStatusChanged,
    ]);
    let problems = if problems.is_empty() {
        HashSet::new()
    } else {
        visible(db, p, WebhookTopic::ProblemCreated, problems).await?
    };
    let entries = of(&[WebhookTopic::LogbookEntryCreated]);
    let entries = rows_by_id::<logbook_entry::Entity>(db, p.entries(), entries, |e| e.id).await?;
    let agency_ids: Vec<i32> = entries.values().filter_map(|e| e.agency_id).collect();
    let agencies: HashMap<i32, String> =
        rows_by_id::<agency::Entity>(db, Condition::all(), agency_ids, |a| a.id)
            .await?
            .into_iter()
            .map(|(id, a)| (id, a.code))
            .collect();
    let batches = of(&[WebhookTopic::ImportBatchFinished]);
    let batches = rows_by_id::<import_batch::Entity>(db, p.batches(), batches, |b| b.id).await?;
    let mut out = HashMap::new();
    for e in events {
        let data = match e.topic {
            WebhookTopic::ProblemCreated | WebhookTopic::ProblemStatusChanged => {
                if !problems.contains(&e.subject_id) {
                    continue;
                }
                let mut d = json!({
                    "problemId": e.subject_id,
                    "houseCode": e.house_code,
                    "indicator": e.indicator_code,
                    "dimension": dimension(e.indicator_code),
                    "status": status(e.status),
                    "areaCode": e.area_code,
                });
                if e.topic == WebhookTopic::ProblemStatusChanged {
                    d["previousStatus"] = json!(status(e.previous_status));
                }
                d
            }
            WebhookTopic::LogbookEntryCreated => {
                let Some(entry) = entries.get(&e.subject_id) else {
                    continue;
                };
                json!({
                    "entryId": entry.id,
                    "problemId": entry.problem_id,
                    "houseCode": e.house_code,
                    "indicator": e.indicator_code,
                    "dimension": dimension(e.indicator_code),
                    "date": entry.entry_date.to_string(),
                    "agency": entry.agency_id.and_then(|id| agencies.get(&id)),
                    "status": status(e.status),
                    "areaCode": e.area_code,
                })
            }
            WebhookTopic::ImportBatchFinished => {
                let Some(b) = batches.get(&e.subject_id) else {
                    continue;
                };
                json!({
                    "batchId": b.id,
                    "fileName": b.file_name,
                    "status": b.status.key(),
                    "dryRun": b.dry_run,
                    "districtCode": b.district_code,
                    "errors": b.error_count,
                    "warnings": b.warning_count,
                    "finishedAt": b.finished_at.map(|t| t.to_rfc3339()),
                })
            }
        };
        out.insert(
            e.id,
            json!({
                "type": e.topic.key(),
                "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": data,
            }),
        );
    }
    Ok(out)
}

/// The rows of `E` with these ids that `visible` lets through, by id, in one statement (none
/// when no id is asked).
async fn rows_by_id<E>(
    db: &impl ConnectionTrait,
    visible: Condition,
    ids: Vec<i32>,
    id_of: fn(&E::Model) -> i32,
) -> ApiResult<HashMap<i32, E::Model>>
where
    E: EntityTrait,
{
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let pk = E::PrimaryKey::iter()
        .next()
        .map(|k| k.into_column())
        .ok_or_else(|| ApiError::Internal("an entity without a primary key".into()))?;
    Ok(E::find()
        .filter(visible)
        .filter(pk.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (id_of(&r), r))
        .collect())
}

/// The `webhook-id` of an event: the same for every attempt and every webhook, so that a
/// receiver can drop what it has seen.
pub fn message_id(event_id: i32) -> String {
    format!("evt_{event_id}")
}

/// Sends claimed deliveries: each key's rule is checked again now (a record it may no
/// longer see, or a key revoked or expired, withholds the delivery), then they are posted,
/// `concurrency` at a time, and every attempt is recorded. The page's webhooks, events and
/// keys are read once, each key's records in one statement per topic, and the attempts
/// written in one transaction: a few statements a page instead of about ten a delivery.
pub async fn deliver_all(
    db: &DatabaseConnection,
    sender: &Sender,
    claimed: Vec<webhook_delivery::Model>,
) -> ApiResult<usize> {
    use futures::StreamExt;
    let n = claimed.len();
    if n == 0 {
        return Ok(0);
    }
    let ids = |f: fn(&webhook_delivery::Model) -> i32| -> HashSet<i32> {
        claimed.iter().map(f).collect()
    };
    let hooks: HashMap<i32, webhook::Model> = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(ids(|d| d.webhook_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let events: HashMap<i32, webhook_event::Model> = webhook_event::Entity::find()
        .filter(webhook_event::Column::Id.is_in(ids(|d| d.event_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    // per key: whether it still works, and the bodies of its events
    let mut by_key: HashMap<i32, Vec<webhook_event::Model>> = HashMap::new();
    for d in &claimed {
        if let (Some(h), Some(e)) = (hooks.get(&d.webhook_id), events.get(&d.event_id)) {
            by_key.entry(h.key_id).or_default().push(e.clone());
        }
    }
    let mut keys: HashMap<i32, Option<HashMap<i32, serde_json::Value>>> = HashMap::new();
    for (key_id, mut evs) in by_key {
        evs.sort_by_key(|e| e.id);
        evs.dedup_by_key(|e| e.id);
        let bodies = match super::keys::by_id(db, key_id).await? {
            Some(k) => Some(bodies(db, &k.principal, &evs).await?),
            None => None,
        };
        keys.insert(key_id, bodies);
    }
    let mut withheld = Vec::new();
    let mut posts = Vec::new();
    for d in claimed {
        // a webhook or event gone since the claim (deleted): its lease runs out unused
        let (Some(hook), Some(event)) = (hooks.get(&d.webhook_id), events.get(&d.event_id)) else {
            continue;
        };
        let Some(Some(bodies)) = keys.get(&hook.key_id) else {
            withheld.push((d, "the webhook's key is revoked or expired"));
            continue;
        };
        let Some(body) = bodies.get(&event.id) else {
            withheld.push((d, "the key may no longer see this record"));
            continue;
        };
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
        posts.push(Post {
            delivery: d,
            hook: hook.clone(),
            event_id: event.id,
            event_at: event.at,
            bytes,
        });
    }
    let sent: Vec<(Post, Outcome)> = futures::stream::iter(posts)
        .map(|p| async move {
            // signed with the secrets that sign at the moment it is sent
            let secrets = signing_secrets(&p.hook, Utc::now());
            let id = message_id(p.event_id);
            let outcome = sender.post(&p.hook.url, &secrets, &id, &p.bytes).await;
            (p, outcome)
        })
        .buffer_unordered(sender.config().concurrency.max(1))
        .collect()
        .await;
    record(db, sender, withheld, sent).await?;
    Ok(n)
}

/// A delivery ready to post.
struct Post {
    delivery: webhook_delivery::Model,
    /// Where it goes, and the secrets that sign it.
    hook: webhook::Model,
    event_id: i32,
    /// When its event happened (retries end a while after it).
    event_at: DateTime<Utc>,
    bytes: Vec<u8>,
}

/// Records a page's outcomes in one transaction: withheld deliveries end; each attempt is
/// written and its delivery moves on — delivered, due again after the backoff, or failed
/// once the retries' time since its event has passed.
async fn record(
    db: &DatabaseConnection,
    sender: &Sender,
    withheld: Vec<(webhook_delivery::Model, &str)>,
    sent: Vec<(Post, Outcome)>,
) -> ApiResult<()> {
    let now = Utc::now();
    let config = sender.config();
    let tx = super::begin_write(db).await?;
    for (d, why) in &withheld {
        webhook_delivery::ActiveModel {
            id: Set(d.id),
            status: Set(DeliveryStatus::Withheld),
            next_attempt_at: Set(None),
            lease_until: Set(None),
            last_error: Set(Some(why.to_string())),
            finished_at: Set(Some(now)),
            ..Default::default()
        }
        .update(&tx)
        .await?;
        tracing::info!(delivery = d.id, why, "webhook delivery withheld");
    }
    let mut attempts = Vec::with_capacity(sent.len());
    let mut responses = Vec::with_capacity(sent.len());
    for (p, outcome) in sent {
        let d = p.delivery;
        let tries = d.attempts + 1;
        let (response, error, ms) = match &outcome {
            Outcome::Delivered { response, ms } => (Some(*response), None, *ms),
            Outcome::Failed {
                response,
                error,
                ms,
            } => (*response, error.clone(), *ms),
        };
        let mut m = webhook_delivery::ActiveModel {
            id: Set(d.id),
            attempts: Set(tries),
            lease_until: Set(None),
            last_response: Set(response),
            last_error: Set(error.clone()),
            ..Default::default()
        };
        match outcome {
            Outcome::Delivered { .. } => {
                m.status = Set(DeliveryStatus::Delivered);
                m.next_attempt_at = Set(None);
                m.finished_at = Set(Some(now));
            }
            Outcome::Failed { .. } => {
                let wait = chrono::TimeDelta::from_std(config.wait_after(tries as u32))
                    .unwrap_or(chrono::TimeDelta::hours(1));
                let deadline = p.event_at
                    + chrono::TimeDelta::from_std(config.give_up_after)
                        .unwrap_or(chrono::TimeDelta::days(1));
                if now + wait > deadline {
                    m.status = Set(DeliveryStatus::Failed);
                    m.next_attempt_at = Set(None);
                    m.finished_at = Set(Some(now));
                    tracing::warn!(
                        delivery = d.id,
                        attempts = tries,
                        "webhook delivery given up"
                    );
                } else {
                    m.next_attempt_at = Set(Some(now + wait));
                }
            }
        }
        m.update(&tx).await?;
        attempts.push(webhook_attempt::ActiveModel {
            delivery_id: Set(d.id),
            at: Set(now),
            response: Set(response),
            error: Set(error),
            duration_ms: Set(ms),
            ..Default::default()
        });
        responses.push(response);
    }
    if !attempts.is_empty() {
        webhook_attempt::Entity::insert_many(attempts)
            .exec(&tx)
            .await?;
    }
    tx.commit().await?;
    for r in responses {
        crate::telemetry::webhook_attempt(r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        topic: WebhookTopic,
        indicator: Option<i32>,
        area: Option<&str>,
    ) -> webhook_event::Model {
        webhook_event::Model {
            id: 1,
            topic,
            subject_id: 1,
            problem_id: None,
            house_code: None,
            indicator_code: indicator,
            status: None,
            previous_status: None,
            area_code: area.map(str::to_string),
            at: Utc::now(),
            dispatched: false,
        }
    }

    #[test]
    fn filters_narrow_by_topic_dimension_and_area() {
        let sub = Subscription {
            topics: vec![
                WebhookTopic::ProblemCreated,
                WebhookTopic::ImportBatchFinished,
            ],
            dimensions: vec![Dimension::Health],
            area_codes: vec!["3318".into()],
        };
        // indicator 1 is health, 7 is not
        assert!(sub.matches(&event(
            WebhookTopic::ProblemCreated,
            Some(1),
            Some("33180101")
        )));
        assert!(!sub.matches(&event(
            WebhookTopic::ProblemCreated,
            Some(7),
            Some("33180101")
        )));
        assert!(!sub.matches(&event(
            WebhookTopic::ProblemCreated,
            Some(1),
            Some("33190101")
        )));
        assert!(!sub.matches(&event(
            WebhookTopic::LogbookEntryCreated,
            Some(1),
            Some("33180101")
        )));
        assert!(!sub.matches(&event(WebhookTopic::ProblemCreated, Some(1), None)));
        // a batch has no dimension
        assert!(sub.matches(&event(
            WebhookTopic::ImportBatchFinished,
            None,
            Some("3318")
        )));
        let all = Subscription {
            topics: vec![WebhookTopic::ProblemCreated],
            dimensions: vec![],
            area_codes: vec![],
        };
        assert!(all.matches(&event(WebhookTopic::ProblemCreated, Some(7), None)));
    }
}
