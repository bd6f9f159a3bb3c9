//! Import batches and the audit trail.

use super::*;

/// Queries over imports and the audit trail.
#[derive(Default)]
pub struct ImportsQuery;

#[Object]
impl ImportsQuery {
    /// Import batches the key may see (a district its own), newest first.
    async fn import_batches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::ImportBatch, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let before = after
            .as_deref()
            .map(|c| decode_id_cursor("b", c))
            .transpose()
            .gql()?;
        let (rows, has_next) = service::imports::page(db(ctx)?, p, before, first)
            .await
            .gql()?;
        let mut conn = Connection::new(before.is_some(), has_next);
        conn.edges.extend(
            rows.into_iter()
                .map(|b| Edge::new(encode_id_cursor("b", b.id), types::ImportBatch(b))),
        );
        Ok(conn)
    }

    /// Changes to agencies, dimension ownership and API keys, newest first: all of them for
    /// a national admin, its province's for a province admin, none for other keys.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Connection<String, types::AuditEvent, EmptyFields, EmptyFields>> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let before = after
            .as_deref()
            .map(|c| decode_id_cursor("a", c))
            .transpose()
            .gql()?;
        let (rows, has_next) = service::audit::page(db(ctx)?, p, before, first)
            .await
            .gql()?;
        let mut conn = Connection::new(before.is_some(), has_next);
        conn.edges.extend(
            rows.into_iter()
                .map(|a| Edge::new(encode_id_cursor("a", a.id), a.into())),
        );
        Ok(conn)
    }

    /// One of the key's exports; `null` with NOT_FOUND for another key's.
    async fn export_job(&self, ctx: &Context<'_>, id: i32) -> Result<Option<types::ExportJob>> {
        let p = principal(ctx)?;
        let Some(key) = p.key_id() else {
            return Err(ApiError::NotFound(format!("export {id}")).extend());
        };
        match service::exports::get(db(ctx)?, key, id).await.gql()? {
            Some(j) => Ok(Some(types::ExportJob(j))),
            None => Err(ApiError::NotFound(format!("export {id}")).extend()),
        }
    }

    /// One import batch; `null` with NOT_FOUND when the key may not see it.
    async fn import_batch(&self, ctx: &Context<'_>, id: i32) -> Result<Option<types::ImportBatch>> {
        let p = principal(ctx)?;
        match service::imports::get(db(ctx)?, p, id).await.gql()? {
            Some(b) => Ok(Some(types::ImportBatch(b))),
            None => Err(ApiError::NotFound(format!("import batch {id}")).extend()),
        }
    }
}
