//! District workbook importer.
//!
//! The pipeline, one module per stage:
//! [`workbook`] (open, find sheets) → [`header`] (header row, aliases) → [`cells`]
//! (normalised cells) → [`rows`] (typed rows per sheet) — together [`read_workbook`], pure
//! and benchmarkable on its own — then [`validate`] (areas, cross-sheet references, scope,
//! duplicates) → [`plan`] (inserted / updated / unchanged against the database) →
//! [`write`] (batched, one transaction) → [`report`].
//!
//! Also here: the area master data loader ([`areas`]), the provincial figures ([`stats`]),
//! the blank template ([`template`]); the synthetic workbook generator (`generate`) only
//! with the `generate` feature (the command line and the tests), never in the API.
#![warn(clippy::unwrap_used, clippy::print_stdout)]

pub mod areas;
pub(crate) mod cells;
pub mod container;
pub mod error;
pub mod errorbook;
#[cfg(any(test, feature = "generate"))]
pub mod generate;
pub mod header;
pub(crate) mod limits;
pub(crate) mod plan;
pub(crate) mod reference;
pub mod report;
pub(crate) mod rows;
pub mod sheetzip;
pub mod template;
pub mod turns;
pub(crate) mod validate;
pub mod workbook;
pub(crate) mod write;

use crate::header::Header;
pub use crate::limits::{ReadLimits, Refusal};
use crate::reference::{AgencyIndex, AreaIndex, FundIndex, Stored};
use crate::report::IssueCode;
use crate::report::{ImportReport, ImportStatus, Issue, Severity};
use crate::rows::{AnalysisIn, EntryIn, FundRowIn, HouseholdIn, MemberIn, Parsed, ProblemIn};
use crate::workbook::{SheetKind, Workbook};
use chrono::NaiveDate;
pub use error::ImportError;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use tracing::{Instrument, info, info_span};

/// A known sheet as read.
#[derive(Debug, Clone)]
pub struct SheetInfo {
    /// Name as written.
    pub name: String,
    /// Header, when found.
    pub header: Option<Header>,
    /// Data rows read.
    pub read: u32,
    /// The sheet cannot be imported (no header, a required column missing): all its rows are rejected.
    pub broken: bool,
}

/// A workbook read and parsed into typed rows, with the issues found so far.
#[derive(Debug, Default)]
pub struct ReadWorkbook {
    /// Known sheets found.
    pub sheets: BTreeMap<SheetKind, SheetInfo>,
    /// Household rows.
    pub households: Vec<Parsed<HouseholdIn>>,
    /// Member rows.
    pub members: Vec<Parsed<MemberIn>>,
    /// Problem rows.
    pub problems: Vec<Parsed<ProblemIn>>,
    /// Analysis rows.
    pub analyses: Vec<Parsed<AnalysisIn>>,
    /// Logbook rows.
    pub entries: Vec<Parsed<EntryIn>>,
    /// Funds rows (grants, loans, repayments, write-offs).
    pub fund_rows: Vec<Parsed<FundRowIn>>,
    /// Errors and warnings.
    pub issues: Vec<Issue>,
}

impl ReadWorkbook {
    /// The header of a sheet, when found.
    pub fn header(&self, kind: SheetKind) -> Option<&Header> {
        self.sheets.get(&kind).and_then(|s| s.header.as_ref())
    }

    /// Data rows read per sheet.
    pub fn read_counts(&self) -> BTreeMap<SheetKind, u32> {
        self.sheets.iter().map(|(k, s)| (*k, s.read)).collect()
    }

    /// Data rows parsed, over every sheet.
    pub fn rows(&self) -> usize {
        self.households.len()
            + self.members.len()
            + self.problems.len()
            + self.analyses.len()
            + self.entries.len()
            + self.fund_rows.len()
    }

    /// The fund names the funds sheet's rows give (each once).
    pub fn fund_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fund_rows
            .iter()
            .filter_map(|p| p.value.as_ref().map(|f| f.fund.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The citizen IDs the problems sheet names, sorted, once each.
    pub fn problem_people(&self) -> Vec<String> {
        let mut people: Vec<String> = self
            .problems
            .iter()
            .filter_map(|p| p.ident.citizen_id.as_ref().map(ToString::to_string))
            .collect();
        people.sort();
        people.dedup();
        people
    }

    /// Every house code and citizen ID the rows mention, for loading what is stored.
    pub fn mentioned(&self) -> (Vec<String>, Vec<String>) {
        let mut houses = HashSet::new();
        let mut people = HashSet::new();
        let mut add = |ident: &rows::Ident| {
            if let Some(h) = &ident.house_code {
                houses.insert(h.to_string());
            }
            if let Some(c) = &ident.citizen_id {
                people.insert(c.to_string());
            }
        };
        self.households.iter().for_each(|p| add(&p.ident));
        self.members.iter().for_each(|p| add(&p.ident));
        self.problems.iter().for_each(|p| add(&p.ident));
        self.analyses.iter().for_each(|p| add(&p.ident));
        self.entries.iter().for_each(|p| add(&p.ident));
        self.fund_rows.iter().for_each(|p| add(&p.ident));
        let mut houses: Vec<String> = houses.into_iter().collect();
        let mut people: Vec<String> = people.into_iter().collect();
        houses.sort();
        people.sort();
        (houses, people)
    }
}

fn sheet_issue(
    severity: Severity,
    sheet: Option<SheetKind>,
    row: Option<u32>,
    code: IssueCode,
    th: String,
    en: String,
) -> Issue {
    Issue::new(severity, sheet, row, code, th, en)
}

/// One known sheet read and parsed.
struct SheetOutcome {
    kind: SheetKind,
    info: SheetInfo,
    issues: Vec<Issue>,
    rows: ParsedRows,
}

enum ParsedRows {
    None,
    Households(Vec<Parsed<HouseholdIn>>),
    Members(Vec<Parsed<MemberIn>>),
    Problems(Vec<Parsed<ProblemIn>>),
    Analyses(Vec<Parsed<AnalysisIn>>),
    Entries(Vec<Parsed<EntryIn>>),
    Funds(Vec<Parsed<FundRowIn>>),
}

/// Header → typed rows, for one sheet whose cells were streamed into a [`SheetBuilder`].
fn parse_sheet(
    kind: SheetKind,
    name: String,
    built: Result<rows::SheetRows, u32>,
    today: NaiveDate,
) -> SheetOutcome {
    let mut issues = Vec::new();
    let sr = match built {
        Ok(sr) => sr,
        Err(non_empty) => {
            issues.push(sheet_issue(
                Severity::Error,
                Some(kind),
                None,
                IssueCode::HeaderNotFound,
                format!("ไม่พบแถวหัวตารางในแผ่นงาน \"{name}\" (ต้องมีชื่อคอลัมน์ที่รู้จักอย่างน้อย 2 คอลัมน์ใน 15 แถวแรก)"),
                format!("No header row in sheet \"{name}\" (at least 2 known column headers within the first 15 rows)"),
            ));
            let info = SheetInfo {
                name,
                header: None,
                read: non_empty,
                broken: true,
            };
            return SheetOutcome {
                kind,
                info,
                issues,
                rows: ParsedRows::None,
            };
        }
    };
    let header_row = sr.header_row;
    for (cell, e) in &sr.header_refused {
        issues.push(
            sheet_issue(
                Severity::Error,
                Some(kind),
                Some(header_row),
                e.into(),
                format!("หัวตารางที่เซลล์ {cell}: {}", e.message_th()),
                format!("Header cell {cell}: {}", e.message_en()),
            )
            .column(cell.clone()),
        );
    }
    for (_, text) in &sr.header.unknown {
        issues.push(
            sheet_issue(
                Severity::Warning,
                Some(kind),
                Some(header_row),
                IssueCode::UnknownColumn,
                format!("ไม่รู้จักคอลัมน์ \"{}\" จึงข้ามไป", cells::shown(text)),
                format!(
                    "Column \"{}\" is not one the importer knows; ignored",
                    cells::shown(text)
                ),
            )
            .column(text.clone()),
        );
    }
    for (_, text) in &sr.header.duplicates {
        issues.push(
            sheet_issue(
                Severity::Warning,
                Some(kind),
                Some(header_row),
                IssueCode::DuplicateColumn,
                format!(
                    "คอลัมน์ \"{}\" ซ้ำกับคอลัมน์ก่อนหน้า ใช้คอลัมน์แรกเท่านั้น",
                    cells::shown(text)
                ),
                format!(
                    "Column \"{}\" repeats an earlier one; only the first is read",
                    cells::shown(text)
                ),
            )
            .column(text.clone()),
        );
    }
    let missing = sr.header.missing_required(kind);
    for spec in &missing {
        issues.push(
            sheet_issue(
                Severity::Error,
                Some(kind),
                Some(header_row),
                IssueCode::MissingColumn,
                format!("แผ่นงาน \"{name}\" ไม่มีคอลัมน์ที่ต้องมี \"{}\"", spec.aliases[0]),
                format!(
                    "Sheet \"{name}\" lacks the required column \"{}\" ({})",
                    spec.aliases[1], spec.key
                ),
            )
            .column(spec.aliases[0]),
        );
    }
    let broken = !missing.is_empty();
    let info = SheetInfo {
        name,
        header: Some(sr.header.clone()),
        read: sr.rows.len() as u32,
        broken,
    };
    let rows = if broken {
        ParsedRows::None
    } else {
        match kind {
            SheetKind::Households => {
                ParsedRows::Households(rows::parse_households(&sr, today, &mut issues))
            }
            SheetKind::Members => ParsedRows::Members(rows::parse_members(&sr, today, &mut issues)),
            SheetKind::Problems => ParsedRows::Problems(rows::parse_problems(&sr, &mut issues)),
            SheetKind::Analysis => {
                ParsedRows::Analyses(rows::parse_analyses(&sr, today, &mut issues))
            }
            SheetKind::Assistance => {
                ParsedRows::Entries(rows::parse_entries(&sr, today, &mut issues))
            }
            SheetKind::Funds => ParsedRows::Funds(rows::parse_fund_rows(&sr, today, &mut issues)),
        }
    };
    SheetOutcome {
        kind,
        info,
        issues,
        rows,
    }
}

/// A sheet read and built, for the parsing thread: its position in the workbook, kind and
/// name, and its rows (or the row of a header that was not found).
type ToParse = (usize, SheetKind, String, Result<rows::SheetRows, u32>);

/// Reads these sheets of `wb` in order, handing each built sheet to the parser; the
/// hidden-row warnings by sheet position. Stops at the first refusal.
fn read_sheets(
    wb: &mut Workbook,
    sheets: &[(usize, SheetKind, String)],
    send: &std::sync::mpsc::Sender<ToParse>,
    limits: &ReadLimits,
) -> Result<Vec<(usize, Issue)>, Refusal> {
    let mut notes = Vec::new();
    for (i, kind, name) in sheets {
        let (i, kind) = (*i, *kind);
        let t = std::time::Instant::now();
        let mut builder = rows::SheetBuilder::new(kind, name, limits);
        wb.cells(name, |r, c, v| builder.push(r, c, || v.cell()))?;
        let (hidden, merges) = wb.sheet_marks(name)?;
        let built = builder.finish().map(|mut sr| {
            sr.merges = merges;
            sr
        });
        if let Ok(sr) = &built {
            let data: HashSet<u32> = sr.rows.iter().map(|r| r.row).collect();
            let read: Vec<u32> = hidden.into_iter().filter(|r| data.contains(r)).collect();
            if let Some(first) = read.first() {
                let list = read
                    .iter()
                    .take(20)
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = if read.len() > 20 { " …" } else { "" };
                notes.push((i, sheet_issue(
                    Severity::Warning,
                    Some(kind),
                    Some(*first),
                    IssueCode::HiddenRows,
                    format!("แผ่นงาน \"{name}\" มี {} แถวที่ถูกซ่อนไว้ใน Excel แต่ระบบนำเข้าด้วย (แถว {list}{more})", read.len()),
                    format!("Sheet \"{name}\" has {} rows hidden in Excel that are imported too (rows {list}{more})", read.len()),
                )));
            }
        }
        tracing::debug!(import.sheet = %name, import.ms = t.elapsed().as_millis() as u64, "sheet read");
        if send.send((i, kind, name.clone(), built)).is_err() {
            break;
        }
    }
    Ok(notes)
}

/// Reads a workbook: sheets by name, header rows, cells, typed rows. Pure; `today` bounds
/// dates. Cells stream from the file into each sheet's builder under `limits`, while
/// another thread parses the sheet read before. A file over a limit, encrypted or
/// unreadable is refused as a whole.
pub fn read_workbook(
    bytes: Vec<u8>,
    today: NaiveDate,
    limits: &ReadLimits,
) -> Result<ReadWorkbook, Refusal> {
    read_in_two(bytes, today, limits, TWO_READERS_FROM)
}

/// Worksheet XML (unzipped) from which a workbook is read by two readers.
const TWO_READERS_FROM: u64 = 8 << 20;

/// [`read_workbook`], with two readers once the worksheets hold `from` bytes.
fn read_in_two(
    bytes: Vec<u8>,
    today: NaiveDate,
    limits: &ReadLimits,
    from: u64,
) -> Result<ReadWorkbook, Refusal> {
    let span = info_span!("import.read");
    let _g = span.enter();
    let mut wb = Workbook::open(bytes, limits)?;
    let mut out = ReadWorkbook::default();
    // which sheets are read, in workbook order; the sheet-level issues by sheet position
    let mut notes: Vec<(usize, Issue)> = Vec::new();
    let mut known: Vec<(usize, SheetKind, String)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, name) in wb.sheet_names().into_iter().enumerate() {
        let Some(kind) = SheetKind::from_name(&name) else {
            notes.push((
                i,
                sheet_issue(
                    Severity::Warning,
                    None,
                    None,
                    IssueCode::UnknownSheet,
                    format!("ไม่รู้จักแผ่นงาน \"{}\" จึงข้ามไป", cells::shown(&name)),
                    format!(
                        "Sheet \"{}\" is not one the importer knows; skipped",
                        cells::shown(&name)
                    ),
                )
                .value(Some(name.clone())),
            ));
            continue;
        };
        if !seen.insert(kind) {
            notes.push((
                i,
                sheet_issue(
                    Severity::Error,
                    Some(kind),
                    None,
                    IssueCode::DuplicateSheet,
                    format!(
                        "มีแผ่นงาน{}มากกว่าหนึ่งแผ่น (\"{name}\") ให้รวมเป็นแผ่นเดียว",
                        kind.name_th()
                    ),
                    format!(
                        "More than one {} sheet (\"{name}\"); merge them into one",
                        kind.key()
                    ),
                )
                .value(Some(name.clone())),
            ));
            continue;
        }
        if wb.is_hidden(&name) {
            notes.push((i, sheet_issue(
                Severity::Warning,
                Some(kind),
                None,
                IssueCode::HiddenSheet,
                format!("แผ่นงาน \"{name}\" ถูกซ่อนไว้ใน Excel แต่ระบบนำเข้าข้อมูลในแผ่นนี้ด้วย ตรวจสอบว่าตั้งใจส่งข้อมูลนี้"),
                format!("Sheet \"{name}\" is hidden in Excel but its rows are imported; check that they are meant to be sent"),
            )));
        }
        known.push((i, kind, name));
    }
    // a large xlsx is read by two readers, each its own calamine workbook over the same
    // bytes: this thread the first sheets, another the rest (split by unzipped size)
    let split = wb.split_for_two(&known, from);
    let later = known.split_off(split);
    let outcomes = std::thread::scope(|scope| -> Result<Vec<(usize, SheetOutcome)>, Refusal> {
        let (send, recv) = std::sync::mpsc::channel::<ToParse>();
        let parser = scope.spawn(move || {
            recv.into_iter()
                .map(|(i, kind, name, built)| (i, parse_sheet(kind, name, built, today)))
                .collect::<Vec<_>>()
        });
        let other = (!later.is_empty()).then(|| {
            let (send, bytes, span) = (send.clone(), wb.shared_bytes(), tracing::Span::current());
            scope.spawn(move || {
                let _g = span.enter();
                let mut wb = Workbook::open_shared(bytes, limits)?;
                read_sheets(&mut wb, &later, &send, limits)
            })
        });
        let first = read_sheets(&mut wb, &known, &send, limits);
        drop(send);
        let second = other.map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        let parsed = parser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        notes.extend(first?);
        if let Some(second) = second {
            notes.extend(second?);
        }
        Ok(parsed)
    })?;
    notes.sort_by_key(|(i, _)| *i);
    out.issues = notes.into_iter().map(|(_, issue)| issue).collect();
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes = outcomes.into_iter().map(|(_, o)| o);
    for o in outcomes {
        out.issues.extend(o.issues);
        out.sheets.insert(o.kind, o.info);
        match o.rows {
            ParsedRows::None => {}
            ParsedRows::Households(v) => out.households = v,
            ParsedRows::Members(v) => out.members = v,
            ParsedRows::Problems(v) => out.problems = v,
            ParsedRows::Analyses(v) => out.analyses = v,
            ParsedRows::Entries(v) => out.entries = v,
            ParsedRows::Funds(v) => out.fund_rows = v,
        }
    }
    if out.sheets.is_empty() {
        out.issues.push(sheet_issue(
            Severity::Error,
            None,
            None,
            IssueCode::NoKnownSheets,
            "ไม่พบแผ่นงานที่นำเข้าได้ (ครัวเรือน, สมาชิก, ปัญหา, วิเคราะห์, การช่วยเหลือ, กองทุน)".into(),
            "No sheet the importer knows (households, members, problems, analysis, assistance, funds)"
                .into(),
        ));
    } else if out.sheets.values().all(|s| s.read == 0) {
        out.issues.push(sheet_issue(
            Severity::Error,
            None,
            None,
            IssueCode::NoDataRows,
            "ไม่มีแถวข้อมูลในแผ่นงานใดเลย (มีแต่หัวตาราง) กรอกข้อมูลใต้แถวหัวตารางแล้วส่งใหม่".into(),
            "No sheet has any data row (only headers); fill in rows below the header row and send the file again".into(),
        ));
    }
    info!(import.rows = out.rows(), "read");
    Ok(out)
}

/// [`read_workbook`], with a panic on the way (a bug, here or in a library) turned into an
/// `internal_error` refusal naming `batch`; the panic hook has logged its backtrace.
pub fn read_guarded(
    bytes: Vec<u8>,
    today: NaiveDate,
    limits: &ReadLimits,
    batch: Option<i32>,
) -> Result<ReadWorkbook, Refusal> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_workbook(bytes, today, limits)
    }))
    .unwrap_or_else(|_| {
        tracing::error!("the importer panicked while reading a workbook");
        Err(Refusal::internal(batch))
    })
}

/// A stage of an import, reported to a [`Progress`] callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the workbook.
    Reading,
    /// Read; waiting for its turn while another file of its districts is checked and written
    /// ([`turns`]).
    Waiting,
    /// Checking rows against the reference data and what is stored.
    Validating {
        /// Data rows read.
        rows: u64,
    },
    /// Writing in one transaction.
    Writing {
        /// Rows to write.
        rows: u64,
    },
    /// Rows written so far (after each sheet), of the [`Stage::Writing`] rows.
    Written {
        /// Rows written.
        rows: u64,
    },
    /// Finished.
    Done,
}

/// A callback told of each [`Stage`].
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(Stage) + Send + Sync>>);

impl Progress {
    /// Calls `f` at each stage.
    pub fn new(f: impl Fn(Stage) + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(f)))
    }

    fn report(&self, stage: Stage) {
        if let Some(f) = &self.0 {
            f(stage);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(callback)"
        } else {
            "Progress(none)"
        })
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Validate and report only; write nothing.
    pub dry_run: bool,
    /// The area the import is limited to: a district (4-digit code) or a province (2-digit
    /// code); rows outside it are errors.
    pub scope: Option<String>,
    /// The day the import runs: dates after it are errors; ages are as of it.
    pub today: NaiveDate,
    /// Who imports (recorded on the batch).
    pub principal: Option<String>,
    /// Told of each stage.
    pub progress: Progress,
    /// The queued batch this import completes (an upload), instead of a new batch. Its
    /// outcome is recorded even for a dry run.
    pub batch: Option<i32>,
    /// How much of the file is read.
    pub limits: ReadLimits,
    /// This file's place in a run of files imported side by side: it is checked and written
    /// in its turn ([`turns::Turns`]).
    pub turn: Option<std::sync::Arc<turns::Ticket>>,
}

impl ImportOptions {
    /// Options for a real import today.
    pub fn today() -> Self {
        Self {
            dry_run: false,
            scope: None,
            today: chrono::Local::now().date_naive(),
            principal: None,
            progress: Progress::default(),
            batch: None,
            limits: ReadLimits::default(),
            turn: None,
        }
    }
}

fn sort_issues(issues: &mut [Issue]) {
    issues.sort_by_key(|i| (i.sheet.map_or(0, |s| s as u8 + 1), i.row.unwrap_or(0)));
}

/// The report of a file refused as a whole (recorded as a batch unless a plain dry run).
async fn refuse(
    db: &DatabaseConnection,
    file_name: &str,
    info: &write::BatchInfo,
    opts: &ImportOptions,
    refusal: &Refusal,
) -> Result<ImportReport, ImportError> {
    info!(import.code = %refusal.code, "file refused");
    let mut report = ImportReport {
        file: file_name.to_string(),
        status: ImportStatus::Rejected,
        batch_id: None,
        sheets: SheetKind::ALL
            .iter()
            .map(|k| (*k, Default::default()))
            .collect(),
        errors: vec![Issue::from_refusal(refusal)],
        warnings: vec![],
    };
    if !opts.dry_run || opts.batch.is_some() {
        report.batch_id = Some(write::record_outcome(db, info, &report).await?);
    }
    opts.progress.report(Stage::Done);
    Ok(report)
}

/// Turns `report` into a rejection for entry rows that add or change something in a
/// locked month (`hit`: indexes into the validated entries, with their districts), found
/// after planning or, for a month locked since, in the write's transaction: each row gets
/// the month's error and counts as rejected instead of written.
fn refuse_locked(
    report: &mut ImportReport,
    read: &ReadWorkbook,
    v: &validate::Validated,
    plan: &plan::Plan,
    hit: &[(usize, String)],
) {
    report.status = ImportStatus::Rejected;
    let counts = report.sheets.entry(SheetKind::Assistance).or_default();
    for (i, district) in hit {
        let (Some(e), Some(action)) = (v.entries.get(*i), plan.entries.get(*i)) else {
            continue;
        };
        match action {
            plan::Action::Insert => counts.inserted = counts.inserted.saturating_sub(1),
            plan::Action::Update => counts.updated = counts.updated.saturating_sub(1),
            plan::Action::Unchanged => {}
        }
        counts.rejected += 1;
        if let Some(date) = e.model.entry_date.try_as_ref() {
            report
                .errors
                .push(validate::month_locked(read, e.row, *date, district));
        }
    }
    sort_issues(&mut report.errors);
}

/// Imports one workbook: read, validate, plan, and (unless dry run or rejected) write in one
/// transaction. A rejected batch is recorded with its errors; nothing else is written.
pub async fn import_workbook(
    db: &DatabaseConnection,
    file_name: &str,
    bytes: Vec<u8>,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let span = info_span!("import", import.file = file_name);
    import_in_span(db, file_name, bytes, opts)
        .instrument(span)
        .await
}

async fn import_in_span(
    db: &DatabaseConnection,
    file_name: &str,
    bytes: Vec<u8>,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let info = write::BatchInfo {
        file_name: file_name.to_string(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        district: opts.scope.clone(),
        principal: opts.principal.clone(),
        as_of: opts.today,
        existing: opts.batch,
    };
    opts.progress.report(Stage::Reading);
    let started = std::time::Instant::now();
    // reading and checking are CPU work (about a second for a province): each runs on a
    // blocking thread, so the runtime's workers keep serving requests meanwhile
    let (today, limits, batch) = (opts.today, opts.limits, opts.batch);
    let read = tokio::task::spawn_blocking(move || read_guarded(bytes, today, &limits, batch))
        .await
        .unwrap_or_else(|_| Err(Refusal::internal(batch)));
    let mut read = match read {
        Ok(r) => r,
        Err(refusal) => {
            // recorded in its turn too (on SQLite after the files before it are written)
            if let Some(t) = &opts.turn {
                t.take(Default::default()).await;
            }
            return refuse(db, file_name, &info, opts, &refusal).await;
        }
    };
    info!(
        import.elapsed_ms = started.elapsed().as_millis() as u64,
        "read done"
    );
    // checked and written in this file's turn, when files go side by side: no file before it
    // in the run that shares a district (read from its house codes) is still unwritten
    let (houses, people) = read.mentioned();
    if let Some(t) = &opts.turn {
        opts.progress.report(Stage::Waiting);
        t.take(turns::districts_of(houses.iter().map(String::as_str)))
            .await;
    }
    let total = read.rows();
    opts.progress
        .report(Stage::Validating { rows: total as u64 });
    let areas = AreaIndex::load(db).await?;
    let agencies = AgencyIndex::load(db).await?;
    let funds = FundIndex::load(db).await?;
    let subdistricts: Vec<String> = {
        let mut resolver = reference::AreaResolver::new(&areas);
        let mut s: Vec<String> = read
            .households
            .iter()
            .filter_map(|p| p.value.as_ref())
            .filter_map(|h| {
                resolver
                    .resolve(&h.province, &h.district, &h.subdistrict)
                    .as_ref()
                    .ok()
                    .map(|c| c.2.as_str().to_string())
            })
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let on_problems = read.problem_people();
    let mut stored = Stored::load(db, houses, people, &on_problems, &subdistricts).await?;
    let named: Vec<i32> = read
        .fund_names()
        .iter()
        .flat_map(|n| funds.ids_named(n))
        .collect::<std::collections::BTreeSet<i32>>()
        .into_iter()
        .collect();
    stored.load_fund_movements(db, &named).await?;
    info!(
        import.elapsed_ms = started.elapsed().as_millis() as u64,
        "reference loaded"
    );
    let scope = opts.scope.clone();
    let checked = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ctx = validate::Context {
                areas: &areas,
                agencies: &agencies,
                funds: &funds,
                stored: &stored,
                scope: scope.as_deref(),
            };
            let t = std::time::Instant::now();
            let validated = validate::validate(&mut read, &ctx);
            tracing::debug!(
                import.validate_ms = t.elapsed().as_millis() as u64,
                "checked"
            );
            (read, stored, validated)
        }))
    })
    .await;
    let Ok(Ok((read, stored, validated))) = checked else {
        tracing::error!(
            import.file = file_name,
            "the importer panicked while checking this file"
        );
        return refuse(db, file_name, &info, opts, &Refusal::internal(opts.batch)).await;
    };
    let plan = plan::plan(db, &validated, &stored).await?;
    info!(
        import.elapsed_ms = started.elapsed().as_millis() as u64,
        "validated and planned"
    );

    let (mut errors, mut warnings): (Vec<Issue>, Vec<Issue>) = read
        .issues
        .iter()
        .chain(validated.issues.iter())
        .cloned()
        .partition(|i| i.severity == Severity::Error);
    sort_issues(&mut errors);
    sort_issues(&mut warnings);
    // rows rejected while reading and while validating (one count per row)
    let sheets = plan.counts(&read.read_counts(), &validated.rejected);
    let status = if !errors.is_empty() {
        ImportStatus::Rejected
    } else if opts.dry_run {
        ImportStatus::DryRun
    } else {
        ImportStatus::Imported
    };
    let mut report = ImportReport {
        file: file_name.to_string(),
        status,
        batch_id: None,
        sheets,
        errors,
        warnings,
    };
    // a month locked after its report takes no new or changed entry; one unchanged is fine
    let locked = plan::entries_locked(&validated, &plan, &stored, &stored.locks);
    if !locked.is_empty() {
        refuse_locked(&mut report, &read, &validated, &plan, &locked);
    }
    match report.status {
        ImportStatus::DryRun | ImportStatus::Rejected if opts.dry_run && opts.batch.is_none() => {}
        ImportStatus::DryRun | ImportStatus::Rejected => {
            report.batch_id = Some(write::record_outcome(db, &info, &report).await?)
        }
        ImportStatus::Imported => {
            let changed = plan.changed_rows() as u64;
            opts.progress.report(Stage::Writing { rows: changed });
            let written = write::write(
                db,
                &info,
                &report,
                &validated,
                &plan,
                &stored,
                &opts.progress,
            )
            .await;
            report.batch_id = Some(match written {
                Ok(batch) => batch,
                Err(write::WriteError::Db(e)) => return Err(e.into()),
                Err(write::WriteError::MonthLocked(hit)) => {
                    info!(
                        import.rows = hit.len(),
                        "months locked since the check: nothing written"
                    );
                    refuse_locked(&mut report, &read, &validated, &plan, &hit);
                    write::record_outcome(db, &info, &report).await?
                }
            });
        }
    }
    info!(
        import.elapsed_ms = started.elapsed().as_millis() as u64,
        "written"
    );
    opts.progress.report(Stage::Done);
    info!(
        import.status = report.status.as_str(),
        import.rows = report.rows_read(),
        "import finished"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{DistrictAreas, GenOptions, Style, synthesize, write_workbook};

    #[test]
    fn two_readers_read_exactly_what_one_reads() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        let ds = synthesize(&GenOptions {
            households: 60,
            seed: 9,
            as_of: today,
            areas: DistrictAreas::builtin(),
        });
        let bytes = write_workbook(
            &ds,
            &Style {
                messy: true,
                english: false,
                seed: 3,
                headers: Vec::new(),
            },
        )
        .expect("workbook")
        .bytes;
        let limits = ReadLimits::default();
        let one = read_in_two(bytes.clone(), today, &limits, u64::MAX).expect("one reader");
        let two = read_in_two(bytes, today, &limits, 0).expect("two readers");
        assert!(!one.households.is_empty() && !one.entries.is_empty());
        assert!(
            !one.issues.is_empty(),
            "a messy workbook has warnings to order"
        );
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
    }
}
