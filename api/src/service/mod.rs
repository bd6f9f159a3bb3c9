//! Services: plain async functions over a connection, with no GraphQL inside. Each takes the
//! principal's condition from [`crate::access`] and applies it in its statements.

pub mod agencies;
pub mod assistance;
pub mod audit;
pub mod catalog;
pub mod households;
pub mod imports;
pub mod keys;
pub mod logbook;
pub mod problems;
pub mod reports;
pub mod stats;

use crate::error::ApiResult;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// A page of rows newest first (by the integer key `id`), before an id; and whether more
/// follow. `select` already carries the principal's condition.
pub(crate) async fn newest_first<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: E::Column,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<E::Model>, bool)> {
    let mut q = select;
    if let Some(b) = before {
        q = q.filter(id.lt(b));
    }
    let mut rows = q.order_by_desc(id).limit(first + 1).all(db).await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so a concurrent writer waits (busy timeout) instead of failing when its read
/// snapshot turns stale; elsewhere it is a plain `BEGIN`.
pub(crate) async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    })
    .await
}
