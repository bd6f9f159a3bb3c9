//! `stats` cells kept ahead: after an import, every kind of API write, a re-import that moves
//! a household and a member to other villages, and an agency's dimensions changing, the
//! cells answer exactly what a count from the whole tables answers, for every principal
//! kind and grouping they keep (the API's writes keep them by difference), and so do the
//! households counts `households { totalCount }` reads from them; a village left waiting
//! sends `stats` and those counts back to the whole tables, and a write on cells that
//! disagree leaves its village to be counted again. On both databases.

use crate::helpers::{TestApp, dataset, gql, render};
use crate::on_both_databases;
use api::access::Principal;
use api::service::follow_up::OverdueRule;
use api::service::keys::KeyScope;
use api::service::stats::{
    KeptCount, Key, Row, grouped, grouped_from_cells, households_from_cells,
};
use entity::types::{AreaCode, Classification, Dimension, ProblemStatus};
use sea_orm::{Condition, ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Groupings the cells keep (and one they do not: indicator).
const GROUPINGS: &[&[Key]] = &[
    &[],
    &[Key::District],
    &[Key::District, Key::Dimension, Key::Status],
    &[Key::Status, Key::Dimension],
    &[Key::Village, Key::Classification],
    &[Key::Subdistrict, Key::Status],
    &[Key::Province, Key::Dimension],
    &[Key::Classification, Key::Dimension, Key::Village],
];

fn principals() -> Vec<Principal> {
    let agency = |code: &str, dimensions: Vec<Dimension>| Principal::Agency {
        key_id: 0,
        agency_id: 0,
        agency_code: code.into(),
        province: "33".into(),
        dimensions,
    };
    vec![
        Principal::Operator { district: None },
        Principal::Admin {
            key_id: 0,
            province: Some("33".into()),
        },
        Principal::District {
            key_id: 0,
            district: "3318".into(),
        },
        Principal::District {
            key_id: 0,
            district: "3301".into(),
        },
        agency("33-pho", vec![Dimension::Health]),
        agency("33-x", vec![Dimension::Education, Dimension::Income]),
        agency("33-y", Dimension::ALL.to_vec()),
    ]
}

/// The rows of a count from the whole tables, without the overdue count (cells keep none).
async fn whole(app: &TestApp, p: &Principal, keys: &[Key]) -> Vec<Row> {
    let mut rows = grouped(&app.db, p, Condition::all(), keys, OverdueRule::default())
        .await
        .expect("whole count");
    for r in &mut rows {
        r.overdue_problems = 0;
    }
    rows
}

/// Every principal and grouping: the cells answer, and answer what the whole tables do.
async fn cells_agree(app: &TestApp, when: &str) {
    let waiting = app.count("SELECT COUNT(*) FROM stats_dirty").await;
    assert_eq!(waiting, 0, "{when}: villages left waiting");
    let mut answered = 0;
    for p in principals() {
        for keys in GROUPINGS {
            let cells = grouped_from_cells(&app.db, &p, keys)
                .await
                .expect("cells read");
            let agency = matches!(p, Principal::Agency { .. });
            if agency && !keys.contains(&Key::Dimension) {
                assert!(cells.is_none(), "{when}: {p:?} by {keys:?} from cells");
                continue;
            }
            let cells = cells.unwrap_or_else(|| panic!("{when}: {p:?} by {keys:?} not answered"));
            assert_eq!(
                cells,
                whole(app, &p, keys).await,
                "{when}: {p:?} by {keys:?}"
            );
            answered += 1;
        }
        assert!(
            grouped_from_cells(&app.db, &p, &[Key::Indicator])
                .await
                .expect("cells read")
                .is_none(),
            "cells keep no indicator"
        );
    }
    assert!(answered > 30, "{answered}");
    kept_counts_agree(app, when).await;
    // the whole tables have something to count: the comparison is not of empty sets
    let all = whole(app, &Principal::Operator { district: None }, &[]).await;
    assert!(
        all[0].problems > 0 && all[0].logbook_entries > 0 && all[0].people > 0,
        "{all:?}"
    );
}

/// Household counts the cells keep (areas of every level, a classification, a dimension or
/// none, a status or none), read from the cells, against the same count over the whole
/// tables under the key's access condition.
async fn kept_counts_agree(app: &TestApp, when: &str) {
    let first = |col: &'static str| async move {
        let v: String = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT {col} FROM households ORDER BY house_code LIMIT 1"),
            ))
            .await
            .expect("read")
            .expect("a household")
            .try_get_by_index(0)
            .expect("its area");
        AreaCode::parse_str(&v).expect("an area code")
    };
    let (village, subdistrict) = (first("village_code").await, first("subdistrict_code").await);
    let area = |c: &str| AreaCode::parse_str(c).expect("an area code");
    let ask = |areas: Vec<AreaCode>, classification, dimension, status| KeptCount {
        areas,
        classification,
        dimension,
        status,
    };
    let asks = [
        ask(vec![], None, None, None),
        ask(vec![area("3318")], None, Some(Dimension::Health), None),
        ask(
            vec![area("33"), area("3318")],
            None,
            Some(Dimension::Health),
            Some(ProblemStatus::NotStarted),
        ),
        ask(vec![area("3301")], None, Some(Dimension::Health), None),
        ask(
            vec![area("33")],
            Some(Classification::Developable),
            Some(Dimension::Education),
            None,
        ),
        ask(vec![subdistrict], None, Some(Dimension::Income), None),
        ask(
            vec![village],
            Some(Classification::Welfare),
            None,
            Some(ProblemStatus::Solved),
        ),
        ask(
            vec![area("3318")],
            None,
            None,
            Some(ProblemStatus::FollowingUp),
        ),
    ];
    let mut nonzero = 0;
    for p in principals() {
        for a in &asks {
            let cells = households_from_cells(&app.db, &p, a)
                .await
                .expect("cells read");
            let agency = matches!(p, Principal::Agency { .. });
            if agency && a.dimension.is_none() {
                assert!(cells.is_none(), "{when}: {p:?} {a:?} from cells");
                continue;
            }
            let cells = cells.unwrap_or_else(|| panic!("{when}: {p:?} {a:?} not answered"));
            let mut c = p.households_having(api::service::problems::matching(
                a.dimension,
                None,
                a.status.map(|s| s.key()),
                None,
            ));
            for code in &a.areas {
                c = c.add(api::service::households::in_area(code));
            }
            if let Some(cl) = a.classification {
                c = c.add(api::service::households::classified(cl.key()));
            }
            let tables = api::service::households::count(&app.db, c)
                .await
                .expect("count");
            assert_eq!(cells, tables, "{when}: {p:?} {a:?}");
            nonzero += usize::from(tables > 0);
        }
    }
    assert!(nonzero > 15, "{when}: {nonzero} counts above 0");
}

/// The village code of a stored household.
async fn village_of(app: &TestApp, house: &str) -> String {
    app.db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT village_code FROM households WHERE house_code = '{house}'"),
        ))
        .await
        .expect("read")
        .expect("the household")
        .try_get_by_index(0)
        .expect("its village")
}

/// `stats` through GraphQL with no filter (cells) and with an empty filter (the whole
/// tables): the same rows, for a key.
async fn graphql_agrees(http: &axum::Router, key: &str, when: &str) {
    let q = "query($f: ProblemFilter) { stats(filter: $f, groupBy: [DISTRICT, DIMENSION, STATUS]) { area { code } dimension status problems households people solvedHouseholds logbookEntries closedHouseholds urgentHouseholds unverifiedEntries planned plannedDone } }";
    let cells = gql(http, key, q, json!({})).await;
    let tables = gql(http, key, q, json!({"f": {}})).await;
    assert!(cells["errors"].is_null(), "{cells}");
    assert!(
        cells["data"]["stats"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{when}: {cells}"
    );
    assert_eq!(cells["data"], tables["data"], "{when}");
}

/// `households { totalCount }` for filters the cells keep (read from them) equals the same
/// filter inside an `and` (which the cells do not answer) and the households listed, for a
/// key.
async fn total_counts_agree(http: &axum::Router, key: &str, when: &str) {
    let q = "query($f: HouseholdFilter) { households(first: 100, filter: $f) { totalCount nodes { houseCode } } }";
    let mut nonzero = 0;
    for f in [
        json!({"districtCode": "3318", "problem": {"dimension": "HEALTH"}}),
        json!({"provinceCode": "33", "problem": {"dimension": "INCOME", "status": "NOT_STARTED"}}),
        json!({"classification": "DEVELOPABLE", "problem": {"dimension": "LIVING"}}),
        json!({"districtCode": "3301", "problem": {"dimension": "HEALTH"}}),
        json!({"districtCode": "3318", "problem": {}}),
    ] {
        let kept = gql(http, key, q, json!({"f": f})).await;
        let wrapped = gql(http, key, q, json!({"f": {"and": [f]}})).await;
        assert!(kept["errors"].is_null(), "{kept}");
        let total = kept["data"]["households"]["totalCount"]
            .as_u64()
            .expect("a count");
        let listed = kept["data"]["households"]["nodes"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(listed < 100, "one page holds them all");
        assert_eq!(total, listed as u64, "{when}: {f}");
        assert_eq!(kept["data"], wrapped["data"], "{when}: {f}");
        nonzero += usize::from(total > 0);
    }
    // a health agency sees the health counts only
    assert!(nonzero >= 2, "{when}: {nonzero} counts above 0");
}

async fn stats_cells_equal_a_count_from_the_whole_tables_after_every_write(app: TestApp) {
    let ds = dataset(60, 14);
    let r = app
        .import("seed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let cells = app.count("SELECT COUNT(*) FROM stats_cells").await;
    assert!(cells > 0, "the import's villages were counted");
    cells_agree(&app, "after the import").await;

    let http = app.http();
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    for k in [&admin, &district, &health] {
        graphql_agrees(&http, k, "after the import").await;
        total_counts_agree(&http, k, "after the import").await;
    }

    // help recorded: a problem solved
    let p = ds
        .problems
        .iter()
        .find(|p| p.citizen_id.is_none())
        .expect("a household problem");
    let today = chrono::Local::now().date_naive().to_string();
    let v = gql(
        &http,
        &district,
        "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }",
        json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "date": today,
            "agency": "33-pho", "activity": "ซ่อมบ้าน", "status": "SOLVED"}}),
    )
    .await;
    let entry = v["data"]["recordAssistance"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    cells_agree(&app, "after recordAssistance").await;

    // verified
    let v = gql(
        &http,
        &district,
        "mutation($ids: [Int!]!) { verifyEntries(ids: $ids) { id } }",
        json!({"ids": [entry]}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    cells_agree(&app, "after verifyEntries").await;

    // urgent, then closed
    let other = &ds.households[1].house_code;
    let v = gql(
        &http,
        &district,
        "mutation($h: String!) { setUrgent(houseCode: $h, urgent: true, reason: \"ไฟไหม้\") { urgent } }",
        json!({"h": other}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    cells_agree(&app, "after setUrgent").await;
    let v = gql(
        &http,
        &district,
        "mutation($i: CloseHouseholdInput!) { closeHousehold(input: $i) { closedReason } }",
        json!({"i": {"houseCode": ds.households[2].house_code, "reason": "MOVED_AWAY", "on": today}}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    cells_agree(&app, "after closeHousehold").await;

    // a plan on a health problem, then its removal
    let sick = ds
        .problems
        .iter()
        .find(|p| {
            entity::catalog::indicator(p.indicator)
                .is_some_and(|i| i.dimension == Dimension::Health)
        })
        .expect("a health problem");
    let problem: i64 = app
        .count(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM problems WHERE house_code = '{}' AND indicator_code = {}",
            sick.house_code, sick.indicator
        ))
        .await;
    let v = gql(
        &http,
        &health,
        "mutation($p: Int!, $j: String!, $d: String!) { planAssistance(problemId: $p, project: $j, plannedOn: $d) { id } }",
        json!({"p": problem, "j": "ตรวจสุขภาพ", "d": today}),
    )
    .await;
    let plan = v["data"]["planAssistance"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    cells_agree(&app, "after planAssistance").await;
    let v = gql(
        &http,
        &admin,
        "mutation($id: Int!) { removePlan(id: $id) }",
        json!({"id": plan}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    cells_agree(&app, "after removePlan").await;

    // a re-import moving a household to another village and a member to another household
    // in another village, and changing a classification
    let mut moved = ds.clone();
    let from = moved.households[5].clone();
    let to = moved
        .households
        .iter()
        .find(|h| h.subdistrict_code == from.subdistrict_code && h.village_no != from.village_no)
        .cloned()
        .expect("a second village in the subdistrict");
    moved.households[5].village_no = to.village_no;
    moved.households[5].village_name = to.village_name.clone();
    let heads: Vec<String> = moved
        .households
        .iter()
        .map(|h| h.head_citizen_id.clone())
        .collect();
    let person = moved
        .members
        .iter()
        .position(|m| {
            m.house_code != to.house_code
                && !heads.contains(&m.citizen_id)
                && moved
                    .problems
                    .iter()
                    .all(|p| p.citizen_id.as_deref() != Some(m.citizen_id.as_str()))
                && moved
                    .households
                    .iter()
                    .find(|h| h.house_code == m.house_code)
                    .is_some_and(|h| h.village_no != to.village_no)
        })
        .expect("a member to move");
    moved.members[person].house_code = to.house_code.clone();
    let last = moved.households.len() - 1;
    moved.households[last].classification = if moved.households[last].classification == "พัฒนาได้"
    {
        "สงเคราะห์".into()
    } else {
        "พัฒนาได้".into()
    };
    let r = app
        .import("moved.xlsx", render(&moved, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let updated: u32 = r.sheets.values().map(|c| c.updated).sum();
    assert!(updated >= 2, "{:?}", r.sheets);
    cells_agree(&app, "after the re-import that moved things").await;
    for k in [&admin, &district, &health] {
        graphql_agrees(&http, k, "after the re-import").await;
        total_counts_agree(&http, k, "after the re-import").await;
    }

    // an agency's dimensions change: its key counts the new ones at once
    let v = gql(
        &http,
        &admin,
        "mutation { assignDimension(agency: \"33-pho\", dimension: EDUCATION) { code } }",
        json!({}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    graphql_agrees(&http, &health, "after assignDimension").await;
    total_counts_agree(&http, &health, "after assignDimension").await;
    let q = "{ stats(groupBy: [DIMENSION]) { dimension } }";
    let v = gql(&http, &health, q, json!({})).await;
    let dims: Vec<&str> = v["data"]["stats"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["dimension"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(dims, vec!["EDUCATION", "HEALTH"], "{v}");

    // a village left waiting (a writer that could not count): the whole tables answer, for
    // the principals whose reach has it, and the cells for the others
    let village = village_of(&app, &from.house_code).await;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO stats_dirty (village_code, district_code, province_code) VALUES ('{village}', '3318', '33')"
        ))
        .await
        .expect("mark");
    let national = Principal::Operator { district: None };
    assert!(
        grouped_from_cells(&app.db, &national, &[Key::District])
            .await
            .expect("read")
            .is_none()
    );
    let elsewhere = Principal::District {
        key_id: 0,
        district: "3301".into(),
    };
    assert!(
        grouped_from_cells(&app.db, &elsewhere, &[Key::District])
            .await
            .expect("read")
            .is_some()
    );
    graphql_agrees(&http, &admin, "with a village waiting").await;
    total_counts_agree(&http, &admin, "with a village waiting").await;
    let in_district = |d: &str| KeptCount {
        areas: vec![AreaCode::parse_str(d).expect("a district")],
        dimension: Some(Dimension::Health),
        ..KeptCount::default()
    };
    let (waiting, not_waiting) = (
        households_from_cells(&app.db, &national, &in_district("3318")).await,
        households_from_cells(&app.db, &national, &in_district("3301")).await,
    );
    assert!(
        waiting.expect("read").is_none(),
        "a waiting village's district"
    );
    assert!(not_waiting.expect("read").is_some(), "another district");
    let counted = api::service::stats::count_waiting(&app.db)
        .await
        .expect("count");
    assert_eq!(counted, 1);
    cells_agree(&app, "after counting the waiting village").await;
}

/// The cells cannot answer a filter, a day in the past or the overdue count: those requests
/// are counted from the whole tables and still agree with the cells where both answer.
async fn stats_with_a_filter_a_day_or_overdue_count_from_the_whole_tables(app: TestApp) {
    let ds = dataset(30, 15);
    let r = app
        .import("seed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let http = app.http();
    let today = chrono::Local::now().date_naive().to_string();
    let q = "query($d: String) { stats(groupBy: [], asOf: $d) { problems households overdueProblems } }";
    let plain = gql(&http, &admin, q, json!({})).await;
    let as_of = gql(&http, &admin, q, json!({"d": today})).await;
    assert!(plain["errors"].is_null(), "{plain}");
    // asked for overdue: counted from the whole tables, the same as of today
    assert_eq!(plain["data"], as_of["data"]);
    let health = gql(
        &http,
        &admin,
        "{ stats(filter: {dimension: HEALTH}, groupBy: []) { problems } }",
        json!({}),
    )
    .await;
    let by_dim = gql(
        &http,
        &admin,
        "{ stats(groupBy: [DIMENSION]) { dimension problems } }",
        json!({}),
    )
    .await;
    let from_cells = by_dim["data"]["stats"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["dimension"] == "HEALTH"))
        .map(|r| r["problems"].clone());
    assert_eq!(
        Some(health["data"]["stats"][0]["problems"].clone()),
        from_cells,
        "{health} {by_dim}"
    );
    let expected = ds
        .problems
        .iter()
        .filter(|p| {
            entity::catalog::indicator(p.indicator)
                .is_some_and(|i| i.dimension == Dimension::Health)
        })
        .count();
    assert_eq!(from_cells, Some(Value::from(expected)));
}

/// A write on cells that do not agree with the tables (here: its village's cells gone) adds
/// no difference to them but leaves the village to be counted again, which mends them.
/// A dataset of `households` imported, its cells agreeing with the tables.
async fn seeded(app: &TestApp, households: usize, seed: u64) -> importer::generate::Dataset {
    let ds = dataset(households, seed);
    let r = app
        .import("seed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    cells_agree(app, "after the import").await;
    ds
}

async fn a_write_on_cells_that_disagree_leaves_its_village_to_be_counted_again(app: TestApp) {
    let ds = seeded(&app, 30, 16).await;
    let mut open = None;
    for p in ds.problems.iter().filter(|p| p.citizen_id.is_none()) {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM problems WHERE house_code = '{}' AND indicator_code = {} AND status <> 'solved'",
                p.house_code, p.indicator
            ))
            .await;
        if n == 1 {
            open = Some(p);
            break;
        }
    }
    let p = open.expect("a household problem not solved");
    let village = village_of(&app, &p.house_code).await;
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM stats_cells WHERE village_code = '{village}'"
        ))
        .await
        .expect("cells removed");
    let district = app.key(KeyScope::District("3318".into())).await;
    let today = chrono::Local::now().date_naive().to_string();
    let v = gql(
        &app.http(),
        &district,
        "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }",
        json!({"i": {"houseCode": p.house_code, "indicator": p.indicator, "date": today,
            "agency": "33-pho", "activity": "ซ่อมบ้าน", "status": "SOLVED"}}),
    )
    .await;
    assert!(v["errors"].is_null(), "{v}");
    let sql = |t: &str| format!("SELECT COUNT(*) FROM {t} WHERE village_code = '{village}'");
    assert_eq!(app.count(&sql("stats_dirty")).await, 1, "the village waits");
    assert_eq!(
        app.count(&sql("stats_cells")).await,
        0,
        "no difference added"
    );
    let counted = api::service::stats::count_waiting(&app.db)
        .await
        .expect("count");
    assert_eq!(counted, 1);
    assert!(app.count(&sql("stats_cells")).await > 0);
    cells_agree(&app, "after counting the village again").await;
}

async fn a_village_marked_again_while_it_is_counted_stays_marked(app: TestApp) {
    seeded(&app, 20, 17).await;
    let open: (i32, String) = {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT id, house_code FROM problems WHERE status <> 'solved' ORDER BY id LIMIT 1",
            ))
            .await
            .expect("query")
            .expect("an open problem");
        (
            row.try_get_by_index(0).expect("id"),
            row.try_get_by_index(1).expect("house"),
        )
    };
    // the village waits, as an import that was not yet counted leaves it
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO stats_dirty (village_code, district_code, province_code) \
             SELECT village_code, district_code, province_code FROM households WHERE house_code = '{}'",
            open.1
        ))
        .await
        .expect("marked");
    // an import writing there: it solves the problem and marks the village again, and has
    // not committed when a count starts
    let backend = app.db.get_database_backend();
    let mut tx = entity::db::WriteTx::begin(&app.db).await.expect("begin");
    tx.stamp(&app.db).await.expect("stamp");
    tx.execute(
        &format!(
            "UPDATE problems SET status = 'solved' WHERE id = {}",
            open.0
        ),
        &[],
    )
    .await
    .expect("update");
    for (sql, v) in entity::stats_dirty::mark_statements(backend, std::slice::from_ref(&open.1)) {
        tx.execute(&sql, &[v]).await.expect("mark");
    }
    let db = app.db.clone();
    let count = tokio::spawn(async move { api::service::stats::count_waiting(&db).await });
    if backend == sea_orm::DbBackend::Postgres {
        // the count reads the mark as committed before, counts without the import's change,
        // and waits to clear that mark
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    tx.commit().await.expect("commit");
    assert_eq!(count.await.expect("task").expect("count"), 1);
    // the import's mark is the next generation: still waiting when the count read the one
    // before it, cleared when it read this one (SQLite's count waits for the commit)
    let again = api::service::stats::count_waiting(&app.db)
        .await
        .expect("count");
    assert!(again <= 1, "{again}");
    cells_agree(&app, "after the village marked again is counted").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM problems WHERE id = {} AND status = 'solved'",
            open.0
        ))
        .await,
        1
    );
}

async fn a_count_leaves_a_district_being_imported_for_the_next_count(app: TestApp) {
    seeded(&app, 15, 18).await;
    app.db
        .execute_unprepared(
            "INSERT INTO stats_dirty (village_code, district_code, province_code) \
             SELECT village_code, MIN(district_code), MIN(province_code) FROM households \
             GROUP BY village_code",
        )
        .await
        .expect("marked");
    let waiting = app.count("SELECT COUNT(*) FROM stats_dirty").await;
    assert!(waiting > 0);
    // an import of 3318 is writing: it holds the district
    let mut tx = entity::db::WriteTx::begin(&app.db).await.expect("begin");
    tx.stamp(&app.db).await.expect("stamp");
    tx.lock_districts(&["3318".to_string()])
        .await
        .expect("district");
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // the count neither waits for it nor counts under it
        let counted = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            api::service::stats::count_waiting(&app.db),
        )
        .await
        .expect("a count waits for no import")
        .expect("count");
        assert_eq!(counted, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM stats_dirty").await, waiting);
    }
    tx.commit().await.expect("commit");
    let counted = api::service::stats::count_waiting(&app.db)
        .await
        .expect("count");
    assert_eq!(
        counted, waiting as u64,
        "every village once the import is done"
    );
    cells_agree(&app, "after the count").await;
}

on_both_databases!(
    a_count_leaves_a_district_being_imported_for_the_next_count,
    a_village_marked_again_while_it_is_counted_stays_marked,
    stats_cells_equal_a_count_from_the_whole_tables_after_every_write,
    stats_with_a_filter_a_day_or_overdue_count_from_the_whole_tables,
    a_write_on_cells_that_disagree_leaves_its_village_to_be_counted_again,
);
