//! Import batches as principals may read them: counts, errors and warnings.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use entity::types::BatchStatus;
use entity::{import_batch, import_issue, import_upload};
use importer::errorbook::Flag;
use importer::workbook::SheetKind;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// A page of batches, newest first, before an id.
pub async fn page(
    db: &impl ConnectionTrait,
    p: &Principal,
    before: Option<i32>,
    first: u64,
) -> ApiResult<(Vec<import_batch::Model>, bool)> {
    super::newest_first(
        db,
        import_batch::Entity::find().filter(p.batches()),
        import_batch::Column::Id,
        before,
        first,
    )
    .await
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

/// Whether the batch's file is stored (uploads are; command-line imports are not).
pub async fn has_upload(db: &impl ConnectionTrait, batch: i32) -> ApiResult<bool> {
    Ok(import_upload::Entity::find_by_id(batch)
        .select_only()
        .column(import_upload::Column::BatchId)
        .into_tuple::<i32>()
        .one(db)
        .await?
        .is_some())
}

/// The error workbook of a rejected upload `p` may see: none when the batch is not visible,
/// not rejected, or has no stored file.
pub async fn error_workbook(
    db: &impl ConnectionTrait,
    p: &Principal,
    id: i32,
) -> ApiResult<Option<Vec<u8>>> {
    let Some(batch) = get(db, p, id).await? else {
        return Ok(None);
    };
    if batch.status != BatchStatus::Rejected {
        return Ok(None);
    }
    let Some(upload) = import_upload::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let flags: Vec<Flag> = issues(db, id, "error")
        .await?
        .into_iter()
        .map(|i| Flag {
            sheet: SheetKind::ALL.into_iter().find(|k| k.key() == i.sheet),
            row: i.row.and_then(|r| u32::try_from(r).ok()),
            column: i.column,
            value: i.value,
            message_th: i.message_th,
        })
        .collect();
    // the workbook is built off the async threads: it reads and writes a whole file
    let built = tokio::task::spawn_blocking(move || error_workbook_bytes(upload.bytes, &flags))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    built.map(Some)
}

fn error_workbook_bytes(bytes: Vec<u8>, flags: &[Flag]) -> ApiResult<Vec<u8>> {
    importer::errorbook::error_workbook(bytes, flags).map_err(|e| ApiError::Internal(e.to_string()))
}
