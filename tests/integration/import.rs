//! Importing generated district workbooks: clean and messy, Thai and English headers, the
//! first and the second month, injected mistakes; exact counts, stored values and figures.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use importer::report::{ImportReport, ImportStatus, SheetCounts};
use importer::workbook::SheetKind;

fn counts(r: &ImportReport, k: SheetKind) -> SheetCounts {
    r.sheets[&k]
}

fn all_inserted(r: &ImportReport, k: SheetKind, n: usize) {
    let c = counts(r, k);
    assert_eq!(
        (c.read, c.inserted, c.updated, c.unchanged, c.rejected),
        (n as u32, n as u32, 0, 0, 0),
        "{k:?} counts of {}",
        r.file
    );
}

fn all_unchanged(r: &ImportReport) {
    for (k, c) in &r.sheets {
        assert_eq!(
            (c.inserted, c.updated, c.unchanged, c.rejected),
            (0, 0, c.read, 0),
            "{k:?} of {}",
            r.file
        );
    }
}

async fn clean_first_month_inserts_every_row_and_figures_match_the_dataset(app: TestApp) {
    let ds = dataset(40, 1);
    let r = app
        .import("clean.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(r.status, ImportStatus::Imported, "{:?}", r.errors);
    assert!(r.errors.is_empty());
    all_inserted(&r, SheetKind::Households, ds.households.len());
    all_inserted(&r, SheetKind::Members, ds.members.len());
    all_inserted(&r, SheetKind::Problems, ds.problems.len());
    all_inserted(&r, SheetKind::Analysis, ds.analyses.len());
    all_inserted(&r, SheetKind::Assistance, ds.entries.len());
    assert_eq!(app.stats().await, ds.expected_stats());
    let unknown = ds.entries.iter().filter(|e| !e.agency_known).count();
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.code == "unknown_agency")
            .count(),
        unknown
    );
}

async fn a_messy_workbook_stores_exactly_what_its_clean_twin_does(app: TestApp) {
    let ds = dataset(60, 2);
    let messy = app
        .import("messy.xlsx", render(&ds, true, false).bytes)
        .await;
    assert_eq!(messy.status, ImportStatus::Imported, "{:#?}", messy.errors);
    assert_eq!(app.stats().await, ds.expected_stats());
    assert!(messy.warnings.iter().any(|w| w.code == "unknown_sheet"));
    assert!(messy.warnings.iter().any(|w| w.code == "unknown_column"));
    // the same data, tidy: every row reads as unchanged
    let clean = app
        .import("clean.xlsx", render(&ds, false, false).bytes)
        .await;
    all_unchanged(&clean);
    // and under English headers too
    let english = app
        .import("english.xlsx", render(&ds, false, true).bytes)
        .await;
    all_unchanged(&english);
}

/// Headers as district staff type them, written out here by hand from workbook-format.md
/// (the canonical English keys and the other spellings it lists), never taken from the
/// importer's alias table: (sheet, column, header).
fn english_headers() -> Vec<(SheetKind, &'static str, &'static str)> {
    use SheetKind::*;
    vec![
        (Households, "house_code", "house_code"),
        (Households, "house_no", "house_no"),
        (Households, "village_no", "village_no"),
        (Households, "village_name", "village_name"),
        (Households, "subdistrict", "tambon"),
        (Households, "district", "amphoe"),
        (Households, "province", "Province"),
        (Households, "village_code", "village_code"),
        (Households, "head_title", "title"),
        (Households, "head_name", "head_name"),
        (Households, "head_citizen_id", "head_citizen_id"),
        (Households, "members", "members"),
        (Households, "classification", "classification"),
        (Households, "cohort", "source"),
        (Households, "latitude", "lat"),
        (Households, "longitude", "lon"),
        (Members, "house_code", "house_code"),
        (Members, "citizen_id", "citizen_id"),
        (Members, "title", "title"),
        (Members, "first_name", "first_name"),
        (Members, "last_name", "last_name"),
        (Members, "sex", "sex"),
        (Members, "birth_date", "birth_date"),
        (Members, "age", "age"),
        (Members, "relation", "relation"),
        (Members, "disabled", "disabled"),
        (Problems, "house_code", "house_code"),
        (Problems, "indicator", "indicator"),
        (Problems, "citizen_id", "citizen_id"),
        (Problems, "dimension", "dimension"),
        (Problems, "cohort", "source"),
        (Problems, "detail", "detail"),
        (Analysis, "house_code", "house_code"),
        (Analysis, "attitude", "attitude"),
        (Analysis, "skills", "skills"),
        (Analysis, "resources", "resources"),
        (Analysis, "way_out", "way_out"),
        (Analysis, "analysed_on", "analysed_on"),
        (Analysis, "mentor", "mentor"),
        (Assistance, "house_code", "house_code"),
        (Assistance, "indicator", "indicator"),
        (Assistance, "citizen_id", "citizen_id"),
        (Assistance, "cohort", "cohort"),
        (Assistance, "date", "date"),
        (Assistance, "agency", "agency"),
        (Assistance, "activity", "activity"),
        (Assistance, "menu", "menu"),
        (Assistance, "amount", "amount"),
        (Assistance, "fund", "fund"),
        (Assistance, "status", "status"),
        (Assistance, "note", "note"),
    ]
}

/// The same in Thai, using the other spellings the contract lists where it lists any.
fn thai_headers() -> Vec<(SheetKind, &'static str, &'static str)> {
    use SheetKind::*;
    vec![
        (Households, "house_code", "รหัสประจำบ้าน"),
        (Households, "house_no", "บ้านเลขที่"),
        (Households, "village_no", "หมู่"),
        (Households, "village_name", "หมู่บ้าน"),
        (Households, "subdistrict", "ตำบล"),
        (Households, "district", "อำเภอ"),
        (Households, "province", "จังหวัด"),
        (Households, "village_code", "รหัสหมู่บ้าน"),
        (Households, "head_title", "คำนำหน้า"),
        (Households, "head_name", "หัวหน้าครัวเรือน"),
        (Households, "head_citizen_id", "เลขบัตรประชาชนหัวหน้าครัวเรือน"),
        (Households, "members", "จำนวนสมาชิก"),
        (Households, "classification", "กลุ่มครัวเรือน"),
        (Households, "cohort", "ที่มา"),
        (Households, "latitude", "ละติจูด"),
        (Households, "longitude", "ลองจิจูด"),
        (Members, "house_code", "รหัสบ้าน"),
        (Members, "citizen_id", "เลขประจำตัวประชาชน"),
        (Members, "title", "คำนำหน้า"),
        (Members, "first_name", "ชื่อ"),
        (Members, "last_name", "นามสกุล"),
        (Members, "sex", "เพศ"),
        (Members, "birth_date", "วัน/เดือน/ปีเกิด"),
        (Members, "age", "อายุ"),
        (Members, "relation", "ความสัมพันธ์"),
        (Members, "disabled", "พิการ"),
        (Problems, "house_code", "รหัสบ้าน"),
        (Problems, "indicator", "ตัวชี้วัดที่"),
        (Problems, "citizen_id", "เลขบัตรประชาชน"),
        (Problems, "dimension", "มิติ"),
        (Problems, "cohort", "ที่มา"),
        (Problems, "detail", "สภาพปัญหา"),
        (Analysis, "house_code", "รหัสบ้าน"),
        (Analysis, "attitude", "ทัศนคติ"),
        (Analysis, "skills", "ทักษะ"),
        (Analysis, "resources", "ทรัพยากร"),
        (Analysis, "way_out", "ทางออก"),
        (Analysis, "analysed_on", "วันที่วิเคราะห์"),
        (Analysis, "mentor", "ผู้วิเคราะห์"),
        (Assistance, "house_code", "รหัสบ้าน"),
        (Assistance, "indicator", "ตัวชี้วัด"),
        (Assistance, "citizen_id", "เลขบัตรประชาชน"),
        (Assistance, "cohort", "ที่มา"),
        (Assistance, "date", "วันที่ช่วยเหลือ"),
        (Assistance, "agency", "หน่วยงานที่ช่วยเหลือ"),
        (Assistance, "activity", "โครงการ/กิจกรรม"),
        (Assistance, "menu", "เมนูแก้จน"),
        (Assistance, "amount", "มูลค่า"),
        (Assistance, "fund", "กองทุน"),
        (Assistance, "status", "สถานะ"),
        (Assistance, "note", "หมายเหตุ"),
    ]
}

/// The text cells of a workbook's sheets (to check the headers written are the typed ones).
fn sheet_texts(bytes: &[u8]) -> Vec<String> {
    use calamine::{Reader, Xlsx};
    let mut x: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let mut out = Vec::new();
    for name in x.sheet_names() {
        let range = x.worksheet_range(&name).expect("sheet");
        out.extend(range.rows().take(6).flatten().map(|d| d.to_string()));
    }
    out
}

async fn hand_typed_english_and_thai_headers_read_the_same_fields(app: TestApp) {
    let ds = dataset(25, 3);
    let workbook = |english: bool, headers: Vec<(SheetKind, &'static str, &'static str)>| {
        let written = importer::generate::write_workbook(
            &ds,
            &importer::generate::Style {
                messy: true,
                english,
                seed: 11,
                headers: headers.clone(),
            },
        )
        .expect("workbook");
        let texts = sheet_texts(&written.bytes);
        for (kind, key, header) in &headers {
            assert!(
                texts.iter().any(|t| t == header),
                "{kind:?} {key}: {header} written"
            );
        }
        written.bytes
    };
    let r = app
        .import("english.xlsx", workbook(true, english_headers()))
        .await;
    assert_eq!(r.status, ImportStatus::Imported, "{:#?}", r.errors);
    for (k, n) in [
        (SheetKind::Households, ds.households.len()),
        (SheetKind::Members, ds.members.len()),
        (SheetKind::Problems, ds.problems.len()),
        (SheetKind::Assistance, ds.entries.len()),
    ] {
        all_inserted(&r, k, n);
    }
    assert_eq!(app.stats().await, ds.expected_stats());
    // the same rows under Thai headers: every value lands in the same field, so nothing changes
    let r = app
        .import("thai.xlsx", workbook(false, thai_headers()))
        .await;
    assert_eq!(r.status, ImportStatus::Imported, "{:#?}", r.errors);
    all_unchanged(&r);
    // and a header the contract does not list is not guessed: the column is unknown and the
    // required field it would have filled is missing
    let mut wrong = english_headers();
    wrong.retain(|h| !(h.0 == SheetKind::Members && h.1 == "citizen_id"));
    wrong.push((SheetKind::Members, "citizen_id", "id_card"));
    let r = app.import("wrong.xlsx", workbook(true, wrong)).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert!(
        r.errors
            .iter()
            .any(|e| e.code == "missing_column" && e.sheet == Some(SheetKind::Members)),
        "{:#?}",
        r.errors
    );
}

async fn second_month_counts_unchanged_rows(app: TestApp) {
    let mut ds = dataset(50, 4);
    app.import("m1.xlsx", render(&ds, true, false).bytes).await;
    let changes = ds.next_month(99, crate::helpers::today());
    assert!(
        changes.new_entries > 0 && changes.changed_households > 0 && changes.changed_analyses > 0,
        "{changes:?}"
    );
    let r = app.import("m2.xlsx", render(&ds, true, false).bytes).await;
    assert_eq!(r.status, ImportStatus::Imported, "{:#?}", r.errors);
    let h = counts(&r, SheetKind::Households);
    assert_eq!(
        (h.inserted, h.updated, h.unchanged),
        (
            0,
            changes.changed_households as u32,
            (ds.households.len() - changes.changed_households) as u32
        )
    );
    let a = counts(&r, SheetKind::Analysis);
    assert_eq!(
        (a.inserted, a.updated),
        (0, changes.changed_analyses as u32)
    );
    let e = counts(&r, SheetKind::Assistance);
    assert_eq!(
        (e.inserted, e.updated, e.unchanged),
        (
            changes.new_entries as u32,
            0,
            (ds.entries.len() - changes.new_entries) as u32
        )
    );
    for k in [SheetKind::Members, SheetKind::Problems] {
        let c = counts(&r, k);
        assert_eq!(
            (c.inserted, c.updated, c.unchanged),
            (0, 0, c.read),
            "{k:?}"
        );
    }
    assert_eq!(app.stats().await, ds.expected_stats());
}

async fn importing_the_same_workbook_twice_changes_nothing_the_second_time(app: TestApp) {
    let ds = dataset(30, 5);
    let bytes = render(&ds, true, false).bytes;
    app.import("a.xlsx", bytes.clone()).await;
    let stats = app.stats().await;
    let provenance = app
        .count("SELECT COUNT(*) FROM households WHERE batch_id = 1")
        .await;
    let r = app.import("a.xlsx", bytes).await;
    assert_eq!(r.status, ImportStatus::Imported);
    all_unchanged(&r);
    assert_eq!(app.stats().await, stats);
    // unchanged rows keep the batch they came from
    assert_eq!(
        app.count("SELECT COUNT(*) FROM households WHERE batch_id = 1")
            .await,
        provenance
    );
    assert_eq!(provenance, ds.households.len() as i64);
}

async fn a_workbook_with_mistakes_is_rejected_whole_and_names_every_bad_cell(app: TestApp) {
    let mut ds = dataset(20, 6);
    // plant mistakes
    ds.set_raw(SheetKind::Households, 2, "house_code", "12345");
    ds.set_raw(SheetKind::Households, 5, "subdistrict", "หนองใหญ");
    ds.set_raw(SheetKind::Members, 3, "citizen_id", "12345678901");
    ds.set_raw(SheetKind::Members, 6, "birth_date", "31/02/2565");
    ds.set_raw(SheetKind::Members, 7, "citizen_id", "1.23456789012E+12");
    ds.set_raw(SheetKind::Problems, 1, "indicator", "42");
    ds.set_raw(SheetKind::Assistance, 0, "status", "เสร็จแล้วมั้ง");
    ds.set_raw(SheetKind::Assistance, 1, "date", "15/09/2599");
    let w = render(&ds, false, false);
    let before = app.stats().await;
    let r = app.import("bad.xlsx", w.bytes.clone()).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let has = |sheet: SheetKind, index: usize, code: &str| {
        let row = w.row(sheet, index);
        assert!(
            r.errors
                .iter()
                .any(|e| e.sheet == Some(sheet) && e.row == Some(row) && e.code == code),
            "expected {code} at {sheet:?} row {row}; errors: {:#?}",
            r.errors
        );
    };
    has(SheetKind::Households, 2, "house_code_length");
    has(SheetKind::Households, 5, "subdistrict_unknown");
    has(SheetKind::Members, 3, "citizen_id_length");
    has(SheetKind::Members, 6, "date_nonexistent");
    has(SheetKind::Members, 7, "citizen_id_scientific");
    has(SheetKind::Problems, 1, "indicator_unknown");
    has(SheetKind::Assistance, 0, "status_invalid");
    has(SheetKind::Assistance, 1, "date_future");
    // the suggestion names the closest subdistrict
    let sub = r
        .errors
        .iter()
        .find(|e| e.code == "subdistrict_unknown")
        .expect("subdistrict error");
    assert!(
        sub.message_th.contains("หนองใหญ่") && sub.message_en.contains("Did you mean"),
        "{sub:?}"
    );
    assert_eq!(sub.column.as_deref(), Some("ตำบล"));
    assert_eq!(sub.value.as_deref(), Some("หนองใหญ"));
    // the members of the households with errors are dependants, named as such
    let bad_house = &ds.households[5].house_code;
    for (i, m) in ds.members.iter().enumerate() {
        if &m.house_code == bad_house && i != 3 && i != 6 && i != 7 {
            has(SheetKind::Members, i, "depends_on_rejected_row");
        }
    }
    // every other error row is a dependant
    let planted = [
        (SheetKind::Households, w.row(SheetKind::Households, 2)),
        (SheetKind::Households, w.row(SheetKind::Households, 5)),
        (SheetKind::Members, w.row(SheetKind::Members, 3)),
        (SheetKind::Members, w.row(SheetKind::Members, 6)),
        (SheetKind::Members, w.row(SheetKind::Members, 7)),
        (SheetKind::Problems, w.row(SheetKind::Problems, 1)),
        (SheetKind::Assistance, w.row(SheetKind::Assistance, 0)),
        (SheetKind::Assistance, w.row(SheetKind::Assistance, 1)),
    ];
    for e in &r.errors {
        let key = (e.sheet.expect("sheet"), e.row.expect("row"));
        assert!(
            planted.contains(&key) || e.code == "depends_on_rejected_row",
            "unexpected error {e:?}"
        );
    }
    // rejected counts are per row
    let rejected_rows: std::collections::HashSet<_> =
        r.errors.iter().map(|e| (e.sheet, e.row)).collect();
    let total_rejected: u32 = r.sheets.values().map(|c| c.rejected).sum();
    assert_eq!(total_rejected as usize, rejected_rows.len());
    for c in r.sheets.values() {
        assert_eq!(c.inserted + c.updated + c.unchanged + c.rejected, c.read);
    }
    // nothing written but the batch and its issues
    assert_eq!(app.stats().await, before);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM areas WHERE level = 'village'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM import_batches WHERE status = 'rejected'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM import_issues WHERE severity = 'error'")
            .await,
        r.errors.len() as i64
    );
}

async fn a_dry_run_reports_what_would_happen_and_writes_nothing(app: TestApp) {
    let ds = dataset(15, 7);
    let r = app
        .import_with("dry.xlsx", render(&ds, true, false).bytes, true, None)
        .await;
    assert_eq!(r.status, ImportStatus::DryRun);
    assert!(r.batch_id.is_none());
    all_inserted(&r, SheetKind::Households, ds.households.len());
    assert_eq!(app.stats().await.households, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 0);
    // a dry run of a bad workbook is rejected and still writes nothing
    let mut bad = ds.clone();
    bad.set_raw(SheetKind::Members, 0, "citizen_id", "abc");
    let r = app
        .import_with("dry-bad.xlsx", render(&bad, false, false).bytes, true, None)
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 0);
}

async fn a_district_import_refuses_rows_of_other_districts(app: TestApp) {
    let ds = dataset(10, 8);
    let r = app
        .import_with(
            "other.xlsx",
            render(&ds, false, false).bytes,
            false,
            Some("3301"),
        )
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert_eq!(
        r.errors
            .iter()
            .filter(|e| e.code == "out_of_district")
            .count(),
        ds.households.len()
    );
    assert_eq!(app.stats().await.households, 0);
    // its own district imports; then a members-only workbook for a stored household of
    // another district is refused too
    let r = app
        .import_with(
            "own.xlsx",
            render(&ds, false, false).bytes,
            false,
            Some("3318"),
        )
        .await;
    assert_eq!(r.status, ImportStatus::Imported);
    assert_eq!(app.district_stats("3318").await, ds.expected_stats());
    assert_eq!(app.district_stats("3301").await.households, 0);
    let mut members_only = importer::generate::Dataset {
        members: ds.members[..2].to_vec(),
        ..Default::default()
    };
    members_only.members[0].first_name = "เปลี่ยนชื่อ".into();
    let r = app
        .import_with(
            "m.xlsx",
            render(&members_only, false, false).bytes,
            false,
            Some("3301"),
        )
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert!(
        r.errors.iter().all(|e| e.code == "out_of_district"),
        "{:?}",
        r.errors
    );
    let r = app
        .import_with(
            "m.xlsx",
            render(&members_only, false, false).bytes,
            false,
            Some("3318"),
        )
        .await;
    assert_eq!(r.status, ImportStatus::Imported);
    let c = counts(&r, SheetKind::Members);
    assert_eq!((c.updated, c.unchanged), (1, 1));
}

async fn the_same_identity_twice_is_a_duplicate_naming_both_rows(app: TestApp) {
    let mut ds = dataset(8, 9);
    let dup = ds.members[0].clone();
    ds.members.push(dup);
    let last = ds.members.len() - 1;
    let w = render(&ds, false, false);
    let r = app.import("dup.xlsx", w.bytes.clone()).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let e = r
        .errors
        .iter()
        .find(|e| e.code == "duplicate_row")
        .expect("duplicate error");
    assert_eq!(e.row, Some(w.row(SheetKind::Members, last)));
    let first = w.row(SheetKind::Members, 0).to_string();
    assert!(
        e.message_en.contains(&first) && e.message_th.contains(&first),
        "{e:?}"
    );
}

/// A later file's members sheet need not repeat everyone: a problem naming a person stored
/// in its household is fine; one naming a person stored in another household is refused,
/// naming the row.
async fn a_problem_may_name_a_member_stored_by_an_earlier_file(app: TestApp) {
    let ds = dataset(30, 6);
    let r = app
        .import("full.xlsx", render(&ds, false, false).bytes)
        .await;
    assert_eq!(r.status, ImportStatus::Imported, "{:?}", r.errors);
    let (i, cid) = ds
        .problems
        .iter()
        .enumerate()
        .find_map(|(i, p)| p.citizen_id.clone().map(|c| (i, c)))
        .expect("a person's problem");
    let mut later = ds.clone();
    later.members.retain(|m| m.citizen_id != cid);
    assert_eq!(later.members.len() + 1, ds.members.len());

    // the problem moved to a household the person is not stored in
    let mut elsewhere = later.clone();
    let other = ds
        .households
        .iter()
        .map(|h| h.house_code.clone())
        .find(|h| *h != ds.problems[i].house_code)
        .expect("another household");
    elsewhere.problems[i].house_code = other.clone();
    let r = app
        .import("elsewhere.xlsx", render(&elsewhere, false, false).bytes)
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let e = r
        .errors
        .iter()
        .find(|e| e.code.as_str() == "member_not_in_household")
        .unwrap_or_else(|| panic!("{:?}", r.errors));
    assert_eq!(
        (e.sheet, e.value.as_deref()),
        (Some(SheetKind::Problems), Some(cid.as_str()))
    );
    assert!(e.message_en.contains(&other), "{}", e.message_en);

    // in its own household: nothing to change
    let r = app
        .import("later.xlsx", render(&later, false, false).bytes)
        .await;
    assert_eq!(r.status, ImportStatus::Imported, "{:?}", r.errors);
    all_unchanged(&r);
    assert_eq!(
        counts(&r, SheetKind::Problems).unchanged as usize,
        ds.problems.len()
    );
}

async fn a_problem_status_is_its_latest_entry_by_date_then_by_order_written(app: TestApp) {
    use entity::types::ProblemStatus;
    let mut ds = dataset(12, 10);
    // find a problem and give it two entries on one day: the later row wins
    let p = 0;
    ds.entries.retain(|e| e.problem != p);
    let day = crate::helpers::today() - chrono::Days::new(30);
    let mk = |status, activity: &str| importer::generate::GEntry {
        problem: p,
        date: day,
        agency: "พมจ.".into(),
        agency_known: true,
        activity: activity.into(),
        menu: None,
        amount: None,
        fund: None,
        status,
    };
    ds.entries.push(mk(ProblemStatus::FollowingUp, "ก"));
    ds.entries.push(mk(ProblemStatus::NotSolvableYet, "ข"));
    // an older entry written after them does not win
    let mut older = mk(ProblemStatus::Solved, "ค");
    older.date = day - chrono::Days::new(10);
    ds.entries.push(older);
    app.import("s.xlsx", render(&ds, false, false).bytes).await;
    let sql = format!(
        "SELECT COUNT(*) FROM problems WHERE house_code = '{}' AND indicator_code = {} AND status = 'not_solvable_yet'",
        ds.problems[p].house_code, ds.problems[p].indicator
    );
    assert_eq!(app.count(&sql).await, 1);
    assert_eq!(app.stats().await, ds.expected_stats());
    // every problem inserted here carries its latest entry's status and next visit, as the
    // database's own rule over the logbook gives them
    let (helped, visits) = (
        app.count("SELECT COUNT(*) FROM problems WHERE status <> 'not_started'")
            .await,
        app.count("SELECT COUNT(*) FROM problems WHERE next_visit_on IS NOT NULL")
            .await,
    );
    assert!(helped > 0 && visits > 0, "{helped} helped, {visits} visits");
    assert_eq!(app.count(OFF_THEIR_LOGBOOK).await, 0);
    // a later batch on the same day wins over both
    let mut next = ds.clone();
    next.entries.push(mk(ProblemStatus::Solved, "ง"));
    app.import("s2.xlsx", render(&next, false, false).bytes)
        .await;
    assert_eq!(app.stats().await, next.expected_stats());
    assert_eq!(app.count(&sql).await, 0);
    assert_eq!(app.count(OFF_THEIR_LOGBOOK).await, 0);
}

/// Problems whose status or next visit is not their latest logbook entry's (by date, then
/// the order written), counted by the database from the logbook itself.
const OFF_THEIR_LOGBOOK: &str = "SELECT COUNT(*) FROM problems WHERE \
    status <> COALESCE((SELECT e.status FROM logbook_entries e WHERE e.problem_id = problems.id \
        ORDER BY e.entry_date DESC, e.written_seq DESC, e.id DESC LIMIT 1), 'not_started') \
    OR next_visit_on IS DISTINCT FROM (SELECT e.next_visit_on FROM logbook_entries e \
        WHERE e.problem_id = problems.id \
        ORDER BY e.entry_date DESC, e.written_seq DESC, e.id DESC LIMIT 1)";

async fn an_unreadable_file_is_rejected_with_a_clear_error(app: TestApp) {
    let r = app
        .import("notes.txt", b"this is not a workbook".to_vec())
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert_eq!(r.errors[0].code, "file_unreadable");
    assert!(r.errors[0].message_th.contains("Excel"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM import_batches WHERE status = 'rejected'")
            .await,
        1
    );
}

async fn a_missing_required_column_rejects_its_sheet(app: TestApp) {
    let ds = dataset(5, 11);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("ครัวเรือน").expect("name");
    // no cohort column
    for (c, h) in ["รหัสบ้าน", "หมู่ที่", "ตำบล", "อำเภอ", "จังหวัด"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("write");
    }
    let h = &ds.households[0];
    for (c, v) in [
        h.house_code.as_str(),
        "1",
        h.subdistrict.as_str(),
        "เมืองจันทร์",
        "ศรีสะเกษ",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, c as u16, *v).expect("write");
    }
    let r = app
        .import("nocohort.xlsx", wb.save_to_buffer().expect("save"))
        .await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let e = &r.errors[0];
    assert_eq!(
        (e.code.as_str(), e.column.as_deref(), e.row),
        ("missing_column", Some("ที่มา"), Some(1))
    );
    assert_eq!(counts(&r, SheetKind::Households).rejected, 1);
}

async fn a_village_keeps_its_first_name_and_a_new_name_warns(app: TestApp) {
    let mut ds = dataset(6, 12);
    app.import("v1.xlsx", render(&ds, false, false).bytes).await;
    let code = format!(
        "{}{:02}",
        ds.households[0].subdistrict_code, ds.households[0].village_no
    );
    let first_name = ds.households[0].village_name.clone();
    ds.households[0].village_name = "บ้านชื่อใหม่".into();
    let r = app.import("v2.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(r.status, ImportStatus::Imported);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "village_renamed" && w.value.as_deref() == Some("บ้านชื่อใหม่"))
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM areas WHERE code = '{code}' AND name_th = '{first_name}'"
        ))
        .await,
        1
    );
    // the household itself did not change
    assert_eq!(counts(&r, SheetKind::Households).updated, 0);
}

on_both_databases!(
    clean_first_month_inserts_every_row_and_figures_match_the_dataset,
    a_messy_workbook_stores_exactly_what_its_clean_twin_does,
    hand_typed_english_and_thai_headers_read_the_same_fields,
    second_month_counts_unchanged_rows,
    importing_the_same_workbook_twice_changes_nothing_the_second_time,
    a_workbook_with_mistakes_is_rejected_whole_and_names_every_bad_cell,
    a_dry_run_reports_what_would_happen_and_writes_nothing,
    a_district_import_refuses_rows_of_other_districts,
    the_same_identity_twice_is_a_duplicate_naming_both_rows,
    a_problem_status_is_its_latest_entry_by_date_then_by_order_written,
    a_problem_may_name_a_member_stored_by_an_earlier_file,
    an_unreadable_file_is_rejected_with_a_clear_error,
    a_missing_required_column_rejects_its_sheet,
    a_village_keeps_its_first_name_and_a_new_name_warns,
);

/// Bangkok's areas as the country's master file writes them (เขต … / bare แขวง names).
const BANGKOK: &str = "level,code,parent_code,name_th,name_en
province,10,,กรุงเทพมหานคร,Bangkok
district,1001,10,เขตพระนคร,Khet Phra Nakhon
subdistrict,100101,1001,พระบรมมหาราชวัง,Phra Borom Maha Ratchawang
subdistrict,100102,1001,วังบูรพาภิรมย์,Wang Burapha Phirom
subdistrict,100103,1001,วัดราชบพิธ,Wat Ratchabophit
";

async fn a_messy_bangkok_workbook_imports_with_khet_and_khwaeng(app: TestApp) {
    app.load_areas_csv(BANGKOK).await;
    let rows = importer::areas::parse_csv(BANGKOK.as_bytes()).expect("csv");
    let ds = importer::generate::synthesize(&importer::generate::GenOptions {
        households: 200,
        seed: 3,
        as_of: crate::helpers::today(),
        areas: importer::generate::DistrictAreas::from_rows(&rows, "1001").expect("1001"),
    });
    let written = render(&ds, true, false);
    let r = app.import("bangkok.xlsx", written.bytes).await;
    assert_eq!(
        r.status,
        ImportStatus::Imported,
        "{:?}",
        &r.errors[..r.errors.len().min(5)]
    );
    all_inserted(&r, SheetKind::Households, 200);
    assert_eq!(
        app.count("select count(*) from households where subdistrict_code like '1001%'")
            .await,
        200
    );
}

on_both_databases!(a_messy_bangkok_workbook_imports_with_khet_and_khwaeng);

/// The bulk writer cuts rows into statements (SQLite: 2,000 villages a statement) or buffers
/// (PostgreSQL `COPY`), and makes the next chunk's values while the last one is written:
/// every row of every chunk lands, an upsert of them all changes each one, and a value that
/// cannot be made in the last chunk leaves nothing of its transaction behind.
async fn the_bulk_writer_writes_every_chunk_and_nothing_when_one_fails(app: TestApp) {
    use entity::db::{Table, WriteTx};
    use sea_orm::{DbErr, Value};
    const N: i32 = 4_500;
    let table = Table::of::<entity::area::Entity>(&["code"], &[]);
    let rows: Vec<i32> = (0..N).collect();
    let rows: Vec<&i32> = rows.iter().collect();
    // code, level, parent, Thai name, English name, batch, sheet, row
    let village = |first: i32, name: &'static str, fail_at: Option<i32>| {
        move |i: &i32| -> Result<Vec<Value>, DbErr> {
            if Some(*i) == fail_at {
                return Err(DbErr::Custom(format!("no value for village {i}")));
            }
            Ok(vec![
                Value::from(format!("{}", first + i)),
                Value::from("village"),
                Value::from("331801"),
                Value::from(format!("{name}{i}")),
                Value::String(None),
                Value::Int(None),
                Value::from("households"),
                Value::from(*i),
            ])
        }
    };
    let villages = "SELECT COUNT(*) FROM areas WHERE level = 'village' AND source_row IS NOT NULL";

    let mut tx = WriteTx::begin(&app.db).await.expect("begin");
    tx.write_rows(&table, &rows, village(10_000_000, "v", None), false)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(app.count(villages).await, i64::from(N));
    assert_eq!(
        app.count("SELECT SUM(source_row) FROM areas WHERE name_th LIKE 'v%'")
            .await,
        i64::from(N) * i64::from(N - 1) / 2,
        "each row once"
    );

    let mut tx = WriteTx::begin(&app.db).await.expect("begin");
    tx.write_rows(&table, &rows, village(10_000_000, "w", None), true)
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    assert_eq!(app.count(villages).await, i64::from(N));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM areas WHERE name_th LIKE 'w%'")
            .await,
        i64::from(N),
        "every row updated"
    );

    let mut tx = WriteTx::begin(&app.db).await.expect("begin");
    let err = tx
        .write_rows(
            &table,
            &rows,
            village(20_000_000, "x", Some(N - 100)),
            false,
        )
        .await
        .expect_err("a row without its values");
    assert!(
        err.to_string().contains(&format!("village {}", N - 100)),
        "{err}"
    );
    drop(tx);
    assert_eq!(
        app.count(villages).await,
        i64::from(N),
        "nothing of it written"
    );
}

on_both_databases!(the_bulk_writer_writes_every_chunk_and_nothing_when_one_fails);

/// An import refreshes the planner statistics of the tables it changed materially, and only
/// those: a table whose statistics count ten times the rows written is left as it is.
async fn statistics_are_refreshed_only_where_an_import_changed_a_table_materially(app: TestApp) {
    app.load_builtin_areas().await;
    let r = app
        .import("d.xlsx", render(&dataset(1_600, 5), false, false).bytes)
        .await;
    assert_eq!(r.status.as_str(), "imported", "{:?}", r.errors);
    let members = app.count("SELECT COUNT(*) FROM members").await as u64;
    assert!(
        members > 5_020,
        "{members} members: enough for the boundary"
    );
    let refresh = |n: u64| {
        let db = app.db.clone();
        async move { entity::db::refresh_statistics(&db, &[("members", n)]).await }
    };
    // the import analysed the members: a tenth of them, less one, is not material
    assert_eq!(
        refresh(members / 10 - 1).await.expect("refresh"),
        Vec::<String>::new()
    );
    assert_eq!(
        refresh(members / 10 + 1).await.expect("refresh"),
        vec!["members".to_string()]
    );
    // a few rows never are; a table never analysed always is
    assert!(refresh(499).await.expect("refresh").is_empty());
    assert_eq!(
        entity::db::refresh_statistics(&app.db, &[("fund_movements", 500)])
            .await
            .expect("refresh"),
        vec!["fund_movements".to_string()]
    );
}

on_both_databases!(statistics_are_refreshed_only_where_an_import_changed_a_table_materially);

/// Every pooled SQLite connection caches at most `SQLITE_CACHE_MB` of pages: a re-import's
/// stored rows and an export's reads filled 64 MB a connection before (docs/benchmarks.md).
#[tokio::test]
async fn sqlite_connections_keep_a_small_page_cache() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = TestApp::sqlite().await;
    // every connection the pool hands out, several at once
    let sizes = futures::future::join_all((0..migration::SQLITE_CONNECTIONS).map(|_| {
        app.db.query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA cache_size",
        ))
    }))
    .await;
    for size in sizes {
        let size: i64 = size
            .expect("pragma")
            .expect("row")
            .try_get_by_index(0)
            .expect("size");
        // a negative size is KiB
        assert_eq!(size, -i64::from(migration::SQLITE_CACHE_MB) * 1024);
    }
}

/// The bundled SQLite is built as `.cargo/config.toml` asks: without its memory-use counters,
/// which make every allocation take one global mutex (a re-import's stored rows loaded 1.8×
/// slower with them).
#[tokio::test]
async fn the_bundled_sqlite_keeps_no_memory_counters() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = TestApp::sqlite().await;
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .expect("compile options");
    let options: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index(0).expect("option"))
        .collect();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}
