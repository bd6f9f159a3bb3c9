//! The axum app: POST `/graphql` (bearer key → principal → request data), GET `/graphql`
//! (GraphiQL), `/healthz`, `/readyz`; tracing, request ids, compression, timeout, body limit.
//! Each request is built by [`crate::graphql::request`]: its own caching DataLoaders, bound
//! to its principal.

use crate::access::Principal;
use crate::error::ApiError;
use crate::gate::{self, GateLimits};
use crate::graphql::AppSchema;
use crate::jobs::Jobs;
use crate::service::{self, keys};
use crate::web;
use async_graphql::ParseRequestError;
use async_graphql::http::GraphiQLSource;
use async_graphql::http::MultipartOptions;
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

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
    /// Where GraphiQL's assets come from (a CDN by default; an intranet mirror otherwise).
    pub graphiql_cdn: Option<String>,
    /// What a GraphQL document may cost before it is parsed and validated.
    pub gate: GateLimits,
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
}

/// Request ids `req-1`, `req-2`, … for logs and the `x-request-id` header.
#[derive(Clone, Default)]
struct Sequential(Arc<AtomicU64>);

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        HeaderValue::from_str(&format!("req-{n}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Builds the app (no socket; tests call it in-process).
pub fn app(state: AppState) -> Router {
    let timeout = state.config.timeout;
    let state = Arc::new(state);
    // everything but POST /graphql is cut off by a layer; POST /graphql times itself, since
    // an upload over a slow district line may take longer to arrive than a query to run
    let timed = Router::new()
        .route("/graphql", get(graphiql))
        .route("/batches/{id}/errors.xlsx", get(error_workbook))
        .route("/", get(|| async { Html(web::INDEX_HTML) }))
        .route("/template.xlsx", get(template))
        .route("/dashboard.svg", get(dashboard))
        .route("/reports/monthly.xlsx", get(monthly_report))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ));
    Router::new()
        .route("/graphql", post(graphql))
        .merge(timed)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<axum::body::Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), uri = %req.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(Sequential::default()))
}

fn refuse(status: StatusCode, e: ApiError) -> Response {
    (status, e).into_response()
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> Response {
    ApiError::Internal(format!("{what}: {e}")).into_response()
}

/// The principal of a request's bearer key (the scheme is case-insensitive, RFC 9110
/// §11.1): `UNAUTHENTICATED` without a valid key, 408 when the lookup takes longer than
/// [`AUTH_TIMEOUT`].
async fn authenticate(s: &AppState, headers: &HeaderMap) -> Result<Principal, Response> {
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
    let Some(token) = token else {
        return Err(ApiError::Unauthenticated.into_response());
    };
    match tokio::time::timeout(AUTH_TIMEOUT, keys::principal(&s.db, token)).await {
        Ok(Ok(Some(p))) => Ok(p),
        Ok(Ok(None)) => Err(ApiError::Unauthenticated.into_response()),
        Ok(Err(e)) => Err(internal("key lookup failed", &e)),
        Err(_) => Err(refuse(
            StatusCode::REQUEST_TIMEOUT,
            ApiError::LimitExceeded(format!(
                "the key lookup took longer than {} s",
                AUTH_TIMEOUT.as_secs()
            )),
        )),
    }
}

/// Handlers that need a key take the [`Principal`] as an argument.
impl axum::extract::FromRequestParts<Arc<AppState>> for Principal {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        s: &Arc<AppState>,
    ) -> Result<Self, Response> {
        authenticate(s, &parts.headers).await
    }
}

async fn graphql(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let essence = content_type.as_deref().map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let multipart = essence.as_deref() == Some("multipart/form-data");
    if !multipart && essence.as_deref() != Some("application/json") {
        // text/plain and form posts are what a cross-site page can send without a
        // preflight: only JSON (and the multipart upload, with its header) is executed
        let e = ApiError::bad_input(
            "Content-Type",
            "POST /graphql takes application/json (or multipart/form-data for an upload)",
        );
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, e);
    }
    if multipart
        && headers
            .get("apollo-require-preflight")
            .is_none_or(|v| v.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        let e = ApiError::Forbidden(
            "a multipart request must carry a non-empty Apollo-Require-Preflight header (cross-site form posts are refused)".into(),
        );
        return refuse(StatusCode::BAD_REQUEST, e);
    }
    let timed_out = |t: Duration| {
        let e = ApiError::LimitExceeded(format!(
            "the request took longer than {} s",
            t.as_secs_f64()
        ));
        refuse(StatusCode::REQUEST_TIMEOUT, e)
    };
    let timeout = s.config.timeout;
    // after the content checks: a cross-site form post is 415 whatever its key
    let p = match authenticate(&s, &headers).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (limit, arrival) = if multipart {
        (s.config.upload_limit, s.config.upload_timeout)
    } else {
        (s.config.body_limit, timeout)
    };
    let too_large = || {
        let e = ApiError::LimitExceeded(format!("the request is larger than {limit} bytes"));
        refuse(StatusCode::PAYLOAD_TOO_LARGE, e)
    };
    let bytes = match tokio::time::timeout(arrival, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(),
        Err(_) => return timed_out(arrival),
    };
    match tokio::time::timeout(
        timeout,
        execute(&s, p, content_type, bytes, limit, too_large),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => timed_out(timeout),
    }
}

/// Parses the received body and runs the one operation in it for `p`.
async fn execute(
    s: &AppState,
    p: Principal,
    content_type: Option<String>,
    bytes: axum::body::Bytes,
    limit: usize,
    too_large: impl Fn() -> Response,
) -> Response {
    let opts = MultipartOptions::default()
        .max_file_size(limit)
        .max_num_files(s.config.max_files);
    let batch =
        match async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), opts).await {
            Ok(b) => b,
            Err(ParseRequestError::PayloadTooLarge) => return too_large(),
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    ApiError::bad_input("request", e.to_string()),
                );
            }
        };
    let Ok(req) = batch.into_single() else {
        let e =
            ApiError::LimitExceeded("one operation per request: batches are not accepted".into());
        return refuse(StatusCode::BAD_REQUEST, e);
    };
    if req.uploads.len() > s.config.max_files {
        let e = ApiError::LimitExceeded(format!(
            "at most {} file(s) per upload request",
            s.config.max_files
        ));
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, e);
    }
    if let Err(e) = gate::check(&req.query, &s.config.gate) {
        tracing::info!(graphql.principal = %p.label(), error = %e, "query refused at the gate");
        return refuse(StatusCode::BAD_REQUEST, e);
    }
    tracing::debug!(graphql.principal = %p.label(), graphql.operation = ?req.operation_name, "request");
    let req = crate::graphql::request(req, &s.db, p).data(s.jobs.clone());
    // validation runs synchronously inside `execute`: off the async workers, so that no
    // document holds a worker; the deadline stops execution at its next await
    let (schema, handle, timeout) = (
        s.schema.clone(),
        tokio::runtime::Handle::current(),
        s.config.timeout,
    );
    let run = tokio::task::spawn_blocking(move || {
        handle.block_on(tokio::time::timeout(timeout, schema.execute(req)))
    });
    let resp = match run.await {
        Ok(Ok(resp)) => resp,
        Ok(Err(_)) => {
            let e = ApiError::LimitExceeded(format!(
                "the request took longer than {} s",
                timeout.as_secs_f64()
            ));
            return refuse(StatusCode::REQUEST_TIMEOUT, e);
        }
        Err(e) => return internal("query execution failed", &e),
    };
    GraphQLResponse::from(resp).into_response()
}

async fn graphiql(State(s): State<Arc<AppState>>) -> Html<String> {
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("logbook GraphQL")
        .finish();
    if let Some(cdn) = &s.config.graphiql_cdn {
        page = page.replace("https://unpkg.com", cdn.trim_end_matches('/'));
    }
    Html(page)
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

/// GET `/reports/monthly.xlsx?month=YYYY-MM`: the monthly report over what the key may see.
async fn monthly_report(
    State(s): State<Arc<AppState>>,
    p: Principal,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let month = q.get("month").map(String::as_str).unwrap_or("");
    match web::monthly_report(&s.db, &p, month).await {
        Ok(bytes) => xlsx(&format!("logbook-report-{month}.xlsx"), bytes),
        Err(e @ ApiError::BadInput { .. }) => e.into_response(),
        Err(e) => internal("monthly report", &e),
    }
}
