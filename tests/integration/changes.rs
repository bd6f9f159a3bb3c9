//! The change feed keeps a mirror in step: for each kind of key, a mirror read through
//! `changes` equals a full read of the API after every kind of change — imports, an
//! unchanged re-import, a re-import that changes rows, recorded help, a dimension taken from
//! an agency and given back — on both databases.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use entity::types::Dimension;
use importer::workbook::SheetKind;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const HOUSEHOLD: &str = "houseCode headName classification memberCount updatedAt";
const MEMBER: &str = "citizenId houseCode firstName lastName updatedAt";
const PROBLEM: &str = "id houseCode status detail indicator { code } updatedAt";
const ANALYSIS: &str = "attitude skills wayOut mentor updatedAt";
const ENTRY: &str = "id problemId date agency agencyCode activity status updatedAt";

/// Records by (kind, key).
pub(crate) type Records = BTreeMap<(String, String), Value>;

/// A mirror kept by the feed: its records and where it stands.
#[derive(Default)]
struct Mirror {
    cursor: Option<String>,
    records: Records,
}

impl Mirror {
    /// Reads the feed from where the mirror stands to its end (pages of 7, so that every
    /// sync crosses pages); returns how many events it applied.
    async fn sync(&mut self, app: &TestApp, key: &str) -> usize {
        let q = format!(
            "query($after: String) {{ changes(after: $after, first: 7) {{ edges {{ node {{ entity key kind at record {{
                ... on Household {{ {HOUSEHOLD} }} ... on Member {{ {MEMBER} }} ... on Problem {{ {PROBLEM} }}
                ... on Analysis {{ {ANALYSIS} }} ... on LogbookEntry {{ {ENTRY} }} }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let mut applied = 0;
        loop {
            let (status, v) = app
                .graphql(Some(key), &q, json!({ "after": self.cursor }))
                .await;
            assert_eq!(status, 200, "{v}");
            assert!(v.get("errors").is_none(), "{v}");
            let c = &v["data"]["changes"];
            for e in c["edges"].as_array().expect("edges") {
                let n = &e["node"];
                let id = (
                    n["entity"].as_str().expect("entity").to_string(),
                    n["key"].as_str().expect("key").to_string(),
                );
                match n["kind"].as_str() {
                    Some("UPSERTED") => {
                        self.records.insert(id, n["record"].clone());
                    }
                    Some("REMOVED") => {
                        assert!(n["record"].is_null());
                        self.records.remove(&id);
                    }
                    other => panic!("kind {other:?}"),
                }
                applied += 1;
            }
            if let Some(end) = c["pageInfo"]["endCursor"].as_str() {
                self.cursor = Some(end.to_string());
            }
            if c["pageInfo"]["hasNextPage"] != true {
                return applied;
            }
        }
    }
}

/// The first `n` problems of the dataset in the health dimension (there are that many).
fn health_problems(
    ds: &importer::generate::Dataset,
    n: usize,
) -> Vec<&importer::generate::GProblem> {
    let found: Vec<_> = ds
        .problems
        .iter()
        .filter(|p| {
            entity::catalog::indicator(p.indicator)
                .is_some_and(|i| i.dimension == Dimension::Health)
        })
        .take(n)
        .collect();
    assert_eq!(found.len(), n, "{n} health problems");
    found
}

/// Every record the key may see, read through the ordinary connections.
pub(crate) async fn full_read(app: &TestApp, key: &str) -> Records {
    let mut out = Records::new();
    let mut after: Option<String> = None;
    loop {
        let q = format!(
            "query($after: String) {{ households(first: 100, after: $after) {{ nodes {{ {HOUSEHOLD}
                members {{ {MEMBER} }} analysis {{ {ANALYSIS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let (_, v) = app.graphql(Some(key), &q, json!({ "after": after })).await;
        let c = &v["data"]["households"];
        for h in c["nodes"].as_array().unwrap_or_else(|| panic!("{v}")) {
            let code = h["houseCode"].as_str().expect("code").to_string();
            for m in h["members"].as_array().expect("members") {
                out.insert(
                    ("MEMBER".into(), m["citizenId"].as_str().expect("id").into()),
                    m.clone(),
                );
            }
            if !h["analysis"].is_null() {
                out.insert(("ANALYSIS".into(), code.clone()), h["analysis"].clone());
            }
            let mut h = h.clone();
            let o = h.as_object_mut().expect("object");
            o.remove("members");
            o.remove("analysis");
            out.insert(("HOUSEHOLD".into(), code), h);
        }
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    for (field, kind, fields) in [
        ("problems", "PROBLEM", PROBLEM),
        ("logbookEntries", "LOGBOOK_ENTRY", ENTRY),
    ] {
        let mut after: Option<String> = None;
        loop {
            let q = format!(
                "query($after: String) {{ {field}(first: 100, after: $after) {{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
            );
            let (_, v) = app.graphql(Some(key), &q, json!({ "after": after })).await;
            let c = &v["data"][field];
            for n in c["nodes"].as_array().unwrap_or_else(|| panic!("{v}")) {
                out.insert((kind.into(), n["id"].to_string()), n.clone());
            }
            if c["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
        }
    }
    out
}

/// The keys of each kind, and their mirrors.
struct Readers {
    keys: Vec<(&'static str, String)>,
    mirrors: Vec<Mirror>,
}

impl Readers {
    async fn new(app: &TestApp) -> Self {
        let keys = vec![
            (
                "national admin",
                app.key(KeyScope::Admin { province: None }).await,
            ),
            (
                "province admin",
                app.key(KeyScope::Admin {
                    province: Some("33".into()),
                })
                .await,
            ),
            ("district", app.key(KeyScope::District("3318".into())).await),
            (
                "health agency",
                app.key(KeyScope::Agency("33-pho".into())).await,
            ),
            (
                "social agency",
                app.key(KeyScope::Agency("33-sdhs".into())).await,
            ),
        ];
        let mirrors = keys.iter().map(|_| Mirror::default()).collect();
        Readers { keys, mirrors }
    }

    /// Syncs every mirror and checks it equals a full read; the events each applied.
    async fn check(&mut self, app: &TestApp, step: &str) -> Vec<usize> {
        let mut applied = Vec::new();
        for ((who, key), mirror) in self.keys.iter().zip(self.mirrors.iter_mut()) {
            applied.push(mirror.sync(app, key).await);
            let full = full_read(app, key).await;
            if mirror.records != full {
                let missing: Vec<_> = full
                    .keys()
                    .filter(|k| !mirror.records.contains_key(*k))
                    .take(5)
                    .collect();
                let extra: Vec<_> = mirror
                    .records
                    .keys()
                    .filter(|k| !full.contains_key(*k))
                    .take(5)
                    .collect();
                let differ: Vec<_> = full
                    .iter()
                    .filter(|(k, v)| mirror.records.get(*k).is_some_and(|m| m != *v))
                    .take(3)
                    .collect();
                panic!(
                    "after {step}, the {who}'s mirror ({} records) differs from a full read ({}): missing {missing:?}, extra {extra:?}, differing {differ:?}",
                    mirror.records.len(),
                    full.len()
                );
            }
        }
        applied
    }
}

async fn a_mirror_kept_by_the_change_feed_equals_a_full_read_after_every_change(app: TestApp) {
    let mut readers = Readers::new(&app).await;
    assert_eq!(readers.check(&app, "nothing").await, vec![0; 5]);

    // an import
    let mut ds = dataset(40, 31);
    let report = app
        .import("first.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let applied = readers.check(&app, "the first import").await;
    assert!(
        applied[0] > 40 && applied[3] > 0 && applied[4] > 0,
        "{applied:?}"
    );
    let full = full_read(&app, &readers.keys[0].1).await;
    assert_eq!(applied[0], full.len(), "one event per record");

    // the same workbook again: nothing changes, nothing comes
    app.import("again.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(
        readers.check(&app, "an unchanged re-import").await,
        vec![0; 5]
    );

    // a re-import that changes two households and adds a second district workbook's rows
    ds.set_raw(SheetKind::Households, 0, "head_name", "นายเปลี่ยน ชื่อใหม่");
    ds.set_raw(
        SheetKind::Households,
        5,
        "head_name",
        "นางสาวแก้ไข นามสกุลใหม่",
    );
    let report = app
        .import("changed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let applied = readers.check(&app, "a re-import with changes").await;
    assert_eq!(
        applied[0], 2,
        "only the two changed households: {applied:?}"
    );
    let more = dataset(15, 32);
    let report = app
        .import("more.xlsx", render(&more, false, false).bytes)
        .await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    readers.check(&app, "a second workbook").await;

    // help recorded through the API: the entry, and its problem's new status
    let health = health_problems(&ds, 1)[0];
    let input = json!({"houseCode": health.house_code, "indicator": health.indicator, "citizenId": health.citizen_id,
        "date": "2026-10-30", "activity": "ติดตามเยี่ยมบ้านหลังฟีด", "status": "SOLVED", "agency": "33-pho"});
    let (_, v) = app
        .graphql(
            Some(&readers.keys[0].1),
            "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id status } }",
            json!({ "i": input }),
        )
        .await;
    assert_eq!(v["data"]["recordAssistance"]["status"], "SOLVED", "{v}");
    let applied = readers.check(&app, "recorded help").await;
    // the entry and its problem, to every key that sees them; nothing to the social agency
    assert_eq!(applied, vec![2, 2, 2, 2, 0], "{applied:?}");

    // the health agency loses health, then gets it back
    let admin = readers.keys[0].1.clone();
    let dim = |op: &str| {
        format!("mutation {{ {op}(agency: \"33-pho\", dimension: HEALTH) {{ code dimensions }} }}")
    };
    let (_, v) = app
        .graphql(Some(&admin), &dim("unassignDimension"), json!({}))
        .await;
    assert_eq!(
        v["data"]["unassignDimension"]["dimensions"],
        json!([]),
        "{v}"
    );
    let applied = readers.check(&app, "health taken from the agency").await;
    assert!(
        applied[3] > 0,
        "the agency's mirror is emptied through REMOVED: {applied:?}"
    );
    assert!(
        readers.mirrors[3].records.is_empty(),
        "an agency with no dimension sees nothing"
    );
    assert_eq!(applied[..3], [0, 0, 0], "nothing for the other keys");
    let (_, v) = app
        .graphql(Some(&admin), &dim("assignDimension"), json!({}))
        .await;
    assert_eq!(
        v["data"]["assignDimension"]["dimensions"],
        json!(["HEALTH"]),
        "{v}"
    );
    let applied = readers.check(&app, "health given back").await;
    assert!(applied[3] > 0, "{applied:?}");
    assert!(!readers.mirrors[3].records.is_empty());

    // a cursor the feed did not give is refused
    let (_, v) = app
        .graphql(
            Some(&admin),
            "{ changes(after: \"bm9wZQ\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
}

/// `updatedSince` on the connections: only what changed at or after the time.
async fn connections_take_updated_since(app: TestApp) {
    let key = app.key(KeyScope::Admin { province: None }).await;
    let ds = dataset(12, 41);
    app.import("a.xlsx", render(&ds, false, false).bytes).await;
    let count = |since: &str| {
        let q = format!(
            "{{ households(updatedSince: \"{since}\") {{ totalCount }} problems(updatedSince: \"{since}\") {{ totalCount }} logbookEntries(updatedSince: \"{since}\") {{ totalCount }} }}"
        );
        let (app, key) = (&app, key.clone());
        async move {
            let (_, v) = app.graphql(Some(&key), &q, json!({})).await;
            v
        }
    };
    let v = count("2000-01-01T00:00:00Z").await;
    assert_eq!(
        v["data"]["households"]["totalCount"],
        ds.households.len(),
        "{v}"
    );
    let v = count("2999-01-01T00:00:00+07:00").await;
    assert_eq!(v["data"]["households"]["totalCount"], 0, "{v}");
    assert_eq!(v["data"]["problems"]["totalCount"], 0, "{v}");
    assert_eq!(v["data"]["logbookEntries"]["totalCount"], 0, "{v}");
    let v = count("yesterday").await;
    assert_eq!(v["errors"][0]["extensions"]["field"], "updatedSince", "{v}");
}

/// The feed's events, in order, read in pages of `first`.
async fn walk(app: &TestApp, key: &str, first: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (status, v) = app
            .graphql(
                Some(key),
                &format!(
                    "query($after: String) {{ changes(after: $after, first: {first}) {{ edges {{ node {{ entity key kind }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
                ),
                json!({ "after": after }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let c = &v["data"]["changes"];
        let edges = c["edges"].as_array().unwrap_or_else(|| panic!("{v}"));
        assert!(edges.len() <= first);
        for e in edges {
            let n = &e["node"];
            let text = |f: &str| n[f].as_str().expect("text").to_string();
            out.push((text("entity"), text("key"), text("kind")));
        }
        if c["pageInfo"]["hasNextPage"] != true {
            assert!(out.len() < 1000);
            return out;
        }
        assert_eq!(
            edges.len(),
            first,
            "a page short of its size has a next page"
        );
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
}

/// Every page size reads the same events in the same order, over changes that interleave
/// kinds: an import, help recorded (a problem and an entry), a household marked urgent, more
/// help, a re-import that changes a household.
async fn every_page_size_reads_the_same_feed(app: TestApp) {
    let mut ds = dataset(14, 33);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let problems = health_problems(&ds, 2);
    let help = |p: &importer::generate::GProblem| {
        json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
            "date": "2026-10-30", "activity": "เยี่ยมบ้าน", "status": "FOLLOWING_UP", "agency": "33-pho"}})
    };
    let record = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }";
    let (_, v) = app.graphql(Some(&admin), record, help(problems[0])).await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    let (_, v) = app
        .graphql(
            Some(&admin),
            "mutation($h: String!) { setUrgent(houseCode: $h, urgent: true, reason: \"ผู้ป่วยติดเตียง\") { urgent } }",
            json!({ "h": problems[0].house_code }),
        )
        .await;
    assert_eq!(v["data"]["setUrgent"]["urgent"], true, "{v}");
    let (_, v) = app.graphql(Some(&admin), record, help(problems[1])).await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    ds.set_raw(SheetKind::Households, 1, "head_name", "นายเปลี่ยน ชื่อใหม่");
    let report = app
        .import("changed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);

    for key in [&admin, &health] {
        let whole = walk(&app, key, 500).await;
        let kinds: std::collections::BTreeSet<&str> =
            whole.iter().map(|(e, _, _)| e.as_str()).collect();
        assert_eq!(kinds.len(), 5, "every kind: {kinds:?}");
        for first in [1, 2, 3, 5, 8] {
            assert_eq!(walk(&app, key, first).await, whole, "pages of {first}");
        }
    }
}

/// Records help on `p` through the HTTP app in a task of its own (it may wait for a lock the
/// test holds); the task gives the answer.
fn record_in_task(
    app: &TestApp,
    key: &str,
    p: &importer::generate::GProblem,
    activity: &str,
) -> tokio::task::JoinHandle<Value> {
    let body = json!({
        "query": "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id status } }",
        "variables": {"i": {"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
            "date": "2026-10-30", "activity": activity, "status": "FOLLOWING_UP", "agency": "33-pho"}}
    })
    .to_string();
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from(body))
        .expect("request");
    let http = app.http();
    tokio::spawn(async move {
        use tower::ServiceExt;
        let resp = http.oneshot(req).await.expect("response");
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice::<Value>(&bytes).expect("json")
    })
}

async fn an_import_still_writing_holds_the_feed_and_its_own_district_only(app: TestApp) {
    let ds = dataset(12, 41);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let officer = app.key(KeyScope::District("3318".into())).await;
    let health = health_problems(&ds, 3);
    let pg = app.db.get_database_backend() == sea_orm::DbBackend::Postgres;
    // a mirror kept in step from here on: each sync reports the events it applied
    let mut mirror = Mirror::default();
    assert!(mirror.sync(&app, &admin).await > 12, "the import's records");
    let done = |v: &Value| v["data"]["recordAssistance"]["status"] == "FOLLOWING_UP";

    // an import of another district (9901) is writing: it has its change number and its
    // district, and holds them until it ends
    let mut other = entity::db::WriteTx::begin(&app.db).await.expect("begin");
    let lease = other.stamp(&app.db).await.expect("stamp");
    other
        .lock_districts(&["9901".to_string()])
        .await
        .expect("district");
    let write = record_in_task(&app, &officer, health[0], "ระหว่างนำเข้าอำเภออื่น");
    if pg {
        // the officer's write does not wait for it
        let v = tokio::time::timeout(std::time::Duration::from_secs(60), write)
            .await
            .expect("a write of district 3318 waits for no import of 9901")
            .expect("task");
        assert!(done(&v), "{v}");
        // but the feed stops below the import's number: the write came after it
        assert_eq!(
            mirror.sync(&app, &admin).await,
            0,
            "nothing past change {} while it is written",
            lease.seq
        );
        other.commit().await.expect("commit");
    } else {
        // SQLite's one writer: the write waits for the import's commit
        other.commit().await.expect("commit");
        assert!(done(&write.await.expect("task")));
    }
    assert_eq!(
        mirror.sync(&app, &admin).await,
        2,
        "the entry and its problem"
    );

    // an import of 3318 itself: a write there waits for its commit (PostgreSQL; on SQLite
    // every write does)
    let mut own = entity::db::WriteTx::begin(&app.db).await.expect("begin");
    own.stamp(&app.db).await.expect("stamp");
    own.lock_districts(&["3318".to_string()])
        .await
        .expect("district");
    let write = record_in_task(&app, &officer, health[1], "ระหว่างนำเข้าอำเภอเดียวกัน");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!write.is_finished(), "a write of 3318 waits for its import");
    own.commit().await.expect("commit");
    assert!(done(&write.await.expect("task")));
    assert_eq!(mirror.sync(&app, &admin).await, 2);

    // an import that fails (its transaction rolled back) holds the feed no longer
    let mut failed = entity::db::WriteTx::begin(&app.db).await.expect("begin");
    failed.stamp(&app.db).await.expect("stamp");
    drop(failed);
    let v = record_in_task(&app, &officer, health[2], "หลังนำเข้าที่ไม่สำเร็จ")
        .await
        .expect("task");
    assert!(done(&v), "{v}");
    let mut seen = 0;
    for _ in 0..100 {
        seen += mirror.sync(&app, &admin).await;
        if seen >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 2, "the feed goes past a rolled-back lease");
    let full = full_read(&app, &admin).await;
    assert_eq!(mirror.records, full, "the mirror equals a full read");
    assert!(
        app.count("SELECT COUNT(*) FROM change_leases").await <= 1,
        "leases are cleared at commit (the rolled-back one by the next lease)"
    );
}

on_both_databases!(
    an_import_still_writing_holds_the_feed_and_its_own_district_only,
    every_page_size_reads_the_same_feed,
    a_mirror_kept_by_the_change_feed_equals_a_full_read_after_every_change,
    connections_take_updated_since,
);
