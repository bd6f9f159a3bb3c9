//! Target households, keyed by their national house code.

use crate::types::{AreaCode, CitizenId, Classification, HouseCode, VillageCode};
use sea_orm::entity::prelude::*;

/// A target household.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "households")]
pub struct Model {
    /// 11-digit house code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub house_code: HouseCode,
    /// House number as written (`12/3`).
    pub house_no: Option<String>,
    /// 8-digit village code.
    pub village_code: VillageCode,
    /// 6-digit subdistrict code.
    pub subdistrict_code: AreaCode,
    /// 4-digit district code.
    pub district_code: AreaCode,
    /// 2-digit province code.
    pub province_code: AreaCode,
    /// Head's title.
    pub head_title: Option<String>,
    /// Head's name (title split off).
    pub head_name: Option<String>,
    /// Head's citizen ID.
    pub head_citizen_id: Option<CitizenId>,
    /// Number of members as the workbook states it.
    pub member_count: Option<i32>,
    /// Classification.
    pub classification: Option<Classification>,
    /// Cohort.
    pub cohort_id: i32,
    /// Latitude, decimal degrees.
    pub latitude: Option<f64>,
    /// Longitude, decimal degrees.
    pub longitude: Option<f64>,
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
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its members.
    #[sea_orm(has_many = "super::member::Entity")]
    Member,
    /// Its problems.
    #[sea_orm(has_many = "super::problem::Entity")]
    Problem,
}

impl Related<super::member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Member.def()
    }
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
