//! Import batches as principals may read them: counts, errors and warnings.

use crate::access::Principal;
use crate::error::ApiResult;
use entity::{import_batch, import_issue};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// A page of batches, newest first, before an id.
pub async fn page(
    db: &impl ConnectionTrait,
    p: &Principal,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<import_batch::Model>, bool)> {
    let mut q = import_batch::Entity::find().filter(p.batches());
    if let Some(b) = before {
        q = q.filter(import_batch::Column::Id.lt(b));
    }
    let mut rows = q
        .order_by_desc(import_batch::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// One batch, when `p` may see it.
pub async fn get(
    db: &impl ConnectionTrait,
    p: &Principal,
    id: i32,
) -> ApiResult<Option<import_batch::Model>> {
    Ok(import_batch::Entity::find_by_id(id)
        .filter(p.batches())
        .one(db)
        .await?)
}

/// A batch's errors or warnings, in sheet and row order.
pub async fn issues(
    db: &impl ConnectionTrait,
    batch: i32,
    severity: &str,
) -> ApiResult<Vec<import_issue::Model>> {
    Ok(import_issue::Entity::find()
        .filter(import_issue::Column::BatchId.eq(batch))
        .filter(import_issue::Column::Severity.eq(severity))
        .order_by_asc(import_issue::Column::Id)
        .all(db)
        .await?)
}
