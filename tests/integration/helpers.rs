//! `TestApp`: a fresh, migrated database per test — a SQLite file in a temporary folder, or
//! a new PostgreSQL database on the server `LOGBOOK_TEST_PG_URL` names — and a method per
//! operation the tests need.

use chrono::NaiveDate;
use entity::summary::Summary;
use entity::types::AreaCode;
use importer::generate::{
    Dataset, DistrictAreas, GenOptions, Style, Written, synthesize, write_workbook,
};
use importer::report::ImportReport;
use importer::{ImportOptions, Progress};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// The command line's principal (it sees everything).
fn operator() -> api::access::Principal {
    api::access::Principal::Operator { district: None }
}

/// The day every test imports on.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date")
}

/// One test's application: its database and how to reach it.
pub struct TestApp {
    /// The connection.
    pub db: DatabaseConnection,
    /// Its URL (for the CLI).
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A fresh SQLite database with the built-in areas loaded.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let db = migration::open(&url).await.expect("open sqlite");
        let app = TestApp { db, url, _dir: dir };
        app.load_builtin_areas().await;
        app
    }

    /// A fresh PostgreSQL database on the server `LOGBOOK_TEST_PG_URL` names, with the
    /// built-in areas loaded. The PostgreSQL twins are compiled as ignored without that
    /// variable (`build.rs`), so this runs only when it is set.
    pub async fn postgres() -> Self {
        let server = std::env::var("LOGBOOK_TEST_PG_URL").expect(
            "LOGBOOK_TEST_PG_URL names the PostgreSQL server for these tests \
             (e.g. postgres://postgres@127.0.0.1:5432)",
        );
        let admin = sea_orm::Database::connect(format!("{server}/postgres"))
            .await
            .expect("connect to PostgreSQL");
        let name = format!("logbook_t_{}_{}", std::process::id(), fastrand::u64(..));
        admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("CREATE DATABASE {name}"),
            ))
            .await
            .expect("create database");
        admin.close().await.ok();
        let url = format!("{server}/{name}");
        let db = migration::open(&url).await.expect("open postgres");
        let app = TestApp {
            db,
            url,
            _dir: tempfile::tempdir().expect("temp dir"),
        };
        app.load_builtin_areas().await;
        app
    }

    /// Loads the built-in district (3318) and its province's agencies.
    pub async fn load_builtin_areas(&self) {
        let rows = importer::areas::parse_csv(importer::areas::BUILTIN_AREAS_CSV.as_bytes())
            .expect("builtin areas");
        importer::areas::load(&self.db, &rows)
            .await
            .expect("load areas");
    }

    /// Loads extra areas given as CSV text.
    pub async fn load_areas_csv(&self, csv: &str) -> importer::areas::AreasReport {
        let rows = importer::areas::parse_csv(csv.as_bytes()).expect("area csv");
        importer::areas::load(&self.db, &rows)
            .await
            .expect("load areas")
    }

    /// Imports workbook bytes.
    pub async fn import(&self, name: &str, bytes: Vec<u8>) -> ImportReport {
        self.import_with(name, bytes, false, None).await
    }

    /// Imports with options.
    pub async fn import_with(
        &self,
        name: &str,
        bytes: Vec<u8>,
        dry_run: bool,
        district: Option<&str>,
    ) -> ImportReport {
        let opts = ImportOptions {
            dry_run,
            scope: district.map(str::to_string),
            today: today(),
            principal: Some("test".into()),
            progress: Progress::default(),
            batch: None,
            limits: importer::ReadLimits::default(),
            turn: None,
        };
        self.import_opts(name, bytes, &opts).await
    }

    /// Imports, telling `progress` of each stage (a test acts between the check and the
    /// write).
    pub async fn import_telling(
        &self,
        name: &str,
        bytes: Vec<u8>,
        progress: Progress,
    ) -> ImportReport {
        let opts = ImportOptions {
            dry_run: false,
            scope: None,
            today: today(),
            principal: Some("test".into()),
            progress,
            batch: None,
            limits: importer::ReadLimits::default(),
            turn: None,
        };
        self.import_opts(name, bytes, &opts).await
    }

    async fn import_opts(&self, name: &str, bytes: Vec<u8>, opts: &ImportOptions) -> ImportReport {
        let report = importer::import_workbook(&self.db, name, bytes, opts)
            .await
            .expect("import ran");
        // as the command line and the import worker do: `stats` counts the villages again
        api::service::stats::count_waiting(&self.db)
            .await
            .expect("stats cells counted");
        report
    }

    /// The provincial figures.
    pub async fn stats(&self) -> Summary {
        api::service::stats::summary(&self.db, &operator(), None)
            .await
            .expect("stats")
    }

    /// The figures of one district.
    pub async fn district_stats(&self, code: &str) -> Summary {
        let area = AreaCode::parse_str(code).expect("code");
        api::service::stats::summary(&self.db, &operator(), Some(&area))
            .await
            .expect("stats")
    }

    /// Creates an API key; returns its token.
    pub async fn key(&self, scope: api::service::keys::KeyScope) -> String {
        api::service::keys::create(&self.db, scope, None)
            .await
            .expect("create key")
            .1
    }

    /// The import queue over this database (imports run as of the tests' day).
    pub fn jobs(&self) -> api::Jobs {
        api::Jobs::new(
            self.db.clone(),
            api::JobConfig {
                today: Some(today()),
                exports: self.export_store(),
                ..Default::default()
            },
        )
    }

    /// Where this test's exports are written (in its own temporary folder).
    pub fn export_store(&self) -> api::service::exports::Store {
        api::service::exports::Store {
            dir: self._dir.path().join("exports"),
            ..Default::default()
        }
    }

    /// The HTTP app over this database.
    pub fn http(&self) -> axum::Router {
        self.http_with(api::HttpConfig::default())
    }

    /// The HTTP app over this database with these settings.
    pub fn http_with(&self, config: api::HttpConfig) -> axum::Router {
        let schema = api::build_schema(self.db.clone(), api::Limits::default());
        api::app(api::AppState {
            budgets: Default::default(),
            db: self.db.clone(),
            schema,
            config,
            jobs: self.jobs(),
        })
    }

    /// The HTTP app over a connection of its own that counts the statements it runs, and the
    /// count. The key's lookup is left out: a key seen in the last second is not looked up
    /// again, so whether it is depends on how long the request before took.
    pub async fn counting_http(
        &self,
    ) -> (axum::Router, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let statements = std::sync::Arc::new(AtomicUsize::new(0));
        let mut db = migration::connect(&self.url).await.expect("connect");
        let counter = statements.clone();
        db.set_metric_callback(move |info| {
            if !info.statement.sql.contains("api_keys") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let schema = api::build_schema(db.clone(), api::Limits::default());
        let http = api::app(api::AppState {
            budgets: Default::default(),
            jobs: api::Jobs::new(db.clone(), api::JobConfig::default()),
            db,
            schema,
            config: api::HttpConfig::default(),
        });
        (http, statements)
    }

    /// How long after a key was changed elsewhere (another process) a request was first
    /// refused with 401: [`TestApp::answered_after`].
    pub async fn refused_after(&self, token: &str) -> Option<std::time::Duration> {
        self.answered_after(token, "{ me { kind } }", 401).await
    }

    /// How long until `query` with `token` is first answered with `status`: polled every
    /// 50 ms for up to three times the time a server may remember a key (a key changed by
    /// another process is seen changed within that time); none when it never was.
    pub async fn answered_after(
        &self,
        token: &str,
        query: &str,
        status: u16,
    ) -> Option<std::time::Duration> {
        let started = std::time::Instant::now();
        while started.elapsed() < api::service::keys::KEY_SEEN_FOR * 3 {
            let (got, _) = self
                .graphql(Some(token), query, serde_json::json!({}))
                .await;
            if got == status {
                return Some(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// POSTs a GraphQL query (with an optional bearer token); returns the status and body.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        graphql_to(self.http(), token, query, variables).await
    }

    /// POSTs `body` to `/graphql` with exactly these headers; returns the status and the
    /// body as JSON (`Null` when it is not JSON).
    pub async fn post(&self, headers: &[(&str, String)], body: String) -> (u16, serde_json::Value) {
        post_graphql(self.http(), headers, body).await
    }

    /// GETs a path (with an optional bearer token); returns the status, the content type
    /// and the body.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
        use tower::ServiceExt;
        let mut req = axum::http::Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = self
            .http()
            .oneshot(req.body(axum::body::Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, content_type, bytes.to_vec())
    }

    /// A single number from SQL.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("a number")
    }
}

/// A generated dataset in the built-in district.
pub fn dataset(households: usize, seed: u64) -> Dataset {
    synthesize(&GenOptions {
        households,
        seed,
        as_of: today(),
        areas: DistrictAreas::builtin(),
    })
}

/// Renders a dataset.
pub fn render(ds: &Dataset, messy: bool, english: bool) -> Written {
    write_workbook(
        ds,
        &Style {
            messy,
            english,
            seed: 11,
            headers: Vec::new(),
        },
    )
    .expect("write workbook")
}

/// Runs each named `async fn(TestApp)` on SQLite and on PostgreSQL. The PostgreSQL twin is
/// ignored unless built with `LOGBOOK_TEST_PG_URL`; after `browser:` the tests drive
/// Chromium, and both twins are ignored where it is not installed (`build.rs`).
#[macro_export]
macro_rules! on_both_databases {
    (browser: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(logbook_browser),
                    ignore = "browser: install Debian's chromium and chromium-driver, then build with LOGBOOK_TEST_BROWSER=1"
                )]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(all(logbook_pg, logbook_browser)),
                    ignore = "PostgreSQL and a browser: LOGBOOK_TEST_PG_URL, chromium and chromium-driver"
                )]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::postgres().await).await;
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(logbook_pg),
                    ignore = "PostgreSQL: build and run with LOGBOOK_TEST_PG_URL=postgres://postgres@127.0.0.1:5432"
                )]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::postgres().await).await;
                }
            }
        )*
    };
}

/// One request to `http`: its status, headers and body.
pub async fn request(
    http: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<axum::body::Body>,
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = http
        .oneshot(req.body(body.into()).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, bytes.to_vec())
}

/// POSTs a GraphQL query to `http` (with an optional bearer token); returns the status and
/// body.
pub async fn graphql_to(
    http: axum::Router,
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(t) = token {
        headers.push(("authorization", format!("Bearer {t}")));
    }
    post_graphql(http, &headers, body).await
}

/// [`graphql_to`] an app built with its own settings, with a key: the body.
pub async fn gql(
    http: &axum::Router,
    key: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    graphql_to(http.clone(), Some(key), query, variables)
        .await
        .1
}

/// The code of an answer's first error (empty when there is none).
pub fn error_code(v: &serde_json::Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// POSTs `body` to `/graphql` of `http` with these headers; the status and the JSON body
/// (`Null` when it is not JSON).
pub async fn post_graphql(
    http: axum::Router,
    headers: &[(&str, String)],
    body: impl Into<axum::body::Body>,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::post("/graphql");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = http
        .oneshot(req.body(body.into()).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A free TCP port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port()
}

/// One HTTP/1.1 request over a plain socket (the server is another process); returns the
/// status and the body (status 0 when nothing listens).
pub fn http(port: u16, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, Vec::new());
    };
    let req = format!(
        "{head}\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    let status = String::from_utf8_lossy(&out[9..12]).parse().unwrap_or(0);
    (status, out[split + 4..].to_vec())
}

/// A `logbook serve` process, killed on drop.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    /// Sends SIGTERM and asserts that the process exits 0 (not killed by the signal)
    /// within `within`.
    #[cfg(unix)]
    pub fn stop_cleanly(&mut self, within: std::time::Duration) {
        use std::os::unix::process::ExitStatusExt;
        let status = self.terminate(within);
        assert_eq!(
            (status.code(), status.signal()),
            (Some(0), None),
            "{status:?}"
        );
    }

    /// Sends SIGTERM (through the shell's own `kill`: no procps needed) and waits up to
    /// `within` for the process to end; its exit status.
    #[cfg(unix)]
    pub fn terminate(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = self.0.try_wait().expect("wait") {
                return s;
            }
            assert!(
                start.elapsed() < within,
                "still running {within:?} after SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Starts `logbook serve` on `port` over the database `url` with extra arguments, its
/// output discarded, and waits until it is ready.
pub fn serve(url: &str, port: u16, args: &[&str]) -> Server {
    serve_logged(url, port, args, &[], std::process::Stdio::null())
}

/// [`serve`] with environment variables and its stderr going to `stderr`.
pub fn serve_logged(
    url: &str,
    port: u16,
    args: &[&str],
    env: &[(&str, &str)],
    stderr: impl Into<std::process::Stdio>,
) -> Server {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(args)
        .env(
            "LOGBOOK_EVIDENCE_DIR",
            std::env::temp_dir().join(format!("logbook-evidence-{port}")),
        )
        .envs(env.iter().copied())
        .env("DATABASE_URL", url)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start logbook serve");
    // killed on drop, a failed wait included
    let server = Server(child);
    let start = std::time::Instant::now();
    while http(port, "GET /readyz HTTP/1.1", b"").0 != 200 {
        assert!(start.elapsed().as_secs() < 30, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    server
}
