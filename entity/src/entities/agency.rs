//! Partner agencies: offices of one province.

use sea_orm::entity::prelude::*;

/// An agency (`33-pho` is Si Sa Ket's public health office).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agencies")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `PP-suffix`, unique.
    #[sea_orm(unique)]
    pub code: String,
    /// `สสจ.`
    pub abbreviation: String,
    /// Thai name including the province's name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Province code.
    pub province_code: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
