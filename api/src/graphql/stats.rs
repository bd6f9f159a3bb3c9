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
            Some(c) => Ok(loaders::of(ctx)?.areas.load_one(c).await?.map(Area)),
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
            Some(id) => Ok(loaders::of(ctx)?
                .cohorts
                .load_one(id)
                .await?
                .map(types::Cohort)),
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
    /// Problems overdue (followed up past their next visit, or not started too long), of
    /// households not closed.
    async fn overdue_problems(&self) -> u64 {
        self.0.overdue_problems
    }
    /// Households closed (they left the open work: died, moved away …).
    async fn closed_households(&self) -> u64 {
        self.0.closed_households
    }
    /// Households marked urgent.
    async fn urgent_households(&self) -> u64 {
        self.0.urgent_households
    }
    /// Logbook entries on those problems not yet verified by the district (recorded or
    /// returned).
    async fn unverified_entries(&self) -> u64 {
        self.0.unverified_entries
    }
    /// Logbook entries on those problems.
    async fn logbook_entries(&self) -> u64 {
        self.0.logbook_entries
    }
    /// Agencies' plans on those problems (`planAssistance`).
    async fn planned(&self) -> u64 {
        self.0.planned
    }
    /// Those plans done: the agency recorded help on the problem on or after the day the
    /// plan was made.
    async fn planned_done(&self) -> u64 {
        self.0.planned_done
    }
}

/// The keys asked, each once, in the order first asked.
fn distinct(group_by: &[StatsKey]) -> Vec<StatsKey> {
    let mut keys: Vec<StatsKey> = Vec::new();
    for k in group_by {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    keys
}

/// The grouped counts.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Grouped counts over the problems the key may see. With `groupBy: []`, the provincial
    /// report in one row. Without a filter, `asOf` or `overdueProblems`, and grouped by area,
    /// classification, dimension and status only, it reads counts kept per village (a few
    /// milliseconds); otherwise two grouped queries over every visible problem, more with
    /// each group key: its cost is that of the second.
    #[graphql(complexity = "2_000 * (1 + group_by.len()) + child_complexity")]
    async fn stats(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProblemFilter>,
        group_by: Vec<StatsKey>,
        #[graphql(
            desc = "As things stood at the end of this day (`2022-04-15`, `15/4/2565`; not after today): each problem's status is its latest logbook entry's on or before it, entries and plans are those up to it, households closed by it, overdue on it. A filter on status reads the day's status."
        )]
        as_of: Option<String>,
    ) -> Result<Vec<StatsRow>> {
        let p = principal(ctx)?;
        // no filter, no day and no overdue count: the cells kept ahead answer, when they can
        if filter.is_none()
            && as_of.is_none()
            && !ctx.look_ahead().field("overdueProblems").exists()
        {
            let keys = distinct(&group_by);
            if let Some(rows) = service::stats::grouped_from_cells(db(ctx)?, p, &keys)
                .await
                .gql()?
            {
                return Ok(rows.into_iter().map(StatsRow).collect());
            }
        }
        let condition = problem_condition(&filter.unwrap_or_default()).gql()?;
        let keys = distinct(&group_by);
        let rule = types::overdue_rule(ctx);
        let day = match as_of.as_deref() {
            Some(raw) => Some(super::programme::as_of(ctx, Some(raw))?),
            None => None,
        };
        let rows = service::stats::grouped_as_of(db(ctx)?, p, condition, &keys, rule, day)
            .await
            .gql()?;
        Ok(rows.into_iter().map(StatsRow).collect())
    }
}
