//! The two databases: every difference between SQLite (the embedded default) and PostgreSQL
//! (production) lives here — beginning a write transaction, a list as one parameter, the
//! bulk writer (`COPY` or multi-row inserts, upserts on an identity), the import queue's
//! claim (a row lock, or one process), and how writers go side by side (an import's leased
//! change number and the feed's [`settled`] bound, districts' advisory locks — or SQLite's one
//! writer). Code outside this module never asks which backend it runs on.

use crate::import_batch;
use crate::types::{BatchStatus, JobStage};
use sea_orm::sea_query::Expr;
use sea_orm::sqlx;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IdenStatic, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait, Value,
};

/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// Rows turned into values per chunk, so that a province's rows are never all held twice.
const ROWS_PER_CHUNK: usize = 2000;

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so a concurrent writer waits (busy timeout) instead of failing when its read
/// snapshot turns stale; on PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    })
    .await
}

/// `select` locking its rows until the transaction ends (`FOR UPDATE`) on PostgreSQL; on
/// SQLite, whose writing transaction ([`begin_write`]) already holds the one write lock, as
/// it is.
pub fn for_update<E: EntityTrait>(
    select: sea_orm::Select<E>,
    backend: DbBackend,
) -> sea_orm::Select<E> {
    use sea_orm::QuerySelect;
    match backend {
        DbBackend::Postgres => select.lock_exclusive(),
        _ => select,
    }
}

/// `col` is one of `values`, as one parameter whatever the list's length: an array on
/// PostgreSQL, a JSON array unpacked by `json_each` on SQLite.
pub fn any_of(backend: DbBackend, col: &str, values: &[String]) -> Expr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust_with_values(format!("{col} = ANY($1)"), [Value::from(values.to_vec())])
        }
        _ => Expr::cust_with_values(
            format!("{col} IN (SELECT value FROM json_each(?))"),
            [serde_json::to_string(values).unwrap_or_else(|_| "[]".into())],
        ),
    }
}

/// A writing transaction's place in the change feed: its sequence number and its time. The
/// number comes from the one-row `change_counter`.
///
/// A short write ([`stamp`]) takes it inside its transaction, so numbers commit in order (on
/// PostgreSQL the counter's row lock holds a later short writer until this one commits;
/// SQLite has one writer at a time). An import ([`WriteTx::stamp`]) holds it for seconds, so
/// on PostgreSQL it takes its number in a statement of its own and leaves a lease in
/// `change_leases` until it ends: the feed reads only up to [`settled`], below the lowest
/// number still leased. Either way a feed reader never sees a number below one it has
/// already passed commit later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// The sequence number.
    pub seq: i64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

const NEXT_CHANGE: &str =
    "UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value";

/// The first key of the PostgreSQL advisory lock a leasing transaction holds on its token
/// (the second key) until it ends: a lease whose lock is not held is over.
const LEASE_LOCK: i32 = 0x4c42_0001;

/// The first key of a district's PostgreSQL advisory lock (the second is the district's).
const DISTRICT_LOCK: i32 = 0x4c42_0002;

/// Whether the lease `l` is held: its transaction has not ended.
fn lease_held() -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' \
         AND k.classid = CAST({LEASE_LOCK} AS oid) AND k.objid = CAST(l.token AS oid) \
         AND k.objsubid = 2 AND k.granted)"
    )
}

/// Takes the next change number and leases it to the token of parameter 1, in one statement
/// committed at once (the counter's row lock lasts that statement); clears leases over.
fn lease_sql() -> String {
    format!(
        "WITH n AS ({NEXT_CHANGE}), \
         gone AS (DELETE FROM change_leases l WHERE NOT {held}) \
         INSERT INTO change_leases (seq, token) SELECT value, $1 FROM n RETURNING seq",
        held = lease_held()
    )
}

/// Takes the next change number inside `conn`'s transaction.
pub async fn stamp(conn: &impl ConnectionTrait) -> Result<Stamp, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            NEXT_CHANGE,
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the change counter has no row".into()))?;
    Ok(Stamp {
        seq: row.try_get_by_index(0)?,
        at: chrono::Utc::now(),
    })
}

/// The highest change number below which every change has committed or ended: the feed
/// reads up to it. On PostgreSQL, the counter less the numbers still leased by running
/// imports (counter and leases read in one snapshot, the leases' locks after it: a lease
/// whose lock is gone ended before the next statement's snapshot); `None` on SQLite, whose
/// one writer commits its numbers in order.
pub async fn settled(conn: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT c.value, (SELECT MIN(l.seq) FROM change_leases l WHERE {held}) \
                 FROM change_counter c WHERE c.id = 1",
                held = lease_held()
            ),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the change counter has no row".into()))?;
    let counter: i64 = row.try_get_by_index(0)?;
    let leased: Option<i64> = row.try_get_by_index(1)?;
    Ok(Some(leased.map_or(counter, |l| l - 1)))
}

/// Whether imports of different districts write side by side (PostgreSQL), rather than one
/// after another (SQLite, one writer).
pub fn writes_side_by_side(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// A district's advisory lock key.
fn district_key(code: &str) -> i32 {
    code.parse::<i32>().unwrap_or_else(|_| {
        // not a number (area codes are): a stable hash of it (FNV-1a)
        let h = code.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        (h & 0x7fff_ffff) as i32
    })
}

/// Takes, in a short writing transaction, the shared lock of each district in `codes` until
/// it ends, so no import of those districts writes meanwhile (it holds the lock alone);
/// writes of other districts go on. A short writer takes these before the change counter.
/// Nothing on SQLite, whose writing transaction holds the one write lock.
pub async fn share_districts(conn: &impl ConnectionTrait, codes: &[String]) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for key in district_keys(codes) {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock_shared($1, $2)",
            [DISTRICT_LOCK.into(), key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Takes, where it is free now, each district's lock in `codes` alone until the transaction
/// ends, without waiting (a district an import or a short write holds is left out); returns
/// the districts it holds. Every district on SQLite, whose writing transaction holds the one
/// write lock.
pub async fn try_lock_districts(
    conn: &impl ConnectionTrait,
    codes: &[String],
) -> Result<Vec<String>, DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(codes.to_vec());
    }
    let mut held = Vec::new();
    for code in codes {
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1, $2)",
                [DISTRICT_LOCK.into(), district_key(code).into()],
            ))
            .await?;
        if row.is_some_and(|r| r.try_get_by_index::<bool>(0).unwrap_or(false)) {
            held.push(code.clone());
        }
    }
    Ok(held)
}

/// The districts' lock keys, sorted (every transaction takes them in one order).
fn district_keys(codes: &[String]) -> Vec<i32> {
    let mut keys: Vec<i32> = codes.iter().map(|c| district_key(c)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A statement's `n`th parameter placeholder (from 1) on `backend`.
pub fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// SQL for the day `days` after the time (or day) `expr`, as a date (SQLite keeps dates as
/// `YYYY-MM-DD` text, which `date()` gives; PostgreSQL adds days to a date).
pub fn date_plus_days(backend: DbBackend, expr: &str, days: u32) -> String {
    match backend {
        DbBackend::Postgres => format!("(CAST({expr} AS DATE) + {days})"),
        _ => format!("date({expr}, '+{days} days')"),
    }
}

/// SQL for a date literal (comparable with dates as each backend keeps them).
pub fn date_literal(backend: DbBackend, d: chrono::NaiveDate) -> String {
    match backend {
        DbBackend::Postgres => format!("DATE '{}'", d.format("%Y-%m-%d")),
        _ => format!("'{}'", d.format("%Y-%m-%d")),
    }
}

/// The columns of an entity that a bulk write gives: all but a database-generated id.
pub fn written_columns<E: EntityTrait>() -> Vec<E::Column> {
    let generated: Vec<&'static str> = if <E::PrimaryKey as PrimaryKeyTrait>::auto_increment() {
        E::PrimaryKey::iter()
            .map(|k| k.into_column().as_str())
            .collect()
    } else {
        Vec::new()
    };
    E::Column::iter()
        .filter(|c| !generated.contains(&c.as_str()))
        .collect()
}

/// A table written in bulk: its columns (the entity's, less a generated id), the identity an
/// upsert conflicts on, and the columns an upsert leaves as they are.
#[derive(Debug, Clone)]
pub struct Table {
    name: &'static str,
    cols: Vec<&'static str>,
    conflict: &'static [&'static str],
    insert_only: &'static [&'static str],
}

impl Table {
    /// The bulk shape of entity `E`: upserts conflict on `conflict` and leave `insert_only`.
    pub fn of<E: EntityTrait + Default>(
        conflict: &'static [&'static str],
        insert_only: &'static [&'static str],
    ) -> Self {
        Table {
            name: E::default().table_name(),
            cols: written_columns::<E>().iter().map(|c| c.as_str()).collect(),
            conflict,
            insert_only,
        }
    }

    /// The columns an upsert sets from the new row.
    fn updated(&self) -> impl Iterator<Item = &&'static str> {
        self.cols
            .iter()
            .filter(|c| !self.conflict.contains(c) && !self.insert_only.contains(c))
    }
}

/// A value type the bulk writer does not write (every column here is one of the others).
fn unsupported(v: &Value) -> DbErr {
    DbErr::Custom(format!("bulk write: unsupported value {v:?}"))
}

/// Appends a value in PostgreSQL's COPY text format.
fn copy_field(out: &mut String, v: &Value) -> Result<(), DbErr> {
    use std::fmt::Write;
    let _ = match v {
        Value::String(Some(s)) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            Ok(())
        }
        Value::Int(Some(i)) => write!(out, "{i}"),
        Value::BigInt(Some(i)) => write!(out, "{i}"),
        Value::Double(Some(f)) => write!(out, "{f:?}"),
        Value::Bool(Some(b)) => write!(out, "{}", if *b { 't' } else { 'f' }),
        Value::ChronoDate(Some(d)) => write!(out, "{}", d.format("%Y-%m-%d")),
        Value::ChronoDateTimeUtc(Some(t)) => write!(out, "{}", t.to_rfc3339()),
        Value::String(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Double(None)
        | Value::Bool(None)
        | Value::ChronoDate(None)
        | Value::ChronoDateTimeUtc(None) => {
            out.push_str("\\N");
            Ok(())
        }
        other => return Err(unsupported(other)),
    };
    Ok(())
}

/// A lease's token: random, positive (two running imports sharing one would only wait for
/// each other).
fn lease_token() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    ((h.finish() & 0x7fff_ffff) as i32).max(1)
}

/// Marks SQL as audited: every statement here is built from constant identifiers,
/// placeholders and integers, never from workbook text (values are bound or copied).
fn sql(s: impl Into<String>) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(s.into())
}

fn db_err(e: sqlx::Error) -> DbErr {
    DbErr::Custom(format!("bulk write: {e}"))
}

macro_rules! bind_all {
    ($q:expr, $vals:expr) => {{
        let mut q = $q;
        for v in $vals {
            q = match v {
                Value::String(s) => q.bind(s.as_deref()),
                Value::Int(i) => q.bind(*i),
                Value::BigInt(i) => q.bind(*i),
                Value::Double(f) => q.bind(*f),
                Value::Bool(b) => q.bind(*b),
                Value::ChronoDate(d) => q.bind(*d),
                Value::ChronoDateTimeUtc(t) => q.bind(*t),
                other => return Err(unsupported(other)),
            };
        }
        q
    }};
}

/// A multi-row insert's text and its arguments.
type LiteChunk = (String, sqlx::sqlite::SqliteArguments);

/// SQLite arguments that take the values' text over instead of copying it: the owned twin of
/// `bind_all!`, for the bulk writer, whose values are made for the statement alone.
fn bind_owned(vals: Vec<Value>) -> Result<sqlx::sqlite::SqliteArguments, DbErr> {
    use sqlx::Arguments;
    let mut args = sqlx::sqlite::SqliteArguments::default();
    args.reserve(vals.len(), 0);
    for v in vals {
        let added = match v {
            Value::String(s) => args.add(s),
            Value::Int(i) => args.add(i),
            Value::BigInt(i) => args.add(i),
            Value::Double(f) => args.add(f),
            Value::Bool(b) => args.add(b),
            Value::ChronoDate(d) => args.add(d),
            Value::ChronoDateTimeUtc(t) => args.add(t),
            other => return Err(unsupported(&other)),
        };
        added.map_err(|e| DbErr::Custom(format!("bulk write: {e}")))?;
    }
    Ok(args)
}

/// A bulk write transaction, on the pool's own sqlx connection so that PostgreSQL can
/// `COPY`. Statements given to it use [`WriteTx::placeholder`] for their parameters.
pub struct WriteTx {
    tx: Tx,
    /// The change number this transaction leases (PostgreSQL), cleared at its commit.
    lease: Option<i64>,
}

enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    Lite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl WriteTx {
    /// Begins the transaction; on SQLite it takes the write lock at once, so a concurrent
    /// writer waits instead of failing.
    pub async fn begin(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let tx = match db.get_database_backend() {
            DbBackend::Postgres => Tx::Pg(
                db.get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(db_err)?,
            ),
            _ => Tx::Lite(
                db.get_sqlite_connection_pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(db_err)?,
            ),
        };
        Ok(WriteTx { tx, lease: None })
    }

    /// Commits (ending its lease in the same commit).
    pub async fn commit(mut self) -> Result<(), DbErr> {
        if let Some(seq) = self.lease.take() {
            self.execute(
                "DELETE FROM change_leases WHERE seq = $1",
                &[Value::from(seq)],
            )
            .await?;
        }
        match self.tx {
            Tx::Pg(t) => t.commit().await.map_err(db_err),
            Tx::Lite(t) => t.commit().await.map_err(db_err),
        }
    }

    /// The database it writes to.
    pub fn backend(&self) -> DbBackend {
        match self.tx {
            Tx::Pg(_) => DbBackend::Postgres,
            Tx::Lite(_) => DbBackend::Sqlite,
        }
    }

    /// Locks rows of `table` by id until the commit, in id order (PostgreSQL `FOR UPDATE`;
    /// SQLite's write transaction already holds the whole database).
    pub async fn lock_rows(&mut self, table: &str, ids: &[i32]) -> Result<(), DbErr> {
        if self.backend() != DbBackend::Postgres || ids.is_empty() {
            return Ok(());
        }
        let list = ids
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.execute(
            &format!("SELECT id FROM {table} WHERE id IN ({list}) ORDER BY id FOR UPDATE"),
            &[],
        )
        .await
        .map(|_| ())
    }

    /// The `n`th parameter's placeholder (from 1).
    pub fn placeholder(&self, n: usize) -> String {
        placeholder(self.backend(), n)
    }

    /// Takes the next change number for this transaction (see [`Stamp`]). On SQLite inside
    /// it (the one writer). On PostgreSQL without holding the change counter: this
    /// transaction first locks a random token, then the number is taken and leased to the
    /// token in a statement of `db`'s committed at once, so other writers go on while this one
    /// writes, and the feed stops below the number until this transaction ends. Take it
    /// before any other lock ([`WriteTx::lock_districts`]): the lease waits for short
    /// writers holding the counter, which may wait for those.
    pub async fn stamp(&mut self, db: &DatabaseConnection) -> Result<Stamp, DbErr> {
        let seq = match self.backend() {
            DbBackend::Postgres => {
                let token = lease_token();
                self.execute(
                    &format!("SELECT pg_advisory_xact_lock({LEASE_LOCK}, $1)"),
                    &[Value::from(token)],
                )
                .await?;
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        lease_sql(),
                        [token.into()],
                    ))
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound("the change counter has no row".into()))?;
                let seq: i64 = row.try_get_by_index(0)?;
                self.lease = Some(seq);
                seq
            }
            _ => self.fetch_one::<(i64,)>(NEXT_CHANGE, &[]).await?.0,
        };
        Ok(Stamp {
            seq,
            at: chrono::Utc::now(),
        })
    }

    /// Locks the districts in `codes` for this transaction alone until it ends (PostgreSQL;
    /// SQLite's writing transaction holds the whole database): short writes in them wait
    /// ([`share_districts`]), imports of other districts and writes there go on.
    pub async fn lock_districts(&mut self, codes: &[String]) -> Result<(), DbErr> {
        if self.backend() != DbBackend::Postgres {
            return Ok(());
        }
        for key in district_keys(codes) {
            self.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[Value::from(DISTRICT_LOCK), Value::from(key)],
            )
            .await?;
        }
        Ok(())
    }

    /// Placeholders 1 to `n`, comma-separated.
    pub fn marks(&self, n: usize) -> String {
        (1..=n)
            .map(|i| self.placeholder(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Runs a statement; returns the rows it affected.
    pub async fn execute(&mut self, sql_text: &str, vals: &[Value]) -> Result<u64, DbErr> {
        match &mut self.tx {
            Tx::Pg(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
            Tx::Lite(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(db_err)
    }

    /// Runs a query and reads each row as a `T` (a tuple of its columns).
    pub async fn fetch_all<T>(&mut self, sql_text: &str, vals: &[Value]) -> Result<Vec<T>, DbErr>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        match &mut self.tx {
            Tx::Pg(t) => {
                bind_all!(sqlx::query_as(sql(sql_text)), vals)
                    .fetch_all(&mut **t)
                    .await
            }
            Tx::Lite(t) => {
                bind_all!(sqlx::query_as(sql(sql_text)), vals)
                    .fetch_all(&mut **t)
                    .await
            }
        }
        .map_err(db_err)
    }

    /// Runs a query of one row and reads it as a `T`.
    pub async fn fetch_one<T>(&mut self, sql_text: &str, vals: &[Value]) -> Result<T, DbErr>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        self.fetch_all(sql_text, vals)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DbErr::RecordNotFound(format!("no row from {sql_text}")))
    }

    /// Writes rows of `table`: new ones are inserted (`COPY` on PostgreSQL), changed ones
    /// (`update`) are upserted on the table's identity, updating every column but the
    /// identity and the insert-only ones. `to_vals` gives a row's values in the table's
    /// column order.
    pub async fn write_rows<T>(
        &mut self,
        table: &Table,
        rows: &[&T],
        to_vals: impl Fn(&T) -> Result<Vec<Value>, DbErr>,
        update: bool,
    ) -> Result<(), DbErr> {
        if rows.is_empty() {
            return Ok(());
        }
        let cols = table
            .cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        match &mut self.tx {
            Tx::Pg(t) => {
                let target = if update {
                    let tmp = format!("tmp_{}", table.name);
                    sqlx::query(sql(format!(
                        "CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {} WITH NO DATA",
                        table.name
                    )))
                    .execute(&mut **t)
                    .await
                    .map_err(db_err)?;
                    tmp
                } else {
                    table.name.to_string()
                };
                let mut copy = t
                    .copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN"))
                    .await
                    .map_err(db_err)?;
                for chunk in rows.chunks(ROWS_PER_CHUNK) {
                    let mut buf = String::with_capacity(chunk.len() * 160);
                    for r in chunk {
                        for (i, v) in to_vals(r)?.iter().enumerate() {
                            if i > 0 {
                                buf.push('\t');
                            }
                            copy_field(&mut buf, v)?;
                        }
                        buf.push('\n');
                    }
                    copy.send(buf.into_bytes()).await.map_err(db_err)?;
                }
                copy.finish().await.map_err(db_err)?;
                if update {
                    let set: Vec<String> = table
                        .updated()
                        .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
                        .collect();
                    let upsert = format!(
                        "INSERT INTO {name} ({cols}) SELECT {cols} FROM {target} ON CONFLICT ({conflict}) DO UPDATE SET {set}; DROP TABLE {target}",
                        name = table.name,
                        conflict = table.conflict.join(", "),
                        set = set.join(", ")
                    );
                    sqlx::raw_sql(sql(upsert))
                        .execute(&mut **t)
                        .await
                        .map_err(db_err)?;
                }
            }
            Tx::Lite(t) => {
                let per = (MAX_PARAMS / table.cols.len()).clamp(1, ROWS_PER_CHUNK);
                let tail = if update {
                    let set: Vec<String> = table
                        .updated()
                        .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                        .collect();
                    format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        table.conflict.join(", "),
                        set.join(", ")
                    )
                } else {
                    String::new()
                };
                let one = format!("({})", vec!["?"; table.cols.len()].join(","));
                let statement = |n: usize| {
                    format!(
                        "INSERT INTO {} ({cols}) VALUES {}{tail}",
                        table.name,
                        vec![one.as_str(); n].join(",")
                    )
                };
                // the next chunk's values are made while SQLite's worker thread writes this
                // one: the statement is handed to the worker on its first poll, and the
                // making needs no await, so `join` runs it beside the write
                let make = |chunk: Option<&[&T]>| -> Result<Option<LiteChunk>, DbErr> {
                    let Some(chunk) = chunk else { return Ok(None) };
                    let mut vals: Vec<Value> = Vec::with_capacity(chunk.len() * table.cols.len());
                    for r in chunk {
                        vals.extend(to_vals(r)?);
                    }
                    Ok(Some((statement(chunk.len()), bind_owned(vals)?)))
                };
                let mut chunks = rows.chunks(per);
                let mut next = make(chunks.next())?;
                while let Some((insert, args)) = next.take() {
                    let write = sqlx::query_with(sql(insert), args).execute(&mut **t);
                    let (written, made) = futures::join!(write, async { make(chunks.next()) });
                    written.map_err(db_err)?;
                    next = made?;
                }
                // a prepared INSERT of thousands of parameters is megabytes of SQLite's
                // memory: kept for this table's chunks, not for the rest of the import
                use sqlx::Connection;
                t.clear_cached_statements().await.map_err(db_err)?;
            }
        }
        Ok(())
    }
}

/// Rows a bulk write must have written into a table before its planner statistics are
/// refreshed at all.
const STATS_MIN_ROWS: u64 = 500;

/// Refreshes the planner statistics of the tables a bulk write changed materially, given the
/// rows it wrote per table: a table is analysed when it has no statistics yet, or the rows
/// written are at least a tenth of the rows its statistics counted — so a province loaded
/// into a fresh database is planned with its real sizes at once, while the eleventh district
/// of a national database costs no `ANALYZE` (PostgreSQL's autovacuum analyses a table after
/// the same share of changes; SQLite keeps what it has, which still describes the table).
/// On PostgreSQL the table is vacuumed as it is analysed (`VACUUM (ANALYZE)`), which marks
/// the new pages all-visible: until autovacuum gets there, every index-only scan of fresh
/// rows otherwise reads the heap too (a health agency's count of a district's households:
/// 9,317 heap fetches, 49 → 26 ms). Returns the tables analysed.
pub async fn refresh_statistics(
    db: &DatabaseConnection,
    written: &[(&str, u64)],
) -> Result<Vec<String>, DbErr> {
    let wanted: Vec<(&str, u64)> = written
        .iter()
        .copied()
        .filter(|(_, n)| *n >= STATS_MIN_ROWS)
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let names = wanted
        .iter()
        .map(|(t, _)| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let b = db.get_database_backend();
    // rows each table's statistics counted (none: never analysed)
    let sql = match b {
        DbBackend::Postgres => format!(
            "SELECT relname AS tbl, CAST(reltuples AS BIGINT) AS n FROM pg_class \
             WHERE relname IN ({names}) AND relkind = 'r' AND pg_table_is_visible(oid) AND reltuples >= 0"
        ),
        _ => {
            let has_stats = db
                .query_one_raw(Statement::from_string(
                    b,
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'",
                ))
                .await?
                .is_some();
            if has_stats {
                format!(
                    "SELECT tbl, MAX(CAST(stat AS INTEGER)) AS n FROM sqlite_stat1 \
                     WHERE tbl IN ({names}) GROUP BY tbl"
                )
            } else {
                "SELECT '' AS tbl, 0 AS n WHERE 0 = 1".into()
            }
        }
    };
    let mut counted = std::collections::HashMap::new();
    for row in db.query_all_raw(Statement::from_string(b, sql)).await? {
        let t: String = row.try_get("", "tbl")?;
        let n: i64 = row.try_get("", "n")?;
        counted.insert(t, n.max(0) as u64);
    }
    let mut analysed = Vec::new();
    for (table, n) in wanted {
        let stale = counted
            .get(table)
            .is_none_or(|c| n.saturating_mul(10) >= *c);
        if stale {
            let sql = match b {
                DbBackend::Postgres => format!("VACUUM (ANALYZE) {table}"),
                _ => format!("ANALYZE {table}"),
            };
            db.execute_unprepared(&sql).await?;
            analysed.push(table.to_string());
        }
    }
    Ok(analysed)
}

/// A queued import claimed by this process: its batch id, how many times it has been
/// claimed, and on PostgreSQL the transaction holding its upload's row lock for the run.
pub struct Claim {
    /// The batch.
    pub id: i32,
    /// Claims so far, this one included.
    pub attempts: i32,
    lock: Option<DatabaseTransaction>,
}

impl Claim {
    /// Ends the claim (frees the row lock; a no-op on SQLite).
    pub async fn release(self) -> Result<(), DbErr> {
        match self.lock {
            Some(lock) => lock.commit().await,
            None => Ok(()),
        }
    }
}

/// Claims the oldest queued import and marks it running. On PostgreSQL the upload's row is
/// locked (`FOR UPDATE SKIP LOCKED`) until [`Claim::release`], so other processes skip it and
/// a dead process's job — still `running` — is claimed again once its lock goes with its
/// connection; on SQLite one process runs the queue and claims with `UPDATE … RETURNING`.
pub async fn claim_import(db: &DatabaseConnection) -> Result<Option<Claim>, DbErr> {
    let running = BatchStatus::Running.key();
    let reading = JobStage::Reading.key();
    let queued = BatchStatus::Queued.key();
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        let claimed = db
            .query_one_raw(Statement::from_string(
                backend,
                format!(
                    "UPDATE import_batches SET status = '{running}', stage = '{reading}', \
                     attempts = attempts + 1 WHERE id = (SELECT id FROM import_batches \
                     WHERE status = '{queued}' ORDER BY id LIMIT 1) RETURNING id, attempts"
                ),
            ))
            .await?;
        return match claimed {
            Some(row) => Ok(Some(Claim {
                id: row.try_get_by_index(0)?,
                attempts: row.try_get_by_index(1)?,
                lock: None,
            })),
            None => Ok(None),
        };
    }
    // the lock on the upload row lives as long as this transaction: the whole run
    let lock = db.begin().await?;
    let claimed = lock
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT u.batch_id FROM import_uploads u JOIN import_batches b ON b.id = u.batch_id \
                 WHERE b.status IN ('{queued}', '{running}') ORDER BY u.batch_id \
                 LIMIT 1 FOR UPDATE OF u SKIP LOCKED"
            ),
        ))
        .await?;
    let Some(row) = claimed else {
        lock.rollback().await?;
        return Ok(None);
    };
    let id: i32 = row.try_get_by_index(0)?;
    // outside the lock's transaction, so that the running state is seen at once
    let attempts_row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE import_batches SET status = '{running}', stage = '{reading}', \
                 attempts = attempts + 1 WHERE id = $1 RETURNING attempts"
            ),
            [id.into()],
        ))
        .await?;
    let attempts = match attempts_row {
        Some(r) => r.try_get_by_index(0)?,
        None => 1,
    };
    Ok(Some(Claim {
        id,
        attempts,
        lock: Some(lock),
    }))
}

/// Puts imports a dead process left `running` back in the queue; returns how many. Only
/// SQLite needs it (one process runs its queue); on PostgreSQL the claim finds them through
/// their freed lock, and this is 0.
pub async fn requeue_interrupted(db: &DatabaseConnection) -> Result<u64, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        return Ok(0);
    }
    use sea_orm::{ColumnTrait, QueryFilter};
    let done = import_batch::Entity::update_many()
        .col_expr(
            import_batch::Column::Status,
            Expr::value(BatchStatus::Queued),
        )
        .col_expr(
            import_batch::Column::Stage,
            Expr::value(Value::String(None)),
        )
        .filter(import_batch::Column::Status.eq(BatchStatus::Running))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// The connection pool now: connections in use, idle, and the most it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Checked out by a request or job.
    pub in_use: u32,
    /// Open and idle.
    pub idle: u32,
    /// The pool's maximum.
    pub max: u32,
}

/// The pool's state, for metrics (`None` for a connection that is no pool).
pub fn pool_state(db: &DatabaseConnection) -> Option<PoolState> {
    fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolState {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        PoolState {
            in_use: pool.size().saturating_sub(idle),
            idle,
            max: pool.options().get_max_connections(),
        }
    }
    use sea_orm::DatabaseConnectionType as C;
    match &db.inner {
        C::SqlxSqlitePoolConnection(_) => Some(of(db.get_sqlite_connection_pool())),
        C::SqlxPostgresPoolConnection(_) => Some(of(db.get_postgres_connection_pool())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{household, problem};
    use sea_orm::Iterable;

    #[test]
    fn a_generated_id_is_not_written_and_every_other_column_is() {
        let cols: Vec<&str> = written_columns::<problem::Entity>()
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert!(!cols.contains(&"id"));
        assert_eq!(cols.len(), problem::Column::iter().count() - 1);
        // natural keys are written
        assert!(
            written_columns::<household::Entity>()
                .iter()
                .any(|c| c.as_str() == "house_code")
        );
    }

    #[test]
    fn copy_text_escapes_its_separators_and_writes_null() {
        let mut out = String::new();
        copy_field(&mut out, &Value::from("a\tb\nc\\")).unwrap();
        out.push('|');
        copy_field(&mut out, &Value::String(None)).unwrap();
        assert_eq!(out, "a\\tb\\nc\\\\|\\N");
        assert!(copy_field(&mut out, &Value::TinyInt(Some(1))).is_err());
    }
}
