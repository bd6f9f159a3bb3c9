//! Follow-up in the schema: the worklist (query), urgency and closure (mutations). Thin over
//! [`crate::service::follow_up`].

use super::*;
use crate::service::follow_up::{self as follow, Closure, Work};
use entity::types::ClosureReason;
use types::{FollowUp, Problem, overdue_rule};

/// One problem on the worklist, with why it is where it is.
pub struct WorkItem(Work, follow::OverdueRule);

/// One problem on the worklist: the problem, its household's urgency, and when it is due.
#[Object]
impl WorkItem {
    /// The problem (its household through `houseCode`, or `household(houseCode)`).
    async fn problem(&self) -> Problem {
        Problem(self.0.problem.clone())
    }
    /// Its household is urgent.
    async fn urgent(&self) -> bool {
        self.0.urgent
    }
    /// Why.
    async fn urgent_reason(&self) -> Option<&str> {
        self.0.urgent_reason.as_deref()
    }
    /// When it is (or was) due (`YYYY-MM-DD`).
    async fn due_on(&self) -> Option<String> {
        self.0.due_on.map(|d| d.to_string())
    }
    /// Its due day has passed.
    async fn overdue(&self) -> bool {
        self.0.due_on.is_some_and(|d| d < self.1.today)
    }
    /// Days since it was due (0 when not overdue).
    async fn days_overdue(&self) -> i64 {
        self.0
            .due_on
            .map_or(0, |d| (self.1.today - d).num_days().max(0))
    }
}

/// Follow-up queries.
#[derive(Default)]
pub struct FollowUpQuery;

#[Object]
impl FollowUpQuery {
    /// The caller's open work: problems it may see that are not solved, of households not
    /// closed — urgent households first, then the longest overdue, then those not started.
    /// A problem is overdue when it is followed up and its next visit has passed, or not
    /// started `--overdue-days` (30) after it was recorded.
    async fn worklist(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProblemFilter>,
        #[graphql(desc = "Only overdue problems (true) or only the others (false).")]
        overdue: Option<bool>,
        #[graphql(desc = "Only urgent households' problems (true) or only the others (false).")]
        urgent: Option<bool>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, WorkItem, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let offset = after
            .as_deref()
            .map(|c| decode_id_cursor("wl", c))
            .transpose()
            .gql()?
            .map_or(0, |o| u64::try_from(o).unwrap_or(0));
        let condition = match &filter {
            Some(f) => problem_condition(f).gql()?,
            None => Condition::all(),
        };
        let rule = overdue_rule(ctx);
        let (rows, has_next) =
            follow::worklist(db(ctx)?, p, condition, overdue, urgent, rule, offset, first)
                .await
                .gql()?;
        let mut conn = Connection::new(offset > 0, has_next);
        conn.edges
            .extend(rows.into_iter().enumerate().map(|(i, w)| {
                let next = i32::try_from(offset + i as u64 + 1).unwrap_or(i32::MAX);
                Edge::new(encode_id_cursor("wl", next), WorkItem(w, rule))
            }));
        Ok(conn)
    }
}

/// How a household is closed.
#[derive(InputObject)]
pub struct CloseHouseholdInput {
    /// House code.
    pub house_code: String,
    /// Why.
    pub reason: ClosureReason,
    /// When (`2026-11-30`, `30/11/2569` …; not after today).
    pub on: String,
    /// A note (required for OTHER; at most 500 characters).
    pub note: Option<String>,
    /// The house code it was merged into (required for MERGED_INTO).
    pub merged_into: Option<String>,
}

/// Follow-up mutations.
#[derive(Default)]
pub struct FollowUpMutation;

#[Object]
impl FollowUpMutation {
    /// Marks a household urgent — a critical target, first on the worklist — with a reason,
    /// or not urgent (district and admin keys).
    async fn set_urgent(
        &self,
        ctx: &Context<'_>,
        house_code: String,
        urgent: bool,
        reason: Option<String>,
    ) -> Result<FollowUp> {
        let p = principal(ctx)?;
        let f = follow::set_urgent(db(ctx)?, p, &house_code, urgent, reason.as_deref())
            .await
            .gql()?;
        Ok(FollowUp(f))
    }

    /// Closes a household (district and admin keys): it leaves the open work and is
    /// counted apart (`closedHouseholds`); its records and history stay.
    async fn close_household(
        &self,
        ctx: &Context<'_>,
        input: CloseHouseholdInput,
    ) -> Result<FollowUp> {
        let p = principal(ctx)?;
        let today = overdue_rule(ctx).today;
        let f = follow::close(
            db(ctx)?,
            p,
            &input.house_code,
            Closure {
                reason: input.reason,
                on: input.on,
                note: input.note,
                merged_into: input.merged_into,
            },
            today,
        )
        .await
        .gql()?;
        Ok(FollowUp(f))
    }

    /// Reopens a closed household: it is open work again.
    async fn reopen_household(&self, ctx: &Context<'_>, house_code: String) -> Result<FollowUp> {
        let p = principal(ctx)?;
        let f = follow::reopen(db(ctx)?, p, &house_code).await.gql()?;
        Ok(FollowUp(f))
    }
}
