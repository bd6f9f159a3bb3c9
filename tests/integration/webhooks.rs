//! Webhooks: a receiver on 127.0.0.1 gets each event signed (Standard Webhooks), retried
//! after failures with the same id, and only what the webhook's key may see at the moment
//! of delivery; imports announce their problems, entries and the batch in their own
//! transaction; URLs the server may not reach are refused when the webhook is created; on
//! both databases.

use crate::helpers::{TestApp, dataset, error_code as code, gql, post_graphql, render};
use crate::on_both_databases;
use api::delivery::{Policy, Sender, WebhookConfig, run_once};
use api::service::keys::KeyScope;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

const CREATE: &str = "mutation($i: WebhookInput!) { createWebhook(input: $i) { secret webhook { id url topics dimensions areaCodes description } } }";
const RECORD: &str = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id status } }";
const DELIVERIES: &str = "query($id: Int!, $s: WebhookDeliveryStatus) { webhookDeliveries(webhookId: $id, status: $s) { edges { node { id eventId topic status attempts lastResponseStatus lastError attemptLog { responseStatus error } } } } }";

/// One request the receiver got.
#[derive(Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    fn id(&self) -> String {
        self.headers["webhook-id"]
            .to_str()
            .expect("text")
            .to_string()
    }
}

/// A receiver on 127.0.0.1: it records every request and answers the statuses it is given,
/// in order, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(answers: Vec<u16>) -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let (g, a) = (got.clone(), answers.clone());
        let router = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    g.lock().expect("lock").push(Got {
                        path: uri.path().to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    let code = a.lock().expect("lock").pop_front().unwrap_or(200);
                    axum::http::StatusCode::from_u16(code).expect("a status")
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            got,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }
}

/// The operator allows 127.0.0.1 (the tests' receiver).
fn local_policy() -> Policy {
    Policy::parse(&["127.0.0.1".into()]).expect("a policy")
}

/// A sender to 127.0.0.1 that retries at once (the backoff itself is unit-tested).
fn sender() -> Sender {
    Sender::new(WebhookConfig {
        policy: local_policy(),
        backoff: std::time::Duration::ZERO,
        ..Default::default()
    })
    .expect("a sender")
}

/// The HTTP app with `policy`.
fn app_with(app: &TestApp, policy: Policy) -> axum::Router {
    app.http_with(api::HttpConfig {
        webhook_policy: policy,
        ..Default::default()
    })
}

/// Runs the webhook worker until nothing more is due; the attempts made.
async fn drain(app: &TestApp, sender: &Sender) -> usize {
    let mut n = 0;
    for _ in 0..50 {
        let done = run_once(&app.db, sender).await.expect("the worker");
        if done == 0 {
            return n;
        }
        n += done;
    }
    panic!("the worker never ran dry");
}

/// A problem of `ds` in or out of `health`, as `recordAssistance` input of a status it does
/// not have; its current status, and that new one.
pub(crate) async fn problem(
    app: &TestApp,
    ds: &importer::generate::Dataset,
    health: bool,
) -> (Value, String, &'static str) {
    let p = ds
        .problems
        .iter()
        .find(|p| {
            entity::catalog::indicator(p.indicator)
                .is_some_and(|i| (i.dimension == entity::types::Dimension::Health) == health)
        })
        .expect("a problem");
    let person = p.citizen_id.clone().unwrap_or_default();
    let id = app
        .count(&format!(
            "SELECT CAST(MAX(id) AS BIGINT) FROM problems WHERE house_code = '{}' AND indicator_code = {} AND person_key = '{person}'",
            p.house_code, p.indicator
        ))
        .await;
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT status FROM problems WHERE id = {id}"),
        ))
        .await
        .expect("query");
    let status: String = rows[0].try_get_by_index(0).expect("status");
    let next = if status == "not_solvable_yet" {
        "SOLVED"
    } else {
        "NOT_SOLVABLE_YET"
    };
    (
        json!({"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
            "date": "2026-10-31", "activity": format!("เยี่ยมบ้าน {}", fastrand::u32(..)), "status": next, "agency": "33-pho"}),
        status,
        next,
    )
}

/// A district's webhook on new logbook entries over an imported `dataset(20, seed)`.
struct EntryHook {
    ds: importer::generate::Dataset,
    /// The district's key (3318), whose webhook it is.
    district: String,
    router: axum::Router,
    /// Where it posts (answering `answers` first).
    rx: Receiver,
    sender: Sender,
    /// `createWebhook`'s answer.
    created: Value,
}

impl EntryHook {
    async fn new(app: &TestApp, seed: u64, answers: Vec<u16>, description: Option<&str>) -> Self {
        let ds = dataset(20, seed);
        let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
        assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
        let district = app.key(KeyScope::District("3318".into())).await;
        let router = app_with(app, local_policy());
        let rx = Receiver::start(answers).await;
        let mut input =
            json!({"url": format!("{}/hook", rx.url), "topics": ["LOGBOOK_ENTRY_CREATED"]});
        if let Some(d) = description {
            input["description"] = json!(d);
        }
        let created = gql(&router, &district, CREATE, json!({ "i": input })).await;
        EntryHook {
            ds,
            district,
            router,
            rx,
            sender: sender(),
            created,
        }
    }
}

use sea_orm::ConnectionTrait;

async fn a_webhook_is_signed_retried_and_deduplicable_by_id(app: TestApp) {
    let EntryHook {
        ds,
        district,
        router,
        rx,
        sender,
        created: v,
    } = EntryHook::new(&app, 41, vec![500, 500], Some("ระบบของ อบต.")).await;
    let secret = v["data"]["createWebhook"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hook = v["data"]["createWebhook"]["webhook"]["id"]
        .as_i64()
        .expect("id");
    assert_eq!(
        v["data"]["createWebhook"]["webhook"]["topics"],
        json!(["LOGBOOK_ENTRY_CREATED"])
    );
    assert_eq!(drain(&app, &sender).await, 0, "nothing happened yet");

    let (input, _, _) = problem(&app, &ds, false).await;
    let v = gql(&router, &district, RECORD, json!({"i": input})).await;
    let entry = v["data"]["recordAssistance"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));

    // 500, 500, then 200: three attempts, then nothing more
    assert_eq!(drain(&app, &sender).await, 3);
    let got = rx.got();
    assert_eq!(got.len(), 3);
    let verifier = standardwebhooks::Webhook::new(&secret).expect("the secret");
    for g in &got {
        assert_eq!(g.path, "/hook");
        assert_eq!(g.id(), got[0].id(), "every attempt carries the same id");
        verifier
            .verify(&g.body, &g.headers)
            .expect("signed with the webhook's secret");
        let b = g.json();
        assert_eq!(b["type"], "logbook_entry.created");
        assert_eq!(b["data"]["entryId"], entry);
        assert_eq!(b["data"]["houseCode"], input["houseCode"]);
        assert_eq!(b["data"]["agency"], "33-pho");
    }
    // a body changed on the way, or another secret, fails the check
    let mut forged = got[0].body.clone();
    forged.extend_from_slice(b" ");
    assert!(verifier.verify(&forged, &got[0].headers).is_err());
    let other =
        standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a secret");
    assert!(other.verify(&got[0].body, &got[0].headers).is_err());
    assert_eq!(drain(&app, &sender).await, 0);
    assert_eq!(rx.got().len(), 3);

    let v = gql(&router, &district, DELIVERIES, json!({"id": hook})).await;
    let edges = v["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(edges.len(), 1);
    let d = &edges[0]["node"];
    assert_eq!(d["status"], "DELIVERED");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["eventId"], got[0].id());
    assert_eq!(d["lastResponseStatus"], 200);
    let answers: Vec<&Value> = d["attemptLog"]
        .as_array()
        .expect("log")
        .iter()
        .map(|a| &a["responseStatus"])
        .collect();
    assert_eq!(answers, [&json!(500), &json!(500), &json!(200)]);

    // the secret is never shown again; deleting stops deliveries
    let v = gql(&router, &district, "{ webhooks { id url } }", json!({})).await;
    assert_eq!(v["data"]["webhooks"][0]["id"], hook);
    assert!(!v.to_string().contains(&secret));
    let v = gql(
        &router,
        &district,
        "mutation($id: Int!) { deleteWebhook(id: $id) }",
        json!({"id": hook}),
    )
    .await;
    assert_eq!(v["data"]["deleteWebhook"], true, "{v}");
    let (input, _, _) = problem(&app, &ds, true).await;
    gql(&router, &district, RECORD, json!({"i": input})).await;
    assert_eq!(drain(&app, &sender).await, 0);
    assert_eq!(rx.got().len(), 3);
}

async fn an_agency_hears_only_what_it_may_see_when_it_is_sent(app: TestApp) {
    let ds = dataset(30, 42);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let router = app_with(&app, local_policy());
    let rx = Receiver::start(vec![]).await;
    let sender = sender();
    let v = gql(
        &router,
        &health,
        CREATE,
        json!({"i": {"url": rx.url, "topics": ["PROBLEM_STATUS_CHANGED", "LOGBOOK_ENTRY_CREATED"]}}),
    )
    .await;
    let hook = v["data"]["createWebhook"]["webhook"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));

    // help on a problem of another dimension: nothing, not even a delivery withheld
    let (input, _, _) = problem(&app, &ds, false).await;
    let v = gql(&router, &admin, RECORD, json!({"i": input})).await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    assert_eq!(drain(&app, &sender).await, 0);
    assert!(rx.got().is_empty());
    let v = gql(&router, &health, DELIVERIES, json!({"id": hook})).await;
    assert_eq!(v["data"]["webhookDeliveries"]["edges"], json!([]), "{v}");

    // help on a health problem: its entry, and its status's change
    let (input, was, now) = problem(&app, &ds, true).await;
    gql(&router, &admin, RECORD, json!({"i": input})).await;
    assert_eq!(drain(&app, &sender).await, 2);
    let got = rx.got();
    let mut types: Vec<String> = got
        .iter()
        .map(|g| g.json()["type"].as_str().expect("type").to_string())
        .collect();
    types.sort();
    assert_eq!(types, ["logbook_entry.created", "problem.status_changed"]);
    let changed = got
        .iter()
        .map(Got::json)
        .find(|b| b["type"] == "problem.status_changed")
        .expect("the status change");
    assert_eq!(changed["data"]["previousStatus"], was);
    assert_eq!(changed["data"]["status"], now.to_ascii_lowercase());
    assert_eq!(changed["data"]["dimension"], "health");
    assert_ne!(got[0].id(), got[1].id(), "two events, two ids");

    // the rule is checked again when it is sent: health is taken from the agency between
    // the event and its delivery
    let (input, _, _) = problem(&app, &ds, true).await;
    gql(&router, &admin, RECORD, json!({"i": input})).await;
    let made = api::service::webhooks::fan_out(&app.db, 100)
        .await
        .expect("fan out");
    assert_eq!(made, 2, "the agency may see both when they happen");
    let v = gql(
        &router,
        &admin,
        "mutation { unassignDimension(agency: \"33-pho\", dimension: HEALTH) { code } }",
        json!({}),
    )
    .await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(drain(&app, &sender).await, 2);
    assert_eq!(
        rx.got().len(),
        2,
        "nothing sent once the agency may not see it"
    );
    let v = gql(
        &router,
        &health,
        DELIVERIES,
        json!({"id": hook, "s": "WITHHELD"}),
    )
    .await;
    let withheld = v["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(withheld.len(), 2);
    assert_eq!(withheld[0]["node"]["attempts"], 0);
    assert!(
        withheld[0]["node"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("no longer see")),
        "{v}"
    );
}

async fn imports_announce_their_problems_entries_and_batch(app: TestApp) {
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let router = app_with(&app, local_policy());
    let rx = Receiver::start(vec![]).await;
    let sender = sender();
    for (path, areas) in [("/all", json!([])), ("/elsewhere", json!(["3319"]))] {
        let v = gql(
            &router,
            &admin,
            CREATE,
            json!({"i": {"url": format!("{}{path}", rx.url), "areaCodes": areas,
                "topics": ["PROBLEM_CREATED", "LOGBOOK_ENTRY_CREATED", "IMPORT_BATCH_FINISHED", "PROBLEM_STATUS_CHANGED"]}}),
        )
        .await;
        assert!(v["data"]["createWebhook"]["secret"].is_string(), "{v}");
    }
    let ds = dataset(40, 43);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    // the worker over a connection that counts its statements: a page of deliveries is
    // claimed, checked and recorded in a few statements, plus one update per delivery
    let statements = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut counted = migration::connect(&app.url).await.expect("connect");
    let counter = statements.clone();
    counted.set_metric_callback(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let mut pages = 0;
    loop {
        pages += 1;
        if run_once(&counted, &sender).await.expect("the worker") == 0 {
            break;
        }
    }
    let deliveries = app.count("SELECT COUNT(*) FROM webhook_deliveries").await as usize;
    let ran = statements.load(std::sync::atomic::Ordering::SeqCst);
    assert!(deliveries > 64, "more than a page: {deliveries}");
    assert!(
        ran <= deliveries + 20 * pages,
        "{ran} statements for {deliveries} deliveries in {pages} pages"
    );
    let got = rx.got();
    assert!(
        got.iter().all(|g| g.path == "/all"),
        "nothing of district 3318 for a webhook on 3319"
    );
    let count = |t: &str| got.iter().filter(|g| g.json()["type"] == t).count() as i64;
    assert_eq!(
        count("problem.created"),
        app.count("SELECT COUNT(*) FROM problems").await
    );
    assert_eq!(
        count("logbook_entry.created"),
        app.count("SELECT COUNT(*) FROM logbook_entries").await
    );
    // a problem created here is announced with its status, not as a change of it
    assert_eq!(count("problem.status_changed"), 0);
    assert_eq!(count("import_batch.finished"), 1);
    let batch = got
        .iter()
        .map(Got::json)
        .find(|b| b["type"] == "import_batch.finished")
        .expect("the batch");
    assert_eq!(batch["data"]["status"], "imported");
    assert_eq!(batch["data"]["fileName"], "d.xlsx");

    // the same workbook again: only its batch
    app.import("again.xlsx", render(&ds, false, false).bytes)
        .await;
    drain(&app, &sender).await;
    let more: Vec<Value> = rx.got()[got.len()..].iter().map(Got::json).collect();
    assert_eq!(more.len(), 1, "{more:?}");
    assert_eq!(more[0]["type"], "import_batch.finished");
    assert_eq!(more[0]["data"]["fileName"], "again.xlsx");
    // every event is fanned out, and none is left behind undelivered
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_events WHERE dispatched = FALSE")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'delivered'")
            .await,
        0
    );
}

async fn webhooks_are_checked_when_they_are_created(app: TestApp) {
    let district = app.key(KeyScope::District("3318".into())).await;
    let other = app.key(KeyScope::Agency("33-sdhs".into())).await;
    let agency = app.key(KeyScope::Agency("33-pho".into())).await;
    let strict = app.http();
    let create = |url: &str| json!({"i": {"url": url, "topics": ["PROBLEM_CREATED"]}});

    // by default the server reaches only public hosts, over https
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "https://[::ffff:7f00:1]/hook",
        "http://hooks.example.org/hook",
        "ftp://hooks.example.org/hook",
        "https://user:secret@hooks.example.org/hook",
        "no url at all",
    ] {
        let v = gql(&strict, &district, CREATE, create(url)).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{url}: {v}");
    }
    let v = gql(&strict, &district, CREATE, create("https://127.0.0.1/hook")).await;
    let message = v["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("--webhook-allow 127.0.0.1"), "{message}");
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);

    let local = app_with(&app, local_policy());
    let bad = |i: Value| json!({"i": i});
    let url = "http://127.0.0.1:9/hook";
    for (key, input, why) in [
        (
            &district,
            bad(json!({"url": url, "topics": []})),
            "no topic",
        ),
        (
            &agency,
            bad(json!({"url": url, "topics": ["IMPORT_BATCH_FINISHED"]})),
            "an agency sees no batches",
        ),
        (
            &district,
            bad(json!({"url": url, "topics": ["PROBLEM_CREATED"], "areaCodes": ["12345"]})),
            "not an area code",
        ),
        (
            &district,
            bad(json!({"url": url, "topics": ["PROBLEM_CREATED"], "description": "ก".repeat(501)})),
            "description too long",
        ),
    ] {
        let v = gql(&local, key, CREATE, input).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{why}: {v}");
    }
    // at most ten a key
    for i in 0..10 {
        let v = gql(&local, &district, CREATE, create(&format!("{url}/{i}"))).await;
        assert!(v["data"]["createWebhook"]["secret"].is_string(), "{v}");
    }
    let v = gql(&local, &district, CREATE, create(url)).await;
    assert_eq!(code(&v), "LIMIT_EXCEEDED", "{v}");

    // another key's webhooks are not there
    let v = gql(&local, &other, "{ webhooks { id } }", json!({})).await;
    assert_eq!(v["data"]["webhooks"], json!([]));
    let v = gql(
        &local,
        &other,
        "mutation { deleteWebhook(id: 1) }",
        json!({}),
    )
    .await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = gql(&local, &other, DELIVERIES, json!({"id": 1})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let (_, v) = post_graphql(
        local.clone(),
        &[("content-type", "application/json".to_string())],
        json!({"query": "{ webhooks { id } }"}).to_string(),
    )
    .await;
    assert_eq!(code(&v), "UNAUTHENTICATED", "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 10);
}

/// Events older than the time kept go with their deliveries and attempts, the oldest first;
/// one whose delivery is still pending stays, and so do recent ones; pruning again removes
/// nothing more.
async fn old_events_go_with_their_deliveries_unless_one_is_pending(app: TestApp) {
    use entity::{webhook_delivery, webhook_event};
    use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
    let EntryHook {
        ds,
        district,
        router,
        sender,
        created: v,
        ..
    } = EntryHook::new(&app, 45, vec![500], None).await;
    let hook = v["data"]["createWebhook"]["webhook"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    for health in [false, true, false] {
        let (input, _, _) = problem(&app, &ds, health).await;
        let v = gql(&router, &district, RECORD, json!({"i": input})).await;
        assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    }
    // the first delivery failed once, then every one was delivered
    assert_eq!(drain(&app, &sender).await, 4);
    let events = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(&app.db)
        .await
        .expect("events");
    assert_eq!(events.len(), 3);
    let attempts_of_first = format!(
        "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
         WHERE d.event_id = {}",
        events[0].id
    );
    let first_attempts = app.count(&attempts_of_first).await;
    assert!(first_attempts >= 1);
    // the first two happened 31 days ago; the second's delivery is still owed
    for e in &events[..2] {
        let mut old: webhook_event::ActiveModel = e.clone().into();
        old.at = Set(chrono::Utc::now() - chrono::Duration::days(31));
        old.update(&app.db).await.expect("aged");
    }
    let owed = webhook_delivery::Entity::find()
        .all(&app.db)
        .await
        .expect("deliveries")
        .into_iter()
        .find(|d| d.event_id == events[1].id)
        .expect("its delivery");
    let mut owed: webhook_delivery::ActiveModel = owed.into();
    owed.status = Set(entity::types::DeliveryStatus::Pending);
    owed.update(&app.db).await.expect("pending again");

    let keep = std::time::Duration::from_secs(30 * 24 * 3600);
    assert_eq!(api::delivery::prune(&app.db, keep).await.expect("prune"), 1);
    let left: Vec<i32> = webhook_event::Entity::find()
        .order_by_asc(webhook_event::Column::Id)
        .all(&app.db)
        .await
        .expect("events")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, [events[1].id, events[2].id]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        2,
        "the first event's delivery went with it"
    );
    assert_eq!(app.count(&attempts_of_first).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_attempts").await,
        4 - first_attempts,
        "the other two deliveries' attempts stay"
    );
    let v = gql(&router, &district, DELIVERIES, json!({"id": hook})).await;
    let listed = v["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .len();
    assert_eq!(listed, 2, "{v}");
    assert_eq!(api::delivery::prune(&app.db, keep).await.expect("again"), 0);
}

const ROTATE: &str = "mutation($id: Int!, $h: Int) { rotateWebhookSecret(id: $id, keepPreviousHours: $h) { secret webhook { id previousSecretUntil } } }";

/// A rotated secret signs every delivery at once, and the one it replaced signs beside it
/// until the time the key chose (none: only the new one); bad hours, and another key's
/// webhook, are refused and change nothing.
async fn a_rotated_secret_signs_beside_the_old_one_until_its_time(app: TestApp) {
    let EntryHook {
        ds,
        district,
        router,
        rx,
        sender,
        created: v,
    } = EntryHook::new(&app, 43, vec![], None).await;
    let agency = app.key(KeyScope::Agency("33-pho".into())).await;
    let first = v["data"]["createWebhook"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    let hook = v["data"]["createWebhook"]["webhook"]["id"]
        .as_i64()
        .expect("id");
    let stored = || app.count("SELECT COUNT(*) FROM webhooks WHERE previous_secret IS NOT NULL");

    for (hours, why) in [(-1, "negative"), (169, "more than a week")] {
        let v = gql(&router, &district, ROTATE, json!({"id": hook, "h": hours})).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{why}: {v}");
        assert_eq!(
            v["errors"][0]["extensions"]["field"], "keepPreviousHours",
            "{v}"
        );
    }
    let v = gql(&router, &agency, ROTATE, json!({"id": hook})).await;
    assert_eq!(code(&v), "NOT_FOUND", "another key's webhook: {v}");
    assert_eq!(stored().await, 0, "nothing changed");

    // rotated, the first secret kept for 24 hours (the default)
    let v = gql(&router, &district, ROTATE, json!({"id": hook})).await;
    let second = v["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    assert!(second.starts_with("whsec_") && second != first, "{v}");
    let until = v["data"]["rotateWebhookSecret"]["webhook"]["previousSecretUntil"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    let until = chrono::DateTime::parse_from_rfc3339(until).expect("RFC 3339");
    let left = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24),
        "{left}"
    );
    let (input, _, _) = problem(&app, &ds, false).await;
    let v = gql(&router, &district, RECORD, json!({"i": input})).await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    assert_eq!(drain(&app, &sender).await, 1);
    let got = rx.got();
    let check = |secret: &str, g: &Got| {
        standardwebhooks::Webhook::new(secret)
            .expect("a secret")
            .verify(&g.body, &g.headers)
            .is_ok()
    };
    assert!(check(&second, &got[0]), "signed with the new secret");
    assert!(check(&first, &got[0]), "and, meanwhile, with the old one");

    // rotated again, keeping nothing: only the newest signs
    let v = gql(&router, &district, ROTATE, json!({"id": hook, "h": 0})).await;
    let third = v["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    assert!(
        v["data"]["rotateWebhookSecret"]["webhook"]["previousSecretUntil"].is_null(),
        "{v}"
    );
    assert_eq!(stored().await, 0);
    let (input, _, _) = problem(&app, &ds, true).await;
    let v = gql(&router, &district, RECORD, json!({"i": input})).await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    assert_eq!(drain(&app, &sender).await, 1);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(check(&third, &got[1]));
    assert!(
        !check(&second, &got[1]),
        "the replaced secret no longer signs"
    );
    assert!(!check(&first, &got[1]));

    // the secrets are never shown by a query; each rotation is audited
    let v = gql(
        &router,
        &district,
        "{ webhooks { id previousSecretUntil } }",
        json!({}),
    )
    .await;
    assert_eq!(v["data"]["webhooks"][0]["id"], hook, "{v}");
    for s in [&first, &second, &third] {
        assert!(!v.to_string().contains(s.as_str()));
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.rotate_secret'")
            .await,
        2
    );
}

on_both_databases!(
    a_webhook_is_signed_retried_and_deduplicable_by_id,
    an_agency_hears_only_what_it_may_see_when_it_is_sent,
    imports_announce_their_problems_entries_and_batch,
    webhooks_are_checked_when_they_are_created,
    a_rotated_secret_signs_beside_the_old_one_until_its_time,
    old_events_go_with_their_deliveries_unless_one_is_pending,
);
