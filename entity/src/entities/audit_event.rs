//! Audit events: changes made outside imports and logbook writes (agencies, dimension
//! ownership, API keys), each with the principal that made it.

use sea_orm::entity::prelude::*;

/// One change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Surrogate key; events are ordered by it.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// When.
    pub at: DateTimeUtc,
    /// Who: the principal's label (`admin:33:4`, `cli`).
    pub principal: String,
    /// What: `agency.add`, `agency.assign`, `agency.unassign`, `key.create`, `key.revoke`.
    pub action: String,
    /// The province the change belongs to, if any (a province admin reads its own).
    pub province_code: Option<String>,
    /// What was changed: an agency code, a key id.
    pub subject: String,
    /// Details as JSON.
    pub detail: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
