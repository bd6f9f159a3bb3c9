//! The data model of logbook: SeaORM entities, the fixed catalogue of dimensions,
//! indicators and default agencies, and the domain value types the importer and the API share.

pub mod catalog;
pub mod db;
pub mod entities;
pub mod funds;
pub mod outbox;
pub mod rules;
pub mod summary;
pub mod types;

pub use entities::*;
