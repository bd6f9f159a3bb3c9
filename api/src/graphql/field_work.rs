//! Field work in the schema: evidence photos, the district's check of entries, and month
//! locks. Thin over [`crate::service::evidence`] and [`crate::service::verification`].

use super::*;
use crate::evidence::EvidenceStore;
use crate::service::{evidence, verification};
use types::{Evidence, LogbookEntry, Verification};

/// A locked month of a district.
#[derive(SimpleObject)]
pub struct MonthLock {
    /// District code.
    pub district: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Who locked it.
    pub locked_by: String,
    /// When (RFC 3339).
    pub locked_at: String,
}

impl From<entity::month_lock::Model> for MonthLock {
    fn from(l: entity::month_lock::Model) -> Self {
        MonthLock {
            district: l.district_code,
            month: l.month,
            locked_by: l.locked_by,
            locked_at: l.locked_at.to_rfc3339(),
        }
    }
}

/// The queue's connection type is named apart from `logbookEntries`' (which carries totals).
pub struct QueueName;

impl async_graphql::connection::ConnectionNameType for QueueName {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "VerificationQueueConnection".into()
    }
}

/// The queue's edge type name.
pub struct QueueEdgeName;

impl async_graphql::connection::EdgeNameType for QueueEdgeName {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "VerificationQueueEdge".into()
    }
}

/// A page of the verification queue.
type Queue = Connection<String, LogbookEntry, EmptyFields, EmptyFields, QueueName, QueueEdgeName>;

fn store<'a>(ctx: &Context<'a>) -> Result<&'a EvidenceStore> {
    data::<Option<EvidenceStore>>(ctx)
        .gql()?
        .as_ref()
        .ok_or_else(|| {
            ApiError::Forbidden(
                "this server keeps no photos (start it with --evidence-dir or --evidence-url)"
                    .into(),
            )
            .extend()
        })
}

/// Field-work queries.
#[derive(Default)]
pub struct FieldWorkQuery;

#[Object]
impl FieldWorkQuery {
    /// Entries waiting for the district's check (`RECORDED`, the default) or in another
    /// state, oldest first: the verification queue of a district or admin key.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity")]
    async fn verification_queue(
        &self,
        ctx: &Context<'_>,
        state: Option<Verification>,
        #[graphql(desc = "Page size: 20 unless given, at most 100.")] first: Option<i32>,
        #[graphql(desc = "The cursor of the last edge of the previous page.")] after: Option<
            String,
        >,
    ) -> Result<Queue> {
        let p = principal(ctx)?;
        let first = page_size(ctx, first).gql()?;
        let after = after
            .as_deref()
            .map(|c| decode_id_cursor("vq", c))
            .transpose()
            .gql()?;
        let (rows, more) = verification::queue(
            db(ctx)?,
            p,
            state.unwrap_or(Verification::Recorded),
            after,
            first,
        )
        .await
        .gql()?;
        let mut c = Queue::new(after.is_some(), more);
        c.edges.extend(
            rows.into_iter()
                .map(|(e, code)| Edge::new(encode_id_cursor("vq", e.id), LogbookEntry(e, code))),
        );
        Ok(c)
    }

    /// Finds households (district and admin keys): 13 digits find a person's household,
    /// 4–11 digits house codes that start so, other text heads' and members' names that
    /// contain it. At most `first` (20; 50 at most), in house-code order.
    #[graphql(complexity = "first.unwrap_or(20).clamp(0, 50) as usize * child_complexity")]
    async fn find_households(
        &self,
        ctx: &Context<'_>,
        text: String,
        first: Option<i32>,
    ) -> Result<Vec<Household>> {
        let p = principal(ctx)?;
        let limit = u64::try_from(first.unwrap_or(20).clamp(1, 50)).unwrap_or(20);
        Ok(service::households::search(db(ctx)?, p, &text, limit)
            .await
            .gql()?
            .into_iter()
            .map(Household)
            .collect())
    }

    /// Locked months of the districts the key may see, newest first.
    async fn month_locks(&self, ctx: &Context<'_>) -> Result<Vec<MonthLock>> {
        let p = principal(ctx)?;
        Ok(verification::locks(db(ctx)?, p)
            .await
            .gql()?
            .into_iter()
            .map(MonthLock::from)
            .collect())
    }
}

/// Field-work mutations.
#[derive(Default)]
pub struct FieldWorkMutation;

#[Object]
impl FieldWorkMutation {
    /// Attaches a photo to a logbook entry the key may see (GraphQL multipart request, with
    /// an `Apollo-Require-Preflight` header): JPEG, PNG or WebP by its bytes, at most 10 MB
    /// and 50 megapixels. It is turned upright, scaled to at most 2560 px, and its metadata
    /// (EXIF, GPS tags) removed; a thumbnail is made.
    async fn attach_evidence(
        &self,
        ctx: &Context<'_>,
        entry_id: i32,
        file: Upload,
        caption: Option<String>,
    ) -> Result<Evidence> {
        let p = principal(ctx)?;
        let store = store(ctx)?;
        let value = file.value(ctx).map_err(|e| {
            ApiError::bad_input("file", format!("the upload cannot be read: {e}")).extend()
        })?;
        let bytes = value.content.to_vec();
        Ok(Evidence(
            evidence::attach(db(ctx)?, store, p, entry_id, bytes, caption.as_deref())
                .await
                .gql()?,
        ))
    }

    /// Deletes a photo (who attached it, or the district or an admin); true when done.
    async fn delete_evidence(&self, ctx: &Context<'_>, id: i32) -> Result<bool> {
        let p = principal(ctx)?;
        evidence::delete(db(ctx)?, store(ctx)?, p, id).await.gql()?;
        Ok(true)
    }

    /// Verifies entries of the key's district (or an admin's area): all of them or none.
    async fn verify_entries(&self, ctx: &Context<'_>, ids: Vec<i32>) -> Result<Vec<LogbookEntry>> {
        let p = principal(ctx)?;
        let rows = verification::verify(db(ctx)?, p, &ids).await.gql()?;
        let codes = service::logbook::agency_codes(db(ctx)?, &rows)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|e| {
                let code = e.agency_id.and_then(|a| codes.get(&a).cloned());
                LogbookEntry(e, code)
            })
            .collect())
    }

    /// Returns an entry to be corrected, with a note saying what is wrong.
    async fn return_entry(&self, ctx: &Context<'_>, id: i32, note: String) -> Result<LogbookEntry> {
        let p = principal(ctx)?;
        let e = verification::return_entry(db(ctx)?, p, id, &note)
            .await
            .gql()?;
        let codes = service::logbook::agency_codes(db(ctx)?, std::slice::from_ref(&e))
            .await
            .gql()?;
        let code = e.agency_id.and_then(|a| codes.get(&a).cloned());
        Ok(LogbookEntry(e, code))
    }

    /// Locks a district's month after its report (province or national admin): entries
    /// dated in it can no longer be added or changed, by import or API.
    async fn lock_month(
        &self,
        ctx: &Context<'_>,
        district: String,
        #[graphql(desc = "`YYYY-MM`, Common Era.")] month: String,
    ) -> Result<MonthLock> {
        let p = principal(ctx)?;
        Ok(verification::lock(db(ctx)?, p, &district, &month)
            .await
            .gql()?
            .into())
    }

    /// Unlocks a district's month; true when it was locked.
    async fn unlock_month(
        &self,
        ctx: &Context<'_>,
        district: String,
        month: String,
    ) -> Result<bool> {
        let p = principal(ctx)?;
        verification::unlock(db(ctx)?, p, &district, &month)
            .await
            .gql()
    }
}
