//! Problems: one failed indicator of a household, or of one person in it, in a cohort.

use crate::types::{AreaCode, CitizenId, HouseCode, ProblemStatus};
use sea_orm::entity::prelude::*;

/// A problem.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "problems")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Household.
    pub house_code: HouseCode,
    /// The household's province, kept with it by the importer: a province's or an agency's
    /// rule is a condition on the problem row.
    pub province_code: AreaCode,
    /// Indicator 1–17.
    pub indicator_code: i32,
    /// The person, for person indicators.
    pub citizen_id: Option<CitizenId>,
    /// Citizen ID or empty: part of the identity (NULLs never collide in unique indexes).
    pub person_key: String,
    /// Cohort.
    pub cohort_id: i32,
    /// Free text.
    pub detail: Option<String>,
    /// The latest logbook entry's status, else `not_started`; kept in the writing transaction.
    pub status: ProblemStatus,
    /// The change sequence number of the transaction that last wrote it (the change feed's
    /// position; 0 before the feed existed).
    pub change_seq: i64,
    /// When it was last written.
    pub updated_at: DateTimeUtc,
    /// Batch it was last inserted or updated from.
    pub batch_id: Option<i32>,
    /// Sheet it was last inserted or updated from.
    pub source_sheet: Option<String>,
    /// Row it was last inserted or updated from.
    pub source_row: Option<i32>,
    /// The next visit its latest logbook entry plans, if any; kept with `status`.
    pub next_visit_on: Option<Date>,
    /// When it was first recorded (a problem not started for too long after is overdue).
    pub created_at: Option<DateTimeUtc>,
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The household.
    #[sea_orm(
        belongs_to = "super::household::Entity",
        from = "Column::HouseCode",
        to = "super::household::Column::HouseCode"
    )]
    Household,
    /// Its logbook.
    #[sea_orm(has_many = "super::logbook_entry::Entity")]
    LogbookEntry,
    /// Its cohort.
    #[sea_orm(
        belongs_to = "super::cohort::Entity",
        from = "Column::CohortId",
        to = "super::cohort::Column::Id"
    )]
    Cohort,
}

impl Related<super::cohort::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cohort.def()
    }
}

impl Related<super::household::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Household.def()
    }
}

impl Related<super::logbook_entry::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LogbookEntry.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
