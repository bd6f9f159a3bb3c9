//! The GraphQL schema: built here ([`build_schema`]) with one request builder ([`request`])
//! that attaches the principal and its loaders. The query root merges one object per domain
//! (`catalog`, `records`, `imports`, `stats`); filters, connections and the mutation root in
//! their modules; output types in [`types`], batching in [`loaders`], error codes in
//! [`coded`]. Resolvers stay thin: access comes from [`crate::access`], data from
//! [`crate::service`] and the loaders.

mod catalog;
pub mod coded;
mod field_work;
mod filters;
mod follow_up;
mod imports;
pub mod loaders;
mod mutation;
mod paging;
mod programme;
mod records;
mod stats;
pub mod types;
mod webhooks;

pub use catalog::*;
pub use field_work::*;
pub use filters::*;
pub use follow_up::*;
pub use imports::*;
pub use mutation::*;
pub use paging::*;
pub use programme::*;
pub use records::*;
pub use stats::*;
pub use webhooks::*;

use crate::access::Principal;
use crate::error::{ApiError, GqlResult};
use crate::service;
use async_graphql::ErrorExtensions;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{
    Context, EmptySubscription, InputObject, MergedObject, Object, Result, Schema, SimpleObject,
    Upload,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::types as domain;
use entity::types::{AreaCode, HouseCode};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};
use types::{Area, AreaLevel, Classification, Dimension, Household, Indicator, ProblemStatus, Sex};

/// The schema type.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Limits a schema enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest nesting of a query.
    pub max_depth: usize,
    /// Largest complexity (a connection costs `first` × its children).
    pub max_complexity: usize,
    /// Largest page a connection returns.
    pub max_page: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 50_000,
            max_page: 100,
        }
    }
}

/// Builds the schema (no socket; tests call it in-process).
pub fn build_schema(db: DatabaseConnection, limits: Limits) -> AppSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(db)
    .data(limits.clone())
    .extension(coded::Coded {
        max_depth: limits.max_depth,
        max_complexity: limits.max_complexity,
    })
    .finish()
}

fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or_else(|| ApiError::Unauthenticated.extend())
}

/// Data the schema or the request carries; a coded `INTERNAL` error (logged, masked) when
/// it is missing, rather than a panic: a request not built by [`request`], a schema not
/// built by [`build_schema`].
pub(crate) fn data<'a, T: std::any::Any + Send + Sync>(
    ctx: &Context<'a>,
) -> Result<&'a T, ApiError> {
    ctx.data_opt::<T>().ok_or_else(|| {
        ApiError::Internal(format!(
            "{} is in neither the schema's nor the request's data",
            std::any::type_name::<T>()
        ))
    })
}

fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    data(ctx).gql()
}

/// A request ready for the schema: the caller's principal and a fresh set of its loaders.
/// Every way in (HTTP, tests, a future transport) builds requests here, so any resolver runs
/// without the HTTP layer.
pub fn request(
    req: async_graphql::Request,
    db: &DatabaseConnection,
    principal: Principal,
) -> async_graphql::Request {
    req.data(loaders::Loaders::new(db, &principal))
        .data(principal)
}

/// Every query: the catalogue, the records (households, problems, logbook entries), imports
/// and the audit trail, the grouped counts, the key's webhooks, and the worklist.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    CatalogQuery,
    RecordsQuery,
    ImportsQuery,
    StatsQuery,
    WebhooksQuery,
    FollowUpQuery,
    FieldWorkQuery,
    ProgrammeQuery,
);

/// Every mutation: uploads, logbook entries, agencies, exports, webhooks, and follow-up.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    CoreMutation,
    WebhooksMutation,
    FollowUpMutation,
    FieldWorkMutation,
    ProgrammeMutation,
);
