//! The seventeen MPI indicators (seeded from the catalogue).

use sea_orm::entity::prelude::*;

/// An indicator.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "indicators")]
pub struct Model {
    /// Stable code 1–17.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: i32,
    /// Basic Minimum Needs survey item of the 2017–2021 edition.
    pub bmn: i32,
    /// Dimension key.
    pub dimension: String,
    /// `household` or `person`.
    pub unit: String,
    /// Who it is about (`6-14`, `60+`, `disabled`…).
    pub age_rule: Option<String>,
    /// Youngest age covered.
    pub min_age: Option<i32>,
    /// Oldest age covered.
    pub max_age: Option<i32>,
    /// Thai text.
    pub name_th: String,
    /// English text.
    pub name_en: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
