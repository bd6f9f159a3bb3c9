//! The five poverty dimensions (seeded).

use sea_orm::entity::prelude::*;

/// A dimension.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dimensions")]
pub struct Model {
    /// `health`, `living`, `education`, `income`, `access`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Display order.
    pub position: i32,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
