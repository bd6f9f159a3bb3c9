//! SeaORM entities: one module per table.

pub mod agency;
pub mod agency_dimension;
pub mod analysis;
pub mod api_key;
pub mod area;
pub mod audit_event;
pub mod cohort;
pub mod dimension;
pub mod evidence;
pub mod export_job;
pub mod household;
pub mod household_follow_up;
pub mod import_batch;
pub mod import_issue;
pub mod import_upload;
pub mod indicator;
pub mod logbook_entry;
pub mod member;
pub mod month_lock;
pub mod problem;
pub mod trusted_document;
pub mod visibility_change;
pub mod webhook;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_event;
