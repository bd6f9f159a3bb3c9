//! The province's targets: the problems of a cohort (and dimension) to be solved by a day.

use crate::types::Dimension;
use sea_orm::entity::prelude::*;

/// One target.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "targets")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The province it is set for.
    pub province_code: String,
    /// Name (`แก้ไขปัญหาเป้าหมาย TPMAP 2565 ให้ครบ`).
    pub name: String,
    /// Only the problems of this cohort (all when none).
    pub cohort_id: Option<i32>,
    /// Only the problems of this dimension (all when none).
    pub dimension: Option<Dimension>,
    /// The day by which they are to be solved.
    pub due_on: Date,
    /// Who set it.
    pub created_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
