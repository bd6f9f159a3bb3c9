//! Reference data an import checks rows against: the area tree (names → codes, with
//! did-you-mean), the agencies of each province, the cohorts, and what is already stored
//! for the households and people a workbook mentions. Loaded in a few bulk queries.

use entity::db::any_of;
use entity::types::{AreaCode, AreaLevel, Cohort, CohortSource, text};
use entity::{analysis, area, cohort, household, logbook_entry, member, problem};
use futures::TryStreamExt;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    StreamTrait,
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

/// What is stored for the households and people a workbook mentions, as far as checking
/// needs it before rows are compared. The members, analyses and logbook entries are not
/// held: [`crate::plan`] compares each as it streams past ([`Stored::members`],
/// [`Stored::analyses`], [`Stored::entries`]), so a province's 74,000 stored members and
/// 31,000 entries never sit in memory beside the workbook's rows.
#[derive(Debug)]
pub struct Stored {
    /// Households by house code.
    pub households: HashMap<String, household::Model>,
    /// Problems by identity.
    pub problems: HashMap<ProblemKey, problem::Model>,
    /// Cohort ids.
    pub cohorts: HashMap<Cohort, i32>,
    /// Known villages: code → name.
    pub villages: HashMap<String, String>,
    /// Follow-up states (urgency, closure) by house code.
    pub follow_ups: HashMap<String, entity::household_follow_up::Model>,
    /// The stored household of each citizen the problems sheet names, by citizen ID.
    pub member_houses: HashMap<String, String>,
    /// Locked months: (district code, `YYYY-MM`).
    pub locks: std::collections::HashSet<(String, String)>,
    /// Every movement of the funds the funds sheet may name, by fund id.
    pub fund_movements: HashMap<i32, Vec<entity::fund_movement::Model>>,
    /// Those movements by fund, kind, household and day: indexes into `fund_movements`.
    movements_by_identity: HashMap<MovementIdentity, Vec<usize>>,
    /// The house codes the workbook mentions.
    houses: Vec<String>,
    /// The citizen IDs the workbook mentions.
    people: Vec<String>,
    /// The database's backend (the lists above become its `IN` or `= ANY`).
    backend: sea_orm::DatabaseBackend,
}

/// What a funds row is found by among stored movements: fund, kind, household, day.
type MovementIdentity = (
    i32,
    entity::types::FundMovementKind,
    String,
    chrono::NaiveDate,
);

/// Hands each row `select` finds to `each` as it arrives (streamed: the driver holds a few
/// rows at a time), and logs the table, the rows and the time.
pub(crate) async fn each_stored<E, C>(
    db: &C,
    select: sea_orm::Select<E>,
    mut each: impl FnMut(E::Model),
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait + StreamTrait,
{
    let t = std::time::Instant::now();
    let mut rows = select.stream(db).await?;
    let mut n = 0usize;
    while let Some(row) = rows.try_next().await? {
        n += 1;
        each(row);
    }
    tracing::debug!(
        import.table = E::default().table_name(),
        import.rows = n,
        import.ms = t.elapsed().as_millis() as u64,
        "stored rows read"
    );
    Ok(())
}

/// The rows `select` finds, by `key` ([`each_stored`]).
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
    let mut out = HashMap::new();
    each_stored(db, select, |row| {
        out.insert(key(&row), row);
    })
    .await?;
    Ok(out)
}

impl Stored {
    /// Loads what checking needs of what is stored about these households and citizens
    /// (the households, their follow-up states and problems), plus the cohorts, the
    /// villages of these subdistricts and the locked months: one query per table, streamed
    /// ([`keyed`]), and the stored household of each citizen in `on_problems` (the citizen
    /// IDs the problems sheet names). The lists are kept for the stored rows
    /// [`crate::plan`] streams.
    pub async fn load<C: ConnectionTrait + StreamTrait>(
        db: &C,
        houses: Vec<String>,
        people: Vec<String>,
        on_problems: &[String],
        subdistricts: &[String],
    ) -> Result<Self, DbErr> {
        let b = ConnectionTrait::get_database_backend(db);
        let mut s = Stored {
            households: HashMap::new(),
            problems: HashMap::new(),
            cohorts: HashMap::new(),
            villages: HashMap::new(),
            follow_ups: HashMap::new(),
            member_houses: HashMap::new(),
            locks: Default::default(),
            fund_movements: HashMap::new(),
            movements_by_identity: HashMap::new(),
            houses,
            people,
            backend: b,
        };
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
        // a few rows a district a year: all of them
        s.locks = entity::month_lock::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.district_code, l.month))
            .collect();
        if s.houses.is_empty() && s.people.is_empty() {
            return Ok(s);
        }
        s.households = keyed(db, household::Entity::find().filter(s.of_houses()), |h| {
            h.house_code.as_str().to_string()
        })
        .await?;
        s.follow_ups = keyed(
            db,
            entity::household_follow_up::Entity::find().filter(s.of_houses()),
            |f| f.house_code.clone(),
        )
        .await?;
        if !on_problems.is_empty() {
            let mut rows = member::Entity::find()
                .select_only()
                .column(member::Column::CitizenId)
                .column(member::Column::HouseCode)
                .filter(any_of(b, "citizen_id", on_problems))
                .into_tuple::<(String, String)>()
                .stream(db)
                .await?;
            while let Some((cid, house)) = rows.try_next().await? {
                s.member_houses.insert(cid, house);
            }
        }
        s.problems = keyed(db, problem::Entity::find().filter(s.of_houses()), |p| {
            (
                p.house_code.as_str().to_string(),
                p.indicator_code,
                p.person_key.clone(),
                p.cohort_id,
            )
        })
        .await?;
        Ok(s)
    }

    /// `house_code` is one the workbook mentions.
    fn of_houses(&self) -> sea_orm::sea_query::Expr {
        any_of(self.backend, "house_code", &self.houses)
    }

    /// Whether the workbook mentions no household and no person (nothing stored to read).
    fn mentions_nobody(&self) -> bool {
        self.houses.is_empty() && self.people.is_empty()
    }

    /// The stored members of the households the workbook mentions, and the stored members
    /// with the citizen IDs it mentions (who may have moved household); none when it
    /// mentions nobody.
    pub fn members(&self) -> Option<sea_orm::Select<member::Entity>> {
        (!self.mentions_nobody()).then(|| {
            member::Entity::find().filter(Condition::any().add(self.of_houses()).add(any_of(
                self.backend,
                "citizen_id",
                &self.people,
            )))
        })
    }

    /// The stored analyses of the households the workbook mentions.
    pub fn analyses(&self) -> Option<sea_orm::Select<analysis::Entity>> {
        (!self.mentions_nobody()).then(|| analysis::Entity::find().filter(self.of_houses()))
    }

    /// The stored logbook entries of those households' problems; none when they have none.
    pub fn entries(&self) -> Option<sea_orm::Select<logbook_entry::Entity>> {
        (!self.problems.is_empty()).then(|| {
            logbook_entry::Entity::find().filter(
                logbook_entry::Column::ProblemId.in_subquery(
                    Query::select()
                        .column(problem::Column::Id)
                        .from(problem::Entity)
                        .and_where(self.of_houses())
                        .to_owned(),
                ),
            )
        })
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
