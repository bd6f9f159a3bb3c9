//! The staff page's server side: the page itself, the template, the dashboard chart and the
//! monthly report (over HTTP and from the command line) — on both databases.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use calamine::{Data, Reader, open_workbook_auto_from_rs};
use chrono::{Datelike, NaiveDate};
use entity::catalog::indicator;
use entity::types::{Dimension, ProblemStatus};
use importer::generate::Dataset;
use std::collections::BTreeMap;
use std::io::Cursor;

async fn seeded(app: &TestApp) -> Dataset {
    let ds = dataset(40, 21);
    let r = app
        .import("seed.xlsx", render(&ds, false, false).bytes)
        .await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    ds
}

/// `data-…` attributes of the chart's segments: (dimension, status) → count.
fn segments(svg: &str) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for rect in svg.split("<rect").skip(1) {
        let attr = |name: &str| {
            rect.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        if let (Some(d), Some(s), Some(n)) = (
            attr("data-dimension"),
            attr("data-status"),
            attr("data-count"),
        ) {
            *out.entry((d, s)).or_default() += n.parse::<u64>().expect("a count");
        }
    }
    out
}

fn expected_segments(ds: &Dataset, dims: &[Dimension]) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for (p, s) in ds.problems.iter().zip(ds.statuses()) {
        let d = indicator(p.indicator).expect("indicator").dimension;
        if dims.contains(&d) {
            *out.entry((d.key().to_string(), s.key().to_string()))
                .or_default() += 1;
        }
    }
    out
}

async fn the_page_and_the_blank_template_are_served(app: TestApp) {
    let (status, ct, body) = app.get("/", None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = String::from_utf8(body).expect("utf-8");
    for text in ["ตรวจสอบ", "นำเข้า", "English", "Apollo-Require-Preflight"]
    {
        assert!(page.contains(text), "{text}");
    }
    // nothing is fetched from the internet but the map's tiles, from the server the operator
    // sets (OpenStreetMap's by default), named once in the page's meta tag
    let tiles = format!(r#"content="{}""#, api::web::DEFAULT_TILES);
    assert_eq!(page.matches(&tiles).count(), 1);
    let rest = page.replace(&tiles, "");
    assert!(!rest.contains("https://") && !rest.contains("http://"));
    let (status, _, body) = app.get("/template.xlsx", None).await;
    assert_eq!(status, 200);
    let wb = open_workbook_auto_from_rs(Cursor::new(body)).expect("an xlsx");
    assert_eq!(
        wb.sheet_names(),
        vec!["ครัวเรือน", "สมาชิก", "ปัญหา", "วิเคราะห์", "การช่วยเหลือ", "กองทุน"]
    );
}

async fn the_dashboard_draws_what_the_key_may_see(app: TestApp) {
    let ds = seeded(&app).await;
    assert_eq!(app.get("/dashboard.svg", None).await.0, 401);
    let district = app.key(KeyScope::District("3318".into())).await;
    let (status, ct, body) = app.get("/dashboard.svg", Some(&district)).await;
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml; charset=utf-8"));
    let svg = String::from_utf8(body).expect("utf-8");
    assert!(svg.starts_with("<svg") && svg.contains("เมืองจันทร์"), "{svg}");
    assert_eq!(segments(&svg), expected_segments(&ds, Dimension::ALL));
    // an agency's chart holds its dimensions only; English labels on request
    let pho = app.key(KeyScope::Agency("33-pho".into())).await;
    let (_, _, body) = app.get("/dashboard.svg?lang=en", Some(&pho)).await;
    let svg = String::from_utf8(body).expect("utf-8");
    assert_eq!(segments(&svg), expected_segments(&ds, &[Dimension::Health]));
    assert!(svg.contains("Solved") || svg.contains("Not started"));
    // another district's key sees an empty chart
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang Si Sa Ket\n",
    )
    .await;
    let other = app.key(KeyScope::District("3301".into())).await;
    let (_, _, body) = app.get("/dashboard.svg", Some(&other)).await;
    let svg = String::from_utf8(body).expect("utf-8");
    assert!(segments(&svg).is_empty() && svg.contains("ยังไม่มีข้อมูล"));
}

/// Status per problem as of `day`, as the report must derive it.
fn statuses_on(ds: &Dataset, day: NaiveDate) -> Vec<ProblemStatus> {
    let mut latest: Vec<Option<(NaiveDate, usize)>> = vec![None; ds.problems.len()];
    for (i, e) in ds.entries.iter().enumerate() {
        if e.date > day {
            continue;
        }
        let slot = &mut latest[e.problem];
        if slot.is_none_or(|(d, _)| e.date >= d) {
            *slot = Some((e.date, i));
        }
    }
    latest
        .iter()
        .map(|l| l.map_or(ProblemStatus::NotStarted, |(_, i)| ds.entries[i].status))
        .collect()
}

fn cell_text(d: Option<&Data>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The summary sheet as (dimension name → counts per status) and the entries sheet's rows.
fn read_report(bytes: Vec<u8>) -> (BTreeMap<String, Vec<u64>>, usize) {
    let mut wb = open_workbook_auto_from_rs(Cursor::new(bytes)).expect("an xlsx");
    assert_eq!(
        wb.sheet_names(),
        vec!["สรุปรายอำเภอ", "การช่วยเหลือประจำเดือน", "การติดตามรายอำเภอ"]
    );
    let s = wb.worksheet_range("สรุปรายอำเภอ").expect("summary");
    let (r0, _) = s.start().expect("cells");
    let mut by_dim = BTreeMap::new();
    for r in (r0 as usize)..(s.end().expect("cells").0 as usize + 1) {
        let at = |c: u32| s.get_value((r as u32, c));
        if cell_text(at(0)) == "3318" {
            let counts: Vec<u64> = (3..9)
                .map(|c| match at(c) {
                    Some(Data::Float(f)) => *f as u64,
                    Some(Data::Int(i)) => *i as u64,
                    other => panic!("a number, not {other:?}"),
                })
                .collect();
            by_dim.insert(cell_text(at(2)), counts);
        }
    }
    let e = wb.worksheet_range("การช่วยเหลือประจำเดือน").expect("entries");
    let rows = (0..=e.end().map_or(0, |(r, _)| r))
        .filter(|r| {
            e.get_value((*r, 1))
                .is_some_and(|v| v.to_string().len() == 11)
        })
        .count();
    (by_dim, rows)
}

async fn the_monthly_report_counts_statuses_on_the_months_last_day(app: TestApp) {
    let ds = seeded(&app).await;
    // the month of the middle entry, so that later entries exist and must not count
    let mut dates: Vec<NaiveDate> = ds.entries.iter().map(|e| e.date).collect();
    dates.sort();
    let mid = dates[dates.len() / 2];
    let month = format!("{}-{:02}", mid.year(), mid.month());
    let first = NaiveDate::from_ymd_opt(mid.year(), mid.month(), 1).expect("a day");
    let last = api::service::reports::Month::parse(&month)
        .expect("month")
        .last_day();
    assert!(dates.iter().any(|d| *d > last), "later entries exist");
    let mut expected: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (p, s) in ds.problems.iter().zip(statuses_on(&ds, last)) {
        let d = indicator(p.indicator).expect("indicator").dimension;
        let row = expected
            .entry(d.name_th().to_string())
            .or_insert_with(|| vec![0; 6]);
        let i = ProblemStatus::ALL
            .iter()
            .position(|x| *x == s)
            .expect("status");
        row[i] += 1;
        row[5] += 1;
    }
    for d in Dimension::ALL {
        expected
            .entry(d.name_th().to_string())
            .or_insert_with(|| vec![0; 6]);
    }
    let in_month = dates.iter().filter(|d| **d >= first && **d <= last).count();

    let district = app.key(KeyScope::District("3318".into())).await;
    let (status, ct, body) = app
        .get(
            &format!("/reports/monthly.xlsx?month={month}"),
            Some(&district),
        )
        .await;
    assert_eq!(status, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let (by_dim, entries) = read_report(body);
    assert_eq!(by_dim, expected);
    assert_eq!(entries, in_month);

    // the same from the command line
    let out = tempfile::tempdir().expect("dir");
    let path = out.path().join("report.xlsx");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(["report", "--month", &month, path.to_str().expect("path")])
        .env("DATABASE_URL", &app.url)
        .env_remove("RUST_LOG")
        .output()
        .expect("run logbook");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (by_dim, entries) = read_report(std::fs::read(&path).expect("the report"));
    assert_eq!((by_dim, entries), (expected, in_month));

    // bad months and missing keys are refused
    for bad in ["2026-13", "oct", ""] {
        let (status, _, body) = app
            .get(
                &format!("/reports/monthly.xlsx?month={bad}"),
                Some(&district),
            )
            .await;
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (status, v["errors"][0]["extensions"]["code"].as_str()),
            (400, Some("BAD_USER_INPUT")),
            "{bad}"
        );
    }
    assert_eq!(
        app.get(&format!("/reports/monthly.xlsx?month={month}"), None)
            .await
            .0,
        401
    );
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(["report", "--month", "2026-13", path.to_str().expect("path")])
        .env("DATABASE_URL", &app.url)
        .output()
        .expect("run logbook");
    assert_eq!(run.status.code(), Some(2));
}

on_both_databases!(
    the_page_and_the_blank_template_are_served,
    the_dashboard_draws_what_the_key_may_see,
    the_monthly_report_counts_statuses_on_the_months_last_day,
);
