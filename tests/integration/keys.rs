//! Keys for production: an expiry, the time of last use (written at most once a minute),
//! and rotation with an overlap in which both tokens work — audited — on both databases.

use crate::helpers::TestApp;
use crate::on_both_databases;
use api::service::keys::{self, KeyScope};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

async fn me(app: &TestApp, token: &str) -> u16 {
    app.graphql(Some(token), "{ me { kind } }", json!({}))
        .await
        .0
}

async fn key_row(app: &TestApp, id: i32) -> entity::api_key::Model {
    entity::api_key::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("the key")
}

async fn keys_expire_note_their_last_use_and_rotate_with_an_overlap(app: TestApp) {
    // an expiry in the past is refused; one in the future works until it passes
    let past = Utc::now() - chrono::Duration::minutes(1);
    let e = keys::create_expiring(&app.db, KeyScope::District("3318".into()), None, Some(past))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "BAD_USER_INPUT");
    let soon = Utc::now() + chrono::Duration::hours(1);
    let (id, token) =
        keys::create_expiring(&app.db, KeyScope::District("3318".into()), None, Some(soon))
            .await
            .expect("a key");
    assert_eq!(me(&app, &token).await, 200);
    entity::api_key::Entity::update_many()
        .col_expr(
            entity::api_key::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(entity::api_key::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("expire it");
    // changed behind the server's back: refused once its memory of the key (a second) is past
    assert!(
        app.refused_after(&token)
            .await
            .is_some_and(|t| t <= keys::KEY_SEEN_FOR * 2),
        "an expired key"
    );

    // the last use is noted beside the request, and not again within a minute
    let (id, token) = keys::create(&app.db, KeyScope::Agency("33-pho".into()), None)
        .await
        .expect("a key");
    assert_eq!(key_row(&app, id).await.last_used_at, None);
    assert_eq!(me(&app, &token).await, 200);
    let start = std::time::Instant::now();
    let first = loop {
        if let Some(t) = key_row(&app, id).await.last_used_at {
            break t;
        }
        assert!(start.elapsed().as_secs() < 5, "last use never noted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!((Utc::now() - first).num_seconds() < 10);
    assert_eq!(me(&app, &token).await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        key_row(&app, id).await.last_used_at,
        Some(first),
        "once a minute"
    );

    // rotation: both work during the overlap; with none, the old one stops at once
    let (old, old_token) = keys::create(
        &app.db,
        KeyScope::Admin {
            province: Some("33".into()),
        },
        Some("health office system".into()),
    )
    .await
    .expect("a key");
    let (new, new_token) = keys::rotate(&app.db, old, chrono::Duration::hours(2))
        .await
        .expect("rotated");
    assert_ne!(old, new);
    assert_eq!(
        (me(&app, &old_token).await, me(&app, &new_token).await),
        (200, 200)
    );
    let (o, n) = (key_row(&app, old).await, key_row(&app, new).await);
    let ends = o.expires_at.expect("the old key ends");
    assert!(
        (ends - Utc::now() - chrono::Duration::hours(2))
            .num_seconds()
            .abs()
            < 60
    );
    assert_eq!(
        (n.kind.as_str(), n.province_code.as_deref()),
        ("admin", Some("33"))
    );
    assert_eq!(n.label.as_deref(), Some("health office system"));
    let (newer, newer_token) = keys::rotate(&app.db, new, chrono::Duration::zero())
        .await
        .expect("rotated again");
    assert_eq!(
        me(&app, &new_token).await,
        401,
        "no overlap: revoked at once"
    );
    assert_eq!(me(&app, &newer_token).await, 200);
    assert_eq!(
        keys::rotate(&app.db, new, chrono::Duration::zero())
            .await
            .unwrap_err()
            .code(),
        "BAD_USER_INPUT",
        "a revoked key cannot be rotated"
    );
    assert_eq!(
        keys::rotate(&app.db, 999_999, chrono::Duration::zero())
            .await
            .unwrap_err()
            .code(),
        "NOT_FOUND"
    );
    // audited
    let rotations = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("key.rotate"))
        .all(&app.db)
        .await
        .expect("audit");
    let subjects: Vec<String> = rotations.iter().map(|r| r.subject.clone()).collect();
    assert_eq!(subjects, vec![old.to_string(), new.to_string()]);
    assert!(newer > new);
}

on_both_databases!(keys_expire_note_their_last_use_and_rotate_with_an_overlap);

/// Cost budgets: every answer says what it cost; a key that spends its budget gets 429 with
/// `Retry-After` and `RATE_LIMITED`; a key with its own budget, or a server without budgets,
/// is not held back.
async fn keys_spend_a_cost_budget_and_are_told_when_to_come_back(app: TestApp) {
    let ds = crate::helpers::dataset(120, 51);
    app.import("b.xlsx", crate::helpers::render(&ds, false, false).bytes)
        .await;
    let (_, token) = keys::create(&app.db, KeyScope::District("3318".into()), None)
        .await
        .expect("a key");
    let (big_id, big) = keys::create(&app.db, KeyScope::District("3318".into()), None)
        .await
        .expect("a key");
    keys::set_budget(&app.db, big_id, Some(1_000_000))
        .await
        .expect("its own budget");
    let http = app.http_with(api::HttpConfig {
        cost_budget_per_minute: 600,
        ..Default::default()
    });
    let body = json!({"query": "{ households(first: 100) { nodes { houseCode } } }"}).to_string();
    let post = |token: &str| {
        let (http, auth, body) = (http.clone(), format!("Bearer {token}"), body.clone());
        async move {
            let (s, h, b) = crate::helpers::request(
                http,
                "POST",
                "/graphql",
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                body,
            )
            .await;
            let v: serde_json::Value = serde_json::from_slice(&b).expect("json");
            (s, h, v)
        }
    };
    let mut remaining = Vec::new();
    let (status, headers, v) = loop {
        let (s, h, v) = post(&token).await;
        if s != 200 {
            break (s, h, v);
        }
        let cost = &v["extensions"]["cost"];
        assert_eq!(cost["limit"], 600, "{v}");
        assert!(cost["requested"].as_u64() > Some(100), "{v}");
        assert!(cost["resetAt"].is_string(), "{v}");
        remaining.push(cost["remaining"].as_u64().expect("remaining"));
        assert!(remaining.len() < 10, "never limited: {remaining:?}");
    };
    assert!(
        remaining.len() >= 3 && remaining.windows(2).all(|w| w[1] < w[0]),
        "{remaining:?}"
    );
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{v}");
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(v["errors"][0]["extensions"]["retryAfter"], retry);
    assert!(v.get("data").is_none() || v["data"].is_null());
    // the key with its own budget is not held back, nor is anyone on a server without budgets
    for _ in 0..8 {
        assert_eq!(post(&big).await.0, 200);
    }
    let free = app.http_with(api::HttpConfig {
        cost_budget_per_minute: 0,
        ..Default::default()
    });
    let (s, _, b) = crate::helpers::request(
        free,
        "POST",
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {token}")),
        ],
        body.clone(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&b).expect("json");
    assert_eq!((s, v["extensions"].get("cost")), (200, None), "{v}");
}

on_both_databases!(keys_spend_a_cost_budget_and_are_told_when_to_come_back);

/// Trusted documents: a locked key runs its stored documents — in full or by hash — and
/// nothing else (`FORBIDDEN`, reason `DOCUMENT_NOT_TRUSTED`); another key is not locked, may
/// not send a hash alone (`PERSISTED_QUERY_NOT_FOUND`: send it in full), and a hash sent
/// with a document must be its hash.
async fn a_locked_key_runs_only_its_trusted_documents(app: TestApp) {
    let (locked_id, locked) = keys::create(&app.db, KeyScope::Agency("33-pho".into()), None)
        .await
        .expect("a key");
    let (_, free) = keys::create(&app.db, KeyScope::Agency("33-pho".into()), None)
        .await
        .expect("a key");
    let doc = "query Mine { me { kind label } }";
    // a document must be one operation
    assert_eq!(
        keys::add_document(&app.db, locked_id, "{ a } { b }", None)
            .await
            .unwrap_err()
            .code(),
        "BAD_USER_INPUT"
    );
    assert_eq!(
        keys::add_document(&app.db, locked_id, "{ me {", None)
            .await
            .unwrap_err()
            .code(),
        "BAD_USER_INPUT"
    );
    let sha = keys::add_document(&app.db, locked_id, doc, Some("mine.graphql".into()))
        .await
        .expect("stored");
    assert_eq!(sha, keys::document_hash(doc));
    assert_eq!(
        keys::documents(&app.db, locked_id).await.expect("list"),
        vec![(sha.clone(), Some("mine.graphql".to_string()))]
    );
    let post = |token: &str, body: serde_json::Value| {
        let (http, auth) = (app.http(), format!("Bearer {token}"));
        async move {
            let (s, _, b) = crate::helpers::request(
                http,
                "POST",
                "/graphql",
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                body.to_string(),
            )
            .await;
            (
                s,
                serde_json::from_slice::<serde_json::Value>(&b).expect("json"),
            )
        }
    };
    let by_hash = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}});
    // the locked key: its document in full, or by its hash
    let (s, v) = post(&locked, json!({ "query": doc })).await;
    assert_eq!(
        (s, v["data"]["me"]["kind"].as_str()),
        (200, Some("AGENCY")),
        "{v}"
    );
    let (s, v) = post(&locked, by_hash.clone()).await;
    assert_eq!(
        (s, v["data"]["me"]["kind"].as_str()),
        (200, Some("AGENCY")),
        "{v}"
    );
    // anything else: refused, saying why
    for other in ["{ me { kind } }", "query Mine { me { kind label } } "] {
        let (s, v) = post(&locked, json!({ "query": other })).await;
        assert_eq!(s, 403, "{v}");
        assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(
            v["errors"][0]["extensions"]["reason"],
            "DOCUMENT_NOT_TRUSTED"
        );
    }
    // another key is not locked; a hash alone is not enough for it
    let (s, v) = post(&free, json!({ "query": "{ me { kind } }" })).await;
    assert_eq!(
        (s, v["data"]["me"]["kind"].as_str()),
        (200, Some("AGENCY")),
        "{v}"
    );
    let (s, v) = post(&free, by_hash).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(v["errors"][0]["message"], "PersistedQueryNotFound");
    let (s, v) = post(
        &free,
        json!({"query": doc, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}),
    )
    .await;
    assert_eq!(
        (s, v["data"]["me"]["kind"].as_str()),
        (200, Some("AGENCY")),
        "{v}"
    );
    let (s, v) = post(&free, json!({"query": "{ me { kind } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}})).await;
    assert_eq!(
        (s, v["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("BAD_USER_INPUT")),
        "{v}"
    );
}

on_both_databases!(a_locked_key_runs_only_its_trusted_documents);
