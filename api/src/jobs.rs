//! Import jobs. An upload is stored with a `queued` batch in one transaction; a worker claims
//! the oldest queued job, runs the importer on it (which completes the same batch row in its
//! own single transaction) and records `imported`, `rejected`, `dry_run` or `failed`.
//!
//! The queue is the database, so a restart loses nothing. On PostgreSQL a worker holds a row
//! lock on the job's upload (`FOR UPDATE SKIP LOCKED`) for as long as it runs it: other
//! processes skip it, and when the process dies the lock goes with its connection, so the job —
//! still `running`, its import rolled back — is claimed again. On SQLite one process runs one
//! worker: it claims with `UPDATE … RETURNING`, and on start puts jobs left `running` by a
//! dead process back in the queue. Progress is kept in memory (on SQLite the import's
//! transaction holds the write lock, so it cannot be written to the database meanwhile); other
//! processes see the stage recorded at the claim.

use crate::access::Principal;
use crate::error::ApiResult;
use chrono::{NaiveDate, Utc};
use entity::types::{BatchStatus, JobStage};
use entity::{import_batch, import_upload};
use importer::report::IssueCode;
use importer::{ImportOptions, Progress, Stage};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// A job that crashed its process this many times is marked `failed` instead of run again.
pub const MAX_ATTEMPTS: i32 = 3;

/// A running job's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The stage.
    pub stage: JobStage,
    /// Rows done in this stage.
    pub done: u64,
    /// Rows of this stage.
    pub total: u64,
}

/// Settings of the queue.
#[derive(Debug, Clone, Default)]
pub struct JobConfig {
    /// The day imports run as (tests fix it); today when none.
    pub today: Option<NaiveDate>,
    /// How much of an uploaded workbook is read.
    pub limits: importer::ReadLimits,
    /// Where exports are written, and for how long they are kept.
    pub exports: crate::service::exports::Store,
}

/// The queue and its worker; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    db: DatabaseConnection,
    config: JobConfig,
    live: Arc<Mutex<HashMap<i32, Live>>>,
    wake: Arc<Notify>,
    /// The job this process runs now.
    current: Arc<Mutex<Option<Running>>>,
}

/// The job a process runs: its batch, and the import's task once started.
type Running = (i32, Option<tokio::task::AbortHandle>);

/// What an upload asks for.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name as uploaded.
    pub file_name: String,
    /// The workbook.
    pub bytes: Vec<u8>,
    /// Check only.
    pub dry_run: bool,
}

impl Jobs {
    /// A queue over `db`.
    pub fn new(db: DatabaseConnection, config: JobConfig) -> Self {
        Self {
            db,
            config,
            live: Arc::default(),
            wake: Arc::default(),
            current: Arc::default(),
        }
    }

    /// Stores an upload and queues its batch; the caller's scope is the import's scope (a
    /// district key imports its district only). Agencies may not upload.
    pub async fn enqueue(&self, p: &Principal, up: Upload) -> ApiResult<import_batch::Model> {
        // the import's scope: a district, a province (a province admin), or none (national)
        let district = p.import_scope()?;
        let now = Utc::now();
        let tx = crate::service::begin_write(&self.db).await?;
        let batch = import_batch::ActiveModel {
            file_name: Set(up.file_name),
            file_sha256: Set(hex::encode(Sha256::digest(&up.bytes))),
            district_code: Set(district),
            status: Set(BatchStatus::Queued),
            principal: Set(Some(p.label())),
            as_of: Set(self.today()),
            started_at: Set(now),
            finished_at: Set(None),
            counts: Set("{}".into()),
            error_count: Set(0),
            warning_count: Set(0),
            dry_run: Set(up.dry_run),
            stage: Set(None),
            rows_done: Set(0),
            rows_total: Set(0),
            attempts: Set(0),
            failure: Set(None),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
        import_upload::Entity::insert(import_upload::ActiveModel {
            batch_id: Set(batch.id),
            bytes: Set(up.bytes),
        })
        .exec(&tx)
        .await?;
        tx.commit().await?;
        tracing::info!(batch = batch.id, principal = %p.label(), dry_run = batch.dry_run, "upload queued");
        self.wake.notify_one();
        Ok(batch)
    }

    /// A running job's progress, if it runs in this process.
    pub fn live(&self, batch: i32) -> Option<Live> {
        self.live.lock().ok().and_then(|m| m.get(&batch).copied())
    }

    fn today(&self) -> NaiveDate {
        self.config
            .today
            .unwrap_or_else(|| chrono::Local::now().date_naive())
    }

    /// Wakes the worker (a job was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The settings of the queue.
    pub fn config(&self) -> &JobConfig {
        &self.config
    }

    /// Puts jobs a dead process left `running` back in the queue (SQLite, where one
    /// process runs the queue; on PostgreSQL the claim finds them through their freed lock).
    pub async fn recover(&self) -> ApiResult<u64> {
        let n = entity::db::requeue_interrupted(&self.db).await?;
        if n > 0 {
            tracing::warn!(jobs = n, "jobs interrupted by a restart are queued again");
        }
        Ok(n)
    }

    /// Claims the oldest job and runs it; returns its batch id, or none when the queue is
    /// empty.
    pub async fn run_next(&self) -> ApiResult<Option<i32>> {
        let Some(claim) = entity::db::claim_import(&self.db).await? else {
            return Ok(None);
        };
        let (id, attempts) = (claim.id, claim.attempts);
        self.set_current(Some((id, None)));
        let upload = import_upload::Entity::find_by_id(id).one(&self.db).await;
        let result = match upload {
            Ok(upload) => self.run(id, attempts, upload.map(|u| u.bytes)).await,
            Err(e) => Err(e.into()),
        };
        self.set_current(None);
        claim.release().await?;
        result.map(|()| Some(id))
    }

    fn set_current(&self, job: Option<Running>) {
        if let Ok(mut c) = self.current.lock() {
            *c = job;
        }
    }

    /// Runs one claimed job to its end state.
    async fn run(&self, id: i32, attempts: i32, bytes: Option<Vec<u8>>) -> ApiResult<()> {
        let Some(batch) = import_batch::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(());
        };
        let Some(bytes) = bytes else {
            return self.fail(id, "the uploaded file is missing").await;
        };
        if attempts > MAX_ATTEMPTS {
            tracing::error!(
                batch = id,
                attempts,
                "job given up after repeated interruptions"
            );
            return self
                .fail(
                    id,
                    &format!("stopped after {MAX_ATTEMPTS} interrupted attempts"),
                )
                .await;
        }
        tracing::info!(batch = id, attempts, "import job started");
        let live = self.live.clone();
        let progress = Progress::new(move |stage| {
            let Ok(mut m) = live.lock() else { return };
            let cur = m.get(&id).copied();
            let next = match stage {
                Stage::Reading => Some(Live {
                    stage: JobStage::Reading,
                    done: 0,
                    total: 0,
                }),
                Stage::Validating { rows } => Some(Live {
                    stage: JobStage::Validating,
                    done: 0,
                    total: rows,
                }),
                Stage::Writing { rows } => Some(Live {
                    stage: JobStage::Writing,
                    done: 0,
                    total: rows,
                }),
                Stage::Written { rows } => cur.map(|c| Live { done: rows, ..c }),
                Stage::Waiting => cur,
                Stage::Done => None,
            };
            match next {
                Some(l) => {
                    m.insert(id, l);
                }
                None => {
                    m.remove(&id);
                }
            }
        });
        let opts = ImportOptions {
            dry_run: batch.dry_run,
            scope: batch.district_code.clone(),
            today: batch.as_of,
            principal: batch.principal.clone(),
            progress,
            batch: Some(id),
            limits: self.config.limits,
            turn: None,
        };
        // the importer reads and checks on blocking threads itself; its own task here keeps a
        // panic in the write a failed job instead of a dead worker
        let (db, name) = (self.db.clone(), batch.file_name.clone());
        let started = std::time::Instant::now();
        let task =
            tokio::spawn(async move { importer::import_workbook(&db, &name, bytes, &opts).await });
        self.set_current(Some((id, Some(task.abort_handle()))));
        let outcome = task.await.unwrap_or_else(|e| {
            tracing::error!(batch = id, error = %e, "import job panicked");
            Err(importer::ImportError::Io(std::io::Error::other(
                "the import panicked",
            )))
        });
        if let Ok(mut m) = self.live.lock() {
            m.remove(&id);
        }
        let rows = |r: &importer::report::ImportReport| -> Vec<(&'static str, u64)> {
            let mut by = [0u64; 4];
            for c in r.sheets.values() {
                by[0] += u64::from(c.inserted);
                by[1] += u64::from(c.updated);
                by[2] += u64::from(c.unchanged);
                by[3] += u64::from(c.rejected);
            }
            vec![
                ("inserted", by[0]),
                ("updated", by[1]),
                ("unchanged", by[2]),
                ("rejected", by[3]),
            ]
        };
        let took = started.elapsed();
        match &outcome {
            Ok(report)
                if report
                    .errors
                    .iter()
                    .any(|e| e.code == IssueCode::InternalError) =>
            {
                crate::telemetry::import_job("failed", took, &[]);
            }
            Ok(report) => {
                crate::telemetry::import_job(report.status.as_str(), took, &rows(report));
            }
            Err(_) => crate::telemetry::import_job("failed", took, &[]),
        }
        match outcome {
            Ok(report)
                if report
                    .errors
                    .iter()
                    .any(|e| e.code == IssueCode::InternalError) =>
            {
                // a bug met on this file: the job fails at once (not retried on restart)
                tracing::error!(batch = id, "import job failed on an internal error");
                let why = report
                    .errors
                    .iter()
                    .find(|e| e.code == IssueCode::InternalError)
                    .map(|e| e.message_th.clone())
                    .unwrap_or_default();
                self.fail(id, &why).await
            }
            Ok(report) => {
                tracing::info!(
                    batch = id,
                    status = report.status.as_str(),
                    "import job finished"
                );
                // what `stats` counts changed in the import's villages: counted at once
                if let Err(e) = crate::service::stats::count_waiting(&self.db).await {
                    tracing::warn!(batch = id, error = %e, "stats cells left waiting");
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(batch = id, error = %e, "import job failed");
                self.fail(id, "the import stopped on an internal error; it is logged")
                    .await
            }
        }
    }

    async fn fail(&self, id: i32, why: &str) -> ApiResult<()> {
        let now = Utc::now();
        let tx = crate::service::begin_write(&self.db).await?;
        let batch = import_batch::ActiveModel {
            id: Set(id),
            status: Set(BatchStatus::Failed),
            stage: Set(None),
            failure: Set(Some(why.to_string())),
            finished_at: Set(Some(now)),
            ..Default::default()
        }
        .update(&tx)
        .await?;
        crate::service::webhooks::announce_batch(&tx, &batch, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs jobs until the queue is empty, then waits for an upload (or polls every
    /// `poll`, for jobs queued by other processes), until `stop` turns true: then it finishes
    /// the job it runs, if any, and returns. Once `stop`'s sender is gone it never returns.
    pub async fn work(self, poll: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        if let Err(e) = self.recover().await {
            tracing::error!(error = %e, "recovering interrupted jobs failed");
        }
        // false once the stop's sender is gone: then only the process's end stops it
        let mut stoppable = true;
        while !*stop.borrow() {
            match self.run_next().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "import worker"),
            }
            // exports after imports: an import waits for no export
            match crate::service::exports::run_next(&self.db, &self.config.exports).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "export worker"),
            }
            tokio::select! {
                _ = tokio::time::timeout(poll, self.wake.notified()) => {}
                changed = stop.changed(), if stoppable => stoppable = changed.is_ok(),
            }
        }
    }

    /// Stops the job this process runs, if any (its import's transaction rolls back), and
    /// puts it back in the queue as it was before it was claimed — the attempt does not
    /// count — so that the next start runs it. Returns its batch. Call it once the worker
    /// has stopped (aborted and awaited), so that no import starts after it.
    pub async fn return_running(&self) -> ApiResult<Option<i32>> {
        let Some((id, task)) = self.current.lock().ok().and_then(|mut c| c.take()) else {
            return Ok(None);
        };
        if let Some(task) = task {
            task.abort();
            // cancelled at its next await; a statement already sent may still land (a
            // commit: then the job is done, and the update below finds it so)
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            while !task.is_finished() && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        use sea_orm::sea_query::{Expr, ExprTrait};
        use sea_orm::{ColumnTrait, QueryFilter};
        import_batch::Entity::update_many()
            .col_expr(
                import_batch::Column::Status,
                Expr::value(BatchStatus::Queued),
            )
            .col_expr(
                import_batch::Column::Stage,
                Expr::value(sea_orm::Value::String(None)),
            )
            .col_expr(
                import_batch::Column::Attempts,
                Expr::col(import_batch::Column::Attempts).sub(1),
            )
            .filter(import_batch::Column::Id.eq(id))
            .filter(import_batch::Column::Status.eq(BatchStatus::Running))
            .exec(&self.db)
            .await?;
        if let Ok(mut m) = self.live.lock() {
            m.remove(&id);
        }
        tracing::warn!(
            batch = id,
            "stopping: the running import is back in the queue"
        );
        Ok(Some(id))
    }
}
