//! `stats` kept ahead: the grouped counts of one village (or one district: its villages'
//! summed, for groupings by district or coarser), classification, dimension and status, as
//! `stats` would count them from the whole tables. A cell whose dimension (or
//! status) is none counts every dimension (or status) at once: a household is counted once
//! there however many of its problems match. Written only by the API's stats service, in
//! the transaction that clears the village from [`super::stats_dirty`].

use crate::types::{AreaCode, Classification, Dimension, ProblemStatus, VillageCode};
use sea_orm::entity::prelude::*;

/// One village's counts for one classification, dimension and status.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stats_cells")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The village; none in a district's cell (the sum of its villages' cells).
    pub village_code: Option<VillageCode>,
    /// Its subdistrict; none in a district's cell.
    pub subdistrict_code: Option<AreaCode>,
    /// Its district.
    pub district_code: AreaCode,
    /// Its province.
    pub province_code: AreaCode,
    /// The households' classification (none where they have none).
    pub classification: Option<Classification>,
    /// The problems' dimension; none: every dimension.
    pub dimension: Option<Dimension>,
    /// The problems' status; none: every status.
    pub status: Option<ProblemStatus>,
    /// Problems.
    pub problems: i64,
    /// Households with at least one of them.
    pub households: i64,
    /// Members of those households.
    pub people: i64,
    /// Those households whose counted problems are all solved.
    pub solved_households: i64,
    /// Logbook entries on those problems.
    pub logbook_entries: i64,
    /// Those households closed.
    pub closed_households: i64,
    /// Those households urgent.
    pub urgent_households: i64,
    /// Entries on those problems not yet verified.
    pub unverified_entries: i64,
    /// Agencies' plans on those problems.
    pub planned: i64,
    /// Those plans done.
    pub planned_done: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The measures a cell keeps, in the order [`Model::measures`] gives them.
pub const MEASURES: [Column; 10] = [
    Column::Problems,
    Column::Households,
    Column::People,
    Column::SolvedHouseholds,
    Column::LogbookEntries,
    Column::ClosedHouseholds,
    Column::UrgentHouseholds,
    Column::UnverifiedEntries,
    Column::Planned,
    Column::PlannedDone,
];

impl Model {
    /// Its measures, in [`MEASURES`]' order.
    pub fn measures(&self) -> [i64; 10] {
        [
            self.problems,
            self.households,
            self.people,
            self.solved_households,
            self.logbook_entries,
            self.closed_households,
            self.urgent_households,
            self.unverified_entries,
            self.planned,
            self.planned_done,
        ]
    }

    /// Sets its measures from values in [`MEASURES`]' order.
    pub fn set_measures(&mut self, m: [i64; 10]) {
        [
            self.problems,
            self.households,
            self.people,
            self.solved_households,
            self.logbook_entries,
            self.closed_households,
            self.urgent_households,
            self.unverified_entries,
            self.planned,
            self.planned_done,
        ] = m;
    }
}
