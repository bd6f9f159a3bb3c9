//! Logs and metrics for operators: the tracing subscriber (text or JSON lines on stderr,
//! colour only on a terminal) and the Prometheus recorder behind `/metrics` — requests by
//! route and status, GraphQL operations by name, type and code, import jobs by status, rows
//! imported, and the database pool. Every label's values are bounded: a client cannot grow
//! the set of series by inventing names.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;
use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (span fields included), for log collectors.
    Json,
}

/// Installs the process's log subscriber on stderr: `RUST_LOG` when set, else
/// `default_filter`; ANSI colour only when stderr is a terminal. A second call does nothing.
pub fn init_logs(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let done = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // already installed (a test, or a host program): keep that one
    let _ = done;
}

/// Seconds-buckets of request, operation and job durations.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The process's Prometheus recorder, installed on first use (one per process: the app,
/// tests, whatever builds it). `None` when another recorder was installed first.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(h) => {
                    describe();
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: another recorder is installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "logbook_http_requests_total",
        "HTTP requests by route, method and status"
    );
    describe_histogram!(
        "logbook_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by route and method"
    );
    describe_counter!(
        "logbook_graphql_operations_total",
        "GraphQL operations by name, type and outcome code (OK when no error)"
    );
    describe_histogram!(
        "logbook_graphql_operation_duration_seconds",
        Unit::Seconds,
        "GraphQL operation latency by name and type"
    );
    describe_counter!(
        "logbook_import_jobs_total",
        "Import jobs finished, by end status"
    );
    describe_histogram!(
        "logbook_import_job_duration_seconds",
        Unit::Seconds,
        "Import job run time by end status"
    );
    describe_counter!(
        "logbook_import_rows_total",
        "Workbook rows of finished import jobs, by outcome"
    );
    describe_counter!(
        "logbook_webhook_attempts_total",
        "Webhook delivery attempts, by outcome (2xx, 4xx, 5xx, other answers, no_answer)"
    );
    describe_gauge!(
        "logbook_db_pool_connections",
        "Database pool connections by state (in_use, idle, max)"
    );
}

/// Runs the recorder's upkeep (it drains histogram samples) every few seconds; never
/// returns. Without it, samples would pile up between scrapes.
pub async fn upkeep() {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        if let Some(h) = metrics() {
            h.run_upkeep();
        }
    }
}

/// The metrics page: the pool's gauges read now, then every series in Prometheus' text
/// format. Empty when metrics are off.
pub fn render(db: &DatabaseConnection) -> String {
    let Some(h) = metrics() else {
        return String::new();
    };
    if let Some(pool) = entity::db::pool_state(db) {
        let g = |state: &'static str, v: u32| {
            metrics::gauge!("logbook_db_pool_connections", "state" => state).set(f64::from(v));
        };
        g("in_use", pool.in_use);
        g("idle", pool.idle);
        g("max", pool.max);
    }
    h.render()
}

/// The route a path belongs to, as a metrics label: one of the app's routes, or `other`
/// (a scanner's made-up paths do not each become a series).
pub fn route(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/graphql" => "/graphql",
        "/metrics" => "/metrics",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/template.xlsx" => "/template.xlsx",
        "/dashboard.svg" => "/dashboard.svg",
        "/reports/monthly.xlsx" => "/reports/monthly.xlsx",
        p if p.starts_with("/batches/") && p.ends_with("/errors.xlsx") => {
            "/batches/{id}/errors.xlsx"
        }
        p if p.starts_with("/graphiql/") => "/graphiql/{asset}",
        p if p.starts_with("/exports/") => "/exports/{id}/{file}",
        _ => "other",
    }
}

/// Records one HTTP request.
pub fn http_request(route: &'static str, method: &str, status: u16, latency: Duration) {
    let method = match method {
        "GET" => "GET",
        "POST" => "POST",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        _ => "other",
    };
    metrics::counter!("logbook_http_requests_total", "route" => route, "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("logbook_http_request_duration_seconds", "route" => route, "method" => method)
        .record(latency.as_secs_f64());
}

/// Most distinct operation names kept as labels; later names count as `_other`.
const MAX_OPERATION_NAMES: usize = 200;

/// An operation name as a metrics label: a GraphQL name of at most 64 characters among the
/// first [`MAX_OPERATION_NAMES`] seen, `_anonymous`, or `_other`.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "_anonymous".into();
    };
    let valid = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return "_other".into();
    }
    let Ok(mut seen) = SEEN.get_or_init(Mutex::default).lock() else {
        return "_other".into();
    };
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_string());
        name.to_string()
    } else {
        "_other".into()
    }
}

/// Records one GraphQL operation: its label, `query`/`mutation`, and `OK` or the first
/// error's code.
pub fn graphql_operation(operation: &str, kind: &'static str, code: &str, latency: Duration) {
    metrics::counter!("logbook_graphql_operations_total", "operation" => operation.to_string(), "type" => kind, "code" => code.to_string())
        .increment(1);
    metrics::histogram!("logbook_graphql_operation_duration_seconds", "operation" => operation.to_string(), "type" => kind)
        .record(latency.as_secs_f64());
}

/// Records a finished import job: its end status, run time and rows by outcome.
pub fn import_job(status: &'static str, took: Duration, rows: &[(&'static str, u64)]) {
    metrics::counter!("logbook_import_jobs_total", "status" => status).increment(1);
    metrics::histogram!("logbook_import_job_duration_seconds", "status" => status)
        .record(took.as_secs_f64());
    for (outcome, n) in rows {
        metrics::counter!("logbook_import_rows_total", "outcome" => *outcome).increment(*n);
    }
}

/// Counts a webhook attempt by the receiver's answer (its class; `no_answer` without one).
pub fn webhook_attempt(response: Option<i32>) {
    let outcome = match response {
        Some(200..=299) => "2xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
        None => "no_answer",
    };
    metrics::counter!("logbook_webhook_attempts_total", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(
            route("/batches/12/errors.xlsx"),
            "/batches/{id}/errors.xlsx"
        );
        assert_eq!(route("/wp-admin/setup.php"), "other");
        assert_eq!(operation_label(None), "_anonymous");
        assert_eq!(operation_label(Some("Households")), "Households");
        assert_eq!(operation_label(Some("a b")), "_other");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "_other");
        for i in 0..(MAX_OPERATION_NAMES + 50) {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("NeverSeenBefore")), "_other");
        // a name seen before the cap keeps its label
        assert_eq!(operation_label(Some("Households")), "Households");
    }
}
