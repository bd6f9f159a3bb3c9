//! Reference data an import checks rows against: the area tree (names → codes, with
//! did-you-mean), the agencies of each province, the cohorts, and what is already stored
//! for the households and people a workbook mentions. Loaded in a few bulk queries.

use entity::db::any_of;
use entity::types::{AreaCode, AreaLevel, Cohort, CohortSource, text};
use entity::{analysis, area, cohort, household, logbook_entry, member, problem};
use futures::TryStreamExt;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, StreamTrait,
};
use std::collections::HashMap;

/// Rows per `IN (…)` list, under SQLite's and PostgreSQL's parameter limits.
pub const IN_CHUNK: usize = 5000;

pub(crate) use entity::rules::{AgencyIndex, FundIndex, squash};

fn area_key(level: AreaLevel, name: &str) -> String {
    let k = text::match_key(name);
    let prefixes: &[&str] = match level {
        AreaLevel::Province => &["จังหวัด", "จ."],
        AreaLevel::District => &["อำเภอ", "อ.", "เขต"],
        AreaLevel::Subdistrict => &["ตำบล", "ต.", "แขวง"],
        AreaLevel::Village => &["หมู่บ้าน"],
    };
    // habit stacks prefixes: Bangkok's `อ.เขตพระนคร`, `ต.แขวงวัดราชบพิธ`
    let mut stripped = k.as_str();
    loop {
        let next = text::strip_prefixes(stripped, prefixes);
        if next.len() == stripped.len() || next.is_empty() {
            break;
        }
        stripped = next;
    }
    stripped.chars().filter(|c| *c != ' ').collect()
}

/// An area as the index keeps it.
#[derive(Debug, Clone)]
pub struct AreaRec {
    /// Code.
    pub code: AreaCode,
    /// Thai name.
    pub name_th: String,
}

/// The area tree, indexed by parent and name.
#[derive(Debug, Default)]
pub struct AreaIndex {
    by_code: HashMap<String, AreaRec>,
    by_name: HashMap<(String, String), AreaCode>,
    children: HashMap<String, Vec<(String, AreaRec)>>,
}

/// An area name that resolved to nothing, with the closest names in its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    /// Up to three suggestions.
    pub suggestions: Vec<String>,
}

impl AreaIndex {
    /// Builds the index from area rows (provinces, districts, subdistricts; villages ignored).
    pub fn new(areas: impl IntoIterator<Item = area::Model>) -> Self {
        let mut idx = AreaIndex::default();
        for a in areas {
            let level = a.level;
            if level == AreaLevel::Village {
                continue;
            }
            let parent = a
                .parent_code
                .as_ref()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            let rec = AreaRec {
                code: a.code.clone(),
                name_th: a.name_th.clone(),
            };
            let mut keys = vec![area_key(level, &a.name_th)];
            if let Some(en) = &a.name_en {
                keys.push(area_key(level, en));
            }
            for k in keys {
                idx.by_name
                    .entry((parent.clone(), k.clone()))
                    .or_insert_with(|| a.code.clone());
                idx.children
                    .entry(parent.clone())
                    .or_default()
                    .push((k, rec.clone()));
            }
            idx.by_code.insert(a.code.as_str().to_string(), rec);
        }
        idx
    }

    /// Loads provinces, districts and subdistricts.
    pub async fn load(db: &impl ConnectionTrait) -> Result<Self, DbErr> {
        let rows = area::Entity::find()
            .filter(area::Column::Level.ne(AreaLevel::Village))
            .all(db)
            .await?;
        Ok(Self::new(rows))
    }

    fn lookup(&self, parent: &str, level: AreaLevel, name: &str) -> Result<AreaCode, Unresolved> {
        let key = area_key(level, name);
        if let Some(code) = self.by_name.get(&(parent.to_string(), key.clone())) {
            return Ok(code.clone());
        }
        let mut scored: Vec<(f64, &AreaRec)> = self
            .children
            .get(parent)
            .map(|v| {
                v.iter()
                    .map(|(k, r)| (strsim::normalized_levenshtein(k, &key), r))
                    .collect()
            })
            .unwrap_or_default();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut suggestions: Vec<String> = Vec::new();
        for (score, r) in scored {
            if score >= 0.34 && !suggestions.contains(&r.name_th) && suggestions.len() < 3 {
                suggestions.push(r.name_th.clone());
            }
        }
        Err(Unresolved { suggestions })
    }

    /// Resolves a province name.
    pub fn province(&self, name: &str) -> Result<AreaCode, Unresolved> {
        self.lookup("", AreaLevel::Province, name)
    }

    /// Resolves a district name inside a province; `เมือง` alone or `เมือง` + the province's
    /// name is the capital district, whose code ends in `01`.
    pub fn district(&self, province: &str, name: &str) -> Result<AreaCode, Unresolved> {
        let key = area_key(AreaLevel::District, name);
        let pname = self
            .by_code
            .get(province)
            .map(|p| area_key(AreaLevel::Province, &p.name_th))
            .unwrap_or_default();
        if (key == "เมือง" || key == format!("เมือง{pname}"))
            && let Some(capital) = self.by_code.get(&format!("{province}01"))
        {
            return Ok(capital.code.clone());
        }
        self.lookup(province, AreaLevel::District, name)
    }

    /// Resolves a subdistrict name inside a district.
    pub fn subdistrict(&self, district: &str, name: &str) -> Result<AreaCode, Unresolved> {
        self.lookup(district, AreaLevel::Subdistrict, name)
    }

    /// Resolves province, district and subdistrict names top down: the codes, or the first
    /// level that resolved to nothing.
    pub fn resolve(&self, province: &str, district: &str, subdistrict: &str) -> Resolution {
        let p = self
            .province(province)
            .map_err(|u| (AreaLevel::Province, u))?;
        let d = self
            .district(p.as_str(), district)
            .map_err(|u| (AreaLevel::District, u))?;
        let s = self
            .subdistrict(d.as_str(), subdistrict)
            .map_err(|u| (AreaLevel::Subdistrict, u))?;
        Ok((p, d, s))
    }
}

/// Codes (province, district, subdistrict), or the level that failed.
pub type Resolution = Result<(AreaCode, AreaCode, AreaCode), (AreaLevel, Unresolved)>;

/// [`AreaIndex::resolve`] remembered per distinct spelling: a district workbook repeats a
/// handful of name triples thousands of times.
pub struct AreaResolver<'a> {
    areas: &'a AreaIndex,
    memo: HashMap<(String, String, String), Resolution>,
}

impl<'a> AreaResolver<'a> {
    /// A resolver over an index.
    pub fn new(areas: &'a AreaIndex) -> Self {
        Self {
            areas,
            memo: HashMap::new(),
        }
    }

    /// Resolves, once per distinct (province, district, subdistrict) as written.
    pub fn resolve(&mut self, province: &str, district: &str, subdistrict: &str) -> &Resolution {
        let key = (
            province.to_string(),
            district.to_string(),
            subdistrict.to_string(),
        );
        let areas = self.areas;
        self.memo
            .entry(key)
            .or_insert_with(|| areas.resolve(province, district, subdistrict))
    }
}

/// A problem's identity with its cohort as stored: (house, indicator, person key, cohort id).
pub type ProblemKey = (String, i32, String, i32);

/// What is stored for the households and people a workbook mentions.
#[derive(Debug, Default)]
pub struct Stored {
    /// Households by house code.
    pub households: HashMap<String, household::Model>,
    /// Members by citizen ID.
    pub members: HashMap<String, member::Model>,
    /// Problems by identity.
    pub problems: HashMap<ProblemKey, problem::Model>,
    /// Analyses by house code.
    pub analyses: HashMap<String, analysis::Model>,
    /// Logbook entries by (problem id, date, entry key).
    pub entries: HashMap<(i32, chrono::NaiveDate, String), logbook_entry::Model>,
    /// Cohort ids.
    pub cohorts: HashMap<Cohort, i32>,
    /// Known villages: code → name.
    pub villages: HashMap<String, String>,
    /// Follow-up states (urgency, closure) by house code.
    pub follow_ups: HashMap<String, entity::household_follow_up::Model>,
    /// Locked months: (district code, `YYYY-MM`).
    pub locks: std::collections::HashSet<(String, String)>,
    /// Every movement of the funds the funds sheet may name, by fund id.
    pub fund_movements: HashMap<i32, Vec<entity::fund_movement::Model>>,
    /// Those movements by fund, kind, household and day: indexes into `fund_movements`.
    movements_by_identity: HashMap<MovementIdentity, Vec<usize>>,
}

/// What a funds row is found by among stored movements: fund, kind, household, day.
type MovementIdentity = (
    i32,
    entity::types::FundMovementKind,
    String,
    chrono::NaiveDate,
);

/// The rows `select` finds, by `key`, each kept as it arrives (streamed: a province's 74,000
/// stored members never sit in memory twice, as the driver's rows and as models).
async fn keyed<E, C, K>(
    db: &C,
    select: sea_orm::Select<E>,
    key: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait + StreamTrait,
    K: Eq + std::hash::Hash,
{
    let t = std::time::Instant::now();
    let mut rows = select.stream(db).await?;
    let mut out = HashMap::new();
    while let Some(row) = rows.try_next().await? {
        out.insert(key(&row), row);
    }
    tracing::debug!(
        import.table = E::default().table_name(),
        import.rows = out.len(),
        import.ms = t.elapsed().as_millis() as u64,
        "stored rows loaded"
    );
    Ok(out)
}

impl Stored {
    /// Loads everything stored about these households and citizens, plus the cohorts and
    /// the villages of these subdistricts: one query per table, streamed ([`keyed`]).
    pub async fn load<C: ConnectionTrait + StreamTrait>(
        db: &C,
        house_codes: &[String],
        citizen_ids: &[String],
        subdistricts: &[String],
    ) -> Result<Self, DbErr> {
        let b = ConnectionTrait::get_database_backend(db);
        let mut s = Stored::default();
        for c in cohort::Entity::find().all(db).await? {
            if let Some(source) = CohortSource::from_key(&c.source) {
                s.cohorts.insert(
                    Cohort {
                        source,
                        be_year: c.be_year,
                    },
                    c.id,
                );
            }
        }
        for v in area::Entity::find()
            .filter(any_of(b, "parent_code", subdistricts))
            .all(db)
            .await?
        {
            s.villages.insert(v.code.as_str().to_string(), v.name_th);
        }
        if house_codes.is_empty() && citizen_ids.is_empty() {
            return Ok(s);
        }
        let of_houses = || any_of(b, "house_code", house_codes);
        s.households = keyed(db, household::Entity::find().filter(of_houses()), |h| {
            h.house_code.as_str().to_string()
        })
        .await?;
        s.follow_ups = keyed(
            db,
            entity::household_follow_up::Entity::find().filter(of_houses()),
            |f| f.house_code.clone(),
        )
        .await?;
        let people = member::Entity::find().filter(Condition::any().add(of_houses()).add(any_of(
            b,
            "citizen_id",
            citizen_ids,
        )));
        s.members = keyed(db, people, |m| m.citizen_id.as_str().to_string()).await?;
        s.analyses = keyed(db, analysis::Entity::find().filter(of_houses()), |a| {
            a.house_code.as_str().to_string()
        })
        .await?;
        s.problems = keyed(db, problem::Entity::find().filter(of_houses()), |p| {
            (
                p.house_code.as_str().to_string(),
                p.indicator_code,
                p.person_key.clone(),
                p.cohort_id,
            )
        })
        .await?;
        if !s.problems.is_empty() {
            let of_problems = logbook_entry::Column::ProblemId.in_subquery(
                Query::select()
                    .column(problem::Column::Id)
                    .from(problem::Entity)
                    .and_where(of_houses())
                    .to_owned(),
            );
            s.entries = keyed(db, logbook_entry::Entity::find().filter(of_problems), |e| {
                (e.problem_id, e.entry_date, e.entry_key.clone())
            })
            .await?;
        }
        // a few rows a district a year: all of them
        s.locks = entity::month_lock::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.district_code, l.month))
            .collect();
        Ok(s)
    }

    /// Loads every movement of these funds (a fund's balance on any day is checked against
    /// all of them).
    pub async fn load_fund_movements(
        &mut self,
        db: &impl ConnectionTrait,
        fund_ids: &[i32],
    ) -> Result<(), DbErr> {
        use entity::fund_movement as fm;
        for chunk in fund_ids.chunks(IN_CHUNK) {
            for m in fm::Entity::find()
                .filter(fm::Column::FundId.is_in(chunk.iter().copied()))
                .all(db)
                .await?
            {
                self.fund_movements.entry(m.fund_id).or_default().push(m);
            }
        }
        for (fund, ms) in &self.fund_movements {
            for (i, m) in ms.iter().enumerate() {
                if let Some(h) = &m.house_code {
                    self.movements_by_identity
                        .entry((*fund, m.kind, h.clone(), m.moved_on))
                        .or_default()
                        .push(i);
                }
            }
        }
        Ok(())
    }

    /// The stored movements of a fund of this kind, to this household, on this day.
    pub fn movements_like(
        &self,
        fund_id: i32,
        kind: entity::types::FundMovementKind,
        house: &str,
        day: chrono::NaiveDate,
    ) -> impl Iterator<Item = &entity::fund_movement::Model> {
        let all = self.fund_movements.get(&fund_id);
        self.movements_by_identity
            .get(&(fund_id, kind, house.to_string(), day))
            .into_iter()
            .flatten()
            .filter_map(move |i| all.and_then(|ms| ms.get(*i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(level: &str, code: &str, parent: Option<&str>, th: &str, en: &str) -> area::Model {
        area::Model {
            code: AreaCode::parse_str(code).unwrap(),
            level: AreaLevel::parse(level).unwrap(),
            parent_code: parent.map(|p| AreaCode::parse_str(p).unwrap()),
            name_th: th.into(),
            name_en: Some(en.into()),
            batch_id: None,
            source_sheet: None,
            source_row: None,
        }
    }

    fn index() -> AreaIndex {
        AreaIndex::new([
            a("province", "33", None, "ศรีสะเกษ", "Si Sa Ket"),
            a(
                "district",
                "3301",
                Some("33"),
                "เมืองศรีสะเกษ",
                "Mueang Si Sa Ket",
            ),
            a("district", "3318", Some("33"), "เมืองจันทร์", "Mueang Chan"),
            a("subdistrict", "331802", Some("3318"), "ตาโกน", "Takon"),
            a("subdistrict", "331803", Some("3318"), "หนองใหญ่", "Nong Yai"),
            a("province", "10", None, "กรุงเทพมหานคร", "Bangkok"),
            a("district", "1001", Some("10"), "เขตพระนคร", "Phra Nakhon"),
            a(
                "subdistrict",
                "100103",
                Some("1001"),
                "แขวงวัดราชบพิธ",
                "Wat Ratchabophit",
            ),
        ])
    }

    #[test]
    fn resolves_names_with_prefixes_top_down() {
        let idx = index();
        assert_eq!(idx.province("จ.ศรีสะเกษ").unwrap(), "33");
        assert_eq!(idx.province("จังหวัด ศรีสะเกษ").unwrap(), "33");
        assert_eq!(idx.district("33", "อ.เมืองจันทร์").unwrap(), "3318");
        assert_eq!(idx.subdistrict("3318", "ตำบลหนองใหญ่").unwrap(), "331803");
        assert_eq!(idx.subdistrict("3318", "Takon").unwrap(), "331802");
        assert_eq!(idx.district("10", "พระนคร").unwrap(), "1001");
        assert_eq!(idx.district("10", "เขตพระนคร").unwrap(), "1001");
        // Bangkok's เขต/แขวง with the อ./ต. that habit adds
        assert_eq!(idx.district("10", "อ.เขตพระนคร").unwrap(), "1001");
        assert_eq!(idx.district("10", "อำเภอ เขตพระนคร").unwrap(), "1001");
        assert_eq!(idx.subdistrict("1001", "ต.แขวงวัดราชบพิธ").unwrap(), "100103");
        assert_eq!(idx.subdistrict("1001", "แขวงวัดราชบพิธ").unwrap(), "100103");
        assert_eq!(idx.subdistrict("1001", "วัดราชบพิธ").unwrap(), "100103");
    }

    #[test]
    fn mueang_alone_means_the_capital_district() {
        let idx = index();
        assert_eq!(idx.district("33", "เมือง").unwrap(), "3301");
        assert_eq!(idx.district("33", "อ.เมืองศรีสะเกษ").unwrap(), "3301");
    }

    #[test]
    fn unknown_names_suggest_the_closest_in_their_parent() {
        let idx = index();
        let e = idx.subdistrict("3318", "หนองใหญ").unwrap_err();
        assert_eq!(e.suggestions.first().map(String::as_str), Some("หนองใหญ่"));
        // a subdistrict is only looked for inside its district
        assert!(idx.subdistrict("3301", "ตาโกน").is_err());
    }
}
