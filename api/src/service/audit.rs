//! The audit trail of changes made outside imports and logbook writes: recorded in the
//! change's own transaction, read by admins (a province admin its province's events).

use crate::access::Principal;
use crate::error::ApiResult;
use chrono::Utc;
use entity::audit_event;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, Set};

/// Records one change by `who`.
pub async fn record(
    db: &impl ConnectionTrait,
    who: &Principal,
    action: &str,
    province: Option<&str>,
    subject: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        at: Set(Utc::now()),
        principal: Set(who.label()),
        action: Set(action.to_string()),
        province_code: Set(province.map(str::to_string)),
        subject: Set(subject.to_string()),
        detail: Set(detail.to_string()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    tracing::info!(principal = %who.label(), action, subject, "audit");
    Ok(())
}

/// A page of events, newest first, before an id; and whether more follow.
pub async fn page(
    db: &impl ConnectionTrait,
    p: &Principal,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<audit_event::Model>, bool)> {
    super::newest_first(
        db,
        audit_event::Entity::find().filter(p.audit_events()),
        audit_event::Column::Id,
        before,
        first,
    )
    .await
}
