//! Evidence photos of a logbook entry: the row says where its two objects (the cleaned
//! photo and its thumbnail) are in the object store. A row is `pending` until both objects
//! are written; only `stored` rows are listed or served.

use crate::types::EvidenceState;
use sea_orm::entity::prelude::*;

/// One photo.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    /// Surrogate key (the `/evidence/{id}` of the photo).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The logbook entry it shows.
    pub entry_id: i32,
    /// Pending until its objects are written.
    pub state: EvidenceState,
    /// The photo's object (metadata removed).
    pub object_key: String,
    /// The thumbnail's object.
    pub thumb_key: String,
    /// The photo's media type as served (`image/jpeg`, `image/png`).
    pub media_type: String,
    /// The served photo's size in bytes.
    pub byte_size: i64,
    /// Width in pixels (after the camera's orientation is applied).
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// SHA-256 of the bytes as uploaded (hex): the same photo twice on one entry is refused.
    pub sha256: String,
    /// Caption.
    pub caption: Option<String>,
    /// Who attached it.
    pub recorded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The entry.
    #[sea_orm(
        belongs_to = "super::logbook_entry::Entity",
        from = "Column::EntryId",
        to = "super::logbook_entry::Column::Id"
    )]
    Entry,
}

impl Related<super::logbook_entry::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Entry.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
