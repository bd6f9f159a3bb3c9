//! Rules the importer and the API both apply to stored records: how an agency's name as
//! written finds the agency, a logbook entry's identity key, and a problem's status from its
//! logbook. One home each, so an import and an API write can never disagree.

use crate::types::{AreaLevel, ProblemStatus, text};
use crate::{agency, area};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Problem ids per status refresh statement.
const IN_CHUNK: usize = 5000;

/// Squashes a name for comparison: normalised, Latin lower-cased, without spaces and dots.
pub fn squash(s: &str) -> String {
    text::match_key(s)
        .chars()
        .filter(|c| *c != ' ' && *c != '.')
        .collect()
}

/// An agency as matching needs it.
#[derive(Debug, Clone)]
pub struct AgencyRec {
    /// Id.
    pub id: i32,
    /// Code (`33-pho`).
    pub code: String,
}

/// Agencies of every province, indexed by the ways a workbook names them.
#[derive(Debug, Default)]
pub struct AgencyIndex {
    by_key: HashMap<(String, String), AgencyRec>,
    province_names: HashMap<String, String>,
}

impl AgencyIndex {
    /// Builds the index. `province_names` maps province code → Thai name.
    pub fn new(agencies: Vec<agency::Model>, province_names: HashMap<String, String>) -> Self {
        let mut by_key = HashMap::new();
        for a in agencies {
            let rec = AgencyRec {
                id: a.id,
                code: a.code.clone(),
            };
            let pname = province_names
                .get(&a.province_code)
                .map(|n| squash(n))
                .unwrap_or_default();
            let name = squash(&a.name_th);
            let mut keys = vec![
                squash(&a.code),
                squash(&a.abbreviation),
                name.clone(),
                squash(&a.name_en),
            ];
            if let Some(stripped) = name.strip_suffix(&pname).filter(|_| !pname.is_empty()) {
                keys.push(stripped.to_string());
            }
            for k in keys.into_iter().filter(|k| !k.is_empty()) {
                by_key
                    .entry((a.province_code.clone(), k))
                    .or_insert_with(|| rec.clone());
            }
        }
        let province_names = province_names
            .into_iter()
            .map(|(k, v)| (k, squash(&v)))
            .collect();
        Self {
            by_key,
            province_names,
        }
    }

    /// Loads every agency and the province names.
    pub async fn load(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        let agencies = agency::Entity::find().all(db).await?;
        let provinces = area::Entity::find()
            .filter(area::Column::Level.eq(AreaLevel::Province))
            .all(db)
            .await?;
        Ok(Self::new(
            agencies,
            provinces
                .into_iter()
                .map(|p| (p.code.as_str().to_string(), p.name_th))
                .collect(),
        ))
    }

    /// The agency of `province` that `written` names: its code, its abbreviation with or
    /// without dots and spaces, or its Thai name, optionally followed by the province's name.
    pub fn find(&self, province: &str, written: &str) -> Option<&AgencyRec> {
        let k = squash(written);
        if let Some(a) = self.by_key.get(&(province.to_string(), k.clone())) {
            return Some(a);
        }
        let pname = self.province_names.get(province)?;
        let stripped = k.strip_suffix(pname.as_str())?;
        let stripped = stripped
            .strip_suffix("จังหวัด")
            .filter(|s| !s.is_empty())
            .unwrap_or(stripped);
        self.by_key
            .get(&(province.to_string(), stripped.to_string()))
            .or_else(|| {
                // "สำนักงานสาธารณสุขจังหวัด" + name: the stored name already ends in จังหวัด
                self.by_key
                    .get(&(province.to_string(), format!("{stripped}จังหวัด")))
            })
    }
}

/// The funds a logbook entry's `fund` text may name: those of the household's district,
/// then of its province, by name (spaces, dots and a leading กองทุน aside).
#[derive(Debug, Clone, Default)]
pub struct FundIndex {
    by_key: HashMap<(String, String), i32>,
    provinces: std::collections::HashSet<String>,
    /// id → (area code, name)
    funds: HashMap<i32, (String, String)>,
}

/// A fund's name as matching compares it.
fn fund_key(name: &str) -> String {
    let k = squash(name);
    k.strip_prefix("กองทุน")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or(k)
}

impl FundIndex {
    /// Builds the index.
    pub fn new(funds: impl IntoIterator<Item = crate::fund::Model>) -> Self {
        let mut idx = FundIndex::default();
        for f in funds {
            idx.provinces.insert(f.province_code.clone());
            idx.funds
                .insert(f.id, (f.area_code.clone(), f.name.clone()));
            idx.by_key
                .entry((f.area_code.clone(), fund_key(&f.name)))
                .or_insert(f.id);
        }
        idx
    }

    /// Loads every fund.
    pub async fn load(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        Ok(Self::new(crate::fund::Entity::find().all(db).await?))
    }

    /// The fund `written` names for a household of `district`: the district's, else the
    /// province's.
    pub fn find(&self, district: &str, written: &str) -> Option<i32> {
        let k = fund_key(written);
        if k.is_empty() {
            return None;
        }
        self.by_key
            .get(&(district.to_string(), k.clone()))
            .or_else(|| {
                self.by_key
                    .get(&(district.get(..2).unwrap_or(district).to_string(), k))
            })
            .copied()
    }

    /// Every fund whatever its area that `written` could name (to load their movements
    /// before the households' districts are known).
    pub fn ids_named(&self, written: &str) -> Vec<i32> {
        let k = fund_key(written);
        let mut ids: Vec<i32> = self
            .by_key
            .iter()
            .filter(|((_, key), _)| *key == k)
            .map(|(_, id)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// A fund's area code (a province's 2 digits or a district's 4) and name.
    pub fn fund(&self, id: i32) -> Option<(&str, &str)> {
        self.funds.get(&id).map(|(a, n)| (a.as_str(), n.as_str()))
    }

    /// Whether the province keeps any fund here (text naming none is then worth a warning).
    pub fn keeps_funds(&self, province: &str) -> bool {
        self.provinces.contains(province)
    }
}

/// The identity hash of a logbook entry's agency (its code when matched, else its squashed
/// text) and activity: with the problem and the date, an entry's identity.
pub fn entry_key(agency_key: &str, activity: &str) -> String {
    let mut h = Sha256::new();
    h.update(agency_key.as_bytes());
    h.update([0x1f]);
    h.update(activity.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The statement that sets each listed problem's status and next visit to its latest logbook
/// entry's (by date, then the order written), or `not_started` and none when it has none.
/// Ids are integers, inlined.
pub fn refresh_statuses_sql(problem_ids: &[i32], seq: &str, at: &str) -> String {
    let ids = problem_ids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let of_latest = |col: &str| {
        format!(
            "(SELECT e.{col} FROM logbook_entries e WHERE e.problem_id = problems.id \
             ORDER BY e.entry_date DESC, e.written_seq DESC, e.id DESC LIMIT 1)"
        )
    };
    let latest = format!("COALESCE({}, 'not_started')", of_latest("status"));
    let next = of_latest("next_visit_on");
    format!(
        "UPDATE problems SET status = {latest}, next_visit_on = {next}, change_seq = {seq}, \
         updated_at = {at} WHERE id IN ({ids}) AND (status <> {latest} \
         OR next_visit_on IS DISTINCT FROM {next})"
    )
}

/// The latest of a problem's logbook entries by the rule [`refresh_statuses_sql`] applies
/// (the latest date, then the last written), folded from entries before they are written: a
/// problem an import inserts has no entries but that import's, so its status and next visit
/// are known before it is written and go into its insert instead of an update after.
#[derive(Debug, Clone, Default)]
pub struct Latest(
    Option<(
        chrono::NaiveDate,
        i64,
        ProblemStatus,
        Option<chrono::NaiveDate>,
    )>,
);

impl Latest {
    /// Offers an entry: its date, its place in the order written, its result and next visit.
    pub fn offer(
        &mut self,
        date: chrono::NaiveDate,
        written: i64,
        status: ProblemStatus,
        next_visit_on: Option<chrono::NaiveDate>,
    ) {
        if self
            .0
            .as_ref()
            .is_none_or(|(d, w, ..)| (date, written) > (*d, *w))
        {
            self.0 = Some((date, written, status, next_visit_on));
        }
    }

    /// The problem's status: the latest entry's, or not started when none was offered.
    pub fn status(&self) -> ProblemStatus {
        self.0
            .as_ref()
            .map_or(ProblemStatus::NotStarted, |(_, _, s, _)| *s)
    }

    /// The problem's next visit: the latest entry's (none when none was offered).
    pub fn next_visit_on(&self) -> Option<chrono::NaiveDate> {
        self.0.as_ref().and_then(|(_, _, _, n)| *n)
    }
}

/// Sets each listed problem's status from its logbook (for writers other than imports); a
/// problem whose status changes is stamped with the writer's `stamp`.
pub async fn refresh_statuses(
    db: &impl ConnectionTrait,
    problem_ids: &[i32],
    stamp: crate::db::Stamp,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (seq, at) = (
        crate::db::placeholder(backend, 1),
        crate::db::placeholder(backend, 2),
    );
    for chunk in problem_ids.chunks(IN_CHUNK) {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            refresh_statuses_sql(chunk, &seq, &at),
            [stamp.seq.into(), stamp.at.into()],
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funds_match_in_the_district_then_the_province() {
        let f = |id, area: &str, name: &str| crate::fund::Model {
            id,
            name: name.into(),
            level: if area.len() == 2 {
                crate::types::FundLevel::Province
            } else {
                crate::types::FundLevel::District
            },
            area_code: area.into(),
            province_code: area[..2].into(),
            established_on: None,
            note: None,
            created_by: "t".into(),
            created_at: chrono::DateTime::default(),
        };
        let idx = FundIndex::new([
            f(1, "3318", "กองทุนขจัดความยากจนอำเภอ"),
            f(2, "33", "กองทุนแก้จนจังหวัด"),
            f(3, "3301", "กองทุนแก้จนจังหวัด"),
        ]);
        assert_eq!(idx.find("3318", "กองทุน ขจัดความยากจน อำเภอ"), Some(1));
        assert_eq!(idx.find("3318", "ขจัดความยากจนอำเภอ"), Some(1));
        // the province's fund for a district that has none by that name
        assert_eq!(idx.find("3318", "กองทุนแก้จนจังหวัด"), Some(2));
        // a district's own comes first
        assert_eq!(idx.find("3301", "กองทุนแก้จนจังหวัด"), Some(3));
        // another district's fund is not this one's
        assert_eq!(idx.find("3318", "x"), None);
        assert_eq!(idx.find("3302", "ขจัดความยากจนอำเภอ"), None);
        assert_eq!(idx.find("3318", "กองทุน"), None);
        assert!(idx.keeps_funds("33"));
        assert!(!idx.keeps_funds("10"));
    }

    #[test]
    fn agencies_match_by_code_abbreviation_and_name_within_the_province() {
        let ag = |id, code: &str, abbr: &str, th: &str, p: &str| agency::Model {
            id,
            code: code.into(),
            abbreviation: abbr.into(),
            name_th: th.into(),
            name_en: "x".into(),
            province_code: p.into(),
        };
        let idx = AgencyIndex::new(
            vec![
                ag(1, "33-pho", "สสจ.", "สำนักงานสาธารณสุขจังหวัดศรีสะเกษ", "33"),
                ag(2, "67-pho", "สสจ.", "สำนักงานสาธารณสุขจังหวัดเพชรบูรณ์", "67"),
            ],
            HashMap::from([
                ("33".into(), "ศรีสะเกษ".into()),
                ("67".into(), "เพชรบูรณ์".into()),
            ]),
        );
        for w in [
            "สสจ.",
            "สสจ",
            "สสจ.ศรีสะเกษ",
            "สสจ. ศรีสะเกษ",
            "สำนักงานสาธารณสุขจังหวัดศรีสะเกษ",
            "33-pho",
            "สำนักงานสาธารณสุขจังหวัด",
        ] {
            assert_eq!(idx.find("33", w).map(|a| a.id), Some(1), "{w}");
        }
        assert!(idx.find("33", "อบต.บ้านโคก").is_none());
        assert!(idx.find("33", "สสจ.เพชรบูรณ์").is_none());
        assert_eq!(idx.find("67", "สสจ.เพชรบูรณ์").map(|a| a.id), Some(2));
    }

    #[test]
    fn an_entry_key_separates_agency_from_activity() {
        assert_eq!(
            entry_key("33-pho", "เยี่ยมบ้าน"),
            entry_key("33-pho", "เยี่ยมบ้าน")
        );
        assert_ne!(
            entry_key("33-pho", "เยี่ยมบ้าน"),
            entry_key("33-ph", "oเยี่ยมบ้าน")
        );
        assert_eq!(entry_key("a", "b").len(), 32);
    }

    #[test]
    fn the_latest_entry_is_by_date_then_by_order_written() {
        let d = |n| chrono::NaiveDate::from_ymd_opt(2026, 5, n).expect("day");
        let none = Latest::default();
        assert_eq!(
            (none.status(), none.next_visit_on()),
            (ProblemStatus::NotStarted, None)
        );
        let mut l = Latest::default();
        l.offer(d(10), 7, ProblemStatus::FollowingUp, Some(d(20)));
        // the same day, written later: it wins
        l.offer(d(10), 9, ProblemStatus::NotSolvableYet, None);
        // the same day, written earlier: it does not
        l.offer(d(10), 8, ProblemStatus::Solved, Some(d(30)));
        // an older day written after them: it does not
        l.offer(d(3), 12, ProblemStatus::Solved, Some(d(30)));
        assert_eq!(
            (l.status(), l.next_visit_on()),
            (ProblemStatus::NotSolvableYet, None)
        );
        // a later day, written first: it wins
        l.offer(d(11), 1, ProblemStatus::Solved, Some(d(25)));
        assert_eq!(
            (l.status(), l.next_visit_on()),
            (ProblemStatus::Solved, Some(d(25)))
        );
    }

    #[test]
    fn the_status_refresh_orders_by_date_then_write_order() {
        let sql = refresh_statuses_sql(&[3, 9], "$1", "$2");
        assert!(
            sql.contains("ORDER BY e.entry_date DESC, e.written_seq DESC"),
            "{sql}"
        );
        // only a problem whose status or next visit changes is written, and stamped
        assert!(sql.contains("change_seq = $1, updated_at = $2"), "{sql}");
        assert!(
            sql.contains("WHERE id IN (3,9) AND (status <> COALESCE("),
            "{sql}"
        );
        assert!(
            sql.contains("next_visit_on = (SELECT e.next_visit_on"),
            "{sql}"
        );
        assert!(
            sql.contains("OR next_visit_on IS DISTINCT FROM (SELECT"),
            "{sql}"
        );
    }
}
