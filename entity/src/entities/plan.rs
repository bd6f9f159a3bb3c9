//! Agencies' plans: a visible problem put into an agency's project, done when that agency
//! records help on the problem on or after the day the plan was made.

use sea_orm::entity::prelude::*;

/// One plan.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The problem.
    pub problem_id: i32,
    /// The agency whose plan it is.
    pub agency_id: i32,
    /// The project (โครงการ) it is in.
    pub project: String,
    /// When the help is planned for.
    pub planned_on: Date,
    /// Budget in satang.
    pub budget_satang: Option<i64>,
    /// The day the plan was made: help by the agency on or after it does the plan.
    pub made_on: Date,
    /// Who made it.
    pub recorded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
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
}

impl Related<super::problem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Problem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
