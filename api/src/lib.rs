//! The agency GraphQL API of logbook.
//!
//! [`access`] turns a principal (admin, district, agency key) into SeaORM conditions, once;
//! [`service`] holds plain async functions that apply them; [`graphql`] is the schema, thin
//! over the services, with DataLoaders; [`gate`] bounds a document before it is parsed
//! and validated; [`delivery`] sends webhooks; [`http`] is the axum app; [`application`] builds the whole server from
//! settings and runs it until stopped.
#![warn(clippy::unwrap_used, clippy::print_stdout)]

pub mod access;
pub mod application;
pub mod budget;
pub mod delivery;
pub mod error;
pub mod evidence;
pub mod gate;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod service;
pub mod telemetry;
pub mod web;

pub use access::IntrospectionPolicy;
pub use application::{Application, Settings};
pub use delivery::{Policy as WebhookPolicy, WebhookConfig};
pub use gate::GateLimits;
pub use graphql::{AppSchema, Limits, build_schema};
pub use http::{AppState, HttpConfig, app};
pub use jobs::{JobConfig, Jobs};

/// Installs rustls' crypto provider for the outbound HTTP clients (webhooks, S3): ring, the
/// provider the database driver already brings. Idempotent (an error means one is installed).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
