//! Months locked for a district after its report: entries dated in them can no longer be
//! added or changed, by import or API.

use sea_orm::entity::prelude::*;

/// One locked month of one district.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "month_locks")]
pub struct Model {
    /// District code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub district_code: String,
    /// The month, `YYYY-MM` (Common Era).
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    /// Who locked it.
    pub locked_by: String,
    /// When.
    pub locked_at: DateTimeUtc,
}

/// The month a day falls in, as locks are kept: `2026-10`. The importer and the API both
/// key a day's lock with this.
pub fn month_of(day: Date) -> String {
    day.format("%Y-%m").to_string()
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
