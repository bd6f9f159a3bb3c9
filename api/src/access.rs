//! The one place where a principal becomes SeaORM conditions: what each key may see, per
//! entity. Every statement that reads or writes for a principal applies these. Deny by default.

use entity::catalog::INDICATORS;
use entity::types::Dimension;
use entity::{household, import_batch, logbook_entry, problem};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition};

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// The provincial (or national, when `province` is none) centre: everything in scope.
    Admin {
        /// Key id.
        key_id: i32,
        /// Province code, or none for national.
        province: Option<String>,
    },
    /// A district centre: its district, all dimensions.
    District {
        /// Key id.
        key_id: i32,
        /// District code.
        district: String,
    },
    /// A partner agency: problems in the dimensions it owns in its province.
    Agency {
        /// Key id.
        key_id: i32,
        /// Agency id.
        agency_id: i32,
        /// Agency code (`33-pho`).
        agency_code: String,
        /// Its province.
        province: String,
        /// The dimensions it owns.
        dimensions: Vec<Dimension>,
    },
}

/// Indicator codes of some dimensions.
fn indicator_codes(dimensions: &[Dimension]) -> Vec<i32> {
    INDICATORS
        .iter()
        .filter(|i| dimensions.contains(&i.dimension))
        .map(|i| i32::from(i.code))
        .collect()
}

/// Households whose area column equals `code`.
fn houses_where(col: household::Column, code: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(household::Column::HouseCode)
        .from(household::Entity)
        .and_where(col.eq(code))
        .to_owned()
}

impl Principal {
    /// Who, for logs, audit and `recorded_by`: `admin:3`, `district:3318:5`,
    /// `agency:33-pho:7`; `cli` for the command line (key id 0).
    pub fn label(&self) -> String {
        match self {
            Principal::Admin {
                key_id: 0,
                province: None,
            } => "cli".into(),
            Principal::Admin {
                key_id,
                province: None,
            } => format!("admin:{key_id}"),
            Principal::Admin {
                key_id,
                province: Some(p),
            } => format!("admin:{p}:{key_id}"),
            Principal::District { key_id, district } => format!("district:{district}:{key_id}"),
            Principal::Agency {
                key_id,
                agency_code,
                ..
            } => format!("agency:{agency_code}:{key_id}"),
        }
    }

    /// The province the principal is bound to, if any.
    pub fn province(&self) -> Option<&str> {
        match self {
            Principal::Admin { province, .. } => province.as_deref(),
            Principal::District { district, .. } => district.get(..2),
            Principal::Agency { province, .. } => Some(province),
        }
    }

    /// Households it may see (and whose members' personal data it may see): an agency only
    /// those with a problem in a dimension it owns.
    pub fn households(&self) -> Condition {
        match self {
            Principal::Admin { province: None, .. } => Condition::all(),
            Principal::Admin {
                province: Some(p), ..
            } => Condition::all().add(household::Column::ProvinceCode.eq(p)),
            Principal::District { district, .. } => {
                Condition::all().add(household::Column::DistrictCode.eq(district))
            }
            Principal::Agency {
                province,
                dimensions,
                ..
            } => Condition::all()
                .add(household::Column::ProvinceCode.eq(province))
                .add(
                    household::Column::HouseCode.in_subquery(
                        Query::select()
                            .column(problem::Column::HouseCode)
                            .from(problem::Entity)
                            .and_where(
                                problem::Column::IndicatorCode.is_in(indicator_codes(dimensions)),
                            )
                            .to_owned(),
                    ),
                ),
        }
    }

    /// Problems it may see: an agency only those in its dimensions, in its province.
    pub fn problems(&self) -> Condition {
        match self {
            Principal::Admin { province: None, .. } => Condition::all(),
            Principal::Admin {
                province: Some(p), ..
            } => Condition::all().add(
                problem::Column::HouseCode
                    .in_subquery(houses_where(household::Column::ProvinceCode, p)),
            ),
            Principal::District { district, .. } => Condition::all().add(
                problem::Column::HouseCode
                    .in_subquery(houses_where(household::Column::DistrictCode, district)),
            ),
            Principal::Agency {
                province,
                dimensions,
                ..
            } => Condition::all()
                .add(problem::Column::IndicatorCode.is_in(indicator_codes(dimensions)))
                .add(
                    problem::Column::HouseCode
                        .in_subquery(houses_where(household::Column::ProvinceCode, province)),
                ),
        }
    }

    /// Logbook entries it may see: those on problems it may see.
    pub fn entries(&self) -> Condition {
        match self {
            Principal::Admin { province: None, .. } => Condition::all(),
            other => Condition::all().add(
                logbook_entry::Column::ProblemId.in_subquery(
                    Query::select()
                        .column(problem::Column::Id)
                        .from(problem::Entity)
                        .cond_where(other.problems())
                        .to_owned(),
                ),
            ),
        }
    }

    /// Import batches it may see: a district its own; a province admin those of its districts;
    /// a national admin all; agencies none.
    pub fn batches(&self) -> Condition {
        match self {
            Principal::Admin { province: None, .. } => Condition::all(),
            Principal::Admin {
                province: Some(p), ..
            } => Condition::all().add(import_batch::Column::DistrictCode.starts_with(p.as_str())),
            Principal::District { district, .. } => {
                Condition::all().add(import_batch::Column::DistrictCode.eq(district))
            }
            Principal::Agency { .. } => Condition::all().add(import_batch::Column::Id.lt(0)),
        }
    }
}
