//! Planning: each valid row compared with what is stored for its identity, giving
//! `inserted`, `updated` or `unchanged` exactly as workbook-format.md defines them. The
//! households and problems are compared with what [`Stored`] holds; the members, analyses
//! and logbook entries with their stored rows as those stream from the database, one row at
//! a time, so none of the three is held in memory.

use crate::reference::{Stored, each_stored};
use crate::report::SheetCounts;
use crate::validate::{ProblemIdent, Validated};
use crate::workbook::SheetKind;
use entity::{logbook_entry, problem};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Iterable,
    ModelTrait, StreamTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

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
    /// Per fund movement (insert or unchanged: `validate` refuses a changed one).
    pub fund_movements: Vec<Action>,
    /// The stored households of the members this plan updates (a member may move: what
    /// `stats` counts changes in the household left too).
    pub members_left: Vec<String>,
}

/// Whether every column the new record sets equals the stored one's. Columns left `NotSet`
/// (ids, provenance, derived values) do not count, as workbook-format.md asks; the columns
/// compared are the entity's own, so a new column is compared as soon as `validate` sets it.
///
/// `identity` lists columns that found the stored record and so are not compared again —
/// only an entry's agency as written needs it: two spellings of one known agency are one
/// identity (through `entry_key`), and the stored spelling is kept.
pub fn same_values<A>(
    new: &A,
    stored: &<A::Entity as EntityTrait>::Model,
    identity: &[<A::Entity as EntityTrait>::Column],
) -> bool
where
    A: ActiveModelTrait,
{
    <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| !identity.iter().any(|i| i.as_str() == c.as_str()))
        .all(|c| match new.get(c) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => v == stored.get(c),
            ActiveValue::NotSet => true,
        })
}

fn act<A: ActiveModelTrait>(new: &A, stored: Option<&<A::Entity as EntityTrait>::Model>) -> Action {
    act_by(new, stored, &[])
}

fn act_by<A: ActiveModelTrait>(
    new: &A,
    stored: Option<&<A::Entity as EntityTrait>::Model>,
    identity: &[<A::Entity as EntityTrait>::Column],
) -> Action {
    match stored {
        None => Action::Insert,
        Some(s) if same_values(new, s, identity) => Action::Unchanged,
        Some(_) => Action::Update,
    }
}

/// The stored problem id for an identity, if its cohort and the problem exist.
pub fn stored_problem_id(stored: &Stored, p: &ProblemIdent) -> Option<i32> {
    stored_problem(stored, p).map(|m| m.id)
}

fn stored_problem<'a>(stored: &'a Stored, p: &ProblemIdent) -> Option<&'a problem::Model> {
    let cohort_id = stored.cohorts.get(&p.cohort)?;
    stored.problems.get(&(
        p.house_code.clone(),
        p.indicator,
        p.person_key.clone(),
        *cohort_id,
    ))
}

/// The text of a key column that `validate` always sets.
fn key<T>(v: &ActiveValue<T>) -> Option<&str>
where
    T: AsRef<str> + Into<sea_orm::Value>,
{
    v.try_as_ref().map(AsRef::as_ref)
}

/// Compares every valid row with what is stored: the households, problems and fund
/// movements with what `stored` holds, the members, analyses and logbook entries with their
/// stored rows as they stream past ([`Stored::members`] …).
pub async fn plan<C: ConnectionTrait + StreamTrait>(
    db: &C,
    v: &Validated,
    stored: &Stored,
) -> Result<Plan, DbErr> {
    let mut plan = Plan {
        households: plan_households(v, stored),
        problems: v
            .problems
            .iter()
            .map(|p| act(&p.model, stored_problem(stored, &p.link)))
            .collect(),
        fund_movements: v
            .fund_movements
            .iter()
            .map(|m| movement_action(&m.model, stored))
            .collect(),
        members: vec![Action::Insert; v.members.len()],
        analyses: vec![Action::Insert; v.analyses.len()],
        entries: vec![Action::Insert; v.entries.len()],
        members_left: Vec::new(),
    };
    if let Some(select) = stored.members() {
        let rows = ByKey::new(v.members.iter().map(|m| key(&m.model.citizen_id)));
        let (actions, left) = (&mut plan.members, &mut plan.members_left);
        each_stored(db, select, |s| {
            for i in rows.get(s.citizen_id.as_str()) {
                actions[i] = act(&v.members[i].model, Some(&s));
                if actions[i] == Action::Update {
                    left.push(s.house_code.to_string());
                }
            }
        })
        .await?;
    }
    if let Some(select) = stored.analyses() {
        let rows = ByKey::new(v.analyses.iter().map(|a| key(&a.model.house_code)));
        let actions = &mut plan.analyses;
        each_stored(db, select, |s| {
            for i in rows.get(s.house_code.as_str()) {
                actions[i] = act(&v.analyses[i].model, Some(&s));
            }
        })
        .await?;
    }
    if let Some(select) = stored.entries() {
        let rows = ByKey::new(
            v.entries
                .iter()
                .map(|e| entry_identity(&e.model, &e.link, stored)),
        );
        let actions = &mut plan.entries;
        each_stored(db, select, |s| {
            for i in rows.get(&(s.problem_id, s.entry_date, s.entry_key.as_str())) {
                actions[i] = act_by(&v.entries[i].model, Some(&s), ENTRY_KEPT);
            }
        })
        .await?;
    }
    Ok(plan)
}

/// Rows by the key that finds their stored record. `validate` refuses two rows with one
/// key, but should two arrive, each is still compared with the stored record.
struct ByKey<K> {
    /// The first row of each key.
    first: HashMap<K, usize>,
    /// Later rows of a key, by its first row.
    more: HashMap<usize, Vec<usize>>,
}

impl<K: Eq + Hash> ByKey<K> {
    fn new(keys: impl Iterator<Item = Option<K>>) -> Self {
        let mut first = HashMap::new();
        let mut more: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, k) in keys.enumerate() {
            let Some(k) = k else { continue };
            match first.entry(k) {
                std::collections::hash_map::Entry::Occupied(f) => {
                    more.entry(*f.get()).or_default().push(i)
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        Self { first, more }
    }

    /// The rows with this key.
    fn get<Q>(&self, k: &Q) -> impl Iterator<Item = usize> + '_
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let first = self.first.get(k).copied();
        let more = first.and_then(|f| self.more.get(&f)).into_iter().flatten();
        first.into_iter().chain(more.copied())
    }
}

/// What writing one fund movement would do: unchanged when a stored movement of its fund,
/// kind, household and day (and loan, for a repayment or write-off) has every value it sets;
/// an update (which `validate` refuses) when such movements exist and none has; else an
/// insert. A repayment of a loan written in the same file (`loan_id` not set) is new.
pub fn movement_action(model: &entity::fund_movement::ActiveModel, stored: &Stored) -> Action {
    let (Some(fund), Some(kind), Some(day), Some(house)) = (
        model.fund_id.try_as_ref(),
        model.kind.try_as_ref(),
        model.moved_on.try_as_ref(),
        model.house_code.try_as_ref(),
    ) else {
        return Action::Insert;
    };
    let loan = model.loan_id.try_as_ref();
    let house = house.as_deref().unwrap_or_default();
    let twins: Vec<&entity::fund_movement::Model> = stored
        .movements_like(*fund, *kind, house, *day)
        .filter(|m| match loan {
            Some(l) => m.loan_id == *l,
            None => !kind.of_loan(),
        })
        .collect();
    if twins.is_empty() {
        Action::Insert
    } else if twins.iter().any(|m| same_values(model, *m, &[])) {
        Action::Unchanged
    } else {
        Action::Update
    }
}

fn plan_households(v: &Validated, stored: &Stored) -> Vec<Action> {
    v.households
        .iter()
        .map(|h| {
            let s = key(&h.model.house_code).and_then(|k| stored.households.get(k));
            match act(&h.model, s) {
                // the cohort is a link: the same only if its stored id is the row's
                Action::Unchanged
                    if s.map(|s| s.cohort_id) != stored.cohorts.get(&h.link).copied() =>
                {
                    Action::Update
                }
                a => a,
            }
        })
        .collect()
}

/// The entry columns a comparison leaves out: the agency as written (two spellings of one
/// agency are one identity, through `entry_key`), the district's check (an import does not
/// undo a verification; an entry it changes is written back to recorded), and the fund its
/// text was matched to (a fund created after an import does not make every entry naming it
/// a change, nor a locked month's unchanged file refused; it is linked when the row changes).
const ENTRY_KEPT: &[logbook_entry::Column] = &[
    logbook_entry::Column::AgencyText,
    logbook_entry::Column::FundId,
    logbook_entry::Column::Verification,
    logbook_entry::Column::VerificationNote,
    logbook_entry::Column::VerifiedBy,
    logbook_entry::Column::VerifiedAt,
];

/// What finds an entry row's stored record: its stored problem's id, its date and its key;
/// none when its problem is not stored (the entry is new).
fn entry_identity<'a>(
    model: &'a logbook_entry::ActiveModel,
    link: &ProblemIdent,
    stored: &Stored,
) -> Option<(i32, chrono::NaiveDate, &'a str)> {
    Some((
        stored_problem_id(stored, link)?,
        *model.entry_date.try_as_ref()?,
        model.entry_key.try_as_ref()?.as_str(),
    ))
}

/// A household's (district, province) codes.
pub type HouseArea<'a> = (&'a str, &'a str);

/// The district and province of every household a row may name, by house code: the
/// workbook's households row, else the stored household (validation refused a row naming
/// any other).
pub fn household_areas<'a>(
    v: &'a Validated,
    stored: &'a Stored,
) -> HashMap<&'a str, HouseArea<'a>> {
    let mut out: HashMap<&str, HouseArea<'_>> = stored
        .households
        .iter()
        .map(|(code, h)| {
            (
                code.as_str(),
                (h.district_code.as_str(), h.province_code.as_str()),
            )
        })
        .collect();
    for h in &v.households {
        if let (Some(code), Some(district), Some(province)) = (
            h.model.house_code.try_as_ref(),
            h.model.district_code.try_as_ref(),
            h.model.province_code.try_as_ref(),
        ) {
            out.insert(code.as_str(), (district.as_str(), province.as_str()));
        }
    }
    out
}

/// The entry rows this plan adds or changes that are dated in one of `locks`' months of
/// their household's district ([`household_areas`]): indexes into `v.entries`, each with
/// that district.
pub fn entries_locked(
    v: &Validated,
    plan: &Plan,
    stored: &Stored,
    locks: &HashSet<(String, String)>,
) -> Vec<(usize, String)> {
    if locks.is_empty() {
        return Vec::new();
    }
    let areas = household_areas(v, stored);
    v.entries
        .iter()
        .zip(&plan.entries)
        .enumerate()
        .filter(|(_, (_, a))| **a != Action::Unchanged)
        .filter_map(|(i, (e, _))| {
            let (district, _) = *areas.get(e.link.house_code.as_str())?;
            let date = *e.model.entry_date.try_as_ref()?;
            locks
                .contains(&(district.to_string(), entity::month_lock::month_of(date)))
                .then(|| (i, district.to_string()))
        })
        .collect()
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
            &self.fund_movements,
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
                SheetKind::Funds => &self.fund_movements,
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

#[cfg(test)]
mod tests {
    use super::*;
    use entity::logbook_entry;
    use entity::types::ProblemStatus;
    use sea_orm::ActiveValue::{NotSet, Set};

    fn stored() -> logbook_entry::Model {
        logbook_entry::Model {
            id: 7,
            problem_id: 3,
            entry_date: chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            agency_id: Some(2),
            agency_text: "สสจ.".into(),
            entry_key: "k".into(),
            activity: "เยี่ยมบ้าน".into(),
            menu: None,
            amount_satang: Some(150_000),
            fund: None,
            fund_id: None,
            status: ProblemStatus::Solved,
            note: None,
            recorded_by: Some("district 3318".into()),
            written_seq: 40,
            change_seq: 9,
            updated_at: chrono::DateTime::from_timestamp(1_730_000_000, 0).unwrap(),
            batch_id: Some(1),
            source_sheet: Some("assistance".into()),
            source_row: Some(5),
            next_visit_on: None,
            latitude: None,
            longitude: None,
            verification: entity::types::Verification::Verified,
            verification_note: None,
            verified_by: Some("district:3318:5".into()),
            verified_at: None,
        }
    }

    fn new() -> logbook_entry::ActiveModel {
        let s = stored();
        logbook_entry::ActiveModel {
            id: NotSet,
            problem_id: NotSet,
            entry_date: Set(s.entry_date),
            agency_id: Set(s.agency_id),
            agency_text: Set(s.agency_text),
            entry_key: Set(s.entry_key),
            activity: Set(s.activity),
            menu: Set(None),
            amount_satang: Set(s.amount_satang),
            fund: Set(None),
            fund_id: Set(None),
            status: Set(s.status),
            note: Set(None),
            recorded_by: NotSet,
            written_seq: NotSet,
            change_seq: NotSet,
            updated_at: NotSet,
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
            next_visit_on: NotSet,
            latitude: Set(None),
            longitude: Set(None),
            verification: Set(entity::types::Verification::Recorded),
            verification_note: Set(None),
            verified_by: Set(None),
            verified_at: Set(None),
        }
    }

    #[test]
    fn equal_set_columns_are_unchanged_whatever_the_unset_ones_hold() {
        // provenance, ids and the write order differ from anything the row could say
        // the stored entry was verified; the row says recorded: the check is not compared
        assert!(same_values(&new(), &stored(), ENTRY_KEPT));
        assert!(!same_values(&new(), &stored(), &[]));
        assert_eq!(
            act_by(&new(), Some(&stored()), ENTRY_KEPT),
            Action::Unchanged
        );
        assert_eq!(act(&new(), None), Action::Insert);
    }

    #[test]
    fn any_set_column_that_differs_is_an_update() {
        let mut n = new();
        n.status = Set(ProblemStatus::FollowingUp);
        assert_eq!(act_by(&n, Some(&stored()), ENTRY_KEPT), Action::Update);
        let mut n = new();
        n.amount_satang = Set(None);
        assert_eq!(act_by(&n, Some(&stored()), ENTRY_KEPT), Action::Update);
        let mut n = new();
        n.note = Set(Some("x".into()));
        assert!(!same_values(&n, &stored(), ENTRY_KEPT));
        // a GPS point added in the workbook is a change (and so a check again)
        let mut n = new();
        n.latitude = Set(Some(16.4));
        assert_eq!(act_by(&n, Some(&stored()), ENTRY_KEPT), Action::Update);
    }

    #[test]
    fn identity_columns_are_not_compared_again() {
        let mut n = new();
        n.agency_text = Set("สาธารณสุขจังหวัด".into());
        n.verification = Set(entity::types::Verification::Verified);
        n.verified_by = Set(Some("district:3318:5".into()));
        assert_eq!(
            act_by(&n, Some(&stored()), &[logbook_entry::Column::AgencyText]),
            Action::Unchanged
        );
        assert_eq!(act(&n, Some(&stored())), Action::Update);
    }
}
