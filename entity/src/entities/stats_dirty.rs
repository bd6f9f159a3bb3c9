//! Villages whose [`super::stats_cell`] rows are waiting to be counted again: marked by
//! every transaction that changes what `stats` counts there ([`mark_houses`]), cleared by the
//! API's stats service once it has counted them. While a village of a principal's reach is
//! marked, `stats` counts from the whole tables instead.

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
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Marks, inside `conn`'s writing transaction, the villages the households `house_codes`
/// are in now (codes not stored are skipped). A transaction that moves something between
/// households or villages calls it before and after the change. On PostgreSQL it first
/// takes the change counter's row lock (held until the commit, as every writer of the
/// change feed does), so marks and the count that clears them never interleave.
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

/// The statements [`mark_houses`] runs after the lock, each with its one parameter (a JSON
/// array of house codes): for callers that write through their own connection.
pub fn mark_statements(
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
                    "INSERT INTO stats_dirty (village_code, district_code, province_code) \
                     SELECT village_code, MIN(district_code), MIN(province_code) FROM households \
                     WHERE house_code IN ({list}) GROUP BY village_code \
                     ON CONFLICT (village_code) DO NOTHING"
                ),
                sea_orm::Value::from(serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into())),
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
