//! The provincial programme: poverty funds (capital, grants, loans, repayments, arrears on
//! fixed dates), who may keep and see them, the fund report workbook, and the fund a
//! logbook entry's text names; on both databases.

use crate::helpers::{TestApp, dataset, error_code as code, gql, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use serde_json::{Value, json};

const CREATE: &str = "mutation($a: String!, $n: String!) { createFund(input: {area: $a, name: $n, established: \"1/10/2564\"}) { id name level areaCode establishedOn } }";
const RECORD: &str = "mutation($i: FundMovementInput!) { recordFundMovement(input: $i) { id kind date amount houseCode problemId loanId termMonths everyMonths recordedBy } }";
const POSITION: &str = "query($id: Int!, $d: String) { fund(id: $id) { position(asOf: $d) { asOf capital granted grants lent loans repaid writtenOff balance outstanding arrears loansInArrears } } }";

/// A household with a health problem (indicators 1–4) and no education problem (9–12), and
/// one of its health problems: the health agency sees it, the education agency does not.
async fn health_household(app: &TestApp) -> (String, i64) {
    let id = app
        .count(
            "SELECT CAST(MIN(p.id) AS BIGINT) FROM problems p WHERE p.indicator_code BETWEEN 1 AND 4 \
             AND p.house_code NOT IN (SELECT house_code FROM problems WHERE indicator_code BETWEEN 9 AND 12)",
        )
        .await;
    let house = app
        .count(&format!(
            "SELECT CAST(house_code AS BIGINT) FROM problems WHERE id = {id}"
        ))
        .await;
    (format!("{house:011}"), id)
}

fn data<'a>(v: &'a Value, field: &str) -> &'a Value {
    let d = &v["data"][field];
    assert!(!d.is_null(), "{v}");
    d
}

fn field(v: &Value) -> &str {
    v["errors"][0]["extensions"]["field"].as_str().unwrap_or("")
}

async fn funds_keep_capital_grants_loans_and_arrears(app: TestApp) {
    let ds = dataset(20, 71);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let education = app.key(KeyScope::Agency("33-edu".into())).await;
    let (house, problem) = health_household(&app).await;
    let other_problem = app
        .count(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM problems WHERE house_code <> '{house}'"
        ))
        .await;

    // who may create which fund
    let v = gql(&http, &health, CREATE, json!({"a": "3318", "n": "x"})).await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = gql(&http, &district, CREATE, json!({"a": "33", "n": "x"})).await;
    assert_eq!(
        code(&v),
        "FORBIDDEN",
        "a district keeps no provincial fund: {v}"
    );
    let v = gql(&http, &admin, CREATE, json!({"a": "331801", "n": "x"})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "area"), "{v}");
    let v = gql(&http, &admin, CREATE, json!({"a": "33", "n": "  "})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "name"), "{v}");
    let v = gql(
        &http,
        &admin,
        CREATE,
        json!({"a": "33", "n": "กองทุนแก้ไขปัญหาความยากจนจังหวัดศรีสะเกษ"}),
    )
    .await;
    let provincial = data(&v, "createFund")["id"].as_i64().expect("id");
    assert_eq!(data(&v, "createFund")["level"], "PROVINCE");
    assert_eq!(data(&v, "createFund")["establishedOn"], "2021-10-01");
    let v = gql(
        &http,
        &district,
        CREATE,
        json!({"a": "3318", "n": "กองทุนขจัดความยากจนอำเภอ"}),
    )
    .await;
    let fund = data(&v, "createFund")["id"].as_i64().expect("id");
    assert_eq!(data(&v, "createFund")["level"], "DISTRICT");
    let v = gql(
        &http,
        &admin,
        CREATE,
        json!({"a": "3318", "n": "กองทุนขจัดความยากจนอำเภอ"}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "name"), "{v}");

    let record = |input: Value| {
        let http = http.clone();
        let key = district.clone();
        async move { gql(&http, &key, RECORD, json!({ "i": input })).await }
    };
    // nothing to give before capital comes in
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2021-11-01", "amount": 3000, "houseCode": house})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "amount"), "{v}");
    let v =
        record(json!({"fundId": fund, "kind": "CAPITAL", "date": "2021-10-01", "amount": 100000}))
            .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "source"), "{v}");
    let v = record(json!({"fundId": fund, "kind": "CAPITAL", "date": "1/10/2564", "amount": 100000, "source": "งบประมาณจังหวัด", "houseCode": house})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "houseCode"),
        "{v}"
    );
    let v = record(json!({"fundId": fund, "kind": "CAPITAL", "date": "1/10/2564", "amount": 100000, "source": "งบประมาณจังหวัด"})).await;
    assert_eq!(data(&v, "recordFundMovement")["date"], "2021-10-01");
    for (bad, f) in [(0.0, "amount"), (-5.0, "amount"), (10.001, "amount")] {
        let v = record(json!({"fundId": fund, "kind": "CAPITAL", "date": "2021-10-02", "amount": bad, "source": "x"})).await;
        assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", f), "{bad}: {v}");
    }
    let v = record(json!({"fundId": fund, "kind": "CAPITAL", "date": "2031-10-02", "amount": 5, "source": "x"})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "date"), "{v}");
    // the district keeps its fund, not the province's
    let v = record(json!({"fundId": provincial, "kind": "CAPITAL", "date": "2021-10-01", "amount": 5, "source": "x"})).await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");

    // a grant for a problem of that household, and a loan of 12,000 over 12 months
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2021-11-01", "amount": 3000, "houseCode": house, "problemId": other_problem})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "problemId"),
        "{v}"
    );
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2021-11-01", "amount": 3000, "houseCode": "33180199999"})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2021-11-01", "amount": 3000, "houseCode": house, "problemId": problem})).await;
    let grant = data(&v, "recordFundMovement");
    assert_eq!(
        (
            grant["kind"].as_str(),
            grant["amount"].as_f64(),
            grant["problemId"].as_i64()
        ),
        (Some("GRANT"), Some(3000.0), Some(problem))
    );
    assert!(
        grant["recordedBy"]
            .as_str()
            .is_some_and(|b| b.starts_with("district:3318"))
    );
    let v = record(json!({"fundId": fund, "kind": "LOAN", "date": "2021-11-01", "amount": 12000, "houseCode": house})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "termMonths"),
        "{v}"
    );
    let v = record(json!({"fundId": fund, "kind": "LOAN", "date": "2021-11-01", "amount": 12000, "houseCode": house, "termMonths": 12, "everyMonths": 5})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "everyMonths"),
        "{v}"
    );
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2021-11-01", "amount": 5, "houseCode": house, "termMonths": 12})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "termMonths"),
        "{v}"
    );
    let v = record(json!({"fundId": fund, "kind": "LOAN", "date": "2021-11-01", "amount": 12000, "houseCode": house, "termMonths": 12})).await;
    let loan = data(&v, "recordFundMovement")["id"].as_i64().expect("id");
    assert_eq!(data(&v, "recordFundMovement")["everyMonths"], 1);

    // repayments: of the loan, after it, not more than owed
    let v =
        record(json!({"fundId": fund, "kind": "REPAYMENT", "date": "2021-12-01", "amount": 1000}))
            .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "loanId"), "{v}");
    let v = record(json!({"fundId": fund, "kind": "REPAYMENT", "date": "2021-10-15", "amount": 1000, "loanId": loan})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "date"), "{v}");
    let v = record(json!({"fundId": fund, "kind": "REPAYMENT", "date": "2021-12-01", "amount": 12000.01, "loanId": loan})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "amount"), "{v}");
    let v = record(json!({"fundId": fund, "kind": "REPAYMENT", "date": "2021-12-01", "amount": 1000, "loanId": 999999})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = record(json!({"fundId": fund, "kind": "REPAYMENT", "date": "2021-12-01", "amount": 1000, "loanId": loan})).await;
    let repayment = data(&v, "recordFundMovement");
    assert_eq!(
        repayment["houseCode"].as_str(),
        Some(house.as_str()),
        "a repayment is the borrower's"
    );
    let repayment = repayment["id"].as_i64().expect("id");
    // 100,000 − 3,000 − 12,000 + 1,000 = 86,000 in the fund: 90,000 is refused
    let v = record(json!({"fundId": fund, "kind": "GRANT", "date": "2022-01-05", "amount": 90000, "houseCode": house})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "amount"), "{v}");

    // the position on fixed dates
    let pos = |day: &'static str, key: String| {
        let http = http.clone();
        async move {
            let v = gql(&http, &key, POSITION, json!({"id": fund, "d": day})).await;
            v["data"]["fund"]["position"].clone()
        }
    };
    let p = pos("2021-09-30", district.clone()).await;
    assert_eq!(
        (p["capital"].as_f64(), p["balance"].as_f64()),
        (Some(0.0), Some(0.0)),
        "{p}"
    );
    let p = pos("2021-12-31", district.clone()).await;
    assert_eq!(
        p,
        json!({"asOf": "2021-12-31", "capital": 100000.0, "granted": 3000.0, "grants": 1, "lent": 12000.0,
               "loans": 1, "repaid": 1000.0, "writtenOff": 0.0, "balance": 86000.0,
               "outstanding": 11000.0, "arrears": 0.0, "loansInArrears": 0})
    );
    // 1 Jan and 1 Feb 2022 due and not paid
    let p = pos("1/2/2565", district.clone()).await;
    assert_eq!(
        (
            p["arrears"].as_f64(),
            p["loansInArrears"].as_i64(),
            p["outstanding"].as_f64()
        ),
        (Some(2000.0), Some(1), Some(11000.0)),
        "{p}"
    );
    let v = gql(
        &http,
        &district,
        POSITION,
        json!({"id": fund, "d": "31/2/2565"}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "asOf"), "{v}");
    let loan_q = "query($id: Int!) { fund(id: $id) { movements { id kind loan(asOf: \"2022-02-01\") { due arrears outstanding nextDue { dueOn amount } schedule { dueOn amount } } } } }";
    let v = gql(&http, &district, loan_q, json!({"id": fund})).await;
    let ms = data(&v, "fund")["movements"]
        .as_array()
        .expect("movements")
        .clone();
    assert_eq!(ms.len(), 4, "{v}");
    let l = ms.iter().find(|m| m["kind"] == "LOAN").expect("the loan")["loan"].clone();
    assert_eq!(
        (l["due"].as_f64(), l["arrears"].as_f64()),
        (Some(3000.0), Some(2000.0)),
        "{l}"
    );
    assert_eq!(
        l["nextDue"],
        json!({"dueOn": "2022-03-01", "amount": 1000.0})
    );
    assert_eq!(l["schedule"].as_array().map(Vec::len), Some(12));
    assert!(
        ms.iter()
            .filter(|m| m["kind"] != "LOAN")
            .all(|m| m["loan"].is_null())
    );

    // agencies see the funds and their figures; grants and loans only on households they see
    let list = "{ funds { id name level } }";
    let v = gql(&http, &health, list, json!({})).await;
    assert_eq!(data(&v, "funds").as_array().map(Vec::len), Some(2), "{v}");
    let mq = "query($id: Int!) { fund(id: $id) { movements { kind houseCode } } }";
    let kinds = |v: &Value| -> Vec<String> {
        v["data"]["fund"]["movements"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|m| m["kind"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        kinds(&gql(&http, &health, mq, json!({"id": fund})).await),
        ["CAPITAL", "GRANT", "LOAN", "REPAYMENT"]
    );
    assert_eq!(
        kinds(&gql(&http, &education, mq, json!({"id": fund})).await),
        ["CAPITAL"],
        "the education agency does not see the household"
    );
    let hf = "query($h: String!) { householdFunding(houseCode: $h) { kind amount } }";
    let v = gql(&http, &health, hf, json!({"h": house})).await;
    assert_eq!(
        data(&v, "householdFunding").as_array().map(Vec::len),
        Some(3),
        "{v}"
    );
    let v = gql(&http, &education, hf, json!({"h": house})).await;
    assert_eq!(data(&v, "householdFunding"), &json!([]), "{v}");
    // the education agency's figures are the fund's (sums, not rows)
    let p = pos("2021-12-31", education.clone()).await;
    assert_eq!(p["balance"].as_f64(), Some(86000.0), "{p}");

    // the fund report, as of a day
    let (status, ct, body) = app
        .get("/reports/funds.xlsx?asOf=2022-02-01", Some(&admin))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let sheet = read_sheet(&body, "กองทุน");
    let row = sheet
        .iter()
        .find(|r| r.get(3).map(String::as_str) == Some("กองทุนขจัดความยากจนอำเภอ"))
        .unwrap_or_else(|| panic!("{sheet:?}"));
    // capital, grants, granted, loans, lent, repaid, written off, outstanding, arrears,
    // loans in arrears, balance
    assert_eq!(
        row[4..15],
        [
            "100000", "1", "3000", "1", "12000", "1000", "0", "11000", "2000", "1", "86000"
        ]
    );
    assert_eq!(sheet.last().map(|r| r[0].as_str()), Some("รวม 2 กองทุน"));
    let per_district = read_sheet(&body, "รายอำเภอ");
    assert!(
        per_district
            .iter()
            .any(|r| r.first().map(String::as_str) == Some("3318") && r[2] == "1"),
        "{per_district:?}"
    );
    let (status, _, body) = app
        .get("/reports/funds.xlsx?asOf=tomorrow", Some(&admin))
        .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = app.get("/reports/funds.xlsx", None).await;
    assert_eq!(status, 401);

    // mistakes are removed, in order, by who keeps the fund
    let remove = "mutation($id: Int!) { removeFundMovement(id: $id) }";
    let v = gql(&http, &health, remove, json!({"id": repayment})).await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = gql(&http, &district, remove, json!({"id": loan})).await;
    assert_eq!(
        code(&v),
        "BAD_USER_INPUT",
        "a loan with repayments stays: {v}"
    );
    let capital = app
        .count(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM fund_movements WHERE fund_id = {fund} AND kind = 'capital'"
        ))
        .await;
    let v = gql(&http, &district, remove, json!({"id": capital})).await;
    assert_eq!(
        code(&v),
        "BAD_USER_INPUT",
        "the grants were paid from it: {v}"
    );
    for id in [repayment, loan] {
        let v = gql(&http, &district, remove, json!({"id": id})).await;
        assert_eq!(v["data"]["removeFundMovement"], true, "{v}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM fund_movements WHERE fund_id = {fund}"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'fund.%'")
            .await,
        // two funds, capital, grant, loan, repayment, two removals
        8
    );
}

/// The cells of one sheet of a workbook, as text (numbers without a trailing .0).
fn read_sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let range = wb.worksheet_range(name).expect("sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    calamine::Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

async fn entries_name_their_fund(app: TestApp) {
    app.load_builtin_areas().await;
    let op = api::service::agencies::operator();
    let create = |area: &str, name: &str| api::service::funds::FundInput {
        area: area.into(),
        name: name.into(),
        established: None,
        note: None,
    };
    // spaces and a missing กองทุน do not matter
    let fund =
        api::service::funds::create(&app.db, &op, create("3318", "กองทุน ขจัดความยากจน อำเภอ"))
            .await
            .expect("fund");
    let ds = dataset(20, 72);
    let bytes = render(&ds, false, false).bytes;
    let r = app.import("d.xlsx", bytes.clone()).await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    let with_text = app
        .count("SELECT COUNT(*) FROM logbook_entries WHERE fund IS NOT NULL")
        .await;
    assert!(with_text > 0, "the generated entries name a fund");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM logbook_entries WHERE fund_id = {}",
            fund.id
        ))
        .await,
        with_text
    );
    assert!(r.warnings.iter().all(|w| w.code.as_str() != "unknown_fund"));

    // another province keeps no fund here: the text stays, with no warning; in a province
    // that keeps funds, text naming none of them is a warning on its cell
    let other = if app.url.starts_with("postgres") {
        TestApp::postgres().await
    } else {
        TestApp::sqlite().await
    };
    other.load_builtin_areas().await;
    let r = other.import("d.xlsx", bytes.clone()).await;
    assert!(r.warnings.iter().all(|w| w.code.as_str() != "unknown_fund"));
    assert_eq!(
        other
            .count("SELECT COUNT(*) FROM logbook_entries WHERE fund_id IS NOT NULL")
            .await,
        0
    );
    api::service::funds::create(&other.db, &op, create("33", "กองทุนจังหวัด"))
        .await
        .expect("fund");
    let r = other.import("d.xlsx", bytes).await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    let warned: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.code.as_str() == "unknown_fund")
        .collect();
    assert_eq!(warned.len() as i64, with_text);
    assert!(warned.iter().all(|w| w.row.is_some()
        && w.column.is_some()
        && w.value.as_deref() == Some("กองทุนขจัดความยากจนอำเภอ")));
    // nothing changed: an unchanged file stays unchanged whatever funds exist now
    assert_eq!(
        other
            .count("SELECT COUNT(*) FROM logbook_entries WHERE fund_id IS NOT NULL")
            .await,
        0
    );
}

/// A fund with `baht` of capital on 1 January 2568 (2025), through the service.
async fn fund_with_capital(app: &TestApp, area: &str, name: &str, baht: f64) -> i32 {
    use api::service::funds::{self, FundInput, MovementInput};
    let op = api::service::agencies::operator();
    let fund = funds::create(
        &app.db,
        &op,
        FundInput {
            area: area.into(),
            name: name.into(),
            established: None,
            note: None,
        },
    )
    .await
    .expect("fund");
    funds::record(
        &app.db,
        &op,
        MovementInput {
            fund_id: fund.id,
            kind: entity::types::FundMovementKind::Capital,
            date: "1/1/2568".into(),
            amount: baht,
            house_code: None,
            problem_id: None,
            entry_id: None,
            loan_id: None,
            source: Some("งบจังหวัด".into()),
            term_months: None,
            every_months: None,
            note: None,
        },
    )
    .await
    .expect("capital");
    fund.id
}

/// Sum of a fund's movements of one kind, in satang.
async fn moved(app: &TestApp, fund: i32, kind: &str) -> i64 {
    app.count(&format!(
        "SELECT CAST(COALESCE(SUM(amount_satang), 0) AS BIGINT) FROM fund_movements WHERE fund_id = {fund} AND kind = '{kind}'"
    ))
    .await
}

async fn the_funds_sheet_records_grants_loans_and_repayments(app: TestApp) {
    use importer::generate::{GFundRow, Style, write_workbook};
    use importer::workbook::SheetKind::Funds;
    app.load_builtin_areas().await;
    let fund = fund_with_capital(&app, "3318", "กองทุนแก้จนอำเภอ", 200_000.0).await;
    let province = fund_with_capital(&app, "33", "กองทุนจังหวัด", 50_000.0).await;
    let today = crate::helpers::today();
    let mut ds = dataset(80, 73);
    // the name as staff type it: spaces, no กองทุน
    ds.add_fund_rows(
        "แก้จน อำเภอ",
        150_000,
        today - chrono::Days::new(365),
        today,
        8,
    );
    let n = ds.fund_rows.len();
    let of =
        |k: entity::types::FundMovementKind| ds.fund_rows.iter().filter(|r| r.kind == k).count();
    use entity::types::FundMovementKind as K;
    assert!(
        of(K::Grant) > 0 && of(K::Loan) > 0 && of(K::Repayment) > 0,
        "the seed gives every kind"
    );
    let sum = |k: K| -> i64 {
        ds.fund_rows
            .iter()
            .filter(|r| r.kind == k)
            .map(|r| i64::from(r.amount) * 100)
            .sum()
    };
    // headers as a district typed them (not the importer's canonical ones)
    let style = Style {
        messy: true,
        english: false,
        seed: 3,
        headers: vec![
            (Funds, "kind", "ประเภทรายการ"),
            (Funds, "amount", "จำนวนเงิน"),
            (Funds, "term_months", "ระยะเวลาผ่อน (เดือน)"),
            (Funds, "every_months", "งวดทุก"),
            (Funds, "loan_date", "วันที่กู้"),
        ],
    };
    let written = write_workbook(&ds, &style).expect("workbook");
    let r = app.import("d.xlsx", written.bytes.clone()).await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    let counts = &r.sheets[&Funds];
    assert_eq!(
        (counts.read, counts.inserted, counts.rejected),
        (n as u32, n as u32, 0)
    );
    assert_eq!(moved(&app, fund, "grant").await, sum(K::Grant));
    assert_eq!(moved(&app, fund, "loan").await, sum(K::Loan));
    assert_eq!(moved(&app, fund, "repayment").await, sum(K::Repayment));
    // every repayment is of a loan of its own household and fund, on or before its day
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM fund_movements r JOIN fund_movements l ON l.id = r.loan_id              WHERE r.kind = 'repayment' AND l.kind = 'loan' AND l.house_code = r.house_code              AND l.fund_id = r.fund_id AND l.moved_on <= r.moved_on AND r.fund_id = {fund}"
        ))
        .await,
        of(K::Repayment) as i64
    );
    // provenance: the batch and the row
    let batch = r.batch_id.expect("batch");
    let (i, first) = (0, &ds.fund_rows[0]);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM fund_movements WHERE batch_id = {batch} AND source_row = {} AND house_code = '{}' AND recorded_by = 'test'",
            written.row(Funds, i),
            first.house_code
        ))
        .await,
        1
    );
    // the fund's figures now
    let pos =
        api::service::funds::position(&app.db, &api::service::agencies::operator(), fund, today)
            .await
            .expect("position");
    assert_eq!(
        pos.balance,
        20_000_000 - sum(K::Grant) - sum(K::Loan) + sum(K::Repayment)
    );

    // the same file again: nothing new
    let again = app.import("d.xlsx", written.bytes).await;
    assert_eq!(again.status.as_str(), "imported", "{:?}", again.errors);
    assert_eq!(
        (
            again.sheets[&Funds].unchanged,
            again.sheets[&Funds].inserted
        ),
        (n as u32, 0)
    );
    let stored = app.count("SELECT COUNT(*) FROM fund_movements").await;
    assert_eq!(stored, n as i64 + 2);

    // bad rows: each refused with its code on its cell, and nothing written
    let loan = ds
        .fund_rows
        .iter()
        .position(|r| r.kind == K::Loan)
        .expect("a loan");
    let lent = ds.fund_rows[loan].clone();
    let grant = ds
        .fund_rows
        .iter()
        .position(|r| r.kind == K::Grant)
        .expect("a grant");
    let base = ds.fund_rows.len();
    let extra = |kind: K, amount: u32| GFundRow {
        house_code: lent.house_code.clone(),
        fund: "กองทุนแก้จนอำเภอ".into(),
        kind,
        date: today - chrono::Days::new(3),
        amount,
        term_months: None,
        every_months: None,
        loan_date: None,
    };
    let mut bad = ds.clone();
    let cases: Vec<(GFundRow, &str, &str)> = vec![
        // 0: not a kind a district records
        (extra(K::Grant, 100), "ประเภทรายการ", "kind_invalid"),
        // 1: zero
        (extra(K::Grant, 100), "จำนวนเงิน", "amount_zero"),
        // 2: a loan without its term
        (extra(K::Loan, 1_200), "ระยะเวลาผ่อน (เดือน)", "required"),
        // 3: instalments every 5 months of 12
        (
            GFundRow {
                term_months: Some(12),
                every_months: Some(5),
                ..extra(K::Loan, 1_200)
            },
            "งวดทุก",
            "every_months_invalid",
        ),
        // 4: a grant with a loan's day
        (
            GFundRow {
                loan_date: Some(lent.date),
                ..extra(K::Grant, 100)
            },
            "วันที่กู้",
            "not_applicable",
        ),
        // 5: a repayment of a loan that is not there
        (
            GFundRow {
                loan_date: Some(lent.date - chrono::Days::new(1)),
                ..extra(K::Repayment, 100)
            },
            "วันที่กู้",
            "loan_unknown",
        ),
        // 6: more than is owed
        (
            GFundRow {
                date: today - chrono::Days::new(4),
                loan_date: Some(lent.date),
                ..extra(K::Repayment, lent.amount + 1)
            },
            "จำนวนเงิน",
            "over_repaid",
        ),
        // 7: a fund the district does not have
        (
            GFundRow {
                fund: "กองทุนหมู่บ้าน".into(),
                ..extra(K::Grant, 100)
            },
            "กองทุน",
            "fund_unknown",
        ),
        // 8: more than the fund holds
        (extra(K::Grant, 9_000_000), "จำนวนเงิน", "fund_overdrawn"),
        // 9: a repayment before its loan
        (
            GFundRow {
                date: lent.date - chrono::Days::new(1),
                loan_date: Some(lent.date),
                ..extra(K::Repayment, 100)
            },
            "วันที่",
            "date_before",
        ),
    ];
    for (row, _, _) in &cases {
        bad.fund_rows.push(row.clone());
    }
    bad.set_raw(Funds, base, "kind", "เงินทุน");
    bad.set_raw(Funds, base + 1, "amount", "0");
    // 10: an imported grant whose amount was changed in Excel
    bad.set_raw(Funds, grant, "amount", "99");
    let written = write_workbook(&bad, &style).expect("workbook");
    let r = app.import("bad.xlsx", written.bytes.clone()).await;
    assert_eq!(r.status.as_str(), "rejected");
    let on = |i: usize| -> Vec<(String, String)> {
        let row = written.row(Funds, i);
        r.errors
            .iter()
            .filter(|e| e.sheet == Some(Funds) && e.row == Some(row))
            .map(|e| {
                (
                    e.column.clone().unwrap_or_default(),
                    e.code.as_str().to_string(),
                )
            })
            .collect()
    };
    for (k, (_, column, code)) in cases.iter().enumerate() {
        assert_eq!(
            on(base + k),
            vec![(column.to_string(), code.to_string())],
            "case {k}: {:?}",
            r.errors
        );
    }
    assert_eq!(
        on(grant),
        vec![("จำนวนเงิน".to_string(), "fund_movement_changed".to_string())]
    );
    assert!(
        r.errors.iter().all(|e| e.sheet == Some(Funds)
            && !e.message_th.is_empty()
            && !e.message_en.is_empty()),
        "{:?}",
        r.errors
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM fund_movements").await,
        stored
    );

    // two loans recorded in logbook on one day: a repayment in Excel cannot say which
    for _ in 0..2 {
        api::service::funds::record(
            &app.db,
            &api::service::agencies::operator(),
            api::service::funds::MovementInput {
                fund_id: fund,
                kind: K::Loan,
                date: "5/1/2569".into(),
                amount: 1_000.0,
                house_code: Some(lent.house_code.clone()),
                problem_id: None,
                entry_id: None,
                loan_id: None,
                source: None,
                term_months: Some(10),
                every_months: None,
                note: None,
            },
        )
        .await
        .expect("loan");
    }
    let mut twice = ds.clone();
    twice.fund_rows.push(GFundRow {
        loan_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 5),
        ..extra(K::Repayment, 100)
    });
    let written = write_workbook(&twice, &style).expect("workbook");
    let r = app.import("twice.xlsx", written.bytes.clone()).await;
    assert_eq!(
        r.errors
            .iter()
            .map(|e| (e.row, e.code.as_str()))
            .collect::<Vec<_>>(),
        vec![(Some(written.row(Funds, base)), "loan_ambiguous")]
    );

    // the provincial fund is the province's to record: a district's import is refused
    let mut prov = ds.clone();
    prov.fund_rows = vec![GFundRow {
        fund: "กองทุนจังหวัด".into(),
        ..extra(K::Grant, 500)
    }];
    let written = write_workbook(&prov, &style).expect("workbook");
    let r = app
        .import_with("p.xlsx", written.bytes.clone(), false, Some("3318"))
        .await;
    assert_eq!(r.status.as_str(), "rejected");
    assert_eq!(
        r.errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(),
        vec!["fund_not_kept"]
    );
    // the province's own import records it
    let r = app
        .import_with("p.xlsx", written.bytes, false, Some("33"))
        .await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    assert_eq!(moved(&app, province, "grant").await, 50_000);
}

on_both_databases!(
    funds_keep_capital_grants_loans_and_arrears,
    entries_name_their_fund,
    the_funds_sheet_records_grants_loans_and_repayments,
);

/// A fund list's figures and movements come in a fixed number of statements, as many for
/// four funds as for one (it fails if a statement is made per fund), and each keeps its own
/// rule: the figures sum every movement, the movements list only those the key may see.
async fn funds_figures_and_movements_in_the_same_statements_for_one_as_for_four(app: TestApp) {
    use api::service::funds::{self, MovementInput};
    use std::sync::atomic::Ordering;
    let ds = dataset(20, 73);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let mut ids = Vec::new();
    for (area, name, baht) in [
        ("33", "ก", 100_000.0),
        ("33", "ข", 20_000.0),
        ("33", "ค", 30_000.0),
        ("3318", "ง", 40_000.0),
    ] {
        ids.push(fund_with_capital(&app, area, name, baht).await);
    }
    // a grant from the first fund to a household the health agency may not see
    let house = app
        .count(
            "SELECT CAST(MIN(house_code) AS BIGINT) FROM problems WHERE indicator_code BETWEEN 9 AND 12 \
             AND house_code NOT IN (SELECT house_code FROM problems WHERE indicator_code BETWEEN 1 AND 4)",
        )
        .await;
    funds::record(
        &app.db,
        &api::service::agencies::operator(),
        MovementInput {
            fund_id: ids[0],
            kind: entity::types::FundMovementKind::Grant,
            date: "1/2/2568".into(),
            amount: 5_000.0,
            house_code: Some(format!("{house:011}")),
            problem_id: None,
            entry_id: None,
            loan_id: None,
            source: None,
            term_months: None,
            every_months: None,
            note: None,
        },
    )
    .await
    .expect("grant");
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let (http, statements) = app.counting_http().await;
    let q = "query($a: String) { funds(area: $a) { id name position { capital granted balance } movements { kind amount } } }";
    let _ = gql(&http, &health, "{ me { kind } }", json!({})).await;
    // the key's use is noted beside its first requests: let that settle before counting
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut counts = Vec::new();
    let mut answers = Vec::new();
    for area in ["3318", "33"] {
        statements.store(0, Ordering::SeqCst);
        let v = gql(&http, &health, q, json!({ "a": area })).await;
        counts.push(statements.load(Ordering::SeqCst));
        answers.push(v);
    }
    let all = data(&answers[1], "funds").as_array().expect("funds");
    assert_eq!(data(&answers[0], "funds").as_array().map(Vec::len), Some(1));
    assert_eq!(all.len(), 4, "{}", answers[1]);
    assert!(counts[0] >= 3, "the statements are counted: {counts:?}");
    assert_eq!(
        counts[0], counts[1],
        "statements grow with the funds: {counts:?}"
    );
    let first = all
        .iter()
        .find(|f| f["id"] == ids[0])
        .unwrap_or_else(|| panic!("{}", answers[1]));
    assert_eq!(first["position"]["capital"], 100_000.0, "{first}");
    assert_eq!(first["position"]["granted"], 5_000.0, "{first}");
    assert_eq!(first["position"]["balance"], 95_000.0, "{first}");
    assert_eq!(
        first["movements"],
        json!([{"kind": "CAPITAL", "amount": 100_000.0}]),
        "the grant to a household the agency may not see is summed, not listed: {first}"
    );
    for (f, capital) in all
        .iter()
        .filter(|f| f["id"] != ids[0])
        .zip([20_000.0, 30_000.0, 40_000.0])
    {
        assert_eq!(f["position"]["balance"], capital, "{f}");
        assert_eq!(f["movements"].as_array().map(Vec::len), Some(1), "{f}");
    }
}

on_both_databases!(funds_figures_and_movements_in_the_same_statements_for_one_as_for_four);

/// One text (or null) a query returns.
async fn text(app: &TestApp, sql: &str) -> Option<String> {
    use sea_orm::ConnectionTrait;
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<Option<String>>(0).expect("text")
}

const PLAN: &str = "mutation($p: Int!, $a: String, $j: String!, $d: String!, $b: Float) { planAssistance(problemId: $p, agency: $a, project: $j, plannedOn: $d, budget: $b) { id problemId agency project plannedOn budget madeOn done recordedBy } }";
const PLANNED: &str = "query($d: String) { stats(groupBy: [DIMENSION], asOf: $d) { dimension problems planned plannedDone } }";

fn health_row(v: &Value) -> (i64, i64) {
    let row = v["data"]["stats"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .find(|r| r["dimension"] == "HEALTH")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    (
        row["planned"].as_i64().unwrap_or(-1),
        row["plannedDone"].as_i64().unwrap_or(-1),
    )
}

async fn agencies_plan_problems_and_the_board_sees_them_done(app: TestApp) {
    let ds = dataset(20, 74);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let district = app.key(KeyScope::District("3318".into())).await;
    let health = app.key(KeyScope::Agency("33-pho".into())).await;
    let education = app.key(KeyScope::Agency("33-edu".into())).await;
    let (house, problem) = health_household(&app).await;
    let today = chrono::Local::now().date_naive();
    let plan = |key: &str, vars: Value| {
        let http = http.clone();
        let key = key.to_string();
        async move { gql(&http, &key, PLAN, vars).await }
    };

    let v = plan(
        &health,
        json!({"p": problem, "j": "โครงการเยี่ยมบ้านผู้ป่วย", "d": "2027-01-15", "b": 500}),
    )
    .await;
    let made = data(&v, "planAssistance");
    assert_eq!(made["agency"], "33-pho");
    assert_eq!(made["done"], false);
    assert_eq!(made["budget"], 500.0);
    assert_eq!(made["plannedOn"], "2027-01-15");
    assert_eq!(made["madeOn"], today.to_string());
    let first = made["id"].as_i64().expect("id");
    let v = plan(
        &health,
        json!({"p": problem, "j": " โครงการเยี่ยมบ้านผู้ป่วย ", "d": "2027-01-15"}),
    )
    .await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "project"),
        "one plan per project: {v}"
    );
    let v = plan(
        &health,
        json!({"p": problem, "a": "33-edu", "j": "x", "d": "2027-01-15"}),
    )
    .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = plan(&health, json!({"p": problem, "j": "x", "d": "2040-01-15"})).await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "plannedOn"),
        "{v}"
    );
    let v = plan(
        &health,
        json!({"p": problem, "j": "x", "d": "2027-01-15", "b": -1}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "budget"), "{v}");
    let v = plan(
        &education,
        json!({"p": problem, "j": "x", "d": "2027-01-15"}),
    )
    .await;
    assert_eq!(
        code(&v),
        "NOT_FOUND",
        "the education agency does not see it: {v}"
    );
    let v = plan(
        &district,
        json!({"p": problem, "j": "x", "d": "2027-01-15"}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "agency"), "{v}");
    let v = plan(
        &district,
        json!({"p": problem, "a": "33-edu", "j": "x", "d": "2027-01-15"}),
    )
    .await;
    assert_eq!(
        (code(&v), field(&v)),
        ("BAD_USER_INPUT", "agency"),
        "not its dimension: {v}"
    );
    let v = plan(
        &district,
        json!({"p": problem, "a": "33-pho", "j": "โครงการตำบลสุขภาพดี", "d": "30/12/2569"}),
    )
    .await;
    assert_eq!(
        data(&v, "planAssistance")["recordedBy"]
            .as_str()
            .map(|s| s.starts_with("district:3318")),
        Some(true)
    );

    let list = "query($a: String, $p: Int) { plans(agency: $a, problemId: $p) { id agency project done } }";
    let v = gql(&http, &district, list, json!({"a": "33-pho"})).await;
    assert_eq!(data(&v, "plans").as_array().map(Vec::len), Some(2), "{v}");
    let v = gql(&http, &education, list, json!({"p": problem})).await;
    assert_eq!(data(&v, "plans"), &json!([]), "{v}");
    assert_eq!(
        health_row(&gql(&http, &district, PLANNED, json!({})).await),
        (2, 0)
    );

    // the health agency helps today: both its plans on the problem are done
    let indicator = app
        .count(&format!(
            "SELECT CAST(indicator_code AS BIGINT) FROM problems WHERE id = {problem}"
        ))
        .await;
    let citizen = text(
        &app,
        &format!("SELECT citizen_id FROM problems WHERE id = {problem}"),
    )
    .await;
    let input = json!({"houseCode": house, "indicator": indicator, "citizenId": citizen,
        "date": today.to_string(), "activity": "เยี่ยมบ้านตามแผน", "status": "FOLLOWING_UP"});
    let v = gql(
        &http,
        &health,
        "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }",
        json!({ "i": input }),
    )
    .await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    assert_eq!(
        health_row(&gql(&http, &district, PLANNED, json!({})).await),
        (2, 2)
    );
    let v = gql(&http, &health, list, json!({"p": problem})).await;
    assert!(
        data(&v, "plans")
            .as_array()
            .expect("plans")
            .iter()
            .all(|p| p["done"] == true),
        "{v}"
    );
    // the day before, no plan had been made
    let yesterday = (today - chrono::Days::new(1)).to_string();
    assert_eq!(
        health_row(&gql(&http, &district, PLANNED, json!({"d": yesterday})).await),
        (0, 0)
    );

    let remove = "mutation($id: Int!) { removePlan(id: $id) }";
    let v = gql(&http, &education, remove, json!({"id": first})).await;
    assert_eq!(code(&v), "NOT_FOUND", "{v}");
    let v = gql(&http, &health, remove, json!({"id": first})).await;
    assert_eq!(v["data"]["removePlan"], true, "{v}");
    assert_eq!(
        health_row(&gql(&http, &district, PLANNED, json!({})).await),
        (1, 1)
    );
}

/// A problem: id, indicator, house code.
type ProblemRow = (i32, i32, String);
/// An entry: problem, date, write order, id, status, agency id, amount in satang.
type EntryRow = (
    i32,
    chrono::NaiveDate,
    i64,
    i32,
    String,
    Option<i32>,
    Option<i64>,
);

/// Every problem and logbook entry, read with plain SQL.
async fn history(app: &TestApp) -> (Vec<ProblemRow>, Vec<EntryRow>) {
    use sea_orm::ConnectionTrait;
    let b = app.db.get_database_backend();
    let rows = |sql: &str| {
        let db = app.db.clone();
        let sql = sql.to_string();
        async move {
            db.query_all_raw(sea_orm::Statement::from_string(b, sql))
                .await
                .expect("query")
        }
    };
    let problems = rows("SELECT id, indicator_code, house_code FROM problems")
        .await
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).expect("id"),
                r.try_get_by_index(1).expect("indicator"),
                r.try_get_by_index(2).expect("house"),
            )
        })
        .collect();
    let entries = rows(
        "SELECT problem_id, entry_date, written_seq, id, status, agency_id, amount_satang FROM logbook_entries",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get_by_index(0).expect("problem"),
            r.try_get_by_index(1).expect("date"),
            r.try_get_by_index(2).expect("seq"),
            r.try_get_by_index(3).expect("id"),
            r.try_get_by_index(4).expect("status"),
            r.try_get_by_index(5).expect("agency"),
            r.try_get_by_index(6).expect("amount"),
        )
    })
    .collect();
    (problems, entries)
}

/// Each problem's status at the end of `day`, from the entries alone: its latest entry on
/// or before the day (by date, then the order written); absent when not started.
fn statuses_at(
    entries: &[EntryRow],
    day: chrono::NaiveDate,
) -> std::collections::HashMap<i32, String> {
    let mut latest: std::collections::HashMap<i32, (chrono::NaiveDate, i64, i32, String)> =
        Default::default();
    for (pid, d, seq, id, status, ..) in entries {
        if *d <= day {
            let e = latest
                .entry(*pid)
                .or_insert((*d, *seq, *id, status.clone()));
            if (*d, *seq, *id) > (e.0, e.1, e.2) {
                *e = (*d, *seq, *id, status.clone());
            }
        }
    }
    latest.into_iter().map(|(k, v)| (k, v.3)).collect()
}

/// A problem's status on a day, recomputed from the entries alone: its latest entry on or
/// before the day (by date, then the order written), or not started.
async fn stats_as_of_any_day_match_the_history(app: TestApp) {
    use std::collections::BTreeMap;
    let ds = dataset(40, 73);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let (problems, entries) = history(&app).await;
    let mut days: Vec<chrono::NaiveDate> = entries.iter().map(|e| e.1).collect();
    days.sort();
    days.dedup();
    assert!(days.len() > 5, "{days:?}");
    let picks = [
        days[0] - chrono::Days::new(1),
        days[days.len() / 3],
        days[2 * days.len() / 3],
        *days.last().expect("a day"),
    ];
    let http = app.http();
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let q = "query($d: String) { stats(groupBy: [DIMENSION, STATUS], asOf: $d) { dimension status problems logbookEntries } total: stats(groupBy: [], asOf: $d) { problems households solvedHouseholds logbookEntries } solved: stats(groupBy: [], asOf: $d, filter: {status: SOLVED}) { problems } }";
    for day in picks {
        // the independent recomputation
        let latest = statuses_at(&entries, day);
        let status_of = |pid: i32| latest.get(&pid).map_or("not_started", String::as_str);
        let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut open_houses: std::collections::HashSet<&str> = Default::default();
        let mut houses: std::collections::HashSet<&str> = Default::default();
        for (pid, ind, house) in &problems {
            let dim = entity::catalog::indicator(u8::try_from(*ind).expect("code"))
                .expect("indicator")
                .dimension;
            let s = status_of(*pid);
            *want
                .entry((dim.key().to_uppercase(), s.to_uppercase()))
                .or_default() += 1;
            houses.insert(house);
            if s != "solved" {
                open_houses.insert(house);
            }
        }
        let v = gql(&http, &admin, q, json!({"d": day.to_string()})).await;
        let got: BTreeMap<(String, String), i64> = v["data"]["stats"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|r| {
                (
                    (
                        r["dimension"].as_str().unwrap_or("").to_string(),
                        r["status"].as_str().unwrap_or("").to_string(),
                    ),
                    r["problems"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(got, want, "as of {day}");
        let total = &v["data"]["total"][0];
        let entries_by_then = entries.iter().filter(|e| e.1 <= day).count() as i64;
        assert_eq!(
            total["logbookEntries"].as_i64(),
            Some(entries_by_then),
            "as of {day}"
        );
        assert_eq!(total["problems"].as_i64(), Some(problems.len() as i64));
        assert_eq!(
            total["solvedHouseholds"].as_i64(),
            Some((houses.len() - open_houses.len()) as i64),
            "as of {day}"
        );
        let solved = want
            .iter()
            .filter(|((_, s), _)| s == "SOLVED")
            .map(|(_, n)| n)
            .sum::<i64>();
        assert_eq!(
            v["data"]["solved"][0]["problems"].as_i64(),
            Some(solved),
            "as of {day}"
        );
    }
    // as of the last day of help, the statuses are the stored ones
    let now = gql(
        &http,
        &admin,
        "{ stats(groupBy: [STATUS]) { status problems } }",
        json!({}),
    )
    .await;
    let then = gql(
        &http,
        &admin,
        "query($d: String) { stats(groupBy: [STATUS], asOf: $d) { status problems } }",
        json!({"d": picks[3].to_string()}),
    )
    .await;
    assert_eq!(now["data"], then["data"]);
    let v = gql(&http, &admin, q, json!({"d": "2099-01-01"})).await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "asOf"), "{v}");
}

/// The quarter (`2566Q1`) a day falls in.
fn quarter_of(day: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let fy = day.year() + 543 + i32::from(day.month() >= 10);
    let q = match day.month() {
        10..=12 => 1,
        1..=3 => 2,
        4..=6 => 3,
        _ => 4,
    };
    format!("{fy}Q{q}")
}

/// The total row (last) of a period report's district sheet: the five statuses at the end,
/// all problems, recorded, solved in the period, entries, amount.
fn period_totals(body: &[u8]) -> Vec<f64> {
    let sheet = read_sheet(body, "สรุปรายอำเภอ");
    let last = sheet.last().expect("a total row");
    assert_eq!(last[0], "รวมทั้งหมด", "{sheet:?}");
    last[3..13]
        .iter()
        .map(|c| {
            c.parse::<f64>()
                .unwrap_or_else(|_| panic!("{c} in {last:?}"))
        })
        .collect()
}

async fn quarters_fiscal_years_and_agency_results_come_from_the_history(app: TestApp) {
    let ds = dataset(40, 75);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let (problems, entries) = history(&app).await;
    let mut days: Vec<chrono::NaiveDate> = entries.iter().map(|e| e.1).collect();
    days.sort();
    let middle = days[days.len() / 2];
    let quarter = quarter_of(middle);
    let fy: i32 = quarter[..4].parse().expect("year");
    let ce = fy - 543;
    let q: u32 = quarter[5..].parse().expect("q");
    let (first, last) = {
        let first = match q {
            1 => chrono::NaiveDate::from_ymd_opt(ce - 1, 10, 1),
            n => chrono::NaiveDate::from_ymd_opt(ce, 1 + 3 * (n - 2), 1),
        }
        .expect("first");
        let last = first
            .checked_add_months(chrono::Months::new(3))
            .and_then(|d| d.pred_opt())
            .expect("last");
        (first, last)
    };
    let get = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.get(&path, Some(&admin)).await }
    };
    // problems recorded on days around the quarter: one at its first instant, one in its
    // last second, the rest spread before, in and after it
    let mut recorded_in = 0f64;
    {
        use entity::problem;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let start = (first - chrono::Days::new(45))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        let quarter_start = first.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let quarter_end = last.and_hms_opt(23, 59, 59).expect("late").and_utc();
        for (i, (id, ..)) in problems.iter().enumerate() {
            let at = match i {
                0 => quarter_start,
                1 => quarter_end,
                _ => start + chrono::Duration::hours(61 * i as i64 + 7),
            };
            if (first..=last).contains(&at.date_naive()) {
                recorded_in += 1.0;
            }
            problem::Entity::update_many()
                .col_expr(problem::Column::CreatedAt, Expr::value(at))
                .filter(problem::Column::Id.eq(*id))
                .exec(&app.db)
                .await
                .expect("created_at");
        }
        let outside = problems.len() as f64 - recorded_in;
        assert!(recorded_in > 2.0 && outside > 2.0, "{recorded_in}");
    }
    let (status, ct, body) = get(format!("/reports/period.xlsx?quarter={quarter}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.contains("spreadsheetml"));
    let t = period_totals(&body);
    assert_eq!(t[6], recorded_in, "{quarter}: recorded in the period");
    // the independent recomputation
    let end = statuses_at(&entries, last);
    let before = statuses_at(&entries, first - chrono::Days::new(1));
    let mut by_status = [0f64; 5];
    let order = [
        "not_started",
        "solved",
        "awaiting_follow_up",
        "following_up",
        "not_solvable_yet",
    ];
    let mut solved = 0f64;
    for (id, ..) in &problems {
        let s = end.get(id).map_or("not_started", String::as_str);
        by_status[order.iter().position(|o| *o == s).expect("status")] += 1.0;
        if s == "solved" && before.get(id).map(String::as_str) != Some("solved") {
            solved += 1.0;
        }
    }
    let in_period: Vec<_> = entries
        .iter()
        .filter(|e| (first..=last).contains(&e.1))
        .collect();
    assert!(!in_period.is_empty());
    assert_eq!(t[..5], by_status, "{quarter}");
    assert_eq!(t[5], problems.len() as f64);
    assert_eq!(t[7], solved, "{quarter}: solved in the period");
    assert_eq!(
        t[8],
        in_period.len() as f64,
        "{quarter}: entries in the period"
    );
    let amount: i64 = in_period.iter().filter_map(|e| e.6).sum();
    assert!(
        (t[9] - amount as f64 / 100.0).abs() < 0.005,
        "{} vs {amount}",
        t[9]
    );

    // the four quarters add up to their fiscal year
    let (status, _, body) = get(format!("/reports/period.xlsx?fiscalYear={fy}")).await;
    assert_eq!(status, 200);
    let year = period_totals(&body);
    let mut sums = [0f64; 3];
    for n in 1..=4 {
        let (status, _, body) = get(format!("/reports/period.xlsx?quarter={fy}Q{n}")).await;
        assert_eq!(status, 200);
        let t = period_totals(&body);
        sums[0] += t[6];
        sums[1] += t[8];
        sums[2] += t[9];
    }
    assert_eq!(
        (sums[0], sums[1]),
        (year[6], year[8]),
        "recorded and entries"
    );
    assert!((sums[2] - year[9]).abs() < 0.005);
    for bad in [
        format!("/reports/period.xlsx?quarter={fy}Q5"),
        format!("/reports/period.xlsx?quarter={fy}Q1&fiscalYear={fy}"),
        "/reports/period.xlsx".to_string(),
        "/reports/period.xlsx?fiscalYear=2023".to_string(),
    ] {
        let (status, _, body) = get(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }

    // per-agency results against the entries: the health agency's health problems
    let pho = app
        .count("SELECT CAST(id AS BIGINT) FROM agencies WHERE code = '33-pho'")
        .await as i32;
    let day = middle;
    let now = statuses_at(&entries, day);
    let health: Vec<i32> = problems
        .iter()
        .filter(|p| (1..=4).contains(&p.1))
        .map(|p| p.0)
        .collect();
    let solved = health
        .iter()
        .filter(|id| now.get(id).map(String::as_str) == Some("solved"))
        .count() as i64;
    let theirs: Vec<_> = entries
        .iter()
        .filter(|e| e.1 <= day && e.5 == Some(pho) && health.contains(&e.0))
        .collect();
    let q = "query($d: String) { agencyResults(asOf: $d) { agency dimension problems solved followingUp notSolvableYet notStarted entries money } }";
    let http = app.http();
    let v = gql(&http, &admin, q, json!({"d": day.to_string()})).await;
    let rows = data(&v, "agencyResults").as_array().expect("rows").clone();
    let row = rows
        .iter()
        .find(|r| r["agency"] == "33-pho" && r["dimension"] == "HEALTH")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(row["problems"].as_i64(), Some(health.len() as i64));
    assert_eq!(row["solved"].as_i64(), Some(solved), "{row}");
    assert_eq!(
        ["solved", "followingUp", "notSolvableYet", "notStarted"]
            .iter()
            .map(|k| row[*k].as_i64().unwrap_or(-1))
            .sum::<i64>(),
        health.len() as i64
    );
    assert_eq!(row["entries"].as_i64(), Some(theirs.len() as i64), "{row}");
    let money: i64 = theirs.iter().filter_map(|e| e.6).sum();
    assert!((row["money"].as_f64().unwrap_or(-1.0) - money as f64 / 100.0).abs() < 0.005);
    // every agency of the province, each dimension it owns
    assert!(
        rows.iter()
            .any(|r| r["agency"] == "33-edu" && r["dimension"] == "EDUCATION")
    );
    // an agency key sees its own results only
    let health_key = app.key(KeyScope::Agency("33-pho".into())).await;
    let v = gql(&http, &health_key, q, json!({})).await;
    let own = data(&v, "agencyResults").as_array().expect("rows");
    assert!(
        !own.is_empty() && own.iter().all(|r| r["agency"] == "33-pho"),
        "{v}"
    );
}

async fn targets_show_progress_and_the_rate_needed(app: TestApp) {
    let ds = dataset(40, 76);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    let http = app.http();
    let admin = app
        .key(KeyScope::Admin {
            province: Some("33".into()),
        })
        .await;
    let district = app.key(KeyScope::District("3318".into())).await;
    let label = text(
        &app,
        "SELECT label FROM cohorts WHERE id = (SELECT MIN(cohort_id) FROM problems)",
    )
    .await
    .expect("a cohort");
    let cohort_id = app
        .count("SELECT CAST(MIN(cohort_id) AS BIGINT) FROM problems")
        .await as i32;
    let set = "mutation($p: String!, $n: String!, $c: String, $d: Dimension, $due: String!) { setTarget(province: $p, name: $n, cohort: $c, dimension: $d, dueOn: $due) { id name dueOn dimension cohort { label } } }";
    let v = gql(
        &http,
        &district,
        set,
        json!({"p": "33", "n": "x", "due": "2027-09-30"}),
    )
    .await;
    assert_eq!(code(&v), "FORBIDDEN", "{v}");
    let v = gql(
        &http,
        &admin,
        set,
        json!({"p": "10", "n": "x", "due": "2027-09-30"}),
    )
    .await;
    assert_eq!(code(&v), "FORBIDDEN", "another province: {v}");
    let v = gql(
        &http,
        &admin,
        set,
        json!({"p": "33", "n": "x", "c": "TPMAP 1999", "due": "2027-09-30"}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "cohort"), "{v}");
    let v = gql(
        &http,
        &admin,
        set,
        json!({"p": "33", "n": "x", "due": "2099-09-30"}),
    )
    .await;
    assert_eq!((code(&v), field(&v)), ("BAD_USER_INPUT", "dueOn"), "{v}");
    let v = gql(
        &http,
        &admin,
        set,
        json!({"p": "33", "n": "แก้ไขปัญหาด้านสุขภาพให้ครบ", "c": label, "d": "HEALTH", "due": "30/9/2570"}),
    )
    .await;
    let t = data(&v, "setTarget");
    assert_eq!(
        (t["dueOn"].as_str(), t["dimension"].as_str()),
        (Some("2027-09-30"), Some("HEALTH"))
    );
    assert_eq!(t["cohort"]["label"].as_str(), Some(label.as_str()));

    // progress on a fixed day, against the entries
    let (problems, entries) = history(&app).await;
    let mut days: Vec<chrono::NaiveDate> = entries.iter().map(|e| e.1).collect();
    days.sort();
    let day = days[days.len() * 3 / 4];
    let cohort_of: std::collections::HashMap<i32, i32> = {
        let rows = {
            use sea_orm::ConnectionTrait;
            app.db
                .query_all_raw(sea_orm::Statement::from_string(
                    app.db.get_database_backend(),
                    "SELECT id, cohort_id FROM problems".to_string(),
                ))
                .await
                .expect("query")
        };
        rows.iter()
            .map(|r| {
                (
                    r.try_get_by_index(0).expect("id"),
                    r.try_get_by_index(1).expect("cohort"),
                )
            })
            .collect()
    };
    let covered: Vec<i32> = problems
        .iter()
        .filter(|p| (1..=4).contains(&p.1) && cohort_of.get(&p.0) == Some(&cohort_id))
        .map(|p| p.0)
        .collect();
    let now = statuses_at(&entries, day);
    let then = statuses_at(&entries, day - chrono::Days::new(28));
    let solved = |m: &std::collections::HashMap<i32, String>, id: &i32| {
        m.get(id).map(String::as_str) == Some("solved")
    };
    let done = covered.iter().filter(|id| solved(&now, id)).count() as i64;
    let newly = covered
        .iter()
        .filter(|id| solved(&now, id) && !solved(&then, id))
        .count() as f64;
    let due = chrono::NaiveDate::from_ymd_opt(2027, 9, 30).expect("due");
    let days_left = (due - day).num_days();
    let q = "query($d: String) { targets { name progress(asOf: $d) { districtCode dimension total done remaining daysLeft neededPerWeek lastFourWeeksPerWeek onTrack } } }";
    let v = gql(&http, &district, q, json!({"d": day.to_string()})).await;
    let targets = data(&v, "targets").as_array().expect("targets").clone();
    assert_eq!(
        targets.len(),
        1,
        "a district sees its province's targets: {v}"
    );
    let progress = targets[0]["progress"].as_array().expect("progress");
    let whole = &progress[0];
    assert!(whole["districtCode"].is_null() && whole["dimension"].is_null());
    assert_eq!(whole["total"].as_i64(), Some(covered.len() as i64));
    assert_eq!(whole["done"].as_i64(), Some(done));
    assert_eq!(
        whole["remaining"].as_i64(),
        Some(covered.len() as i64 - done)
    );
    assert_eq!(whole["daysLeft"].as_i64(), Some(days_left));
    let needed = (covered.len() as i64 - done) as f64 * 7.0 / days_left as f64;
    assert!(
        (whole["neededPerWeek"].as_f64().unwrap_or(-1.0) - needed).abs() < 1e-9,
        "{whole}"
    );
    assert_eq!(
        whole["lastFourWeeksPerWeek"].as_f64(),
        Some(newly / 4.0),
        "{whole}"
    );
    assert_eq!(whole["onTrack"].as_bool(), Some(newly / 4.0 >= needed));
    // per district and dimension: the one district, health only
    assert_eq!(progress.len(), 2, "{v}");
    assert_eq!(
        (
            progress[1]["districtCode"].as_str(),
            progress[1]["dimension"].as_str()
        ),
        (Some("3318"), Some("HEALTH"))
    );
    assert_eq!(progress[1]["total"], whole["total"]);
    // the dashboard draws the target: its problems solved today, of all it covers
    let today = chrono::Local::now().date_naive();
    let done_today = covered
        .iter()
        .filter(|id| solved(&statuses_at(&entries, today), id))
        .count();
    let (status, _, svg) = app.get("/dashboard.svg", Some(&district)).await;
    assert_eq!(status, 200);
    let svg = String::from_utf8_lossy(&svg);
    let id = t["id"].as_i64().expect("id");
    assert!(
        svg.contains(&format!(
            r#"data-target="{id}" data-done="{done_today}" data-total="{}""#,
            covered.len()
        )),
        "{svg}"
    );
    assert!(svg.contains("แก้ไขปัญหาด้านสุขภาพให้ครบ"));
    // after the deadline, everything remaining is due at once
    let v = gql(
        &http,
        &admin,
        set,
        json!({"p": "33", "n": "ทุกปัญหา", "due": day.to_string()}),
    )
    .await;
    let late = data(&v, "setTarget")["id"].as_i64().expect("id");
    let later = (day + chrono::Days::new(10)).to_string();
    let v = gql(&http, &admin, q, json!({"d": later})).await;
    let all = data(&v, "targets")
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["name"] == "ทุกปัญหา")
        .unwrap_or_else(|| panic!("{v}"))["progress"][0]
        .clone();
    assert_eq!(all["daysLeft"].as_i64(), Some(-10), "{all}");
    assert_eq!(all["total"].as_i64(), Some(problems.len() as i64));
    assert_eq!(
        all["neededPerWeek"].as_f64(),
        all["remaining"].as_i64().map(|r| r as f64)
    );
    assert_eq!(all["onTrack"].as_bool(), Some(all["remaining"] == 0));
    let remove_late = "mutation($id: Int!) { removeTarget(id: $id) }";
    assert_eq!(
        gql(&http, &admin, remove_late, json!({"id": late})).await["data"]["removeTarget"],
        true
    );
    let remove = "mutation($id: Int!) { removeTarget(id: $id) }";
    assert_eq!(
        code(&gql(&http, &district, remove, json!({"id": id})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        gql(&http, &admin, remove, json!({"id": id})).await["data"]["removeTarget"],
        true
    );
    assert_eq!(
        data(
            &gql(&http, &admin, "{ targets { id } }", json!({})).await,
            "targets"
        ),
        &json!([])
    );
}

on_both_databases!(
    targets_show_progress_and_the_rate_needed,
    quarters_fiscal_years_and_agency_results_come_from_the_history,
    agencies_plan_problems_and_the_board_sees_them_done,
    stats_as_of_any_day_match_the_history,
);
