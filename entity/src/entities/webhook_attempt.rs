//! One attempt to deliver an event to a webhook: when, what the receiver answered, how long.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The delivery.
    pub delivery_id: i32,
    /// When it was sent.
    pub at: DateTimeUtc,
    /// The receiver's HTTP status, if it answered.
    pub response: Option<i32>,
    /// Why it failed without an answer (timeout, refused address …).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
