//! Writing: one transaction on the pool's sqlx connection; new rows by `COPY` (PostgreSQL)
//! or multi-row inserts (SQLite), changed rows upserted in bulk — never a round trip per
//! row; provenance on every record; problem statuses recomputed before commit.

use crate::plan::{Action, Plan, stored_problem_id};
use crate::reference::{IN_CHUNK, Stored};
use crate::report::{ImportReport, Issue};
use crate::validate::{
    AnalysisRec, EntryRec, HouseholdRec, MemberRec, ProblemIdent, ProblemRec, Validated,
};
use crate::workbook::SheetKind;
use crate::{Progress, Stage};
use chrono::{NaiveDate, Utc};
use entity::types::Cohort;
use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use std::collections::HashMap;
use tracing::{debug, info_span};

/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// What the batch row records.
#[derive(Debug, Clone)]
pub struct BatchInfo {
    /// File name.
    pub file_name: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// District scope.
    pub district: Option<String>,
    /// Who.
    pub principal: Option<String>,
    /// Day the batch's values were true.
    pub as_of: NaiveDate,
    /// A batch already recorded (a queued upload): its row is completed instead of a new
    /// one inserted.
    pub existing: Option<i32>,
}

/// A value to write, whichever the backend.
#[derive(Debug, Clone)]
enum Val {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    Time(chrono::DateTime<Utc>),
}

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

fn opt_text(s: &Option<String>) -> Val {
    s.as_deref().map_or(Val::Null, text)
}

fn opt_int(i: Option<i64>) -> Val {
    i.map_or(Val::Null, Val::Int)
}

fn opt_date(d: Option<NaiveDate>) -> Val {
    d.map_or(Val::Null, Val::Date)
}

/// A table written in bulk: its columns, the identity an upsert conflicts on, and the
/// columns an upsert leaves as they are.
struct Table {
    name: &'static str,
    cols: &'static [&'static str],
    conflict: &'static [&'static str],
    insert_only: &'static [&'static str],
}

impl Table {
    /// The columns an upsert sets from the new row.
    fn updated(&self) -> impl Iterator<Item = &&'static str> {
        self.cols
            .iter()
            .filter(|c| !self.conflict.contains(c) && !self.insert_only.contains(c))
    }
}

const HOUSEHOLDS: Table = Table {
    name: "households",
    cols: &[
        "house_code",
        "house_no",
        "village_code",
        "subdistrict_code",
        "district_code",
        "province_code",
        "head_title",
        "head_name",
        "head_citizen_id",
        "member_count",
        "classification",
        "cohort_id",
        "latitude",
        "longitude",
        "batch_id",
        "source_sheet",
        "source_row",
    ],
    conflict: &["house_code"],
    insert_only: &[],
};

const MEMBERS: Table = Table {
    name: "members",
    cols: &[
        "citizen_id",
        "house_code",
        "title",
        "first_name",
        "last_name",
        "sex",
        "birth_date",
        "age",
        "age_as_of",
        "relation",
        "disabled",
        "citizen_id_valid",
        "batch_id",
        "source_sheet",
        "source_row",
    ],
    conflict: &["citizen_id"],
    insert_only: &[],
};

/// `status` is set on insert only: an update never touches a status derived from the logbook.
const PROBLEMS: Table = Table {
    name: "problems",
    cols: &[
        "house_code",
        "indicator_code",
        "citizen_id",
        "person_key",
        "cohort_id",
        "detail",
        "batch_id",
        "source_sheet",
        "source_row",
        "status",
    ],
    conflict: &["house_code", "indicator_code", "person_key", "cohort_id"],
    insert_only: &["status"],
};

const ANALYSES: Table = Table {
    name: "analyses",
    cols: &[
        "house_code",
        "attitude",
        "skills",
        "resources",
        "way_out",
        "analysed_on",
        "mentor",
        "batch_id",
        "source_sheet",
        "source_row",
    ],
    conflict: &["house_code"],
    insert_only: &[],
};

const ENTRIES: Table = Table {
    name: "logbook_entries",
    cols: &[
        "problem_id",
        "entry_date",
        "entry_key",
        "agency_id",
        "agency_text",
        "activity",
        "menu",
        "amount_satang",
        "fund",
        "status",
        "note",
        "recorded_by",
        "batch_id",
        "source_sheet",
        "source_row",
        "written_seq",
    ],
    conflict: &["problem_id", "entry_date", "entry_key"],
    insert_only: &[],
};

const VILLAGES: Table = Table {
    name: "areas",
    cols: &[
        "code",
        "level",
        "parent_code",
        "name_th",
        "name_en",
        "batch_id",
        "source_sheet",
        "source_row",
    ],
    conflict: &["code"],
    insert_only: &[],
};

/// Rows turned into values per chunk, so that a province's rows are never all held twice.
const ROWS_PER_CHUNK: usize = 2000;

/// Appends a value in PostgreSQL's COPY text format.
fn copy_field(out: &mut String, v: &Val) {
    use std::fmt::Write;
    match v {
        Val::Null => out.push_str("\\N"),
        Val::Text(s) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Val::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Val::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Val::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Val::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        Val::Time(t) => {
            let _ = write!(out, "{}", t.to_rfc3339());
        }
    }
}

/// The write transaction, on the pool's own sqlx connection so that PostgreSQL can `COPY`.
enum Tx {
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
    Lite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Marks SQL as audited: every statement here is built from constant identifiers,
/// placeholders and integers, never from workbook text (values are bound or copied).
fn sql(s: impl Into<String>) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(s.into())
}

fn db_err(e: sqlx::Error) -> DbErr {
    DbErr::Custom(format!("bulk write: {e}"))
}

macro_rules! bind_all {
    ($q:expr, $vals:expr) => {{
        let mut q = $q;
        for v in $vals {
            q = match v {
                Val::Null => q.bind(None::<String>),
                Val::Text(s) => q.bind(s.as_str()),
                Val::Int(i) => q.bind(*i),
                Val::Float(f) => q.bind(*f),
                Val::Bool(b) => q.bind(*b),
                Val::Date(d) => q.bind(*d),
                Val::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

impl Tx {
    async fn begin(db: &DatabaseConnection) -> Result<Self, DbErr> {
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => Tx::Pg(
                db.get_postgres_connection_pool()
                    .begin()
                    .await
                    .map_err(db_err)?,
            ),
            // the write lock at once: a concurrent writer waits instead of failing
            _ => Tx::Lite(
                db.get_sqlite_connection_pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(db_err)?,
            ),
        })
    }

    async fn commit(self) -> Result<(), DbErr> {
        match self {
            Tx::Pg(t) => t.commit().await.map_err(db_err),
            Tx::Lite(t) => t.commit().await.map_err(db_err),
        }
    }

    fn is_pg(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    fn placeholder(&self, n: usize) -> String {
        if self.is_pg() {
            format!("${n}")
        } else {
            "?".into()
        }
    }

    /// Records the batch row; returns its id.
    async fn insert_batch(
        &mut self,
        info: &BatchInfo,
        report: &ImportReport,
    ) -> Result<i32, DbErr> {
        let now = Utc::now();
        let counts = serde_json::to_string(&report.sheets).unwrap_or_else(|_| "{}".into());
        if let Some(id) = info.existing {
            let p = |i| self.placeholder(i);
            let update = format!(
                "UPDATE import_batches SET file_sha256 = {}, status = {}, as_of = {}, finished_at = {}, \
                 counts = {}, error_count = {}, warning_count = {}, stage = NULL, failure = NULL WHERE id = {}",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8)
            );
            let vals = [
                text(&info.sha256),
                text(report.status.as_str()),
                Val::Date(info.as_of),
                Val::Time(now),
                Val::Text(counts),
                Val::Int(report.errors.len() as i64),
                Val::Int(report.warnings.len() as i64),
                Val::Int(i64::from(id)),
            ];
            self.execute(&update, &vals).await?;
            return Ok(id);
        }
        let marks: Vec<String> = (1..=11).map(|i| self.placeholder(i)).collect();
        let insert = format!(
            "INSERT INTO import_batches (file_name, file_sha256, district_code, status, principal, as_of, \
             started_at, finished_at, counts, error_count, warning_count) VALUES ({}) RETURNING id",
            marks.join(", ")
        );
        let vals = [
            text(&info.file_name),
            text(&info.sha256),
            opt_text(&info.district),
            text(report.status.as_str()),
            opt_text(&info.principal),
            Val::Date(info.as_of),
            Val::Time(now),
            Val::Time(now),
            Val::Text(counts),
            Val::Int(report.errors.len() as i64),
            Val::Int(report.warnings.len() as i64),
        ];
        self.insert_id(&insert, &vals).await
    }

    /// Records a batch's errors or warnings.
    async fn insert_issues<'a>(
        &mut self,
        batch: i32,
        issues: impl Iterator<Item = &'a Issue>,
    ) -> Result<(), DbErr> {
        let issues: Vec<&Issue> = issues.collect();
        let b = Val::Int(i64::from(batch));
        let to_vals = |i: &Issue| {
            vec![
                b.clone(),
                text(i.severity.as_str()),
                text(i.sheet.map_or("", |s| s.key())),
                opt_int(i.row.map(i64::from)),
                opt_text(&i.column),
                opt_text(&i.value),
                text(&i.code),
                text(&i.message_th),
                text(&i.message_en),
            ]
        };
        self.write_rows(&ISSUES, &issues, to_vals, false).await
    }

    async fn execute(&mut self, sql_text: &str, vals: &[Val]) -> Result<u64, DbErr> {
        match self {
            Tx::Pg(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
            Tx::Lite(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(db_err)
    }

    /// Runs an `INSERT … RETURNING id`.
    async fn insert_id(&mut self, sql_text: &str, vals: &[Val]) -> Result<i32, DbErr> {
        use sqlx::Row;
        match self {
            Tx::Pg(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .fetch_one(&mut **t)
                .await
                .and_then(|r| r.try_get::<i32, _>(0)),
            Tx::Lite(t) => bind_all!(sqlx::query(sql(sql_text)), vals)
                .fetch_one(&mut **t)
                .await
                .and_then(|r| r.try_get::<i32, _>(0)),
        }
        .map_err(db_err)
    }

    /// The latest write order of any logbook entry (0 when there is none).
    async fn max_written_seq(&mut self) -> Result<i64, DbErr> {
        use sqlx::Row;
        let q = "SELECT COALESCE(MAX(written_seq), 0) FROM logbook_entries";
        match self {
            Tx::Pg(t) => sqlx::query(q)
                .fetch_one(&mut **t)
                .await
                .and_then(|r| r.try_get::<i64, _>(0)),
            Tx::Lite(t) => sqlx::query(q)
                .fetch_one(&mut **t)
                .await
                .and_then(|r| r.try_get::<i64, _>(0)),
        }
        .map_err(db_err)
    }

    /// Problems of these households: (id, house, indicator, person key, cohort id).
    async fn problems_of(
        &mut self,
        houses: &[String],
    ) -> Result<Vec<(i32, String, i32, String, i32)>, DbErr> {
        let mut out = Vec::new();
        for chunk in houses.chunks(IN_CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| self.placeholder(i)).collect();
            let q = format!(
                "SELECT id, house_code, indicator_code, person_key, cohort_id FROM problems WHERE house_code IN ({})",
                marks.join(",")
            );
            let vals: Vec<Val> = chunk.iter().map(|h| text(h)).collect();
            let rows = match self {
                Tx::Pg(t) => {
                    bind_all!(sqlx::query_as(sql(&q)), &vals)
                        .fetch_all(&mut **t)
                        .await
                }
                Tx::Lite(t) => {
                    bind_all!(sqlx::query_as(sql(&q)), &vals)
                        .fetch_all(&mut **t)
                        .await
                }
            }
            .map_err(db_err)?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Writes rows: new ones are inserted (`COPY` on PostgreSQL), changed ones are upserted
    /// on the table's identity, updating every column given.
    async fn write_rows<T>(
        &mut self,
        table: &Table,
        rows: &[&T],
        to_vals: impl Fn(&T) -> Vec<Val>,
        update: bool,
    ) -> Result<(), DbErr> {
        if rows.is_empty() {
            return Ok(());
        }
        let cols = table
            .cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            Tx::Pg(t) => {
                let target = if update {
                    let tmp = format!("tmp_{}", table.name);
                    sqlx::query(sql(format!(
                        "CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {} WITH NO DATA",
                        table.name
                    )))
                    .execute(&mut **t)
                    .await
                    .map_err(db_err)?;
                    tmp
                } else {
                    table.name.to_string()
                };
                let mut copy = t
                    .copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN"))
                    .await
                    .map_err(db_err)?;
                for chunk in rows.chunks(ROWS_PER_CHUNK) {
                    let mut buf = String::with_capacity(chunk.len() * 160);
                    for r in chunk {
                        for (i, v) in to_vals(r).iter().enumerate() {
                            if i > 0 {
                                buf.push('\t');
                            }
                            copy_field(&mut buf, v);
                        }
                        buf.push('\n');
                    }
                    copy.send(buf.into_bytes()).await.map_err(db_err)?;
                }
                copy.finish().await.map_err(db_err)?;
                if update {
                    let set: Vec<String> = table
                        .updated()
                        .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
                        .collect();
                    let upsert = format!(
                        "INSERT INTO {name} ({cols}) SELECT {cols} FROM {target} ON CONFLICT ({conflict}) DO UPDATE SET {set}; DROP TABLE {target}",
                        name = table.name,
                        conflict = table.conflict.join(", "),
                        set = set.join(", ")
                    );
                    sqlx::raw_sql(sql(upsert))
                        .execute(&mut **t)
                        .await
                        .map_err(db_err)?;
                }
            }
            Tx::Lite(t) => {
                let per = (MAX_PARAMS / table.cols.len()).clamp(1, ROWS_PER_CHUNK);
                let tail = if update {
                    let set: Vec<String> = table
                        .updated()
                        .map(|c| format!("\"{c}\" = excluded.\"{c}\""))
                        .collect();
                    format!(
                        " ON CONFLICT ({}) DO UPDATE SET {}",
                        table.conflict.join(", "),
                        set.join(", ")
                    )
                } else {
                    String::new()
                };
                let one = format!("({})", vec!["?"; table.cols.len()].join(","));
                for chunk in rows.chunks(per) {
                    let insert = format!(
                        "INSERT INTO {} ({cols}) VALUES {}{tail}",
                        table.name,
                        vec![one.as_str(); chunk.len()].join(",")
                    );
                    let vals: Vec<Val> = chunk.iter().flat_map(|r| to_vals(r)).collect();
                    bind_all!(sqlx::query(sql(insert)), &vals)
                        .execute(&mut **t)
                        .await
                        .map_err(db_err)?;
                }
            }
        }
        Ok(())
    }
}

/// Records a batch that writes no data (rejected, or a dry run of an upload) and its errors
/// and warnings.
pub async fn record_outcome(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
) -> Result<i32, DbErr> {
    let mut tx = Tx::begin(db).await?;
    let batch = tx.insert_batch(info, report).await?;
    tx.insert_issues(batch, report.errors.iter().chain(report.warnings.iter()))
        .await?;
    tx.commit().await?;
    Ok(batch)
}

/// Splits rows by action: (new, changed); unchanged rows are not written.
fn split<'a, T>(rows: &'a [T], actions: &[Action]) -> (Vec<&'a T>, Vec<&'a T>) {
    let mut new = Vec::new();
    let mut changed = Vec::new();
    for (r, a) in rows.iter().zip(actions) {
        match a {
            Action::Insert => new.push(r),
            Action::Update => changed.push(r),
            Action::Unchanged => {}
        }
    }
    (new, changed)
}

/// Writes a validated, planned workbook in one transaction. Returns the batch id.
pub async fn write(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
    v: &Validated,
    plan: &Plan,
    stored: &Stored,
    progress: &Progress,
) -> Result<i32, DbErr> {
    let span = info_span!("import.write", import.file = %info.file_name);
    let _guard = span.enter();
    let t = std::time::Instant::now();
    let lap = |what: &str| debug!(import.ms = t.elapsed().as_millis() as u64, "{what}");
    let mut tx = Tx::begin(db).await?;
    let batch = tx.insert_batch(info, report).await?;
    let pg = tx.is_pg();
    let mut done = 0u64;
    let marks = |n: usize| {
        (1..=n)
            .map(|i| if pg { format!("${i}") } else { "?".into() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let b = Val::Int(i64::from(batch));
    let sheet = |k: SheetKind| text(k.key());

    // villages first seen here
    let villages: Vec<_> = v.villages.iter().collect();
    tx.write_rows(
        &VILLAGES,
        &villages,
        |vr| {
            vec![
                text(&vr.code),
                text("village"),
                text(&vr.subdistrict_code),
                text(&vr.name),
                Val::Null,
                b.clone(),
                sheet(SheetKind::Households),
                Val::Int(i64::from(vr.row)),
            ]
        },
        false,
    )
    .await?;

    // cohorts
    let mut cohorts = stored.cohorts.clone();
    let mut wanted: Vec<Cohort> = v
        .households
        .iter()
        .map(|h| h.cohort)
        .chain(v.problems.iter().map(|p| p.ident.cohort))
        .filter(|c| !cohorts.contains_key(c))
        .collect();
    wanted.sort();
    wanted.dedup();
    for c in wanted {
        let insert_cohort = format!(
            "INSERT INTO cohorts (source, be_year, label) VALUES ({}) RETURNING id",
            marks(3)
        );
        let id = tx
            .insert_id(
                &insert_cohort,
                &[
                    text(c.source.key()),
                    Val::Int(i64::from(c.be_year)),
                    text(&c.label()),
                ],
            )
            .await?;
        cohorts.insert(c, id);
    }
    let cohort_id = |c: &Cohort| Val::Int(i64::from(cohorts.get(c).copied().unwrap_or_default()));

    // households
    let hh_vals = |h: &HouseholdRec| {
        vec![
            text(&h.house_code),
            opt_text(&h.house_no),
            text(&h.village_code),
            text(&h.subdistrict_code),
            text(&h.district_code),
            text(&h.province_code),
            opt_text(&h.head_title),
            opt_text(&h.head_name),
            opt_text(&h.head_citizen_id),
            opt_int(h.member_count.map(i64::from)),
            opt_text(&h.classification),
            cohort_id(&h.cohort),
            h.latitude.map_or(Val::Null, Val::Float),
            h.longitude.map_or(Val::Null, Val::Float),
            b.clone(),
            sheet(SheetKind::Households),
            Val::Int(i64::from(h.row)),
        ]
    };
    let (new, changed) = split(&v.households, &plan.households);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&HOUSEHOLDS, &new, hh_vals, false).await?;
    tx.write_rows(&HOUSEHOLDS, &changed, hh_vals, true).await?;
    lap("households");
    progress.report(Stage::Written { rows: done });

    // members
    let m_vals = |m: &MemberRec| {
        vec![
            text(&m.citizen_id),
            text(&m.house_code),
            opt_text(&m.title),
            text(&m.first_name),
            opt_text(&m.last_name),
            text(&m.sex),
            opt_date(m.birth_date),
            opt_int(m.age.map(i64::from)),
            opt_date(m.age.map(|_| info.as_of)),
            opt_text(&m.relation),
            Val::Bool(m.disabled),
            Val::Bool(m.citizen_id_valid),
            b.clone(),
            sheet(SheetKind::Members),
            Val::Int(i64::from(m.row)),
        ]
    };
    let (new, changed) = split(&v.members, &plan.members);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&MEMBERS, &new, m_vals, false).await?;
    tx.write_rows(&MEMBERS, &changed, m_vals, true).await?;
    lap("members");
    progress.report(Stage::Written { rows: done });

    // problems
    let p_vals = |p: &ProblemRec| {
        vec![
            text(&p.ident.house_code),
            Val::Int(i64::from(p.ident.indicator)),
            if p.ident.person_key.is_empty() {
                Val::Null
            } else {
                text(&p.ident.person_key)
            },
            text(&p.ident.person_key),
            cohort_id(&p.ident.cohort),
            opt_text(&p.detail),
            b.clone(),
            sheet(SheetKind::Problems),
            Val::Int(i64::from(p.row)),
            text("not_started"),
        ]
    };
    let (new, changed) = split(&v.problems, &plan.problems);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&PROBLEMS, &new, p_vals, false).await?;
    tx.write_rows(&PROBLEMS, &changed, p_vals, true).await?;
    lap("problems");
    progress.report(Stage::Written { rows: done });

    // analyses
    let a_vals = |a: &AnalysisRec| {
        vec![
            text(&a.house_code),
            opt_text(&a.value.attitude),
            opt_text(&a.value.skills),
            opt_text(&a.value.resources),
            opt_text(&a.value.way_out),
            opt_date(a.value.analysed_on),
            opt_text(&a.value.mentor),
            b.clone(),
            sheet(SheetKind::Analysis),
            Val::Int(i64::from(a.row)),
        ]
    };
    let (new, changed) = split(&v.analyses, &plan.analyses);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&ANALYSES, &new, a_vals, false).await?;
    tx.write_rows(&ANALYSES, &changed, a_vals, true).await?;
    lap("analyses");
    progress.report(Stage::Written { rows: done });

    // logbook entries: their problems' ids (stored, or just inserted)
    let (new, changed) = split(&v.entries, &plan.entries);
    done += (new.len() + changed.len()) as u64;
    let mut problem_ids: HashMap<ProblemIdent, i32> = HashMap::new();
    let mut unknown_houses: Vec<String> = Vec::new();
    for e in new.iter().chain(changed.iter()) {
        match stored_problem_id(stored, &e.problem) {
            Some(id) => {
                problem_ids.insert(e.problem.clone(), id);
            }
            None => unknown_houses.push(e.problem.house_code.clone()),
        }
    }
    unknown_houses.sort();
    unknown_houses.dedup();
    if !unknown_houses.is_empty() {
        let by_id: HashMap<i32, Cohort> = cohorts.iter().map(|(c, id)| (*id, *c)).collect();
        for (id, house_code, indicator, person_key, cohort) in
            tx.problems_of(&unknown_houses).await?
        {
            if let Some(c) = by_id.get(&cohort) {
                problem_ids.insert(
                    ProblemIdent {
                        house_code,
                        indicator,
                        person_key,
                        cohort: *c,
                    },
                    id,
                );
            }
        }
    }
    if let Some(e) = new
        .iter()
        .chain(changed.iter())
        .find(|e| !problem_ids.contains_key(&e.problem))
    {
        return Err(DbErr::Custom(format!(
            "the problem of assistance row {} was not found after writing problems",
            e.row
        )));
    }
    let pid = |e: &EntryRec| problem_ids.get(&e.problem).copied().unwrap_or_default();
    let seq_base = tx.max_written_seq().await?;
    let e_vals = |e: &EntryRec| {
        vec![
            Val::Int(i64::from(pid(e))),
            Val::Date(e.date),
            text(&e.entry_key),
            opt_int(e.agency_id.map(i64::from)),
            text(&e.agency_text),
            text(&e.activity),
            opt_text(&e.menu),
            opt_int(e.amount_satang),
            opt_text(&e.fund),
            text(&e.status),
            opt_text(&e.note),
            opt_text(&info.principal),
            b.clone(),
            sheet(SheetKind::Assistance),
            Val::Int(i64::from(e.row)),
            // written after everything before it, in row order
            Val::Int(seq_base + i64::from(e.row)),
        ]
    };
    tx.write_rows(&ENTRIES, &new, e_vals, false).await?;
    tx.write_rows(&ENTRIES, &changed, e_vals, true).await?;
    lap("entries");
    progress.report(Stage::Written { rows: done });

    let mut touched: Vec<i32> = new.iter().chain(changed.iter()).map(|e| pid(e)).collect();
    touched.sort_unstable();
    touched.dedup();
    for chunk in touched.chunks(IN_CHUNK) {
        tx.execute(&refresh_statuses_sql(chunk), &[]).await?;
    }
    lap("statuses");

    tx.insert_issues(batch, report.warnings.iter()).await?;
    tx.commit().await?;
    lap("committed");
    let written = plan.changed_rows();
    if written >= ANALYZE_AFTER_ROWS {
        // fresh planner statistics after a bulk load (PostgreSQL plans a province's pages
        // 100× faster with them); SQLite's `ANALYZE` fills sqlite_stat1 the same way
        db.execute_unprepared("ANALYZE").await?;
        lap("analyzed");
    }
    Ok(batch)
}

/// Rows an import writes before the database's statistics are refreshed.
const ANALYZE_AFTER_ROWS: usize = 5_000;

const ISSUES: Table = Table {
    name: "import_issues",
    cols: &[
        "batch_id",
        "severity",
        "sheet",
        "row",
        "column",
        "value",
        "code",
        "message_th",
        "message_en",
    ],
    conflict: &[],
    insert_only: &[],
};

/// The statement that sets each listed problem's status to its latest logbook entry's (by
/// date, then the order written), or `not_started` when it has none. Ids are integers, inlined.
fn refresh_statuses_sql(problem_ids: &[i32]) -> String {
    let ids = problem_ids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "UPDATE problems SET status = COALESCE((SELECT e.status FROM logbook_entries e \
         WHERE e.problem_id = problems.id \
         ORDER BY e.entry_date DESC, e.written_seq DESC, e.id DESC LIMIT 1), 'not_started') \
         WHERE id IN ({ids})"
    )
}

/// Sets each listed problem's status from its logbook (for writers other than imports).
pub async fn refresh_statuses(db: &impl ConnectionTrait, problem_ids: &[i32]) -> Result<(), DbErr> {
    for chunk in problem_ids.chunks(IN_CHUNK) {
        db.execute_unprepared(&refresh_statuses_sql(chunk)).await?;
    }
    Ok(())
}
