//! Which agency owns which dimension in its province.

use crate::types::Dimension;
use sea_orm::entity::prelude::*;

/// One ownership.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_dimensions")]
pub struct Model {
    /// The agency.
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency_id: i32,
    /// The dimension.
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: Dimension,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
