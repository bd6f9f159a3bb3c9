//! Poverty funds: the provincial fund and the funds district centres set up. Their money is
//! in [`super::fund_movement`].

use crate::types::FundLevel;
use sea_orm::entity::prelude::*;

/// A fund.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "funds")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Name, unique in its area (`กองทุนแก้ไขปัญหาความยากจนอำเภอกันทรลักษ์`).
    pub name: String,
    /// The province's or a district's.
    pub level: FundLevel,
    /// The owning area: a province (2 digits) or a district (4 digits) code.
    pub area_code: String,
    /// The province it is in (2 digits): the provincial fund's own code.
    pub province_code: String,
    /// When it was set up.
    pub established_on: Option<Date>,
    /// Note.
    pub note: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its movements.
    #[sea_orm(has_many = "super::fund_movement::Entity")]
    Movements,
}

impl Related<super::fund_movement::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Movements.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
