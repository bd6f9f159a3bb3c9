//! The axum app: POST `/graphql` (bearer key → principal → request data), GET `/graphql`
//! (GraphiQL), `/healthz`, `/readyz`; tracing, request ids, compression, timeout, body limit.
//! Each request gets its own caching DataLoaders, bound to its principal.

use crate::error::ApiError;
use crate::graphql::AppSchema;
use crate::graphql::loaders::{
    AnalysisLoader, AreaLoader, CohortLoader, EntriesLoader, MembersLoader, ProblemsLoader, cached,
};
use crate::service::keys;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header::AUTHORIZATION};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Longest a request may take.
    pub timeout: Duration,
    /// Where GraphiQL's assets come from (a CDN by default; an intranet mirror otherwise).
    pub graphiql_cdn: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit: 1 << 20,
            timeout: Duration::from_secs(30),
            graphiql_cdn: None,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: DatabaseConnection,
    /// The schema.
    pub schema: AppSchema,
    /// HTTP settings.
    pub config: HttpConfig,
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
    let body_limit = state.config.body_limit;
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(state))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<axum::body::Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), uri = %req.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(Sequential::default()))
}

fn error_body(e: &ApiError) -> serde_json::Value {
    serde_json::json!({
        "data": null,
        "errors": [{ "message": e.to_string(), "extensions": { "code": e.code() } }]
    })
}

async fn graphql(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    req: GraphQLBatchRequest,
) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let principal = match token {
        Some(t) => keys::principal(&s.db, t).await,
        None => Ok(None),
    };
    let p = match principal {
        Ok(Some(p)) => p,
        Ok(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(error_body(&ApiError::Unauthenticated)),
            )
                .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "key lookup failed");
            let masked = serde_json::json!({"data": null, "errors": [{"message": "internal error", "extensions": {"code": "INTERNAL"}}]});
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(masked)).into_response();
        }
    };
    let Some(req) = req.into_inner().into_single().ok() else {
        let e =
            ApiError::LimitExceeded("one operation per request: batches are not accepted".into());
        return (StatusCode::BAD_REQUEST, Json(error_body(&e))).into_response();
    };
    tracing::debug!(graphql.principal = %p.label(), graphql.operation = ?req.operation_name, "request");
    let db = s.db.clone();
    let req = req
        .data(cached(AreaLoader(db.clone())))
        .data(cached(CohortLoader(db.clone())))
        .data(cached(MembersLoader(db.clone(), p.clone())))
        .data(cached(ProblemsLoader(db.clone(), p.clone())))
        .data(cached(EntriesLoader(db.clone(), p.clone())))
        .data(cached(AnalysisLoader(db, p.clone())))
        .data(p);
    let mut resp = s.schema.execute(req).await;
    for e in &mut resp.errors {
        coded(e);
    }
    GraphQLResponse::from(resp).into_response()
}

/// Gives errors raised by async-graphql itself (parsing, validation, limits) a stable code.
fn coded(e: &mut async_graphql::ServerError) {
    let has_code = e
        .extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some());
    if has_code {
        return;
    }
    let code = if e.message.contains("nested too deep") || e.message.contains("too complex") {
        "LIMIT_EXCEEDED"
    } else if e.path.is_empty() {
        // parse and validation errors of the document and its variables
        "BAD_USER_INPUT"
    } else {
        tracing::error!(error = %e.message, path = ?e.path, "unexpected resolver error");
        e.message = "internal error".into();
        "INTERNAL"
    };
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
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
