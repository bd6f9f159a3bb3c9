//! The one place where a principal becomes SeaORM conditions: what each key may see, per
//! entity. Every statement that reads or writes for a principal applies these. Deny by default.

use crate::error::{ApiError, ApiResult};
use entity::catalog::INDICATORS;
use entity::types::Dimension;
use entity::{
    agency, analysis, audit_event, fund, fund_movement, household, import_batch, logbook_entry,
    member, plan, problem, stats_cell, stats_dirty, target,
};
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
    /// The command line, run by whoever operates the server: everything, or one district
    /// when the command names one. No key.
    Operator {
        /// District the command is narrowed to.
        district: Option<String>,
    },
}

/// What a principal reaches, whoever it is: every decision below is made on this.
enum Reach<'a> {
    All,
    Province(&'a str),
    District(&'a str),
    Agency {
        province: &'a str,
        dimensions: &'a [Dimension],
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

/// Households with at least one problem matching `problems`.
pub(crate) fn houses_with_problem(problems: Condition) -> Condition {
    Condition::all().add(
        household::Column::HouseCode.in_subquery(
            Query::select()
                .column(problem::Column::HouseCode)
                .from(problem::Entity)
                .cond_where(problems)
                .to_owned(),
        ),
    )
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
    /// `agency:33-pho:7`; `cli` (or `cli:3318`) for the command line.
    pub fn label(&self) -> String {
        match self {
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
            Principal::Operator { district: None } => "cli".into(),
            Principal::Operator { district: Some(d) } => format!("cli:{d}"),
        }
    }

    /// The id of the key it came from (none for the command line).
    pub fn key_id(&self) -> Option<i32> {
        match self {
            Principal::Admin { key_id, .. }
            | Principal::District { key_id, .. }
            | Principal::Agency { key_id, .. } => Some(*key_id),
            Principal::Operator { .. } => None,
        }
    }

    fn reach(&self) -> Reach<'_> {
        match self {
            Principal::Admin { province: None, .. } | Principal::Operator { district: None } => {
                Reach::All
            }
            Principal::Admin {
                province: Some(p), ..
            } => Reach::Province(p),
            Principal::District { district, .. }
            | Principal::Operator {
                district: Some(district),
            } => Reach::District(district),
            Principal::Agency {
                province,
                dimensions,
                ..
            } => Reach::Agency {
                province,
                dimensions,
            },
        }
    }

    /// The province the principal is bound to, if any.
    pub fn province(&self) -> Option<&str> {
        match self.reach() {
            Reach::All => None,
            Reach::Province(p) => Some(p),
            Reach::District(d) => d.get(..2),
            Reach::Agency { province, .. } => Some(province),
        }
    }

    /// The `stats` cells that count what it may see, when `by_dimension` (the cells of one
    /// dimension each) or not; none where no cells do: an agency sees some dimensions only,
    /// so a household counted once over every dimension may be one it does not see.
    pub fn stats_cells(&self, by_dimension: bool) -> Option<Condition> {
        let cells = Condition::all().add(if by_dimension {
            stats_cell::Column::Dimension.is_not_null()
        } else {
            stats_cell::Column::Dimension.is_null()
        });
        match self.reach() {
            Reach::All => Some(cells),
            Reach::Province(p) => Some(cells.add(stats_cell::Column::ProvinceCode.eq(p))),
            Reach::District(d) => Some(cells.add(stats_cell::Column::DistrictCode.eq(d))),
            Reach::Agency {
                province,
                dimensions,
            } => by_dimension.then(|| {
                cells
                    .add(stats_cell::Column::ProvinceCode.eq(province))
                    .add(
                        stats_cell::Column::Dimension
                            .is_in(dimensions.iter().map(|d| d.key()).collect::<Vec<_>>()),
                    )
            }),
        }
    }

    /// The villages waiting to be counted again that its `stats` cells would include.
    pub fn stats_dirty(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            Reach::Province(p) | Reach::Agency { province: p, .. } => {
                Condition::all().add(stats_dirty::Column::ProvinceCode.eq(p))
            }
            Reach::District(d) => Condition::all().add(stats_dirty::Column::DistrictCode.eq(d)),
        }
    }

    /// Households it may see (and whose members' personal data it may see): an agency only
    /// those with a problem in a dimension it owns.
    pub fn households(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            Reach::Province(p) => Condition::all().add(household::Column::ProvinceCode.eq(p)),
            Reach::District(d) => Condition::all().add(household::Column::DistrictCode.eq(d)),
            Reach::Agency {
                province,
                dimensions,
            } => Condition::all()
                .add(household::Column::ProvinceCode.eq(province))
                .add(houses_with_problem(Condition::all().add(
                    problem::Column::IndicatorCode.is_in(indicator_codes(dimensions)),
                ))),
        }
    }

    /// Households it may see that have a problem it may see matching `problem`: the same
    /// rows as [`Self::households`] with a `problem IN (… matching and visible)` subquery,
    /// written with one subquery instead of three. For an agency, a household of its
    /// province with a problem in its dimensions is one it may see, so the visibility and the
    /// filter are one semi-join; for an area key the household's own area column already
    /// bounds its problems. (Measured, a district's households with a health problem counted
    /// with a health agency's key: 49 → 16 ms, and 9 ms on vacuumed tables;
    /// docs/benchmarks.md.)
    pub fn households_having(&self, problem: Condition) -> Condition {
        let (houses, problems) = match self.reach() {
            Reach::Agency {
                province,
                dimensions,
            } => (
                Condition::all().add(household::Column::ProvinceCode.eq(province)),
                Condition::all()
                    .add(problem::Column::IndicatorCode.is_in(indicator_codes(dimensions)))
                    .add(problem),
            ),
            _ => (self.households(), problem),
        };
        houses.add(houses_with_problem(problems))
    }

    /// Members it may see: those of households it may see.
    pub fn members(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all().add(member::Column::HouseCode.in_subquery(self.house_codes())),
        }
    }

    /// Members it may see when they are read in the same statement as their household,
    /// which [`Self::households`] filters: a member of a household it may see is one it may
    /// see (as [`Self::members`] says), so nothing more is checked on the member's side.
    pub fn members_beside_their_household(&self) -> Condition {
        Condition::all()
    }

    /// Analyses it may see: those of households it may see.
    pub fn analyses(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all().add(analysis::Column::HouseCode.in_subquery(self.house_codes())),
        }
    }

    /// Follow-up states (urgency, closure) it may see: those of households it may see.
    pub fn follow_ups(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all().add(
                entity::household_follow_up::Column::HouseCode.in_subquery(self.house_codes()),
            ),
        }
    }

    /// The house codes of the households it may see, as a subquery.
    fn house_codes(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(household::Column::HouseCode)
            .from(household::Entity)
            .cond_where(self.households())
            .to_owned()
    }

    /// The same agency owning `dimensions` instead of its own (what it would see after an
    /// assignment changes); `None` for any other principal.
    pub fn agency_with(&self, dimensions: Vec<Dimension>) -> Option<Principal> {
        match self {
            Principal::Agency {
                key_id,
                agency_id,
                agency_code,
                province,
                ..
            } => Some(Principal::Agency {
                key_id: *key_id,
                agency_id: *agency_id,
                agency_code: agency_code.clone(),
                province: province.clone(),
                dimensions,
            }),
            _ => None,
        }
    }

    /// Problems it may see: an agency only those in its dimensions, in its province.
    pub fn problems(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            // the problem row keeps its household's province (the importer writes it with
            // the household): no semi-join to every household of the province
            Reach::Province(p) => Condition::all().add(problem::Column::ProvinceCode.eq(p)),
            Reach::District(d) => Condition::all().add(
                problem::Column::HouseCode
                    .in_subquery(houses_where(household::Column::DistrictCode, d)),
            ),
            Reach::Agency {
                province,
                dimensions,
            } => Condition::all()
                .add(problem::Column::ProvinceCode.eq(province))
                .add(problem::Column::IndicatorCode.is_in(indicator_codes(dimensions))),
        }
    }

    /// Logbook entries it may see: those on problems it may see.
    pub fn entries(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all()
                .add(logbook_entry::Column::ProblemId.in_subquery(self.problem_ids())),
        }
    }

    /// The ids of the problems it may see, as a subquery.
    fn problem_ids(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(problem::Column::Id)
            .from(problem::Entity)
            .cond_where(self.problems())
            .to_owned()
    }

    /// Funds it may see: a national admin all; a province admin and an agency those of its
    /// province; a district its own and its province's fund.
    pub fn funds(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            Reach::Province(p) | Reach::Agency { province: p, .. } => {
                Condition::all().add(fund::Column::ProvinceCode.eq(p))
            }
            Reach::District(d) => Condition::any()
                .add(fund::Column::AreaCode.eq(d))
                .add(fund::Column::AreaCode.eq(d.get(..2).unwrap_or(d))),
        }
    }

    /// The ids of the funds it may see, as a subquery.
    fn fund_ids(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(fund::Column::Id)
            .from(fund::Entity)
            .cond_where(self.funds())
            .to_owned()
    }

    /// Fund movements counted in the figures of funds it may see: every movement of those
    /// funds (their sums are shown, not the rows on households it may not see).
    pub fn fund_sums(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all().add(fund_movement::Column::FundId.in_subquery(self.fund_ids())),
        }
    }

    /// Fund movements it may see: of funds it may see, and either the fund's own (capital)
    /// or on a household it may see.
    pub fn fund_movements(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all()
                .add(fund_movement::Column::FundId.in_subquery(self.fund_ids()))
                .add(
                    Condition::any()
                        .add(fund_movement::Column::HouseCode.is_null())
                        .add(fund_movement::Column::HouseCode.in_subquery(self.house_codes())),
                ),
        }
    }

    /// Whether it may create or keep the funds of `area` (a province or district code): a
    /// national admin and the command line any; a province admin its province's; a district
    /// its own district's (not the provincial fund); agencies none.
    pub fn may_manage_fund(&self, area: &str) -> ApiResult<()> {
        match (self, self.reach()) {
            (_, Reach::All) => Ok(()),
            (Principal::Admin { .. }, Reach::Province(own)) if area.starts_with(own) => Ok(()),
            (_, Reach::District(d)) if area == d => Ok(()),
            (_, Reach::Agency { .. }) => Err(ApiError::Forbidden(
                "funds are kept by the province and district centres".into(),
            )),
            (_, Reach::District(_)) => Err(ApiError::Forbidden(format!(
                "a district centre keeps its own district's funds, not those of {area}"
            ))),
            _ => Err(ApiError::Forbidden(format!(
                "area {area} is in another province"
            ))),
        }
    }

    /// Targets it may see: a national admin all; everyone else its province's.
    pub fn targets(&self) -> Condition {
        match self.province() {
            None => Condition::all(),
            Some(p) => Condition::all().add(target::Column::ProvinceCode.eq(p)),
        }
    }

    /// Whether it may set (or remove) the targets of `province`: a national admin and the
    /// command line any, a province admin its own; districts and agencies none.
    pub fn may_set_targets(&self, province: &str) -> ApiResult<()> {
        match (self, self.reach()) {
            (_, Reach::All) => Ok(()),
            (Principal::Admin { .. }, Reach::Province(own)) if own == province => Ok(()),
            (Principal::Admin { .. }, _) => Err(ApiError::Forbidden(format!(
                "this key is for another province, not {province}"
            ))),
            _ => Err(ApiError::Forbidden(
                "targets are set by the province centre (an admin key)".into(),
            )),
        }
    }

    /// Plans it may see: those on problems it may see.
    pub fn plans(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            _ => Condition::all().add(plan::Column::ProblemId.in_subquery(self.problem_ids())),
        }
    }

    /// The agency a plan it makes (or removes) is for: an agency key its own (naming
    /// another is refused); a district or admin key must name one (`given`, an agency of the
    /// problem's province, checked by the caller).
    pub fn plan_agency(&self, given: Option<i32>) -> ApiResult<i32> {
        match (self, given) {
            (Principal::Agency { agency_id, .. }, None) => Ok(*agency_id),
            (Principal::Agency { agency_id, .. }, Some(g)) if g == *agency_id => Ok(g),
            (Principal::Agency { .. }, Some(_)) => Err(ApiError::Forbidden(
                "an agency key plans for its own agency".into(),
            )),
            (_, Some(g)) => Ok(g),
            (_, None) => Err(ApiError::bad_input(
                "agency",
                "name the agency whose plan it is (its code, e.g. 33-pho)",
            )),
        }
    }

    /// Agencies whose rows it may see in per-agency figures: an agency itself; others those
    /// of their province (all for a national admin).
    pub fn agencies(&self) -> Condition {
        match (self, self.province()) {
            (Principal::Agency { agency_id, .. }, _) => {
                Condition::all().add(agency::Column::Id.eq(*agency_id))
            }
            (_, None) => Condition::all(),
            (_, Some(p)) => Condition::all().add(agency::Column::ProvinceCode.eq(p)),
        }
    }

    /// Import batches it may see: a district its own; a province admin those of its districts;
    /// a national admin all; agencies none.
    pub fn batches(&self) -> Condition {
        match self.reach() {
            Reach::All => Condition::all(),
            Reach::Province(p) => {
                Condition::all().add(import_batch::Column::DistrictCode.starts_with(p))
            }
            Reach::District(d) => Condition::all().add(import_batch::Column::DistrictCode.eq(d)),
            Reach::Agency { .. } => nothing(import_batch::Column::Id),
        }
    }

    /// Whether it may keep households' follow-up (urgency, closure): districts and admins,
    /// in their area (checked with [`Self::households`]); not agencies.
    pub fn may_follow_up(&self) -> ApiResult<()> {
        match self.reach() {
            Reach::Agency { .. } => Err(ApiError::Forbidden(
                "urgency and closure are kept by the district and the province".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Whether it may search households by name or citizen ID (the staff page's search):
    /// districts and admins, in their area; agencies filter the households they see.
    pub fn may_search(&self) -> ApiResult<()> {
        match self.reach() {
            Reach::Agency { .. } => Err(ApiError::Forbidden(
                "searching by name or citizen ID is for district and provincial staff".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Whether it may verify or return logbook entries (of its area, checked with
    /// [`Self::entries`]): districts and admins; not agencies, whose entries are checked.
    pub fn may_verify(&self) -> ApiResult<()> {
        match self.reach() {
            Reach::Agency { .. } => Err(ApiError::Forbidden(
                "entries are verified by the district centre (or the province)".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Whether it may lock (or unlock) a month of `district`: a national admin and the
    /// command line any, a province admin its province's districts.
    pub fn may_lock(&self, district: &str) -> ApiResult<()> {
        match (self, self.reach()) {
            (_, Reach::All) => Ok(()),
            (Principal::Admin { .. }, Reach::Province(own)) if district.starts_with(own) => Ok(()),
            (Principal::Admin { .. }, _) => Err(ApiError::Forbidden(format!(
                "district {district} is in another province"
            ))),
            _ => Err(ApiError::Forbidden(
                "months are locked by the province centre (an admin key)".into(),
            )),
        }
    }

    /// Whether it may see any import batch (agencies see none): what a webhook on
    /// `import_batch.finished` needs.
    pub fn sees_batches(&self) -> bool {
        !matches!(self.reach(), Reach::Agency { .. })
    }

    /// Audit events it may read: all for a national admin (and the command line), its
    /// province's for a province admin, none for districts and agencies.
    pub fn audit_events(&self) -> Condition {
        match (self, self.reach()) {
            (_, Reach::All) => Condition::all(),
            (Principal::Admin { .. }, Reach::Province(p)) => {
                Condition::all().add(audit_event::Column::ProvinceCode.eq(p))
            }
            _ => nothing(audit_event::Column::Id),
        }
    }

    /// Whether it may manage the agencies (and keys) of `province`: a national admin and
    /// the command line any, a province admin its own.
    pub fn administers(&self, province: &str) -> ApiResult<()> {
        match (self, self.reach()) {
            (_, Reach::All) => Ok(()),
            (Principal::Admin { .. }, Reach::Province(own)) if own == province => Ok(()),
            (Principal::Admin { .. }, _) => Err(ApiError::Forbidden(format!(
                "this key administers another province, not {province}"
            ))),
            _ => Err(ApiError::Forbidden(
                "only an admin key may manage agencies".into(),
            )),
        }
    }

    /// The scope a workbook it uploads is imported under: a district's own district, a
    /// province admin's province, nothing for a national admin. Agencies may not upload.
    pub fn import_scope(&self) -> ApiResult<Option<String>> {
        match self.reach() {
            Reach::All => Ok(None),
            Reach::Province(p) => Ok(Some(p.to_string())),
            Reach::District(d) => Ok(Some(d.to_string())),
            Reach::Agency { .. } => Err(ApiError::Forbidden(
                "agencies record help through recordAssistance; workbooks are uploaded by district and provincial centres".into(),
            )),
        }
    }
}

/// Who may introspect the schema (`__schema`, `__type`; `__typename` is always allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntrospectionPolicy {
    /// Every valid key.
    #[default]
    All,
    /// Admin keys (and the command line) only.
    Admin,
    /// Nobody.
    Off,
}

impl Principal {
    /// Whether it may introspect the schema under `policy` (a request without a key never
    /// reaches this: it is refused before).
    pub fn may_introspect(&self, policy: IntrospectionPolicy) -> ApiResult<()> {
        match (policy, self) {
            (IntrospectionPolicy::All, _)
            | (IntrospectionPolicy::Admin, Principal::Admin { .. } | Principal::Operator { .. }) => {
                Ok(())
            }
            (IntrospectionPolicy::Admin, _) => Err(ApiError::Forbidden(
                "schema introspection is for admin keys on this server (--introspection admin); the schema is also printed by `logbook schema`".into(),
            )),
            (IntrospectionPolicy::Off, _) => Err(ApiError::Forbidden(
                "schema introspection is off on this server (--introspection off); the schema is printed by `logbook schema`".into(),
            )),
        }
    }
}

/// A condition no row meets (ids are positive).
fn nothing(id: impl ColumnTrait) -> Condition {
    Condition::all().add(id.lt(0))
}
