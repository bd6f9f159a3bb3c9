//! The logbook: every piece of help given on a problem.

use crate::types::{ProblemStatus, Verification};
use sea_orm::entity::prelude::*;

/// A logbook entry.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "logbook_entries")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The problem.
    pub problem_id: i32,
    /// Date of the help.
    pub entry_date: Date,
    /// Matched agency, if the text named a known one of the household's province.
    pub agency_id: Option<i32>,
    /// Agency as written.
    pub agency_text: String,
    /// Hash of (agency, activity): with problem and date, the entry's identity.
    pub entry_key: String,
    /// Activity.
    pub activity: String,
    /// Poverty-solving menu item.
    pub menu: Option<String>,
    /// Cost in satang.
    pub amount_satang: Option<i64>,
    /// Fund that paid, as written.
    pub fund: Option<String>,
    /// The fund the text was matched to (a fund of the household's district or province).
    pub fund_id: Option<i32>,
    /// Result (never `not_started`).
    pub status: ProblemStatus,
    /// Note.
    pub note: Option<String>,
    /// Who wrote it (the importing principal or the API key).
    pub recorded_by: Option<String>,
    /// Order written, across imports and API writes: breaks ties between entries of one day.
    pub written_seq: i64,
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
    /// When the household is to be visited next about this problem.
    pub next_visit_on: Option<Date>,
    /// Where the help was given: latitude inside Thailand (5–21°).
    pub latitude: Option<f64>,
    /// Where the help was given: longitude inside Thailand (97–106°).
    pub longitude: Option<f64>,
    /// The district's check: recorded (waiting), verified, or returned. A change by an import
    /// puts it back to recorded.
    pub verification: Verification,
    /// Why it was returned (or a note on the verification).
    pub verification_note: Option<String>,
    /// Who verified or returned it.
    pub verified_by: Option<String>,
    /// When.
    pub verified_at: Option<DateTimeUtc>,
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The problem.
    #[sea_orm(
        belongs_to = "super::problem::Entity",
        from = "Column::ProblemId",
        to = "super::problem::Column::Id"
    )]
    Problem,
    /// The matched agency.
    #[sea_orm(
        belongs_to = "super::agency::Entity",
        from = "Column::AgencyId",
        to = "super::agency::Column::Id"
    )]
    Agency,
}

impl Related<super::agency::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agency.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
