//! Workbook uploads over GraphQL (multipart): the cross-site header, limits, the caller's
//! scope, the job queue and its statuses, progress, the error workbook, and recovery of a job
//! whose process was killed mid-import — on both databases.

use crate::helpers::{TestApp, dataset, free_port, http, post_graphql, render, serve};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use calamine::{Data, Reader, open_workbook_auto_from_rs};
use futures::StreamExt;
use importer::workbook::SheetKind;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::io::Cursor;
use tower::ServiceExt;

const UPLOAD: &str = "mutation($f: Upload!, $d: Boolean) { uploadWorkbook(file: $f, dryRun: $d) { id status dryRun progress { stage fraction } } }";

const BATCH: &str = "query($id: Int!) { importBatch(id: $id) { id status dryRun attempts failure errorCount warningCount errorWorkbookUrl progress { stage rowsDone rowsTotal fraction } sheets { sheet read inserted rejected } errors { sheet row column value code messageTh } } }";

/// A GraphQL multipart request (the spec's `operations`, `map` and one part per file).
pub fn multipart(files: &[(&str, &[u8])], dry_run: bool) -> (String, Vec<u8>) {
    let boundary = "----logbook-test-boundary";
    let vars = json!({"f": null, "d": dry_run});
    let mut map = serde_json::Map::new();
    for i in 0..files.len() {
        map.insert(i.to_string(), json!(["variables.f"]));
    }
    let ops = json!({"query": UPLOAD, "variables": vars}).to_string();
    let mut body = Vec::new();
    let mut part = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"".into(),
        ops.as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"map\"".into(),
        Value::Object(map).to_string().as_bytes(),
    );
    for (i, (name, bytes)) in files.iter().enumerate() {
        part(
            format!(
                "Content-Disposition: form-data; name=\"{i}\"; filename=\"{name}\"\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs an upload through `http`; returns the status and the JSON body.
async fn post_upload(
    http: axum::Router,
    token: &str,
    files: &[(&str, &[u8])],
    dry_run: bool,
    preflight: Option<&str>,
) -> (u16, Value) {
    let (content_type, body) = multipart(files, dry_run);
    let mut headers = vec![
        ("content-type", content_type),
        ("authorization", format!("Bearer {token}")),
    ];
    if let Some(v) = preflight {
        headers.push(("apollo-require-preflight", v.to_string()));
    }
    post_graphql(http, &headers, body).await
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8], dry_run: bool) -> Value {
    let (status, v) = post_upload(app.http(), token, &[(name, bytes)], dry_run, Some("1")).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["uploadWorkbook"].clone()
}

async fn batch(app: &TestApp, token: &str, id: i64) -> Value {
    let (_, v) = app.graphql(Some(token), BATCH, json!({"id": id})).await;
    v["data"]["importBatch"].clone()
}

fn code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

async fn an_upload_is_queued_checked_and_imported_by_the_worker(app: TestApp) {
    let ds = dataset(25, 3);
    let w = render(&ds, true, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    // a dry run: queued, then checked; nothing but the batch is written
    let b = upload(&app, &district, "check.xlsx", &w.bytes, true).await;
    assert_eq!(b["status"], "QUEUED", "{b}");
    assert_eq!(b["dryRun"], true);
    assert_eq!(b["progress"]["stage"], "queued");
    let id = b["id"].as_i64().expect("id");
    let jobs = app.jobs();
    assert_eq!(jobs.run_next().await.expect("run"), Some(id as i32));
    let b = batch(&app, &district, id).await;
    assert_eq!(b["status"], "DRY_RUN", "{b}");
    assert_eq!(b["errorCount"], 0);
    assert_eq!(b["attempts"], 1);
    assert_eq!(b["progress"]["fraction"], 1.0);
    assert_eq!(b["errorWorkbookUrl"], Value::Null);
    let read: i64 = b["sheets"]
        .as_array()
        .expect("sheets")
        .iter()
        .map(|s| s["read"].as_i64().unwrap_or(0))
        .sum();
    let rows = ds.households.len()
        + ds.members.len()
        + ds.problems.len()
        + ds.analyses.len()
        + ds.entries.len();
    assert_eq!(read as usize, rows);
    assert_eq!(app.stats().await.households, 0);
    // the import itself
    let b = upload(&app, &district, "import.xlsx", &w.bytes, false).await;
    let id = b["id"].as_i64().expect("id");
    assert_eq!(jobs.run_next().await.expect("run"), Some(id as i32));
    assert_eq!(
        jobs.run_next().await.expect("run"),
        None,
        "the queue is empty"
    );
    let b = batch(&app, &district, id).await;
    assert_eq!(b["status"], "IMPORTED", "{b}");
    assert_eq!(app.stats().await, ds.expected_stats());
    // the batch is the district's, and recorded as its key's
    let (_, v) = app
        .graphql(
            Some(&district),
            "{ importBatches { nodes { id status principal districtCode } } }",
            Value::Null,
        )
        .await;
    let nodes = v["data"]["importBatches"]["nodes"]
        .as_array()
        .expect("nodes");
    assert_eq!(nodes.len(), 2, "{v}");
    assert!(nodes.iter().all(|n| {
        n["districtCode"] == "3318"
            && n["principal"]
                .as_str()
                .is_some_and(|p| p.starts_with("district:3318:"))
    }));
}

async fn a_rejected_upload_has_an_error_workbook_with_the_offending_rows(app: TestApp) {
    let mut ds = dataset(20, 6);
    ds.set_raw(SheetKind::Households, 5, "subdistrict", "หนองใหญ");
    ds.set_raw(SheetKind::Members, 3, "citizen_id", "12345678901");
    ds.set_raw(SheetKind::Problems, 1, "indicator", "42");
    let w = render(&ds, false, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    let b = upload(&app, &district, "bad.xlsx", &w.bytes, false).await;
    let id = b["id"].as_i64().expect("id");
    app.jobs().run_next().await.expect("run");
    let b = batch(&app, &district, id).await;
    assert_eq!(b["status"], "REJECTED", "{b}");
    assert_eq!(app.stats().await.households, 0, "nothing is written");
    let errors = b["errors"].as_array().expect("errors").clone();
    assert!(errors.len() >= 3, "{b}");
    let url = b["errorWorkbookUrl"]
        .as_str()
        .expect("an error workbook")
        .to_string();
    assert_eq!(url, format!("/batches/{id}/errors.xlsx"));

    // fetched with the same key; refused without one, and absent for keys that may not see it
    let (status, _, bytes) = app.get(&url, Some(&district)).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&url, None).await.0, 401);
    let agency = app.key(KeyScope::Agency("33-pho".into())).await;
    assert_eq!(app.get(&url, Some(&agency)).await.0, 404);
    assert_eq!(
        app.get("/batches/9999/errors.xlsx", Some(&district))
            .await
            .0,
        404
    );

    let mut wb = open_workbook_auto_from_rs(Cursor::new(bytes)).expect("an xlsx");
    let names = wb.sheet_names();
    assert_eq!(names[0], "สรุปข้อผิดพลาด");
    let summary = wb.worksheet_range("สรุปข้อผิดพลาด").expect("summary");
    assert_eq!(summary.height(), errors.len() + 1, "one line per error");
    let text = |d: Option<&Data>| d.map(|d| d.to_string()).unwrap_or_default();
    // each offending row is in its sheet, under its original row number, with its reason
    for (sheet, index, column) in [
        (SheetKind::Households, 5, "ตำบล"),
        (SheetKind::Members, 3, "เลขบัตรประชาชน"),
        (SheetKind::Problems, 1, "ตัวชี้วัด"),
    ] {
        let row = w.row(sheet, index);
        let r = wb.worksheet_range(sheet.name_th()).expect("the sheet");
        let header: Vec<String> = (0..r.width()).map(|c| text(r.get((0, c)))).collect();
        assert_eq!(header[0], "แถวที่ (ไฟล์เดิม)");
        assert_eq!(header.last().map(String::as_str), Some("เหตุผล"));
        let line = (1..r.height())
            .find(|i| text(r.get((*i, 0))) == row.to_string())
            .unwrap_or_else(|| panic!("row {row} of {sheet:?} is in the error workbook"));
        let reason = text(r.get((line, r.width() - 1)));
        let expected = errors
            .iter()
            .find(|e| e["sheet"] == sheet.key() && e["row"] == row)
            .expect("an error for the row");
        assert!(
            reason.contains(expected["messageTh"].as_str().expect("message")),
            "{reason}"
        );
        let named = expected["column"].as_str().expect("a column");
        assert_eq!(named, column);
        assert!(header.iter().any(|h| h == named), "{named} in {header:?}");
    }
    // the error workbook of a batch that is not rejected does not exist
    let good = render(&dataset(5, 1), false, false);
    let b = upload(&app, &district, "good.xlsx", &good.bytes, true).await;
    app.jobs().run_next().await.expect("run");
    let id = b["id"].as_i64().expect("id");
    assert_eq!(
        batch(&app, &district, id).await["errorWorkbookUrl"],
        Value::Null
    );
    assert_eq!(
        app.get(&format!("/batches/{id}/errors.xlsx"), Some(&district))
            .await
            .0,
        404
    );
}

async fn uploads_need_the_preflight_header_stay_in_limits_and_in_scope(app: TestApp) {
    let ds = dataset(10, 8);
    let w = render(&ds, false, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    // a cross-site form post cannot set the header: without it the request is refused
    for preflight in [None, Some(" ")] {
        let (status, v) = post_upload(
            app.http(),
            &district,
            &[("a.xlsx", &w.bytes)],
            false,
            preflight,
        )
        .await;
        assert_eq!((status, code(&v)), (400, Some("FORBIDDEN")), "{v}");
    }
    // too large
    let small = api::app(api::AppState {
        budgets: Default::default(),
        db: app.db.clone(),
        schema: api::build_schema(app.db.clone(), api::Limits::default()),
        config: api::HttpConfig {
            upload_limit: 4096,
            ..Default::default()
        },
        jobs: app.jobs(),
    });
    let (status, v) =
        post_upload(small, &district, &[("a.xlsx", &w.bytes)], false, Some("1")).await;
    assert_eq!((status, code(&v)), (413, Some("LIMIT_EXCEEDED")), "{v}");
    // more than one file
    let (status, v) = post_upload(
        app.http(),
        &district,
        &[("a.xlsx", &w.bytes), ("b.xlsx", &w.bytes)],
        false,
        Some("1"),
    )
    .await;
    assert_eq!((status, code(&v)), (413, Some("LIMIT_EXCEEDED")), "{v}");
    // agencies do not upload; nothing was queued by any of the above
    let agency = app.key(KeyScope::Agency("33-pho".into())).await;
    let (status, v) = post_upload(
        app.http(),
        &agency,
        &[("a.xlsx", &w.bytes)],
        false,
        Some("1"),
    )
    .await;
    assert_eq!((status, code(&v)), (200, Some("FORBIDDEN")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 0);
    // a district key imports its district only
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang Si Sa Ket\n",
    )
    .await;
    let other = app.key(KeyScope::District("3301".into())).await;
    let b = upload(&app, &other, "theirs.xlsx", &w.bytes, false).await;
    app.jobs().run_next().await.expect("run");
    let b = batch(&app, &other, b["id"].as_i64().expect("id")).await;
    assert_eq!(b["status"], "REJECTED");
    let errors = b["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .filter(|e| e["code"] == "out_of_district")
            .count()
            >= ds.households.len(),
        "{b}"
    );
    assert_eq!(app.stats().await.households, 0);
    // and 3318's key does not see 3301's batch
    let (_, v) = app
        .graphql(Some(&district), BATCH, json!({"id": b["id"]}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
}

async fn a_slow_upload_may_take_longer_than_a_query_but_not_forever(app: TestApp) {
    let w = render(&dataset(5, 2), false, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    let (content_type, body) = multipart(&[("slow.xlsx", &w.bytes)], false);
    // the body arrives in two halves, `gap` apart
    let send = |upload_timeout: u64, gap: u64| {
        let http = api::app(api::AppState {
            budgets: Default::default(),
            db: app.db.clone(),
            schema: api::build_schema(app.db.clone(), api::Limits::default()),
            config: api::HttpConfig {
                timeout: std::time::Duration::from_millis(300),
                upload_timeout: std::time::Duration::from_millis(upload_timeout),
                ..Default::default()
            },
            jobs: app.jobs(),
        });
        let (a, b) = body.split_at(body.len() / 2);
        let (a, b) = (a.to_vec(), b.to_vec());
        let chunks = futures::stream::iter([(a, 0u64), (b, gap)]).then(|(c, wait)| async move {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            Ok::<_, std::io::Error>(c)
        });
        let req = axum::http::Request::post("/graphql")
            .header("content-type", content_type.clone())
            .header("authorization", format!("Bearer {district}"))
            .header("apollo-require-preflight", "1")
            .body(axum::body::Body::from_stream(chunks))
            .expect("request");
        async move {
            let resp = http.oneshot(req).await.expect("response");
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    // slower than a query may take (300 ms), within the upload's time: queued
    let (status, v) = send(5_000, 800).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["uploadWorkbook"]["status"], "QUEUED", "{v}");
    // past the upload's time: cut off, nothing queued
    let (status, v) = send(400, 1_200).await;
    assert_eq!((status, code(&v)), (408, Some("LIMIT_EXCEEDED")), "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 1);
}

async fn a_province_admin_uploads_for_its_province_and_sees_its_batches(app: TestApp) {
    let ds = dataset(12, 5);
    let w = render(&ds, false, false);
    app.load_areas_csv("level,code,parent_code,name_th,name_en\nprovince,67,,เพชรบูรณ์,Phetchabun\n")
        .await;
    // another province's admin: every household is outside its province
    let other = app
        .key(KeyScope::Admin {
            province: Some("67".into()),
        })
        .await;
    let b = upload(&app, &other, "a.xlsx", &w.bytes, false).await;
    app.jobs().run_next().await.expect("run");
    let b = batch(&app, &other, b["id"].as_i64().expect("id")).await;
    assert_eq!(b["status"], "REJECTED", "{b}");
    let errors = b["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["messageTh"]
            .as_str()
            .is_some_and(|m| m.contains("ไม่ใช่จังหวัดของท่าน"))),
        "{b}"
    );
    // its own province's admin imports it, and follows and lists its batch
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let b = upload(&app, &admin, "b.xlsx", &w.bytes, false).await;
    let id = b["id"].as_i64().expect("id");
    app.jobs().run_next().await.expect("run");
    assert_eq!(batch(&app, &admin, id).await["status"], "IMPORTED");
    let (_, v) = app
        .graphql(
            Some(&admin),
            "{ importBatches { nodes { id } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        v["data"]["importBatches"]["nodes"],
        json!([{"id": id}]),
        "{v}"
    );
    assert_eq!(app.stats().await, ds.expected_stats());
}

async fn a_job_left_running_by_a_dead_process_runs_again_from_the_start(app: TestApp) {
    let ds = dataset(15, 4);
    let w = render(&ds, false, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    let b = upload(&app, &district, "a.xlsx", &w.bytes, false).await;
    let id = b["id"].as_i64().expect("id");
    // as a killed worker leaves it: claimed, its import's transaction rolled back
    app.db
        .execute_unprepared(&format!(
            "UPDATE import_batches SET status = 'running', stage = 'writing', attempts = 1 WHERE id = {id}"
        ))
        .await
        .expect("update");
    let b = batch(&app, &district, id).await;
    assert_eq!(b["status"], "RUNNING");
    assert_eq!(b["progress"]["stage"], "writing");
    let jobs = app.jobs();
    jobs.recover().await.expect("recover");
    assert_eq!(jobs.run_next().await.expect("run"), Some(id as i32));
    let b = batch(&app, &district, id).await;
    assert_eq!(
        (b["status"].as_str(), b["attempts"].as_i64()),
        (Some("IMPORTED"), Some(2)),
        "{b}"
    );
    assert_eq!(app.stats().await, ds.expected_stats());
    // one that keeps killing its process is given up
    let b = upload(&app, &district, "b.xlsx", &w.bytes, false).await;
    let id = b["id"].as_i64().expect("id");
    app.db
        .execute_unprepared(&format!(
            "UPDATE import_batches SET status = 'running', attempts = {} WHERE id = {id}",
            api::jobs::MAX_ATTEMPTS
        ))
        .await
        .expect("update");
    jobs.recover().await.expect("recover");
    assert_eq!(jobs.run_next().await.expect("run"), Some(id as i32));
    let b = batch(&app, &district, id).await;
    assert_eq!(b["status"], "FAILED", "{b}");
    assert!(
        b["failure"]
            .as_str()
            .is_some_and(|f| f.contains("attempts")),
        "{b}"
    );
}

/// A file that panics the reader (a cell reference whose row overflows 32 bits: calamine
/// panics in debug builds) and one over a limit: the worker turns both into ended batches
/// at once and goes on serving.
async fn the_worker_survives_a_panicking_and_an_over_limit_upload(app: TestApp) {
    use crate::hostile::{GOOD, households, patch};
    app.load_builtin_areas().await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let base = households(&[&GOOD]);
    let cell = |r: &str| {
        patch(&base, "xl/worksheets/sheet1.xml", |x| {
            x.replacen("<c r=\"F2\"", &format!("<c r=\"{r}\""), 1)
        })
    };
    let jobs = app.jobs();
    let panicking = upload(
        &app,
        &district,
        "overflow.xlsx",
        &cell("A99999999999"),
        true,
    )
    .await;
    let over = upload(&app, &district, "far.xlsx", &cell("XFD1048576"), true).await;
    let good = upload(
        &app,
        &district,
        "good.xlsx",
        &render(&dataset(5, 2), false, false).bytes,
        true,
    )
    .await;
    for _ in 0..3 {
        assert!(jobs.run_next().await.expect("the worker runs").is_some());
    }
    assert_eq!(
        jobs.run_next().await.expect("run"),
        None,
        "nothing is retried"
    );
    let b = batch(&app, &district, panicking["id"].as_i64().expect("id")).await;
    if cfg!(debug_assertions) {
        assert_eq!(b["status"], "FAILED", "{b}");
        assert_eq!(b["attempts"], 1);
        assert!(
            b["failure"]
                .as_str()
                .is_some_and(|f| f.contains("แจ้งผู้ดูแลระบบ") && f.contains(&format!("{}", b["id"]))),
            "{b}"
        );
    } else {
        assert_eq!(b["status"], "REJECTED", "{b}");
    }
    let b = batch(&app, &district, over["id"].as_i64().expect("id")).await;
    assert_eq!(
        (b["status"].as_str(), b["errors"][0]["code"].as_str()),
        (Some("REJECTED"), Some("sheet_too_large")),
        "{b}"
    );
    assert_eq!(b["errors"][0]["row"], 1_048_576);
    let b = batch(&app, &district, good["id"].as_i64().expect("id")).await;
    assert_eq!(b["status"], "DRY_RUN", "{b}");
    // and the server keeps answering
    let (status, v) = app
        .graphql(Some(&district), "{ me { kind } }", json!({}))
        .await;
    assert_eq!(
        (status, v["data"]["me"]["kind"].as_str()),
        (200, Some("DISTRICT"))
    );
}

on_both_databases!(
    the_worker_survives_a_panicking_and_an_over_limit_upload,
    an_upload_is_queued_checked_and_imported_by_the_worker,
    a_rejected_upload_has_an_error_workbook_with_the_offending_rows,
    uploads_need_the_preflight_header_stay_in_limits_and_in_scope,
    a_province_admin_uploads_for_its_province_and_sees_its_batches,
    a_slow_upload_may_take_longer_than_a_query_but_not_forever,
    a_job_left_running_by_a_dead_process_runs_again_from_the_start,
    a_server_killed_mid_import_writes_nothing_and_finishes_the_job_after_restart,
);

async fn a_server_killed_mid_import_writes_nothing_and_finishes_the_job_after_restart(
    app: TestApp,
) {
    let ds = dataset(3000, 12);
    let w = render(&ds, false, false);
    let district = app.key(KeyScope::District("3318".into())).await;
    let port = free_port();
    let mut server = serve(&app.url, port, &[]);
    let id = upload_to(port, &district, "big.xlsx", &w.bytes);
    // wait until the worker is inside its write transaction, then kill the process
    let start = std::time::Instant::now();
    loop {
        let b = batch_state(port, &district, id);
        // mid-transaction: some sheets written, not all (the commit follows the last)
        let p = &b["progress"];
        if p["stage"] == "writing" && p["rowsDone"].as_i64() < p["rowsTotal"].as_i64() {
            break;
        }
        assert!(
            b["status"] == "QUEUED" || b["status"] == "RUNNING",
            "the job ended before it could be interrupted: {b}"
        );
        assert!(
            start.elapsed().as_secs() < 120,
            "the job never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reap");
    // nothing of the batch is written; the job is left running
    assert_eq!(app.count("SELECT COUNT(*) FROM households").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM members").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_issues").await, 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM import_batches WHERE id = {id} AND status = 'running'"
        ))
        .await,
        1
    );
    // a new process finishes it, from the start
    let _server = serve(&app.url, port, &[]);
    let start = std::time::Instant::now();
    while app
        .count(&format!(
            "SELECT COUNT(*) FROM import_batches WHERE id = {id} AND status = 'imported'"
        ))
        .await
        == 0
    {
        assert!(
            start.elapsed().as_secs() < 180,
            "the job did not finish after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT CAST(attempts AS BIGINT) FROM import_batches WHERE id = {id}"
        ))
        .await,
        2
    );
    assert_eq!(app.stats().await, ds.expected_stats());
}

/// `logbook serve` stops on SIGTERM (what systemd, Docker and Kubernetes send) as on Ctrl-C:
/// it stops listening and exits 0 instead of being killed by the signal.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_cleanly_on_sigterm() {
    let app = TestApp::sqlite().await;
    let port = free_port();
    let url = app.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut server = serve(&url, port, &[]);
        server.stop_cleanly(std::time::Duration::from_secs(20));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    })
    .await
    .expect("no panic");
}

/// Uploads `bytes` to the server on `port` with a district key; the batch id.
fn upload_to(port: u16, key: &str, name: &str, bytes: &[u8]) -> i64 {
    let (content_type, body) = multipart(&[(name, bytes)], false);
    let (status, resp) = http(
        port,
        &format!(
            "POST /graphql HTTP/1.1\r\nContent-Type: {content_type}\r\nAuthorization: Bearer {key}\r\nApollo-Require-Preflight: 1"
        ),
        &body,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    let v: Value = serde_json::from_slice(&resp).expect("json");
    v["data"]["uploadWorkbook"]["id"].as_i64().expect("id")
}

/// Batch `id` as the server on `port` shows it now: status and progress (`Null` when the
/// answer is no batch).
fn batch_state(port: u16, key: &str, id: i64) -> Value {
    let poll = json!({"query": "query($id: Int!) { importBatch(id: $id) { status progress { stage rowsDone rowsTotal } } }", "variables": {"id": id}}).to_string();
    let (_, resp) = http(
        port,
        &format!(
            "POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}"
        ),
        poll.as_bytes(),
    );
    let v: Value = serde_json::from_slice(&resp).unwrap_or(Value::Null);
    v["data"]["importBatch"].clone()
}

/// Waits until batch `id`'s job runs on the server on `port`.
fn until_running(port: u16, key: &str, id: i64) {
    let start = std::time::Instant::now();
    loop {
        let b = batch_state(port, key, id);
        match b["status"].as_str() {
            Some("RUNNING") => return,
            Some("QUEUED") | None => {}
            Some(other) => panic!("the job ended ({other}) before the stop: {b}"),
        }
        assert!(start.elapsed().as_secs() < 60, "the job never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A SIGTERM while an upload's import runs. With no grace left the import is stopped,
/// nothing of it is written, the job goes back to the queue (its attempt not counted) and
/// the process exits 0; the next start takes the job up, and a SIGTERM then, with a grace
/// long enough, lets the import finish before the process exits 0.
#[cfg(unix)]
async fn a_sigterm_during_an_upload_exits_0_and_the_upload_completes(app: TestApp) {
    let key = app.key(KeyScope::District("3318".into())).await;
    let ds = dataset(3000, 21);
    let w = render(&ds, false, false);
    let port = free_port();
    let (url, k) = (app.url.clone(), key.clone());
    let id = tokio::task::spawn_blocking(move || {
        let mut server = serve(&url, port, &["--shutdown-grace-secs", "0"]);
        let id = upload_to(port, &k, "district.xlsx", &w.bytes);
        until_running(port, &k, id);
        server.stop_cleanly(std::time::Duration::from_secs(20));
        id
    })
    .await
    .expect("no panic");
    let batch = |status: &str| {
        format!("SELECT COUNT(*) FROM import_batches WHERE id = {id} AND status = '{status}'")
    };
    assert_eq!(app.count("SELECT COUNT(*) FROM households").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM members").await, 0);
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT status, CAST(attempts AS BIGINT) FROM import_batches WHERE id = {id}"),
        ))
        .await
        .expect("query")
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).unwrap_or_default(),
                r.try_get_by_index::<i64>(1).unwrap_or(-1),
            )
        });
    assert_eq!(
        row,
        Some(("queued".to_string(), 0)),
        "the cut-off job is queued again, its attempt not counted"
    );
    let (url, k) = (app.url.clone(), key.clone());
    tokio::task::spawn_blocking(move || {
        // the next start takes the job up; a stop with time to spare lets it finish
        let mut server = serve(&url, port, &["--shutdown-grace-secs", "120"]);
        until_running(port, &k, id);
        server.stop_cleanly(std::time::Duration::from_secs(120));
    })
    .await
    .expect("no panic");
    assert_eq!(app.count(&batch("imported")).await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT CAST(attempts AS BIGINT) FROM import_batches WHERE id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(app.stats().await, ds.expected_stats());
}

#[cfg(unix)]
on_both_databases!(a_sigterm_during_an_upload_exits_0_and_the_upload_completes);
