//! A household's follow-up state, kept by district and provincial staff (never by imports):
//! whether it is urgent (a critical target, visited first) and whether it has left the open
//! work (closed, with a reason and a date; its history stays).

use crate::types::ClosureReason;
use sea_orm::entity::prelude::*;

/// One household's follow-up state (a household without a row is neither urgent nor closed).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "household_follow_ups")]
pub struct Model {
    /// The household.
    #[sea_orm(primary_key, auto_increment = false)]
    pub house_code: String,
    /// A critical target: first on the worklist.
    pub urgent: bool,
    /// Why it is urgent.
    pub urgent_reason: Option<String>,
    /// Why it was closed; none while open.
    pub closed_reason: Option<ClosureReason>,
    /// When it was closed.
    pub closed_on: Option<Date>,
    /// A note on the closure (required for `other`).
    pub closed_note: Option<String>,
    /// The household it was merged into (`merged_into`).
    pub merged_into: Option<String>,
    /// Who last changed it.
    pub updated_by: String,
    /// When.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
