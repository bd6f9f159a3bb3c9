//! `/graphql` as every standard client and operator expects it: GraphQL over HTTP (media
//! types, status codes, GET for queries only), the introspection policy, CORS for the
//! configured origins only, request ids, and the Prometheus metrics — on both databases.

use crate::helpers::{TestApp, request};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use serde_json::{Value, json};

const GQL: &str = "application/graphql-response+json";

/// A request without a body.
async fn bodiless(
    http: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    request(http, method, uri, headers, axum::body::Body::empty()).await
}

fn body_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// POSTs `body` to /graphql with the key, `Accept` (if any) and JSON content type.
async fn post(
    app: &TestApp,
    token: &str,
    accept: Option<&str>,
    body: &str,
) -> (u16, String, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    if let Some(a) = accept {
        headers.push(("accept", a));
    }
    let (status, h, bytes) =
        request(app.http(), "POST", "/graphql", &headers, body.to_string()).await;
    let ct = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, body_json(&bytes))
}

async fn graphql_over_http_answers_as_the_specification_asks(app: TestApp) {
    let key = app.key(KeyScope::District("3318".into())).await;
    let q = |query: &str| json!({ "query": query }).to_string();

    // media types: as asked, JSON when Accept is missing or */*
    let (s, ct, v) = post(&app, &key, Some(GQL), &q("{ me { kind } }")).await;
    assert_eq!((s, ct.starts_with(GQL)), (200, true), "{ct}");
    assert_eq!(v["data"]["me"]["kind"], "DISTRICT");
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("text/html, */*;q=0.8"),
    ] {
        let (s, ct, _) = post(&app, &key, accept, &q("{ __typename }")).await;
        assert_eq!(
            (s, ct.as_str()),
            (200, "application/json; charset=utf-8"),
            "{accept:?}"
        );
    }
    let (s, _, v) = post(&app, &key, Some("text/html"), &q("{ __typename }")).await;
    assert_eq!(
        (s, v["errors"][0]["extensions"]["code"].as_str()),
        (406, Some("BAD_USER_INPUT"))
    );

    // request errors: 400 and no data in graphql-response+json, 200 in application/json
    let coercion =
        json!({"query": "query C($id: ID!) { __typename }", "variables": {"id": null}}).to_string();
    for body in [q("{"), q("{ noSuchField }"), coercion] {
        let (s, _, v) = post(&app, &key, Some(GQL), &body).await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v.get("data").is_none(), "{body}: {v}");
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let (s, _, v) = post(&app, &key, Some("application/json"), &body).await;
        assert_eq!(s, 200, "{body}: {v}");
        assert!(
            v.get("data").is_none() && v["errors"].is_array(),
            "{body}: {v}"
        );
    }
    // a field error is no request error: 200 with data in both
    let (s, _, v) = post(
        &app,
        &key,
        Some(GQL),
        &q("{ household(houseCode: \"33189999999\") { houseCode } me { kind } }"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["me"]["kind"], "DISTRICT");

    // not a well-formed request: 400 whatever the media type
    for body in [
        "",
        "{ \"not a JSON",
        r#"{"notquery":"{ __typename }"}"#,
        r#"{"query":0}"#,
        r#"{"query":"{ __typename }","variables":"x"}"#,
        r#"{"query":"{ __typename }","operationName":false}"#,
        r#"{"query":"{ __typename }","extensions":["a"]}"#,
    ] {
        for accept in [Some(GQL), Some("application/json"), None] {
            let (s, _, v) = post(&app, &key, accept, body).await;
            assert_eq!(s, 400, "{body} / {accept:?}: {v}");
            assert!(v["errors"][0]["message"].is_string(), "{body}: {v}");
        }
    }
    // parameters that may be null or maps are taken
    let (s, _, v) = post(
        &app,
        &key,
        None,
        r#"{"query":"query Q { __typename }","operationName":"Q","variables":null,"extensions":{"some":"value"}}"#,
    )
    .await;
    assert_eq!((s, v.get("errors")), (200, None), "{v}");

    // GET: queries (variables as URL-encoded JSON), never mutations
    let auth = format!("Bearer {key}");
    let get = |uri: String, accept: &'static str| {
        let (http, auth) = (app.http(), auth.clone());
        async move {
            let (s, h, b) = bodiless(
                http,
                "GET",
                &uri,
                &[("authorization", &auth), ("accept", accept)],
            )
            .await;
            (s, h, b)
        }
    };
    let (s, _, b) = get(
        "/graphql?query=query%20T(%24n%3A%20String!)%20%7B%20__type(name%3A%20%24n)%20%7B%20name%20%7D%20%7D&variables=%7B%22n%22%3A%22Household%22%7D".into(),
        "application/json",
    )
    .await;
    assert_eq!(
        (s, body_json(&b)["data"]["__type"]["name"].as_str()),
        (200, Some("Household"))
    );
    let (s, h, b) = get(
        "/graphql?query=mutation%20%7B%20__typename%20%7D".into(),
        GQL,
    )
    .await;
    assert_eq!(s, 405, "{}", String::from_utf8_lossy(&b));
    assert_eq!(h.get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    let (s, _, _) = get("/graphql".into(), "application/json").await;
    assert_eq!(
        s, 400,
        "a GET with no query and no browser is a bad request"
    );
    let (s, h, b) = get(
        "/graphql".into(),
        "text/html,application/xhtml+xml,*/*;q=0.8",
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        h["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    assert!(
        String::from_utf8_lossy(&b).contains("graphiql"),
        "GraphiQL for a browser"
    );
    // without a key: 401 in the negotiated type
    let (s, h, _) = bodiless(
        app.http(),
        "GET",
        "/graphql?query=%7B__typename%7D",
        &[("accept", GQL)],
    )
    .await;
    assert_eq!(s, 401);
    assert!(h["content-type"].to_str().expect("ct").starts_with(GQL));
}

async fn introspection_follows_the_policy_and_never_goes_without_a_key(app: TestApp) {
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let schema = json!({ "query": "{ __schema { queryType { name } } }" }).to_string();
    let typename = json!({ "query": "{ __typename }" }).to_string();
    let through_fragment =
        json!({ "query": "{ ...F } fragment F on Query { __type(name: \"Household\") { name } }" })
            .to_string();
    let run = |policy: api::IntrospectionPolicy, token: Option<String>, body: String| {
        let http = app.http_with(api::HttpConfig {
            introspection: policy,
            ..Default::default()
        });
        async move {
            let auth = token.map(|t| format!("Bearer {t}")).unwrap_or_default();
            let mut headers = vec![("content-type", "application/json")];
            if !auth.is_empty() {
                headers.push(("authorization", auth.as_str()));
            }
            let (s, _, b) = request(http, "POST", "/graphql", &headers, body).await;
            (
                s,
                body_json(&b)["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        }
    };
    use api::IntrospectionPolicy::{Admin, All, Off};
    assert_eq!(
        run(All, Some(district.clone()), schema.clone()).await,
        (200, String::new())
    );
    assert_eq!(
        run(All, None, schema.clone()).await,
        (401, "UNAUTHENTICATED".into())
    );
    assert_eq!(
        run(Admin, Some(admin.clone()), schema.clone()).await,
        (200, String::new())
    );
    assert_eq!(
        run(Admin, Some(district.clone()), schema.clone()).await,
        (403, "FORBIDDEN".into())
    );
    assert_eq!(
        run(Admin, Some(district.clone()), through_fragment.clone()).await,
        (403, "FORBIDDEN".into())
    );
    assert_eq!(
        run(Off, Some(admin.clone()), schema.clone()).await,
        (403, "FORBIDDEN".into())
    );
    // __typename is no introspection
    assert_eq!(
        run(Off, Some(district.clone()), typename).await,
        (200, String::new())
    );
}

async fn cors_answers_only_the_configured_origins(app: TestApp) {
    let key = app.key(KeyScope::District("3318".into())).await;
    let origin = "https://tool.health.go.th";
    let with = app.http_with(api::HttpConfig {
        cors_origins: vec![api::http::cors_origin(origin).expect("an origin")],
        ..Default::default()
    });
    let preflight = [
        ("origin", origin),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let (s, h, _) = bodiless(with.clone(), "OPTIONS", "/graphql", &preflight).await;
    assert_eq!(s, 200);
    assert_eq!(h["access-control-allow-origin"], origin);
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .expect("headers")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "never credentials"
    );
    let auth = format!("Bearer {key}");
    let (s, h, _) = request(
        with.clone(),
        "POST",
        "/graphql",
        &[
            ("origin", origin),
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        json!({"query": "{ me { kind } }"}).to_string(),
    )
    .await;
    assert_eq!(
        (s, h["access-control-allow-origin"].to_str().ok()),
        (200, Some(origin))
    );
    assert!(
        h["access-control-expose-headers"]
            .to_str()
            .expect("x")
            .contains("x-request-id")
    );
    // another origin gets no CORS headers; the default server none at all
    let other = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let (_, h, _) = bodiless(with, "OPTIONS", "/graphql", &other).await;
    assert!(h.get("access-control-allow-origin").is_none());
    let (s, h, _) = bodiless(app.http(), "OPTIONS", "/graphql", &preflight).await;
    assert_eq!(s, 405, "no CORS unless configured");
    assert!(h.get("access-control-allow-origin").is_none());
    // what --cors-origin refuses
    for bad in [
        "*",
        "tool.health.go.th",
        "https://a.go.th/path",
        "ftp://a.go.th",
        "https://",
    ] {
        assert!(api::http::cors_origin(bad).is_err(), "{bad}");
    }
}

async fn requests_carry_uuid_ids_and_a_callers_sane_id(app: TestApp) {
    let get = |id: Option<&'static str>| {
        let http = app.http();
        async move {
            let headers: Vec<(&str, &str)> =
                id.map(|i| vec![("x-request-id", i)]).unwrap_or_default();
            let (_, h, _) = bodiless(http, "GET", "/healthz", &headers).await;
            h.get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        }
    };
    let a = get(None).await;
    let b = get(None).await;
    let is_uuid = |s: &str| {
        s.len() == 36
            && s.bytes().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    assert!(is_uuid(&a) && is_uuid(&b) && a != b, "{a} {b}");
    assert_eq!(get(Some("agency-7.trace:42")).await, "agency-7.trace:42");
    let long: &'static str = Box::leak("x".repeat(300).into_boxed_str());
    for bad in ["two words", "<script>", long] {
        let id = get(Some(bad)).await;
        assert!(is_uuid(&id), "{bad:?} replaced: {id}");
    }
}

async fn metrics_count_requests_operations_jobs_and_the_pool(app: TestApp) {
    let key = app.key(KeyScope::District("3318".into())).await;
    let op = format!("MetricsProbe{}", fastrand::u32(..));
    for _ in 0..3 {
        let (s, _, _) = post(
            &app,
            &key,
            None,
            &json!({"query": format!("query {op} {{ me {{ kind }} }}")}).to_string(),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, _, _) = post(
        &app,
        &key,
        None,
        &json!({"query": format!("query {op} {{ nope }}")}).to_string(),
    )
    .await;
    assert_eq!(s, 200);
    // an import job through the queue
    let ds = crate::helpers::dataset(20, 5);
    let w = crate::helpers::render(&ds, false, false);
    let p = api::access::Principal::District {
        key_id: 1,
        district: "3318".into(),
    };
    let jobs = app.jobs();
    jobs.enqueue(
        &p,
        api::jobs::Upload {
            file_name: "m.xlsx".into(),
            bytes: w.bytes,
            dry_run: false,
        },
    )
    .await
    .expect("queued");
    jobs.run_next().await.expect("ran").expect("a job");
    let (s, h, b) = bodiless(app.http(), "GET", "/metrics", &[]).await;
    assert_eq!(s, 200);
    assert!(
        h["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain")
    );
    let text = String::from_utf8(b).expect("utf-8");
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    };
    assert_eq!(
        value(&format!(
            "logbook_graphql_operations_total{{operation=\"{op}\",type=\"query\",code=\"OK\"}}"
        )),
        3.0
    );
    assert_eq!(
        value(&format!(
            "logbook_graphql_operations_total{{operation=\"{op}\",type=\"query\",code=\"BAD_USER_INPUT\"}}"
        )),
        1.0
    );
    assert!(
        value(&format!(
            "logbook_graphql_operation_duration_seconds_count{{operation=\"{op}\",type=\"query\"}}"
        )) >= 4.0
    );
    assert!(
        value("logbook_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}")
            >= 4.0
    );
    assert!(text.contains("logbook_http_request_duration_seconds_bucket{route=\"/graphql\",method=\"POST\",le=\"0.005\"}"));
    assert!(value("logbook_import_jobs_total{status=\"imported\"}") >= 1.0);
    assert!(value("logbook_import_rows_total{outcome=\"inserted\"}") >= ds.households.len() as f64);
    assert!(value("logbook_db_pool_connections{state=\"max\"}") >= 1.0);
    assert!(text.contains("# HELP logbook_import_job_duration_seconds"));
    // a made-up path is one series, not one per path
    let (s, _, _) = bodiless(app.http(), "GET", &format!("/scan-{op}"), &[]).await;
    assert_eq!(s, 404);
    let (_, _, b) = bodiless(app.http(), "GET", "/metrics", &[]).await;
    let text = String::from_utf8(b).expect("utf-8");
    assert!(!text.contains(&format!("scan-{op}")));
    assert!(text.contains("route=\"other\""));
    // off when asked
    let off = app.http_with(api::HttpConfig {
        metrics: false,
        ..Default::default()
    });
    let (s, _, _) = bodiless(off, "GET", "/metrics", &[]).await;
    assert_eq!(s, 404);
}

on_both_databases!(
    graphql_over_http_answers_as_the_specification_asks,
    introspection_follows_the_policy_and_never_goes_without_a_key,
    cors_answers_only_the_configured_origins,
    requests_carry_uuid_ids_and_a_callers_sane_id,
    metrics_count_requests_operations_jobs_and_the_pool,
);

/// The `graphql-http` package's own server audits (npm, run by Node.js from
/// `tests/audit/audit.mjs`) against a server on a socket: every audit must pass.
async fn the_graphql_http_audit_suite_passes_in_full(app: TestApp) {
    let key = app.key(KeyScope::District("3318".into())).await;
    let server = api::Application::build(
        app.db.clone(),
        api::Settings {
            bind: "127.0.0.1:0".into(),
            ..Default::default()
        },
    )
    .await
    .expect("a server");
    let url = format!("http://{}/graphql", server.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/audit/audit.mjs");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args([script, &url, &key])
            .output()
            .expect("node runs (install Node.js, then npm ci --prefix tests/audit)")
    })
    .await
    .expect("joined");
    let _ = stop.send(());
    run.await.expect("joined").expect("served");
    assert!(
        out.status.success(),
        "the audit script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("the audits' JSON");
    assert!(results.len() >= 50, "{} audits", results.len());
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r["status"] != "ok")
        .map(|r| {
            format!(
                "{} {} [{}]: {}",
                r["id"], r["name"], r["status"], r["reason"]
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} audits not ok:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

mod the_graphql_http_audit_suite_passes_in_full {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(logbook_audit),
        ignore = "GraphQL-over-HTTP audit: install Node.js, run npm ci --prefix tests/audit, build with LOGBOOK_TEST_AUDIT=1"
    )]
    async fn sqlite() {
        super::the_graphql_http_audit_suite_passes_in_full(crate::helpers::TestApp::sqlite().await)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(logbook_audit, logbook_pg)),
        ignore = "GraphQL-over-HTTP audit on PostgreSQL: Node.js, tests/audit's packages and LOGBOOK_TEST_PG_URL"
    )]
    async fn postgres() {
        super::the_graphql_http_audit_suite_passes_in_full(
            crate::helpers::TestApp::postgres().await,
        )
        .await;
    }
}

/// `logbook serve --log-format json`: every line of its log is one JSON object, and each
/// request has one access line carrying its status, latency, request id, operation and
/// principal. In text, a log that is not a terminal carries no ANSI colour codes.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_with_one_access_line_per_request() {
    use crate::helpers::{free_port, http, serve_logged};
    let app = TestApp::sqlite().await;
    let key = app.key(KeyScope::District("3318".into())).await;
    let dir = tempfile::tempdir().expect("dir");
    for format in ["json", "text"] {
        let log = dir.path().join(format!("{format}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let (url, key) = (app.url.clone(), key.clone());
        let text = tokio::task::spawn_blocking(move || {
            let port = free_port();
            let mut server = serve_logged(
                &url,
                port,
                &[],
                &[("LOGBOOK_LOG_FORMAT", format)],
                file,
            );
            let body = json!({"query": "query LogProbe { me { kind } }"}).to_string();
            let (status, _) = http(
                port,
                &format!("POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\nX-Request-Id: probe-42"),
                body.as_bytes(),
            );
            assert_eq!(status, 200);
            server.terminate(std::time::Duration::from_secs(20));
            std::fs::read_to_string(&log).expect("the log")
        })
        .await
        .expect("no panic");
        assert!(!text.contains('\u{1b}'), "no ANSI codes in a file:\n{text}");
        if format == "text" {
            assert!(text.contains("access: request status=200"), "{text}");
            continue;
        }
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let access: Vec<&Value> = lines
            .iter()
            .filter(|l| l["target"] == "access" && l["span"]["request_id"] == "probe-42")
            .collect();
        assert_eq!(access.len(), 1, "one access line for the request:\n{text}");
        let a = access[0];
        assert_eq!(a["level"], "INFO");
        assert_eq!(a["fields"]["status"], 200);
        assert!(a["fields"]["latency_ms"].is_number());
        assert_eq!(a["span"]["method"], "POST");
        assert_eq!(a["span"]["path"], "/graphql");
        assert_eq!(a["span"]["operation"], "LogProbe");
        assert!(
            a["span"]["principal"]
                .as_str()
                .is_some_and(|p| p.starts_with("district:3318"))
        );
    }
}

/// Every flag of `serve` can be set from the environment, and `--help` names the variable.
#[test]
fn every_serve_flag_has_an_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(["serve", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    let flags: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', '=']).next())
        .filter(|f| !["help", "database-url", "log-format"].contains(f))
        .collect();
    assert!(flags.len() >= 20, "{flags:?}");
    for flag in flags {
        let var = format!("[env: LOGBOOK_{}=", flag.to_uppercase().replace('-', "_"));
        assert!(help.contains(&var), "--{flag} has no {var}]:\n{help}");
    }
    assert!(help.contains("[env: DATABASE_URL="));
    assert!(help.contains("[env: LOGBOOK_LOG_FORMAT="));
}
