//! Field work: evidence photos (type from the bytes, limits, EXIF removed, served only to a
//! key that may see the household, nothing visible after a crash between objects and row), a
//! GPS point on entries, the district's check of entries, and month locks through the API
//! and the importer; on both databases.

use crate::helpers::{TestApp, dataset, error_code as code, gql, render, request};
use crate::on_both_databases;
use api::evidence::{EvidenceStore, PhotoLimits};
use api::service::keys::KeyScope;
use importer::workbook::SheetKind;
use importer::{Progress, Stage};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::{Value, json};
use std::path::Path;

const ATTACH: &str = "mutation($e: Int!, $f: Upload!, $c: String) { attachEvidence(entryId: $e, file: $f, caption: $c) { id entryId url thumbUrl mediaType width height caption recordedBy } }";

/// A JPEG of `w`×`h` with an EXIF block (orientation 6, turned right) holding a GPS-like text.
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut plain),
            image::ImageFormat::Jpeg,
        )
        .expect("encode");
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS 16.43N 102.83E");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// An `attachEvidence` multipart request.
fn attach_body(entry: i64, name: &str, bytes: &[u8], caption: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "----logbook-evidence";
    let ops = json!({"query": ATTACH, "variables": {"e": entry, "f": null, "c": caption}});
    let mut body = Vec::new();
    for (headers, content) in [
        (
            "Content-Disposition: form-data; name=\"operations\"".to_string(),
            ops.to_string().into_bytes(),
        ),
        (
            "Content-Disposition: form-data; name=\"map\"".to_string(),
            br#"{"0": ["variables.f"]}"#.to_vec(),
        ),
        (
            format!(
                "Content-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\nContent-Type: image/jpeg"
            ),
            bytes.to_vec(),
        ),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(&content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn attach(
    http: &axum::Router,
    key: &str,
    entry: i64,
    name: &str,
    bytes: &[u8],
    caption: Option<&str>,
) -> Value {
    let (ct, body) = attach_body(entry, name, bytes, caption);
    let auth = format!("Bearer {key}");
    let (_, _, out) = request(
        http.clone(),
        "POST",
        "/graphql",
        &[
            ("content-type", ct.as_str()),
            ("authorization", auth.as_str()),
            ("apollo-require-preflight", "1"),
        ],
        body,
    )
    .await;
    serde_json::from_slice(&out).expect("a JSON answer")
}

async fn get(http: &axum::Router, key: Option<&str>, uri: &str) -> (u16, String, Vec<u8>) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let (status, h, body) = request(http.clone(), "GET", uri, &headers, Vec::new()).await;
    let ct = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, body)
}

fn files_in(dir: &Path) -> usize {
    fn walk(d: &Path, n: &mut usize) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), n);
            } else {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    n
}

fn with_store(app: &TestApp, store: EvidenceStore) -> axum::Router {
    app.http_with(api::HttpConfig {
        evidence: Some(store),
        ..Default::default()
    })
}

/// `dataset(30, seed)` imported, and the HTTP app over a local evidence store in a fresh
/// temporary folder (which lives as long as the returned handle).
async fn with_evidence(app: &TestApp, seed: u64) -> (tempfile::TempDir, axum::Router) {
    let ds = dataset(30, seed);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let dir = tempfile::tempdir().expect("dir");
    let store = EvidenceStore::local(dir.path(), PhotoLimits::default()).expect("store");
    let http = with_store(app, store);
    (dir, http)
}

/// An entry on a health problem (indicators 1–4) of a household with no education problem
/// (9–12): the health agency sees it, the education agency does not see the household.
async fn health_entry(app: &TestApp) -> i64 {
    app.count(
        "SELECT CAST(MIN(e.id) AS BIGINT) FROM logbook_entries e JOIN problems p ON p.id = e.problem_id \
         WHERE p.indicator_code BETWEEN 1 AND 4 AND p.house_code NOT IN \
         (SELECT house_code FROM problems WHERE indicator_code BETWEEN 9 AND 12)",
    )
    .await
}

async fn evidence_is_cleaned_stored_and_served_only_to_who_may_see_the_household(app: TestApp) {
    let (dir, http) = with_evidence(&app, 61).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let education = app.key(KeyScope::Agency("33-edu".into())).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let entry = health_entry(&app).await;
    assert!(entry > 0, "the dataset has such an entry");

    let photo = jpeg_with_exif(60, 40);
    // the name says PDF; the bytes say JPEG: the bytes decide
    let v = attach(
        &http,
        &health,
        entry,
        "visit.pdf",
        &photo,
        Some("  หน้าบ้าน  "),
    )
    .await;
    let ev = &v["data"]["attachEvidence"];
    assert_eq!(ev["entryId"], entry, "{v}");
    // turned upright by the camera's orientation, then kept without EXIF
    assert_eq!(
        (ev["width"].as_i64(), ev["height"].as_i64()),
        (Some(40), Some(60)),
        "{v}"
    );
    assert_eq!(ev["mediaType"], "image/jpeg");
    assert_eq!(ev["caption"], "หน้าบ้าน");
    assert!(
        ev["recordedBy"]
            .as_str()
            .is_some_and(|r| r.starts_with("agency:33-pho"))
    );
    let id = ev["id"].as_i64().expect("id");
    assert_eq!(ev["url"], format!("/evidence/{id}"));

    let (status, ct, body) = get(&http, Some(&health), &format!("/evidence/{id}")).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    assert!(!body.windows(4).any(|w| w == b"Exif"), "EXIF removed");
    assert!(
        !body.windows(3).any(|w| w == b"GPS"),
        "the GPS text removed"
    );
    let served = image::load_from_memory(&body).expect("a photo");
    assert_eq!((served.width(), served.height()), (40, 60));
    let (status, ct, thumb) = get(&http, Some(&health), &format!("/evidence/{id}/thumb")).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    assert!(image::load_from_memory(&thumb).is_ok());
    // the district sees it; the education agency does not see the household: 404, as if
    // there were no such photo; no key: 401
    assert_eq!(
        get(&http, Some(&district), &format!("/evidence/{id}"))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&http, Some(&education), &format!("/evidence/{id}"))
            .await
            .0,
        404
    );
    assert_eq!(
        get(&http, Some(&education), &format!("/evidence/{id}/thumb"))
            .await
            .0,
        404
    );
    assert_eq!(get(&http, None, &format!("/evidence/{id}")).await.0, 401);
    assert_eq!(get(&http, Some(&health), "/evidence/999999").await.0, 404);

    // the entry lists it for who may see it
    let q = "{ logbookEntries(first: 100) { edges { node { id evidence { id thumbUrl } } } } }";
    let listed = |v: &Value| -> Vec<i64> {
        v["data"]["logbookEntries"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .flat_map(|e| {
                e["node"]["evidence"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|x| x["id"].as_i64())
            .collect()
    };
    assert_eq!(listed(&gql(&http, &health, q, json!({})).await), vec![id]);
    assert!(listed(&gql(&http, &education, q, json!({})).await).is_empty());

    // refused, each with its code, and nothing written for any of them
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    for (bytes, what, expected, field) in [
        (
            b"%PDF-1.7 a form".to_vec(),
            "a PDF named .jpg",
            "BAD_USER_INPUT",
            Some("file"),
        ),
        (gif.to_vec(), "a GIF", "BAD_USER_INPUT", Some("file")),
        (
            photo[..photo.len() / 2].to_vec(),
            "a cut JPEG",
            "BAD_USER_INPUT",
            Some("file"),
        ),
        (Vec::new(), "an empty file", "BAD_USER_INPUT", Some("file")),
        (
            photo.clone(),
            "the same photo again",
            "BAD_USER_INPUT",
            Some("file"),
        ),
    ] {
        let v = attach(&http, &health, entry, "x.jpg", &bytes, None).await;
        assert_eq!(code(&v), expected, "{what}: {v}");
        assert_eq!(
            v["errors"][0]["extensions"]["field"].as_str(),
            field,
            "{what}: {v}"
        );
    }
    let v = attach(
        &http,
        &education,
        entry,
        "x.jpg",
        &jpeg_with_exif(8, 8),
        None,
    )
    .await;
    assert_eq!(
        code(&v),
        "NOT_FOUND",
        "an agency that cannot see the entry: {v}"
    );
    let v = attach(
        &http,
        &health,
        999_999,
        "x.jpg",
        &jpeg_with_exif(8, 8),
        None,
    )
    .await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let long = "ก".repeat(501);
    let v = attach(
        &http,
        &health,
        entry,
        "x.jpg",
        &jpeg_with_exif(8, 8),
        Some(&long),
    )
    .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    // a server with a smaller limit refuses a larger photo before decoding it
    let small = EvidenceStore::local(
        dir.path(),
        PhotoLimits {
            max_bytes: 500,
            ..PhotoLimits::default()
        },
    )
    .expect("store");
    let v = attach(
        &with_store(&app, small),
        &health,
        entry,
        "x.jpg",
        &jpeg_with_exif(64, 64),
        None,
    )
    .await;
    assert_eq!(code(&v), "LIMIT_EXCEEDED", "{v}");
    // a server that keeps no photos says so
    let v = attach(
        &app.http(),
        &health,
        entry,
        "x.jpg",
        &jpeg_with_exif(8, 8),
        None,
    )
    .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence").await, 1);
    assert_eq!(files_in(dir.path()), 2, "the photo and its thumbnail only");

    // deleted by who attached it: row and objects gone; another agency cannot
    let del = "mutation($id: Int!) { deleteEvidence(id: $id) }";
    assert_eq!(
        code(&gql(&http, &education, del, json!({"id": id})).await),
        "NOT_FOUND"
    );
    let v = gql(&http, &health, del, json!({"id": id})).await;
    assert_eq!(v["data"]["deleteEvidence"], true, "{v}");
    assert_eq!(
        get(&http, Some(&health), &format!("/evidence/{id}"))
            .await
            .0,
        404
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence").await, 0);
    assert_eq!(files_in(dir.path()), 0);
}

async fn a_crash_between_objects_and_row_leaves_nothing_visible(app: TestApp) {
    use sea_orm::{ActiveModelTrait, Set};
    let ds = dataset(12, 62);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = EvidenceStore::local(dir.path(), PhotoLimits::default()).expect("store");
    let http = with_store(&app, store.clone());
    let district = app.key(KeyScope::District("3318".into())).await;
    let entry = app
        .count("SELECT CAST(MIN(id) AS BIGINT) FROM logbook_entries")
        .await;

    // the process died after writing both objects, before the row said `stored`
    let row = entity::evidence::ActiveModel {
        entry_id: Set(entry as i32),
        state: Set(entity::types::EvidenceState::Pending),
        object_key: Set(format!("evidence/{entry}/crash.jpg")),
        thumb_key: Set(format!("evidence/{entry}/crash-thumb.jpg")),
        media_type: Set("image/jpeg".into()),
        byte_size: Set(10),
        width: Set(1),
        height: Set(1),
        sha256: Set("0".repeat(64)),
        caption: Set(None),
        recorded_by: Set("district:3318:1".into()),
        created_at: Set(chrono::Utc::now() - chrono::Duration::hours(1)),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("row");
    store
        .put(&row.object_key, b"jpeg".to_vec())
        .await
        .expect("put");
    store
        .put(&row.thumb_key, b"jpeg".to_vec())
        .await
        .expect("put");
    assert_eq!(files_in(dir.path()), 2);
    // nothing of it is visible
    assert_eq!(
        get(&http, Some(&district), &format!("/evidence/{}", row.id))
            .await
            .0,
        404
    );
    let q = "{ logbookEntries(first: 100) { edges { node { id evidence { id } } } } }";
    let v = gql(&http, &district, q, json!({})).await;
    let edges = v["data"]["logbookEntries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(edges.iter().any(|e| e["node"]["id"] == entry), "{v}");
    assert!(
        edges.iter().all(|e| e["node"]["evidence"] == json!([])),
        "{v}"
    );
    // the sweep removes the row and its objects; a fresh pending row (an upload under way)
    // is left alone
    let fresh = entity::evidence::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        created_at: Set(chrono::Utc::now()),
        object_key: Set(format!("evidence/{entry}/busy.jpg")),
        thumb_key: Set(format!("evidence/{entry}/busy-thumb.jpg")),
        ..row.clone().into()
    }
    .insert(&app.db)
    .await
    .expect("row");
    let swept = api::service::evidence::sweep(&app.db, &store, api::service::evidence::PENDING_FOR)
        .await
        .expect("sweep");
    assert_eq!(swept, 1);
    assert_eq!(files_in(dir.path()), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM evidence WHERE id = {}",
            fresh.id
        ))
        .await,
        1
    );

    // an object store that fails: the upload answers STORAGE_UNAVAILABLE and keeps nothing
    let broken = tempfile::tempdir().expect("dir");
    let failing = EvidenceStore::local(broken.path(), PhotoLimits::default()).expect("store");
    // the folder the objects go in is a file: every write fails
    std::fs::write(broken.path().join("evidence"), b"not a folder").expect("file");
    let before = app.count("SELECT COUNT(*) FROM evidence").await;
    let v = attach(
        &with_store(&app, failing),
        &district,
        entry,
        "a.jpg",
        &jpeg_with_exif(20, 20),
        None,
    )
    .await;
    assert_eq!(code(&v), "STORAGE_UNAVAILABLE", "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence").await, before);
}

async fn entries_carry_a_gps_point_inside_thailand(app: TestApp) {
    let ds = dataset(12, 63);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    // the generator writes a point for every follow-up visit; each is stored as written
    let visits = ds
        .entries
        .iter()
        .filter(|e| e.next_visit_on().is_some())
        .count() as i64;
    assert!(visits > 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries WHERE latitude IS NOT NULL AND longitude IS NOT NULL").await,
        visits
    );
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let p = &ds.problems[0];
    let input = |extra: Value| {
        let mut v = json!({"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
            "date": chrono::Local::now().date_naive().to_string(), "agency": "33-pho",
            "activity": "เยี่ยมบ้าน พร้อมพิกัด", "status": "FOLLOWING_UP"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        v
    };
    let rec = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id latitude longitude verification } }";
    for (extra, field) in [
        (json!({"latitude": 16.4}), "longitude"),
        (json!({"longitude": 102.8}), "latitude"),
        (json!({"latitude": 48.85, "longitude": 2.35}), "latitude"),
        (json!({"latitude": 16.4, "longitude": 120.0}), "longitude"),
    ] {
        let v = gql(&http, &district, rec, json!({"i": input(extra.clone())})).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{extra}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], field, "{extra}: {v}");
    }
    let v = gql(
        &http,
        &district,
        rec,
        json!({"i": input(json!({"latitude": 16.43211, "longitude": 102.83345}))}),
    )
    .await;
    let e = &v["data"]["recordAssistance"];
    assert_eq!(
        (e["latitude"].as_f64(), e["longitude"].as_f64()),
        (Some(16.43211), Some(102.83345)),
        "{v}"
    );
    assert_eq!(e["verification"], "RECORDED");

    // in the workbook: a latitude without its longitude names the empty cell
    let mut bad = ds.clone();
    let i = bad
        .entries
        .iter()
        .position(|e| e.next_visit_on().is_some())
        .expect("a visit");
    bad.overrides
        .insert((SheetKind::Assistance, i, "longitude"), String::new());
    let r = app
        .import("gps.xlsx", render(&bad, false, false).bytes)
        .await;
    assert_eq!(r.status.as_str(), "rejected");
    assert!(
        r.errors.iter().any(|e| e.code.as_str() == "required"
            && e.sheet == Some(SheetKind::Assistance)
            && e.column.as_deref().is_some_and(|c| c.contains("ลองจิจูด"))),
        "{:?}",
        r.errors
    );
}

/// The first 100 entries of the verification queue.
const QUEUE: &str = "{ verificationQueue(first: 100) { edges { node { id } } } }";

/// The first 100 entries of the verification queue `token` sees, by id.
async fn queue_ids(http: &axum::Router, token: &str) -> Vec<i64> {
    let v = gql(http, token, QUEUE, json!({})).await;
    v["data"]["verificationQueue"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["node"]["id"].as_i64().expect("id"))
        .collect()
}

async fn entries_are_verified_returned_and_locked_by_month(app: TestApp) {
    let ds = dataset(20, 64);
    let bytes = render(&ds, false, false).bytes;
    let report = app.import("d.xlsx", bytes.clone()).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let total = app.count("SELECT COUNT(*) FROM logbook_entries").await;
    let unverified =
        || app.count("SELECT COUNT(*) FROM logbook_entries WHERE verification <> 'verified'");
    assert_eq!(
        unverified().await,
        total,
        "every imported entry waits for the check"
    );

    // the queue holds them all, oldest first
    let ids = queue_ids(&http, &district).await;
    assert_eq!(ids.len() as i64, total.min(100), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        code(&gql(&http, &health, QUEUE, json!({})).await),
        "FORBIDDEN"
    );

    let verify =
        "mutation($ids: [Int!]!) { verifyEntries(ids: $ids) { id verification verifiedBy } }";
    let ret = "mutation($id: Int!, $n: String!) { returnEntry(id: $id, note: $n) { id verification verificationNote } }";
    assert_eq!(
        code(&gql(&http, &health, verify, json!({"ids": [ids[0]]})).await),
        "FORBIDDEN"
    );
    // all or none: one unknown id verifies nothing
    let v = gql(&http, &district, verify, json!({"ids": [ids[0], 999_999]})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    assert_eq!(unverified().await, total);
    assert_eq!(
        code(&gql(&http, &district, verify, json!({"ids": []})).await),
        "BAD_USER_INPUT"
    );
    let v = gql(
        &http,
        &district,
        verify,
        json!({"ids": [ids[0], ids[1], ids[1]]}),
    )
    .await;
    let done = v["data"]["verifyEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|e| {
        e["verification"] == "VERIFIED"
            && e["verifiedBy"]
                .as_str()
                .is_some_and(|b| b.starts_with("district:3318"))
    }));
    assert_eq!(
        code(&gql(&http, &district, ret, json!({"id": ids[2], "n": "   "})).await),
        "BAD_USER_INPUT"
    );
    let v = gql(
        &http,
        &district,
        ret,
        json!({"id": ids[2], "n": "จำนวนเงินไม่ตรงใบเสร็จ"}),
    )
    .await;
    assert_eq!(v["data"]["returnEntry"]["verification"], "RETURNED", "{v}");
    assert_eq!(
        v["data"]["returnEntry"]["verificationNote"],
        "จำนวนเงินไม่ตรงใบเสร็จ"
    );
    assert_eq!(unverified().await, total - 2);
    // the stats measure counts the same
    let v = gql(
        &http,
        &admin,
        "{ stats(groupBy: []) { logbookEntries unverifiedEntries } }",
        json!({}),
    )
    .await;
    assert_eq!(v["data"]["stats"][0]["logbookEntries"], total, "{v}");
    assert_eq!(v["data"]["stats"][0]["unverifiedEntries"], total - 2, "{v}");
    // an unchanged re-import keeps the check
    let again = app.import("d.xlsx", bytes.clone()).await;
    assert_eq!(again.status.as_str(), "imported", "{:?}", again.errors);
    assert_eq!(unverified().await, total - 2);

    // lock the month of the first entry
    let (date, entry_index) = {
        let e0 = ids[3];
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT CAST(entry_date AS TEXT), source_row FROM logbook_entries WHERE id = {e0}"),
            ))
            .await
            .expect("query")
            .expect("row");
        let d: String = row.try_get_by_index(0).expect("date");
        let r: i32 = row.try_get_by_index(1).expect("row");
        (d[..10].to_string(), r)
    };
    let month = &date[..7];
    let lock = "mutation($d: String!, $m: String!) { lockMonth(district: $d, month: $m) { district month lockedBy } }";
    assert_eq!(
        code(&gql(&http, &district, lock, json!({"d": "3318", "m": month})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&gql(&http, &admin, lock, json!({"d": "3318", "m": "2026-13"})).await),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        code(&gql(&http, &admin, lock, json!({"d": "9999", "m": month})).await),
        "NOT_FOUND"
    );
    let v = gql(&http, &admin, lock, json!({"d": "3318", "m": month})).await;
    assert_eq!(v["data"]["lockMonth"]["month"], month, "{v}");
    let v = gql(
        &http,
        &district,
        "{ monthLocks { district month } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v["data"]["monthLocks"],
        json!([{"district": "3318", "month": month}]),
        "{v}"
    );

    // the API refuses help dated in it, and a check of its entries
    let p = &ds.problems[0];
    let rec = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }";
    let help = |d: &str| {
        json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
        "date": d, "agency": "33-pho", "activity": "ติดตามผลหลังปิดเดือน", "status": "FOLLOWING_UP"}})
    };
    let v = gql(&http, &district, rec, help(&date)).await;
    assert_eq!(code(&v), "MONTH_LOCKED", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["month"], month, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["district"], "3318", "{v}");
    let v = gql(&http, &district, verify, json!({"ids": [ids[3]]})).await;
    assert_eq!(code(&v), "MONTH_LOCKED", "{v}");
    let today = chrono::Local::now().date_naive().to_string();
    if !today.starts_with(month) {
        let v = gql(&http, &district, rec, help(&today)).await;
        assert!(
            v["data"]["recordAssistance"]["id"].is_i64(),
            "another month is open: {v}"
        );
    }

    // the importer: the same file again is fine (nothing in the month changes) …
    let same = app.import("d.xlsx", bytes.clone()).await;
    assert_eq!(same.status.as_str(), "imported", "{:?}", same.errors);
    // … a change to an entry of the locked month is refused, naming the row and the date
    let mut changed = ds.clone();
    let i = (entry_index - 2) as usize;
    changed
        .overrides
        .insert((SheetKind::Assistance, i, "note"), "แก้ไขหลังปิดเดือน".into());
    let changed_bytes = render(&changed, false, false).bytes;
    let r = app.import("changed.xlsx", changed_bytes.clone()).await;
    assert_eq!(r.status.as_str(), "rejected", "{:?}", r.errors);
    let e = r
        .errors
        .iter()
        .find(|e| e.code.as_str() == "month_locked")
        .unwrap_or_else(|| panic!("{:?}", r.errors));
    assert_eq!(
        (e.sheet, e.row),
        (Some(SheetKind::Assistance), Some(entry_index as u32))
    );
    assert!(e.message_en.contains(month), "{}", e.message_en);
    // the row counts as refused, not as changed; the file's other entries as unchanged
    let counts = &r.sheets[&SheetKind::Assistance];
    assert_eq!(
        (counts.inserted, counts.updated, counts.rejected),
        (0, 0, 1),
        "{counts:?}"
    );
    assert_eq!(
        counts.unchanged as usize,
        ds.entries.len() - 1,
        "{counts:?}"
    );

    // the monthly report shows the lock and the unverified count of the month
    let m = api::service::reports::Month::parse(month).expect("month");
    let rep = api::service::reports::monthly(
        &app.db,
        &api::access::Principal::Operator { district: None },
        m,
        30,
    )
    .await
    .expect("report");
    let row = rep
        .follow_up
        .iter()
        .find(|f| f.district_code == "3318")
        .expect("3318");
    assert!(row.locked);
    let expected = app
        .count(&format!(
            "SELECT COUNT(*) FROM logbook_entries WHERE verification <> 'verified' AND CAST(entry_date AS TEXT) LIKE '{month}%'"
        ))
        .await;
    assert_eq!(row.unverified as i64, expected);

    // unlocked: the change goes in, and the changed entry waits for the check again
    let unlock = "mutation($d: String!, $m: String!) { unlockMonth(district: $d, month: $m) }";
    assert_eq!(
        gql(&http, &admin, unlock, json!({"d": "3318", "m": month})).await["data"]["unlockMonth"],
        true
    );
    let r = app.import("changed.xlsx", changed_bytes).await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM logbook_entries WHERE source_row = {entry_index} AND note = 'แก้ไขหลังปิดเดือน' AND verification = 'recorded'"
        ))
        .await,
        1
    );
}

async fn staff_find_households_and_the_map_shows_what_the_key_sees(app: TestApp) {
    let ds = dataset(20, 65);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let find = "query($t: String!) { findHouseholds(text: $t) { houseCode } }";
    let codes = |v: &Value| -> Vec<String> {
        v["data"]["findHouseholds"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|h| h["houseCode"].as_str().expect("code").to_string())
            .collect()
    };
    let h = &ds.households[3];
    // by house code, whole or its start (dashes and spaces as people type them)
    let v = gql(&http, &district, find, json!({"t": h.house_code})).await;
    assert_eq!(codes(&v), vec![h.house_code.clone()]);
    let prefix = &h.house_code[..8];
    let expected = ds
        .households
        .iter()
        .filter(|x| x.house_code.starts_with(prefix))
        .count();
    let v = gql(
        &http,
        &district,
        find,
        json!({"t": format!("{}-{}", &prefix[..4], &prefix[4..])}),
    )
    .await;
    assert_eq!(codes(&v).len(), expected.min(20), "{v}");
    // by the head's citizen ID, and by a member's
    let v = gql(&http, &district, find, json!({"t": h.head_citizen_id})).await;
    assert_eq!(codes(&v), vec![h.house_code.clone()], "{v}");
    let m = ds
        .members
        .iter()
        .find(|m| m.house_code != h.house_code)
        .expect("a member");
    let v = gql(&http, &district, find, json!({"t": m.citizen_id})).await;
    assert_eq!(codes(&v), vec![m.house_code.clone()], "{v}");
    // by name: every household whose head or a member has it
    let name = h.head_name.split_whitespace().last().expect("a surname");
    let v = gql(&http, &district, find, json!({"t": name})).await;
    assert!(codes(&v).contains(&h.house_code), "{v}");
    // LIKE's wildcards are text, not patterns
    let v = gql(&http, &district, find, json!({"t": "%%"})).await;
    assert_eq!(codes(&v), Vec::<String>::new(), "{v}");
    for bad in ["x", "123", &"ก".repeat(101)] {
        let v = gql(&http, &district, find, json!({"t": bad})).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{bad}: {v}");
    }
    assert_eq!(
        code(&gql(&http, &health, find, json!({"t": h.house_code})).await),
        "FORBIDDEN"
    );

    // the map: every household the key sees, with a point or counted without
    let map = |key: &str, uri: &str| {
        let http = http.clone();
        let (key, uri) = (key.to_string(), uri.to_string());
        async move {
            let (status, _, body) = get(&http, Some(&key), &uri).await;
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    let (status, all) = map(&district, "/map/households.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        all["points"].as_array().map(Vec::len),
        Some(ds.households.len())
    );
    assert_eq!(all["missing"], 0);
    let villages: std::collections::BTreeSet<&str> = all["points"]
        .as_array()
        .expect("points")
        .iter()
        .filter_map(|p| p["v"].as_str())
        .collect();
    assert_eq!(
        all["villages"].as_array().map(Vec::len),
        Some(villages.len())
    );
    // a household whose problems are all solved is green; the colour is its least advanced
    let hp = all["points"]
        .as_array()
        .expect("points")
        .iter()
        .find(|p| p["h"] == h.house_code.as_str())
        .expect("the household");
    let least = app
        .count(&format!(
            "SELECT CAST(MIN(CASE status WHEN 'not_started' THEN 0 WHEN 'not_solvable_yet' THEN 1 WHEN 'awaiting_follow_up' THEN 2 WHEN 'following_up' THEN 3 ELSE 4 END) AS BIGINT) FROM problems WHERE house_code = '{}'",
            h.house_code
        ))
        .await;
    let order = [
        "not_started",
        "not_solvable_yet",
        "awaiting_follow_up",
        "following_up",
        "solved",
    ];
    assert_eq!(hp["s"], order[least as usize], "{hp}");
    // an agency sees the households with a problem in its dimensions, no more
    let (_, mine) = map(&health, "/map/households.json").await;
    let expected = app
        .count(
            "SELECT COUNT(DISTINCT house_code) FROM problems WHERE indicator_code BETWEEN 1 AND 4",
        )
        .await;
    assert_eq!(
        mine["points"].as_array().map(Vec::len),
        Some(expected as usize)
    );
    let (status, _) = map(&district, "/map/households.json?area=12x").await;
    assert_eq!(status, 400);
    assert_eq!(get(&http, None, "/map/households.json").await.0, 401);
    // the page and Leaflet are served, with the tile server in the page
    let (status, ct, page) = get(&http, None, "/").await;
    assert_eq!((status, ct.starts_with("text/html")), (200, true));
    assert!(String::from_utf8_lossy(&page).contains("tile.openstreetmap.org"));
    let (status, ct, _) = get(&http, None, "/leaflet/leaflet.js").await;
    assert_eq!((status, ct.starts_with("text/javascript")), (200, true));
    assert_eq!(get(&http, None, "/leaflet/../Cargo.toml").await.0, 404);
}

async fn the_households_sheet_may_keep_urgency_and_closure(app: TestApp) {
    let ds = dataset(10, 66);
    let mut bad = ds.clone();
    bad.set_raw(SheetKind::Households, 2, "closed_reason", "รวมกับครัวเรือนอื่น");
    bad.set_raw(SheetKind::Households, 2, "closed_on", "1/10/2569");
    bad.set_raw(SheetKind::Households, 3, "closed_on", "1/10/2569");
    bad.set_raw(SheetKind::Households, 4, "urgent", "บางที");
    bad.set_raw(SheetKind::Households, 5, "closed_reason", "อื่น ๆ");
    bad.set_raw(SheetKind::Households, 5, "closed_on", "1/10/2569");
    let r = app
        .import("bad.xlsx", render(&bad, false, false).bytes)
        .await;
    assert_eq!(r.status.as_str(), "rejected");
    let found = |row: u32, code: &str, column: &str| {
        r.errors.iter().any(|e| {
            e.sheet == Some(SheetKind::Households)
                && e.row == Some(row)
                && e.code.as_str() == code
                && e.column.as_deref().is_some_and(|c| c.contains(column))
        })
    };
    // data rows start on the sheet's second row
    assert!(found(4, "required", "รวมเข้ากับรหัสบ้าน"), "{:?}", r.errors);
    assert!(found(5, "required", "ออกจากเป้าหมายเพราะ"), "{:?}", r.errors);
    assert!(found(6, "urgent_invalid", "เร่งด่วน"), "{:?}", r.errors);
    assert!(found(7, "required", "หมายเหตุการปิด"), "{:?}", r.errors);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM household_follow_ups").await,
        0
    );

    let mut good = ds.clone();
    good.set_raw(SheetKind::Households, 0, "urgent", "ใช่");
    good.set_raw(SheetKind::Households, 0, "urgent_reason", "ผู้ป่วยติดเตียง");
    good.set_raw(SheetKind::Households, 1, "closed_reason", "เสียชีวิต");
    good.set_raw(SheetKind::Households, 1, "closed_on", "15/10/2569");
    let bytes = render(&good, false, false).bytes;
    let r = app.import("good.xlsx", bytes.clone()).await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    let (h0, h1) = (&ds.households[0].house_code, &ds.households[1].house_code);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM household_follow_ups WHERE house_code = '{h0}' AND urgent AND urgent_reason = 'ผู้ป่วยติดเตียง' AND closed_reason IS NULL")).await,
        1
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM household_follow_ups WHERE house_code = '{h1}' AND closed_reason = 'died' AND CAST(closed_on AS TEXT) LIKE '2026-10-15%' AND updated_by LIKE 'import:%'")).await,
        1
    );
    let http = app.http();
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let stats = "{ stats(groupBy: []) { urgentHouseholds closedHouseholds } }";
    let v = gql(&http, &admin, stats, json!({})).await;
    assert_eq!(
        v["data"]["stats"][0],
        json!({"urgentHouseholds": 1, "closedHouseholds": 1}),
        "{v}"
    );
    // the same file again writes nothing; a file with those cells blank leaves the state
    let at = app
        .count("SELECT CAST(MAX(change_seq) AS BIGINT) FROM households")
        .await;
    assert_eq!(
        app.import("good.xlsx", bytes).await.status.as_str(),
        "imported"
    );
    assert_eq!(
        app.import("plain.xlsx", render(&ds, false, false).bytes)
            .await
            .status
            .as_str(),
        "imported"
    );
    assert_eq!(
        app.count("SELECT CAST(MAX(change_seq) AS BIGINT) FROM households")
            .await,
        at
    );
    let v = gql(&http, &admin, stats, json!({})).await;
    assert_eq!(
        v["data"]["stats"][0],
        json!({"urgentHouseholds": 1, "closedHouseholds": 1}),
        "{v}"
    );
    // "no" takes the urgency away
    let mut no = ds.clone();
    no.set_raw(SheetKind::Households, 0, "urgent", "ไม่ใช่");
    assert_eq!(
        app.import("no.xlsx", render(&no, false, false).bytes)
            .await
            .status
            .as_str(),
        "imported"
    );
    let v = gql(&http, &admin, stats, json!({})).await;
    assert_eq!(
        v["data"]["stats"][0],
        json!({"urgentHouseholds": 0, "closedHouseholds": 1}),
        "{v}"
    );
}

async fn control_characters_in_field_work_text_are_refused(app: TestApp) {
    let ds = dataset(6, 68);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let entry = app
        .count("SELECT CAST(MIN(id) AS BIGINT) FROM logbook_entries")
        .await;
    let find = "query($t: String!) { findHouseholds(text: $t) { houseCode } }";
    let v = gql(&http, &district, find, json!({"t": "ab\u{0}cd"})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let ret = "mutation($id: Int!, $n: String!) { returnEntry(id: $id, note: $n) { id } }";
    let v = gql(&http, &district, ret, json!({"id": entry, "n": "ผิด\u{0}"})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let p = &ds.problems[0];
    let rec = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }";
    let v = gql(&http, &district, rec, json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
        "date": chrono::Local::now().date_naive().to_string(), "agency": "33-pho", "activity": "เยี่ยม\u{1b}บ้าน", "status": "FOLLOWING_UP"}})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    let dir = tempfile::tempdir().expect("dir");
    let http = with_store(
        &app,
        EvidenceStore::local(dir.path(), PhotoLimits::default()).expect("store"),
    );
    let v = attach(
        &http,
        &district,
        entry,
        "a.jpg",
        &jpeg_with_exif(8, 8),
        Some("ภาพ\u{0}"),
    )
    .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence").await, 0);
}

/// The row a province officer's `lockMonth` writes.
fn month_lock(district: &str, month: &str) -> entity::month_lock::ActiveModel {
    entity::month_lock::ActiveModel {
        district_code: Set(district.to_string()),
        month: Set(month.to_string()),
        locked_by: Set("province officer".into()),
        locked_at: Set(chrono::Utc::now()),
    }
}

/// Progress that locks `month` of `district` when the import reaches its write, after the
/// file was checked against the locks stored then: a province officer's `lockMonth` landing
/// while a district's file is imported.
fn lock_at_write(app: &TestApp, district: &'static str, month: String) -> Progress {
    let db = app.db.clone();
    Progress::new(move |stage| {
        if matches!(stage, Stage::Writing { .. }) {
            let lock = month_lock(district, &month);
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(lock.insert(&db))
                    .expect("month locked")
            });
        }
    })
}

async fn a_month_locked_while_a_file_is_checked_takes_none_of_its_entries(app: TestApp) {
    let ds = dataset(20, 66);
    let bytes = render(&ds, false, false).bytes;
    let month_of = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
    let month = month_of(ds.entries[0].date);
    // entry rows as Excel numbers them (the header is row 1)
    let in_month: Vec<u32> = (0..ds.entries.len())
        .filter(|i| month_of(ds.entries[*i].date) == month)
        .map(|i| i as u32 + 2)
        .collect();
    assert!(!in_month.is_empty() && in_month.len() < ds.entries.len());

    // a new file: the month is locked once it is checked; nothing of the file is written
    let r = app
        .import_telling(
            "d.xlsx",
            bytes.clone(),
            lock_at_write(&app, "3318", month.clone()),
        )
        .await;
    assert_eq!(r.status.as_str(), "rejected", "{:?}", r.errors);
    let locked: Vec<&importer::report::Issue> = r
        .errors
        .iter()
        .filter(|e| e.code.as_str() == "month_locked")
        .collect();
    assert_eq!(locked.len(), r.errors.len(), "{:?}", r.errors);
    assert_eq!(
        locked
            .iter()
            .map(|e| e.row.unwrap_or(0))
            .collect::<Vec<_>>(),
        in_month
    );
    for e in &locked {
        assert_eq!(e.sheet, Some(SheetKind::Assistance));
        assert!(e.column.is_some() && e.value.is_some(), "{e:?}");
        assert!(e.message_en.contains(&month) && e.message_en.contains("3318"));
    }
    let sheet = &r.sheets[&SheetKind::Assistance];
    assert_eq!(sheet.rejected as usize, in_month.len());
    assert_eq!(
        sheet.inserted as usize,
        ds.entries.len() - in_month.len(),
        "the other rows would have gone in"
    );
    assert!(r.batch_id.is_some(), "the refusal is recorded");
    for table in ["households", "members", "problems", "logbook_entries"] {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM import_batches WHERE status = 'rejected'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM import_issues WHERE code = 'month_locked'")
            .await,
        in_month.len() as i64
    );

    // another district's month locked meanwhile takes nothing from this file
    app.db
        .execute_unprepared("DELETE FROM month_locks")
        .await
        .expect("unlocked");
    let r = app
        .import_telling("d.xlsx", bytes, lock_at_write(&app, "3301", month.clone()))
        .await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries").await,
        ds.entries.len() as i64
    );

    // a stored entry changed in the file: refused at its row, the stored one kept
    let mut changed = ds.clone();
    let row = in_month[0];
    changed.overrides.insert(
        (SheetKind::Assistance, row as usize - 2, "note"),
        "แก้ไขระหว่างปิดเดือน".into(),
    );
    let r = app
        .import_telling(
            "changed.xlsx",
            render(&changed, false, false).bytes,
            lock_at_write(&app, "3318", month.clone()),
        )
        .await;
    assert_eq!(r.status.as_str(), "rejected", "{:?}", r.errors);
    assert_eq!(
        r.errors
            .iter()
            .map(|e| (e.code.as_str(), e.row))
            .collect::<Vec<_>>(),
        vec![("month_locked", Some(row))]
    );
    assert_eq!(r.sheets[&SheetKind::Assistance].updated, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries WHERE note = 'แก้ไขระหว่างปิดเดือน'")
            .await,
        0
    );
}

/// `lockMonth` waits for a write that holds the change counter (an import from its stamp to
/// its commit, an API write from its month check): a lock lands before or after such a
/// write, never between its check and its commit.
async fn locking_a_month_waits_for_a_write_in_progress(app: TestApp) {
    let writing = entity::db::begin_write(&app.db).await.expect("begin");
    entity::db::stamp(&writing).await.expect("stamp");
    let db = app.db.clone();
    let locking = tokio::spawn(async move {
        api::service::verification::lock(
            &db,
            &api::access::Principal::Operator { district: None },
            "3318",
            "2026-10",
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !locking.is_finished(),
        "the lock did not wait for the write"
    );
    writing.commit().await.expect("commit");
    let l = locking.await.expect("joined").expect("locked");
    assert_eq!(
        (l.district_code.as_str(), l.month.as_str()),
        ("3318", "2026-10")
    );
}

/// Help recorded while a province officer's `lockMonth` is in progress for its month waits
/// for the lock, then is refused: it is not written into a month locked under it.
async fn help_recorded_while_its_month_is_being_locked_is_refused(app: TestApp) {
    let ds = dataset(10, 67);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let today = chrono::Local::now().date_naive();
    let month = today.format("%Y-%m").to_string();
    let entries = app.count("SELECT COUNT(*) FROM logbook_entries").await;

    // the lock's transaction, from its counter lock to its commit
    let locking = entity::db::begin_write(&app.db).await.expect("begin");
    entity::stats_dirty::lock(&locking).await.expect("counter");
    month_lock("3318", &month)
        .insert(&locking)
        .await
        .expect("lock row");

    let p = &ds.problems[0];
    let help = json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
        "date": today.to_string(), "agency": "33-pho", "activity": "เยี่ยมระหว่างปิดเดือน", "status": "FOLLOWING_UP"}});
    let recording = tokio::spawn(async move {
        gql(
            &http,
            &district,
            "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }",
            help,
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !recording.is_finished(),
        "the write did not wait for the lock"
    );
    locking.commit().await.expect("locked");
    let v = recording.await.expect("joined");
    assert_eq!(code(&v), "MONTH_LOCKED", "{v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries").await,
        entries
    );
}

/// `verifyEntries` checks and writes its entries in a fixed number of statements: as many for
/// forty as for one (it fails if a statement is made per id), and all of them are verified.
async fn verifying_entries_runs_the_same_statements_for_one_as_for_forty(app: TestApp) {
    use std::sync::atomic::Ordering;
    let ds = dataset(40, 65);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let district = app.key(KeyScope::District("3318".into())).await;
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang\n",
    )
    .await;
    let other = app.key(KeyScope::District("3301".into())).await;
    let (http, statements) = app.counting_http().await;
    let ids = queue_ids(&http, &district).await;
    assert!(ids.len() > 41, "{} entries", ids.len());
    // the key's use is noted beside its first requests: let that settle before counting
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let verify = "mutation($ids: [Int!]!) { verifyEntries(ids: $ids) { id verification } }";
    let mut counts = Vec::new();
    for batch in [&ids[..1], &ids[1..41]] {
        statements.store(0, Ordering::SeqCst);
        let v = gql(&http, &district, verify, json!({ "ids": batch })).await;
        let done = v["data"]["verifyEntries"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        let got: Vec<i64> = done.iter().filter_map(|e| e["id"].as_i64()).collect();
        assert_eq!(got, batch, "{v}");
        assert!(done.iter().all(|e| e["verification"] == "VERIFIED"), "{v}");
        counts.push(statements.load(Ordering::SeqCst));
    }
    assert!(counts[0] >= 5, "the statements are counted: {counts:?}");
    assert_eq!(
        counts[0], counts[1],
        "statements grow with the ids: {counts:?}"
    );
    let verified =
        || app.count("SELECT COUNT(*) FROM logbook_entries WHERE verification = 'verified'");
    assert_eq!(verified().await, 41);
    // another district's key sees none of them: NOT_FOUND, and nothing changes
    let v = gql(&http, &other, verify, json!({ "ids": [ids[41]] })).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = gql(
        &http,
        &district,
        verify,
        json!({ "ids": [ids[41], ids[0]] }),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    assert_eq!(verified().await, 42);
    // more ids than one call takes: refused before any statement runs
    let many: Vec<i64> = (1..=api::service::verification::MAX_VERIFY as i64 + 1).collect();
    statements.store(0, Ordering::SeqCst);
    let v = gql(&http, &district, verify, json!({ "ids": many })).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert_eq!(v["errors"][0]["extensions"]["field"], "ids", "{v}");
    assert_eq!(statements.load(Ordering::SeqCst), 0);
    assert_eq!(verified().await, 42);
}

/// Photos sent at the same moment are checked one after another: the same photo six times at
/// once is attached once (the others are told it is already there), and more photos at once
/// than an entry keeps stop at the limit.
async fn photos_sent_at_once_are_attached_once_and_up_to_the_limit(app: TestApp) {
    let (dir, http) = with_evidence(&app, 62).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let entry = health_entry(&app).await;
    let rows = |state: &'static str| {
        let sql =
            format!("SELECT COUNT(*) FROM evidence WHERE entry_id = {entry} AND state = '{state}'");
        let app = &app;
        async move { app.count(&sql).await }
    };

    let photo = jpeg_with_exif(48, 32);
    let answers = futures::future::join_all(
        (0..6).map(|_| attach(&http, &health, entry, "x.jpg", &photo, None)),
    )
    .await;
    let attached = answers
        .iter()
        .filter(|v| v["data"]["attachEvidence"]["id"].is_i64())
        .count();
    assert_eq!(attached, 1, "{answers:?}");
    for v in answers.iter().filter(|v| v["errors"].is_array()) {
        assert_eq!(code(v), "BAD_USER_INPUT", "{v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "file", "{v}");
    }
    assert_eq!(rows("stored").await, 1);

    // 12 different photos at once onto an entry holding one: 9 more fit
    let more: Vec<Vec<u8>> = (0..12).map(|i| jpeg_with_exif(20 + i, 16)).collect();
    let answers = futures::future::join_all(
        more.iter()
            .map(|p| attach(&http, &health, entry, "x.jpg", p, None)),
    )
    .await;
    let attached = answers
        .iter()
        .filter(|v| v["data"]["attachEvidence"]["id"].is_i64())
        .count();
    assert_eq!(attached, 9, "{answers:?}");
    let refused: Vec<&str> = answers
        .iter()
        .filter(|v| v["errors"].is_array())
        .map(code)
        .collect();
    assert_eq!(refused, ["LIMIT_EXCEEDED"; 3], "{answers:?}");
    assert_eq!(rows("stored").await, 10);
    assert_eq!(rows("pending").await, 0);
    assert_eq!(
        files_in(dir.path()),
        20,
        "a photo and its thumbnail for each, nothing else"
    );

    // a photo on its way (its row pending, its objects being written) counts as attached:
    // the same photo sent meanwhile is refused; a pending row older than a crash's leftover
    // does not count
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let first = app
        .count(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM logbook_entries WHERE id > {entry}"
        ))
        .await;
    let second = app
        .count(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM logbook_entries WHERE id > {first}"
        ))
        .await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let photo = jpeg_with_exif(50, 30);
    let v = attach(&http, &district, first, "x.jpg", &photo, None).await;
    let id = v["data"]["attachEvidence"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    let done = entity::evidence::Entity::find_by_id(i32::try_from(id).expect("an id"))
        .one(&app.db)
        .await
        .expect("read")
        .expect("the row");
    let mut on_its_way: entity::evidence::ActiveModel = done.clone().into();
    on_its_way.id = sea_orm::ActiveValue::NotSet;
    on_its_way.entry_id = Set(i32::try_from(second).expect("an id"));
    on_its_way.state = Set(entity::types::EvidenceState::Pending);
    on_its_way.object_key = Set(format!("{}-elsewhere", done.object_key));
    on_its_way.thumb_key = Set(format!("{}-elsewhere", done.thumb_key));
    on_its_way.created_at = Set(chrono::Utc::now());
    let pending = on_its_way.insert(&app.db).await.expect("a pending row");
    let v = attach(&http, &district, second, "x.jpg", &photo, None).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("being attached")),
        "{v}"
    );
    let mut left: entity::evidence::ActiveModel = pending.into();
    left.created_at = Set(chrono::Utc::now() - api::service::evidence::PENDING_FOR);
    left.update(&app.db).await.expect("aged");
    let v = attach(&http, &district, second, "x.jpg", &photo, None).await;
    assert!(
        v["data"]["attachEvidence"]["id"].is_i64(),
        "a crash's leftover does not hold the photo back: {v}"
    );
}

on_both_databases!(
    evidence_is_cleaned_stored_and_served_only_to_who_may_see_the_household,
    a_crash_between_objects_and_row_leaves_nothing_visible,
    entries_carry_a_gps_point_inside_thailand,
    entries_are_verified_returned_and_locked_by_month,
    staff_find_households_and_the_map_shows_what_the_key_sees,
    the_households_sheet_may_keep_urgency_and_closure,
    control_characters_in_field_work_text_are_refused,
    a_month_locked_while_a_file_is_checked_takes_none_of_its_entries,
    locking_a_month_waits_for_a_write_in_progress,
    help_recorded_while_its_month_is_being_locked_is_refused,
    verifying_entries_runs_the_same_statements_for_one_as_for_forty,
    photos_sent_at_once_are_attached_once_and_up_to_the_limit,
);

/// The same photo through an S3-compatible store (moto's server on this machine, a bucket
/// and a prefix): stored under the prefix, served, deleted with its objects.
async fn evidence_in_an_s3_compatible_store(app: TestApp) {
    use crate::helpers::{Server, free_port, http as raw_http};
    let ds = dataset(8, 67);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let port = free_port();
    let moto = Server(
        std::process::Command::new("python3")
            .args(["-m", "moto.server", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto's server (pip install -r tests/requirements.txt)"),
    );
    let started = std::time::Instant::now();
    while raw_http(port, "GET / HTTP/1.1", b"").0 == 0 {
        assert!(
            started.elapsed().as_secs() < 30,
            "moto's server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        raw_http(port, "PUT /photos HTTP/1.1", b"").0,
        200,
        "bucket made"
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let store = EvidenceStore::s3(
        "s3://photos/logbook",
        PhotoLimits::default(),
        [
            ("aws_endpoint", endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "test"),
            ("aws_secret_access_key", "test"),
            ("aws_region", "us-east-1"),
        ],
    )
    .expect("an S3 store");
    let http = with_store(&app, store);
    let district = app.key(KeyScope::District("3318".into())).await;
    let entry = app
        .count("SELECT CAST(MIN(id) AS BIGINT) FROM logbook_entries")
        .await;
    let v = attach(
        &http,
        &district,
        entry,
        "a.jpg",
        &jpeg_with_exif(30, 20),
        None,
    )
    .await;
    let id = v["data"]["attachEvidence"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    let listed = || {
        let (status, body) = raw_http(port, "GET /photos?list-type=2 HTTP/1.1", b"");
        assert_eq!(status, 200);
        String::from_utf8_lossy(&body)
            .matches("<Key>logbook/evidence/")
            .count()
    };
    assert_eq!(listed(), 2, "the photo and its thumbnail, under the prefix");
    let (status, ct, body) = get(&http, Some(&district), &format!("/evidence/{id}")).await;
    assert_eq!((status, ct.as_str()), (200, "image/jpeg"));
    assert!(!body.windows(4).any(|w| w == b"Exif"));
    let del = "mutation($id: Int!) { deleteEvidence(id: $id) }";
    assert_eq!(
        gql(&http, &district, del, json!({"id": id})).await["data"]["deleteEvidence"],
        true
    );
    assert_eq!(listed(), 0);
    drop(moto);
}

mod evidence_in_an_s3_compatible_store {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(logbook_s3),
        ignore = "S3: pip install -r tests/requirements.txt, build with LOGBOOK_TEST_S3=1"
    )]
    async fn sqlite() {
        super::evidence_in_an_s3_compatible_store(crate::helpers::TestApp::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(logbook_s3, logbook_pg)),
        ignore = "S3 on PostgreSQL: as above, and LOGBOOK_TEST_PG_URL"
    )]
    async fn postgres() {
        super::evidence_in_an_s3_compatible_store(crate::helpers::TestApp::postgres().await).await;
    }
}
