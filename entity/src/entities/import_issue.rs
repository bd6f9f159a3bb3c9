//! Errors and warnings of import batches.

use sea_orm::entity::prelude::*;

/// One error or warning.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_issues")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Batch.
    pub batch_id: i32,
    /// `error` or `warning`.
    pub severity: String,
    /// Canonical English sheet name, or empty for the whole file.
    pub sheet: String,
    /// Row number as Excel shows it.
    pub row: Option<i32>,
    /// Column header as written.
    pub column: Option<String>,
    /// Cell value as written.
    pub value: Option<String>,
    /// Stable code.
    pub code: String,
    /// Message in Thai.
    pub message_th: String,
    /// Message in English.
    pub message_en: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
