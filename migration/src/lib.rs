//! Database migrations of logbook; the same schema on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_init;
mod m20261122_000002_api_keys;
mod m20261122_000003_written_seq;
mod m20261122_000004_audit_events;
mod m20261122_000005_import_jobs;
mod m20261203_000006_foreign_keys;
mod m20261206_000007_changes;
mod m20261206_000008_key_lifetimes;
mod m20261206_000009_exports;
mod m20261206_000010_webhooks;
mod m20261206_000011_follow_up;
mod m20261207_000012_field_work;
mod m20261208_000013_programme;
mod m20261209_000014_stats_cells;
mod m20261210_000015_problem_province;
mod m20261211_000016_webhook_secret_rotation;
mod m20261212_000017_change_leases;

/// Adds columns to `table`, one statement each (SQLite alters one column per statement).
async fn add_columns(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Clone,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    for mut c in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_init::Migration),
            Box::new(m20261122_000002_api_keys::Migration),
            Box::new(m20261122_000003_written_seq::Migration),
            Box::new(m20261122_000004_audit_events::Migration),
            Box::new(m20261122_000005_import_jobs::Migration),
            Box::new(m20261203_000006_foreign_keys::Migration),
            Box::new(m20261206_000007_changes::Migration),
            Box::new(m20261206_000008_key_lifetimes::Migration),
            Box::new(m20261206_000009_exports::Migration),
            Box::new(m20261206_000010_webhooks::Migration),
            Box::new(m20261206_000011_follow_up::Migration),
            Box::new(m20261207_000012_field_work::Migration),
            Box::new(m20261208_000013_programme::Migration),
            Box::new(m20261209_000014_stats_cells::Migration),
            Box::new(m20261210_000015_problem_province::Migration),
            Box::new(m20261211_000016_webhook_secret_rotation::Migration),
            Box::new(m20261212_000017_change_leases::Migration),
        ]
    }
}

use sea_orm_migration::sea_orm::{ConnectOptions, Database, DatabaseConnection};

/// Connections in a SQLite pool (one writer at a time, readers beside it).
pub const SQLITE_CONNECTIONS: u32 = 8;

/// SQLite's page cache per connection, in MB. Pages beyond it come from the operating system's
/// file cache (a read system call, no disk). 64 MB made no measurable difference to a province
/// import's writes or to the API's reads, but a re-import filled it with the stored rows it
/// read (64 MB of its peak heap), an export with every page of the file, and a server's eight
/// connections could hold 512 MB. At 8 MB a province re-import took 12–16 % longer; at 16 MB
/// 5 % (docs/benchmarks.md, issue 14).
pub const SQLITE_CACHE_MB: u32 = 16;

/// How long a pooled connection sits idle before it is pinged when taken again (HikariCP's
/// rule of thumb: a connection used within the last moment is alive; under load every
/// connection is, so no statement waits for a ping).
pub const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// How PostgreSQL plans logbook's prepared statements (`plan_cache_mode`), unless the
/// connection URL chooses (`?options=-c%20plan_cache_mode%3Dauto`). PostgreSQL's own `auto`
/// re-plans a statement at every execution whenever its generic plan's estimate (which sees
/// `LIMIT $n` as an unknown) is higher than the custom plans' average, and logbook's
/// statements all bind their limits: the feed's four statements spent 2.7 ms planning
/// against 1.0 ms running. Generic plans are made once per connection and statement; the
/// province's questions answered 1.1–1.9× as many requests a second, imports took the same
/// time (docs/benchmarks.md, issue 14).
pub const PG_PLAN_CACHE_MODE: &str = "force_generic_plan";

/// Connects to SQLite (`sqlite://file.db?mode=rwc`) or PostgreSQL (`postgres://…`).
/// SQLite gets foreign keys enforced, WAL journaling, `synchronous=NORMAL`, a 30 s busy timeout, a
/// page cache of [`SQLITE_CACHE_MB`] per connection and a pool of [`SQLITE_CONNECTIONS`] (an
/// in-memory database keeps one). A pooled
/// connection is pinged before use only once it has been idle [`PING_AFTER_IDLE`] (a
/// server restart or a dropped idle connection is caught there), not before every statement:
/// the pool's default ping was a round trip to PostgreSQL ahead of each one. PostgreSQL
/// sessions plan statements once ([`PG_PLAN_CACHE_MODE`]) unless the URL's `options` say
/// otherwise.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    use sea_orm_migration::sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut opts = ConnectOptions::new(url);
    opts.test_before_acquire_if_idle_for(PING_AFTER_IDLE);
    if url.starts_with("sqlite:") && !url.contains(":memory:") {
        // sea-orm gives SQLite one connection unless told otherwise: then every reader waits
        // for a running import's transaction. WAL lets readers run beside the one writer.
        opts.max_connections(SQLITE_CONNECTIONS);
    }
    opts.sqlx_logging(false).map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30))
            // the schema's foreign keys are enforced (sqlx's default, said here)
            .foreign_keys(true)
            .pragma("cache_size", format!("-{}", SQLITE_CACHE_MB * 1024))
            .pragma("temp_store", "memory")
    });
    opts.map_sqlx_postgres_opts(|o| {
        if o.get_options()
            .is_some_and(|set| set.contains("plan_cache_mode"))
        {
            o
        } else {
            o.options([("plan_cache_mode", PG_PLAN_CACHE_MODE)])
        }
    });
    Database::connect(opts).await
}

/// Connects and brings the schema up to date.
pub async fn open(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}
