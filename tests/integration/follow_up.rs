//! Follow-up: the worklist's order (urgent, then the longest overdue, then not started) and
//! the overdue rule on fixed days; a next visit checked and carried to its problem; urgency
//! and closure kept by districts and admins only, a closed household out of the open work
//! and counted apart in `stats`; on both databases.

use crate::helpers::{TestApp, dataset, error_code as code, gql, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use chrono::{Days, NaiveDate};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const RECORD: &str =
    "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id nextVisitOn } }";
const WORKLIST: &str = "query($o: Boolean, $u: Boolean) { worklist(first: 100, overdue: $o, urgent: $u) { edges { node { urgent urgentReason dueOn overdue daysOverdue problem { id houseCode status nextVisitOn } } } pageInfo { hasNextPage } } }";
const STATS: &str = "{ stats(groupBy: []) { problems households overdueProblems closedHouseholds urgentHouseholds } }";

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The app as it runs on `day`.
fn on(app: &TestApp, day: NaiveDate) -> axum::Router {
    app.http_with(api::HttpConfig {
        today: Some(day),
        ..Default::default()
    })
}

/// Problems of `ds`, one per household, as `recordAssistance` input.
fn inputs(ds: &importer::generate::Dataset) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    ds.problems
        .iter()
        .filter(|p| seen.insert(p.house_code.clone()))
        .map(|p| {
            json!({"houseCode": p.house_code, "indicator": p.indicator, "citizenId": p.citizen_id,
                "activity": "เยี่ยมบ้าน", "agency": "33-pho"})
        })
        .collect()
}

fn with(input: &Value, extra: Value) -> Value {
    let mut v = input.clone();
    for (k, x) in extra.as_object().expect("an object") {
        v[k] = x.clone();
    }
    v
}

async fn problem_id(app: &TestApp, input: &Value) -> i64 {
    let person = input["citizenId"].as_str().unwrap_or("");
    app.count(&format!(
        "SELECT CAST(MAX(id) AS BIGINT) FROM problems WHERE house_code = '{}' AND indicator_code = {} AND person_key = '{person}'",
        input["houseCode"].as_str().expect("code"),
        input["indicator"]
    ))
    .await
}

fn ids(v: &Value) -> Vec<i64> {
    v["data"]["worklist"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| e["node"]["problem"]["id"].as_i64().expect("id"))
        .collect()
}

async fn the_worklist_puts_urgent_first_then_the_longest_overdue_then_not_started(app: TestApp) {
    let ds = dataset(25, 51);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let district = app.key(KeyScope::District("3318".into())).await;
    let t = today();
    let day = |n: u64| (t + Days::new(n)).to_string();
    let now = on(&app, t + Days::new(10));
    let houses = inputs(&ds);
    let (a, b, c, e) = (&houses[0], &houses[1], &houses[2], &houses[4]);

    // a next visit is on or after the help, within two years
    for (next, why) in [
        ((t - Days::new(1)).to_string(), "before the help"),
        ((t + Days::new(800)).to_string(), "too far ahead"),
        ("31/02/2570".into(), "not a date"),
    ] {
        let v = gql(&now, &district, RECORD, json!({"i": with(a, json!({"date": t.to_string(), "status": "FOLLOWING_UP", "nextVisitOn": next}))})).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{why}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], "nextVisitOn", "{v}");
    }

    // A is due in 5 days, B in 8, C in 15; E is solved; D's household is urgent
    for (input, next, status) in [
        (a, Some(day(5)), "FOLLOWING_UP"),
        (b, Some(day(8)), "AWAITING_FOLLOW_UP"),
        (c, Some(day(15)), "FOLLOWING_UP"),
        (e, None, "SOLVED"),
    ] {
        let v = gql(
            &now,
            &district,
            RECORD,
            json!({"i": with(input, json!({"date": t.to_string(), "status": status, "nextVisitOn": next}))}),
        )
        .await;
        assert_eq!(
            v["data"]["recordAssistance"]["nextVisitOn"],
            json!(next),
            "{v}"
        );
    }
    // D: a household with a problem not started, not one of the above
    let taken: Vec<String> = [a, b, c, e]
        .iter()
        .map(|i| format!("'{}'", i["houseCode"].as_str().expect("code")))
        .collect();
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!(
                "SELECT house_code FROM problems WHERE status = 'not_started' AND house_code NOT IN ({}) ORDER BY id",
                taken.join(",")
            ),
        ))
        .await
        .expect("query");
    let d_house: String = rows[0].try_get_by_index(0).expect("a house");
    let d = &json!({"houseCode": d_house});
    let v = gql(
        &now,
        &district,
        "mutation($h: String!) { setUrgent(houseCode: $h, urgent: true, reason: \"ผู้ป่วยติดเตียง\") { urgent urgentReason } }",
        json!({"h": d["houseCode"]}),
    )
    .await;
    assert_eq!(v["data"]["setUrgent"]["urgent"], true, "{v}");
    let (pa, pb, pc, pe) = (
        problem_id(&app, a).await,
        problem_id(&app, b).await,
        problem_id(&app, c).await,
        problem_id(&app, e).await,
    );

    // ten days on: urgent D first, then A (5 days overdue), then B (2 days)
    let v = gql(&now, &district, WORKLIST, json!({})).await;
    let edges = v["data"]["worklist"]["edges"].as_array().expect("edges");
    let list = ids(&v);
    let urgent: Vec<&Value> = edges
        .iter()
        .take_while(|e| e["node"]["urgent"] == true)
        .collect();
    assert!(!urgent.is_empty(), "{v}");
    assert!(
        urgent
            .iter()
            .all(|e| e["node"]["problem"]["houseCode"] == d["houseCode"]
                && e["node"]["urgentReason"] == "ผู้ป่วยติดเตียง")
    );
    let after_urgent: Vec<&Value> = edges[urgent.len()..].iter().collect();
    // the overdue next, the longest overdue first (the workbook planned visits too)
    let overdue_n = after_urgent
        .iter()
        .take_while(|e| e["node"]["overdue"] == true)
        .count();
    assert!(
        after_urgent[overdue_n..]
            .iter()
            .all(|e| e["node"]["overdue"] == false)
    );
    let dues: Vec<&str> = after_urgent[..overdue_n]
        .iter()
        .map(|e| e["node"]["dueOn"].as_str().expect("a due day"))
        .collect();
    assert!(
        dues.windows(2).all(|w| w[0] <= w[1]),
        "longest overdue first: {dues:?}"
    );
    let pos = |id: i64| {
        after_urgent
            .iter()
            .position(|e| e["node"]["problem"]["id"] == id)
            .expect("on the list")
    };
    assert!(pos(pa) < pos(pb) && pos(pb) < overdue_n, "{v}");
    let node = |id: i64| after_urgent[pos(id)]["node"].clone();
    assert_eq!(node(pa)["daysOverdue"], 5);
    assert_eq!(node(pa)["dueOn"], day(5));
    assert_eq!(node(pb)["daysOverdue"], 2);
    assert_eq!(node(pc)["overdue"], false);
    assert!(!list.contains(&pe), "a solved problem is not open work");
    // then those not started (not yet overdue: recorded today, due in 30 days), then the rest
    let rest = &after_urgent[overdue_n..];
    let first_other = rest
        .iter()
        .position(|e| e["node"]["problem"]["status"] != "NOT_STARTED")
        .unwrap_or(rest.len());
    assert!(
        rest[first_other..]
            .iter()
            .all(|e| e["node"]["problem"]["status"] != "NOT_STARTED"),
        "not started ones come together, before the others: {v}"
    );
    // what is overdue, counted apart from the rule's code
    let followed_up_overdue = |day: NaiveDate| {
        format!(
            "SELECT COUNT(*) FROM problems WHERE status IN ('awaiting_follow_up', 'following_up') AND next_visit_on < '{day}'"
        )
    };
    let expected = app.count(&followed_up_overdue(t + Days::new(10))).await;
    assert!(expected >= 2);
    let v = gql(&now, &district, WORKLIST, json!({"o": true})).await;
    let only = ids(&v);
    assert_eq!(only.len() as i64, expected, "only the overdue: {v}");
    assert!(only.contains(&pa) && only.contains(&pb) && !only.contains(&pc));
    let v = gql(&now, &district, WORKLIST, json!({"u": true})).await;
    assert_eq!(ids(&v).len(), urgent.len());
    let v = gql(&now, &district, STATS, json!({})).await;
    assert_eq!(v["data"]["stats"][0]["overdueProblems"], expected, "{v}");
    assert_eq!(v["data"]["stats"][0]["urgentHouseholds"], 1, "{v}");
    assert_eq!(v["data"]["stats"][0]["closedHouseholds"], 0, "{v}");

    // forty days on, every problem not started is overdue too, and C
    let later = on(&app, t + Days::new(40));
    let not_started = app
        .count("SELECT COUNT(*) FROM problems WHERE status = 'not_started'")
        .await;
    assert!(not_started > 0);
    let v = gql(&later, &district, STATS, json!({})).await;
    assert_eq!(
        v["data"]["stats"][0]["overdueProblems"],
        not_started + app.count(&followed_up_overdue(t + Days::new(40))).await,
        "{v}"
    );

    // the problem carries its latest entry's next visit; a later one without clears it
    let v = gql(
        &now,
        &district,
        "query($h: String!) { household(houseCode: $h) { followUp { urgent } problems { id nextVisitOn overdue dueOn } } }",
        json!({"h": a["houseCode"]}),
    )
    .await;
    let p = v["data"]["household"]["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .find(|p| p["id"] == pa)
        .expect("A")
        .clone();
    assert_eq!(p["nextVisitOn"], day(5));
    assert_eq!(p["overdue"], true);
    assert!(v["data"]["household"]["followUp"].is_null(), "{v}");
    let v = gql(
        &now,
        &district,
        RECORD,
        json!({"i": with(a, json!({"date": t.to_string(), "status": "FOLLOWING_UP", "activity": "โทรติดตาม"}))}),
    )
    .await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    assert!(
        app.count(&format!(
            "SELECT COUNT(*) FROM problems WHERE id = {pa} AND next_visit_on IS NULL"
        ))
        .await
            == 1
    );
}

async fn a_closed_household_leaves_the_open_work_and_is_counted_apart(app: TestApp) {
    let ds = dataset(15, 52);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let agency = app.key(KeyScope::Agency("33-pho".into())).await;
    let now = on(&app, today());
    let houses = inputs(&ds);
    let (h, other) = (
        houses[0]["houseCode"].as_str().expect("code"),
        houses[1]["houseCode"].as_str().expect("code"),
    );
    const CLOSE: &str = "mutation($i: CloseHouseholdInput!) { closeHousehold(input: $i) { closedReason closedOn closedNote mergedInto } }";
    let close = |extra: Value| json!({"i": with(&json!({"houseCode": h, "on": today().to_string()}), extra)});

    for (input, field) in [
        (close(json!({"reason": "OTHER"})), "note"),
        (close(json!({"reason": "MERGED_INTO"})), "mergedInto"),
        (
            close(json!({"reason": "MERGED_INTO", "mergedInto": h})),
            "mergedInto",
        ),
        (
            close(json!({"reason": "MERGED_INTO", "mergedInto": "33189999999"})),
            "mergedInto",
        ),
        (
            close(json!({"reason": "DIED", "on": (today() + Days::new(1)).to_string()})),
            "on",
        ),
        (
            close(json!({"reason": "DIED", "houseCode": "123"})),
            "houseCode",
        ),
    ] {
        let v = gql(&now, &district, CLOSE, input.clone()).await;
        assert_eq!(code(&v), "BAD_USER_INPUT", "{input}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["field"], field, "{v}");
    }
    let v = gql(&now, &agency, CLOSE, close(json!({"reason": "DIED"}))).await;
    assert_eq!(
        code(&v),
        "FORBIDDEN",
        "agencies do not close households: {v}"
    );
    let v = gql(
        &now,
        &district,
        CLOSE,
        close(json!({"reason": "DIED", "houseCode": "33189999999"})),
    )
    .await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");

    let before = gql(&now, &district, STATS, json!({})).await;
    let seq_sql = format!("SELECT change_seq FROM households WHERE house_code = '{h}'");
    let seq_before = app.count(&seq_sql).await;
    let v = gql(
        &now,
        &district,
        CLOSE,
        close(json!({"reason": "MERGED_INTO", "mergedInto": other, "note": "รวมกับบ้านญาติ"})),
    )
    .await;
    assert_eq!(
        v["data"]["closeHousehold"]["closedReason"], "MERGED_INTO",
        "{v}"
    );
    assert_eq!(v["data"]["closeHousehold"]["mergedInto"], other);
    assert!(
        app.count(&seq_sql).await > seq_before,
        "the household's record changed for the feed"
    );
    let v = gql(&now, &district, WORKLIST, json!({})).await;
    let open = v["data"]["worklist"]["edges"].as_array().expect("edges");
    assert!(
        open.iter().all(|e| e["node"]["problem"]["houseCode"] != h),
        "a closed household is not open work"
    );
    let after = gql(&now, &district, STATS, json!({})).await;
    assert_eq!(after["data"]["stats"][0]["closedHouseholds"], 1, "{after}");
    assert_eq!(
        after["data"]["stats"][0]["households"], before["data"]["stats"][0]["households"],
        "its history stays counted"
    );
    let v = gql(&now, &district, CLOSE, close(json!({"reason": "DIED"}))).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "already closed: {v}");
    let v = gql(
        &now,
        &district,
        "query($h: String!) { household(houseCode: $h) { followUp { closedReason closedNote updatedBy } } }",
        json!({"h": h}),
    )
    .await;
    assert_eq!(
        v["data"]["household"]["followUp"]["closedNote"], "รวมกับบ้านญาติ",
        "{v}"
    );

    const REOPEN: &str =
        "mutation($h: String!) { reopenHousehold(houseCode: $h) { closedReason } }";
    let v = gql(&now, &district, REOPEN, json!({"h": h})).await;
    assert!(
        v["data"]["reopenHousehold"]["closedReason"].is_null(),
        "{v}"
    );
    let v = gql(&now, &district, REOPEN, json!({"h": h})).await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "not closed: {v}");
    let v = gql(&now, &district, WORKLIST, json!({})).await;
    assert_eq!(
        v["data"]["worklist"]["edges"]
            .as_array()
            .expect("edges")
            .len(),
        open.len()
            + app
                .count(&format!(
                    "SELECT COUNT(*) FROM problems WHERE house_code = '{h}' AND status <> 'solved'"
                ))
                .await as usize,
        "back on the list"
    );
    let v = gql(
        &now,
        &district,
        "mutation($h: String!) { setUrgent(houseCode: $h, urgent: true) { urgent } }",
        json!({"h": h}),
    )
    .await;
    assert_eq!(code(&v), "BAD_USER_INPUT", "urgent needs a reason: {v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'household.%'")
            .await,
        2,
        "the closure and the reopening are audited"
    );
}

async fn a_workbook_plans_next_visits_and_refuses_impossible_ones(app: TestApp) {
    use importer::workbook::SheetKind;
    let mut ds = dataset(20, 53);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let planned = ds
        .entries
        .iter()
        .filter(|e| e.next_visit_on().is_some())
        .count() as i64;
    assert!(planned > 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries WHERE next_visit_on IS NOT NULL")
            .await,
        planned
    );
    // a followed-up problem carries its latest entry's next visit; no other does
    assert_eq!(
        app.count("SELECT COUNT(*) FROM problems WHERE status IN ('awaiting_follow_up', 'following_up') AND next_visit_on IS NULL").await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM problems WHERE status NOT IN ('awaiting_follow_up', 'following_up') AND next_visit_on IS NOT NULL").await,
        0
    );
    let before = ds.entries[0].date - Days::new(1);
    ds.set_raw(
        SheetKind::Assistance,
        0,
        "next_visit_on",
        format!(
            "{}/{:02}/{}",
            chrono::Datelike::day(&before),
            chrono::Datelike::month(&before),
            chrono::Datelike::year(&before) + 543
        ),
    );
    ds.set_raw(SheetKind::Assistance, 1, "next_visit_on", "1/01/2600");
    let w = render(&ds, false, false);
    let r = app.import("bad.xlsx", w.bytes.clone()).await;
    assert_eq!(r.status.as_str(), "rejected");
    for (index, code) in [(0, "date_before"), (1, "date_too_far")] {
        let row = w.row(SheetKind::Assistance, index);
        let e = r
            .errors
            .iter()
            .find(|e| {
                e.sheet == Some(SheetKind::Assistance) && e.row == Some(row) && e.code == code
            })
            .unwrap_or_else(|| panic!("{code} at row {row}: {:#?}", r.errors));
        assert!(
            e.column.as_deref().is_some_and(|c| c.contains("นัดเยี่ยม")),
            "{e:?}"
        );
    }
}

async fn the_monthly_report_counts_follow_up_per_district(app: TestApp) {
    use calamine::{Data, Reader, open_workbook_auto_from_rs};
    let ds = dataset(20, 54);
    app.import("d.xlsx", render(&ds, false, false).bytes).await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let now = on(&app, today());
    let houses = inputs(&ds);
    let (closed, urgent) = (
        houses[0]["houseCode"].as_str().expect("code"),
        houses[1]["houseCode"].as_str().expect("code"),
    );
    let v = gql(
        &now,
        &district,
        "mutation($i: CloseHouseholdInput!) { closeHousehold(input: $i) { closedReason } }",
        json!({"i": {"houseCode": closed, "reason": "MOVED_AWAY", "on": today().to_string()}}),
    )
    .await;
    assert_eq!(
        v["data"]["closeHousehold"]["closedReason"], "MOVED_AWAY",
        "{v}"
    );
    let v = gql(
        &now,
        &district,
        "mutation($h: String!) { setUrgent(houseCode: $h, urgent: true, reason: \"เด็กขาดสารอาหาร\") { urgent } }",
        json!({"h": urgent}),
    )
    .await;
    assert_eq!(v["data"]["setUrgent"]["urgent"], true, "{v}");
    let month = today().format("%Y-%m").to_string();
    let last = api::service::reports::Month::parse(&month)
        .expect("a month")
        .last_day();
    let (status, _, bytes) = app
        .get(
            &format!("/reports/monthly.xlsx?month={month}"),
            Some(&district),
        )
        .await;
    assert_eq!(status, 200);
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx");
    let sheet = wb
        .worksheet_range("การติดตามรายอำเภอ")
        .expect("the follow-up sheet");
    let row: Vec<String> = (0..=sheet.end().expect("cells").0)
        .map(|r| {
            (0..6)
                .map(|c| match sheet.get_value((r, c)) {
                    Some(Data::Float(f)) => format!("{f}"),
                    Some(d) => d.to_string(),
                    None => String::new(),
                })
                .collect::<Vec<_>>()
        })
        .find(|r| r[0] == "3318")
        .expect("a row for 3318");
    let households = app
        .count("SELECT COUNT(DISTINCT house_code) FROM problems")
        .await;
    let overdue = app
        .count(&format!(
            "SELECT COUNT(*) FROM problems WHERE status IN ('awaiting_follow_up', 'following_up') AND next_visit_on < '{last}' AND house_code <> '{closed}'"
        ))
        .await;
    assert!(
        overdue > 0,
        "the generated workbook plans visits in the past"
    );
    assert_eq!(
        row[2..],
        [
            households.to_string(),
            "1".to_string(),
            "1".to_string(),
            overdue.to_string()
        ],
        "{row:?}"
    );
}

on_both_databases!(
    the_monthly_report_counts_follow_up_per_district,
    a_workbook_plans_next_visits_and_refuses_impossible_ones,
    the_worklist_puts_urgent_first_then_the_longest_overdue_then_not_started,
    a_closed_household_leaves_the_open_work_and_is_counted_apart,
);
