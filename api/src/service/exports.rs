//! Bulk exports: a key asks for its records of some kinds (all by default), as CSV or NDJSON,
//! optionally only those changed since a time; the import worker writes one gzip file per
//! kind, page by page (memory stays bounded whatever the size), under the key's rule as it is
//! when the export runs. Only that key downloads the files, until they expire.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::changes::{Entity as Kind, Tracked, for_kind};
use crate::service::keys;
use chrono::Utc;
use entity::export_job;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic,
    Iterable, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::io::Write;
use std::path::PathBuf;

/// The files' format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "ExportFormat")]
pub enum Format {
    /// Comma-separated, UTF-8 with a byte-order mark (so that Excel shows the Thai), a header
    /// row of column names.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    fn key(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    fn from_key(k: &str) -> Option<Format> {
        match k {
            "csv" => Some(Format::Csv),
            "ndjson" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// A kind's name in a job and in its file's name.
pub fn kind_key(k: Kind) -> &'static str {
    match k {
        Kind::Household => "household",
        Kind::Member => "member",
        Kind::Problem => "problem",
        Kind::Analysis => "analysis",
        Kind::LogbookEntry => "logbook_entry",
    }
}

fn kind_from_key(k: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|x| kind_key(*x) == k)
}

/// The kinds of a job.
pub fn kinds(job: &export_job::Model) -> Vec<Kind> {
    job.entities.split(',').filter_map(kind_from_key).collect()
}

/// The file of one kind of a job (`household.ndjson.gz`).
pub fn file_name(kind: Kind, job: &export_job::Model) -> String {
    format!("{}.{}.gz", kind_key(kind), job.format)
}

/// Exports of one key waiting or running at once.
pub const MAX_WAITING: u64 = 2;
/// Done exports of one key whose files are kept at once.
pub const MAX_KEPT: u64 = 10;

/// Queues an export for the key `key` (whose principal is `p`), within its share: at most
/// [`MAX_WAITING`] waiting or running and [`MAX_KEPT`] kept.
pub async fn start(
    db: &DatabaseConnection,
    key: i32,
    p: &Principal,
    entities: &[Kind],
    format: Format,
    updated_since: Option<chrono::DateTime<Utc>>,
) -> ApiResult<export_job::Model> {
    // each key's share of the worker and the disk: a few at a time, a few kept
    let of_key = |statuses: &'static [&'static str]| {
        export_job::Entity::find()
            .filter(export_job::Column::KeyId.eq(key))
            .filter(export_job::Column::Status.is_in(statuses.iter().copied()))
            .count(db)
    };
    if of_key(&["queued", "running"]).await? >= MAX_WAITING {
        return Err(ApiError::LimitExceeded(format!(
            "at most {MAX_WAITING} exports of one key wait or run at a time: poll exportJob until one is done"
        )));
    }
    if of_key(&["done"]).await? >= MAX_KEPT {
        return Err(ApiError::LimitExceeded(format!(
            "at most {MAX_KEPT} exports of one key are kept until they expire: download what you need, new ones are taken after the oldest expires"
        )));
    }
    let mut kinds: Vec<Kind> = if entities.is_empty() {
        Kind::ALL.to_vec()
    } else {
        entities.to_vec()
    };
    kinds.sort();
    kinds.dedup();
    let job = export_job::ActiveModel {
        key_id: Set(key),
        entities: Set(kinds
            .iter()
            .map(|k| kind_key(*k))
            .collect::<Vec<_>>()
            .join(",")),
        format: Set(format.key().into()),
        updated_since: Set(updated_since),
        status: Set("queued".into()),
        created_at: Set(Utc::now()),
        claimed_at: Set(None),
        finished_at: Set(None),
        expires_at: Set(None),
        rows_done: Set(0),
        counts: Set("{}".into()),
        failure: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(export = job.id, principal = %p.label(), entities = %job.entities, "export queued");
    Ok(job)
}

/// Export `id`, if the key `key` asked for it (exports are each key's own).
pub async fn get(
    db: &impl ConnectionTrait,
    key: i32,
    id: i32,
) -> ApiResult<Option<export_job::Model>> {
    Ok(export_job::Entity::find_by_id(id)
        .filter(export_job::Column::KeyId.eq(key))
        .one(db)
        .await?)
}

/// Where the exports' files live, and for how long.
#[derive(Debug, Clone)]
pub struct Store {
    /// The folder (a sub-folder per export).
    pub dir: PathBuf,
    /// How long files are kept after an export ends.
    pub ttl: std::time::Duration,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            dir: PathBuf::from("logbook-exports"),
            ttl: std::time::Duration::from_secs(72 * 3600),
        }
    }
}

impl Store {
    /// The file of one kind of a job.
    pub fn path(&self, job: &export_job::Model, kind: Kind) -> PathBuf {
        self.dir.join(job.id.to_string()).join(file_name(kind, job))
    }
}

/// How long a `running` export may go unfinished before it is taken to be abandoned (its
/// process died) and queued again.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// Claims the oldest queued export and runs it; its id, or none when none is queued. Exports
/// left running by a dead process are queued again first, and expired files deleted.
pub async fn run_next(db: &DatabaseConnection, store: &Store) -> ApiResult<Option<i32>> {
    sweep(db, store).await?;
    let now = Utc::now();
    let oldest = sea_orm::sea_query::Query::select()
        .column(export_job::Column::Id)
        .from(export_job::Entity)
        .and_where(export_job::Column::Status.eq("queued"))
        .order_by(export_job::Column::Id, sea_orm::Order::Asc)
        .limit(1)
        .to_owned();
    // a second process that races for the same job finds it no longer queued
    let claimed = export_job::Entity::update_many()
        .col_expr(
            export_job::Column::Status,
            sea_orm::sea_query::Expr::value("running"),
        )
        .col_expr(
            export_job::Column::ClaimedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(export_job::Column::Id.in_subquery(oldest))
        .filter(export_job::Column::Status.eq("queued"))
        .exec_with_returning(db)
        .await?;
    let Some(job) = claimed.into_iter().next() else {
        return Ok(None);
    };
    let id = job.id;
    if let Err(e) = run(db, store, job).await {
        tracing::error!(export = id, error = %e, "export failed");
        let why = match e {
            ApiError::Db(_) | ApiError::Internal(_) => {
                "the export stopped on an internal error; it is logged".to_string()
            }
            other => other.to_string(),
        };
        export_job::ActiveModel {
            id: sea_orm::Unchanged(id),
            status: Set("failed".into()),
            failure: Set(Some(why)),
            finished_at: Set(Some(Utc::now())),
            ..Default::default()
        }
        .update(db)
        .await?;
    }
    Ok(Some(id))
}

/// Queues abandoned exports again, and deletes expired ones' files.
async fn sweep(db: &DatabaseConnection, store: &Store) -> ApiResult<()> {
    let now = Utc::now();
    export_job::Entity::update_many()
        .col_expr(
            export_job::Column::Status,
            sea_orm::sea_query::Expr::value("queued"),
        )
        .filter(export_job::Column::Status.eq("running"))
        .filter(export_job::Column::ClaimedAt.lt(now - ABANDONED_AFTER))
        .exec(db)
        .await?;
    let expired = export_job::Entity::find()
        .filter(export_job::Column::Status.eq("done"))
        .filter(export_job::Column::ExpiresAt.lt(now))
        .all(db)
        .await?;
    for job in expired {
        let folder = store.dir.join(job.id.to_string());
        if let Err(e) = std::fs::remove_dir_all(&folder)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(export = job.id, error = %e, "could not delete an expired export");
            continue;
        }
        export_job::ActiveModel {
            id: sea_orm::Unchanged(job.id),
            status: Set("expired".into()),
            ..Default::default()
        }
        .update(db)
        .await?;
    }
    Ok(())
}

/// Rows read per page while writing.
const PAGE: u64 = 1_000;

/// Writes a claimed export's files under its key's rule as it is now.
async fn run(db: &DatabaseConnection, store: &Store, job: export_job::Model) -> ApiResult<()> {
    let Some(key) = keys::by_id(db, job.key_id).await? else {
        return Err(ApiError::Forbidden(
            "the key that asked for this export no longer works".into(),
        ));
    };
    let p = key.principal;
    let format = Format::from_key(&job.format)
        .ok_or_else(|| ApiError::Internal(format!("export format {}", job.format)))?;
    let folder = store.dir.join(job.id.to_string());
    std::fs::create_dir_all(&folder)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", folder.display())))?;
    let since = job.updated_since;
    let mut counts = serde_json::Map::new();
    let mut done = 0i64;
    for kind in kinds(&job) {
        let path = store.path(&job, kind);
        let part = path.with_extension("gz.part");
        let file = std::fs::File::create(&part)
            .map_err(|e| ApiError::Internal(format!("{}: {e}", part.display())))?;
        let mut out = Out::new(file, format);
        let rows = for_kind!(kind, E => write_kind::<E>(db, &mut out, &p, since).await?);
        out.finish()?;
        std::fs::rename(&part, &path)
            .map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
        counts.insert(kind_key(kind).into(), rows.into());
        done += rows as i64;
        export_job::ActiveModel {
            id: sea_orm::Unchanged(job.id),
            rows_done: Set(done),
            ..Default::default()
        }
        .update(db)
        .await?;
    }
    let now = Utc::now();
    export_job::ActiveModel {
        id: sea_orm::Unchanged(job.id),
        status: Set("done".into()),
        counts: Set(serde_json::Value::Object(counts).to_string()),
        finished_at: Set(Some(now)),
        expires_at: Set(Some(
            now + chrono::Duration::from_std(store.ttl).unwrap_or(chrono::Duration::hours(72)),
        )),
        ..Default::default()
    }
    .update(db)
    .await?;
    tracing::info!(export = job.id, rows = done, "export written");
    Ok(())
}

/// Writes every record of `E` the key may see (changed at or after `since`, when given), in
/// key order, a page at a time; returns how many.
async fn write_kind<E: Tracked>(
    db: &DatabaseConnection,
    out: &mut Out,
    p: &Principal,
    since: Option<chrono::DateTime<Utc>>,
) -> ApiResult<u64> {
    let key = E::key();
    let columns: Vec<&'static str> = E::Column::iter().map(|c| c.as_str()).collect();
    out.header(&columns)?;
    let mut after: Option<sea_orm::Value> = None;
    let mut rows = 0u64;
    loop {
        let mut q = E::find().filter(E::rule(p));
        if let Some(t) = since {
            q = q.filter(E::updated().gte(t));
        }
        if let Some(a) = &after {
            q = q.filter(key.gt(a.clone()));
        }
        let page: Vec<serde_json::Value> =
            q.order_by_asc(key).limit(PAGE).into_json().all(db).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(match &last[key.as_str()] {
            serde_json::Value::Number(n) => sea_orm::Value::from(n.as_i64().unwrap_or(i64::MAX)),
            v => sea_orm::Value::from(v.as_str().unwrap_or_default().to_string()),
        });
        for row in &page {
            out.row(&columns, row)?;
        }
        rows += page.len() as u64;
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    Ok(rows)
}

/// A file being written: gzip over CSV or NDJSON.
struct Out {
    format: Format,
    gz: flate2::write::GzEncoder<std::io::BufWriter<std::fs::File>>,
    csv_started: bool,
}

impl Out {
    fn new(file: std::fs::File, format: Format) -> Self {
        Out {
            format,
            gz: flate2::write::GzEncoder::new(
                std::io::BufWriter::new(file),
                flate2::Compression::default(),
            ),
            csv_started: false,
        }
    }

    fn io(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(format!("writing an export: {e}"))
    }

    fn header(&mut self, columns: &[&str]) -> ApiResult<()> {
        if self.format == Format::Csv && !self.csv_started {
            self.csv_started = true;
            // the byte-order mark: Excel then reads the file as UTF-8
            self.gz.write_all("\u{feff}".as_bytes()).map_err(Out::io)?;
            self.csv_line(columns.iter().map(|c| c.to_string()))?;
        }
        Ok(())
    }

    fn csv_line(&mut self, fields: impl Iterator<Item = String>) -> ApiResult<()> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(fields).map_err(Out::io)?;
        let bytes = w.into_inner().map_err(Out::io)?;
        self.gz.write_all(&bytes).map_err(Out::io)
    }

    fn row(&mut self, columns: &[&str], row: &serde_json::Value) -> ApiResult<()> {
        match self.format {
            Format::Ndjson => {
                serde_json::to_writer(&mut self.gz, row).map_err(Out::io)?;
                self.gz.write_all(b"\n").map_err(Out::io)
            }
            Format::Csv => self.csv_line(columns.iter().map(|c| match &row[*c] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            })),
        }
    }

    fn finish(self) -> ApiResult<()> {
        let mut w = self.gz.finish().map_err(Out::io)?;
        w.flush().map_err(Out::io)
    }
}
