//! Cohorts: a target list's source and Buddhist-Era year.

use sea_orm::entity::prelude::*;

/// A cohort (`TPMAP 2565`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cohorts")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `tpmap` or `thaiqm`.
    pub source: String,
    /// Buddhist-Era year.
    pub be_year: i32,
    /// Display label.
    pub label: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
