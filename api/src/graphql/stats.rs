//! `stats`: the keys rows are grouped by, and a row of grouped counts.

use super::*;

pub use crate::service::stats::Key as StatsKey;

/// One group of `stats`: its keys (null where not grouped) and measures.
pub struct StatsRow(pub(crate) service::stats::Row);

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
            .find_map(|k| self.key(*k))
            .and_then(|c| domain::AreaCode::parse_str(&c).ok());
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
            .and_then(|k| ProblemStatus::from_key(&k))
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
