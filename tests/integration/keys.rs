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
    assert_eq!(me(&app, &token).await, 401, "an expired key");

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
