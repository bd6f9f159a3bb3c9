//! `/graphql` over HTTP, as the GraphQL-over-HTTP specification (and the `graphql-http`
//! audits) ask: POST with `application/json` (or the multipart upload with its preflight
//! header), GET for queries only; the answer's media type negotiated from `Accept`
//! (`application/graphql-response+json` or `application/json`, JSON when `Accept` is absent
//! or `*/*`); a request that is not a well-formed GraphQL request is 400 whatever the media
//! type; a document that does not parse, validate or coerce its variables is 400 without
//! `data` in `application/graphql-response+json` and 200 in `application/json`. Every
//! request passes the same steps: key, body bounds, [`gate`], introspection policy, then
//! execution under the deadline (a light document on the async workers, any other off them).

use super::{AppState, Authenticated, authenticate, graphiql_page};
use crate::error::ApiError;
use crate::gate;
use crate::telemetry;
use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::OperationType;
use async_graphql::{ParseRequestError, Variables};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The media type an answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphQlResponse,
    /// `application/json`: the legacy type, 200 for every well-formed request.
    Json,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphQlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }
}

/// The media type `Accept` asks for: the supported type with the highest `q` (the first
/// listed among equals); JSON when there is no `Accept`, or it allows `*/*` or
/// `application/*`. `None` when it allows neither type.
pub fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(ACCEPT) else {
        return Some(Media::Json);
    };
    let Ok(accept) = accept.to_str() else {
        return Some(Media::Json);
    };
    if accept.trim().is_empty() {
        return Some(Media::Json);
    }
    let mut best: Option<(f32, Media)> = None;
    // at most 64 entries are looked at: an Accept header is bounded by hyper, but not short
    for entry in accept.split(',').take(64) {
        let mut parts = entry.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match essence.as_str() {
            "application/graphql-response+json" => Media::GraphQlResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

/// An error answer in `media`: `{"errors": [...]}` with the error's code (no `data`: the
/// request was not executed).
fn refusal(media: Media, status: StatusCode, e: &ApiError) -> Response {
    let message = match e {
        ApiError::Db(_) | ApiError::Internal(_) => {
            tracing::error!(error = %e, "internal error");
            "internal error".to_string()
        }
        other => other.to_string(),
    };
    let mut ext = Map::new();
    ext.insert("code".into(), e.code().into());
    if let ApiError::BadInput { field, .. } = e {
        ext.insert("field".into(), field.as_str().into());
    }
    if let ApiError::DocumentNotTrusted(_) = e {
        ext.insert("reason".into(), "DOCUMENT_NOT_TRUSTED".into());
    }
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": ext }] });
    json(media, status, &body)
}

fn json(media: Media, status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(CONTENT_TYPE, media.content_type())], bytes).into_response()
}

/// One GraphQL request as received: the operation (its query empty when only a hash was
/// sent), and `extensions.persistedQuery.sha256Hash` when given.
pub struct Received {
    /// The request.
    pub req: async_graphql::Request,
    /// The document's SHA-256, hex, lower case.
    pub persisted: Option<String>,
}

/// The parameters of one GraphQL request, checked: `query` a string (or absent when
/// `extensions.persistedQuery` names the document), `operationName` a string or null,
/// `variables` and `extensions` maps or null.
fn request_from_params(
    query: Option<Value>,
    operation_name: Option<Value>,
    variables: Option<Value>,
    extensions: Option<Value>,
) -> Result<Received, ApiError> {
    let persisted = match &extensions {
        None | Some(Value::Null) => None,
        Some(Value::Object(x)) => match x.get("persistedQuery") {
            None | Some(Value::Null) => None,
            Some(Value::Object(pq)) => {
                let hash = pq
                    .get("sha256Hash")
                    .and_then(Value::as_str)
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        ApiError::bad_input(
                            "extensions.persistedQuery",
                            "sha256Hash must be the document's SHA-256, 64 hex digits",
                        )
                    })?;
                Some(hash.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(ApiError::bad_input(
                    "extensions.persistedQuery",
                    "persistedQuery must be an object with sha256Hash",
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::bad_input(
                "extensions",
                "extensions must be an object or null",
            ));
        }
    };
    let query = match query {
        Some(Value::String(q)) => q,
        None | Some(Value::Null) if persisted.is_some() => String::new(),
        None | Some(Value::Null) => {
            return Err(ApiError::bad_input(
                "query",
                "the request has no query: send {\"query\": \"{ me { kind } }\"}",
            ));
        }
        Some(_) => return Err(ApiError::bad_input("query", "query must be a string")),
    };
    let mut req = async_graphql::Request::new(query);
    match operation_name {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => req = req.operation_name(name),
        Some(_) => {
            return Err(ApiError::bad_input(
                "operationName",
                "operationName must be a string or null",
            ));
        }
    }
    match variables {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => req = req.variables(Variables::from_json(v)),
        Some(_) => {
            return Err(ApiError::bad_input(
                "variables",
                "variables must be an object (a map of names to values) or null",
            ));
        }
    }
    Ok(Received { req, persisted })
}

/// A JSON body's request.
fn request_from_json(bytes: &[u8]) -> Result<Received, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_input(
            "request",
            "the request body is empty: send a JSON object with a query",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_input(
            "request",
            format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    match value {
        Value::Object(mut o) => request_from_params(
            o.remove("query"),
            o.remove("operationName"),
            o.remove("variables"),
            o.remove("extensions"),
        ),
        Value::Array(_) => Err(ApiError::LimitExceeded(
            "one operation per request: batches are not accepted".into(),
        )),
        _ => Err(ApiError::bad_input(
            "request",
            "the body must be a JSON object with a query",
        )),
    }
}

/// A GET request's parameters (`variables` and `extensions` as JSON text).
fn request_from_query_string(raw: &str) -> Result<Received, ApiError> {
    let mut params: Map<String, Value> = Map::new();
    for (k, v) in form_urlencoded_pairs(raw) {
        let value = match k.as_str() {
            "variables" | "extensions" => serde_json::from_str(&v)
                .map_err(|_| ApiError::bad_input(&k, format!("{k} must be URL-encoded JSON")))?,
            _ => Value::String(v),
        };
        params.insert(k, value);
    }
    request_from_params(
        params.remove("query"),
        params.remove("operationName"),
        params.remove("variables"),
        params.remove("extensions"),
    )
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
fn form_urlencoded_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// POST `/graphql`.
pub async fn post(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
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
        return refusal(media, StatusCode::UNSUPPORTED_MEDIA_TYPE, &e);
    }
    if multipart
        && headers
            .get("apollo-require-preflight")
            .is_none_or(|v| v.as_bytes().iter().all(u8::is_ascii_whitespace))
    {
        let e = ApiError::Forbidden(
            "a multipart request must carry a non-empty Apollo-Require-Preflight header (cross-site form posts are refused)".into(),
        );
        return refusal(media, StatusCode::BAD_REQUEST, &e);
    }
    // after the content checks: a cross-site form post is 415 whatever its key
    let key = match authenticate(&s, &headers).await {
        Ok(k) => k,
        Err((status, e)) => return refusal(media, status, &e),
    };
    let timeout = s.config.timeout;
    let (limit, arrival) = if multipart {
        (s.config.upload_limit, s.config.upload_timeout)
    } else {
        (s.config.body_limit, timeout)
    };
    let too_large = || {
        let e = ApiError::LimitExceeded(format!("the request is larger than {limit} bytes"));
        refusal(media, StatusCode::PAYLOAD_TOO_LARGE, &e)
    };
    let bytes = match tokio::time::timeout(arrival, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(),
        Err(_) => return timed_out(media, arrival),
    };
    let req = if multipart {
        let opts = MultipartOptions::default()
            .max_file_size(limit)
            .max_num_files(s.config.max_files);
        let parsed =
            async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), opts).await;
        let batch = match parsed {
            Ok(b) => b,
            Err(ParseRequestError::PayloadTooLarge) => return too_large(),
            Err(e) => {
                let e = ApiError::bad_input("request", e.to_string());
                return refusal(media, StatusCode::BAD_REQUEST, &e);
            }
        };
        let Ok(req) = batch.into_single() else {
            let e = ApiError::LimitExceeded(
                "one operation per request: batches are not accepted".into(),
            );
            return refusal(media, StatusCode::BAD_REQUEST, &e);
        };
        if req.uploads.len() > s.config.max_files {
            let e = ApiError::LimitExceeded(format!(
                "at most {} file(s) per upload request",
                s.config.max_files
            ));
            return refusal(media, StatusCode::PAYLOAD_TOO_LARGE, &e);
        }
        Received {
            req,
            persisted: None,
        }
    } else {
        match request_from_json(&bytes) {
            Ok(r) => r,
            Err(e) => return refusal(media, StatusCode::BAD_REQUEST, &e),
        }
    };
    let deadline = tokio::time::Instant::now() + timeout;
    match tokio::time::timeout_at(deadline, execute(&s, key, req, media, false, deadline)).await {
        Ok(r) => r,
        Err(_) => timed_out(media, timeout),
    }
}

/// GET `/graphql`: a query in the URL (`?query=…&variables=…`), never a mutation; with no
/// query, GraphiQL for a browser (one that accepts `text/html`).
pub async fn get(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
    let has_query = form_urlencoded_pairs(&raw)
        .iter()
        .any(|(k, _)| k == "query");
    if !has_query && wants_html {
        return graphiql_page(&s).into_response();
    }
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let key = match authenticate(&s, &headers).await {
        Ok(k) => k,
        Err((status, e)) => return refusal(media, status, &e),
    };
    let req = match request_from_query_string(&raw) {
        Ok(r) => r,
        Err(e) => return refusal(media, StatusCode::BAD_REQUEST, &e),
    };
    let timeout = s.config.timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    match tokio::time::timeout_at(deadline, execute(&s, key, req, media, true, deadline)).await {
        Ok(r) => r,
        Err(_) => timed_out(media, timeout),
    }
}

fn not_acceptable() -> Response {
    let e = ApiError::bad_input(
        "Accept",
        "/graphql answers application/graphql-response+json or application/json",
    );
    refusal(Media::Json, StatusCode::NOT_ACCEPTABLE, &e)
}

fn timed_out(media: Media, t: Duration) -> Response {
    let e = ApiError::LimitExceeded(format!(
        "the request took longer than {} s",
        t.as_secs_f64()
    ));
    refusal(media, StatusCode::REQUEST_TIMEOUT, &e)
}

/// The document a request runs: as sent, or stored and named by its hash. A key locked to
/// its trusted documents runs only those (sent in full or by hash); for other keys a hash
/// alone is not enough (this server keeps no documents for them), and a hash sent with a
/// document must be its hash.
async fn document(
    s: &AppState,
    key: i32,
    trusted_only: bool,
    received: Received,
) -> Result<async_graphql::Request, ApiError> {
    use crate::service::keys;
    let Received { mut req, persisted } = received;
    // hashed only when it matters: a locked key, or a hash to compare with
    let sent = (!req.query.is_empty() && (trusted_only || persisted.is_some()))
        .then(|| keys::document_hash(&req.query));
    if let (Some(sent), Some(named)) = (&sent, &persisted)
        && sent != named
    {
        return Err(ApiError::bad_input(
            "extensions.persistedQuery",
            "sha256Hash is not the SHA-256 of the query sent",
        ));
    }
    match (trusted_only, sent, persisted) {
        (false, _, _) if !req.query.is_empty() => Ok(req),
        (false, _, _) => Err(ApiError::PersistedQueryNotFound),
        (true, sent, persisted) => {
            let Some(sha) = sent.or(persisted) else {
                return Err(ApiError::bad_input("query", "the request has no query"));
            };
            match keys::document(&s.db, key, &sha).await? {
                Some(text) => {
                    req.query = text;
                    Ok(req)
                }
                None => Err(ApiError::DocumentNotTrusted(sha)),
            }
        }
    }
}

/// Runs the one operation of `req` for `p` (`get`: only a query may run) and answers in
/// `media`; records the operation's metrics and names it in the request's log line.
async fn execute(
    s: &AppState,
    key: Authenticated,
    received: Received,
    media: Media,
    get: bool,
    deadline: tokio::time::Instant,
) -> Response {
    let Authenticated {
        principal: p,
        charge,
        id,
        trusted_only,
    } = key;
    let started = Instant::now();
    let mut req = match document(s, id, trusted_only, received).await {
        Ok(req) => req,
        Err(e) => {
            let operation = telemetry::operation_label(None);
            telemetry::graphql_operation(&operation, "unknown", e.code(), started.elapsed());
            return refusal(media, e.status(), &e);
        }
    };
    let span = tracing::Span::current();
    span.record("principal", p.label().as_str());
    let shape = match gate::admit(&req.query, req.operation_name.as_deref(), &s.config.gate) {
        Ok(gate::Admitted { shape, document }) => {
            if let Some(document) = document {
                // parsed once: async-graphql still checks its depth and directives
                req.set_parsed_query(document);
            }
            shape
        }
        Err(e) => {
            let operation = telemetry::operation_label(req.operation_name.as_deref());
            span.record("operation", operation.as_str());
            tracing::info!(error = %e, "query refused at the gate");
            telemetry::graphql_operation(&operation, "unknown", e.code(), started.elapsed());
            return refusal(media, StatusCode::BAD_REQUEST, &e);
        }
    };
    let operation =
        telemetry::operation_label(req.operation_name.as_deref().or(shape.name.as_deref()));
    span.record("operation", operation.as_str());
    let kind = match shape.kind {
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        Some(OperationType::Query) => "query",
        None => "unknown",
    };
    if get
        && matches!(
            shape.kind,
            Some(OperationType::Mutation | OperationType::Subscription)
        )
    {
        let e = ApiError::bad_input("query", "GET runs queries only: send a mutation with POST");
        telemetry::graphql_operation(&operation, kind, e.code(), started.elapsed());
        let mut r = refusal(media, StatusCode::METHOD_NOT_ALLOWED, &e);
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if shape.introspects
        && let Err(e) = p.may_introspect(s.config.introspection)
    {
        telemetry::graphql_operation(&operation, kind, e.code(), started.elapsed());
        return refusal(media, e.status(), &e);
    }
    let mut req = crate::graphql::request(req, &s.db, p)
        .data(s.jobs.clone())
        .data(s.config.webhook_policy.clone())
        .data(s.config.overdue_rule())
        .data(s.config.evidence.clone())
        .data(charge);
    if !shape.introspects {
        // nothing the gate did not see may introspect either
        req = req.disable_introspection();
    }
    // validation runs synchronously inside `execute`: a light document (the gate measured
    // it) validates in well under a millisecond on the async worker; any other runs off the
    // async workers, so that no document holds one. The deadline stops execution at its
    // next await; an operation not yet started when it has passed is not started (a timer
    // fires on the runtime's next tick, by when a fast operation may have run whole).
    let timeout = s.config.timeout;
    if tokio::time::Instant::now() >= deadline {
        telemetry::graphql_operation(&operation, kind, "LIMIT_EXCEEDED", started.elapsed());
        return timed_out(media, timeout);
    }
    // either way a panic is an INTERNAL answer, not a dropped connection
    let run = if shape.light {
        use futures::FutureExt;
        std::panic::AssertUnwindSafe(tokio::time::timeout_at(deadline, s.schema.execute(req)))
            .catch_unwind()
            .await
            .map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|m| m.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                format!("it panicked: {message}")
            })
    } else {
        let (schema, handle) = (s.schema.clone(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || {
            handle.block_on(tokio::time::timeout_at(deadline, schema.execute(req)))
        })
        .await
        .map_err(|e| e.to_string())
    };
    let resp = match run {
        Ok(Ok(resp)) => resp,
        Ok(Err(_)) => {
            telemetry::graphql_operation(&operation, kind, "LIMIT_EXCEEDED", started.elapsed());
            return timed_out(media, timeout);
        }
        Err(e) => {
            telemetry::graphql_operation(&operation, kind, "INTERNAL", started.elapsed());
            let e = ApiError::Internal(format!("query execution failed: {e}"));
            return refusal(media, e.status(), &e);
        }
    };
    let code = resp
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .and_then(|c| match c {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| {
            if resp.errors.is_empty() {
                "OK".into()
            } else {
                "INTERNAL".into()
            }
        });
    telemetry::graphql_operation(&operation, kind, &code, started.elapsed());
    answer(media, resp)
}

/// An executed request's answer. A request error — the document did not parse or validate,
/// or a variable did not coerce: no data and no error on a field — has no `data` entry, and
/// is 400 in `application/graphql-response+json` (200 in `application/json`).
fn answer(media: Media, resp: async_graphql::Response) -> Response {
    /// The body, serialised straight from the response (no intermediate JSON tree).
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a async_graphql::Value>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        errors: &'a [async_graphql::ServerError],
        #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
    }
    let request_error = resp.data == async_graphql::Value::Null
        && !resp.errors.is_empty()
        && resp.errors.iter().all(|e| e.path.is_empty());
    // a key over its cost budget: 429, and when to retry
    let retry_after = resp.errors.iter().find_map(|e| {
        let x = e.extensions.as_ref()?;
        match (x.get("code"), x.get("retryAfter")) {
            (Some(async_graphql::Value::String(c)), Some(async_graphql::Value::Number(n)))
                if c == "RATE_LIMITED" =>
            {
                n.as_u64()
            }
            _ => None,
        }
    });
    let status = match (retry_after, request_error, media) {
        (Some(_), _, _) => StatusCode::TOO_MANY_REQUESTS,
        (None, true, Media::GraphQlResponse) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = Body {
        data: (!request_error).then_some(&resp.data),
        errors: &resp.errors,
        extensions: &resp.extensions,
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            let mut r = (status, [(CONTENT_TYPE, media.content_type())], bytes).into_response();
            if let Some(secs) = retry_after
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            r
        }
        Err(e) => {
            let e = ApiError::Internal(format!("serialising the response: {e}"));
            refusal(media, e.status(), &e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Option<Media> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).expect("header"));
        negotiate(&h)
    }

    #[test]
    fn accept_is_negotiated() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(accept("*/*"), Some(Media::Json));
        assert_eq!(
            accept("application/graphql-response+json"),
            Some(Media::GraphQlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Media::GraphQlResponse)
        );
        assert_eq!(
            accept("application/json;q=0.9, application/graphql-response+json"),
            Some(Media::GraphQlResponse)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Some(Media::Json)
        );
        assert_eq!(accept("text/html, */*;q=0.8"), Some(Media::Json));
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }

    #[test]
    fn parameters_are_checked() {
        let code = |body: &str| {
            request_from_json(body.as_bytes())
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(code(r#"{"query":"{ me { kind } }"}"#), None);
        assert_eq!(
            code(r#"{"query":"{ a }","variables":null,"operationName":null,"extensions":{"x":1}}"#),
            None
        );
        assert!(code("").expect("empty").contains("empty"));
        assert!(code("{ \"not a JSON").expect("bad").contains("not JSON"));
        assert!(
            code(r#"{"notquery":"{ a }"}"#)
                .expect("none")
                .contains("no query")
        );
        for bad in [r#"{"obj":"ect"}"#, "0", "false", r#"["array"]"#] {
            assert!(
                code(&format!(r#"{{"query":{bad}}}"#)).is_some(),
                "query {bad}"
            );
            assert!(
                code(&format!(r#"{{"query":"{{ a }}","operationName":{bad}}}"#)).is_some()
                    || bad.starts_with('{'),
                "operationName {bad}"
            );
        }
        for bad in [r#""string""#, "0", "false", r#"["array"]"#] {
            assert!(code(&format!(r#"{{"query":"{{ a }}","variables":{bad}}}"#)).is_some());
            assert!(code(&format!(r#"{{"query":"{{ a }}","extensions":{bad}}}"#)).is_some());
        }
        assert!(
            code(r#"[{"query":"{ a }"}]"#)
                .expect("batch")
                .contains("batches")
        );
    }

    #[test]
    fn get_parameters_are_decoded() {
        let req = request_from_query_string(
            "query=query%20T(%24n%3A%20String!)%20%7B%20__type(name%3A%20%24n)%20%7B%20name%20%7D%20%7D&variables=%7B%22n%22%3A%22Household%22%7D&operationName=T",
        )
        .expect("a request")
        .req;
        assert_eq!(
            req.query,
            "query T($n: String!) { __type(name: $n) { name } }"
        );
        assert_eq!(req.operation_name.as_deref(), Some("T"));
        assert!(request_from_query_string("query=%7B+a+%7D&variables=nope").is_err());
        assert!(request_from_query_string("variables=%7B%7D").is_err());
        // a stray % is kept, not a panic
        assert_eq!(
            request_from_query_string("query=%7B%20a%20%7D%")
                .expect("ok")
                .req
                .query,
            "{ a }%"
        );
    }
}
