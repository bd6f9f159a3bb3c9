//! Villages whose [`super::stats_cell`] rows are waiting to be counted again: marked by
//! every transaction that changes what `stats` counts there ([`mark_houses`]), cleared by the
//! API's stats service once it has counted them. While a village of a principal's reach is
//! marked, `stats` counts from the whole tables instead. A village marked again while it is
//! being counted gets a new generation, so the count clears only the marks it read.

use crate::types::{AreaCode, VillageCode};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// A village waiting to be counted again.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stats_dirty")]
pub struct Model {
    /// The village.
    #[sea_orm(primary_key, auto_increment = false)]
    pub village_code: VillageCode,
    /// Its district.
    pub district_code: AreaCode,
    /// Its province.
    pub province_code: AreaCode,
    /// How many times it was marked again while marked: the count clears a mark only at the
    /// generation it read.
    pub generation: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Marks, inside `conn`'s writing transaction, the villages the households `house_codes`
/// are in now (codes not stored are skipped). A transaction that moves something between
/// households or villages calls it before and after the change. On PostgreSQL it first
/// takes the change counter's row lock (held until the commit, as every short writer of the
/// change feed does).
pub async fn mark_houses(conn: &impl ConnectionTrait, house_codes: &[String]) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let statements = mark_statements(backend, house_codes);
    if statements.is_empty() {
        return Ok(());
    }
    lock(conn).await?;
    for (sql, value) in statements {
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, [value]))
            .await?;
    }
    Ok(())
}

/// Upserting a mark: a new one, or the next generation of one already there.
const UPSERT: &str =
    "ON CONFLICT (village_code) DO UPDATE SET generation = stats_dirty.generation + 1";

/// The statements [`mark_houses`] runs after the lock, each with its one parameter (a JSON
/// array of house codes): for callers that write through their own connection.
pub fn mark_statements(
    backend: DbBackend,
    house_codes: &[String],
) -> Vec<(String, sea_orm::Value)> {
    villages_statements(backend, house_codes)
        .into_iter()
        .map(|(select, v)| {
            (
                format!(
                    "INSERT INTO stats_dirty (village_code, district_code, province_code) \
                     {select} {UPSERT}"
                ),
                v,
            )
        })
        .collect()
}

/// Statements reading the villages the households `house_codes` are in now, as (village,
/// district, province) rows, each with its one parameter (a JSON array of house codes).
pub fn villages_statements(
    backend: DbBackend,
    house_codes: &[String],
) -> Vec<(String, sea_orm::Value)> {
    let mut codes = house_codes.to_vec();
    codes.sort();
    codes.dedup();
    let list = match backend {
        DbBackend::Postgres => "SELECT json_array_elements_text(CAST($1 AS JSON))",
        _ => "SELECT value FROM json_each(?)",
    };
    codes
        .chunks(50_000)
        .map(|chunk| {
            (
                format!(
                    "SELECT village_code, MIN(district_code), MIN(province_code) FROM households \
                     WHERE house_code IN ({list}) GROUP BY village_code"
                ),
                sea_orm::Value::from(serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into())),
            )
        })
        .collect()
}

/// Statements marking villages given as (village, district, province), each with its
/// parameters (`ph` gives the `n`th placeholder): a few hundred villages a statement.
pub fn mark_rows_statements(
    rows: &[(String, String, String)],
    ph: impl Fn(usize) -> String,
) -> Vec<(String, Vec<sea_orm::Value>)> {
    rows.chunks(500)
        .map(|chunk| {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({}, {}, {})", ph(3 * i + 1), ph(3 * i + 2), ph(3 * i + 3)))
                .collect();
            let params = chunk
                .iter()
                .flat_map(|(v, d, p)| [v, d, p].map(|s| sea_orm::Value::from(s.clone())))
                .collect();
            (
                format!(
                    "INSERT INTO stats_dirty (village_code, district_code, province_code) \
                     VALUES {} {UPSERT}",
                    values.join(", ")
                ),
                params,
            )
        })
        .collect()
}

/// Takes the change counter's row lock on PostgreSQL (nothing on SQLite, whose writing
/// transaction holds the one write lock).
pub async fn lock(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_string(DbBackend::Postgres, LOCK))
            .await?;
    }
    Ok(())
}

/// The PostgreSQL statement of [`lock`].
pub const LOCK: &str = "SELECT value FROM change_counter WHERE id = 1 FOR UPDATE";
