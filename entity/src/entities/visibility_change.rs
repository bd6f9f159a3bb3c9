//! What an agency stopped or started seeing when a dimension was taken from it or given to it:
//! one row per record, at the change's sequence number, so that its change feed can tell its
//! mirror to drop (or fetch) it.

use sea_orm::entity::prelude::*;

/// One record leaving or entering an agency's sight.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "visibility_changes")]
pub struct Model {
    /// The agency.
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency_id: i32,
    /// The change's sequence number.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// The record's kind, as its rank in the feed's order (1 household … 5 logbook entry).
    #[sea_orm(primary_key, auto_increment = false)]
    pub rank: i16,
    /// The record's key (house code, citizen ID, or id), as text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Entered its sight (true) or left it (false).
    pub visible: bool,
    /// When.
    pub at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
