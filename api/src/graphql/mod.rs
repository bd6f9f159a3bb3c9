//! The GraphQL schema: the query root here; filters, stats, connections and the mutation
//! root in their modules; output types in [`types`], batching in [`loaders`]. Resolvers stay
//! thin: access comes from [`crate::access`], data from [`crate::service`] and the loaders.

pub mod coded;
mod filters;
pub mod loaders;
mod mutation;
mod paging;
mod stats;
pub mod types;

pub use filters::*;
pub use mutation::*;
pub use paging::*;
pub use stats::*;

use crate::access::Principal;
use crate::error::{ApiError, GqlResult};
use crate::service;
use async_graphql::ErrorExtensions;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{
    Context, EmptySubscription, InputObject, Object, Result, Schema, SimpleObject, Upload,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::types as domain;
use entity::types::{AreaCode, HouseCode};
use sea_orm::{Condition, DatabaseConnection};
use types::{Area, AreaLevel, Classification, Dimension, Household, Indicator, ProblemStatus, Sex};

/// The schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Limits a schema enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of a query.
    pub max_depth: usize,
    /// Largest complexity (a connection costs `first` × its children).
    pub max_complexity: usize,
    /// Largest page a connection returns.
    pub max_page: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 50_000,
            max_page: 100,
        }
    }
}

/// Builds the schema (no socket; tests call it in-process).
pub fn build_schema(db: DatabaseConnection, limits: Limits) -> AppSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(db)
        .data(limits.clone())
        .extension(coded::Coded {
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
        })
        .finish()
}

fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or_else(|| ApiError::Unauthenticated.extend())
}

fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// Who the key belongs to.
#[derive(SimpleObject)]
pub struct Me {
    /// `ADMIN`, `DISTRICT` or `AGENCY`.
    pub kind: String,
    /// Its label in logs and records.
    pub label: String,
    /// Province it is bound to, if any.
    pub province: Option<String>,
    /// District, for a district key.
    pub district: Option<String>,
    /// Agency code, for an agency key.
    pub agency: Option<String>,
    /// Dimensions it sees: all, or the agency's.
    pub dimensions: Vec<Dimension>,
}

/// A dimension with its indicators and the agencies that own it.
#[derive(SimpleObject)]
pub struct DimensionInfo {
    /// Key.
    pub key: Dimension,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Its indicators.
    pub indicators: Vec<Indicator>,
    /// Agencies owning it (in the key's province).
    pub agencies: Vec<AgencyInfo>,
}

/// An agency: an office of one province.
#[derive(SimpleObject, Clone)]
pub struct AgencyInfo {
    /// `33-pho`.
    pub code: String,
    /// `สสจ.`
    pub abbreviation: String,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Province code.
    pub province: String,
    /// Dimensions it owns.
    pub dimensions: Vec<Dimension>,
}

/// The query root.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Who the key belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let p = principal(ctx)?;
        let all: Vec<Dimension> = domain::Dimension::ALL.to_vec();
        Ok(match p {
            Principal::Admin { province, .. } => Me {
                kind: "ADMIN".into(),
                label: p.label(),
                province: province.clone(),
                district: None,
                agency: None,
                dimensions: all,
            },
            Principal::District { district, .. } => Me {
                kind: "DISTRICT".into(),
                label: p.label(),
                province: p.province().map(str::to_string),
                district: Some(district.clone()),
                agency: None,
                dimensions: all,
            },
            Principal::Agency {
                agency_code,
                province,
                dimensions,
                ..
            } => Me {
                kind: "AGENCY".into(),
                label: p.label(),
                province: Some(province.clone()),
                district: None,
                agency: Some(agency_code.clone()),
                dimensions: dimensions.to_vec(),
            },
            // the command line has no key, so it never asks; answered for completeness
            Principal::Operator { district } => Me {
                kind: "OPERATOR".into(),
                label: p.label(),
                province: p.province().map(str::to_string),
                district: district.clone(),
                agency: None,
                dimensions: all,
            },
        })
    }

    /// The five dimensions, with their indicators and owning agencies.
    async fn dimensions(&self, ctx: &Context<'_>) -> Result<Vec<DimensionInfo>> {
        let p = principal(ctx)?;
        let agencies = service::catalog::agencies(db(ctx), p).await.gql()?;
        Ok(domain::Dimension::ALL
            .iter()
            .map(|d| DimensionInfo {
                key: (*d),
                name_th: d.name_th().into(),
                name_en: d.name_en().into(),
                indicators: entity::catalog::INDICATORS
                    .iter()
                    .filter(|i| i.dimension == *d)
                    .filter_map(|i| Indicator::of(i32::from(i.code)))
                    .collect(),
                agencies: agencies
                    .iter()
                    .filter(|a| a.dimensions.contains(d))
                    .map(agency_info)
                    .collect(),
            })
            .collect())
    }

    /// The seventeen indicators.
    async fn indicators(&self, ctx: &Context<'_>) -> Result<Vec<Indicator>> {
        principal(ctx)?;
        Ok((1..=17).filter_map(Indicator::of).collect())
    }

    /// Areas of a level, optionally inside a parent.
    async fn areas(
        &self,
        ctx: &Context<'_>,
        level: AreaLevel,
        parent_code: Option<String>,
    ) -> Result<Vec<Area>> {
        principal(ctx)?;
        let rows = service::catalog::areas(db(ctx), level.as_str(), parent_code.as_deref())
            .await
            .gql()?;
        Ok(rows.into_iter().map(Area).collect())
    }

    /// Agencies of the key's province (every agency for a national admin).
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<AgencyInfo>> {
        let p = principal(ctx)?;
        Ok(service::catalog::agencies(db(ctx), p)
            .await
            .gql()?
            .iter()
            .map(agency_info)
            .collect())
    }

    /// Households the key may see, in house-code order; a Relay connection with keyset cursors.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn households(
        &self,
        ctx: &Context<'_>,
        filter: Option<HouseholdFilter>,
        #[graphql(
            desc = "Orderings; the house code breaks remaining ties. House-code order unless given."
        )]
        order_by: Option<Vec<HouseholdOrder>>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, Household, HouseholdTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let asked: Vec<(service::households::OrderField, bool)> = order_by
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let f = match o.field {
                    HouseholdOrderField::HouseCode => service::households::OrderField::HouseCode,
                    HouseholdOrderField::Province => service::households::OrderField::Province,
                    HouseholdOrderField::District => service::households::OrderField::District,
                    HouseholdOrderField::Subdistrict => {
                        service::households::OrderField::Subdistrict
                    }
                    HouseholdOrderField::Village => service::households::OrderField::Village,
                };
                (f, o.direction == OrderDirection::Desc)
            })
            .collect();
        let order = service::households::ordering(&asked);
        let after = after
            .as_deref()
            .map(|c| decode_cursor(c, order.len()))
            .transpose()
            .gql()?;
        let condition = Condition::all()
            .add(p.households())
            .add(household_condition(&filter.unwrap_or_default(), p).gql()?);
        let (rows, has_next) =
            service::households::page(db(ctx), condition.clone(), &order, after.as_deref(), first)
                .await
                .gql()?;
        prefetch(ctx, &rows).await?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            HouseholdTotals { condition },
        );
        conn.edges.extend(rows.into_iter().map(|h| {
            let values: Vec<String> = order.iter().map(|(f, _)| f.value(&h)).collect();
            Edge::new(encode_cursor(&values), Household(h))
        }));
        Ok(conn)
    }

    /// Problems the key may see, in id order; a Relay connection.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn problems(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProblemFilter>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::Problem, ProblemTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(|c| decode_id_cursor("p", c))
            .transpose()
            .gql()?;
        let condition = Condition::all()
            .add(p.problems())
            .add(problem_condition(&filter.unwrap_or_default()).gql()?);
        let (rows, has_next) = service::problems::page(db(ctx), condition.clone(), after, first)
            .await
            .gql()?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            ProblemTotals { condition },
        );
        conn.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(encode_id_cursor("p", m.id), types::Problem(m))),
        );
        Ok(conn)
    }

    /// Logbook entries the key may see, in id order; a Relay connection.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn logbook_entries(
        &self,
        ctx: &Context<'_>,
        filter: Option<LogbookFilter>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::LogbookEntry, LogbookTotals, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(|c| decode_id_cursor("e", c))
            .transpose()
            .gql()?;
        let f = filter.unwrap_or_default();
        let problems = f
            .problem
            .as_ref()
            .map(problem_condition)
            .transpose()
            .gql()?;
        let filter = service::logbook::matching(
            parse_day("dateFrom", &f.date_from).gql()?,
            parse_day("dateTo", &f.date_to).gql()?,
            f.agency.as_deref(),
            f.status.map(|s| s.key()),
            problems,
        );
        let condition = Condition::all().add(p.entries()).add(filter);
        let (rows, has_next) = service::logbook::page(db(ctx), condition.clone(), after, first)
            .await
            .gql()?;
        let mut conn = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            LogbookTotals { condition },
        );
        conn.edges.extend(
            rows.into_iter().map(|(e, code)| {
                Edge::new(encode_id_cursor("e", e.id), types::LogbookEntry(e, code))
            }),
        );
        Ok(conn)
    }

    /// Import batches the key may see (a district its own), newest first.
    async fn import_batches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::ImportBatch, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let before = after
            .as_deref()
            .map(|c| decode_id_cursor("b", c))
            .transpose()
            .gql()?;
        let (rows, has_next) = service::imports::page(db(ctx), p, before, first)
            .await
            .gql()?;
        let mut conn = Connection::new(before.is_some(), has_next);
        conn.edges.extend(
            rows.into_iter()
                .map(|b| Edge::new(encode_id_cursor("b", b.id), types::ImportBatch(b))),
        );
        Ok(conn)
    }

    /// Changes to agencies, dimension ownership and API keys, newest first: all of them for
    /// a national admin, its province's for a province admin, none for other keys.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::AuditEvent, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let before = after
            .as_deref()
            .map(|c| decode_id_cursor("a", c))
            .transpose()
            .gql()?;
        let (rows, has_next) = service::audit::page(db(ctx), p, before, first)
            .await
            .gql()?;
        let mut conn = Connection::new(before.is_some(), has_next);
        conn.edges.extend(
            rows.into_iter()
                .map(|a| Edge::new(encode_id_cursor("a", a.id), a.into())),
        );
        Ok(conn)
    }

    /// One import batch; `null` with NOT_FOUND when the key may not see it.
    async fn import_batch(&self, ctx: &Context<'_>, id: i32) -> Result<Option<types::ImportBatch>> {
        let p = principal(ctx)?;
        match service::imports::get(db(ctx), p, id).await.gql()? {
            Some(b) => Ok(Some(types::ImportBatch(b))),
            None => Err(ApiError::NotFound(format!("import batch {id}")).extend()),
        }
    }

    /// Grouped counts over the problems the key may see. With `groupBy: []`, the provincial
    /// report in one row. Costs what it does: two grouped queries over every visible
    /// problem, more with each group key.
    #[graphql(complexity = "2_000 * (1 + group_by.len()) + child_complexity")]
    async fn stats(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProblemFilter>,
        group_by: Vec<StatsKey>,
    ) -> Result<Vec<StatsRow>> {
        let p = principal(ctx)?;
        let condition = problem_condition(&filter.unwrap_or_default()).gql()?;
        let mut keys: Vec<service::stats::Key> = Vec::new();
        for k in group_by {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let rows = service::stats::grouped(db(ctx), p, condition, &keys)
            .await
            .gql()?;
        Ok(rows.into_iter().map(StatsRow).collect())
    }

    /// One household by house code; `null` with NOT_FOUND when the key may not see it.
    async fn household(&self, ctx: &Context<'_>, house_code: String) -> Result<Option<Household>> {
        let p = principal(ctx)?;
        let code = domain::HouseCode::parse_str(&house_code)
            .map_err(|e| ApiError::bad_input("houseCode", e.message_en()).extend())?;
        match service::households::get(db(ctx), p, code.as_str())
            .await
            .gql()?
        {
            Some(h) => Ok(Some(Household(h))),
            None => Err(ApiError::NotFound(format!("household {code}")).extend()),
        }
    }
}

/// Loads, once for the whole page, every relation the query asks of its households, into the
/// request's loader caches: a page costs a fixed number of statements whatever its size.
async fn prefetch(ctx: &Context<'_>, rows: &[entity::household::Model]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let asks = |path: &[&str]| {
        let (mut a, mut b) = (
            ctx.look_ahead().field("nodes"),
            ctx.look_ahead().field("edges").field("node"),
        );
        for f in path {
            a = a.field(f);
            b = b.field(f);
        }
        a.exists() || b.exists()
    };
    let houses: Vec<HouseCode> = rows.iter().map(|h| h.house_code.clone()).collect();
    if asks(&["members"]) || asks(&["problems", "member"]) {
        loaders::prime(
            ctx.data_unchecked::<loaders::Cached<loaders::MembersLoader>>(),
            houses.clone(),
        )
        .await?;
    }
    if asks(&["analysis"]) {
        loaders::prime(
            ctx.data_unchecked::<loaders::Cached<loaders::AnalysisLoader>>(),
            houses.clone(),
        )
        .await?;
    }
    let mut cohorts: Vec<i32> = rows.iter().map(|h| h.cohort_id).collect();
    if asks(&["problems"]) {
        let problems = loaders::prime(
            ctx.data_unchecked::<loaders::Cached<loaders::ProblemsLoader>>(),
            houses.clone(),
        )
        .await?;
        let all: Vec<&types::Problem> = problems.values().flatten().collect();
        cohorts.extend(all.iter().map(|p| p.0.cohort_id));
        if asks(&["problems", "logbook"]) {
            let ids: Vec<i32> = all.iter().map(|p| p.0.id).collect();
            loaders::prime(
                ctx.data_unchecked::<loaders::Cached<loaders::EntriesLoader>>(),
                ids,
            )
            .await?;
        }
    }
    if asks(&["cohort"]) || asks(&["problems", "cohort"]) {
        cohorts.sort_unstable();
        cohorts.dedup();
        loaders::prime(
            ctx.data_unchecked::<loaders::Cached<loaders::CohortLoader>>(),
            cohorts,
        )
        .await?;
    }
    let mut areas: Vec<AreaCode> = Vec::new();
    for (field, pick) in [
        (
            "village",
            (|h: &entity::household::Model| h.village_code.clone().into())
                as fn(&entity::household::Model) -> AreaCode,
        ),
        ("subdistrict", |h| h.subdistrict_code.clone()),
        ("district", |h| h.district_code.clone()),
        ("province", |h| h.province_code.clone()),
    ] {
        if asks(&[field]) {
            areas.extend(rows.iter().map(pick));
        }
    }
    areas.sort();
    areas.dedup();
    loaders::prime(
        ctx.data_unchecked::<loaders::Cached<loaders::AreaLoader>>(),
        areas,
    )
    .await?;
    Ok(())
}

fn agency_info(a: &service::catalog::AgencyRow) -> AgencyInfo {
    AgencyInfo {
        code: a.code.clone(),
        abbreviation: a.abbreviation.clone(),
        name_th: a.name_th.clone(),
        name_en: a.name_en.clone(),
        province: a.province.clone(),
        dimensions: a.dimensions.to_vec(),
    }
}
