//! The GraphQL schema: query root, inputs, connections. Resolvers stay thin: access comes
//! from [`crate::access`], data from [`crate::service`] and the loaders.

pub mod loaders;
pub mod types;

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
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
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

/// Filters on households; combine with `and`, `or`, `not`.
#[derive(InputObject, Default)]
pub struct HouseholdFilter {
    /// All of these.
    pub and: Option<Vec<HouseholdFilter>>,
    /// Any of these.
    pub or: Option<Vec<HouseholdFilter>>,
    /// Not this.
    pub not: Option<Box<HouseholdFilter>>,
    /// Province code (2 digits).
    pub province_code: Option<String>,
    /// District code (4 digits).
    pub district_code: Option<String>,
    /// Subdistrict code (6 digits).
    pub subdistrict_code: Option<String>,
    /// Village code (8 digits).
    pub village_code: Option<String>,
    /// Cohort, e.g. `TPMAP 2565`.
    pub cohort: Option<String>,
    /// Classification.
    pub classification: Option<Classification>,
    /// Has at least one (visible) problem matching this.
    pub problem: Option<ProblemFilter>,
    /// Has at least one member matching this.
    pub member: Option<MemberFilter>,
}

/// Filters on problems; combine with `and`, `or`, `not`.
#[derive(InputObject, Default, Clone)]
pub struct ProblemFilter {
    /// All of these.
    pub and: Option<Vec<ProblemFilter>>,
    /// Any of these.
    pub or: Option<Vec<ProblemFilter>>,
    /// Not this.
    pub not: Option<Box<ProblemFilter>>,
    /// The household's province code.
    pub province_code: Option<String>,
    /// The household's district code.
    pub district_code: Option<String>,
    /// The household's subdistrict code.
    pub subdistrict_code: Option<String>,
    /// The household's village code.
    pub village_code: Option<String>,
    /// The household's classification.
    pub classification: Option<Classification>,
    /// Dimension.
    pub dimension: Option<Dimension>,
    /// Indicator code 1–17.
    pub indicator: Option<i32>,
    /// Status.
    pub status: Option<ProblemStatus>,
    /// Cohort, e.g. `TPMAP 2565`.
    pub cohort: Option<String>,
}

/// Filters on members.
#[derive(InputObject, Default, Clone)]
pub struct MemberFilter {
    /// Youngest age, in whole years today.
    pub age_min: Option<i32>,
    /// Oldest age, in whole years today.
    pub age_max: Option<i32>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Disabled or not.
    pub disabled: Option<bool>,
}

fn area_codes(codes: [(&str, &Option<String>); 4]) -> Result<Vec<domain::AreaCode>, ApiError> {
    let levels = [
        domain::AreaLevel::Province,
        domain::AreaLevel::District,
        domain::AreaLevel::Subdistrict,
        domain::AreaLevel::Village,
    ];
    let mut out = Vec::new();
    for ((field, code), level) in codes.into_iter().zip(levels) {
        if let Some(code) = code {
            out.push(domain::AreaCode::parse_level(code, level).map_err(|_| {
                ApiError::bad_input(field, format!("a {}-digit code", level.code_len()))
            })?);
        }
    }
    Ok(out)
}

fn household_condition(f: &HouseholdFilter, p: &Principal) -> Result<Condition, ApiError> {
    let mut c = Condition::all();
    for code in area_codes([
        ("provinceCode", &f.province_code),
        ("districtCode", &f.district_code),
        ("subdistrictCode", &f.subdistrict_code),
        ("villageCode", &f.village_code),
    ])? {
        c = c.add(service::households::in_area(&code));
    }
    if let Some(cohort) = &f.cohort {
        let cohort = domain::Cohort::parse_str(cohort)
            .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
        c = c.add(service::households::in_cohort(cohort));
    }
    if let Some(cl) = f.classification {
        c = c.add(service::households::classified(cl.key()));
    }
    if let Some(pf) = &f.problem {
        c = c.add(service::households::having_problem(
            problem_condition(pf)?,
            p,
        ));
    }
    if let Some(mf) = &f.member {
        let sex = mf.sex.map(|s| match s {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unknown => "unknown",
        });
        c = c.add(service::households::having_member(
            mf.age_min,
            mf.age_max,
            sex,
            mf.disabled,
        ));
    }
    if let Some(all) = &f.and {
        for sub in all {
            c = c.add(household_condition(sub, p)?);
        }
    }
    if let Some(any) = &f.or {
        let mut o = Condition::any();
        for sub in any {
            o = o.add(household_condition(sub, p)?);
        }
        c = c.add(o);
    }
    if let Some(not) = &f.not {
        c = c.add(household_condition(not, p)?.not());
    }
    Ok(c)
}

fn problem_condition(f: &ProblemFilter) -> Result<Condition, ApiError> {
    let cohort = f
        .cohort
        .as_deref()
        .map(domain::Cohort::parse_str)
        .transpose()
        .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
    if let Some(i) = f.indicator
        && !(1..=17).contains(&i)
    {
        return Err(ApiError::bad_input(
            "indicator",
            "an indicator code from 1 to 17",
        ));
    }
    let mut c = service::problems::matching(
        f.dimension.map(Into::into),
        f.indicator,
        f.status.map(|s| s.key()),
        cohort,
    );
    let mut houses = Condition::all();
    let mut any_house = false;
    for code in area_codes([
        ("provinceCode", &f.province_code),
        ("districtCode", &f.district_code),
        ("subdistrictCode", &f.subdistrict_code),
        ("villageCode", &f.village_code),
    ])? {
        houses = houses.add(service::households::in_area(&code));
        any_house = true;
    }
    if let Some(cl) = f.classification {
        houses = houses.add(service::households::classified(cl.key()));
        any_house = true;
    }
    if any_house {
        c = c.add(service::problems::of_households(houses));
    }
    if let Some(all) = &f.and {
        for sub in all {
            c = c.add(problem_condition(sub)?);
        }
    }
    if let Some(any) = &f.or {
        let mut o = Condition::any();
        for sub in any {
            o = o.add(problem_condition(sub)?);
        }
        c = c.add(o);
    }
    if let Some(not) = &f.not {
        c = c.add(problem_condition(not)?.not());
    }
    Ok(c)
}

/// What `stats` groups by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum StatsKey {
    /// The household's province.
    Province,
    /// The household's district.
    District,
    /// The household's subdistrict.
    Subdistrict,
    /// The household's village.
    Village,
    /// The problem's dimension.
    Dimension,
    /// The problem's indicator.
    Indicator,
    /// The problem's status.
    Status,
    /// The household's classification.
    Classification,
    /// The problem's cohort.
    Cohort,
}

impl From<StatsKey> for service::stats::Key {
    fn from(k: StatsKey) -> Self {
        use service::stats::Key;
        match k {
            StatsKey::Province => Key::Province,
            StatsKey::District => Key::District,
            StatsKey::Subdistrict => Key::Subdistrict,
            StatsKey::Village => Key::Village,
            StatsKey::Dimension => Key::Dimension,
            StatsKey::Indicator => Key::Indicator,
            StatsKey::Status => Key::Status,
            StatsKey::Classification => Key::Classification,
            StatsKey::Cohort => Key::Cohort,
        }
    }
}

/// One group of `stats`: its keys (null where not grouped) and measures.
pub struct StatsRow(service::stats::Row);

impl StatsRow {
    fn key(&self, k: service::stats::Key) -> Option<String> {
        self.0.keys.get(&k).cloned().flatten()
    }
}

#[Object]
impl StatsRow {
    /// The finest area grouped by (village, subdistrict, district or province).
    async fn area(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        use service::stats::Key;
        let code = [Key::Village, Key::Subdistrict, Key::District, Key::Province]
            .iter()
            .find_map(|k| self.key(*k));
        match code {
            Some(c) => Ok(ctx
                .data_unchecked::<loaders::Cached<loaders::AreaLoader>>()
                .load_one(c)
                .await?
                .map(Area)),
            None => Ok(None),
        }
    }
    /// Dimension.
    async fn dimension(&self) -> Option<Dimension> {
        self.key(service::stats::Key::Dimension)
            .and_then(|k| domain::Dimension::from_key(&k))
            .map(Into::into)
    }
    /// Indicator.
    async fn indicator(&self) -> Option<Indicator> {
        self.key(service::stats::Key::Indicator)
            .and_then(|k| k.parse().ok())
            .and_then(Indicator::of)
    }
    /// Status.
    async fn status(&self) -> Option<ProblemStatus> {
        self.key(service::stats::Key::Status)
            .map(|k| ProblemStatus::from_key(&k))
    }
    /// Classification.
    async fn classification(&self) -> Option<Classification> {
        self.key(service::stats::Key::Classification)
            .and_then(|k| Classification::from_key(&k))
    }
    /// Cohort.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Option<types::Cohort>> {
        match self
            .key(service::stats::Key::Cohort)
            .and_then(|k| k.parse::<i32>().ok())
        {
            Some(id) => {
                ctx.data_unchecked::<loaders::Cached<loaders::CohortLoader>>()
                    .load_one(id)
                    .await
            }
            None => Ok(None),
        }
    }
    /// Problems counted.
    async fn problems(&self) -> u64 {
        self.0.problems
    }
    /// Households with at least one of those problems.
    async fn households(&self) -> u64 {
        self.0.households
    }
    /// Members of those households.
    async fn people(&self) -> u64 {
        self.0.people
    }
    /// Those households whose counted problems are all solved.
    async fn solved_households(&self) -> u64 {
        self.0.solved_households
    }
    /// Logbook entries on those problems.
    async fn logbook_entries(&self) -> u64 {
        self.0.logbook_entries
    }
}

/// Filters on logbook entries.
#[derive(InputObject, Default)]
pub struct LogbookFilter {
    /// On or after this date (`YYYY-MM-DD`).
    pub date_from: Option<String>,
    /// On or before this date (`YYYY-MM-DD`).
    pub date_to: Option<String>,
    /// Given by this agency (code).
    pub agency: Option<String>,
    /// With this result.
    pub status: Option<ProblemStatus>,
    /// On problems matching this.
    pub problem: Option<ProblemFilter>,
}

fn parse_day(field: &str, s: &Option<String>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    s.as_deref()
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_input(field, "a date YYYY-MM-DD"))
        })
        .transpose()
}

fn encode_id_cursor(kind: &str, id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

fn decode_id_cursor(kind: &str, cursor: &str) -> Result<i32, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(&format!("{kind}:"))
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor this API gave"))
}

fn page_size(ctx: &Context<'_>, first: Option<i32>) -> Result<u64, ApiError> {
    let limits = ctx.data_unchecked::<Limits>();
    let first = first.unwrap_or(20);
    if first < 0 {
        return Err(ApiError::bad_input("first", "must not be negative"));
    }
    if first as usize > limits.max_page {
        return Err(ApiError::LimitExceeded(format!(
            "first may be at most {}",
            limits.max_page
        )));
    }
    Ok(first as u64)
}

/// Extra fields of a problem connection.
pub struct ProblemTotals {
    condition: Condition,
}

#[Object]
impl ProblemTotals {
    /// Problems matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        service::problems::count(db(ctx), self.condition.clone())
            .await
            .gql()
    }
}

/// Extra fields of a logbook connection.
pub struct LogbookTotals {
    condition: Condition,
}

#[Object]
impl LogbookTotals {
    /// Entries matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        service::logbook::count(db(ctx), self.condition.clone())
            .await
            .gql()
    }
}

fn encode_cursor(values: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "h:{}",
        serde_json::to_string(values).unwrap_or_default()
    ))
}

fn decode_cursor(cursor: &str, fields: usize) -> Result<Vec<String>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix("h:")
                .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
        })
        .filter(|v| v.len() == fields)
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor this API gave for this ordering"))
}

/// What households can be ordered by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum HouseholdOrderField {
    /// House code.
    HouseCode,
    /// Province code.
    Province,
    /// District code.
    District,
    /// Subdistrict code.
    Subdistrict,
    /// Village code.
    Village,
}

/// Ascending or descending.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// One ordering of households; later ones break ties, and the house code breaks the rest.
#[derive(InputObject, Clone, Copy)]
pub struct HouseholdOrder {
    /// The field.
    pub field: HouseholdOrderField,
    /// The direction (ASC unless given).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Extra fields of a household connection.
pub struct HouseholdTotals {
    condition: Condition,
}

#[Object]
impl HouseholdTotals {
    /// Households matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        service::households::count(db(ctx), self.condition.clone())
            .await
            .gql()
    }
}

/// The query root.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Who the key belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let p = principal(ctx)?;
        let all: Vec<Dimension> = domain::Dimension::ALL.iter().map(|d| (*d).into()).collect();
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
                dimensions: dimensions.iter().map(|d| (*d).into()).collect(),
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
                key: (*d).into(),
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
        let rows = service::catalog::areas(db(ctx), level.key(), parent_code.as_deref())
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
    /// report in one row.
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
            let k = k.into();
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
    let houses: Vec<String> = rows.iter().map(|h| h.house_code.clone()).collect();
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
    let mut areas: Vec<String> = Vec::new();
    for (field, pick) in [
        (
            "village",
            (|h: &entity::household::Model| h.village_code.clone())
                as fn(&entity::household::Model) -> String,
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
        dimensions: a.dimensions.iter().map(|d| (*d).into()).collect(),
    }
}

/// Help given, to record in the logbook.
#[derive(InputObject)]
pub struct AssistanceInput {
    /// House code (11 digits).
    pub house_code: String,
    /// Indicator code 1–17.
    pub indicator: i32,
    /// The person helped, for person indicators.
    pub citizen_id: Option<String>,
    /// Which problem when the household has it in several cohorts (`TPMAP 2565`); default: the latest.
    pub cohort: Option<String>,
    /// Date of the help: `2022-06-02`, `2/6/2565`, `2 มิ.ย. 2565`…
    pub date: String,
    /// The agency that gave it (code, e.g. `33-pho`): required for admin and district keys;
    /// an agency key records as itself.
    pub agency: Option<String>,
    /// Activity.
    pub activity: String,
    /// Poverty-solving menu item.
    pub menu: Option<String>,
    /// Cost in baht.
    pub amount: Option<f64>,
    /// Fund that paid.
    pub fund: Option<String>,
    /// The result.
    pub status: ProblemStatus,
    /// Note.
    pub note: Option<String>,
}

/// A new agency.
#[derive(InputObject)]
pub struct AgencyInput {
    /// Code, unique (`33-nso`).
    pub code: String,
    /// Abbreviation.
    pub abbreviation: String,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Province code.
    pub province: String,
}

/// The mutation root.
pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Uploads a workbook (GraphQL multipart request; the request must carry an
    /// `Apollo-Require-Preflight` header). It is stored and queued; poll `importBatch(id)` for
    /// its progress and report. District keys import their district only; admin keys any;
    /// agency keys may not upload.
    async fn upload_workbook(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(desc = "Check only: report what the import would do, write nothing.")]
        dry_run: Option<bool>,
    ) -> Result<types::ImportBatch> {
        let p = principal(ctx)?;
        let jobs = ctx
            .data_opt::<crate::jobs::Jobs>()
            .ok_or_else(|| ApiError::Forbidden("this server takes no uploads".into()).extend())?;
        let value = file.value(ctx).map_err(|e| {
            ApiError::bad_input("file", format!("the upload cannot be read: {e}")).extend()
        })?;
        let bytes = value.content.to_vec();
        if bytes.is_empty() {
            return Err(ApiError::bad_input("file", "the file is empty").extend());
        }
        let up = crate::jobs::Upload {
            file_name: value.filename.clone(),
            bytes,
            dry_run: dry_run.unwrap_or(false),
        };
        Ok(types::ImportBatch(jobs.enqueue(p, up).await.gql()?))
    }

    /// Adds an agency to a province (admin keys).
    async fn add_agency(&self, ctx: &Context<'_>, input: AgencyInput) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        let a = service::agencies::NewAgency {
            code: input.code,
            abbreviation: input.abbreviation,
            name_th: input.name_th,
            name_en: input.name_en,
            province: input.province,
        };
        Ok(agency_info(
            &service::agencies::add(db(ctx), p, a).await.gql()?,
        ))
    }

    /// Gives an agency a dimension (admin keys).
    async fn assign_dimension(
        &self,
        ctx: &Context<'_>,
        agency: String,
        dimension: Dimension,
    ) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        Ok(agency_info(
            &service::agencies::assign(db(ctx), p, &agency, dimension.into())
                .await
                .gql()?,
        ))
    }

    /// Takes a dimension from an agency (admin keys).
    async fn unassign_dimension(
        &self,
        ctx: &Context<'_>,
        agency: String,
        dimension: Dimension,
    ) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        Ok(agency_info(
            &service::agencies::unassign(db(ctx), p, &agency, dimension.into())
                .await
                .gql()?,
        ))
    }

    /// Records help given on a problem the key may see; the problem's status follows in the
    /// same transaction. Validation errors are BAD_USER_INPUT naming the field.
    async fn record_assistance(
        &self,
        ctx: &Context<'_>,
        input: AssistanceInput,
    ) -> Result<types::LogbookEntry> {
        let p = principal(ctx)?;
        let status = domain::ProblemStatus::from_key(input.status.key())
            .unwrap_or(domain::ProblemStatus::NotStarted);
        let (entry, code) = service::assistance::record(
            db(ctx),
            p,
            service::assistance::AssistanceInput {
                house_code: input.house_code,
                indicator: input.indicator,
                citizen_id: input.citizen_id,
                cohort: input.cohort,
                date: input.date,
                agency: input.agency,
                activity: input.activity,
                menu: input.menu,
                amount: input.amount,
                fund: input.fund,
                status,
                note: input.note,
            },
        )
        .await
        .gql()?;
        Ok(types::LogbookEntry(entry, Some(code)))
    }
}
