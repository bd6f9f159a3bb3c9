//! Bulk exports: the files of an export hold exactly the records the API gives the same key —
//! for an agency and for a district, in NDJSON and in CSV — only that key sees and downloads
//! them, and `updatedSince` narrows them; on both databases.

use crate::changes::full_read;
use crate::helpers::{TestApp, dataset, render, request};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read;

const START: &str = "mutation($f: ExportFormat!, $since: String) { startExport(format: $f, updatedSince: $since) { id status } }";
const JOB: &str = "query($id: Int!) { exportJob(id: $id) { id status format rowsDone failure files { entity rows url } } }";

/// Asks for an export with `key`, runs the worker, and returns the done job.
async fn export(app: &TestApp, key: &str, format: &str, since: Option<&str>) -> Value {
    let (_, v) = app
        .graphql(Some(key), START, json!({"f": format, "since": since}))
        .await;
    let id = v["data"]["startExport"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(v["data"]["startExport"]["status"], "QUEUED");
    let ran = api::service::exports::run_next(&app.db, &app.export_store())
        .await
        .expect("the worker");
    assert_eq!(ran, Some(id as i32));
    let (_, v) = app.graphql(Some(key), JOB, json!({"id": id})).await;
    let job = v["data"]["exportJob"].clone();
    assert_eq!(job["status"], "DONE", "{v}");
    job
}

/// A file of a job, downloaded with `key` and unzipped: (status, text).
async fn download(app: &TestApp, key: &str, url: &str) -> (u16, String) {
    let auth = format!("Bearer {key}");
    let (s, h, body) = request(
        app.http(),
        "GET",
        url,
        &[("authorization", &auth)],
        axum::body::Body::empty(),
    )
    .await;
    if s != 200 {
        return (s, String::new());
    }
    assert_eq!(h["content-type"], "application/gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .expect("gzip of UTF-8");
    (s, text)
}

/// The API's kind name of an export file's entity.
fn kind(entity: &str) -> &'static str {
    match entity {
        "HOUSEHOLD" => "HOUSEHOLD",
        "MEMBER" => "MEMBER",
        "PROBLEM" => "PROBLEM",
        "ANALYSIS" => "ANALYSIS",
        _ => "LOGBOOK_ENTRY",
    }
}

/// The key of an exported row of `entity`.
fn row_key(entity: &str, row: &Value) -> String {
    let k = match entity {
        "HOUSEHOLD" | "ANALYSIS" => &row["house_code"],
        "MEMBER" => &row["citizen_id"],
        _ => &row["id"],
    };
    match k {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

async fn an_export_holds_exactly_what_the_api_gives_the_key(app: TestApp) {
    let ds = dataset(60, 61);
    app.import("e.xlsx", render(&ds, false, false).bytes).await;
    for scope in [
        KeyScope::Agency("33-pho".into()),
        KeyScope::District("3318".into()),
    ] {
        let key = app.key(scope.clone()).await;
        let full = full_read(&app, &key).await;
        let job = export(&app, &key, "NDJSON", None).await;
        let mut exported: BTreeSet<(String, String)> = BTreeSet::new();
        let mut total = 0;
        for f in job["files"].as_array().expect("files") {
            let entity = f["entity"].as_str().expect("entity");
            let (s, text) = download(&app, &key, f["url"].as_str().expect("url")).await;
            assert_eq!(s, 200);
            let rows: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
                .collect();
            assert_eq!(f["rows"].as_u64(), Some(rows.len() as u64), "{f}");
            total += rows.len();
            for r in &rows {
                exported.insert((kind(entity).to_string(), row_key(entity, r)));
                // the same values as the API's
                if entity == "HOUSEHOLD" {
                    let api = &full[&(kind(entity).to_string(), row_key(entity, r))];
                    assert_eq!(api["headName"], r["head_name"], "{r}");
                }
            }
        }
        let api: BTreeSet<(String, String)> = full.keys().cloned().collect();
        assert_eq!(
            exported, api,
            "{scope:?}: the export's records are the API's"
        );
        assert_eq!(job["rowsDone"].as_u64(), Some(total as u64));
        // another key sees neither the job nor its files
        let other = app.key(KeyScope::Admin { province: None }).await;
        let (_, v) = app
            .graphql(Some(&other), JOB, json!({"id": job["id"]}))
            .await;
        assert_eq!(v["errors"][0]["extensions"]["code"], "NOT_FOUND", "{v}");
        let url = job["files"][0]["url"].as_str().expect("url");
        assert_eq!(download(&app, &other, url).await.0, 404);
        assert_eq!(download(&app, &key, &format!("{url}.x")).await.0, 404);
    }

    // CSV: a byte-order mark, a header of column names, a line per record
    let key = app.key(KeyScope::District("3318".into())).await;
    let job = export(&app, &key, "CSV", None).await;
    let households = job["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["entity"] == "HOUSEHOLD")
        .expect("households")
        .clone();
    let (_, text) = download(&app, &key, households["url"].as_str().expect("url")).await;
    assert!(text.starts_with('\u{feff}'), "a byte-order mark");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().expect("header").clone();
    assert!(header.iter().any(|h| h == "house_code") && header.iter().any(|h| h == "head_name"));
    let codes: BTreeSet<String> = reader
        .records()
        .map(|r| r.expect("a record")[0].to_string())
        .collect();
    let expected: BTreeSet<String> = ds.households.iter().map(|h| h.house_code.clone()).collect();
    assert_eq!(codes, expected);
    // only what changed since: nothing changed after tomorrow
    let job = export(&app, &key, "NDJSON", Some("2999-01-01T00:00:00Z")).await;
    assert_eq!(job["rowsDone"], 0, "{job}");
    // a key's share: two waiting at a time
    for _ in 0..2 {
        let (_, v) = app.graphql(Some(&key), START, json!({"f": "CSV"})).await;
        assert_eq!(v["data"]["startExport"]["status"], "QUEUED", "{v}");
    }
    let (_, v) = app.graphql(Some(&key), START, json!({"f": "CSV"})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{v}"
    );
    // a bad time is refused
    let (_, v) = app
        .graphql(Some(&key), START, json!({"f": "CSV", "since": "soon"}))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["field"], "updatedSince", "{v}");
}

on_both_databases!(an_export_holds_exactly_what_the_api_gives_the_key);
