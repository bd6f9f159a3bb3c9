//! DataLoaders: one query per relation per page, whatever the page's size, each applying
//! the principal's access condition (no N+1, no leak through nested fields). They return
//! entity models; the output types in [`super::types`] wrap them.

use crate::access::Principal;
use crate::error::ApiError;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Error, ErrorExtensions};
use entity::types::{AreaCode, HouseCode};
use entity::{agency, analysis, area, cohort, logbook_entry, member, problem};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;

/// Every loader of one request, built for its principal: [`super::request`] attaches them,
/// resolvers reach them with [`of`].
pub struct Loaders {
    /// Areas by code.
    pub areas: Cached<AreaLoader>,
    /// Cohorts by id.
    pub cohorts: Cached<CohortLoader>,
    /// Members by house code.
    pub members: Cached<MembersLoader>,
    /// Problems by house code.
    pub problems: Cached<ProblemsLoader>,
    /// Logbook entries by problem id.
    pub entries: Cached<EntriesLoader>,
    /// Analyses by house code.
    pub analyses: Cached<AnalysisLoader>,
    /// Follow-up states by house code.
    pub follow_ups: Cached<FollowUpLoader>,
    /// Evidence photos by logbook entry id.
    pub evidence: Cached<EvidenceLoader>,
    /// Every movement of a fund (its figures are summed from them), by fund id.
    pub fund_sums: Cached<FundSumsLoader>,
    /// The movements of a fund the principal may see, by fund id.
    pub fund_movements: Cached<FundMovementsLoader>,
}

impl Loaders {
    /// Fresh loaders (empty caches) for one request of `principal`.
    pub fn new(db: &DatabaseConnection, principal: &Principal) -> Self {
        Loaders {
            areas: cached(AreaLoader(db.clone())),
            cohorts: cached(CohortLoader(db.clone())),
            members: cached(MembersLoader(db.clone(), principal.clone())),
            problems: cached(ProblemsLoader(db.clone(), principal.clone())),
            entries: cached(EntriesLoader(db.clone(), principal.clone())),
            analyses: cached(AnalysisLoader(db.clone(), principal.clone())),
            follow_ups: cached(FollowUpLoader(db.clone(), principal.clone())),
            evidence: cached(EvidenceLoader(db.clone(), principal.clone())),
            fund_sums: cached(FundSumsLoader(db.clone(), principal.clone())),
            fund_movements: cached(FundMovementsLoader(db.clone(), principal.clone())),
        }
    }
}

/// The request's loaders; an `INTERNAL` error (logged, masked) when the request was not made
/// by [`super::request`].
pub fn of<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a Loaders, Error> {
    super::data::<Loaders>(ctx).map_err(|e| e.extend())
}

/// A request's loader: batching, and caching for the request's lifetime.
pub type Cached<L> = DataLoader<L, HashMapCache>;

/// A new request-scoped loader.
fn cached<L: Loader<K>, K: Send + Sync + std::hash::Hash + Eq + Clone + 'static>(
    loader: L,
) -> Cached<L> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}

fn internal(e: sea_orm::DbErr) -> Error {
    ApiError::Db(e).extend()
}

/// Every movement of the funds the principal may see, by fund id: what their figures are
/// summed from.
pub struct FundSumsLoader(pub DatabaseConnection, pub Principal);

impl Loader<i32> for FundSumsLoader {
    type Value = Vec<entity::fund_movement::Model>;
    type Error = Error;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        crate::service::funds::for_figures(&self.0, &self.1, keys)
            .await
            .map_err(|e| e.extend())
    }
}

/// The movements the principal may see (capital, and those on households it may see), by
/// fund id.
pub struct FundMovementsLoader(pub DatabaseConnection, pub Principal);

impl Loader<i32> for FundMovementsLoader {
    type Value = Vec<entity::fund_movement::Model>;
    type Error = Error;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        crate::service::funds::visible_of(&self.0, &self.1, keys)
            .await
            .map_err(|e| e.extend())
    }
}

/// Households' follow-up states by house code, of households the principal may see.
pub struct FollowUpLoader(pub DatabaseConnection, pub Principal);

/// Loads the stored evidence photos of logbook entries, as the principal may see them.
pub struct EvidenceLoader(pub DatabaseConnection, pub Principal);

impl Loader<i32> for EvidenceLoader {
    type Value = Vec<entity::evidence::Model>;
    type Error = Error;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        crate::service::evidence::of_entries(&self.0, &self.1, keys)
            .await
            .map_err(|e| e.extend())
    }
}

impl Loader<String> for FollowUpLoader {
    type Value = entity::household_follow_up::Model;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        use entity::household_follow_up as f;
        let rows = f::Entity::find()
            .filter(f::Column::HouseCode.is_in(keys.to_vec()))
            .filter(self.1.follow_ups())
            .all(&self.0)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|r| (r.house_code.clone(), r))
            .collect())
    }
}

/// Areas by code (reference data, visible to every key).
pub struct AreaLoader(pub DatabaseConnection);

impl Loader<AreaCode> for AreaLoader {
    type Value = area::Model;
    type Error = Error;

    async fn load(&self, keys: &[AreaCode]) -> Result<HashMap<AreaCode, Self::Value>, Self::Error> {
        let rows = area::Entity::find()
            .filter(area::Column::Code.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|a| (a.code.clone(), a)).collect())
    }
}

/// Cohorts by id.
pub struct CohortLoader(pub DatabaseConnection);

impl Loader<i32> for CohortLoader {
    type Value = cohort::Model;
    type Error = Error;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = cohort::Entity::find()
            .filter(cohort::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// Loads `keys` with the loader in one call and puts every result (empty ones too) in the
/// request's cache, so later `load_one` calls for them run no statement.
pub async fn prime<K, L>(loader: &Cached<L>, keys: Vec<K>) -> Result<(), Error>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Error>,
{
    prime_with(loader, keys, |_| ()).await
}

/// [`prime`], giving `read` the loaded values before they go into the cache (what a caller
/// needs of them, without a copy of every value).
pub async fn prime_with<K, L, R>(
    loader: &Cached<L>,
    keys: Vec<K>,
    read: impl FnOnce(&HashMap<K, L::Value>) -> R,
) -> Result<R, Error>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Error>,
{
    let values = if keys.is_empty() {
        HashMap::new()
    } else {
        loader.loader().load(&keys).await?
    };
    let out = read(&values);
    loader.feed_many(values).await;
    Ok(out)
}

/// Members by house code, of visible households only.
pub struct MembersLoader(pub DatabaseConnection, pub Principal);

impl Loader<HouseCode> for MembersLoader {
    type Value = Vec<member::Model>;
    type Error = Error;

    async fn load(
        &self,
        keys: &[HouseCode],
    ) -> Result<HashMap<HouseCode, Self::Value>, Self::Error> {
        let rows = crate::service::households::in_workbook_order(
            member::Entity::find()
                .filter(member::Column::HouseCode.is_in(keys.to_vec()))
                .filter(self.1.members()),
        )
        .all(&self.0)
        .await
        .map_err(internal)?;
        let mut out: HashMap<HouseCode, Vec<member::Model>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for m in rows {
            out.entry(m.house_code.clone()).or_default().push(m);
        }
        Ok(out)
    }
}

/// Problems by house code, only those the principal may see.
pub struct ProblemsLoader(pub DatabaseConnection, pub Principal);

impl Loader<HouseCode> for ProblemsLoader {
    type Value = Vec<problem::Model>;
    type Error = Error;

    async fn load(
        &self,
        keys: &[HouseCode],
    ) -> Result<HashMap<HouseCode, Self::Value>, Self::Error> {
        let rows = problem::Entity::find()
            .filter(problem::Column::HouseCode.is_in(keys.to_vec()))
            .filter(self.1.problems())
            .order_by_asc(problem::Column::IndicatorCode)
            .order_by_asc(problem::Column::Id)
            .all(&self.0)
            .await
            .map_err(internal)?;
        let mut out: HashMap<HouseCode, Vec<problem::Model>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for p in rows {
            out.entry(p.house_code.clone()).or_default().push(p);
        }
        Ok(out)
    }
}

/// Logbook entries by problem id, only on problems the principal may see.
pub struct EntriesLoader(pub DatabaseConnection, pub Principal);

impl Loader<i32> for EntriesLoader {
    type Value = Vec<(logbook_entry::Model, Option<String>)>;
    type Error = Error;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let rows = logbook_entry::Entity::find()
            .filter(logbook_entry::Column::ProblemId.is_in(keys.to_vec()))
            .filter(self.1.entries())
            .order_by_asc(logbook_entry::Column::EntryDate)
            .order_by_asc(logbook_entry::Column::WrittenSeq)
            .order_by_asc(logbook_entry::Column::Id)
            .find_also_related(agency::Entity)
            .all(&self.0)
            .await
            .map_err(internal)?;
        let mut out: HashMap<i32, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (e, a) in rows {
            out.entry(e.problem_id)
                .or_default()
                .push((e, a.map(|a| a.code)));
        }
        Ok(out)
    }
}

/// Analyses by house code, of visible households only.
pub struct AnalysisLoader(pub DatabaseConnection, pub Principal);

impl Loader<HouseCode> for AnalysisLoader {
    type Value = Option<analysis::Model>;
    type Error = Error;

    async fn load(
        &self,
        keys: &[HouseCode],
    ) -> Result<HashMap<HouseCode, Self::Value>, Self::Error> {
        let rows = analysis::Entity::find()
            .filter(analysis::Column::HouseCode.is_in(keys.to_vec()))
            .filter(self.1.analyses())
            .all(&self.0)
            .await
            .map_err(internal)?;
        let mut out: HashMap<HouseCode, Option<analysis::Model>> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        for a in rows {
            out.insert(a.house_code.clone(), Some(a));
        }
        Ok(out)
    }
}
