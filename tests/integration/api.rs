//! The agency GraphQL API through HTTP, in-process: keys, the access matrix, filters,
//! pagination, limits and error codes — on both databases.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use entity::catalog::indicator;
use entity::types::Dimension;
use importer::generate::Dataset;
use importer::workbook::SheetKind;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const HOUSEHOLDS: &str = "query($filter: HouseholdFilter, $first: Int, $after: String) {
  households(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { houseCode } }
    nodes { houseCode members { citizenId } problems { indicator { code dimension } status logbook { date status } } }
  }
}";

/// Imports a dataset and returns it.
async fn seeded(app: &TestApp, n: usize, seed: u64) -> Dataset {
    let ds = dataset(n, seed);
    let r = app
        .import("seed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    ds
}

fn code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

fn houses_with(ds: &Dataset, dims: &[Dimension]) -> BTreeSet<String> {
    ds.problems
        .iter()
        .filter(|p| indicator(p.indicator).is_some_and(|i| dims.contains(&i.dimension)))
        .map(|p| p.house_code.clone())
        .collect()
}

async fn all_pages(app: &TestApp, token: &str, filter: Value, first: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let (status, v) = app
            .graphql(
                Some(token),
                HOUSEHOLDS,
                json!({"filter": filter, "first": first, "after": after}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert!(v["errors"].is_null(), "{v}");
        let c = &v["data"]["households"];
        for e in c["edges"].as_array().expect("edges") {
            out.push(e["node"]["houseCode"].as_str().expect("code").to_string());
        }
        if !c["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage") {
            return out;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
}

async fn without_a_valid_key_every_operation_is_unauthenticated(app: TestApp) {
    seeded(&app, 3, 1).await;
    for token in [None, Some("lbk_not-a-key"), Some("")] {
        let (status, v) = app.graphql(token, "{ me { kind } }", json!({})).await;
        assert_eq!((status, code(&v)), (401, Some("UNAUTHENTICATED")), "{v}");
        let (_, v) = app
            .graphql(token, "{ __schema { queryType { name } } }", json!({}))
            .await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    }
    let token = app.key(KeyScope::Admin { province: None }).await;
    let (status, v) = app
        .graphql(Some(&token), "{ me { kind label } }", json!({}))
        .await;
    assert_eq!(
        (status, v["data"]["me"]["kind"].as_str()),
        (200, Some("ADMIN")),
        "{v}"
    );
    // a revoked key is no key
    let id = api::service::keys::list(&app.db).await.expect("list")[0].id;
    assert!(
        api::service::keys::revoke(&app.db, id)
            .await
            .expect("revoke")
    );
    let (status, v) = app
        .graphql(Some(&token), "{ me { kind } }", json!({}))
        .await;
    assert_eq!((status, code(&v)), (401, Some("UNAUTHENTICATED")));
    // revoked behind this server's back (another process): the key it remembers is asked
    // for again within a second
    let other = app.key(KeyScope::District("3318".into())).await;
    let (status, _) = app
        .graphql(Some(&other), "{ me { kind } }", json!({}))
        .await;
    assert_eq!(status, 200);
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(
            "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL",
        )
        .await
        .expect("revoke in SQL");
    let after = app.refused_after(&other).await;
    assert!(
        after.is_some_and(|t| t <= api::service::keys::KEY_SEEN_FOR * 2),
        "refused after {after:?}"
    );
}

async fn each_principal_sees_exactly_its_households_problems_and_people(app: TestApp) {
    let ds = seeded(&app, 40, 2).await;
    app.load_areas_csv("level,code,parent_code,name_th,name_en\nprovince,67,,เพชรบูรณ์,Phetchabun\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang Si Sa Ket\n").await;
    let all: BTreeSet<String> = ds.households.iter().map(|h| h.house_code.clone()).collect();
    let health = houses_with(&ds, &[Dimension::Health]);
    let sdhs = houses_with(&ds, &[Dimension::Living, Dimension::Access]);
    assert!(
        !health.is_empty() && health.len() < all.len(),
        "the dataset must split"
    );

    let cases: Vec<(KeyScope, BTreeSet<String>)> = vec![
        (KeyScope::Admin { province: None }, all.clone()),
        (
            KeyScope::Admin {
                province: Some("33".into()),
            },
            all.clone(),
        ),
        (
            KeyScope::Admin {
                province: Some("67".into()),
            },
            BTreeSet::new(),
        ),
        (KeyScope::District("3318".into()), all.clone()),
        (KeyScope::District("3301".into()), BTreeSet::new()),
        (KeyScope::Agency("33-pho".into()), health.clone()),
        (KeyScope::Agency("33-sdhs".into()), sdhs.clone()),
        (KeyScope::Agency("67-pho".into()), BTreeSet::new()),
    ];
    for (scope, expected) in cases {
        let token = app.key(scope.clone()).await;
        let seen: BTreeSet<String> = all_pages(&app, &token, Value::Null, 100)
            .await
            .into_iter()
            .collect();
        assert_eq!(seen, expected, "{scope:?}");
        let (_, v) = app
            .graphql(Some(&token), HOUSEHOLDS, json!({"first": 100}))
            .await;
        assert_eq!(
            v["data"]["households"]["totalCount"].as_u64(),
            Some(expected.len() as u64),
            "{scope:?}"
        );
        // a problem filter at the top (folded into the key's visibility) and the same filter
        // nested in `and` (AND-ed with it): the households it sees with a health problem it
        // may see, and the count agrees
        let want: BTreeSet<String> = match &scope {
            KeyScope::Agency(c) if c == "33-sdhs" => BTreeSet::new(),
            _ => expected.intersection(&health).cloned().collect(),
        };
        let top = json!({"problem": {"dimension": "HEALTH"}});
        let nested = json!({"and": [{"problem": {"dimension": "HEALTH"}}]});
        for filter in [top, nested] {
            let got: BTreeSet<String> = all_pages(&app, &token, filter.clone(), 100)
                .await
                .into_iter()
                .collect();
            assert_eq!(got, want, "{scope:?} {filter}");
            let (_, v) = app
                .graphql(
                    Some(&token),
                    HOUSEHOLDS,
                    json!({"first": 100, "filter": filter}),
                )
                .await;
            assert_eq!(
                v["data"]["households"]["totalCount"].as_u64(),
                Some(want.len() as u64),
                "{scope:?} {filter}"
            );
        }
        // nested problems: an agency sees only its dimensions, and their logbooks
        let dims: Option<Vec<&str>> = match &scope {
            KeyScope::Agency(c) if c == "33-pho" => Some(vec!["HEALTH"]),
            KeyScope::Agency(c) if c == "33-sdhs" => Some(vec!["LIVING", "ACCESS"]),
            _ => None,
        };
        let mut problems = 0;
        for h in v["data"]["households"]["nodes"].as_array().expect("nodes") {
            for p in h["problems"].as_array().expect("problems") {
                problems += 1;
                if let Some(d) = &dims {
                    assert!(
                        d.contains(&p["indicator"]["dimension"].as_str().expect("dimension")),
                        "{p}"
                    );
                }
            }
        }
        let expected_problems = ds
            .problems
            .iter()
            .filter(|p| expected.contains(&p.house_code))
            .filter(|p| match &dims {
                Some(d) => d.contains(
                    &indicator(p.indicator)
                        .expect("ind")
                        .dimension
                        .key()
                        .to_uppercase()
                        .as_str(),
                ),
                None => true,
            })
            .count();
        assert_eq!(problems, expected_problems, "{scope:?}");
    }

    // one household outside the agency's dimensions answers as if it did not exist
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let hidden = all
        .difference(&health)
        .next()
        .expect("a household without health problems");
    let q = "query($c: String!) { household(houseCode: $c) { houseCode members { citizenId } } }";
    let (_, v) = app.graphql(Some(&pho), q, json!({"c": hidden})).await;
    assert!(v["data"]["household"].is_null(), "{v}");
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let missing = "33189999999";
    let (_, w) = app.graphql(Some(&pho), q, json!({"c": missing})).await;
    assert_eq!(
        v["errors"][0]["message"]
            .as_str()
            .map(|m| m.replace(hidden.as_str(), "X")),
        w["errors"][0]["message"]
            .as_str()
            .map(|m| m.replace(missing, "X"))
    );
    // every health household answers with all its members, in workbook order (they come in
    // the household's own statement)
    let members_of = |house: &str| -> Vec<String> {
        ds.members
            .iter()
            .filter(|m| m.house_code == house)
            .map(|m| m.citizen_id.clone())
            .collect()
    };
    assert!(
        health.iter().any(|h| members_of(h).len() > 1),
        "a household of several members"
    );
    for visible in &health {
        let (_, v) = app.graphql(Some(&pho), q, json!({"c": visible})).await;
        assert_eq!(
            v["data"]["household"]["houseCode"].as_str(),
            Some(visible.as_str()),
            "{v}"
        );
        let got: Vec<String> = v["data"]["household"]["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["citizenId"].as_str().expect("citizenId").to_string())
            .collect();
        assert_eq!(got, members_of(visible), "{visible}");
        assert!(!got.is_empty(), "{visible}");
    }
    // a filter on other dimensions reveals nothing
    let filter = json!({"problem": {"dimension": "INCOME"}});
    assert!(all_pages(&app, &pho, filter, 100).await.is_empty());
}

async fn pages_follow_each_other_without_gaps_or_repeats(app: TestApp) {
    let ds = seeded(&app, 33, 3).await;
    let admin = app.key(KeyScope::District("3318".into())).await;
    let mut expected: Vec<String> = ds.households.iter().map(|h| h.house_code.clone()).collect();
    expected.sort();
    for first in [1, 7, 20, 33, 100] {
        assert_eq!(
            all_pages(&app, &admin, Value::Null, first).await,
            expected,
            "first {first}"
        );
    }
    let (_, v) = app.graphql(Some(&admin), HOUSEHOLDS, json!({})).await;
    assert_eq!(
        v["data"]["households"]["edges"].as_array().map(Vec::len),
        Some(20),
        "default page of 20"
    );
}

async fn filters_combine_with_and_or_and_not(app: TestApp) {
    let ds = seeded(&app, 40, 4).await;
    let token = app.key(KeyScope::Admin { province: None }).await;
    let welfare: BTreeSet<String> = ds
        .households
        .iter()
        .filter(|h| h.classification == "สงเคราะห์")
        .map(|h| h.house_code.clone())
        .collect();
    let got: BTreeSet<String> = all_pages(&app, &token, json!({"classification": "WELFARE"}), 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(got, welfare);
    let not: BTreeSet<String> = all_pages(
        &app,
        &token,
        json!({"not": {"classification": "WELFARE"}}),
        100,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(not.len() + welfare.len(), ds.households.len());
    assert!(not.is_disjoint(&welfare));
    let education = houses_with(&ds, &[Dimension::Education]);
    let either: BTreeSet<String> = all_pages(
        &app,
        &token,
        json!({"or": [{"classification": "WELFARE"}, {"problem": {"dimension": "EDUCATION"}}]}),
        100,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(either, welfare.union(&education).cloned().collect());
    let both: BTreeSet<String> = all_pages(
        &app,
        &token,
        json!({"and": [{"classification": "WELFARE"}, {"problem": {"dimension": "EDUCATION"}}]}),
        100,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(both, welfare.intersection(&education).cloned().collect());
    let statuses = ds.statuses();
    let solved: BTreeSet<String> = ds
        .problems
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| **s == entity::types::ProblemStatus::Solved)
        .map(|(p, _)| p.house_code.clone())
        .collect();
    let got: BTreeSet<String> =
        all_pages(&app, &token, json!({"problem": {"status": "SOLVED"}}), 100)
            .await
            .into_iter()
            .collect();
    assert_eq!(got, solved);
    let disabled: BTreeSet<String> = ds
        .members
        .iter()
        .filter(|m| m.disabled)
        .map(|m| m.house_code.clone())
        .collect();
    let got: BTreeSet<String> = all_pages(&app, &token, json!({"member": {"disabled": true}}), 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(got, disabled);
    let got = all_pages(
        &app,
        &token,
        json!({"districtCode": "3318", "cohort": "TPMAP 2565"}),
        100,
    )
    .await
    .len();
    assert_eq!(
        got,
        ds.households
            .iter()
            .filter(|h| h.cohort.source == entity::types::CohortSource::Tpmap)
            .count()
    );
}

async fn bad_input_and_limits_answer_with_their_codes(app: TestApp) {
    seeded(&app, 3, 5).await;
    let token = app.key(KeyScope::Admin { province: None }).await;
    let (_, v) = app
        .graphql(Some(&token), HOUSEHOLDS, json!({"first": 101}))
        .await;
    assert_eq!(code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    let (_, v) = app
        .graphql(Some(&token), HOUSEHOLDS, json!({"after": "garbage"}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(
        v["errors"][0]["extensions"]["field"].as_str(),
        Some("after")
    );
    let (_, v) = app
        .graphql(
            Some(&token),
            HOUSEHOLDS,
            json!({"filter": {"districtCode": "33"}}),
        )
        .await;
    assert_eq!(
        (code(&v), v["errors"][0]["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("districtCode"))
    );
    let (_, v) = app
        .graphql(
            Some(&token),
            "{ household(houseCode: \"123\") { houseCode } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    // documents that do not parse or validate
    let (_, v) = app
        .graphql(Some(&token), "{ households { nope } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let (_, v) = app.graphql(Some(&token), "{ households(", json!({})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    // complexity: a connection costs first × its children
    let heavy = "{ households(first: 100) { nodes { houseCode members { citizenId firstName lastName title sex birthDate age relation disabled houseCode citizenIdValid }
       problems { id houseCode detail status indicator { code dimension nameTh nameEn bmn unit ageRule }
         logbook { id date agency activity menu amount fund status note recordedBy problemId agencyCode } } } } }";
    let (_, v) = app.graphql(Some(&token), heavy, json!({})).await;
    assert!(
        v["errors"].is_null(),
        "a page of 100 with members, problems and logbook is allowed: {v}"
    );
    let nested = format!(
        "{{ {} }}",
        (0..12).fold("houseCode".to_string(), |acc, _| format!(
            "households {{ nodes {{ {acc} }} }}"
        ))
    );
    // deep and invalid (a household has no households): the document is wrong first
    let (_, v) = app.graphql(Some(&token), &nested, json!({})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    // 14 levels through the introspection types: introspection's own nesting is the
    // schema's, not data, and does not count against --max-depth
    let deep = format!(
        "{{ __schema {{ queryType {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(9),
        "} ".repeat(9)
    );
    let (_, v) = app.graphql(Some(&token), &deep, json!({})).await;
    assert!(v["errors"].is_null(), "{v}");
    // data depth is limited: under --max-depth 4, six levels are refused, four answered
    let schema = api::build_schema(
        app.db.clone(),
        api::Limits {
            max_depth: 4,
            ..Default::default()
        },
    );
    let admin = api::access::Principal::Admin {
        key_id: 1,
        province: None,
    };
    let run = |q: String| {
        let req = api::graphql::request(q.as_str().into(), &app.db, admin.clone());
        let schema = schema.clone();
        async move { serde_json::to_value(schema.execute(req).await).expect("json") }
    };
    let six = "{ households { edges { node { problems { logbook { date } } } } } }";
    let v = run(six.into()).await;
    assert_eq!(code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("6 levels") && m.contains("at most 4")),
        "{v}"
    );
    // through a fragment, and beside introspection, it is counted all the same
    let v = run("{ __schema { types { name } } households { ...H } } \
         fragment H on HouseholdConnection { edges { node { problems { logbook { date } } } } }"
        .to_string())
    .await;
    assert_eq!(code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    let v = run("{ households { nodes { problems { id } } } }".into()).await;
    assert!(v["errors"].is_null(), "{v}");
}

/// The introspection query graphql-js 16.15.0 `getIntrospectionQuery()` writes (what
/// GraphiQL, Python `gql`, code generators and Postman send), copied verbatim into
/// `introspection.graphql`, is answered for every kind of key under the default limits.
async fn the_standard_introspection_query_runs_under_the_default_limits(app: TestApp) {
    let query = include_str!("introspection.graphql");
    assert!(query.contains("query IntrospectionQuery"));
    for scope in [
        KeyScope::Admin { province: None },
        KeyScope::District("3318".into()),
        KeyScope::Agency("33-pho".into()),
    ] {
        let token = app.key(scope).await;
        let (status, v) = app.graphql(Some(&token), query, json!({})).await;
        assert_eq!(status, 200, "{v}");
        assert!(v["errors"].is_null(), "{v}");
        let types = v["data"]["__schema"]["types"].as_array().expect("types");
        assert!(types.iter().any(|t| t["name"] == "Household"), "{v}");
        assert_eq!(v["data"]["__schema"]["queryType"]["name"], "QueryRoot");
    }
    // and never without a key
    let (status, v) = app.graphql(None, query, json!({})).await;
    assert_eq!((status, code(&v)), (401, Some("UNAUTHENTICATED")), "{v}");
}

async fn one_operation_per_request_and_a_body_limit(app: TestApp) {
    use tower::ServiceExt;
    let token = app.key(KeyScope::Admin { province: None }).await;
    let post = |body: String| {
        axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(body))
            .expect("request")
    };
    let batch = json!([{"query": "{ me { kind } }"}, {"query": "{ me { kind } }"}]).to_string();
    let resp = app.http().oneshot(post(batch)).await.expect("response");
    assert_eq!(resp.status(), 400);
    let v: Value = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body"),
    )
    .expect("json");
    assert_eq!(code(&v), Some("LIMIT_EXCEEDED"));
    let huge =
        json!({"query": format!("{{ me {{ kind }} }} #{}", "x".repeat(2 << 20))}).to_string();
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("content-length", huge.len())
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(huge))
        .expect("request");
    let resp = app.http().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), 413);
}

async fn the_catalogue_me_and_agencies(app: TestApp) {
    let token = app.key(KeyScope::Agency("33-sdhs".into())).await;
    let (_, v) = app
        .graphql(
            Some(&token),
            "{ me { kind agency province dimensions } indicators { code } agencies { code dimensions }
               dimensions { key indicators { code } agencies { code } }
               areas(level: SUBDISTRICT, parentCode: \"3318\") { code nameTh } }",
            json!({}),
        )
        .await;
    let d = &v["data"];
    assert_eq!(d["me"]["kind"], "AGENCY", "{v}");
    assert_eq!(d["me"]["agency"], "33-sdhs");
    assert_eq!(d["me"]["dimensions"], json!(["LIVING", "ACCESS"]));
    assert_eq!(d["indicators"].as_array().map(Vec::len), Some(17));
    assert_eq!(d["agencies"].as_array().map(Vec::len), Some(8));
    let access = d["dimensions"]
        .as_array()
        .expect("dims")
        .iter()
        .find(|x| x["key"] == "ACCESS")
        .expect("access");
    assert_eq!(access["indicators"], json!([{"code": 16}, {"code": 17}]));
    let owners: Vec<&str> = access["agencies"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|a| a["code"].as_str())
        .collect();
    assert_eq!(owners, vec!["33-dla", "33-sdhs"]);
    assert_eq!(d["areas"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    use tower::ServiceExt;
    let app = TestApp::sqlite().await;
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .http()
            .oneshot(
                axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers().contains_key("x-request-id"));
    }
}

/// The whole server, as `logbook serve` starts it: bound to its socket, answering there,
/// gone when stopped; an address in use is an error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_serves_on_its_socket_until_stopped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::sqlite().await;
    let settings = api::Settings {
        bind: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let server = api::Application::build(app.db.clone(), settings.clone())
        .await
        .expect("build");
    let addr = server.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    stop.send(()).expect("stop");
    tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("stops within 10 s")
        .expect("no panic")
        .expect("served");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // an address in use
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let at = taken.local_addr().expect("address").to_string();
    let err = api::Application::build(
        app.db.clone(),
        api::Settings {
            bind: at.clone(),
            ..settings
        },
    )
    .await
    .err()
    .expect("the address is taken");
    assert!(err.to_string().contains(&at), "{err}");
}

const STATS: &str = "query($filter: ProblemFilter, $by: [StatsKey!]!) {
  stats(filter: $filter, groupBy: $by) {
    area { code } dimension indicator { code } status classification cohort { label }
    problems households people solvedHouseholds logbookEntries
  }
}";

/// The measures of `stats` computed from the dataset for the problems `keep` selects.
fn expected_measures(ds: &Dataset, keep: impl Fn(&importer::generate::GProblem) -> bool) -> Value {
    let statuses = ds.statuses();
    let mut open: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    let mut problems = 0;
    let mut entries = 0;
    for (i, p) in ds.problems.iter().enumerate() {
        if !keep(p) {
            continue;
        }
        problems += 1;
        entries += ds.entries.iter().filter(|e| e.problem == i).count();
        *open.entry(&p.house_code).or_insert(false) |=
            statuses[i] != entity::types::ProblemStatus::Solved;
    }
    let people = ds
        .members
        .iter()
        .filter(|m| open.contains_key(m.house_code.as_str()))
        .count();
    json!({
        "problems": problems,
        "households": open.len(),
        "people": people,
        "solvedHouseholds": open.values().filter(|o| !**o).count(),
        "logbookEntries": entries,
    })
}

fn measures(row: &Value) -> Value {
    json!({
        "problems": row["problems"], "households": row["households"], "people": row["people"],
        "solvedHouseholds": row["solvedHouseholds"], "logbookEntries": row["logbookEntries"],
    })
}

async fn stats_equal_counts_computed_from_the_workbook(app: TestApp) {
    let ds = seeded(&app, 40, 6).await;
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let (_, v) = app.graphql(Some(&admin), STATS, json!({"by": []})).await;
    let rows = v["data"]["stats"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(rows.len(), 1);
    assert_eq!(measures(&rows[0]), expected_measures(&ds, |_| true));
    let report = app.stats().await;
    assert_eq!(
        rows[0]["solvedHouseholds"].as_i64(),
        Some(report.households_solved)
    );
    assert!(rows[0]["dimension"].is_null() && rows[0]["area"].is_null());

    // by district × dimension × status: every group's measures, and the groups add up
    let (_, v) = app
        .graphql(
            Some(&admin),
            STATS,
            json!({"by": ["DISTRICT", "DIMENSION", "STATUS"]}),
        )
        .await;
    let rows = v["data"]["stats"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let statuses = ds.statuses();
    let mut total = 0;
    for row in rows {
        assert_eq!(row["area"]["code"], "3318");
        let dim = row["dimension"].as_str().expect("dimension").to_lowercase();
        let status = row["status"].as_str().expect("status").to_lowercase();
        let index: std::collections::HashMap<*const importer::generate::GProblem, usize> = ds
            .problems
            .iter()
            .enumerate()
            .map(|(i, p)| (p as *const _, i))
            .collect();
        let want = expected_measures(&ds, |p| {
            let i = index[&(p as *const _)];
            indicator(p.indicator).is_some_and(|d| d.dimension.key() == dim)
                && statuses[i].key() == status
        });
        assert_eq!(measures(row), want, "{row}");
        total += row["problems"].as_u64().expect("n");
    }
    assert_eq!(total as usize, ds.problems.len());

    // an agency counts only its dimensions
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let (_, v) = app.graphql(Some(&pho), STATS, json!({"by": []})).await;
    let health = |p: &importer::generate::GProblem| {
        indicator(p.indicator).is_some_and(|d| d.dimension == Dimension::Health)
    };
    assert_eq!(
        measures(&v["data"]["stats"][0]),
        expected_measures(&ds, health)
    );
    // ... even when it asks for another dimension
    let (_, v) = app
        .graphql(
            Some(&pho),
            STATS,
            json!({"by": ["DIMENSION"], "filter": {"dimension": "INCOME"}}),
        )
        .await;
    assert_eq!(v["data"]["stats"], json!([]));
    // filters on areas and classification
    let (_, v) = app
        .graphql(
            Some(&admin),
            STATS,
            json!({"by": [], "filter": {"districtCode": "3301"}}),
        )
        .await;
    assert_eq!(v["data"]["stats"][0]["problems"], 0);
    let welfare: BTreeSet<&str> = ds
        .households
        .iter()
        .filter(|h| h.classification == "สงเคราะห์")
        .map(|h| h.house_code.as_str())
        .collect();
    let (_, v) = app
        .graphql(
            Some(&admin),
            STATS,
            json!({"by": ["CLASSIFICATION"], "filter": {"classification": "WELFARE"}}),
        )
        .await;
    assert_eq!(v["data"]["stats"][0]["classification"], "WELFARE", "{v}");
    assert_eq!(
        measures(&v["data"]["stats"][0]),
        expected_measures(&ds, |p| welfare.contains(p.house_code.as_str()))
    );
}

const RECORD: &str = "mutation($input: AssistanceInput!) {
  recordAssistance(input: $input) { id date agency agencyCode activity amount status recordedBy }
}";

fn problem_of(ds: &Dataset, dim: Dimension) -> (usize, &importer::generate::GProblem) {
    ds.problems
        .iter()
        .enumerate()
        .find(|(_, p)| indicator(p.indicator).is_some_and(|i| i.dimension == dim))
        .expect("a problem of that dimension")
}

fn input_for(p: &importer::generate::GProblem, date: &str, activity: &str, status: &str) -> Value {
    json!({"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id, "date": date,
           "activity": activity, "status": status, "amount": 1500.5})
}

async fn concurrent_writes_all_succeed(app: TestApp) {
    let ds = seeded(&app, 30, 9).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let today = chrono::Local::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    // 24 pieces of help recorded at once, on 24 problems, while reads go on beside them
    let http = app.http();
    let mut tasks = Vec::new();
    for (i, p) in ds.problems.iter().take(24).enumerate() {
        let mut input = input_for(p, &today, &format!("งานที่ {i}"), "FOLLOWING_UP");
        input["agency"] = json!("33-sdhs");
        let body = json!({"query": RECORD, "variables": {"input": input}}).to_string();
        let req = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {district}"))
            .body(axum::body::Body::from(body))
            .expect("request");
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let resp = http.oneshot(req).await.expect("response");
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            serde_json::from_slice::<Value>(&bytes).expect("json")
        }));
    }
    for t in tasks {
        let v = t.await.expect("task");
        assert_eq!(
            v["data"]["recordAssistance"]["status"], "FOLLOWING_UP",
            "{v}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries").await,
        ds.entries.len() as i64 + 24
    );
}

async fn recording_help_updates_the_problem_and_respects_dimensions(app: TestApp) {
    let ds = seeded(&app, 30, 7).await;
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let (_, health) = problem_of(&ds, Dimension::Health);
    let q = "query($c: String!) { household(houseCode: $c) { problems { indicator { code } status logbook { activity } } } }";
    // a later entry on today's date decides the status
    let today = chrono::Local::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let (_, v) = app
        .graphql(
            Some(&pho),
            RECORD,
            json!({"input": input_for(health, &today, "ติดตามผล", "SOLVED")}),
        )
        .await;
    let e = &v["data"]["recordAssistance"];
    assert_eq!(
        (
            e["agencyCode"].as_str(),
            e["agency"].as_str(),
            e["status"].as_str()
        ),
        (Some("33-pho"), Some("33-pho"), Some("SOLVED")),
        "{v}"
    );
    assert_eq!(e["amount"].as_f64(), Some(1500.5));
    assert!(
        e["recordedBy"]
            .as_str()
            .is_some_and(|r| r.starts_with("agency:33-pho:"))
    );
    let (_, v) = app
        .graphql(Some(&pho), q, json!({"c": health.house_code}))
        .await;
    let p = v["data"]["household"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .find(|p| p["indicator"]["code"] == health.indicator)
        .expect("the problem")
        .clone();
    assert_eq!(p["status"], "SOLVED", "{v}");
    assert_eq!(
        p["logbook"]
            .as_array()
            .and_then(|l| l.last())
            .map(|l| l["activity"].clone()),
        Some(json!("ติดตามผล"))
    );
    // the same help twice is refused
    let (_, v) = app
        .graphql(
            Some(&pho),
            RECORD,
            json!({"input": input_for(health, &today, "ติดตามผล", "SOLVED")}),
        )
        .await;
    assert_eq!(
        (code(&v), v["errors"][0]["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("activity"))
    );
    // a second entry the same day, written later, wins
    let (_, v) = app
        .graphql(
            Some(&pho),
            RECORD,
            json!({"input": input_for(health, &today, "เยี่ยมบ้าน", "FOLLOWING_UP")}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let (_, v) = app
        .graphql(Some(&pho), q, json!({"c": health.house_code}))
        .await;
    let status = v["data"]["household"]["problems"]
        .as_array()
        .expect("p")
        .iter()
        .find(|p| p["indicator"]["code"] == health.indicator)
        .map(|p| p["status"].clone());
    assert_eq!(status, Some(json!("FOLLOWING_UP")));

    // a problem outside the agency's dimensions does not exist for it
    let (_, living) = problem_of(&ds, Dimension::Living);
    let (_, v) = app
        .graphql(
            Some(&pho),
            RECORD,
            json!({"input": input_for(living, &today, "x", "SOLVED")}),
        )
        .await;
    assert!(v["data"].is_null() || v["data"]["recordAssistance"].is_null());
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // an agency records as itself
    let mut other = input_for(health, "2022-06-01", "y", "SOLVED");
    other["agency"] = json!("33-sdhs");
    let (_, v) = app
        .graphql(Some(&pho), RECORD, json!({"input": other}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));

    // a district key names the agency
    let district = app.key(KeyScope::District("3318".into())).await;
    let (_, v) = app
        .graphql(
            Some(&district),
            RECORD,
            json!({"input": input_for(living, "2022-06-01", "z", "SOLVED")}),
        )
        .await;
    assert_eq!(
        (code(&v), v["errors"][0]["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("agency"))
    );
    let mut named = input_for(living, "1/6/2565", "z", "AWAITING_FOLLOW_UP");
    named["agency"] = json!("พมจ.");
    let (_, v) = app
        .graphql(Some(&district), RECORD, json!({"input": named}))
        .await;
    assert_eq!(
        v["data"]["recordAssistance"]["agencyCode"].as_str(),
        Some("33-sdhs"),
        "{v}"
    );
    assert_eq!(v["data"]["recordAssistance"]["date"], "2022-06-01", "{v}");
    // bad values name their field
    for (field, value, status) in [
        ("date", "31/02/2565", "SOLVED"),
        ("date", "2599-01-01", "SOLVED"),
        ("status", "2022-06-01", "NOT_STARTED"),
    ] {
        let mut i = input_for(living, value, "w", status);
        i["agency"] = json!("33-sdhs");
        let (_, v) = app
            .graphql(Some(&district), RECORD, json!({"input": i}))
            .await;
        assert_eq!(
            (code(&v), v["errors"][0]["extensions"]["field"].as_str()),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{v}"
        );
    }
    let mut i = input_for(living, "2022-06-01", "w", "SOLVED");
    i["houseCode"] = json!("1.2E+10");
    i["agency"] = json!("33-sdhs");
    let (_, v) = app
        .graphql(Some(&district), RECORD, json!({"input": i}))
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["field"].as_str(),
        Some("houseCode")
    );
    // a district key outside its district sees nothing to record on
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang\n",
    )
    .await;
    let elsewhere = app.key(KeyScope::District("3301".into())).await;
    let mut i = input_for(living, "2022-06-01", "v", "SOLVED");
    i["agency"] = json!("33-sdhs");
    let (_, v) = app
        .graphql(Some(&elsewhere), RECORD, json!({"input": i}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    // stats follow: entries recorded = 3 more than the workbook's
    assert_eq!(
        app.stats().await.logbook_entries,
        ds.entries.len() as i64 + 3
    );
}

async fn admins_manage_agencies_and_ownership_changes_what_an_agency_sees(app: TestApp) {
    let ds = seeded(&app, 30, 8).await;
    app.load_areas_csv("level,code,parent_code,name_th,name_en\nprovince,67,,เพชรบูรณ์,Phetchabun\n")
        .await;
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let assign = "mutation($a: String!, $d: Dimension!) { assignDimension(agency: $a, dimension: $d) { code dimensions } }";
    let unassign = "mutation($a: String!, $d: Dimension!) { unassignDimension(agency: $a, dimension: $d) { code dimensions } }";
    // only admins of the agency's province may
    for key in [
        pho.clone(),
        app.key(KeyScope::District("3318".into())).await,
        app.key(KeyScope::Admin {
            province: Some("67".into()),
        })
        .await,
    ] {
        let (_, v) = app
            .graphql(Some(&key), assign, json!({"a": "33-pho", "d": "EDUCATION"}))
            .await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    }
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let (_, v) = app
        .graphql(
            Some(&admin),
            assign,
            json!({"a": "33-pho", "d": "EDUCATION"}),
        )
        .await;
    assert_eq!(
        v["data"]["assignDimension"]["dimensions"],
        json!(["HEALTH", "EDUCATION"]),
        "{v}"
    );
    // the agency now sees education households too, at once
    let seen: BTreeSet<String> = all_pages(&app, &pho, Value::Null, 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(
        seen,
        houses_with(&ds, &[Dimension::Health, Dimension::Education])
    );
    let (_, v) = app
        .graphql(
            Some(&admin),
            unassign,
            json!({"a": "33-pho", "d": "HEALTH"}),
        )
        .await;
    assert_eq!(
        v["data"]["unassignDimension"]["dimensions"],
        json!(["EDUCATION"])
    );
    let seen: BTreeSet<String> = all_pages(&app, &pho, Value::Null, 100)
        .await
        .into_iter()
        .collect();
    assert_eq!(seen, houses_with(&ds, &[Dimension::Education]));
    // with no dimension left it sees nothing
    app.graphql(
        Some(&admin),
        unassign,
        json!({"a": "33-pho", "d": "EDUCATION"}),
    )
    .await;
    assert!(all_pages(&app, &pho, Value::Null, 100).await.is_empty());
    // a new agency
    let add = "mutation($i: AgencyInput!) { addAgency(input: $i) { code province dimensions } }";
    let input = json!({"code": "33-nso", "abbreviation": "สสช.", "nameTh": "สำนักงานสถิติจังหวัดศรีสะเกษ", "nameEn": "Si Sa Ket Statistical Office", "province": "33"});
    let (_, v) = app.graphql(Some(&admin), add, json!({"i": input})).await;
    assert_eq!(
        v["data"]["addAgency"],
        json!({"code": "33-nso", "province": "33", "dimensions": []}),
        "{v}"
    );
    let (_, v) = app.graphql(Some(&admin), add, json!({"i": input})).await;
    assert_eq!(
        (code(&v), v["errors"][0]["extensions"]["field"].as_str()),
        (Some("BAD_USER_INPUT"), Some("code"))
    );
    let (_, v) = app
        .graphql(Some(&admin), assign, json!({"a": "33-none", "d": "HEALTH"}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));

    // every change is in the audit trail with who made it; refused and no-op ones are not
    let audit =
        "{ auditEvents(first: 100) { nodes { principal action provinceCode subject detail } } }";
    let events = |v: &Value| -> Vec<(String, String, String, String)> {
        v["data"]["auditEvents"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
                (s("principal"), s("action"), s("subject"), s("detail"))
            })
            .collect()
    };
    let (_, v) = app.graphql(Some(&admin), audit, Value::Null).await;
    let seen = events(&v);
    let me = seen[0].0.clone();
    assert!(me.starts_with("admin:33:"), "{seen:?}");
    let changes: Vec<(&str, &str, &str)> = seen
        .iter()
        .filter(|e| e.1.starts_with("agency."))
        .map(|e| (e.0.as_str(), e.1.as_str(), e.2.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (me.as_str(), "agency.add", "33-nso"),
            (me.as_str(), "agency.unassign", "33-pho"),
            (me.as_str(), "agency.unassign", "33-pho"),
            (me.as_str(), "agency.assign", "33-pho"),
        ]
    );
    assert!(
        seen[1].3.contains("EDUCATION") || seen[1].3.contains("education"),
        "{seen:?}"
    );
    // keys were created from the command line: the three of province 33, not province 67's
    let keys: Vec<&str> = seen
        .iter()
        .filter(|e| e.1 == "key.create")
        .map(|e| e.0.as_str())
        .collect();
    assert_eq!(keys, vec!["cli"; 3], "{seen:?}");
    let other = app
        .key(KeyScope::Admin {
            province: Some("67".into()),
        })
        .await;
    let (_, v) = app.graphql(Some(&other), audit, Value::Null).await;
    assert!(events(&v).iter().all(|e| e.1 == "key.create"), "{v}");
    assert_eq!(events(&v).len(), 2, "{v}");
    let (_, v) = app.graphql(Some(&pho), audit, Value::Null).await;
    assert_eq!(events(&v), vec![], "{v}");
}

async fn a_page_of_100_households_with_people_problems_and_logbooks_runs_a_fixed_number_of_statements(
    app: TestApp,
) {
    use std::sync::atomic::Ordering;
    use tower::ServiceExt;
    let ds = seeded(&app, 150, 9).await;
    let token = app.key(KeyScope::Admin { province: None }).await;
    let (http, statements) = app.counting_http().await;
    // a first request notes the key's use (once a minute, beside the request): not counted
    let warm = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(
            json!({ "query": "{ me { kind } }" }).to_string(),
        ))
        .expect("request");
    http.clone().oneshot(warm).await.expect("response");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut counts = Vec::new();
    for first in [10, 100] {
        let query = format!(
            "{{ households(first: {first}) {{ totalCount nodes {{ houseCode village {{ nameTh }} cohort {{ label }}
               members {{ citizenId firstName }} analysis {{ wayOut }}
               problems {{ indicator {{ code }} status member {{ firstName }} cohort {{ label }} logbook {{ date agency agencyCode status }} }} }} }} }}"
        );
        let req = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(
                json!({ "query": query }).to_string(),
            ))
            .expect("request");
        statements.store(0, Ordering::SeqCst);
        let resp = http.clone().oneshot(req).await.expect("response");
        let v: Value = serde_json::from_slice(
            &axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body"),
        )
        .expect("json");
        assert!(v["errors"].is_null(), "{v}");
        assert_eq!(
            v["data"]["households"]["nodes"].as_array().map(Vec::len),
            Some(first)
        );
        assert_eq!(v["data"]["households"]["totalCount"], ds.households.len());
        counts.push(statements.load(Ordering::SeqCst));
    }
    // page, count, then one each: members, analyses, problems, entries, cohorts, areas
    assert_eq!(
        counts[0], counts[1],
        "statements grow with the page: {counts:?}"
    );
    assert!(
        counts[1] <= 8,
        "{} statements for one page of 100 households",
        counts[1]
    );
}

async fn problems_and_logbook_entries_are_connections_under_the_same_rule(app: TestApp) {
    let ds = seeded(&app, 40, 10).await;
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let problems_q = "query($f: ProblemFilter, $after: String) { problems(filter: $f, first: 7, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id houseCode indicator { dimension } } } }";
    let walk = |token: String, query: &'static str, field: &'static str, filter: Value| {
        let app = &app;
        async move {
            let mut out = Vec::new();
            let mut after = Value::Null;
            loop {
                let (_, v) = app
                    .graphql(Some(&token), query, json!({"f": filter, "after": after}))
                    .await;
                let c = &v["data"][field];
                assert!(v["errors"].is_null(), "{v}");
                out.extend(c["nodes"].as_array().expect("nodes").iter().cloned());
                if !c["pageInfo"]["hasNextPage"].as_bool().expect("page info") {
                    return (out, c["totalCount"].as_u64().expect("count"));
                }
                after = c["pageInfo"]["endCursor"].clone();
            }
        }
    };
    let (all, total) = walk(admin.clone(), problems_q, "problems", Value::Null).await;
    assert_eq!(
        (all.len(), total as usize),
        (ds.problems.len(), ds.problems.len())
    );
    let ids: BTreeSet<i64> = all.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), all.len(), "no repeats");
    let (health, total) = walk(pho.clone(), problems_q, "problems", Value::Null).await;
    let expected = ds
        .problems
        .iter()
        .filter(|p| indicator(p.indicator).is_some_and(|i| i.dimension == Dimension::Health))
        .count();
    assert_eq!((health.len(), total as usize), (expected, expected));
    assert!(
        health
            .iter()
            .all(|p| p["indicator"]["dimension"] == "HEALTH")
    );
    let (none, _) = walk(
        pho.clone(),
        problems_q,
        "problems",
        json!({"dimension": "LIVING"}),
    )
    .await;
    assert!(none.is_empty());

    let entries_q = "query($f: LogbookFilter, $after: String) { logbookEntries(filter: $f, first: 9, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id date agencyCode status problemId } } }";
    let (entries, total) = walk(admin.clone(), entries_q, "logbookEntries", Value::Null).await;
    assert_eq!(
        (entries.len(), total as usize),
        (ds.entries.len(), ds.entries.len())
    );
    let health_problems: BTreeSet<usize> = ds
        .problems
        .iter()
        .enumerate()
        .filter(|(_, p)| indicator(p.indicator).is_some_and(|i| i.dimension == Dimension::Health))
        .map(|(i, _)| i)
        .collect();
    let (theirs, _) = walk(pho.clone(), entries_q, "logbookEntries", Value::Null).await;
    assert_eq!(
        theirs.len(),
        ds.entries
            .iter()
            .filter(|e| health_problems.contains(&e.problem))
            .count()
    );
    let (by_agency, _) = walk(
        admin.clone(),
        entries_q,
        "logbookEntries",
        json!({"agency": "33-pho"}),
    )
    .await;
    assert_eq!(
        by_agency.len(),
        ds.entries.iter().filter(|e| e.agency == "สสจ.").count()
    );
    assert!(by_agency.iter().all(|e| e["agencyCode"] == "33-pho"));
    let cut = ds.entries.iter().map(|e| e.date).max().expect("entries") - chrono::Days::new(60);
    let (recent, _) = walk(
        admin.clone(),
        entries_q,
        "logbookEntries",
        json!({"dateFrom": cut.to_string(), "status": "SOLVED"}),
    )
    .await;
    let want = ds
        .entries
        .iter()
        .filter(|e| e.date >= cut && e.status == entity::types::ProblemStatus::Solved)
        .count();
    assert_eq!(recent.len(), want);
    let (_, v) = app
        .graphql(
            Some(&admin),
            entries_q,
            json!({"f": {"dateFrom": "15/09/2565"}}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["field"].as_str(),
        Some("dateFrom")
    );
}

async fn import_batches_are_read_with_their_counts_errors_and_warnings(app: TestApp) {
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang\n",
    )
    .await;
    let mut ds = dataset(6, 11);
    let good = app
        .import_with(
            "good.xlsx",
            render(&ds, false, false).bytes,
            false,
            Some("3318"),
        )
        .await;
    ds.set_raw(
        importer::workbook::SheetKind::Members,
        0,
        "citizen_id",
        "12345",
    );
    let bad = app
        .import_with(
            "bad.xlsx",
            render(&ds, false, false).bytes,
            false,
            Some("3318"),
        )
        .await;
    let q = "{ importBatches { nodes { id fileName status districtCode errorCount warningCount
        sheets { sheet read inserted updated unchanged rejected }
        errors { sheet row column value code messageTh messageEn } } } }";
    let own = app.key(KeyScope::District("3318".into())).await;
    let (_, v) = app.graphql(Some(&own), q, json!({})).await;
    let nodes = v["data"]["importBatches"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(nodes.len(), 2);
    assert_eq!(
        (nodes[0]["fileName"].as_str(), nodes[0]["status"].as_str()),
        (Some("bad.xlsx"), Some("REJECTED")),
        "newest first"
    );
    assert_eq!(
        nodes[0]["errorCount"].as_u64(),
        Some(bad.errors.len() as u64)
    );
    let e = &nodes[0]["errors"][0];
    assert_eq!(
        (e["sheet"].as_str(), e["code"].as_str(), e["value"].as_str()),
        (Some("members"), Some("citizen_id_length"), Some("12345"))
    );
    assert!(
        e["messageTh"]
            .as_str()
            .is_some_and(|m| m.contains("13 หลัก"))
    );
    let hh = nodes[1]["sheets"]
        .as_array()
        .expect("sheets")
        .iter()
        .find(|c| c["sheet"] == "households")
        .expect("households")
        .clone();
    assert_eq!(
        hh["inserted"].as_u64(),
        Some(good.sheets[&importer::workbook::SheetKind::Households].inserted as u64)
    );
    // another district, and agencies, see none; a single batch outside answers NOT_FOUND
    let other = app.key(KeyScope::District("3301".into())).await;
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    for key in [&other, &pho] {
        let (_, v) = app.graphql(Some(key), q, json!({})).await;
        assert_eq!(v["data"]["importBatches"]["nodes"], json!([]), "{v}");
        let (_, v) = app
            .graphql(
                Some(key),
                "query($i: Int!) { importBatch(id: $i) { id } }",
                json!({"i": good.batch_id}),
            )
            .await;
        assert_eq!(code(&v), Some("NOT_FOUND"));
    }
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let (_, v) = app
        .graphql(
            Some(&admin),
            "query($i: Int!) { importBatch(id: $i) { fileName status } }",
            json!({"i": good.batch_id}),
        )
        .await;
    assert_eq!(
        v["data"]["importBatch"],
        json!({"fileName": "good.xlsx", "status": "IMPORTED"})
    );
}

async fn households_page_in_any_order_without_gaps_or_repeats(app: TestApp) {
    let ds = seeded(&app, 45, 12).await;
    let token = app.key(KeyScope::Admin { province: None }).await;
    let q = "query($o: [HouseholdOrder!], $after: String) { households(orderBy: $o, first: 7, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { houseCode villageCode } } }";
    let order = json!([{"field": "VILLAGE", "direction": "DESC"}, {"field": "DISTRICT"}]);
    let mut got = Vec::new();
    let mut after = Value::Null;
    loop {
        let (_, v) = app
            .graphql(Some(&token), q, json!({"o": order, "after": after}))
            .await;
        let c = &v["data"]["households"];
        assert!(v["errors"].is_null(), "{v}");
        got.extend(
            c["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["houseCode"].as_str().expect("code").to_string()),
        );
        if !c["pageInfo"]["hasNextPage"].as_bool().expect("page") {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    let mut want: Vec<(String, String)> = ds
        .households
        .iter()
        .map(|h| {
            (
                format!("{}{:02}", h.subdistrict_code, h.village_no),
                h.house_code.clone(),
            )
        })
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(got, want.into_iter().map(|(_, h)| h).collect::<Vec<_>>());
    // a cursor of another ordering is refused
    let (_, v) = app
        .graphql(Some(&token), HOUSEHOLDS, json!({"first": 1}))
        .await;
    let cursor = v["data"]["households"]["pageInfo"]["endCursor"].clone();
    let (_, v) = app
        .graphql(Some(&token), q, json!({"o": order, "after": cursor}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
}

async fn a_request_over_its_time_limit_is_cut_off(app: TestApp) {
    use tower::ServiceExt;
    seeded(&app, 60, 13).await;
    let token = app.key(KeyScope::Admin { province: None }).await;
    // the key lookup has its own bound (AUTH_TIMEOUT), so a deadline this short expires
    // after it, before or while the operation runs: without a deadline checked before the
    // operation starts and kept while it runs this would be a 200 (a timer alone fires on
    // the runtime's next tick, by when this page may have been read whole)
    let run = |timeout: std::time::Duration| {
        let http = api::app(api::AppState {
            budgets: Default::default(),
            db: app.db.clone(),
            schema: api::build_schema(app.db.clone(), api::Limits::default()),
            config: api::HttpConfig {
                timeout,
                ..Default::default()
            },
            jobs: app.jobs(),
        });
        let req = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(
                json!({"query": HOUSEHOLDS, "variables": {"first": 100}}).to_string(),
            ))
            .expect("request");
        async move {
            let resp = http.oneshot(req).await.expect("response");
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .expect("body");
            let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
            (status, json)
        }
    };
    let (status, body) = run(std::time::Duration::from_secs(30)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["households"]["nodes"].as_array().map(Vec::len),
        Some(60)
    );
    let (status, body) = run(std::time::Duration::from_micros(1)).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    assert!(body["data"].is_null());
}

/// Resolvers run on a request built by `graphql::request` alone, with no HTTP layer; a request
/// built any other way is answered with a masked, coded `INTERNAL` error, never a panic.
async fn resolvers_run_without_http_on_a_request_built_by_graphql_request(app: TestApp) {
    use api::access::Principal;
    let ds = seeded(&app, 6, 5).await;
    let schema = api::build_schema(app.db.clone(), api::Limits::default());
    let q = "{ households(first: 50) { nodes { houseCode district { code } cohort { label } \
             members { citizenId } analysis { attitude } \
             problems { id cohort { beYear } member { citizenId } logbook { id agency } } } } }";
    let admin = Principal::Admin {
        key_id: 1,
        province: None,
    };
    let v = serde_json::to_value(
        schema
            .execute(api::graphql::request(q.into(), &app.db, admin.clone()))
            .await,
    )
    .expect("json");
    assert!(v["errors"].is_null(), "{v}");
    let nodes = v["data"]["households"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), ds.households.len());
    let count = |f: &dyn Fn(&Value) -> usize| nodes.iter().map(f).sum::<usize>();
    let arr = |v: &Value| v.as_array().map_or(0, Vec::len);
    assert_eq!(count(&|h| arr(&h["members"])), ds.members.len());
    assert_eq!(count(&|h| arr(&h["problems"])), ds.problems.len());
    assert_eq!(
        count(&|h| h["problems"]
            .as_array()
            .map_or(0, |ps| ps.iter().map(|p| arr(&p["logbook"])).sum())),
        ds.entries.len()
    );
    assert_eq!(
        nodes.iter().filter(|h| h["analysis"].is_object()).count(),
        ds.analyses.len()
    );
    assert!(
        nodes
            .iter()
            .all(|h| h["district"]["code"].is_string() && h["cohort"]["label"].is_string())
    );
    // the loaders carry the principal's rule: another district's key sees none of it
    let other = Principal::District {
        key_id: 2,
        district: "1001".into(),
    };
    let v = serde_json::to_value(
        schema
            .execute(api::graphql::request(q.into(), &app.db, other))
            .await,
    )
    .expect("json");
    assert_eq!(v["data"]["households"]["nodes"], json!([]), "{v}");
    // without graphql::request the loaders are missing: coded and masked, not a panic
    let bare = async_graphql::Request::new(q).data(admin);
    let v = serde_json::to_value(schema.execute(bare).await).expect("json");
    assert_eq!(code(&v), Some("INTERNAL"), "{v}");
    assert_eq!(v["errors"][0]["message"], "internal error", "{v}");
}

/// `me { area }` names the key's district or province (the staff page's header shows it).
async fn me_names_the_area_of_the_key(app: TestApp) {
    let q = "{ me { kind area { code nameTh nameEn } } }";
    for (scope, expect) in [
        (
            KeyScope::District("3318".into()),
            json!({"code": "3318", "nameTh": "เมืองจันทร์", "nameEn": "Mueang Chan"}),
        ),
        (
            KeyScope::Admin {
                province: Some("33".into()),
            },
            json!({"code": "33", "nameTh": "ศรีสะเกษ", "nameEn": "Si Sa Ket"}),
        ),
        (
            KeyScope::Agency("33-pho".into()),
            json!({"code": "33", "nameTh": "ศรีสะเกษ", "nameEn": "Si Sa Ket"}),
        ),
        (KeyScope::Admin { province: None }, Value::Null),
    ] {
        let key = app.key(scope).await;
        let (status, v) = app.graphql(Some(&key), q, json!({})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["data"]["me"]["area"], expect, "{v}");
    }
}

/// A household a workbook moves to another province takes its problems along, those on the
/// problems sheet and those that are not: the province's agencies stop seeing them, and every
/// problem keeps its household's province.
async fn a_household_moved_to_another_province_takes_its_problems_along(app: TestApp) {
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\nprovince,67,,เพชรบูรณ์,Phetchabun\ndistrict,6701,67,เมืองเพชรบูรณ์,Mueang Phetchabun\nsubdistrict,670101,6701,ในเมือง,Nai Mueang\n",
    )
    .await;
    let ds = dataset(12, 71);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let problems = app.count("SELECT COUNT(*) FROM problems").await;
    assert!(problems > 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM problems WHERE province_code = '33'")
            .await,
        problems
    );
    let worklist =
        "{ worklist(first: 100) { nodes { problem { houseCode } } pageInfo { hasNextPage } } }";
    let http = app.http();
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let houses_on_worklist = |v: Value| -> BTreeSet<String> {
        assert_eq!(
            v["data"]["worklist"]["pageInfo"]["hasNextPage"], false,
            "{v}"
        );
        v["data"]["worklist"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|n| {
                n["problem"]["houseCode"]
                    .as_str()
                    .expect("house")
                    .to_string()
            })
            .collect()
    };
    let before = houses_on_worklist(crate::helpers::gql(&http, &pho, worklist, json!({})).await);
    // a household on the health agency's worklist
    let moved = before.iter().next().expect("open health work").clone();
    let row = ds
        .households
        .iter()
        .position(|h| h.house_code == moved)
        .expect("its row");

    // the same workbook, that household now in Phetchabun
    let mut changed = ds.clone();
    for (col, text) in [
        ("province", "เพชรบูรณ์"),
        ("district", "เมืองเพชรบูรณ์"),
        ("subdistrict", "ในเมือง"),
    ] {
        changed
            .overrides
            .insert((SheetKind::Households, row, col), text.into());
    }
    let r = app
        .import("moved.xlsx", render(&changed, false, false).bytes)
        .await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    assert_eq!(r.sheets[&SheetKind::Households].updated, 1);
    assert_eq!(
        r.sheets[&SheetKind::Problems].updated,
        0,
        "its problems' rows are as they were"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM problems WHERE house_code = '{moved}' AND province_code = '67'"
        ))
        .await,
        ds.problems.iter().filter(|p| p.house_code == moved).count() as i64
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM problems WHERE province_code <> \
             (SELECT h.province_code FROM households h WHERE h.house_code = problems.house_code)"
        )
        .await,
        0
    );
    let after = houses_on_worklist(crate::helpers::gql(&http, &pho, worklist, json!({})).await);
    assert!(!after.contains(&moved), "{after:?}");
    assert_eq!(after.len(), before.len() - 1);
}

on_both_databases!(
    a_household_moved_to_another_province_takes_its_problems_along,
    me_names_the_area_of_the_key,
    the_standard_introspection_query_runs_under_the_default_limits,
    resolvers_run_without_http_on_a_request_built_by_graphql_request,
    concurrent_writes_all_succeed,
    a_request_over_its_time_limit_is_cut_off,
    households_page_in_any_order_without_gaps_or_repeats,
    import_batches_are_read_with_their_counts_errors_and_warnings,
    problems_and_logbook_entries_are_connections_under_the_same_rule,
    a_page_of_100_households_with_people_problems_and_logbooks_runs_a_fixed_number_of_statements,
    admins_manage_agencies_and_ownership_changes_what_an_agency_sees,
    recording_help_updates_the_problem_and_respects_dimensions,
    one_operation_per_request_and_a_body_limit,
    stats_equal_counts_computed_from_the_workbook,
    without_a_valid_key_every_operation_is_unauthenticated,
    each_principal_sees_exactly_its_households_problems_and_people,
    pages_follow_each_other_without_gaps_or_repeats,
    filters_combine_with_and_or_and_not,
    bad_input_and_limits_answer_with_their_codes,
    the_catalogue_me_and_agencies,
);

/// The schema's SDL is a contract with agencies' systems: any change shows up in review.
#[test]
fn the_schema_sdl_is_reviewed() {
    let schema = api::build_schema(
        sea_orm::DatabaseConnection::default(),
        api::Limits::default(),
    );
    insta::assert_snapshot!("schema_sdl", schema.sdl());
}

/// PostgreSQL sessions plan logbook's statements once ([`migration::PG_PLAN_CACHE_MODE`]):
/// the default `auto` planned the feed's statements again at every request. A URL that sets
/// `plan_cache_mode` itself keeps its choice. PostgreSQL only: SQLite has no such setting.
#[tokio::test]
#[cfg_attr(
    not(logbook_pg),
    ignore = "PostgreSQL: build and run with LOGBOOK_TEST_PG_URL=postgres://postgres@127.0.0.1:5432"
)]
async fn postgres_sessions_plan_statements_once_unless_the_url_chooses() {
    use sea_orm::{ConnectionTrait, Statement};
    async fn mode(db: &sea_orm::DatabaseConnection) -> String {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT current_setting('plan_cache_mode') AS m",
        ))
        .await
        .expect("read the setting")
        .expect("one row")
        .try_get::<String>("", "m")
        .expect("text")
    }
    let app = TestApp::postgres().await;
    assert_eq!(mode(&app.db).await, migration::PG_PLAN_CACHE_MODE);
    assert_eq!(migration::PG_PLAN_CACHE_MODE, "force_generic_plan");
    let chosen = migration::connect(&format!(
        "{}?options=-c%20plan_cache_mode%3Dforce_custom_plan",
        app.url
    ))
    .await
    .expect("connect with the operator's options");
    assert_eq!(mode(&chosen).await, "force_custom_plan");
    chosen.close().await.expect("close");
}

/// Pooled connections PostgreSQL closed while they sat idle are replaced before use: a
/// connection idle for [`migration::PING_AFTER_IDLE`] is pinged when taken (not before every
/// statement, which was a round trip ahead of each), so statements after the server closed
/// them succeed. PostgreSQL only: a SQLite file has no server to close a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(logbook_pg),
    ignore = "PostgreSQL: build and run with LOGBOOK_TEST_PG_URL=postgres://postgres@127.0.0.1:5432"
)]
async fn connections_the_server_closed_while_idle_are_replaced() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::postgres().await;
    let run = |sql: &'static str| {
        let db = app.db.clone();
        async move { db.execute_unprepared(sql).await }
    };
    // several connections in the pool at once
    let warm = futures::future::join_all((0..4).map(|_| run("SELECT pg_sleep(0.05)"))).await;
    assert!(warm.iter().all(Result::is_ok), "{warm:?}");
    let closed = app
        .count(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
        )
        .await;
    assert!(closed >= 3, "{closed} connections closed");
    tokio::time::sleep(migration::PING_AFTER_IDLE + std::time::Duration::from_millis(300)).await;
    let after = futures::future::join_all((0..8).map(|_| run("SELECT pg_sleep(0.02)"))).await;
    for r in after {
        r.expect("a statement after the server closed the pool's idle connections");
    }
}
