//! Administrative areas: province → district → subdistrict → village, codes as strings.

use crate::types::{AreaCode, AreaLevel};
use sea_orm::entity::prelude::*;

/// One area. Villages are created by imports; the rest come from the area master data.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "areas")]
pub struct Model {
    /// 2, 4, 6 or 8 digits.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: AreaCode,
    /// Level.
    pub level: AreaLevel,
    /// Enclosing area; none for provinces.
    pub parent_code: Option<AreaCode>,
    /// Thai name as the master data (or the first workbook, for villages) gives it.
    pub name_th: String,
    /// English name, where known.
    pub name_en: Option<String>,
    /// Import batch that created a village.
    pub batch_id: Option<i32>,
    /// Sheet that created a village.
    pub source_sheet: Option<String>,
    /// Row that created a village.
    pub source_row: Option<i32>,
}

/// No navigable relations; areas are looked up by code.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
