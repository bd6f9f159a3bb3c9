//! Webhooks: a key's subscription to some topics, optionally narrowed to dimensions and
//! areas, delivered to a URL and signed with the webhook's own secret.

use sea_orm::entity::prelude::*;

/// One webhook.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The key it belongs to: it receives only what this key may see, when it is sent.
    pub key_id: i32,
    /// Where events are posted.
    pub url: String,
    /// Its topics' keys, comma-separated (`problem.created,…`).
    pub topics: String,
    /// Only events of problems in these dimensions (keys, comma-separated); none: all.
    pub dimensions: Option<String>,
    /// Only events in these areas (codes of 2, 4, 6 or 8 digits, comma-separated); none: all.
    pub area_codes: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// The signing secret (`whsec_` and base64), shown once at creation or rotation.
    pub secret: String,
    /// The secret before the last rotation, still signing beside [`Model::secret`] until
    /// [`Model::previous_secret_until`] (the receiver's time to switch).
    pub previous_secret: Option<String>,
    /// Until when the previous secret signs too.
    pub previous_secret_until: Option<DateTimeUtc>,
    /// When created.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
