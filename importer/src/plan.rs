//! Planning: each valid row compared with what is stored for its identity, giving
//! `inserted`, `updated` or `unchanged` exactly as workbook-format.md defines them.

use crate::reference::Stored;
use crate::report::SheetCounts;
use crate::validate::{EntryRec, HouseholdRec, MemberRec, ProblemIdent, Validated};
use crate::workbook::SheetKind;
use std::collections::BTreeMap;

/// What will happen to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// New identity.
    Insert,
    /// Known identity, some value differs.
    Update,
    /// Known identity, every value equal.
    Unchanged,
}

/// Actions parallel to the validated rows.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per household.
    pub households: Vec<Action>,
    /// Per member.
    pub members: Vec<Action>,
    /// Per problem.
    pub problems: Vec<Action>,
    /// Per analysis.
    pub analyses: Vec<Action>,
    /// Per logbook entry.
    pub entries: Vec<Action>,
}

fn act(stored: bool, equal: bool) -> Action {
    match (stored, equal) {
        (false, _) => Action::Insert,
        (true, true) => Action::Unchanged,
        (true, false) => Action::Update,
    }
}

/// The stored problem id for an identity, if its cohort and the problem exist.
pub fn stored_problem_id(stored: &Stored, p: &ProblemIdent) -> Option<i32> {
    let cohort_id = stored.cohorts.get(&p.cohort)?;
    stored
        .problems
        .get(&(
            p.house_code.clone(),
            p.indicator,
            p.person_key.clone(),
            *cohort_id,
        ))
        .map(|m| m.id)
}

fn household_action(stored: &Stored, h: &HouseholdRec) -> Action {
    let Some(s) = stored.households.get(&h.house_code) else {
        return Action::Insert;
    };
    let equal = s.house_no == h.house_no
        && s.village_code == h.village_code
        && s.subdistrict_code == h.subdistrict_code
        && s.district_code == h.district_code
        && s.province_code == h.province_code
        && s.head_title == h.head_title
        && s.head_name == h.head_name
        && s.head_citizen_id == h.head_citizen_id
        && s.member_count == h.member_count
        && s.classification == h.classification
        && stored.cohorts.get(&h.cohort) == Some(&s.cohort_id)
        && s.latitude == h.latitude
        && s.longitude == h.longitude;
    act(true, equal)
}

fn member_action(stored: &Stored, m: &MemberRec) -> Action {
    let Some(s) = stored.members.get(&m.citizen_id) else {
        return Action::Insert;
    };
    let equal = s.house_code == m.house_code
        && s.title == m.title
        && s.first_name == m.first_name
        && s.last_name == m.last_name
        && s.sex == m.sex
        && s.birth_date == m.birth_date
        && s.age == m.age
        && s.relation == m.relation
        && s.disabled == m.disabled;
    act(true, equal)
}

fn entry_action(stored: &Stored, e: &EntryRec) -> Action {
    let Some(pid) = stored_problem_id(stored, &e.problem) else {
        return Action::Insert;
    };
    let Some(s) = stored.entries.get(&(pid, e.date, e.entry_key.clone())) else {
        return Action::Insert;
    };
    let equal = s.agency_id == e.agency_id
        && s.menu == e.menu
        && s.amount_satang == e.amount_satang
        && s.fund == e.fund
        && s.status == e.status
        && s.note == e.note;
    act(true, equal)
}

/// Compares every valid row with what is stored.
pub fn plan(v: &Validated, stored: &Stored) -> Plan {
    Plan {
        households: v
            .households
            .iter()
            .map(|h| household_action(stored, h))
            .collect(),
        members: v.members.iter().map(|m| member_action(stored, m)).collect(),
        problems: v
            .problems
            .iter()
            .map(|p| {
                let Some(cohort_id) = stored.cohorts.get(&p.ident.cohort) else {
                    return Action::Insert;
                };
                let key = (
                    p.ident.house_code.clone(),
                    p.ident.indicator,
                    p.ident.person_key.clone(),
                    *cohort_id,
                );
                match stored.problems.get(&key) {
                    None => Action::Insert,
                    Some(s) => act(true, s.detail == p.detail),
                }
            })
            .collect(),
        analyses: v
            .analyses
            .iter()
            .map(|a| match stored.analyses.get(&a.house_code) {
                None => Action::Insert,
                Some(s) => act(
                    true,
                    s.attitude == a.value.attitude
                        && s.skills == a.value.skills
                        && s.resources == a.value.resources
                        && s.way_out == a.value.way_out
                        && s.analysed_on == a.value.analysed_on
                        && s.mentor == a.value.mentor,
                ),
            })
            .collect(),
        entries: v.entries.iter().map(|e| entry_action(stored, e)).collect(),
    }
}

impl Plan {
    /// Rows that will be inserted or updated, over every sheet.
    pub fn changed_rows(&self) -> usize {
        [
            &self.households,
            &self.members,
            &self.problems,
            &self.analyses,
            &self.entries,
        ]
        .iter()
        .map(|actions| actions.iter().filter(|a| **a != Action::Unchanged).count())
        .sum()
    }

    /// Counts per sheet; `read` per sheet comes from the reader.
    pub fn counts(
        &self,
        read: &BTreeMap<SheetKind, u32>,
        rejected: &std::collections::HashMap<SheetKind, u32>,
    ) -> BTreeMap<SheetKind, SheetCounts> {
        let mut out = BTreeMap::new();
        for kind in SheetKind::ALL {
            let actions = match kind {
                SheetKind::Households => &self.households,
                SheetKind::Members => &self.members,
                SheetKind::Problems => &self.problems,
                SheetKind::Analysis => &self.analyses,
                SheetKind::Assistance => &self.entries,
            };
            let n = |a| actions.iter().filter(|x| **x == a).count() as u32;
            out.insert(
                kind,
                SheetCounts {
                    read: read.get(&kind).copied().unwrap_or(0),
                    inserted: n(Action::Insert),
                    updated: n(Action::Update),
                    unchanged: n(Action::Unchanged),
                    rejected: rejected.get(&kind).copied().unwrap_or(0),
                },
            );
        }
        out
    }
}
