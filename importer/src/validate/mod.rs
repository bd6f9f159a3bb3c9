//! Cross-sheet validation: areas resolved against the master data, households, members and
//! problems referring to each other, district scope, duplicates, dependants of rejected rows,
//! agencies matched within the household's province. Produces rows ready to plan and write.
//!
//! One module per sheet, in the order the sheets refer to each other — households, members,
//! problems, analyses, logbook entries, fund movements; each leaves in [`Seen`] what the later ones look up.

mod analyses;
mod check;
mod entries;
pub(crate) use entries::month_locked;
mod funds;
mod households;
mod members;
mod problems;

use crate::ReadWorkbook;
use crate::reference::{AgencyIndex, AreaIndex, FundIndex, Stored};
use crate::report::Issue;
use crate::rows::Parsed;
use crate::workbook::SheetKind;
use check::{Checker, House, Rejected};
use entity::types::Cohort;
use entity::{analysis, area, household, logbook_entry, member, problem};
use std::collections::HashMap;

/// A row that passed validation: the entity's own record as the workbook gives it, the row
/// it came from, and the identities it refers to that may not be stored yet.
///
/// Columns the workbook does not give are `NotSet` here — surrogate ids, the batch and the
/// rest of the provenance, foreign keys to rows written in the same batch (`cohort_id`,
/// `problem_id`), values derived at write time (`age_as_of`, a new problem's status, the
/// entry's write order) — and are filled by `write`. Every column that is `Set` is compared
/// by `plan` and written by `write`: a new column is one field here plus a migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<A, L = ()> {
    /// Source row as Excel shows it.
    pub row: u32,
    /// The record.
    pub model: A,
    /// What it refers to by identity (a cohort, a problem).
    pub link: L,
}

/// A problem's identity in workbook terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProblemIdent {
    /// House code.
    pub house_code: String,
    /// Indicator code.
    pub indicator: i32,
    /// Citizen ID or empty.
    pub person_key: String,
    /// Cohort.
    pub cohort: Cohort,
}

/// A loan as a funds row names it: its fund, household and day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoanKey {
    /// The fund.
    pub fund_id: i32,
    /// The household it was lent to.
    pub house_code: String,
    /// The day it was lent.
    pub lent_on: chrono::NaiveDate,
}

/// Rows that passed validation, and the rejected row count per sheet.
#[derive(Debug, Default)]
pub struct Validated {
    /// Households, with their cohort.
    pub households: Vec<Row<household::ActiveModel, Cohort>>,
    /// Members.
    pub members: Vec<Row<member::ActiveModel>>,
    /// Problems, with their identity (its cohort among it).
    pub problems: Vec<Row<problem::ActiveModel, ProblemIdent>>,
    /// Analyses.
    pub analyses: Vec<Row<analysis::ActiveModel>>,
    /// Logbook entries, with the problem they are on.
    pub entries: Vec<Row<logbook_entry::ActiveModel, ProblemIdent>>,
    /// Fund movements, with the loan of this same sheet a repayment or write-off is of
    /// (its `loan_id` is then filled when the loan is written).
    pub fund_movements: Vec<Row<entity::fund_movement::ActiveModel, Option<LoanKey>>>,
    /// Follow-up states (urgency, closure) the households sheet sets, where it has those
    /// columns and they differ from what is stored.
    pub follow_ups: Vec<Row<entity::household_follow_up::ActiveModel>>,
    /// Villages first seen in this workbook (households sheet rows).
    pub villages: Vec<Row<area::ActiveModel>>,
    /// Rejected rows per sheet.
    pub rejected: HashMap<SheetKind, u32>,
    /// Errors and warnings found here.
    pub issues: Vec<Issue>,
}

pub struct Context<'a> {
    /// Area tree.
    pub areas: &'a AreaIndex,
    /// Agencies.
    pub agencies: &'a AgencyIndex,
    /// Every fund, for the entries' fund text.
    pub funds: &'a FundIndex,
    /// Stored records.
    pub stored: &'a Stored,
    /// The area (a district, or a province: a 2-digit code) the import is limited to.
    pub scope: Option<&'a str>,
}

/// What the sheets checked so far leave for the later ones: the rows that passed and the
/// rows rejected, by the identity later rows refer to.
#[derive(Debug, Default)]
struct Seen {
    /// house code → (row, district code, province code) of households rows that passed.
    households: HashMap<String, (u32, String, String)>,
    /// citizen → (row, house code) of members rows that passed.
    members: HashMap<String, (u32, String)>,
    /// problems rows that passed, by identity.
    problems: HashMap<ProblemIdent, u32>,
    /// Rows rejected, by what refers to them.
    rejected: Rejected,
}

impl Seen {
    /// Where a house code stands: on the sheet, rejected, stored (in scope or not), unknown.
    fn house<'a>(&'a self, code: &str, ctx: &'a Context<'_>) -> House<'a> {
        if let Some((_, _, province)) = self.households.get(code) {
            return House::Ok { province };
        }
        if let Some(row) = self.rejected.households.get(code) {
            return House::Rejected(*row);
        }
        match ctx.stored.households.get(code) {
            Some(h)
                if ctx
                    .scope
                    .is_some_and(|d| !h.district_code.as_str().starts_with(d)) =>
            {
                House::OutOfScope
            }
            Some(h) => House::Ok {
                province: h.province_code.as_str(),
            },
            None => House::Unknown,
        }
    }

    /// The district code of a household on the sheet, else stored.
    fn district(&self, code: &str, ctx: &Context<'_>) -> Option<String> {
        self.households
            .get(code)
            .map(|(_, d, _)| d.clone())
            .or_else(|| {
                ctx.stored
                    .households
                    .get(code)
                    .map(|h| h.district_code.as_str().to_string())
            })
    }

    /// Whether `cid` is a member of `house`, on the sheet or stored.
    fn is_member(&self, house: &str, cid: &str, ctx: &Context<'_>) -> bool {
        match self.members.get(cid) {
            Some((_, h)) => h == house,
            None => ctx
                .stored
                .member_houses
                .get(cid)
                .is_some_and(|h| h == house),
        }
    }
}

/// Validates a read workbook against the reference data, sheet by sheet in the order they
/// refer to each other. The sheets' rows are taken out of `read`: each row's values move
/// into its record (nothing is copied), so a workbook is never held twice; `read` keeps its
/// sheets, headers and issues.
pub fn validate(read: &mut ReadWorkbook, ctx: &Context<'_>) -> Validated {
    use SheetKind::{Analysis, Assistance, Funds, Households, Members, Problems};
    use std::mem::take;
    let mut out = Validated::default();
    let mut seen = Seen::default();
    // each sheet: its checker, its rows and the output (c, r, o)
    let rows = take(&mut read.households);
    sheet(read, &mut out, Households, rows, |c, r, o| {
        households::check(c, r, ctx, &mut seen, o)
    });
    let rows = take(&mut read.members);
    sheet(read, &mut out, Members, rows, |c, r, o| {
        members::check(c, r, ctx, &mut seen, o)
    });
    let rows = take(&mut read.problems);
    sheet(read, &mut out, Problems, rows, |c, r, o| {
        problems::check(c, r, ctx, &mut seen, o)
    });
    let rows = take(&mut read.analyses);
    sheet(read, &mut out, Analysis, rows, |c, r, o| {
        analyses::check(c, r, ctx, &seen, o)
    });
    let rows = take(&mut read.entries);
    sheet(read, &mut out, Assistance, rows, |c, r, o| {
        entries::check(c, r, ctx, &seen, o)
    });
    let rows = take(&mut read.fund_rows);
    sheet(read, &mut out, Funds, rows, |c, r, o| {
        funds::check(c, r, ctx, &seen, o)
    });
    out
}

/// Runs one sheet's check over its rows with its own [`Checker`] and adds its issues and
/// rejected-row count to the output.
fn sheet<T>(
    read: &ReadWorkbook,
    out: &mut Validated,
    kind: SheetKind,
    rows: Vec<Parsed<T>>,
    check: impl FnOnce(&mut Checker<'_>, Vec<Parsed<T>>, &mut Validated),
) {
    let started = std::time::Instant::now();
    let n = rows.len();
    let mut ck = Checker::new(read, kind, &rows);
    check(&mut ck, rows, out);
    ck.finish(out);
    tracing::debug!(
        import.sheet = kind.key(),
        import.rows = n,
        import.ms = started.elapsed().as_millis() as u64,
        "sheet checked"
    );
}
