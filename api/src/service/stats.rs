//! Grouped counts over the problems a principal may see: problems, households with at least
//! one of them, people in those households, households whose counted problems are all
//! solved, and logbook entries on them. One row per visible problem is read (with its
//! household's areas and its entry count) and aggregated exactly here.

use crate::access::Principal;
use crate::error::ApiResult;
use entity::{household, logbook_entry, member, problem};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{Condition, ConnectionTrait};
use std::collections::{BTreeMap, HashMap};

/// What rows can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// Province code.
    Province,
    /// District code.
    District,
    /// Subdistrict code.
    Subdistrict,
    /// Village code.
    Village,
    /// Dimension key.
    Dimension,
    /// Indicator code.
    Indicator,
    /// Problem status key.
    Status,
    /// Household classification key.
    Classification,
    /// The problem's cohort id.
    Cohort,
}

/// One group's values (in the order of the keys asked) and measures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Key → value (`None` where the value is empty, e.g. no classification).
    pub keys: BTreeMap<Key, Option<String>>,
    /// Problems counted.
    pub problems: u64,
    /// Households with at least one of them.
    pub households: u64,
    /// Members of those households.
    pub people: u64,
    /// Those households whose counted problems are all solved.
    pub solved_households: u64,
    /// Logbook entries on those problems.
    pub logbook_entries: u64,
}

struct ProblemRow {
    house: String,
    indicator: i32,
    status: String,
    cohort: i32,
    village: String,
    subdistrict: String,
    district: String,
    province: String,
    classification: Option<String>,
    entries: i64,
}

impl ProblemRow {
    fn value(&self, k: Key) -> Option<String> {
        match k {
            Key::Province => Some(self.province.clone()),
            Key::District => Some(self.district.clone()),
            Key::Subdistrict => Some(self.subdistrict.clone()),
            Key::Village => Some(self.village.clone()),
            Key::Dimension => u8::try_from(self.indicator)
                .ok()
                .and_then(entity::catalog::indicator)
                .map(|i| i.dimension.key().to_string()),
            Key::Indicator => Some(self.indicator.to_string()),
            Key::Status => Some(self.status.clone()),
            Key::Classification => self.classification.clone(),
            Key::Cohort => Some(self.cohort.to_string()),
        }
    }
}

/// Grouped counts over the problems `p` may see that match `filter`.
pub async fn grouped(
    db: &impl ConnectionTrait,
    p: &Principal,
    filter: Condition,
    group_by: &[Key],
) -> ApiResult<Vec<Row>> {
    let condition = Condition::all().add(p.problems()).add(filter);
    let joined = |select: &mut SelectStatement| {
        select
            .from(problem::Entity)
            .inner_join(
                household::Entity,
                Expr::col((household::Entity, household::Column::HouseCode))
                    .equals((problem::Entity, problem::Column::HouseCode)),
            )
            .cond_where(condition.clone());
    };
    let mut q = Query::select();
    q.column((problem::Entity, problem::Column::HouseCode))
        .column((problem::Entity, problem::Column::IndicatorCode))
        .column((problem::Entity, problem::Column::Status))
        .column((problem::Entity, problem::Column::CohortId))
        .column((household::Entity, household::Column::VillageCode))
        .column((household::Entity, household::Column::SubdistrictCode))
        .column((household::Entity, household::Column::DistrictCode))
        .column((household::Entity, household::Column::ProvinceCode))
        .column((household::Entity, household::Column::Classification))
        .expr_as(
            Func::coalesce([
                Expr::col((Alias::new("e"), Alias::new("n"))),
                Expr::val(0i64),
            ]),
            Alias::new("entries"),
        );
    joined(&mut q);
    // entries per problem, counted once in a grouped join rather than once per problem
    let per_problem = Query::select()
        .column(logbook_entry::Column::ProblemId)
        .expr_as(
            Func::count(Expr::col(logbook_entry::Column::Id)),
            Alias::new("n"),
        )
        .from(logbook_entry::Entity)
        .group_by_col(logbook_entry::Column::ProblemId)
        .to_owned();
    q.join_subquery(
        sea_orm::sea_query::JoinType::LeftJoin,
        per_problem,
        Alias::new("e"),
        Expr::col((Alias::new("e"), logbook_entry::Column::ProblemId))
            .equals((problem::Entity, problem::Column::Id)),
    );
    let rows: Vec<ProblemRow> = db
        .query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(ProblemRow {
                house: r.try_get_by_index(0)?,
                indicator: r.try_get_by_index(1)?,
                status: r.try_get_by_index(2)?,
                cohort: r.try_get_by_index(3)?,
                village: r.try_get_by_index(4)?,
                subdistrict: r.try_get_by_index(5)?,
                district: r.try_get_by_index(6)?,
                province: r.try_get_by_index(7)?,
                classification: r.try_get_by_index(8)?,
                entries: r.try_get_by_index(9)?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    // members per household, for the households involved
    let mut houses = Query::select();
    houses.column((problem::Entity, problem::Column::HouseCode));
    joined(&mut houses);
    let people_q = Query::select()
        .column(member::Column::HouseCode)
        .expr(Func::count(Expr::col(member::Column::CitizenId)))
        .from(member::Entity)
        .and_where(Expr::col(member::Column::HouseCode).in_subquery(houses))
        .group_by_col(member::Column::HouseCode)
        .to_owned();
    let mut people: HashMap<String, i64> = HashMap::new();
    for r in db.query_all(&people_q).await? {
        people.insert(r.try_get_by_index(0)?, r.try_get_by_index(1)?);
    }
    // aggregate
    struct Acc {
        problems: u64,
        entries: u64,
        open: HashMap<String, bool>,
    }
    let mut groups: BTreeMap<Vec<Option<String>>, Acc> = BTreeMap::new();
    for r in &rows {
        let key: Vec<Option<String>> = group_by.iter().map(|k| r.value(*k)).collect();
        let acc = groups.entry(key).or_insert_with(|| Acc {
            problems: 0,
            entries: 0,
            open: HashMap::new(),
        });
        acc.problems += 1;
        acc.entries += u64::try_from(r.entries).unwrap_or(0);
        *acc.open.entry(r.house.clone()).or_insert(false) |= r.status != "solved";
    }
    if groups.is_empty() && group_by.is_empty() {
        groups.insert(
            Vec::new(),
            Acc {
                problems: 0,
                entries: 0,
                open: HashMap::new(),
            },
        );
    }
    Ok(groups
        .into_iter()
        .map(|(values, acc)| Row {
            keys: group_by.iter().copied().zip(values).collect(),
            problems: acc.problems,
            households: acc.open.len() as u64,
            people: acc
                .open
                .keys()
                .map(|h| u64::try_from(people.get(h).copied().unwrap_or(0)).unwrap_or(0))
                .sum(),
            solved_households: acc.open.values().filter(|open| !**open).count() as u64,
            logbook_entries: acc.entries,
        })
        .collect())
}
