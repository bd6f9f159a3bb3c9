//! End-to-end tests of logbook: one binary, a fresh database per test, every test on SQLite
//! and (when `LOGBOOK_TEST_PG_URL` names a server) on PostgreSQL.

mod helpers;

mod api;
mod areas;
mod browser;
mod changes;
mod cli;
mod examples;
mod exports;
mod field_work;
mod follow_up;
mod hostile;
mod import;
mod keys;
mod programme;
mod protocol;
mod schema;
mod stats_cells;
mod uploads;
mod values;
mod web;
mod webhooks;
