//! API keys: the hash of a bearer token and the principal it stands for.

use sea_orm::entity::prelude::*;

/// A key. The token itself is shown once and never stored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Surrogate key (what `key revoke` takes).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// `admin`, `district` or `agency`.
    pub kind: String,
    /// An admin's province (none: national).
    pub province_code: Option<String>,
    /// A district key's district.
    pub district_code: Option<String>,
    /// An agency key's agency.
    pub agency_id: Option<i32>,
    /// Free label.
    pub label: Option<String>,
    /// When created.
    pub created_at: DateTimeUtc,
    /// When revoked.
    pub revoked_at: Option<DateTimeUtc>,
    /// When it stops working (none: never); a rotated key's overlap ends here.
    pub expires_at: Option<DateTimeUtc>,
    /// When it was last used (to the minute: written at most once a minute).
    pub last_used_at: Option<DateTimeUtc>,
    /// Its own cost budget per minute (none: the server's).
    pub budget_per_minute: Option<i64>,
    /// It runs only the documents stored for it (`trusted_documents`).
    pub trusted_only: bool,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
