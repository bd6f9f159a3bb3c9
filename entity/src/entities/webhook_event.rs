//! The webhooks' outbox: one row per event, written in the transaction of the change it
//! announces (only while some webhook subscribes to its topic), then fanned out into
//! deliveries.

use crate::types::{ProblemStatus, WebhookTopic};
use sea_orm::entity::prelude::*;

/// One event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    /// Id (a delivery's `webhook-id` is `evt_` and this).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// What happened.
    pub topic: WebhookTopic,
    /// The record it is about: a problem's, a logbook entry's or an import batch's id.
    pub subject_id: i32,
    /// The problem it concerns (problem and logbook entry events).
    pub problem_id: Option<i32>,
    /// The household it concerns.
    pub house_code: Option<String>,
    /// The problem's indicator (its dimension filters webhooks).
    pub indicator_code: Option<i32>,
    /// The problem's status after the change, or the entry's result.
    pub status: Option<ProblemStatus>,
    /// The problem's status before the change (`problem.status_changed`).
    pub previous_status: Option<ProblemStatus>,
    /// Where: the household's village code, or a batch's district (areas filter webhooks).
    pub area_code: Option<String>,
    /// When it happened.
    pub at: DateTimeUtc,
    /// Fanned out into deliveries.
    pub dispatched: bool,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
