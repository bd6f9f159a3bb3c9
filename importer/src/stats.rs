//! The provincial report the seeds quote: households, members, problems, logbook entries,
//! analyses, solved households, problems by status and by dimension — optionally for one district.

use entity::types::{AreaCode, AreaLevel};
use sea_orm::{ConnectionTrait, DbErr, Statement};
use serde::Serialize;

/// Problems per status, in the report's key order.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ByStatus {
    /// ยังไม่ได้ดำเนินการ
    pub not_started: i64,
    /// แก้ไขได้แล้ว
    pub solved: i64,
    /// รอติดตามผล
    pub awaiting_follow_up: i64,
    /// อยู่ระหว่างติดตามผล
    pub following_up: i64,
    /// ยังไม่สามารถแก้ไขปัญหาได้
    pub not_solvable_yet: i64,
}

/// Problems per dimension.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ByDimension {
    /// สุขภาพ
    pub health: i64,
    /// ความเป็นอยู่
    pub living: i64,
    /// การศึกษา
    pub education: i64,
    /// รายได้
    pub income: i64,
    /// การเข้าถึงบริการรัฐ
    pub access: i64,
}

/// The figures.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Target households stored.
    pub households: i64,
    /// Their members.
    pub members: i64,
    /// Their problems.
    pub problems: i64,
    /// Logbook entries on those problems.
    pub logbook_entries: i64,
    /// 4ท analyses.
    pub analyses: i64,
    /// Households that have problems, all solved.
    pub households_solved: i64,
    /// Problems by status.
    pub problems_by_status: ByStatus,
    /// Problems by dimension.
    pub problems_by_dimension: ByDimension,
}

async fn pairs(db: &impl ConnectionTrait, sql: String) -> Result<Vec<(String, i64)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get_by_index::<String>(0)?,
                r.try_get_by_index::<i64>(1)?,
            ))
        })
        .collect()
}

async fn count(db: &impl ConnectionTrait, sql: String) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    row.map_or(Ok(0), |r| r.try_get_by_index::<i64>(0))
}

/// Computes the figures, for one district (4-digit code) or everything.
pub async fn stats(db: &impl ConnectionTrait, district: Option<&AreaCode>) -> Result<Stats, DbErr> {
    // the code is digits only (a parsed AreaCode), so inlining it is safe
    let filter = match district {
        Some(d) if d.level() == AreaLevel::District => {
            format!("h.district_code = '{}'", d.as_str())
        }
        Some(d) => format!("h.village_code LIKE '{}%'", d.as_str()),
        None => "1 = 1".to_string(),
    };
    let mut s = Stats {
        households: count(db, format!("SELECT COUNT(*) FROM households h WHERE {filter}")).await?,
        members: count(db, format!("SELECT COUNT(*) FROM members m JOIN households h ON h.house_code = m.house_code WHERE {filter}")).await?,
        problems: count(db, format!("SELECT COUNT(*) FROM problems p JOIN households h ON h.house_code = p.house_code WHERE {filter}")).await?,
        logbook_entries: count(
            db,
            format!(
                "SELECT COUNT(*) FROM logbook_entries e JOIN problems p ON p.id = e.problem_id \
                 JOIN households h ON h.house_code = p.house_code WHERE {filter}"
            ),
        )
        .await?,
        analyses: count(db, format!("SELECT COUNT(*) FROM analyses a JOIN households h ON h.house_code = a.house_code WHERE {filter}")).await?,
        households_solved: count(
            db,
            format!(
                "SELECT COUNT(*) FROM (SELECT p.house_code FROM problems p JOIN households h ON h.house_code = p.house_code \
                 WHERE {filter} GROUP BY p.house_code \
                 HAVING SUM(CASE WHEN p.status = 'solved' THEN 0 ELSE 1 END) = 0) t"
            ),
        )
        .await?,
        ..Default::default()
    };
    for (k, n) in pairs(
        db,
        format!("SELECT p.status, COUNT(*) FROM problems p JOIN households h ON h.house_code = p.house_code WHERE {filter} GROUP BY p.status"),
    )
    .await?
    {
        let b = &mut s.problems_by_status;
        match k.as_str() {
            "not_started" => b.not_started = n,
            "solved" => b.solved = n,
            "awaiting_follow_up" => b.awaiting_follow_up = n,
            "following_up" => b.following_up = n,
            "not_solvable_yet" => b.not_solvable_yet = n,
            _ => {}
        }
    }
    for (k, n) in pairs(
        db,
        format!(
            "SELECT i.dimension, COUNT(*) FROM problems p JOIN households h ON h.house_code = p.house_code \
             JOIN indicators i ON i.code = p.indicator_code WHERE {filter} GROUP BY i.dimension"
        ),
    )
    .await?
    {
        let b = &mut s.problems_by_dimension;
        match k.as_str() {
            "health" => b.health = n,
            "living" => b.living = n,
            "education" => b.education = n,
            "income" => b.income = n,
            "access" => b.access = n,
            _ => {}
        }
    }
    Ok(s)
}
