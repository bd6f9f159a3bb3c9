//! Foreign keys: the database itself refuses a member without its household, a problem
//! without its household, indicator or cohort, a logbook entry without its problem or with
//! an agency that does not exist, an issue of no batch. The importer's checks still give the
//! row-level reasons; the keys catch what code might miss, and tools that read the schema
//! (PostGraphile, BI tools, `psql \d`) see the relations.
//!
//! Not keyed, decided: the provenance column `batch_id` of the imported records. The writer
//! inserts the batch first in the same transaction, and on PostgreSQL every key costs a
//! check per copied row (measured: the five provenance keys added ≈ 0.5 s to a province
//! import's ≈ 1.5 s of writing).
//!
//! PostgreSQL adds the constraints in place. SQLite cannot add a constraint to a table, so
//! each table is rebuilt with its keys (parents before children, rows copied, indexes made
//! again), as SQLite's documentation describes for schema changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Adds the foreign keys.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000006_foreign_keys"
    }
}

/// (table, column, parent table, parent column), parents before children.
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    ("indicators", "dimension", "dimensions", "key"),
    ("agency_dimensions", "agency_id", "agencies", "id"),
    ("agency_dimensions", "dimension", "dimensions", "key"),
    ("households", "cohort_id", "cohorts", "id"),
    ("households", "village_code", "areas", "code"),
    ("members", "house_code", "households", "house_code"),
    ("problems", "house_code", "households", "house_code"),
    ("problems", "indicator_code", "indicators", "code"),
    ("problems", "cohort_id", "cohorts", "id"),
    ("analyses", "house_code", "households", "house_code"),
    ("logbook_entries", "problem_id", "problems", "id"),
    ("logbook_entries", "agency_id", "agencies", "id"),
    ("import_issues", "batch_id", "import_batches", "id"),
];

fn key_name(table: &str, column: &str) -> String {
    format!("fk_{table}_{column}")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on both databases (sea-orm-migration runs SQLite migrations outside
    /// one by default, and a pool would spread the rebuild over connections): the keys come
    /// whole or not at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                let mut tables: Vec<&str> = Vec::new();
                for (t, ..) in KEYS {
                    if !tables.contains(t) {
                        tables.push(t);
                    }
                }
                for t in tables {
                    let keys: Vec<_> = KEYS.iter().filter(|k| k.0 == t).collect();
                    rebuild_sqlite(db, t, &keys).await?;
                }
                Ok(())
            }
            _ => {
                for (t, c, pt, pc) in KEYS {
                    manager
                        .create_foreign_key(
                            ForeignKey::create()
                                .name(key_name(t, c))
                                .from(Alias::new(*t), Alias::new(*c))
                                .to(Alias::new(*pt), Alias::new(*pc))
                                .on_delete(ForeignKeyAction::NoAction)
                                .on_update(ForeignKeyAction::NoAction)
                                .to_owned(),
                        )
                        .await?;
                }
                Ok(())
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            // the keys are part of each rebuilt table's definition; leaving them is harmless
            DbBackend::Sqlite => Ok(()),
            _ => {
                for (t, c, ..) in KEYS.iter().rev() {
                    manager
                        .drop_foreign_key(
                            ForeignKey::drop()
                                .name(key_name(t, c))
                                .table(Alias::new(*t))
                                .to_owned(),
                        )
                        .await?;
                }
                Ok(())
            }
        }
    }
}

/// Rebuilds one SQLite table with its foreign keys: the same definition with the keys
/// added, the rows copied (the keys are checked on the way), the indexes made again.
async fn rebuild_sqlite(
    db: &impl ConnectionTrait,
    table: &str,
    keys: &[&(&str, &str, &str, &str)],
) -> Result<(), DbErr> {
    let one = |sql: String| Statement::from_string(DbBackend::Sqlite, sql);
    let quoted = format!("\"{table}\"");
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
            [table.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Migration(format!("table {table} not found")))?;
    let sql: String = row.try_get("", "sql")?;
    let body = sql
        .trim_end()
        .strip_suffix(')')
        .filter(|_| sql.contains(&quoted))
        .ok_or_else(|| DbErr::Migration(format!("unexpected definition of {table}")))?;
    let rebuilt = format!("{table}_with_keys");
    let mut create = body.replacen(&quoted, &format!("\"{rebuilt}\""), 1);
    for (_, c, pt, pc) in keys {
        create.push_str(&format!(
            ", CONSTRAINT \"{}\" FOREIGN KEY (\"{c}\") REFERENCES \"{pt}\" (\"{pc}\")",
            key_name(table, c)
        ));
    }
    create.push(')');
    let indexes: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            [table.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "sql"))
        .collect::<Result<_, _>>()?;
    db.execute_raw(one(create)).await?;
    db.execute_raw(one(format!(
        "INSERT INTO \"{rebuilt}\" SELECT * FROM {quoted}"
    )))
    .await?;
    db.execute_raw(one(format!("DROP TABLE {quoted}"))).await?;
    db.execute_raw(one(format!("ALTER TABLE \"{rebuilt}\" RENAME TO {quoted}")))
        .await?;
    for i in indexes {
        db.execute_raw(one(i)).await?;
    }
    Ok(())
}
