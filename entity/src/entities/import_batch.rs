//! Import batches: one per workbook imported (or refused).

use crate::types::{BatchStatus, JobStage};
use sea_orm::entity::prelude::*;

/// A batch.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_batches")]
pub struct Model {
    /// Surrogate key; batches are ordered by it.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// File name as uploaded.
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub file_sha256: String,
    /// District scope the import ran under, if any.
    pub district_code: Option<String>,
    /// Where the job is, or the import's outcome.
    pub status: BatchStatus,
    /// Who imported it.
    pub principal: Option<String>,
    /// Day the batch's values were true (ages given without birth dates).
    pub as_of: Date,
    /// Start time.
    pub started_at: DateTimeUtc,
    /// End time.
    pub finished_at: Option<DateTimeUtc>,
    /// Per-sheet counts as JSON.
    pub counts: String,
    /// Number of errors.
    pub error_count: i32,
    /// Number of warnings.
    pub warning_count: i32,
    /// Checked only (an upload's dry run): nothing but the batch and its issues is written.
    pub dry_run: bool,
    /// The running job's stage.
    pub stage: Option<JobStage>,
    /// Rows done (of the stage's rows).
    pub rows_done: i64,
    /// Rows in all.
    pub rows_total: i64,
    /// Times a worker started it (a job interrupted by a restart is run again).
    pub attempts: i32,
    /// Why a `failed` job failed (for staff; internal details are logged).
    pub failure: Option<String>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
