//! One event's delivery to one webhook: its state, attempts so far and when the next is due.

use crate::types::DeliveryStatus;
use sea_orm::entity::prelude::*;

/// One delivery.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The webhook.
    pub webhook_id: i32,
    /// The event.
    pub event_id: i32,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTimeUtc>,
    /// A sender holds it until then (so that two never send it at once).
    pub lease_until: Option<DateTimeUtc>,
    /// The last attempt's HTTP status, if the receiver answered.
    pub last_response: Option<i32>,
    /// Why the last attempt failed, or why it was withheld.
    pub last_error: Option<String>,
    /// When it was created (retries stop 24 hours after).
    pub created_at: DateTimeUtc,
    /// When it was delivered, given up or withheld.
    pub finished_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
