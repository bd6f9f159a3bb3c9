//! The axum app: `/graphql` ([`graphql`]: GraphQL over HTTP, and GraphiQL for a browser),
//! the staff page and its downloads, `/healthz`, `/readyz`, `/metrics`; around them one
//! access-log line and the metrics of every request, request ids (UUIDs, a caller's own kept
//! when sane), CORS for the origins configured, compression and time limits.

mod graphiql;
mod graphql;

use crate::access::{IntrospectionPolicy, Principal};
use crate::error::ApiError;
use crate::gate::GateLimits;
use crate::graphql::AppSchema;
use crate::jobs::Jobs;
use crate::service::{self, keys};
use crate::{telemetry, web};
use axum::Router;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

pub use graphql::{Media, negotiate};

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body, bytes (GraphQL JSON).
    pub body_limit: usize,
    /// Largest upload request (multipart), bytes.
    pub upload_limit: usize,
    /// Most files in one upload request.
    pub max_files: usize,
    /// Longest an operation may take to be parsed, validated and run (an upload: once it
    /// has arrived); the key lookup before it has its own bound, [`AUTH_TIMEOUT`].
    pub timeout: Duration,
    /// Longest an upload may take to arrive.
    pub upload_timeout: Duration,
    /// A mirror of unpkg.com GraphiQL's assets come from, instead of logbook's own copy.
    pub graphiql_cdn: Option<String>,
    /// What a GraphQL document may cost before it is parsed and validated.
    pub gate: GateLimits,
    /// Who may introspect the schema.
    pub introspection: IntrospectionPolicy,
    /// Web origins whose pages may call the API from a browser (none: no cross-origin
    /// access). Each is checked by [`cors_origin`].
    pub cors_origins: Vec<HeaderValue>,
    /// Serve `/metrics`.
    pub metrics: bool,
    /// Each key's cost budget per minute unless the key has its own (0: no budgets).
    pub cost_budget_per_minute: u64,
    /// Where a new webhook may point (the server's [`crate::WebhookConfig`] sets it).
    pub webhook_policy: crate::delivery::Policy,
    /// Days a problem may stay not started after it was recorded before it is overdue.
    pub overdue_days: u32,
    /// The day requests run as (tests fix it); today when none.
    pub today: Option<chrono::NaiveDate>,
    /// Where evidence photos are kept (none: photos are not taken).
    pub evidence: Option<crate::evidence::EvidenceStore>,
    /// The map's tile server, `https://…/{z}/{x}/{y}.png` (see [`web::tile_url`]).
    pub map_tiles: String,
}

impl HttpConfig {
    /// The overdue rule of a request now.
    pub fn overdue_rule(&self) -> crate::service::follow_up::OverdueRule {
        crate::service::follow_up::OverdueRule {
            today: self
                .today
                .unwrap_or_else(|| chrono::Local::now().date_naive()),
            days: self.overdue_days,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 1 << 20,
            upload_limit: 25 << 20,
            max_files: 1,
            timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            graphiql_cdn: None,
            gate: GateLimits::default(),
            introspection: IntrospectionPolicy::default(),
            cors_origins: Vec::new(),
            metrics: true,
            cost_budget_per_minute: 2_000_000,
            webhook_policy: crate::delivery::Policy::default(),
            overdue_days: 30,
            today: None,
            evidence: None,
            map_tiles: web::DEFAULT_TILES.to_string(),
        }
    }
}

/// Longest the bearer key's lookup may take (one indexed read: past this the database is
/// unwell, and the request is answered 408 rather than held).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: DatabaseConnection,
    /// The schema.
    pub schema: AppSchema,
    /// HTTP settings.
    pub config: HttpConfig,
    /// The import queue uploads go to.
    pub jobs: Jobs,
    /// The keys' cost budgets (this server's buckets).
    pub budgets: crate::budget::Budgets,
}

/// A web origin as `--cors-origin` takes it: `scheme://host[:port]`, http or https, no
/// path; `*` is refused (name each origin).
pub fn cors_origin(origin: &str) -> Result<HeaderValue, String> {
    let o = origin.trim().trim_end_matches('/');
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or_else(|| format!("\"{origin}\" is not an origin: write it as https://host[:port]"))?;
    let host_ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !host_ok {
        return Err(format!(
            "\"{origin}\" is not an origin: only scheme, host and port (no path, no *)"
        ));
    }
    HeaderValue::from_str(&o.to_ascii_lowercase()).map_err(|e| format!("\"{origin}\": {e}"))
}

/// The CORS layer for the configured origins: GET and POST with the headers the API reads,
/// `x-request-id` exposed, never credentials (keys travel in `Authorization`).
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            axum::http::header::ACCEPT,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}

/// Keeps a caller's `x-request-id` only when it is a sane id (1–128 of `A-Z a-z 0-9 . _ : -`):
/// anything else is dropped, and the request gets a UUID.
async fn sane_request_id(mut req: Request<axum::body::Body>) -> Request<axum::body::Body> {
    let sane = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
    };
    if req.headers().get("x-request-id").is_some_and(|v| !sane(v)) {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// Builds the app (no socket; tests call it in-process).
pub fn app(state: AppState) -> Router {
    let timeout = state.config.timeout;
    let metrics = state.config.metrics;
    let origins = state.config.cors_origins.clone();
    let state = Arc::new(state);
    // everything but /graphql is cut off by a layer; /graphql times itself, since an upload
    // over a slow district line may take longer to arrive than a query to run
    let mut timed = Router::new()
        .route("/batches/{id}/errors.xlsx", get(error_workbook))
        .route("/", get(index))
        .route("/leaflet/{asset}", get(leaflet_asset))
        .route("/map/households.json", get(map_households))
        .route("/template.xlsx", get(template))
        .route("/dashboard.svg", get(dashboard))
        .route("/reports/monthly.xlsx", get(monthly_report))
        .route("/reports/funds.xlsx", get(fund_report))
        .route("/reports/period.xlsx", get(period_report))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/exports/{id}/{file}", get(export_file))
        .route("/evidence/{id}", get(evidence_photo))
        .route("/evidence/{id}/thumb", get(evidence_thumb))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if metrics {
        telemetry::metrics();
        timed = timed.route("/metrics", get(metrics_page));
    }
    let timed = timed.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        timeout,
    ));
    let mut app = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .merge(timed)
        .with_state(state)
        .layer(CompressionLayer::new());
    if !origins.is_empty() {
        app = app.layer(cors(&origins));
    }
    app.layer(PropagateRequestIdLayer::x_request_id())
        .layer(axum::middleware::from_fn(observe))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(sane_request_id))
}

/// Runs a request in its span (method, path, request id; the GraphQL handler adds the
/// operation and principal), then writes its one access-log line at `info` (target
/// `access`: status and latency) and records its metrics.
async fn observe(req: Request<axum::body::Body>, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let route = telemetry::route(req.uri().path());
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let span = tracing::info_span!(
        "http",
        method = %method,
        path = %req.uri().path(),
        request_id = %id,
        operation = tracing::field::Empty,
        principal = tracing::field::Empty,
    );
    let started = Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = res.status().as_u16();
    telemetry::http_request(route, method.as_str(), status, latency);
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            status,
            latency_ms = (latency.as_secs_f64() * 100_000.0).round() / 100.0,
            "request"
        );
    });
    res
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> Response {
    ApiError::Internal(format!("{what}: {e}")).into_response()
}

/// The principal of a request's bearer key (the scheme is case-insensitive, RFC 9110
/// §11.1): `UNAUTHENTICATED` without a valid key, 408 when the lookup takes longer than
/// [`AUTH_TIMEOUT`].
async fn authenticate(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<Authenticated, (StatusCode, ApiError)> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let v = v.trim_start();
            let (scheme, rest) = v.split_at(v.find(' ')?);
            scheme.eq_ignore_ascii_case("bearer").then_some(rest)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let unauthenticated = || (StatusCode::UNAUTHORIZED, ApiError::Unauthenticated);
    let Some(token) = token else {
        return Err(unauthenticated());
    };
    match tokio::time::timeout(AUTH_TIMEOUT, keys::lookup(&s.db, token)).await {
        Ok(Ok(Some(key))) => {
            // beside the request, never in its way (on SQLite an import may hold the write
            // lock for seconds)
            if keys::due_for_mark(&key.token_hash) {
                let (db, hashed, id) = (s.db.clone(), key.token_hash.clone(), key.id);
                tokio::spawn(async move {
                    if let Err(e) = keys::mark_used(&db, &hashed).await {
                        tracing::warn!(key = id, error = %e, "could not note the key's last use");
                    }
                });
            }
            // the key's own budget, else the server's (0: none)
            let per_minute = key
                .budget_per_minute
                .and_then(|b| u64::try_from(b).ok())
                .unwrap_or(s.config.cost_budget_per_minute);
            Ok(Authenticated {
                id: key.id,
                trusted_only: key.trusted_only,
                principal: key.principal,
                charge: std::sync::Arc::new(crate::budget::Charge::new(
                    &s.budgets,
                    key.token_hash,
                    per_minute,
                )),
            })
        }
        Ok(Ok(None)) => Err(unauthenticated()),
        Ok(Err(e)) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Internal(format!("key lookup failed: {e}")),
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            ApiError::LimitExceeded(format!(
                "the key lookup took longer than {} s",
                AUTH_TIMEOUT.as_secs()
            )),
        )),
    }
}

/// A request's key: who it is, and the charge against its cost budget.
pub(crate) struct Authenticated {
    /// The key's id.
    pub(crate) id: i32,
    /// It runs only its trusted documents.
    pub(crate) trusted_only: bool,
    /// Who.
    pub(crate) principal: Principal,
    /// What its GraphQL request is charged.
    pub(crate) charge: std::sync::Arc<crate::budget::Charge>,
}

/// Handlers that need a key take the [`Principal`] as an argument.
impl axum::extract::FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &Arc<AppState>,
    ) -> Result<Self, Response> {
        authenticate(s, &parts.headers)
            .await
            .map(|a| a.principal)
            .map_err(IntoResponse::into_response)
    }
}

/// GraphiQL, its assets from `--graphiql-cdn` when given.
fn graphiql_page(s: &AppState) -> Html<String> {
    graphiql::page(s.config.graphiql_cdn.as_deref())
}

/// GET `/metrics`: Prometheus' text format.
async fn metrics_page(State(s): State<Arc<AppState>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        telemetry::render(&s.db),
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    match s.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database not reachable").into_response()
        }
    }
}

/// GET `/batches/{id}/errors.xlsx`: a rejected upload's error workbook, for a key that may
/// see the batch.
async fn error_workbook(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Path(id): Path<i32>,
) -> Response {
    match service::imports::error_workbook(&s.db, &p, id).await {
        Ok(Some(bytes)) => xlsx(&format!("errors-batch-{id}.xlsx"), bytes),
        Ok(None) => ApiError::NotFound(format!("error workbook of batch {id}")).into_response(),
        Err(e) => internal("error workbook", &e),
    }
}

fn xlsx(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, web::XLSX.to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// GET `/exports/{id}/{file}`: one file of a done export, for the key that asked for it,
/// streamed from disk.
async fn export_file(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Path((id, file)): Path<(i32, String)>,
) -> Response {
    use crate::service::exports;
    let not_found = || ApiError::NotFound(format!("export file {id}/{file}")).into_response();
    let Some(key) = p.key_id() else {
        return not_found();
    };
    let job = match exports::get(&s.db, key, id).await {
        Ok(Some(j)) if j.status == "done" => j,
        Ok(_) => return not_found(),
        Err(e) => return internal("export", &e),
    };
    let Some(kind) = exports::kinds(&job)
        .into_iter()
        .find(|k| exports::file_name(*k, &job) == file)
    else {
        return not_found();
    };
    let path = s.jobs.config().exports.path(&job, kind);
    match tokio::fs::File::open(&path).await {
        Ok(f) => (
            [
                (CONTENT_TYPE, "application/gzip".to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!("attachment; filename=\"export-{id}-{file}\""),
                ),
            ],
            axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(f)),
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

/// GET `/evidence/{id}`: a photo, for a key that may see its entry and its household's
/// personal data (404 otherwise, as for one that does not exist).
async fn evidence_photo(s: State<Arc<AppState>>, p: Principal, id: Path<i32>) -> Response {
    evidence_object(s, p, id, false).await
}

/// GET `/evidence/{id}/thumb`: its thumbnail (JPEG), on the same terms.
async fn evidence_thumb(s: State<Arc<AppState>>, p: Principal, id: Path<i32>) -> Response {
    evidence_object(s, p, id, true).await
}

async fn evidence_object(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Path(id): Path<i32>,
    thumb: bool,
) -> Response {
    let not_found = || ApiError::NotFound(format!("evidence {id}")).into_response();
    let Some(store) = &s.config.evidence else {
        return not_found();
    };
    let row = match service::evidence::visible(&s.db, &p, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => return internal("evidence", &e),
    };
    let (key, media) = if thumb {
        (&row.thumb_key, "image/jpeg")
    } else {
        (&row.object_key, row.media_type.as_str())
    };
    match store.get(key).await {
        Ok(got) => (
            [
                (CONTENT_TYPE, media.to_string()),
                // personal data: kept by the browser only, never by a shared cache
                (
                    axum::http::header::CACHE_CONTROL,
                    "private, max-age=3600".to_string(),
                ),
                (
                    axum::http::header::X_CONTENT_TYPE_OPTIONS,
                    "nosniff".to_string(),
                ),
            ],
            axum::body::Body::from_stream(got.into_stream()),
        )
            .into_response(),
        Err(object_store::Error::NotFound { .. }) => {
            tracing::warn!(evidence = id, key, "a stored photo's object is missing");
            not_found()
        }
        Err(e) => ApiError::StorageUnavailable(e.to_string()).into_response(),
    }
}

/// GET `/`: the staff page, with the map's tile server.
async fn index(State(s): State<Arc<AppState>>) -> Html<String> {
    Html(web::index_html(&s.config.map_tiles))
}

/// A file vendored from npm and embedded in the binary: name, content type, bytes.
pub type Asset = (&'static str, &'static str, &'static [u8]);

/// Serves `name` from a vendored set (no key: such files hold no data), cached a day; a name
/// that is not one of them is NOT_FOUND.
fn vendored(assets: &[Asset], what: &str, name: &str) -> Response {
    match assets.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (CONTENT_TYPE, *content_type),
                (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => ApiError::NotFound(format!("{what} asset {name}")).into_response(),
    }
}

/// Checks vendored files against the `SHA256SUMS` their script wrote.
#[cfg(test)]
pub(crate) fn assert_vendored(sums: &str, assets: &[Asset]) {
    use sha2::{Digest, Sha256};
    for (name, _, bytes) in assets {
        let line = sums
            .lines()
            .find(|l| l.ends_with(&format!("  {name}")))
            .unwrap_or_else(|| panic!("{name} is not in SHA256SUMS"));
        assert_eq!(
            &line[..64],
            hex::encode(Sha256::digest(bytes)),
            "{name} differs from what its vendor script recorded"
        );
    }
}

/// GET `/leaflet/{asset}`: Leaflet's script or stylesheet.
async fn leaflet_asset(Path(name): Path<String>) -> Response {
    vendored(&web::LEAFLET, "leaflet", &name)
}

/// GET `/map/households.json[?area=CODE]`: the map's points, for what the key may see.
async fn map_households(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match web::map_data(&s.db, &p, q.get("area").map(String::as_str)).await {
        Ok(d) => axum::Json(d).into_response(),
        Err(e @ ApiError::BadInput { .. }) => e.into_response(),
        Err(e) => internal("map", &e),
    }
}

/// GET `/template.xlsx`: the blank workbook (no key needed; it holds no data).
async fn template() -> Response {
    match importer::template::template() {
        Ok(bytes) => xlsx("logbook-template.xlsx", bytes),
        Err(e) => internal("template", &e),
    }
}

/// GET `/dashboard.svg[?lang=en]`: the chart of problems the key may see.
async fn dashboard(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let english = q.get("lang").is_some_and(|l| l == "en");
    match web::dashboard_svg(&s.db, &p, english).await {
        Ok(svg) => ([(CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response(),
        Err(e) => internal("dashboard", &e),
    }
}

/// GET `/reports/period.xlsx?quarter=2566Q1` or `?fiscalYear=2566`: the quarterly or
/// fiscal-year report over what the key may see.
async fn period_report(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let quarter = q.get("quarter").map(String::as_str);
    let year = q.get("fiscalYear").map(String::as_str);
    match web::period_report(&s.db, &p, quarter, year).await {
        Ok((key, bytes)) => xlsx(&format!("logbook-report-{key}.xlsx"), bytes),
        Err(e @ ApiError::BadInput { .. }) => e.into_response(),
        Err(e) => internal("period report", &e),
    }
}

/// GET `/reports/funds.xlsx[?asOf=YYYY-MM-DD][&area=CODE]`: the fund report over the funds
/// the key may see.
async fn fund_report(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let as_of = q.get("asOf").map(String::as_str);
    let area = q.get("area").map(String::as_str);
    match web::fund_report(&s.db, &p, as_of, area).await {
        Ok((day, bytes)) => xlsx(&format!("logbook-funds-{day}.xlsx"), bytes),
        Err(e @ ApiError::BadInput { .. }) => e.into_response(),
        Err(e) => internal("fund report", &e),
    }
}

/// GET `/reports/monthly.xlsx?month=YYYY-MM`: the monthly report over what the key may see.
async fn monthly_report(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let month = q.get("month").map(String::as_str).unwrap_or("");
    match web::monthly_report(&s.db, &p, month, s.config.overdue_days).await {
        Ok(bytes) => xlsx(&format!("logbook-report-{month}.xlsx"), bytes),
        Err(e @ ApiError::BadInput { .. }) => e.into_response(),
        Err(e) => internal("monthly report", &e),
    }
}
