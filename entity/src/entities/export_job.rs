//! Bulk exports: what a key asked for, and how far the worker got.

use sea_orm::entity::prelude::*;

/// One export.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "export_jobs")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The key that asked (its rule decides what is written; only it downloads).
    pub key_id: i32,
    /// The kinds of record, comma-separated (`household,member,…`).
    pub entities: String,
    /// `csv` or `ndjson`.
    pub format: String,
    /// Only records changed at or after this time.
    pub updated_since: Option<DateTimeUtc>,
    /// `queued`, `running`, `done`, `failed`, `expired`.
    pub status: String,
    /// When asked.
    pub created_at: DateTimeUtc,
    /// When a worker took it.
    pub claimed_at: Option<DateTimeUtc>,
    /// When it ended.
    pub finished_at: Option<DateTimeUtc>,
    /// When its files are deleted.
    pub expires_at: Option<DateTimeUtc>,
    /// Rows written so far.
    pub rows_done: i64,
    /// Rows per kind, as JSON (`{"household": 22387, …}`).
    pub counts: String,
    /// Why it failed.
    pub failure: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
