//! Uploaded workbooks, kept with their batch: the job reads them, and a rejected batch's
//! error workbook is cut from them.

use sea_orm::entity::prelude::*;

/// The file of one batch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_uploads")]
pub struct Model {
    /// The batch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub batch_id: i32,
    /// The workbook as uploaded.
    pub bytes: Vec<u8>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
