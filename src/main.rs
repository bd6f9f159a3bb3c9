//! `logbook`: the command line of the poverty-eradication logbook. A thin layer over the
//! `importer` library: settings → telemetry → connect → run one command.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use entity::types::{AreaCode, AreaLevel, Dimension, ProblemStatus};
use futures::StreamExt;
use importer::report::{ImportReport, ImportStatus};
use importer::{ImportOptions, Progress, Stage};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod allocator;

/// Poverty-eradication logbook (ระบบบันทึกการแก้ไขปัญหาความยากจน): imports district
/// workbooks (ศจพ.อ.) into a database and reports from it.
#[derive(Parser, Debug)]
#[command(name = "logbook", version, about, long_about = None)]
struct Cli {
    /// Database URL: `sqlite://FILE?mode=rwc` (the default, no setup) or
    /// `postgres://user@host/db`. Migrations run automatically.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://logbook.db?mode=rwc"
    )]
    database_url: String,

    /// How log lines on stderr are written: `text`, or `json` (one object per line, for a
    /// log collector). `RUST_LOG` sets what is logged.
    #[arg(long, global = true, env = "LOGBOOK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum LogFormat {
    /// One line per event.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the database migrations (they also run before every other command).
    Migrate,
    /// Import district workbooks (.xlsx, .xls, .ods): one batch per file, all or nothing.
    Import(ImportArgs),
    /// Print the provincial report: households, members, problems, logbook entries,
    /// analyses, solved households, problems by status and by dimension.
    Stats(StatsArgs),
    /// Area master data (provinces, districts, subdistricts).
    Areas {
        #[command(subcommand)]
        command: AreasCommand,
    },
    /// Write a blank district workbook: six sheets (the funds sheet optional), canonical headers, drop-down lists.
    Template {
        /// Output file (.xlsx).
        out: PathBuf,
    },
    /// Write a realistic synthetic district workbook (touches no database).
    Generate(GenerateArgs),
    /// API keys: create (prints only the token, once), list, revoke.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Trusted documents: the operations a locked key may run (production integrations).
    Documents {
        #[command(subcommand)]
        command: DocumentsCommand,
    },
    /// Agencies of provinces and the dimensions they own.
    Agency {
        #[command(subcommand)]
        command: AgencyCommand,
    },
    /// Write a report workbook: the monthly district-to-province report (`--month`, due on
    /// the 10th: problems per district × dimension × status as of the month's last day, and
    /// the month's logbook entries), the quarterly or fiscal-year report (`--quarter`,
    /// `--fiscal-year`), or the fund report (`--funds`: every fund's capital, grants, loans,
    /// repayments, arrears and balance on a day, per fund and per district).
    #[command(group = clap::ArgGroup::new("which").required(true))]
    Report {
        /// The month, `YYYY-MM` (Christian era, e.g. 2026-10).
        #[arg(long, group = "which")]
        month: Option<String>,
        /// The fund report.
        #[arg(long, group = "which")]
        funds: bool,
        /// A quarter of the fiscal year, `2566Q1` (Q1 = October–December): problems per
        /// district × dimension × status at its end, what changed in it, money by fund, and
        /// the per-agency results.
        #[arg(long, group = "which", value_name = "FYQn")]
        quarter: Option<String>,
        /// A fiscal year (October to September, by its Buddhist-era year), `2566`: as
        /// --quarter, over the year.
        #[arg(long, group = "which", value_name = "YEAR")]
        fiscal_year: Option<String>,
        /// With --funds: the day (`2022-09-30`, `30/9/2565`; today unless given).
        #[arg(long, requires = "funds", value_name = "DATE")]
        as_of: Option<String>,
        /// Only this district (4-digit code).
        #[arg(long, value_name = "CODE")]
        district: Option<String>,
        /// Output file (.xlsx).
        out: PathBuf,
    },
    /// Poverty funds of the province and its districts: create, list, record money.
    Fund {
        #[command(subcommand)]
        command: FundCommand,
    },
    /// Serve the staff page at /, the GraphQL API (POST /graphql, GraphiQL at GET /graphql),
    /// the upload worker, /healthz and /readyz.
    Serve(ServeArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// The demo: load the built-in district, import a generated workbook, print a new admin
    /// key and an example query, and serve GraphQL.
    Demo {
        /// Households in the generated workbook.
        #[arg(long, default_value_t = 300)]
        households: usize,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Subcommand, Debug)]
enum FundCommand {
    /// List funds with their figures on a day.
    List {
        /// Only funds of this province or district (and a province's districts).
        #[arg(long, value_name = "CODE")]
        area: Option<String>,
        /// The day (today unless given).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// Print JSON: [{"id", "name", "level", "area", "position": {…satang}}].
        #[arg(long)]
        json: bool,
    },
    /// Create a fund of a province (2-digit code) or district (4-digit code).
    Create {
        /// Province or district code.
        #[arg(long, value_name = "CODE")]
        area: String,
        /// Name, unique in the area.
        #[arg(long)]
        name: String,
        /// When it was set up.
        #[arg(long, value_name = "DATE")]
        established: Option<String>,
    },
    /// Record money in or out of a fund: capital (with --source), a grant or loan to a
    /// household (--house; a loan with --term-months), a repayment or write-off (--loan).
    Record {
        /// Fund id (from `logbook fund list`).
        #[arg(long)]
        fund: i32,
        /// capital, grant, loan, repayment or write_off.
        #[arg(long)]
        kind: String,
        /// The day the money moved.
        #[arg(long, value_name = "DATE")]
        date: String,
        /// Baht.
        #[arg(long)]
        amount: f64,
        /// Grant, loan: the household's house code.
        #[arg(long, value_name = "HOUSE_CODE")]
        house: Option<String>,
        /// Grant, loan: the problem's id.
        #[arg(long)]
        problem: Option<i32>,
        /// Repayment, write-off: the loan's id.
        #[arg(long)]
        loan: Option<i32>,
        /// Capital: where it came from; others: the purpose.
        #[arg(long)]
        source: Option<String>,
        /// Loan: the term in months.
        #[arg(long)]
        term_months: Option<i32>,
        /// Loan: an instalment every this many months (1).
        #[arg(long)]
        every_months: Option<i32>,
    },
    /// Remove a movement recorded by mistake.
    Remove {
        /// The movement's id.
        id: i32,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Create a key and print only its token (store it: it is shown once).
    Create {
        /// An admin key: everything, or everything in --province.
        #[arg(long, conflicts_with_all = ["district", "agency"], required_unless_present_any = ["district", "agency"])]
        admin: bool,
        /// With --admin: the province (2-digit code) it is limited to.
        #[arg(long, requires = "admin", value_name = "CODE")]
        province: Option<String>,
        /// A district centre's key (4-digit code).
        #[arg(long, value_name = "CODE", conflicts_with = "agency")]
        district: Option<String>,
        /// An agency's key (agency code, e.g. 33-pho).
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
        /// A label to recognise the key by.
        #[arg(long)]
        label: Option<String>,
        /// The key stops working after this many days (default: never).
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
    },
    /// Replace a key with a new one of the same scope (its token printed once); the old one
    /// keeps working for --overlap-hours, so that a system can switch without a gap.
    Rotate {
        /// The key's id (see `key list`).
        id: i32,
        /// Hours the old key keeps working (0: revoked at once).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(0..=720))]
        overlap_hours: u32,
    },
    /// Give a key its own cost budget per minute, or back the server's.
    Budget {
        /// The key's id (see `key list`).
        id: i32,
        /// Cost units a minute (a query costs its complexity).
        #[arg(long, value_name = "N", conflicts_with = "server_default", required_unless_present = "server_default", value_parser = clap::value_parser!(u64).range(1..))]
        per_minute: Option<u64>,
        /// The server's budget (`serve --cost-budget-per-minute`).
        #[arg(long)]
        server_default: bool,
    },
    /// List keys (never their tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key's id (see `key list`).
        id: i32,
    },
}

#[derive(Subcommand, Debug)]
enum DocumentsCommand {
    /// Store a GraphQL document (one operation) for a key and lock the key to its stored
    /// documents: from then on it runs only those, sent in full or by their SHA-256
    /// (`extensions.persistedQuery.sha256Hash`). Prints the SHA-256.
    Add {
        /// The key's id (see `key list`).
        #[arg(long)]
        key: i32,
        /// The document (`.graphql`), at most 1 MB.
        file: PathBuf,
        /// A name to recognise it by (default: the file's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// List a key's trusted documents: SHA-256 and name.
    List {
        /// The key's id.
        #[arg(long)]
        key: i32,
    },
}

#[derive(Subcommand, Debug)]
enum AgencyCommand {
    /// List agencies with their dimensions.
    List {
        /// Print JSON: [{"code", "abbreviation", "name_th", "name_en", "province", "dimensions"}].
        #[arg(long)]
        json: bool,
    },
    /// Add an agency to a province.
    Add {
        /// Code, unique (e.g. 33-nso).
        #[arg(long)]
        code: String,
        /// Abbreviation (e.g. สนง.สถิติ).
        #[arg(long)]
        abbreviation: String,
        /// Thai name.
        #[arg(long)]
        name_th: String,
        /// English name.
        #[arg(long)]
        name_en: String,
        /// Province code.
        #[arg(long)]
        province: String,
    },
    /// Give an agency a dimension.
    Assign {
        /// Agency code.
        #[arg(long)]
        agency: String,
        /// health, living, education, income or access.
        #[arg(long)]
        dimension: String,
    },
    /// Take a dimension from an agency.
    Unassign {
        /// Agency code.
        #[arg(long)]
        agency: String,
        /// health, living, education, income or access.
        #[arg(long)]
        dimension: String,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOGBOOK_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// GraphiQL's assets from this base URL (an intranet mirror of unpkg.com) instead of
    /// the copy logbook serves itself.
    #[arg(long, env = "LOGBOOK_GRAPHIQL_CDN")]
    graphiql_cdn: Option<String>,
    /// Who may ask for the schema (`__schema`, `__type`): every valid key, admin keys only,
    /// or nobody. Never without a key.
    #[arg(long, env = "LOGBOOK_INTROSPECTION", value_enum, default_value_t = Introspection::All)]
    introspection: Introspection,
    /// A web origin (`https://tool.agency.go.th`) whose pages may call the API from a
    /// browser; repeat or separate by commas. Default: none.
    #[arg(long, env = "LOGBOOK_CORS_ORIGIN", value_delimiter = ',', value_name = "ORIGIN", value_parser = api::http::cors_origin)]
    cors_origin: Vec<axum::http::HeaderValue>,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests in flight and a running import.
    #[arg(long, env = "LOGBOOK_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    shutdown_grace_secs: u64,
    /// Each key's cost budget per minute (a query costs its complexity), unless the key has
    /// its own (`key budget`); 0: no budgets.
    #[arg(
        long,
        env = "LOGBOOK_COST_BUDGET_PER_MINUTE",
        default_value_t = 2_000_000
    )]
    cost_budget_per_minute: u64,
    /// Where webhooks may be sent: `public` (any host on the internet, over https: the
    /// default), a host (`hooks.agency.go.th`, `10.0.0.7`: it may then be private and plain
    /// http) or `*.domain`; repeat or separate by commas. Private and loopback addresses
    /// are refused unless named here.
    #[arg(
        long,
        env = "LOGBOOK_WEBHOOK_ALLOW",
        value_delimiter = ',',
        value_name = "PATTERN",
        default_value = "public"
    )]
    webhook_allow: Vec<String>,
    /// Days a problem may stay not started after it was recorded before the worklist and
    /// `stats` call it overdue.
    #[arg(long, env = "LOGBOOK_OVERDUE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    overdue_days: u32,
    /// Days webhook events are kept with their deliveries and attempts (`webhookDeliveries`
    /// shows them until then); older ones are removed every hour.
    #[arg(long, env = "LOGBOOK_WEBHOOK_KEEP_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3650))]
    webhook_keep_days: u64,
    /// Seconds one webhook attempt may take, connection included.
    #[arg(long, env = "LOGBOOK_WEBHOOK_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    webhook_timeout_secs: u64,
    /// Where bulk exports' files are written (a folder per export).
    #[arg(long, env = "LOGBOOK_EXPORT_DIR", default_value = "logbook-exports")]
    export_dir: PathBuf,
    /// Where evidence photos are kept: a local folder (made if missing).
    #[arg(long, env = "LOGBOOK_EVIDENCE_DIR", default_value = "logbook-evidence")]
    evidence_dir: PathBuf,
    /// Keep evidence photos in an S3-compatible store instead, `s3://bucket[/prefix]`
    /// (credentials, region and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION, AWS_ENDPOINT).
    #[arg(long, env = "LOGBOOK_EVIDENCE_URL")]
    evidence_url: Option<String>,
    /// The map's tile server (`{z}`, `{x}`, `{y}` in it); with none reachable the map still
    /// shows its points on a blank background.
    #[arg(long, env = "LOGBOOK_MAP_TILES", default_value = api::web::DEFAULT_TILES, value_parser = api::web::tile_url)]
    map_tiles: String,
    /// Largest evidence photo, megabytes.
    #[arg(long, env = "LOGBOOK_EVIDENCE_MAX_MB", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=24))]
    evidence_max_mb: u64,
    /// Hours an export's files are kept once it is done.
    #[arg(long, env = "LOGBOOK_EXPORT_TTL_HOURS", default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=8760))]
    export_ttl_hours: u64,
    /// Serve Prometheus metrics at /metrics.
    #[arg(long, env = "LOGBOOK_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    metrics: bool,
    /// Deepest query nesting allowed (of data; introspection's own nesting does not count).
    #[arg(long, env = "LOGBOOK_MAX_DEPTH", default_value_t = 12)]
    max_depth: usize,
    /// Largest query complexity allowed (a connection costs `first` × its children).
    #[arg(long, env = "LOGBOOK_MAX_COMPLEXITY", default_value_t = 50_000)]
    max_complexity: usize,
    /// Largest page a connection returns.
    #[arg(long, env = "LOGBOOK_MAX_PAGE", default_value_t = 100)]
    max_page: usize,
    /// Largest request body, bytes.
    #[arg(long, env = "LOGBOOK_BODY_LIMIT", default_value_t = 1 << 20)]
    body_limit: usize,
    /// Largest workbook upload request, bytes.
    #[arg(long, env = "LOGBOOK_UPLOAD_LIMIT", default_value_t = 25 << 20)]
    upload_limit: usize,
    /// Longest a request may take, seconds (an upload: once it has arrived).
    #[arg(long, env = "LOGBOOK_TIMEOUT_SECS", default_value_t = 30)]
    timeout_secs: u64,
    /// Longest a workbook upload may take to arrive, seconds (slow district lines).
    #[arg(long, env = "LOGBOOK_UPLOAD_TIMEOUT_SECS", default_value_t = 600)]
    upload_timeout_secs: u64,
    /// Most tokens in a GraphQL document (checked before it is parsed).
    #[arg(long, env = "LOGBOOK_MAX_TOKENS", default_value_t = 20_000)]
    max_tokens: usize,
    /// Most fields a document selects once its fragments are expanded, aliases included.
    #[arg(long, env = "LOGBOOK_MAX_FIELDS", default_value_t = 5_000)]
    max_fields: u64,
    /// Most `stats` fields in one document.
    #[arg(long, env = "LOGBOOK_MAX_STATS", default_value_t = 3)]
    max_stats: u64,
    #[command(flatten)]
    read: ReadLimitArgs,
}

/// Who may introspect the schema.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum Introspection {
    /// Every valid key.
    All,
    /// Admin keys only.
    Admin,
    /// Nobody.
    Off,
}

/// How much of a workbook is read; a file over a limit is refused with the limit named.
#[derive(Args, Debug, Clone)]
struct ReadLimitArgs {
    /// Most data rows per sheet.
    #[arg(long, env = "LOGBOOK_MAX_ROWS", default_value_t = 250_000)]
    max_rows: u32,
    /// Most columns per sheet (a value right of them is refused).
    #[arg(long, env = "LOGBOOK_MAX_COLUMNS", default_value_t = 200)]
    max_columns: u32,
    /// Most megabytes of a workbook once unzipped.
    #[arg(long, env = "LOGBOOK_MAX_UNZIPPED_MB", default_value_t = 256)]
    max_unzipped_mb: u64,
    /// Most unzipped bytes per zipped byte (checked past 16 MB unzipped).
    #[arg(long, env = "LOGBOOK_MAX_RATIO", default_value_t = 100)]
    max_ratio: u64,
    /// Most characters in one cell (Excel's own limit is 32,767).
    #[arg(long, env = "LOGBOOK_MAX_CELL_CHARS", default_value_t = 32_767)]
    max_cell_chars: usize,
}

impl ReadLimitArgs {
    fn limits(&self) -> importer::ReadLimits {
        importer::ReadLimits {
            max_rows: self.max_rows,
            max_columns: self.max_columns,
            max_unzipped: self.max_unzipped_mb << 20,
            max_ratio: self.max_ratio,
            max_cell_chars: self.max_cell_chars,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// Validate and report only; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only accept rows of this district (4-digit code, e.g. 3318).
    #[arg(long, value_name = "CODE")]
    district: Option<String>,
    /// Print exactly one JSON array on stdout, one report per file.
    #[arg(long)]
    json: bool,
    /// Workbooks to import, in order: each is checked and written after the ones before it
    /// that share a district with it (on SQLite, after every one before it).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Files read and checked at once (default: the machine's cores). Each takes up to a
    /// province workbook's memory (about 250 MB) while it is read.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    read: ReadLimitArgs,
}

#[derive(Args, Debug)]
struct StatsArgs {
    /// Only this district (4-digit code).
    #[arg(long, value_name = "CODE")]
    district: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum AreasCommand {
    /// Load areas from a file (`level,code,parent_code,name_th,name_en`, CSV or XLSX), or the
    /// built-in set; idempotent. Each new province gets its default agencies.
    Import {
        /// The area file.
        #[arg(required_unless_present = "builtin", conflicts_with = "builtin")]
        file: Option<PathBuf>,
        /// Load the built-in set: อำเภอเมืองจันทร์ (3318), ศรีสะเกษ, and its subdistricts.
        #[arg(long)]
        builtin: bool,
    },
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Output file (.xlsx).
    out: PathBuf,
    /// Number of households.
    #[arg(long)]
    households: usize,
    /// Random seed: the same seed writes the same workbook.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// District to generate in (4-digit code); needs --areas unless it is the built-in 3318.
    #[arg(long, value_name = "CODE")]
    district: Option<String>,
    /// Area master file to find --district in.
    #[arg(long, value_name = "FILE")]
    areas: Option<PathBuf>,
    /// Add the untidiness of real workbooks (title rows, Thai digits, BE date cells, …).
    #[arg(long)]
    messy: bool,
    /// English sheet names and headers.
    #[arg(long)]
    english: bool,
    /// Add a funds sheet: grants, loans and repayments from the fund of this name (it must
    /// exist in the district or province, with --fund-capital baht by --fund-since).
    #[arg(long, value_name = "NAME")]
    fund: Option<String>,
    /// Most the funds sheet pays out, in baht.
    #[arg(
        long,
        value_name = "BAHT",
        default_value_t = 500_000,
        requires = "fund"
    )]
    fund_capital: u32,
    /// First day of the funds sheet's rows (YYYY-MM-DD; default a year before today).
    #[arg(long, value_name = "DATE", requires = "fund")]
    fund_since: Option<chrono::NaiveDate>,
}

fn main() -> ExitCode {
    allocator::configure(allocator::Workload::Batch);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if matches!(cli.command, Command::Serve(_) | Command::Demo { .. }) {
        allocator::configure(allocator::Workload::Server);
    }
    // the server logs one access line per request and its jobs at info; other commands
    // only warnings (their own output is the report)
    let default_filter = match cli.command {
        Command::Serve(_) | Command::Demo { .. } => "warn,access=info,api=info,logbook=info",
        _ => "warn",
    };
    api::telemetry::init_logs(
        match cli.log_format {
            LogFormat::Text => api::telemetry::LogFormat::Text,
            LogFormat::Json => api::telemetry::LogFormat::Json,
        },
        default_filter,
    );
    tracing::debug!(
        purge_delay_ms = allocator::purge_delay_ms(),
        "mimalloc returns freed memory after this delay"
    );
    // a panic anywhere is logged once, with its backtrace, through tracing (the importer and
    // the upload worker turn it into a report; the process goes on)
    std::panic::set_hook(Box::new(|info| {
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!(panic = %info, %backtrace, "panic");
    }));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(run(cli));
    // work cut off by a stop (a read on a blocking thread) is not waited for past this
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            })
        }
    }
}

/// Prints a line to stdout; a closed pipe (`logbook stats | head`) is not an error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

fn district_arg(code: Option<&str>) -> Result<Option<AreaCode>> {
    code.map(|c| {
        AreaCode::parse_level(c, AreaLevel::District).map_err(|_| {
            usage(format!(
                "--district must be a 4-digit district code, got \"{c}\""
            ))
        })
    })
    .transpose()
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Template { out } => {
            let bytes = importer::template::template()?;
            std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("เขียนแม่แบบแล้ว / template written: {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate(args),
        Command::Schema => {
            let db = sea_orm::DatabaseConnection::default();
            out!("{}", api::build_schema(db, api::Limits::default()).sdl());
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let db = migration::open(&cli.database_url)
                .await
                .with_context(|| format!("opening {}", cli.database_url))?;
            match command {
                Command::Migrate => {
                    eprintln!("migrations applied / ปรับโครงสร้างฐานข้อมูลแล้ว");
                    Ok(ExitCode::SUCCESS)
                }
                Command::Import(args) => import(&db, args).await,
                Command::Stats(args) => stats(&db, args).await,
                Command::Areas {
                    command: AreasCommand::Import { file, builtin },
                } => areas(&db, file, builtin).await,
                Command::Key { command } => key(&db, command).await,
                Command::Documents { command } => documents(&db, command).await,
                Command::Agency { command } => agency(&db, command).await,
                Command::Serve(args) => serve(db, args).await,
                Command::Report {
                    month: Some(month),
                    district,
                    out,
                    ..
                } => report(&db, &month, district.as_deref(), &out).await,
                Command::Report {
                    quarter,
                    fiscal_year,
                    district,
                    out,
                    funds: false,
                    ..
                } => {
                    period_report(
                        &db,
                        quarter.as_deref(),
                        fiscal_year.as_deref(),
                        district.as_deref(),
                        &out,
                    )
                    .await
                }
                Command::Report {
                    as_of,
                    district,
                    out,
                    ..
                } => fund_report(&db, as_of.as_deref(), district.as_deref(), &out).await,
                Command::Fund { command } => fund(&db, command).await,
                Command::Demo {
                    households,
                    serve: args,
                } => demo(db, households, args).await,
                Command::Template { .. } | Command::Generate(_) | Command::Schema => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

fn generate(args: GenerateArgs) -> Result<ExitCode> {
    use importer::generate::{DistrictAreas, GenOptions, Style, synthesize, write_workbook};
    let district = district_arg(args.district.as_deref())?;
    let areas = match (&district, &args.areas) {
        (None, _) => DistrictAreas::builtin(),
        (Some(d), None) if d.as_str() == importer::areas::BUILTIN_DISTRICT => {
            DistrictAreas::builtin()
        }
        (Some(d), None) => {
            return Err(usage(format!(
                "district {d} is not built in: give --areas FILE"
            )));
        }
        (Some(d), Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let rows = importer::areas::parse_file(&path.to_string_lossy(), bytes)?;
            DistrictAreas::from_rows(&rows, d.as_str()).ok_or_else(|| {
                usage(format!(
                    "district {d} has no subdistricts in {}",
                    path.display()
                ))
            })?
        }
    };
    let opts = GenOptions {
        households: args.households,
        seed: args.seed,
        as_of: chrono::Local::now().date_naive(),
        areas,
    };
    let mut ds = synthesize(&opts);
    if let Some(fund) = &args.fund {
        let since = args
            .fund_since
            .unwrap_or(opts.as_of - chrono::Days::new(365));
        if since > opts.as_of {
            return Err(usage("--fund-since is after today"));
        }
        ds.add_fund_rows(fund, args.fund_capital, since, opts.as_of, args.seed);
    }
    let written = write_workbook(
        &ds,
        &Style {
            messy: args.messy,
            english: args.english,
            seed: args.seed,
            headers: Vec::new(),
        },
    )?;
    std::fs::write(&args.out, &written.bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "{}: {} households, {} members, {} problems, {} analyses, {} logbook entries, {} fund rows",
        args.out.display(),
        ds.households.len(),
        ds.members.len(),
        ds.problems.len(),
        ds.analyses.len(),
        ds.entries.len(),
        ds.fund_rows.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The progress of `logbook import` on a terminal: one line per file and a total.
struct Bars {
    all: indicatif::MultiProgress,
    total: ProgressBar,
}

impl Bars {
    /// `None` unless stderr is a terminal.
    fn new(files: usize) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let all = indicatif::MultiProgress::new();
        let total = all.add(ProgressBar::new(files as u64));
        total.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} ไฟล์ / files [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(Bars { all, total })
    }

    /// A spinner line for one file, above the total.
    fn file(&self, name: &str) -> ProgressBar {
        let pb = self
            .all
            .insert_before(&self.total, ProgressBar::new_spinner());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_prefix(name.to_string());
        pb.set_message("รอ / waiting");
        pb.enable_steady_tick(Duration::from_millis(100));
        pb
    }
}

/// The importer's stages shown on a file's line.
fn progress_of(pb: Option<ProgressBar>) -> Progress {
    match pb {
        Some(pb) => Progress::new(move |stage| match stage {
            Stage::Reading => pb.set_message("อ่านไฟล์ / reading"),
            Stage::Waiting => pb.set_message("รอคิว / waiting for its turn"),
            Stage::Validating { rows } => {
                pb.set_message(format!("ตรวจสอบ {rows} แถว / validating"))
            }
            Stage::Writing { rows } => pb.set_message(format!("บันทึก {rows} แถว / writing")),
            Stage::Written { rows } => pb.set_message(format!("บันทึกแล้ว {rows} แถว / written")),
            Stage::Done => pb.finish_and_clear(),
        }),
        None => Progress::default(),
    }
}

async fn import(db: &sea_orm::DatabaseConnection, args: ImportArgs) -> Result<ExitCode> {
    let district = district_arg(args.district.as_deref())?;
    for f in &args.files {
        if !f.is_file() {
            return Err(usage(format!("no such file: {}", f.display())));
        }
    }
    let bars = Bars::new(args.files.len());
    // files side by side: each read on its own (`--jobs` at once), checked and written in its
    // turn — on PostgreSQL beside files of other districts, after the files before it of its
    // own; on SQLite one after another, in order
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let turns = if entity::db::writes_side_by_side(db) {
        importer::turns::Turns::by_district()
    } else {
        importer::turns::Turns::single()
    };
    let tickets: Vec<_> = (0..args.files.len()).map(|i| turns.ticket(i)).collect();
    let one = |(i, (f, ticket)): (usize, (PathBuf, importer::turns::Ticket))| {
        let name = f.file_name().map_or_else(
            || f.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let opts = ImportOptions {
            dry_run: args.dry_run,
            scope: district.as_ref().map(|d| d.as_str().to_string()),
            principal: Some(format!("cli:{}", whoami())),
            progress: progress_of(bars.as_ref().map(|b| b.file(&name))),
            limits: args.read.limits(),
            turn: Some(std::sync::Arc::new(ticket)),
            ..ImportOptions::today()
        };
        async move {
            let bytes = tokio::fs::read(&f)
                .await
                .with_context(|| format!("reading {}", f.display()))?;
            let report = importer::import_workbook(db, &name, bytes, &opts).await?;
            if report.status == ImportStatus::Imported {
                // `stats` counts the import's villages again, still in the file's turn (on
                // SQLite no other file writes meanwhile)
                api::service::stats::count_waiting(db).await?;
            }
            // its place in the run is freed: files after it of its districts go on
            drop(opts);
            anyhow::Ok((i, report))
        }
    };
    let mut running = futures::stream::iter(args.files.iter().cloned().zip(tickets).enumerate())
        .map(one)
        .buffer_unordered(jobs);
    let mut reports: Vec<Option<ImportReport>> = (0..args.files.len()).map(|_| None).collect();
    while let Some(done) = running.next().await {
        let (i, report) = done?;
        if !args.json {
            match &bars {
                Some(b) => b.all.suspend(|| print_report(&report)),
                None => print_report(&report),
            }
        }
        if let Some(b) = &bars {
            b.total.inc(1);
        }
        reports[i] = Some(report);
    }
    drop(running);
    let reports: Vec<ImportReport> = reports.into_iter().flatten().collect();
    if let Some(b) = &bars {
        b.total.finish_and_clear();
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&reports)?);
    }
    let rejected = reports.iter().any(|r| r.status == ImportStatus::Rejected);
    Ok(if rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// What happened to a file, in Thai and English.
fn status_words(s: ImportStatus) -> &'static str {
    match s {
        ImportStatus::Imported => "นำเข้าแล้ว / imported",
        ImportStatus::Rejected => "ไม่ผ่าน ไม่มีการบันทึกข้อมูล / rejected, nothing written",
        ImportStatus::DryRun => "ตรวจสอบผ่าน (ยังไม่บันทึก) / dry run passed",
    }
}

fn print_report(r: &ImportReport) {
    out!("{}: {}", r.file, status_words(r.status));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "แผ่นงาน / sheet",
        "อ่าน / read",
        "เพิ่ม / inserted",
        "แก้ไข / updated",
        "ไม่เปลี่ยน / unchanged",
        "ผิดพลาด / rejected",
    ]);
    for (k, c) in &r.sheets {
        t.add_row(vec![
            format!("{} / {}", k.name_th(), k.key()),
            c.read.to_string(),
            c.inserted.to_string(),
            c.updated.to_string(),
            c.unchanged.to_string(),
            c.rejected.to_string(),
        ]);
    }
    out!("{t}");
    let show = |label: &str, issues: &[importer::report::Issue]| {
        if issues.is_empty() {
            return;
        }
        out!("{label} ({}):", issues.len());
        for i in issues.iter().take(100) {
            out!(
                "  [{}{}{}] {} — {} ({})",
                i.sheet.map_or("file", |s| s.key()),
                i.row.map(|r| format!(" แถว/row {r}")).unwrap_or_default(),
                i.column
                    .as_ref()
                    .map(|c| format!(" คอลัมน์/column \"{c}\""))
                    .unwrap_or_default(),
                i.value
                    .as_ref()
                    .map(|v| format!("\"{v}\""))
                    .unwrap_or_else(|| "(ว่าง/empty)".into()),
                i.message_th,
                i.code
            );
        }
        if issues.len() > 100 {
            out!("  … {} more (use --json for all)", issues.len() - 100);
        }
    };
    show("ข้อผิดพลาด / errors", &r.errors);
    show("คำเตือน / warnings", &r.warnings);
}

async fn stats(db: &sea_orm::DatabaseConnection, args: StatsArgs) -> Result<ExitCode> {
    let area = district_arg(args.district.as_deref())?;
    let operator = api::access::Principal::Operator { district: None };
    let s = api::service::stats::summary(db, &operator, area.as_ref()).await?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["รายการ / figure", "จำนวน / count"]);
    for (k, v) in [
        ("ครัวเรือนเป้าหมาย / households", s.households),
        ("สมาชิก / members", s.members),
        ("ปัญหา / problems", s.problems),
        ("บันทึกการช่วยเหลือ / logbook entries", s.logbook_entries),
        ("การวิเคราะห์ 4ท / analyses", s.analyses),
        (
            "ครัวเรือนที่แก้ไขได้ทุกปัญหา / households solved",
            s.households_solved,
        ),
    ] {
        t.add_row(vec![k.to_string(), v.to_string()]);
    }
    for st in ProblemStatus::ALL {
        t.add_row(vec![
            format!("  {} / {}", st.name_th(), st.name_en().to_lowercase()),
            s.problems_by_status.get(*st).to_string(),
        ]);
    }
    for d in Dimension::ALL {
        t.add_row(vec![
            format!("  {} / {}", d.name_th(), d.name_en().to_lowercase()),
            s.problems_by_dimension.get(*d).to_string(),
        ]);
    }
    out!("{t}");
    Ok(ExitCode::SUCCESS)
}

async fn areas(
    db: &sea_orm::DatabaseConnection,
    file: Option<PathBuf>,
    builtin: bool,
) -> Result<ExitCode> {
    let rows = match (file, builtin) {
        (_, true) => importer::areas::parse_csv(importer::areas::BUILTIN_AREAS_CSV.as_bytes())?,
        (Some(path), false) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            importer::areas::parse_file(&path.to_string_lossy(), bytes)?
        }
        (None, false) => bail!(usage("give an area FILE or --builtin")),
    };
    let r = importer::areas::load(db, &rows).await?;
    out!(
        "areas: {} read, {} inserted, {} updated, {} unchanged; {} new provinces, {} agencies created",
        r.read,
        r.inserted,
        r.updated,
        r.unchanged,
        r.new_provinces.len(),
        r.agencies_created
    );
    Ok(ExitCode::SUCCESS)
}

async fn documents(
    db: &sea_orm::DatabaseConnection,
    command: DocumentsCommand,
) -> Result<ExitCode> {
    use api::service::keys;
    let usage_or = |e: api::error::ApiError| match e {
        api::error::ApiError::BadInput { .. } | api::error::ApiError::NotFound(_) => {
            usage(e.to_string())
        }
        other => anyhow::Error::new(other),
    };
    match command {
        DocumentsCommand::Add { key, file, name } => {
            let len = std::fs::metadata(&file)
                .with_context(|| format!("reading {}", file.display()))?
                .len();
            if len > 1 << 20 {
                return Err(usage(format!(
                    "{} is {len} bytes; a document is at most 1 MB",
                    file.display()
                )));
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let name = name.or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()));
            let sha = keys::add_document(db, key, &text, name)
                .await
                .map_err(usage_or)?;
            eprintln!("key {key} now runs only its trusted documents; this one is:");
            out!("{sha}");
        }
        DocumentsCommand::List { key } => {
            for (sha, name) in keys::documents(db, key).await.map_err(usage_or)? {
                out!("{sha}  {}", name.unwrap_or_default());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn key(db: &sea_orm::DatabaseConnection, command: KeyCommand) -> Result<ExitCode> {
    use api::service::keys::{self, KeyScope};
    match command {
        KeyCommand::Create {
            admin,
            province,
            district,
            agency,
            label,
            expires_in_days,
        } => {
            let scope = match (admin, district, agency) {
                (true, _, _) => KeyScope::Admin { province },
                (_, Some(d), _) => KeyScope::District(d),
                (_, _, Some(a)) => KeyScope::Agency(a),
                _ => return Err(usage("give --admin, --district CODE or --agency CODE")),
            };
            let expires =
                expires_in_days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
            let (id, token) = keys::create_expiring(db, scope, label, expires)
                .await
                .map_err(|e| match e {
                    api::error::ApiError::BadInput { .. } => usage(e.to_string()),
                    other => anyhow::Error::new(other),
                })?;
            match expires {
                Some(t) => eprintln!(
                    "key {id} created, working until {}; its token is shown once:",
                    t.to_rfc3339()
                ),
                None => eprintln!("key {id} created; its token is shown once:"),
            }
            out!("{token}");
        }
        KeyCommand::Rotate { id, overlap_hours } => {
            let overlap = chrono::Duration::hours(i64::from(overlap_hours));
            let (new_id, token) = keys::rotate(db, id, overlap).await.map_err(|e| match e {
                api::error::ApiError::BadInput { .. } | api::error::ApiError::NotFound(_) => {
                    usage(e.to_string())
                }
                other => anyhow::Error::new(other),
            })?;
            if overlap_hours == 0 {
                eprintln!("key {id} revoked; key {new_id} replaces it; its token is shown once:");
            } else {
                eprintln!(
                    "key {new_id} replaces key {id}, which works {overlap_hours} more hour(s); the new token is shown once:"
                );
            }
            out!("{token}");
        }
        KeyCommand::Budget { id, per_minute, .. } => {
            keys::set_budget(db, id, per_minute)
                .await
                .map_err(|e| match e {
                    api::error::ApiError::NotFound(_) | api::error::ApiError::BadInput { .. } => {
                        usage(e.to_string())
                    }
                    other => anyhow::Error::new(other),
                })?;
            match per_minute {
                Some(n) => eprintln!("key {id}: a budget of {n} a minute"),
                None => eprintln!("key {id}: the server's budget"),
            }
        }
        KeyCommand::List { json } => {
            let list = keys::list(db).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_header(vec![
                    "id",
                    "kind",
                    "scope",
                    "label",
                    "created",
                    "revoked",
                    "expires",
                    "last used",
                    "budget/min",
                ]);
                for k in list {
                    t.add_row(vec![
                        k.id.to_string(),
                        k.kind,
                        k.scope,
                        k.label.unwrap_or_default(),
                        k.created_at,
                        k.revoked_at.unwrap_or_default(),
                        k.expires_at.unwrap_or_default(),
                        k.last_used_at.unwrap_or_default(),
                        k.budget_per_minute
                            .map_or_else(|| "server".into(), |b| b.to_string()),
                    ]);
                }
                out!("{t}");
            }
        }
        KeyCommand::Revoke { id } => {
            if !keys::revoke(db, id).await? {
                return Err(usage(format!("no key {id}")));
            }
            eprintln!("key {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn report(
    db: &sea_orm::DatabaseConnection,
    month: &str,
    district: Option<&str>,
    out: &std::path::Path,
) -> Result<ExitCode> {
    use api::service::reports;
    let month = reports::Month::parse(month).map_err(|e| usage(format!("--month: {e}")))?;
    let who = operator_in(district)?;
    let days = api::service::follow_up::OverdueRule::default().days;
    let r = reports::monthly(db, &who, month, days).await?;
    let bytes = reports::monthly_workbook(&r)?;
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "รายงานเดือน{} / report for {}: {} แถวสรุป / summary rows, {} รายการช่วยเหลือ / entries → {}",
        month.name_th(),
        month.first_day().format("%Y-%m"),
        r.summary.len(),
        r.entries.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The command line as the operator, narrowed to `--district` when given.
fn operator_in(district: Option<&str>) -> Result<api::access::Principal> {
    Ok(match district_arg(district)? {
        Some(d) => api::access::Principal::Operator {
            district: Some(d.as_str().to_string()),
        },
        None => api::service::agencies::operator(),
    })
}

async fn period_report(
    db: &sea_orm::DatabaseConnection,
    quarter: Option<&str>,
    fiscal_year: Option<&str>,
    district: Option<&str>,
    out: &std::path::Path,
) -> Result<ExitCode> {
    let who = operator_in(district)?;
    let (key, bytes) = match api::web::period_report(db, &who, quarter, fiscal_year).await {
        Err(e @ api::error::ApiError::BadInput { .. }) => return Err(usage(e.to_string())),
        other => other?,
    };
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("รายงาน {key} / report for {key} → {}", out.display());
    Ok(ExitCode::SUCCESS)
}

async fn fund_report(
    db: &sea_orm::DatabaseConnection,
    as_of: Option<&str>,
    district: Option<&str>,
    out: &std::path::Path,
) -> Result<ExitCode> {
    let district = district_arg(district)?;
    let who = api::service::agencies::operator();
    let area = district.as_ref().map(|d| d.as_str().to_string());
    let (day, bytes) = match api::web::fund_report(db, &who, as_of, area.as_deref()).await {
        Err(e @ api::error::ApiError::BadInput { .. }) => return Err(usage(e.to_string())),
        other => other?,
    };
    std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "รายงานกองทุน ณ วันที่ {} / fund report as of {day} → {}",
        entity::types::ThaiDate::from_stored(day).to_thai(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn fund(db: &sea_orm::DatabaseConnection, command: FundCommand) -> Result<ExitCode> {
    use api::service::funds::{self, FundInput, MovementInput};
    let op = api::service::agencies::operator();
    let usage_or = |e: api::error::ApiError| match e {
        api::error::ApiError::BadInput { .. } | api::error::ApiError::NotFound(_) => {
            usage(e.to_string())
        }
        other => anyhow::Error::new(other),
    };
    match command {
        FundCommand::List { area, as_of, json } => {
            let today = chrono::Local::now().date_naive();
            let day =
                api::service::day_or_today("--as-of", as_of.as_deref(), today).map_err(usage_or)?;
            let rows = funds::report(db, &op, area.as_deref(), day)
                .await
                .map_err(usage_or)?;
            if json {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        let p = &r.position;
                        serde_json::json!({
                            "id": r.fund.id,
                            "name": r.fund.name,
                            "level": r.fund.level.key(),
                            "area": r.fund.area_code,
                            "as_of": day.to_string(),
                            "position": {
                                "capital": p.capital, "granted": p.granted, "grants": p.grants,
                                "lent": p.lent, "loans": p.loans, "repaid": p.repaid,
                                "written_off": p.written_off, "balance": p.balance,
                                "outstanding": p.outstanding, "arrears": p.arrears,
                                "loans_in_arrears": p.loans_in_arrears,
                            },
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let b = |s: i64| entity::types::Baht::from_satang(s).to_string();
                for r in &rows {
                    out!(
                        "{}  {}  {}  ทุน {}  คงเหลือ {}  คงค้าง {}  ค้างชำระ {}",
                        r.fund.id,
                        r.fund.area_code,
                        r.fund.name,
                        b(r.position.capital),
                        b(r.position.balance),
                        b(r.position.outstanding),
                        b(r.position.arrears)
                    );
                }
            }
        }
        FundCommand::Create {
            area,
            name,
            established,
        } => {
            let f = funds::create(
                db,
                &op,
                FundInput {
                    area,
                    name,
                    established,
                    note: None,
                },
            )
            .await
            .map_err(usage_or)?;
            out!("{}", f.id);
        }
        FundCommand::Record {
            fund,
            kind,
            date,
            amount,
            house,
            problem,
            loan,
            source,
            term_months,
            every_months,
        } => {
            let kind = entity::types::FundMovementKind::from_key(&kind).ok_or_else(|| {
                usage(format!(
                    "--kind must be capital, grant, loan, repayment or write_off, not \"{kind}\""
                ))
            })?;
            let m = funds::record(
                db,
                &op,
                MovementInput {
                    fund_id: fund,
                    kind,
                    date,
                    amount,
                    house_code: house,
                    problem_id: problem,
                    entry_id: None,
                    loan_id: loan,
                    source,
                    term_months,
                    every_months,
                    note: None,
                },
            )
            .await
            .map_err(usage_or)?;
            out!("{}", m.id);
        }
        FundCommand::Remove { id } => {
            funds::remove(db, &op, id).await.map_err(usage_or)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl ServeArgs {
    fn settings(&self) -> Result<api::Settings> {
        Ok(api::Settings {
            bind: self.bind.clone(),
            limits: api::Limits {
                max_depth: self.max_depth,
                max_complexity: self.max_complexity,
                max_page: self.max_page,
            },
            http: api::HttpConfig {
                graphiql_cdn: self.graphiql_cdn.clone(),
                introspection: match self.introspection {
                    Introspection::All => api::IntrospectionPolicy::All,
                    Introspection::Admin => api::IntrospectionPolicy::Admin,
                    Introspection::Off => api::IntrospectionPolicy::Off,
                },
                cors_origins: self.cors_origin.clone(),
                metrics: self.metrics,
                cost_budget_per_minute: self.cost_budget_per_minute,
                overdue_days: self.overdue_days,
                evidence: Some(self.evidence_store().map_err(|e| usage(e.to_string()))?),
                map_tiles: self.map_tiles.clone(),
                body_limit: self.body_limit,
                upload_limit: self.upload_limit,
                timeout: std::time::Duration::from_secs(self.timeout_secs),
                upload_timeout: std::time::Duration::from_secs(self.upload_timeout_secs),
                gate: api::GateLimits {
                    max_tokens: self.max_tokens,
                    max_fields: self.max_fields,
                    max_stats: self.max_stats,
                    ..Default::default()
                },
                ..Default::default()
            },
            jobs: api::JobConfig {
                limits: self.read.limits(),
                exports: api::service::exports::Store {
                    dir: self.export_dir.clone(),
                    ttl: std::time::Duration::from_secs(self.export_ttl_hours * 3600),
                },
                ..Default::default()
            },
            shutdown_grace: std::time::Duration::from_secs(self.shutdown_grace_secs),
            webhooks: api::WebhookConfig {
                policy: api::WebhookPolicy::parse(&self.webhook_allow).map_err(usage)?,
                timeout: std::time::Duration::from_secs(self.webhook_timeout_secs),
                keep: std::time::Duration::from_secs(self.webhook_keep_days * 24 * 3600),
                ..Default::default()
            },
            ..Default::default()
        })
    }
}

impl ServeArgs {
    /// The evidence store the flags name: S3 when `--evidence-url` is given, else the folder.
    fn evidence_store(&self) -> Result<api::evidence::EvidenceStore, api::evidence::StoreError> {
        let limits = api::evidence::PhotoLimits {
            max_bytes: usize::try_from(self.evidence_max_mb << 20).unwrap_or(usize::MAX),
            ..Default::default()
        };
        match &self.evidence_url {
            Some(url) => api::evidence::EvidenceStore::s3(url, limits, []),
            None => api::evidence::EvidenceStore::local(&self.evidence_dir, limits),
        }
    }
}

async fn serve(db: sea_orm::DatabaseConnection, args: ServeArgs) -> Result<ExitCode> {
    let server = api::Application::build(db, args.settings()?).await?;
    // a log line, not a print: with --log-format json every line of the log is JSON
    tracing::info!(
        address = %server.local_addr()?,
        "logbook on http://{0}/ (staff page), GraphQL on http://{0}/graphql (GraphiQL in a browser)",
        server.local_addr()?
    );
    server.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

async fn agency(db: &sea_orm::DatabaseConnection, command: AgencyCommand) -> Result<ExitCode> {
    use api::service::agencies::{self, NewAgency, operator};
    let op = operator();
    let dim = |d: &str| {
        entity::types::Dimension::from_key(&d.to_lowercase()).ok_or_else(|| {
            usage(format!(
                "--dimension must be health, living, education, income or access, not \"{d}\""
            ))
        })
    };
    let usage_or = |e: api::error::ApiError| match e {
        api::error::ApiError::BadInput { .. } => usage(e.to_string()),
        other => anyhow::Error::new(other),
    };
    let show = |a: &api::service::catalog::AgencyRow| {
        let dims: Vec<&str> = a.dimensions.iter().map(|d| d.key()).collect();
        out!(
            "{}  {}  {}  [{}]",
            a.code,
            a.abbreviation,
            a.name_th,
            dims.join(", ")
        );
    };
    match command {
        AgencyCommand::List { json } => {
            let list = api::service::catalog::agencies(db, &op).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                list.iter().for_each(show);
            }
        }
        AgencyCommand::Add {
            code,
            abbreviation,
            name_th,
            name_en,
            province,
        } => {
            let a = agencies::add(
                db,
                &op,
                NewAgency {
                    code,
                    abbreviation,
                    name_th,
                    name_en,
                    province,
                },
            )
            .await
            .map_err(usage_or)?;
            show(&a);
        }
        AgencyCommand::Assign { agency, dimension } => show(
            &agencies::assign(db, &op, &agency, dim(&dimension)?)
                .await
                .map_err(usage_or)?,
        ),
        AgencyCommand::Unassign { agency, dimension } => show(
            &agencies::unassign(db, &op, &agency, dim(&dimension)?)
                .await
                .map_err(usage_or)?,
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Labels of the keys the demo makes; each run revokes the previous run's.
const DEMO_KEY_LABELS: [&str; 2] = ["demo", "demo district"];

async fn demo(
    db: sea_orm::DatabaseConnection,
    households: usize,
    args: ServeArgs,
) -> Result<ExitCode> {
    use importer::generate::{DistrictAreas, GenOptions, Style, synthesize, write_workbook};
    // the socket first: when the port is taken, nothing is done and no key is made
    let server = api::Application::build(db.clone(), args.settings()?).await?;
    let rows = importer::areas::parse_csv(importer::areas::BUILTIN_AREAS_CSV.as_bytes())?;
    importer::areas::load(&db, &rows).await?;
    let ds = synthesize(&GenOptions {
        households,
        seed: 2565,
        as_of: chrono::Local::now().date_naive(),
        areas: DistrictAreas::builtin(),
    });
    let written = write_workbook(
        &ds,
        &Style {
            messy: true,
            english: false,
            seed: 2565,
            headers: Vec::new(),
        },
    )?;
    // imported as the district's centre would: the batch belongs to the district
    let opts = ImportOptions {
        principal: Some("demo".into()),
        scope: Some(importer::areas::BUILTIN_DISTRICT.into()),
        ..ImportOptions::today()
    };
    let report = importer::import_workbook(&db, "demo-3318.xlsx", written.bytes, &opts).await?;
    eprintln!(
        "อำเภอเมืองจันทร์ (3318), demo workbook: {} — {} rows read, {} errors, {} warnings",
        status_words(report.status),
        report.rows_read(),
        report.errors.len(),
        report.warnings.len()
    );
    // one pair of demo keys at a time: the previous run's are revoked
    let mut revoked = 0;
    for k in api::service::keys::list(&db)
        .await
        .map_err(anyhow::Error::new)?
    {
        if k.revoked_at.is_none()
            && k.label
                .as_deref()
                .is_some_and(|l| DEMO_KEY_LABELS.contains(&l))
        {
            api::service::keys::revoke(&db, k.id)
                .await
                .map_err(anyhow::Error::new)?;
            revoked += 1;
        }
    }
    if revoked > 0 {
        eprintln!("revoked {revoked} key(s) of an earlier demo run");
    }
    let (_, token) = api::service::keys::create(
        &db,
        api::service::keys::KeyScope::Admin { province: None },
        Some(DEMO_KEY_LABELS[0].into()),
    )
    .await
    .map_err(anyhow::Error::new)?;
    let (_, district) = api::service::keys::create(
        &db,
        api::service::keys::KeyScope::District(importer::areas::BUILTIN_DISTRICT.into()),
        Some(DEMO_KEY_LABELS[1].into()),
    )
    .await
    .map_err(anyhow::Error::new)?;
    let bind = server.local_addr()?;
    out!("{token}");
    eprintln!(
        "\nAdmin key above (shown once). In GraphiQL at http://{bind}/graphql set the header\n  {{\"Authorization\": \"Bearer {token}\"}}\nand run:\n\n{query}\n",
        query = DEMO_QUERY
    );
    eprintln!(
        "หน้าเว็บสำหรับเจ้าหน้าที่ / staff page: http://{bind}/\n  รหัสอำเภอ / district key (3318): {district}\n  (or sign in with the admin key; GraphiQL then takes it from the same tab)\n"
    );
    server.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// The example query the demo suggests.
const DEMO_QUERY: &str = r#"{
  me { kind }
  stats(groupBy: [DIMENSION, STATUS]) { dimension status problems households }
  households(first: 5, filter: { problem: { dimension: HEALTH } }) {
    totalCount
    nodes {
      houseCode headName village { nameTh }
      members { firstName lastName }
      problems { indicator { code nameTh } status logbook { date agency activity status } }
    }
  }
}"#;
