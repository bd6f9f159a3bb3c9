//! The 4ท analysis of a household (forms ศจพ.3/ศจพ.4); one per household.

use crate::types::HouseCode;
use sea_orm::entity::prelude::*;

/// An analysis.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "analyses")]
pub struct Model {
    /// Household.
    #[sea_orm(primary_key, auto_increment = false)]
    pub house_code: HouseCode,
    /// ทัศนคติ
    pub attitude: Option<String>,
    /// ทักษะ
    pub skills: Option<String>,
    /// ทรัพยากร
    pub resources: Option<String>,
    /// ทางออก
    pub way_out: Option<String>,
    /// Date of the analysis.
    pub analysed_on: Option<Date>,
    /// Mentor team.
    pub mentor: Option<String>,
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

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
