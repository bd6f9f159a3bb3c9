//! Members of target households, keyed by citizen ID.

use crate::types::{CitizenId, HouseCode, Sex};
use sea_orm::entity::prelude::*;

/// A person in a target household.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    /// 13-digit citizen ID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub citizen_id: CitizenId,
    /// Household.
    pub house_code: HouseCode,
    /// Title as written.
    pub title: Option<String>,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Age in whole years as given, when no birth date was.
    pub age: Option<i32>,
    /// The day `age` was true (the batch's date).
    pub age_as_of: Option<Date>,
    /// Relation to the head.
    pub relation: Option<String>,
    /// Has a disability.
    pub disabled: bool,
    /// Whether the check digit is right (a wrong one is imported with a warning).
    pub citizen_id_valid: bool,
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
    /// The household.
    #[sea_orm(
        belongs_to = "super::household::Entity",
        from = "Column::HouseCode",
        to = "super::household::Column::HouseCode"
    )]
    Household,
}

impl Related<super::household::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Household.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
