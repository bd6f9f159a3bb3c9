//! Trusted documents: the GraphQL operations a locked key may run, by their SHA-256.

use sea_orm::entity::prelude::*;

/// One stored document of one key.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "trusted_documents")]
pub struct Model {
    /// The key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: i32,
    /// SHA-256 of the document's text, hex (what a client sends as
    /// `extensions.persistedQuery.sha256Hash`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    /// The document as stored.
    pub document: String,
    /// A name to recognise it by (its file, or its operation's name).
    pub name: Option<String>,
    /// When stored.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
