//! Services: plain async functions over a connection, with no GraphQL inside. Each takes the
//! principal's condition from [`crate::access`] and applies it in its statements.

pub mod agencies;
pub mod assistance;
pub mod catalog;
pub mod households;
pub mod imports;
pub mod keys;
pub mod logbook;
pub mod problems;
pub mod stats;
