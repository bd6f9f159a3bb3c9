//! Writing: one bulk transaction ([`entity::db::WriteTx`]: `COPY` or multi-row inserts,
//! changed rows upserted in bulk — never a round trip per row); each record's values from its
//! own model, provenance on every record; problem statuses recomputed before commit.

use crate::plan::{Action, Plan, stored_problem_id};
use crate::reference::{IN_CHUNK, Stored};
use crate::report::{ImportReport, Issue};
use crate::validate::{LoanKey, ProblemIdent, Row, Validated};
use crate::workbook::SheetKind;
use crate::{Progress, Stage};
use chrono::{NaiveDate, Utc};
use entity::db::{Stamp, Table, WriteTx, written_columns};
use entity::outbox::{self, Subscribed};
use entity::rules;
use entity::types::{BatchStatus, Cohort, ProblemStatus, WebhookTopic};
use entity::{
    analysis, area, household, import_issue, logbook_entry, member, problem, stats_dirty,
};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseConnection, DbErr, EntityName,
    EntityTrait, IdenStatic, Statement, Value,
};
use std::collections::HashMap;
use tracing::{Instrument, debug, info_span};

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

fn text(s: &str) -> Value {
    Value::from(s)
}

fn opt_text(s: &Option<String>) -> Value {
    Value::String(s.clone())
}

/// Where and when a record was last written: its batch, sheet and row, and the import's
/// place in the change feed.
#[derive(Debug, Clone, Copy)]
struct Provenance {
    batch: i32,
    sheet: SheetKind,
    row: u32,
    stamp: Stamp,
}

/// A record's values in [`written_columns`] order: the columns it sets, then for each one it
/// leaves `NotSet` what `fill` gives, or its provenance. A column nobody gives is an error
/// (a new column that `validate` does not set and `write` does not fill).
fn values<A: ActiveModelTrait>(
    model: &A,
    cols: &[<A::Entity as EntityTrait>::Column],
    provenance: Option<Provenance>,
    fill: impl Fn(<A::Entity as EntityTrait>::Column) -> Option<Value>,
) -> Result<Vec<Value>, DbErr> {
    cols.iter()
        .map(|c| match model.get(*c) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Ok(v),
            ActiveValue::NotSet => fill(*c)
                .or_else(|| {
                    let p = provenance?;
                    match c.as_str() {
                        "batch_id" => Some(Value::from(p.batch)),
                        "source_sheet" => Some(text(p.sheet.key())),
                        "source_row" => Some(Value::from(p.row as i32)),
                        "change_seq" => Some(Value::from(p.stamp.seq)),
                        "updated_at" => Some(Value::from(p.stamp.at)),
                        _ => None,
                    }
                })
                .ok_or_else(|| {
                    DbErr::Custom(format!(
                        "no value for {}.{}",
                        A::Entity::default().table_name(),
                        c.as_str()
                    ))
                }),
        })
        .collect()
}

/// Records the batch row; returns its id.
async fn insert_batch(
    tx: &mut WriteTx,
    info: &BatchInfo,
    report: &ImportReport,
) -> Result<i32, DbErr> {
    let now = Utc::now();
    let counts = serde_json::to_string(&report.sheets).unwrap_or_else(|_| "{}".into());
    if let Some(id) = info.existing {
        let p = |i| tx.placeholder(i);
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
            Value::from(BatchStatus::from(report.status)),
            Value::from(info.as_of),
            Value::from(now),
            Value::from(counts),
            Value::from(report.errors.len() as i32),
            Value::from(report.warnings.len() as i32),
            Value::from(id),
        ];
        tx.execute(&update, &vals).await?;
        return Ok(id);
    }
    let insert = format!(
        "INSERT INTO import_batches (file_name, file_sha256, district_code, status, principal, as_of, \
         started_at, finished_at, counts, error_count, warning_count) VALUES ({}) RETURNING id",
        tx.marks(11)
    );
    let vals = [
        text(&info.file_name),
        text(&info.sha256),
        opt_text(&info.district),
        Value::from(BatchStatus::from(report.status)),
        opt_text(&info.principal),
        Value::from(info.as_of),
        Value::from(now),
        Value::from(now),
        Value::from(counts),
        Value::from(report.errors.len() as i32),
        Value::from(report.warnings.len() as i32),
    ];
    let (id,): (i32,) = tx.fetch_one(&insert, &vals).await?;
    Ok(id)
}

/// Records a batch's errors or warnings.
async fn insert_issues<'a>(
    tx: &mut WriteTx,
    batch: i32,
    issues: impl Iterator<Item = &'a Issue>,
) -> Result<(), DbErr> {
    let issues: Vec<import_issue::ActiveModel> = issues
        .map(|i| import_issue::ActiveModel {
            id: NotSet,
            batch_id: Set(batch),
            severity: Set(i.severity.as_str().to_string()),
            sheet: Set(i.sheet.map_or("", |s| s.key()).to_string()),
            row: Set(i.row.map(|r| r as i32)),
            column: Set(i.column.clone()),
            value: Set(i.value.clone()),
            code: Set(i.code.to_string()),
            message_th: Set(i.message_th.clone()),
            message_en: Set(i.message_en.clone()),
        })
        .collect();
    let rows: Vec<&import_issue::ActiveModel> = issues.iter().collect();
    let cols = written_columns::<import_issue::Entity>();
    let table = Table::of::<import_issue::Entity>(&[], &[]);
    // an issue has no provenance of its own: every column is set
    tx.write_rows(&table, &rows, |i| values(i, &cols, None, |_| None), false)
        .await
}

/// Problems of these households: (id, house, indicator, person key, cohort id).
async fn problems_of(
    tx: &mut WriteTx,
    houses: &[String],
) -> Result<Vec<(i32, String, i32, String, i32)>, DbErr> {
    let mut out = Vec::new();
    for chunk in houses.chunks(IN_CHUNK) {
        let q = format!(
            "SELECT id, house_code, indicator_code, person_key, cohort_id FROM problems WHERE house_code IN ({})",
            tx.marks(chunk.len())
        );
        let vals: Vec<Value> = chunk.iter().map(|h| text(h)).collect();
        out.extend(tx.fetch_all(&q, &vals).await?);
    }
    Ok(out)
}

/// The topics some webhook subscribes to, read in the import's transaction.
async fn subscribed(tx: &mut WriteTx) -> Result<Subscribed, DbErr> {
    let rows: Vec<(String,)> = tx.fetch_all(outbox::TOPICS_SQL, &[]).await?;
    Ok(Subscribed::from_rows(rows.iter().map(|(t,)| t.as_str())))
}

/// Announces the batch's end (`import_batch.finished`) when a webhook wants it.
async fn announce_batch(
    tx: &mut WriteTx,
    subs: &Subscribed,
    batch: i32,
    info: &BatchInfo,
) -> Result<(), DbErr> {
    if subs.wants(WebhookTopic::ImportBatchFinished) {
        let sql = outbox::batch_finished(|n| tx.placeholder(n));
        tx.execute(
            &sql,
            &[
                Value::from(batch),
                opt_text(&info.district),
                Value::from(Utc::now()),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The largest id of `table` (0 when empty): what this import inserts comes after it.
async fn max_id(tx: &mut WriteTx, table: &str) -> Result<i32, DbErr> {
    let (id,): (i32,) = tx
        .fetch_one(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), &[])
        .await?;
    Ok(id)
}

/// The statuses of these problems.
async fn statuses(tx: &mut WriteTx, ids: &[i32]) -> Result<Vec<(i32, ProblemStatus)>, DbErr> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let q = format!(
            "SELECT id, status FROM problems WHERE id IN ({})",
            chunk
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let rows: Vec<(i32, String)> = tx.fetch_all(&q, &[]).await?;
        out.extend(
            rows.into_iter()
                .filter_map(|(id, s)| ProblemStatus::from_key(&s).map(|s| (id, s))),
        );
    }
    Ok(out)
}

/// Records a batch that writes no data (rejected, or a dry run of an upload) and its errors
/// and warnings.
pub async fn record_outcome(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
) -> Result<i32, DbErr> {
    let mut tx = WriteTx::begin(db).await?;
    let batch = insert_batch(&mut tx, info, report).await?;
    let subs = subscribed(&mut tx).await?;
    announce_batch(&mut tx, &subs, batch, info).await?;
    insert_issues(
        &mut tx,
        batch,
        report.errors.iter().chain(report.warnings.iter()),
    )
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

/// Why a write did not land (its transaction rolled back: nothing of it is left).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// Months were locked after the workbook was checked, and these entry rows (indexes
    /// into the validated entries, each with its household's district) add or change
    /// entries dated in them.
    #[error("{} logbook entries fall in months locked after the check", .0.len())]
    MonthLocked(Vec<(usize, String)>),
}

/// The months locked now, read in the write's transaction.
async fn locked_months(
    tx: &mut WriteTx,
) -> Result<std::collections::HashSet<(String, String)>, DbErr> {
    let rows: Vec<(String, String)> = tx
        .fetch_all("SELECT district_code, month FROM month_locks", &[])
        .await?;
    Ok(rows.into_iter().collect())
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
) -> Result<i32, WriteError> {
    let span = info_span!("import.write", import.file = %info.file_name);
    write_in_span(db, info, report, v, plan, stored, progress)
        .instrument(span)
        .await
}

async fn write_in_span(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
    v: &Validated,
    plan: &Plan,
    stored: &Stored,
    progress: &Progress,
) -> Result<i32, WriteError> {
    let t = std::time::Instant::now();
    let lap = |what: &str| debug!(import.ms = t.elapsed().as_millis() as u64, "{what}");
    let cohorts = add_cohorts(db, v, stored).await?;
    let mut tx = WriteTx::begin(db).await?;
    // every record this import writes is one change of the feed: its number is leased (on
    // PostgreSQL other writers go on while this one writes; the feed stops below the number
    // until the commit). Taken before any other lock (see `WriteTx::stamp`)
    let stamp = tx.stamp(db).await?;
    // this import's districts, alone until the commit: short writes there and imports of
    // them wait, other districts go on (PostgreSQL; SQLite has one writer). The households'
    // districts in the sheet and, for one moved, where it is stored
    let houses = touched_houses(v, plan);
    let mut districts: Vec<String> = villages_of(&mut tx, &houses)
        .await?
        .into_iter()
        .map(|(_, d, _)| d)
        .collect();
    districts.extend(v.households.iter().filter_map(|h| {
        h.model
            .district_code
            .try_as_ref()
            .map(|d| d.as_str().to_string())
    }));
    tx.lock_districts(&districts).await?;
    // the villages whose `stats` counts this import changes, where they stand before it (a
    // member or household moved away); marked, with where they stand after, at the end
    let villages_before = villages_of(&mut tx, &houses).await?;
    let batch = insert_batch(&mut tx, info, report).await?;
    // a month locked since the check takes none of this import's entries. Locking a month
    // takes its district's lock first (PostgreSQL; SQLite's writing transaction holds the one
    // write lock): a lock committed before this import's lock is read here, and none
    // commits before this transaction ends
    let locks = locked_months(&mut tx).await?;
    if !locks.is_subset(&stored.locks) {
        let hit = crate::plan::entries_locked(v, plan, stored, &locks);
        if !hit.is_empty() {
            return Err(WriteError::MonthLocked(hit));
        }
    }
    // what webhooks want announced, in this same transaction (nothing when none does)
    let subs = subscribed(&mut tx).await?;
    announce_batch(&mut tx, &subs, batch, info).await?;
    let problems_before = if subs.wants(WebhookTopic::ProblemCreated)
        || subs.wants(WebhookTopic::ProblemStatusChanged)
    {
        max_id(&mut tx, "problems").await?
    } else {
        0
    };
    let mut done = 0u64;
    let from = |sheet: SheetKind, row: u32| {
        Some(Provenance {
            batch,
            sheet,
            row,
            stamp,
        })
    };

    // villages first seen here
    let table = Table::of::<area::Entity>(&["code"], &[]);
    let cols = written_columns::<area::Entity>();
    let villages: Vec<_> = v.villages.iter().collect();
    let area_vals = |r: &Row<area::ActiveModel>| {
        values(&r.model, &cols, from(SheetKind::Households, r.row), |_| {
            None
        })
    };
    tx.write_rows(&table, &villages, area_vals, false).await?;

    // cohorts (added before the transaction, see `add_cohorts`)
    let cohorts = &cohorts;
    let cohort_id = |c: &Cohort| {
        cohorts
            .get(c)
            .map(|id| Value::from(*id))
            .ok_or_else(|| DbErr::Custom(format!("cohort {c} was not written")))
    };

    // households
    let table = Table::of::<household::Entity>(&["house_code"], &[]);
    let cols = written_columns::<household::Entity>();
    let hh_vals = |h: &Row<household::ActiveModel, Cohort>| {
        let cohort = cohort_id(&h.link)?;
        values(&h.model, &cols, from(SheetKind::Households, h.row), |c| {
            matches!(c, household::Column::CohortId).then(|| cohort.clone())
        })
    };
    let (new, changed) = split(&v.households, &plan.households);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&table, &new, hh_vals, false).await?;
    tx.write_rows(&table, &changed, hh_vals, true).await?;
    move_problems(&mut tx, &changed).await?;
    lap("households");

    // urgency and closure, where the sheet keeps them (only those that changed)
    if !v.follow_ups.is_empty() {
        use entity::household_follow_up as fu;
        let table = Table::of::<fu::Entity>(&["house_code"], &[]);
        let cols = written_columns::<fu::Entity>();
        let by = format!("import:{}", info.principal.as_deref().unwrap_or("cli"));
        let f_vals = |f: &Row<fu::ActiveModel>| {
            values(&f.model, &cols, None, |c| match c {
                fu::Column::UpdatedBy => Some(text(&by)),
                fu::Column::UpdatedAt => Some(Value::from(stamp.at)),
                _ => None,
            })
        };
        let code = |f: &Row<fu::ActiveModel>| f.model.house_code.try_as_ref().cloned();
        let (known, fresh): (Vec<&Row<fu::ActiveModel>>, Vec<&Row<fu::ActiveModel>>) = v
            .follow_ups
            .iter()
            .partition(|f| code(f).is_some_and(|c| stored.follow_ups.contains_key(&c)));
        tx.write_rows(&table, &fresh, f_vals, false).await?;
        tx.write_rows(&table, &known, f_vals, true).await?;
        // the household's record changed for the change feed
        let houses: Vec<String> = v.follow_ups.iter().filter_map(code).collect();
        for chunk in houses.chunks(IN_CHUNK) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| tx.placeholder(i + 3)).collect();
            let sql = format!(
                "UPDATE households SET change_seq = {}, updated_at = {} WHERE house_code IN ({})",
                tx.placeholder(1),
                tx.placeholder(2),
                marks.join(", ")
            );
            let mut vals = vec![Value::from(stamp.seq), Value::from(stamp.at)];
            vals.extend(chunk.iter().map(|c| text(c)));
            tx.execute(&sql, &vals).await?;
        }
        lap("follow-ups");
    }
    progress.report(Stage::Written { rows: done });

    // members
    let table = Table::of::<member::Entity>(&["citizen_id"], &[]);
    let cols = written_columns::<member::Entity>();
    let m_vals = |m: &Row<member::ActiveModel>| {
        // an age is true on the batch's day
        let has_age = matches!(m.model.age, ActiveValue::Set(Some(_)));
        values(&m.model, &cols, from(SheetKind::Members, m.row), |c| {
            matches!(c, member::Column::AgeAsOf)
                .then(|| Value::ChronoDate(has_age.then_some(info.as_of)))
        })
    };
    let (new, changed) = split(&v.members, &plan.members);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&table, &new, m_vals, false).await?;
    tx.write_rows(&table, &changed, m_vals, true).await?;
    lap("members");
    progress.report(Stage::Written { rows: done });

    // a problem this import inserts has no logbook but this import's entries: its status
    // and next visit are its latest entry's here (entries are written in row order), set
    // in its insert; a stored problem's are refreshed from its whole logbook after the
    // entries are written
    let mut latest: HashMap<&ProblemIdent, rules::Latest> = HashMap::new();
    for e in &v.entries {
        if stored_problem_id(stored, &e.link).is_some() {
            continue;
        }
        let m = &e.model;
        if let (Some(date), Some(status), Some(next)) = (
            m.entry_date.try_as_ref(),
            m.status.try_as_ref(),
            m.next_visit_on.try_as_ref(),
        ) {
            latest
                .entry(&e.link)
                .or_default()
                .offer(*date, i64::from(e.row), *status, *next);
        } else {
            return Err(WriteError::Db(DbErr::Custom(format!(
                "assistance row {} has no date, result or next visit to write",
                e.row
            ))));
        }
    }

    // problems: `status` and `next_visit_on` are set on insert only (an update never
    // touches what is derived from the logbook), and so is when it was first recorded; the
    // province is the household's (kept by `move_problems` when a household's changes)
    let table = Table::of::<problem::Entity>(
        &["house_code", "indicator_code", "person_key", "cohort_id"],
        &["status", "next_visit_on", "created_at", "province_code"],
    );
    let areas = crate::plan::household_areas(v, stored);
    let cols = written_columns::<problem::Entity>();
    let p_vals = |p: &Row<problem::ActiveModel, ProblemIdent>| {
        let cohort = cohort_id(&p.link.cohort)?;
        let (_, province) = areas
            .get(p.link.house_code.as_str())
            .copied()
            .ok_or_else(|| {
                DbErr::Custom(format!(
                    "the household of problems row {} is unknown",
                    p.row
                ))
            })?;
        values(
            &p.model,
            &cols,
            from(SheetKind::Problems, p.row),
            |c| match c {
                problem::Column::CohortId => Some(cohort.clone()),
                problem::Column::Status => Some(
                    latest
                        .get(&p.link)
                        .map_or(ProblemStatus::NotStarted, rules::Latest::status)
                        .into(),
                ),
                problem::Column::NextVisitOn => Some(Value::ChronoDate(
                    latest.get(&p.link).and_then(rules::Latest::next_visit_on),
                )),
                problem::Column::CreatedAt => Some(Value::from(stamp.at)),
                problem::Column::ProvinceCode => Some(text(province)),
                _ => None,
            },
        )
    };
    let (new, changed) = split(&v.problems, &plan.problems);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&table, &new, p_vals, false).await?;
    tx.write_rows(&table, &changed, p_vals, true).await?;
    lap("problems");
    progress.report(Stage::Written { rows: done });

    // analyses
    let table = Table::of::<analysis::Entity>(&["house_code"], &[]);
    let cols = written_columns::<analysis::Entity>();
    let a_vals = |a: &Row<analysis::ActiveModel>| {
        values(&a.model, &cols, from(SheetKind::Analysis, a.row), |_| None)
    };
    let (new, changed) = split(&v.analyses, &plan.analyses);
    done += (new.len() + changed.len()) as u64;
    tx.write_rows(&table, &new, a_vals, false).await?;
    tx.write_rows(&table, &changed, a_vals, true).await?;
    lap("analyses");
    progress.report(Stage::Written { rows: done });

    // logbook entries: their problems' ids (stored, or just inserted)
    let (new, changed) = split(&v.entries, &plan.entries);
    done += (new.len() + changed.len()) as u64;
    let mut problem_ids: HashMap<ProblemIdent, i32> = HashMap::new();
    let mut unknown_houses: Vec<String> = Vec::new();
    // the stored problems given entries here: their statuses are refreshed from their whole
    // logbook once the entries are written (a problem inserted here already has its own)
    let mut touched: Vec<i32> = Vec::new();
    for e in new.iter().chain(changed.iter()) {
        match stored_problem_id(stored, &e.link) {
            Some(id) => {
                problem_ids.insert(e.link.clone(), id);
                touched.push(id);
            }
            None => unknown_houses.push(e.link.house_code.clone()),
        }
    }
    unknown_houses.sort();
    unknown_houses.dedup();
    if !unknown_houses.is_empty() {
        let by_id: HashMap<i32, Cohort> = cohorts.iter().map(|(c, id)| (*id, *c)).collect();
        for (id, house_code, indicator, person_key, cohort) in
            problems_of(&mut tx, &unknown_houses).await?
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
        .find(|e| !problem_ids.contains_key(&e.link))
    {
        return Err(WriteError::Db(DbErr::Custom(format!(
            "the problem of assistance row {} was not found after writing problems",
            e.row
        ))));
    }
    let pid = |e: &Row<logbook_entry::ActiveModel, ProblemIdent>| {
        problem_ids.get(&e.link).copied().unwrap_or_default()
    };
    let entries_before = if subs.wants(WebhookTopic::LogbookEntryCreated) {
        max_id(&mut tx, "logbook_entries").await?
    } else {
        0
    };
    // the latest write order of any logbook entry (0 when there is none)
    let (seq_base,): (i64,) = tx
        .fetch_one(
            "SELECT COALESCE(MAX(written_seq), 0) FROM logbook_entries",
            &[],
        )
        .await?;
    let table = Table::of::<logbook_entry::Entity>(&["problem_id", "entry_date", "entry_key"], &[]);
    let cols = written_columns::<logbook_entry::Entity>();
    let e_vals = |e: &Row<logbook_entry::ActiveModel, ProblemIdent>| {
        values(
            &e.model,
            &cols,
            from(SheetKind::Assistance, e.row),
            |c| match c {
                logbook_entry::Column::ProblemId => Some(Value::from(pid(e))),
                logbook_entry::Column::RecordedBy => Some(opt_text(&info.principal)),
                // written after everything before it, in row order
                logbook_entry::Column::WrittenSeq => Some(Value::from(seq_base + i64::from(e.row))),
                _ => None,
            },
        )
    };
    tx.write_rows(&table, &new, e_vals, false).await?;
    tx.write_rows(&table, &changed, e_vals, true).await?;
    lap("entries");
    progress.report(Stage::Written { rows: done });

    touched.sort_unstable();
    touched.dedup();
    // a problem inserted here is announced as created, with its status then
    let known: Vec<i32> = touched
        .iter()
        .copied()
        .filter(|id| *id <= problems_before)
        .collect();
    let before = if subs.wants(WebhookTopic::ProblemStatusChanged) {
        statuses(&mut tx, &known).await?
    } else {
        Vec::new()
    };
    let (seq_at, at_at) = (tx.placeholder(1), tx.placeholder(2));
    for chunk in touched.chunks(IN_CHUNK) {
        let sql = rules::refresh_statuses_sql(chunk, &seq_at, &at_at);
        tx.execute(&sql, &[Value::from(stamp.seq), Value::from(stamp.at)])
            .await?;
    }
    lap("statuses");

    if !subs.is_empty() {
        let at = Value::from(stamp.at);
        if subs.wants(WebhookTopic::ProblemCreated) {
            let sql = outbox::problems_created(|n| tx.placeholder(n));
            tx.execute(
                &sql,
                &[
                    at.clone(),
                    Value::from(problems_before),
                    Value::from(stamp.seq),
                ],
            )
            .await?;
        }
        if subs.wants(WebhookTopic::ProblemStatusChanged) {
            let after = statuses(&mut tx, &known).await?;
            for chunk in outbox::changed_statuses(&before, &after).chunks(IN_CHUNK) {
                let sql = outbox::statuses_changed(chunk, |n| tx.placeholder(n));
                tx.execute(&sql, std::slice::from_ref(&at)).await?;
            }
        }
        if subs.wants(WebhookTopic::LogbookEntryCreated) {
            let sql = outbox::entries_created(|n| tx.placeholder(n));
            tx.execute(
                &sql,
                &[
                    at.clone(),
                    Value::from(entries_before),
                    Value::from(stamp.seq),
                ],
            )
            .await?;
        }
        lap("webhook events");
    }

    write_fund_movements(&mut tx, info, v, plan, stored, batch, stamp).await?;
    lap("fund movements");

    insert_issues(&mut tx, batch, report.warnings.iter()).await?;
    // last before the commit: a mark's row stays locked only from here (a `stats` count
    // clearing it waits that long at most)
    mark_villages(&mut tx, &houses, &villages_before).await?;
    tx.commit().await?;
    lap("committed");
    // fresh planner statistics where this import changed a table materially (PostgreSQL
    // plans a province's pages 100× faster with them; SQLite's `ANALYZE` fills sqlite_stat1
    // the same way)
    let n = |actions: &[Action]| actions.iter().filter(|a| **a != Action::Unchanged).count() as u64;
    let analysed = entity::db::refresh_statistics(
        db,
        &[
            ("households", n(&plan.households)),
            ("members", n(&plan.members)),
            ("problems", n(&plan.problems)),
            ("analyses", n(&plan.analyses)),
            ("logbook_entries", n(&plan.entries)),
            ("fund_movements", n(&plan.fund_movements)),
            ("household_follow_ups", v.follow_ups.len() as u64),
        ],
    )
    .await?;
    if !analysed.is_empty() {
        debug!(import.analysed = ?analysed, "statistics refreshed");
        lap("analyzed");
    }
    Ok(batch)
}

/// Gives the problems of these changed households their household's province where it is
/// no longer theirs (a household the workbook moved; its problems need not be on the sheet).
async fn move_problems(
    tx: &mut WriteTx,
    changed: &[&Row<household::ActiveModel, Cohort>],
) -> Result<(), DbErr> {
    let houses: Vec<Value> = changed
        .iter()
        .filter_map(|h| h.model.house_code.try_as_ref())
        .map(|c| text(c.as_str()))
        .collect();
    let theirs =
        "(SELECT h.province_code FROM households h WHERE h.house_code = problems.house_code)";
    for chunk in houses.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE problems SET province_code = {theirs} WHERE house_code IN ({}) AND province_code <> {theirs}",
            tx.marks(chunk.len())
        );
        tx.execute(&sql, chunk).await?;
    }
    Ok(())
}

/// The house codes of every row this import inserts or changes, and the households members
/// it moves belonged to: what `stats` counts changes in their villages only.
fn touched_houses(v: &Validated, plan: &Plan) -> Vec<String> {
    let changed = |a: &Action| !matches!(a, Action::Unchanged);
    let mut houses: Vec<String> = Vec::new();
    for (h, a) in v.households.iter().zip(&plan.households) {
        if let (true, Some(code)) = (changed(a), h.model.house_code.try_as_ref()) {
            houses.push(code.as_str().to_string());
        }
    }
    for (m, a) in v.members.iter().zip(&plan.members) {
        if !changed(a) {
            continue;
        }
        if let Some(code) = m.model.house_code.try_as_ref() {
            houses.push(code.as_str().to_string());
        }
    }
    houses.extend(plan.members_left.iter().cloned());
    for (p, a) in v.problems.iter().zip(&plan.problems) {
        if changed(a) {
            houses.push(p.link.house_code.clone());
        }
    }
    for (e, a) in v.entries.iter().zip(&plan.entries) {
        if changed(a) {
            houses.push(e.link.house_code.clone());
        }
    }
    houses.extend(
        v.follow_ups
            .iter()
            .filter_map(|f| f.model.house_code.try_as_ref().cloned()),
    );
    houses.sort();
    houses.dedup();
    houses
}

/// The cohorts the workbook names, by id: those not stored yet are added first, each in a
/// statement of its own that commits at once (idempotent: one another import added
/// meanwhile is kept). A cohort is a name for a year's survey, shared by every district: added
/// inside the import's transaction, it would hold an import of another district that names it
/// until this one commits. One left unused by an import that fails names nothing.
async fn add_cohorts(
    db: &DatabaseConnection,
    v: &Validated,
    stored: &Stored,
) -> Result<HashMap<Cohort, i32>, DbErr> {
    let mut cohorts = stored.cohorts.clone();
    let mut wanted: Vec<Cohort> = v
        .households
        .iter()
        .map(|h| h.link)
        .chain(v.problems.iter().map(|p| p.link.cohort))
        .filter(|c| !cohorts.contains_key(c))
        .collect();
    wanted.sort();
    wanted.dedup();
    let backend = db.get_database_backend();
    let ph = |n| entity::db::placeholder(backend, n);
    for c in wanted {
        let key = [text(c.source.key()), Value::from(c.be_year)];
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO cohorts (source, be_year, label) VALUES ({}, {}, {}) \
                 ON CONFLICT (source, be_year) DO NOTHING",
                ph(1),
                ph(2),
                ph(3)
            ),
            [key[0].clone(), key[1].clone(), Value::from(c.label())],
        ))
        .await?;
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT id FROM cohorts WHERE source = {} AND be_year = {}",
                    ph(1),
                    ph(2)
                ),
                key,
            ))
            .await?
            .ok_or_else(|| DbErr::Custom(format!("cohort {c} was not added")))?;
        cohorts.insert(c, row.try_get_by_index(0)?);
    }
    Ok(cohorts)
}

/// The villages (with district and province) `houses` are in now.
async fn villages_of(
    tx: &mut WriteTx,
    houses: &[String],
) -> Result<Vec<(String, String, String)>, DbErr> {
    let mut out = Vec::new();
    for (sql, value) in stats_dirty::villages_statements(tx.backend(), houses) {
        out.extend(
            tx.fetch_all::<(String, String, String)>(&sql, &[value])
                .await?,
        );
    }
    Ok(out)
}

/// Marks for `stats` to count again the villages `houses` are in now and those they were in
/// (`before`).
async fn mark_villages(
    tx: &mut WriteTx,
    houses: &[String],
    before: &[(String, String, String)],
) -> Result<(), DbErr> {
    for (sql, value) in stats_dirty::mark_statements(tx.backend(), houses) {
        tx.execute(&sql, &[value]).await?;
    }
    let backend = tx.backend();
    for (sql, values) in
        stats_dirty::mark_rows_statements(before, |n| entity::db::placeholder(backend, n))
    {
        tx.execute(&sql, &values).await?;
    }
    Ok(())
}

/// Writes the funds sheet's new movements: grants and loans first, then the repayments and
/// write-offs, whose loans written here are found by this batch, fund, household and day.
///
/// The funds are locked first (PostgreSQL; SQLite's write transaction is the lock) and their
/// movements read again: money spent by the API since the file was checked refuses the
/// import (nothing is written) rather than leaving a fund below zero or a loan over-repaid.
async fn write_fund_movements(
    tx: &mut WriteTx,
    info: &BatchInfo,
    v: &Validated,
    plan: &Plan,
    stored: &Stored,
    batch: i32,
    stamp: Stamp,
) -> Result<(), DbErr> {
    use entity::fund_movement as fm;
    use entity::types::FundMovementKind as Kind;
    let (new, changed) = split(&v.fund_movements, &plan.fund_movements);
    if !changed.is_empty() {
        return Err(DbErr::Custom(
            "a changed fund movement passed validation".into(),
        ));
    }
    if new.is_empty() {
        return Ok(());
    }
    let mut funds: Vec<i32> = new
        .iter()
        .filter_map(|m| m.model.fund_id.try_as_ref().copied())
        .collect();
    funds.sort_unstable();
    funds.dedup();
    let ids = funds
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    tx.lock_rows("funds", &funds).await?;
    // the funds' movements now, against those the file was checked with (a movement is
    // never changed, only recorded or removed: the same ids are the same movements)
    let now: Vec<(i32,)> = tx
        .fetch_all(
            &format!("SELECT id FROM fund_movements WHERE fund_id IN ({ids}) ORDER BY id"),
            &[],
        )
        .await?;
    let mut then: Vec<i32> = funds
        .iter()
        .flat_map(|f| stored.fund_movements.get(f).into_iter().flatten())
        .map(|m| m.id)
        .collect();
    then.sort_unstable();
    if now.into_iter().map(|(id,)| id).ne(then) {
        return Err(DbErr::Custom(format!(
            "the funds {ids} changed while this file was being checked; send the file again"
        )));
    }
    let table = Table::of::<fm::Entity>(&["id"], &[]);
    let cols = written_columns::<fm::Entity>();
    let by = info.principal.clone().unwrap_or_else(|| "import".into());
    let provenance = |row: u32| {
        Some(Provenance {
            batch,
            sheet: SheetKind::Funds,
            row,
            stamp,
        })
    };
    // a row's values; a repayment of a loan written here takes the loan's id from `loans`
    let vals = |m: &MovementRow, loans: &HashMap<LoanKey, i32>| {
        let loan = match &m.link {
            None => None,
            Some(k) => Some(loans.get(k).copied().ok_or_else(|| {
                DbErr::Custom(format!("the loan of funds row {} was not written", m.row))
            })?),
        };
        values(&m.model, &cols, provenance(m.row), |c| match c {
            fm::Column::ProblemId | fm::Column::EntryId => Some(Value::Int(None)),
            fm::Column::Source => Some(Value::String(None)),
            fm::Column::RecordedBy => Some(text(&by)),
            fm::Column::CreatedAt => Some(Value::from(stamp.at)),
            fm::Column::LoanId => loan.map(Value::from),
            _ => None,
        })
    };
    let (first, then): (Vec<_>, Vec<_>) = new.into_iter().partition(|m| m.link.is_none());
    tx.write_rows(&table, &first, |m| vals(m, &HashMap::new()), false)
        .await?;
    let written: Vec<(i32, i32, String, NaiveDate)> = tx
        .fetch_all(
            &format!(
                "SELECT id, fund_id, house_code, moved_on FROM fund_movements WHERE batch_id = {} AND kind = {}",
                tx.placeholder(1),
                tx.placeholder(2)
            ),
            &[Value::from(batch), Value::from(Kind::Loan)],
        )
        .await?;
    let loans: HashMap<LoanKey, i32> = written
        .into_iter()
        .map(|(id, fund_id, house_code, lent_on)| {
            (
                LoanKey {
                    fund_id,
                    house_code,
                    lent_on,
                },
                id,
            )
        })
        .collect();
    tx.write_rows(&table, &then, |m| vals(m, &loans), false)
        .await
}

/// A funds-sheet row as written: the movement and the loan of this sheet it repays.
type MovementRow = Row<entity::fund_movement::ActiveModel, Option<LoanKey>>;

#[cfg(test)]
mod tests {
    use super::*;
    use entity::types::{HouseCode, ProblemStatus};

    fn problem() -> problem::ActiveModel {
        problem::ActiveModel {
            id: NotSet,
            house_code: Set(HouseCode::parse_str("33181183687").unwrap()),
            province_code: NotSet,
            indicator_code: Set(4),
            citizen_id: Set(None),
            person_key: Set(String::new()),
            cohort_id: NotSet,
            detail: Set(Some("ไม่มีน้ำสะอาด".into())),
            status: NotSet,
            change_seq: NotSet,
            updated_at: NotSet,
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
            next_visit_on: NotSet,
            created_at: NotSet,
        }
    }

    #[test]
    fn values_take_set_columns_then_fills_then_provenance() {
        let cols = written_columns::<problem::Entity>();
        let at = Provenance {
            batch: 9,
            sheet: SheetKind::Problems,
            row: 12,
            stamp: Stamp {
                seq: 41,
                at: chrono::DateTime::from_timestamp(1_730_000_000, 0).unwrap(),
            },
        };
        let vals = values(&problem(), &cols, Some(at), |c| match c {
            problem::Column::CohortId => Some(Value::from(3)),
            problem::Column::Status => Some(ProblemStatus::NotStarted.into()),
            problem::Column::NextVisitOn => Some(Value::ChronoDate(None)),
            problem::Column::CreatedAt => Some(Value::from(at.stamp.at)),
            problem::Column::ProvinceCode => Some(Value::from("33")),
            _ => None,
        })
        .expect("every column has a value");
        let get = |name: &str| {
            let i = cols.iter().position(|c| c.as_str() == name).unwrap();
            vals[i].clone()
        };
        assert_eq!(get("house_code"), Value::from("33181183687"));
        assert_eq!(get("cohort_id"), Value::from(3));
        assert_eq!(get("province_code"), Value::from("33"));
        assert_eq!(get("status"), Value::from("not_started"));
        assert_eq!(get("batch_id"), Value::from(9));
        assert_eq!(get("source_sheet"), Value::from("problems"));
        assert_eq!(get("source_row"), Value::from(12));
        assert_eq!(get("change_seq"), Value::from(41i64));
        assert_eq!(get("citizen_id"), Value::String(None));
    }

    #[test]
    fn a_column_nobody_gives_is_an_error_not_a_null() {
        let cols = written_columns::<problem::Entity>();
        let at = Provenance {
            batch: 1,
            sheet: SheetKind::Problems,
            row: 2,
            stamp: Stamp {
                seq: 1,
                at: chrono::Utc::now(),
            },
        };
        // the cohort is not filled: a new column `validate` forgot behaves the same
        let e = values(&problem(), &cols, Some(at), |c| match c {
            problem::Column::Status => Some(Value::from("not_started")),
            problem::Column::ProvinceCode => Some(Value::from("33")),
            _ => None,
        })
        .unwrap_err();
        assert!(e.to_string().contains("problems.cohort_id"), "{e}");
    }
}
