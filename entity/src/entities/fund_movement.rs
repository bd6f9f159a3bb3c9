//! Money in and out of a fund: capital, grants and interest-free loans to households,
//! repayments and write-offs of those loans. A row is never changed once written; a
//! mistake is removed and recorded again.

use crate::types::FundMovementKind;
use sea_orm::entity::prelude::*;

/// One movement.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fund_movements")]
pub struct Model {
    /// Surrogate key (a loan's id for its repayments).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The fund.
    pub fund_id: i32,
    /// What it is.
    pub kind: FundMovementKind,
    /// The day the money moved.
    pub moved_on: Date,
    /// Amount in satang, above zero.
    pub amount_satang: i64,
    /// The household (every kind but capital).
    pub house_code: Option<String>,
    /// The problem a grant or loan is for.
    pub problem_id: Option<i32>,
    /// The logbook entry a grant or loan was recorded with.
    pub entry_id: Option<i32>,
    /// The loan a repayment or write-off belongs to.
    pub loan_id: Option<i32>,
    /// Where capital came from (a loan's purpose, a grant's reason).
    pub source: Option<String>,
    /// A loan's term in months.
    pub term_months: Option<i32>,
    /// A loan's instalment every this many months (the term for one payment at its end).
    pub every_months: Option<i32>,
    /// Note.
    pub note: Option<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
    /// The import batch it came from (the fund sheet).
    pub batch_id: Option<i32>,
    /// Its row there.
    pub source_row: Option<i32>,
}

/// Relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The fund.
    #[sea_orm(
        belongs_to = "super::fund::Entity",
        from = "Column::FundId",
        to = "super::fund::Column::Id"
    )]
    Fund,
}

impl Related<super::fund::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Fund.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
