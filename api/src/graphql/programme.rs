//! The provincial programme in the schema: poverty funds (their money, loans and figures on
//! a day), agencies' plans, targets and per-agency results. Thin over [`crate::service::funds`] and
//! [`crate::service::plans`].

use super::*;
use crate::service::funds::{self, FundInput, MovementInput};
use crate::service::plans::{self, PlanInput, PlanRow};
use crate::service::targets::{self, TargetInput};
use chrono::NaiveDate;
use entity::funds as arithmetic;
use entity::types::{Dimension, FundLevel, FundMovementKind};

/// `asOf` as given (`2022-09-30`, `30/9/2565` …, not after today), or today.
pub(crate) fn as_of(ctx: &Context<'_>, raw: Option<&str>) -> Result<NaiveDate> {
    service::day_or_today("asOf", raw, types::overdue_rule(ctx).today).gql()
}

fn baht(satang: i64) -> f64 {
    satang as f64 / 100.0
}

/// A poverty fund of a province or district.
pub struct Fund(pub entity::fund::Model);

#[Object]
impl Fund {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The province's or a district's.
    async fn level(&self) -> FundLevel {
        self.0.level
    }
    /// The owning area's code (province or district).
    async fn area_code(&self) -> &str {
        &self.0.area_code
    }
    /// The owning area.
    async fn area(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        match AreaCode::parse_str(&self.0.area_code) {
            Ok(c) => Ok(loaders::of(ctx)?.areas.load_one(c).await?.map(Area)),
            Err(_) => Ok(None),
        }
    }
    /// When it was set up (`YYYY-MM-DD`).
    async fn established_on(&self) -> Option<String> {
        self.0.established_on.map(|d| d.to_string())
    }
    /// Note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Its figures on a day (today unless given): capital, grants, loans, repayments,
    /// balance, outstanding, arrears.
    #[graphql(complexity = 20)]
    async fn position(&self, ctx: &Context<'_>, as_of: Option<String>) -> Result<FundPosition> {
        let day = self::as_of(ctx, as_of.as_deref())?;
        let all = loaders::of(ctx)?.fund_sums.load_one(self.0.id).await?;
        Ok(FundPosition(
            arithmetic::position(all.as_deref().unwrap_or_default(), day),
            day,
        ))
    }
    /// Its movements the key may see (capital, and those on households it may see), by
    /// date.
    #[graphql(complexity = 50)]
    async fn movements(&self, ctx: &Context<'_>) -> Result<Vec<FundMovement>> {
        let mine = loaders::of(ctx)?.fund_movements.load_one(self.0.id).await?;
        Ok(mine
            .unwrap_or_default()
            .into_iter()
            .map(FundMovement)
            .collect())
    }
}

/// A fund's figures on a day, in baht.
pub struct FundPosition(arithmetic::Position, NaiveDate);

#[Object]
impl FundPosition {
    /// The day (`YYYY-MM-DD`).
    async fn as_of(&self) -> String {
        self.1.to_string()
    }
    /// Capital paid in.
    async fn capital(&self) -> f64 {
        baht(self.0.capital)
    }
    /// Granted.
    async fn granted(&self) -> f64 {
        baht(self.0.granted)
    }
    /// Grants made.
    async fn grants(&self) -> i64 {
        self.0.grants
    }
    /// Lent.
    async fn lent(&self) -> f64 {
        baht(self.0.lent)
    }
    /// Loans made.
    async fn loans(&self) -> i64 {
        self.0.loans
    }
    /// Repaid.
    async fn repaid(&self) -> f64 {
        baht(self.0.repaid)
    }
    /// Written off.
    async fn written_off(&self) -> f64 {
        baht(self.0.written_off)
    }
    /// Money in the fund: capital − granted − lent + repaid.
    async fn balance(&self) -> f64 {
        baht(self.0.balance)
    }
    /// Loans still owed.
    async fn outstanding(&self) -> f64 {
        baht(self.0.outstanding)
    }
    /// Instalments due and not paid (arrears).
    async fn arrears(&self) -> f64 {
        baht(self.0.arrears)
    }
    /// Loans with arrears.
    async fn loans_in_arrears(&self) -> i64 {
        self.0.loans_in_arrears
    }
}

/// Money in or out of a fund.
pub struct FundMovement(pub entity::fund_movement::Model);

#[Object]
impl FundMovement {
    /// Id (a loan's id is what its repayments name).
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// The fund's id.
    async fn fund_id(&self) -> i32 {
        self.0.fund_id
    }
    /// What it is.
    async fn kind(&self) -> FundMovementKind {
        self.0.kind
    }
    /// The day the money moved (`YYYY-MM-DD`).
    async fn date(&self) -> String {
        self.0.moved_on.to_string()
    }
    /// Baht.
    async fn amount(&self) -> f64 {
        baht(self.0.amount_satang)
    }
    /// The household (all but capital).
    async fn house_code(&self) -> Option<&str> {
        self.0.house_code.as_deref()
    }
    /// The problem a grant or loan was for.
    async fn problem_id(&self) -> Option<i32> {
        self.0.problem_id
    }
    /// The logbook entry it was recorded with.
    async fn entry_id(&self) -> Option<i32> {
        self.0.entry_id
    }
    /// The loan a repayment or write-off belongs to.
    async fn loan_id(&self) -> Option<i32> {
        self.0.loan_id
    }
    /// Where capital came from; a grant's or loan's purpose.
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// A loan's term in months.
    async fn term_months(&self) -> Option<i32> {
        self.0.term_months
    }
    /// A loan's instalments come every this many months.
    async fn every_months(&self) -> Option<i32> {
        self.0.every_months
    }
    /// Note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Who recorded it.
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }
    /// A loan's standing on a day (today unless given); none for other kinds.
    #[graphql(complexity = 10)]
    async fn loan(&self, ctx: &Context<'_>, as_of: Option<String>) -> Result<Option<Loan>> {
        if self.0.kind != FundMovementKind::Loan {
            return Ok(None);
        }
        let day = self::as_of(ctx, as_of.as_deref())?;
        let (_, state, schedule) = funds::loan(db(ctx)?, principal(ctx)?, self.0.id, day)
            .await
            .gql()?;
        Ok(Some(Loan(state, schedule, day)))
    }
}

/// Where a loan stands on a day, and its instalments.
pub struct Loan(
    arithmetic::LoanState,
    Vec<arithmetic::Instalment>,
    NaiveDate,
);

/// One instalment of a loan.
#[derive(SimpleObject)]
pub struct Instalment {
    /// When it is due (`YYYY-MM-DD`).
    pub due_on: String,
    /// Baht.
    pub amount: f64,
}

impl From<arithmetic::Instalment> for Instalment {
    fn from(i: arithmetic::Instalment) -> Self {
        Instalment {
            due_on: i.due_on.to_string(),
            amount: baht(i.amount),
        }
    }
}

#[Object]
impl Loan {
    /// The day (`YYYY-MM-DD`).
    async fn as_of(&self) -> String {
        self.2.to_string()
    }
    /// Lent, baht.
    async fn amount(&self) -> f64 {
        baht(self.0.amount)
    }
    /// Repaid by the day.
    async fn repaid(&self) -> f64 {
        baht(self.0.repaid)
    }
    /// Written off by the day.
    async fn written_off(&self) -> f64 {
        baht(self.0.written_off)
    }
    /// Instalments due by the day.
    async fn due(&self) -> f64 {
        baht(self.0.due)
    }
    /// Still owed.
    async fn outstanding(&self) -> f64 {
        baht(self.0.outstanding)
    }
    /// Due and not paid.
    async fn arrears(&self) -> f64 {
        baht(self.0.arrears)
    }
    /// The next instalment after the day.
    async fn next_due(&self) -> Option<Instalment> {
        self.0.next_due.map(Instalment::from)
    }
    /// Every instalment.
    async fn schedule(&self) -> Vec<Instalment> {
        self.1.iter().copied().map(Instalment::from).collect()
    }
}

/// A problem in an agency's plan.
pub struct Plan(PlanRow);

#[Object]
impl Plan {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.plan.id
    }
    /// The problem's id.
    async fn problem_id(&self) -> i32 {
        self.0.plan.problem_id
    }
    /// The agency's code.
    async fn agency(&self) -> &str {
        &self.0.agency_code
    }
    /// The project.
    async fn project(&self) -> &str {
        &self.0.plan.project
    }
    /// When the help is planned for (`YYYY-MM-DD`).
    async fn planned_on(&self) -> String {
        self.0.plan.planned_on.to_string()
    }
    /// Budget, baht.
    async fn budget(&self) -> Option<f64> {
        self.0.plan.budget_satang.map(baht)
    }
    /// The day the plan was made.
    async fn made_on(&self) -> String {
        self.0.plan.made_on.to_string()
    }
    /// Done: the agency recorded help on the problem on or after the day the plan was made.
    async fn done(&self) -> bool {
        self.0.done
    }
    /// Who made it.
    async fn recorded_by(&self) -> &str {
        &self.0.plan.recorded_by
    }
}

/// One agency's results in one dimension it owns.
pub struct AgencyResult(crate::service::periods::AgencyRow);

#[Object]
impl AgencyResult {
    /// Agency code.
    async fn agency(&self) -> &str {
        &self.0.agency_code
    }
    /// Agency name.
    async fn agency_name(&self) -> &str {
        &self.0.agency_name
    }
    /// The dimension.
    async fn dimension(&self) -> Option<Dimension> {
        self.0.dimension
    }
    /// Problems of the dimension in the agency's province.
    async fn problems(&self) -> u64 {
        self.0.problems
    }
    /// Of those, solved.
    async fn solved(&self) -> u64 {
        self.0.solved
    }
    /// Awaiting or under follow-up.
    async fn following_up(&self) -> u64 {
        self.0.following_up
    }
    /// Not yet solvable.
    async fn not_solvable_yet(&self) -> u64 {
        self.0.not_solvable_yet
    }
    /// Not started.
    async fn not_started(&self) -> u64 {
        self.0.not_started
    }
    /// Logbook entries the agency recorded on them.
    async fn entries(&self) -> u64 {
        self.0.entries
    }
    /// Money it gave on them, baht.
    async fn money(&self) -> f64 {
        baht(self.0.money)
    }
    /// Its plans on them.
    async fn planned(&self) -> u64 {
        self.0.planned
    }
    /// Of those, done.
    async fn planned_done(&self) -> u64 {
        self.0.planned_done
    }
}

/// A target of the province: the problems of a cohort (and dimension) solved by a day.
pub struct Target(pub entity::target::Model);

#[Object]
impl Target {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The province.
    async fn province_code(&self) -> &str {
        &self.0.province_code
    }
    /// Only this cohort's problems (all when none).
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Option<types::Cohort>> {
        match self.0.cohort_id {
            Some(id) => Ok(loaders::of(ctx)?
                .cohorts
                .load_one(id)
                .await?
                .map(types::Cohort)),
            None => Ok(None),
        }
    }
    /// Only this dimension's (all when none).
    async fn dimension(&self) -> Option<Dimension> {
        self.0.dimension
    }
    /// The deadline (`YYYY-MM-DD`).
    async fn due_on(&self) -> String {
        self.0.due_on.to_string()
    }
    /// Progress on a day (today unless given): the whole target first (district and
    /// dimension null), then per district and dimension.
    #[graphql(complexity = 2_000)]
    async fn progress(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
    ) -> Result<Vec<TargetProgress>> {
        let day = self::as_of(ctx, as_of.as_deref())?;
        Ok(targets::progress(db(ctx)?, principal(ctx)?, &self.0, day)
            .await
            .gql()?
            .into_iter()
            .map(TargetProgress)
            .collect())
    }
}

/// A target's progress in one district and dimension (or the whole target).
pub struct TargetProgress(targets::Progress);

#[Object]
impl TargetProgress {
    /// District code (null: the whole target).
    async fn district_code(&self) -> Option<&str> {
        self.0.district_code.as_deref()
    }
    /// District name.
    async fn district_name(&self) -> Option<&str> {
        self.0.district_name.as_deref()
    }
    /// Dimension (null: the whole target).
    async fn dimension(&self) -> Option<Dimension> {
        self.0.dimension
    }
    /// Problems the target covers.
    async fn total(&self) -> u64 {
        self.0.total
    }
    /// Solved.
    async fn done(&self) -> u64 {
        self.0.done
    }
    /// Not solved yet.
    async fn remaining(&self) -> u64 {
        self.0.remaining
    }
    /// Days to the deadline (negative when past).
    async fn days_left(&self) -> i64 {
        self.0.days_left
    }
    /// Problems to solve per week to finish on time.
    async fn needed_per_week(&self) -> f64 {
        self.0.needed_per_week
    }
    /// Problems solved per week over the last four weeks.
    async fn last_four_weeks_per_week(&self) -> f64 {
        self.0.last_four_weeks_per_week
    }
    /// The last four weeks' rate finishes on time (or nothing remains).
    async fn on_track(&self) -> bool {
        self.0.on_track()
    }
}

/// Programme queries.
#[derive(Default)]
pub struct ProgrammeQuery;

#[Object]
impl ProgrammeQuery {
    /// The poverty funds the key may see (a district its own and its province's; a province
    /// admin and agencies their province's), in an area (a province's and its districts', or
    /// a district's) or all.
    async fn funds(&self, ctx: &Context<'_>, area: Option<String>) -> Result<Vec<Fund>> {
        Ok(funds::list(db(ctx)?, principal(ctx)?, area.as_deref())
            .await
            .gql()?
            .into_iter()
            .map(Fund)
            .collect())
    }

    /// One fund.
    async fn fund(&self, ctx: &Context<'_>, id: i32) -> Result<Fund> {
        Ok(Fund(funds::get(db(ctx)?, principal(ctx)?, id).await.gql()?))
    }

    /// Plans on problems the key may see, newest first: of one agency (its code) and/or one
    /// problem; at most `first` (100 unless given, 500 at most).
    #[graphql(complexity = "first.unwrap_or(100).clamp(0, 500) as usize * child_complexity")]
    async fn plans(
        &self,
        ctx: &Context<'_>,
        agency: Option<String>,
        problem_id: Option<i32>,
        first: Option<i32>,
    ) -> Result<Vec<Plan>> {
        let first = u64::try_from(first.unwrap_or(100).clamp(1, 500)).unwrap_or(100);
        Ok(plans::list(
            db(ctx)?,
            principal(ctx)?,
            agency.as_deref(),
            problem_id,
            first,
        )
        .await
        .gql()?
        .into_iter()
        .map(Plan)
        .collect())
    }

    /// Per agency and dimension it owns, as the agencies present their results to the board:
    /// problems, solved, under follow-up, not yet solvable, the agency's entries and money,
    /// its plans — as things stood at the end of `asOf` (today). An agency key sees its own.
    #[graphql(complexity = 2_000)]
    async fn agency_results(
        &self,
        ctx: &Context<'_>,
        as_of: Option<String>,
    ) -> Result<Vec<AgencyResult>> {
        let day = self::as_of(ctx, as_of.as_deref())?;
        Ok(
            crate::service::periods::agency_results(db(ctx)?, principal(ctx)?, day)
                .await
                .gql()?
                .into_iter()
                .map(AgencyResult)
                .collect(),
        )
    }

    /// The targets of the key's province (all for a national admin), soonest first.
    async fn targets(&self, ctx: &Context<'_>) -> Result<Vec<Target>> {
        Ok(targets::list(db(ctx)?, principal(ctx)?)
            .await
            .gql()?
            .into_iter()
            .map(Target)
            .collect())
    }

    /// The grants, loans and repayments of a household the key may see, by date.
    async fn household_funding(
        &self,
        ctx: &Context<'_>,
        house_code: String,
    ) -> Result<Vec<FundMovement>> {
        let house = HouseCode::parse_str(&house_code)
            .map_err(|e| ApiError::bad_input("houseCode", e.message_en()))
            .gql()?;
        Ok(
            funds::of_household(db(ctx)?, principal(ctx)?, house.as_str())
                .await
                .gql()?
                .into_iter()
                .map(FundMovement)
                .collect(),
        )
    }
}

/// Programme mutations.
#[derive(Default)]
pub struct ProgrammeMutation;

#[Object]
impl ProgrammeMutation {
    /// Creates a fund: a province admin for its province or a district of it, a district
    /// key for its own district.
    async fn create_fund(&self, ctx: &Context<'_>, input: FundInput) -> Result<Fund> {
        let f = funds::create(db(ctx)?, principal(ctx)?, input)
            .await
            .gql()?;
        Ok(Fund(f))
    }

    /// Records money in or out of a fund the key keeps. CAPITAL needs a `source`; GRANT and
    /// LOAN a `houseCode` in the fund's area (and may name the problem and logbook entry),
    /// not more than the fund holds on that day and after; LOAN a `termMonths`; REPAYMENT
    /// and WRITE_OFF a `loanId`, not more than is owed. Errors name the field.
    async fn record_fund_movement(
        &self,
        ctx: &Context<'_>,
        input: MovementInput,
    ) -> Result<FundMovement> {
        let m = funds::record(db(ctx)?, principal(ctx)?, input)
            .await
            .gql()?;
        Ok(FundMovement(m))
    }

    /// Puts a problem the key may see into an agency's plan: an agency key into its own, a
    /// district or admin key into a named agency's (`agency`, its code). The agency must own
    /// the problem's dimension; `plannedOn` may be up to two years ahead. The plan is done
    /// when the agency records help on the problem on or after today.
    async fn plan_assistance(
        &self,
        ctx: &Context<'_>,
        problem_id: i32,
        agency: Option<String>,
        project: String,
        planned_on: String,
        #[graphql(desc = "Baht.")] budget: Option<f64>,
    ) -> Result<Plan> {
        let today = types::overdue_rule(ctx).today;
        let row = plans::make(
            db(ctx)?,
            principal(ctx)?,
            PlanInput {
                problem_id,
                agency,
                project,
                planned_on,
                budget,
            },
            today,
        )
        .await
        .gql()?;
        Ok(Plan(row))
    }

    /// Removes a plan (the agency its own; the district or an admin any they see); true
    /// when removed.
    async fn remove_plan(&self, ctx: &Context<'_>, id: i32) -> Result<bool> {
        plans::remove(db(ctx)?, principal(ctx)?, id).await.gql()?;
        Ok(true)
    }

    /// Sets a target for a province (its admin): the problems of `cohort` (e.g. `TPMAP
    /// 2565`; all when none), of `dimension` (all when none), solved by `dueOn`.
    async fn set_target(
        &self,
        ctx: &Context<'_>,
        province: String,
        name: String,
        cohort: Option<String>,
        dimension: Option<Dimension>,
        due_on: String,
    ) -> Result<Target> {
        let today = types::overdue_rule(ctx).today;
        let t = targets::set(
            db(ctx)?,
            principal(ctx)?,
            TargetInput {
                province,
                name,
                cohort,
                dimension,
                due_on,
            },
            today,
        )
        .await
        .gql()?;
        Ok(Target(t))
    }

    /// Removes a target (its province's admin); true when removed.
    async fn remove_target(&self, ctx: &Context<'_>, id: i32) -> Result<bool> {
        targets::remove(db(ctx)?, principal(ctx)?, id).await.gql()?;
        Ok(true)
    }

    /// Removes a movement recorded by mistake (a loan after its repayments); true when
    /// removed.
    async fn remove_fund_movement(&self, ctx: &Context<'_>, id: i32) -> Result<bool> {
        funds::remove(db(ctx)?, principal(ctx)?, id).await.gql()?;
        Ok(true)
    }
}
