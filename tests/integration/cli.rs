//! The `logbook` binary: help, exit codes, the JSON report shape, stats, template, generate.

use crate::helpers::TestApp;
use crate::on_both_databases;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

fn logbook(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logbook"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("RUST_LOG")
        .output()
        .expect("run logbook")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts the process exited with `code`, showing its stderr when it did not.
fn exited(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_documents_every_command() {
    let out = logbook("sqlite::memory:", &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "migrate",
        "import",
        "stats",
        "areas",
        "template",
        "generate",
        "--database-url",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    let out = logbook("sqlite::memory:", &["import", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--dry-run", "--district", "--json"] {
        assert!(help.contains(flag), "{flag} missing from import --help");
    }
}

#[test]
fn usage_errors_exit_with_two() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("u.db").display());
    assert_eq!(logbook(&url, &["import"]).status.code(), Some(2));
    assert_eq!(
        logbook(&url, &["import", "/nonexistent/x.xlsx"])
            .status
            .code(),
        Some(2)
    );
    let out = logbook(&url, &["stats", "--district", "33"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("4-digit"));
    assert_eq!(logbook(&url, &["bogus"]).status.code(), Some(2));
}

async fn import_json_is_one_array_and_the_exit_code_says_whether_all_imported(app: TestApp) {
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("good.xlsx");
    let bad = dir.path().join("bad.xlsx");
    let out = logbook(
        &app.url,
        &[
            "generate",
            good.to_str().expect("path"),
            "--households",
            "12",
            "--seed",
            "3",
            "--messy",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&bad, b"not a workbook").expect("write");

    let out = logbook(
        &app.url,
        &[
            "import",
            "--json",
            "--dry-run",
            good.to_str().expect("path"),
        ],
    );
    exited(&out, 0);
    let v = json(&out);
    assert_eq!(v[0]["status"], "dry_run");

    let out = logbook(
        &app.url,
        &[
            "import",
            "--json",
            good.to_str().expect("path"),
            bad.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let reports = v.as_array().expect("an array");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["file"], "good.xlsx");
    assert_eq!(reports[0]["status"], "imported");
    for sheet in [
        "households",
        "members",
        "problems",
        "analysis",
        "assistance",
        "funds",
    ] {
        for key in ["read", "inserted", "updated", "unchanged", "rejected"] {
            assert!(reports[0]["sheets"][sheet][key].is_u64(), "{sheet}.{key}");
        }
    }
    assert_eq!(reports[0]["sheets"]["households"]["inserted"], 12);
    let w = &reports[0]["warnings"][0];
    for key in [
        "sheet",
        "row",
        "column",
        "value",
        "code",
        "message_th",
        "message_en",
    ] {
        assert!(w.get(key).is_some(), "warning lacks {key}: {w}");
    }
    assert_eq!(reports[1]["status"], "rejected");
    assert_eq!(reports[1]["errors"][0]["code"], "file_unreadable");

    let out = logbook(&app.url, &["stats", "--json"]);
    assert!(out.status.success());
    let s = json(&out);
    assert_eq!(s["households"], 12);
    for key in [
        "not_started",
        "solved",
        "awaiting_follow_up",
        "following_up",
        "not_solvable_yet",
    ] {
        assert!(s["problems_by_status"][key].is_i64(), "{key}");
    }
    for key in ["health", "living", "education", "income", "access"] {
        assert!(s["problems_by_dimension"][key].is_i64(), "{key}");
    }
    let total: i64 = s["problems_by_status"]
        .as_object()
        .expect("object")
        .values()
        .map(|v| v.as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, s["problems"].as_i64().expect("problems"));
    let d = json(&logbook(
        &app.url,
        &["stats", "--json", "--district", "3301"],
    ));
    assert_eq!(d["households"], 0);

    // the human report is a table in Thai and English
    let out = logbook(&app.url, &["import", good.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ไม่เปลี่ยน / unchanged") && text.contains("นำเข้าแล้ว"),
        "{text}"
    );
}

async fn the_blank_template_has_the_six_sheets_and_is_refused_as_empty(app: TestApp) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("blank.xlsx");
    let out = logbook(&app.url, &["template", path.to_str().expect("path")]);
    assert!(out.status.success());
    let wb: calamine::Xlsx<_> = calamine::open_workbook(Path::new(&path)).expect("open template");
    use calamine::Reader;
    assert_eq!(
        wb.sheet_names(),
        vec!["ครัวเรือน", "สมาชิก", "ปัญหา", "วิเคราะห์", "การช่วยเหลือ", "กองทุน"]
    );
    let out = logbook(
        &app.url,
        &["import", "--json", path.to_str().expect("path")],
    );
    // headers and no data: refused with a word, not "imported"
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v[0]["status"], "rejected");
    assert_eq!(v[0]["errors"][0]["code"], "no_data_rows");
    assert_eq!(v[0]["sheets"]["households"]["read"], 0);
}

/// A file that panics the reader (in debug builds; a wrapped number in release) and one
/// over a limit do not stop the command: each gets its report and the good file imports.
async fn hostile_files_get_reports_and_the_other_files_still_run(app: TestApp) {
    use crate::hostile::{GOOD, households, patch};
    app.load_builtin_areas().await;
    let dir = tempfile::tempdir().expect("dir");
    let base = households(&[&GOOD]);
    let cell = |r: &str| {
        patch(&base, "xl/worksheets/sheet1.xml", |x| {
            x.replacen("<c r=\"F2\"", &format!("<c r=\"{r}\""), 1)
        })
    };
    let files = [
        ("overflow.xlsx", cell("A99999999999")),
        ("far.xlsx", cell("XFD1048576")),
        (
            "good.xlsx",
            crate::helpers::render(&crate::helpers::dataset(4, 9), false, false).bytes,
        ),
    ];
    let mut args = vec!["import".to_string(), "--json".to_string()];
    for (name, bytes) in &files {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        args.push(p.to_str().expect("path").to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = logbook(&app.url, &args);
    exited(&out, 1);
    let v = json(&out);
    let first = if cfg!(debug_assertions) {
        "internal_error"
    } else {
        "sheet_too_large"
    };
    assert_eq!(v[0]["errors"][0]["code"], first, "{v}");
    assert_eq!(v[1]["errors"][0]["code"], "sheet_too_large", "{v}");
    assert_eq!(v[1]["errors"][0]["column"], "XFD1048576");
    assert_eq!(v[2]["status"], "imported", "{v}");
    assert_eq!(app.stats().await.households, 4);
}

async fn a_key_made_on_the_command_line_opens_the_api_until_revoked(app: TestApp) {
    let out = logbook(
        &app.url,
        &[
            "key",
            "create",
            "--agency",
            "33-pho",
            "--label",
            "อสม. test",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.trim();
    assert!(
        token.starts_with("lbk_") && !token.contains('\n') && stdout.lines().count() == 1,
        "only the token: {stdout}"
    );
    let (_, v) = app
        .graphql(Some(token), "{ me { kind agency } }", serde_json::json!({}))
        .await;
    assert_eq!(v["data"]["me"]["agency"], "33-pho", "{v}");
    let list = json(&logbook(&app.url, &["key", "list", "--json"]));
    let k = &list[0];
    assert_eq!(
        (k["kind"].as_str(), k["scope"].as_str(), k["label"].as_str()),
        (Some("agency"), Some("33-pho"), Some("อสม. test"))
    );
    assert!(
        !list.to_string().contains(token),
        "key list never shows tokens"
    );
    let id = k["id"].as_i64().expect("id").to_string();
    assert!(logbook(&app.url, &["key", "revoke", &id]).status.success());
    // revoked by another process: refused once the server's memory of the key (a second)
    // is past
    assert!(
        app.refused_after(token)
            .await
            .is_some_and(|t| t <= api::service::keys::KEY_SEEN_FOR * 2),
        "the revoked key is refused within the time a server remembers a key"
    );
    assert_eq!(
        logbook(&app.url, &["key", "revoke", "9999"]).status.code(),
        Some(2)
    );
    assert_eq!(
        logbook(&app.url, &["key", "create", "--district", "99"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        logbook(&app.url, &["key", "create", "--agency", "99-pho"])
            .status
            .code(),
        Some(2)
    );
    let out = logbook(&app.url, &["key", "create", "--admin", "--province", "33"]);
    assert!(out.status.success());
}

async fn agencies_are_listed_and_managed_on_the_command_line(app: TestApp) {
    let list = json(&logbook(&app.url, &["agency", "list", "--json"]));
    let all = list.as_array().expect("array");
    assert_eq!(all.len(), 8);
    let pho = all.iter().find(|a| a["code"] == "33-pho").expect("33-pho");
    assert_eq!(
        pho,
        &serde_json::json!({"code": "33-pho", "abbreviation": "สสจ.", "name_th": "สำนักงานสาธารณสุขจังหวัดศรีสะเกษ", "name_en": "Si Sa Ket Provincial Public Health Office", "province": "33", "dimensions": ["health"]})
    );
    assert!(
        logbook(
            &app.url,
            &[
                "agency",
                "assign",
                "--agency",
                "33-pho",
                "--dimension",
                "access"
            ]
        )
        .status
        .success()
    );
    let out = logbook(
        &app.url,
        &[
            "agency",
            "add",
            "--code",
            "33-nso",
            "--abbreviation",
            "สสช.",
            "--name-th",
            "สำนักงานสถิติจังหวัดศรีสะเกษ",
            "--name-en",
            "Statistics",
            "--province",
            "33",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        logbook(
            &app.url,
            &[
                "agency",
                "unassign",
                "--agency",
                "33-pho",
                "--dimension",
                "health"
            ]
        )
        .status
        .success()
    );
    let list = json(&logbook(&app.url, &["agency", "list", "--json"]));
    let pho = list
        .as_array()
        .expect("array")
        .iter()
        .find(|a| a["code"] == "33-pho")
        .expect("33-pho")
        .clone();
    assert_eq!(pho["dimensions"], serde_json::json!(["access"]));
    assert_eq!(list.as_array().map(Vec::len), Some(9));
    assert_eq!(
        logbook(
            &app.url,
            &[
                "agency",
                "assign",
                "--agency",
                "33-pho",
                "--dimension",
                "sport"
            ]
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        logbook(
            &app.url,
            &[
                "agency",
                "assign",
                "--agency",
                "99-x",
                "--dimension",
                "health"
            ]
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn schema_prints_the_sdl() {
    let out = logbook("sqlite::memory:", &["schema"]);
    assert!(out.status.success());
    let sdl = String::from_utf8_lossy(&out.stdout);
    for t in [
        "type Household",
        "type QueryRoot",
        "input HouseholdFilter",
        "enum Dimension",
    ] {
        assert!(sdl.contains(t), "{t} missing");
    }
}

async fn funds_are_kept_and_reported_on_the_command_line(app: TestApp) {
    app.load_builtin_areas().await;
    let out = logbook(
        &app.url,
        &[
            "fund",
            "create",
            "--area",
            "3318",
            "--name",
            "กองทุนอำเภอ",
            "--established",
            "1/10/2564",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let record = |args: &[&str]| {
        let mut all = vec!["fund", "record", "--fund", id.as_str()];
        all.extend_from_slice(args);
        logbook(&app.url, &all)
    };
    let out = record(&[
        "--kind",
        "capital",
        "--date",
        "2021-10-01",
        "--amount",
        "50000",
        "--source",
        "งบจังหวัด",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a usage mistake, and a refused movement, exit with 2 and say why
    let out = record(&["--kind", "gift", "--date", "2021-10-01", "--amount", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind"));
    let out = record(&["--kind", "capital", "--date", "2021-10-01", "--amount", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("source"));
    let out = logbook(
        &app.url,
        &["fund", "list", "--json", "--as-of", "2021-12-31"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = json(&out);
    assert_eq!(list[0]["name"], "กองทุนอำเภอ");
    assert_eq!(list[0]["position"]["capital"], 5_000_000);
    assert_eq!(list[0]["position"]["balance"], 5_000_000);
    let out = logbook(
        &app.url,
        &["fund", "list", "--json", "--as-of", "2021-09-30"],
    );
    assert_eq!(json(&out)[0]["position"]["capital"], 0);

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("funds.xlsx");
    let f = file.to_str().expect("path");
    let out = logbook(&app.url, &["report", "--funds", "--as-of", "30/9/2565", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&file).is_ok_and(|m| m.len() > 1000));
    // the quarterly and fiscal-year reports
    for which in [["--quarter", "2566Q1"], ["--fiscal-year", "2566"]] {
        let out = logbook(&app.url, &["report", which[0], which[1], f]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = logbook(&app.url, &["report", "--quarter", "2566Q7", f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quarter"));
    assert_eq!(
        logbook(
            &app.url,
            &["report", "--quarter", "2566Q1", "--fiscal-year", "2566", f]
        )
        .status
        .code(),
        Some(2)
    );
    // --as-of belongs to --funds; a report needs one of --month and --funds
    assert_eq!(
        logbook(&app.url, &["report", "--as-of", "2022-01-01", f])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(logbook(&app.url, &["report", f]).status.code(), Some(2));
    assert_eq!(
        logbook(&app.url, &["report", "--funds", "--as-of", "ไม่ใช่วันที่", f])
            .status
            .code(),
        Some(2)
    );
}

/// Files named together are checked and written in their order, each against what the ones
/// before it wrote: a household's classification changed by the second file and
/// changed back by the third is reported as updated twice and ends as the third says.
async fn files_named_together_are_checked_and_written_in_their_order(app: TestApp) {
    let dir = tempfile::tempdir().expect("dir");
    let ds = crate::helpers::dataset(40, 21);
    let mut changed = ds.clone();
    changed.households[0].classification = if ds.households[0].classification == "พัฒนาได้"
    {
        "สงเคราะห์".into()
    } else {
        "พัฒนาได้".into()
    };
    let first = dir.path().join("first.xlsx");
    let second = dir.path().join("second.xlsx");
    std::fs::write(&first, crate::helpers::render(&ds, false, false).bytes).expect("write");
    std::fs::write(
        &second,
        crate::helpers::render(&changed, false, false).bytes,
    )
    .expect("write");
    // a workbook of another district, which goes beside them (PostgreSQL)
    app.load_areas_csv(
        "level,code,parent_code,name_th,name_en\ndistrict,3301,33,เมืองศรีสะเกษ,Mueang\n\
         subdistrict,330101,3301,เมืองใต้,Mueang Tai\n",
    )
    .await;
    let elsewhere = importer::generate::synthesize(&importer::generate::GenOptions {
        households: 25,
        seed: 22,
        as_of: crate::helpers::today(),
        areas: importer::generate::DistrictAreas {
            province_code: "33".into(),
            province_name: "ศรีสะเกษ".into(),
            district_code: "3301".into(),
            district_name: "เมืองศรีสะเกษ".into(),
            subdistricts: vec![("330101".into(), "เมืองใต้".into())],
        },
    });
    let other = dir.path().join("other.xlsx");
    std::fs::write(
        &other,
        crate::helpers::render(&elsewhere, true, false).bytes,
    )
    .expect("write");
    let path = |p: &Path| p.to_str().expect("path").to_string();
    let out = logbook(
        &app.url,
        &[
            "import",
            "--json",
            "--jobs",
            "3",
            &path(&first),
            &path(&other),
            &path(&second),
            &path(&first),
        ],
    );
    exited(&out, 0);
    let v = json(&out);
    let households = |i: usize, key: &str| v[i]["sheets"]["households"][key].as_u64();
    assert_eq!(households(0, "inserted"), Some(40), "{v}");
    assert_eq!(
        v[1]["file"], "other.xlsx",
        "reports in the files' order: {v}"
    );
    assert_eq!(households(1, "inserted"), Some(25), "{v}");
    assert_eq!(households(2, "inserted"), Some(0), "{v}");
    assert_eq!(households(2, "updated"), Some(1), "{v}");
    assert_eq!(households(3, "updated"), Some(1), "{v}");
    assert_eq!(households(3, "unchanged"), Some(39), "{v}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM households WHERE district_code = '3301'")
            .await,
        25
    );
    // `stats` agrees with the tables after the files written side by side
    assert_eq!(app.count("SELECT COUNT(*) FROM stats_dirty").await, 0);
    let kept = app
        .count(&format!(
            "SELECT COUNT(*) FROM households WHERE house_code = '{}' AND classification = '{}'",
            ds.households[0].house_code,
            entity::types::Classification::parse(&entity::types::Raw::Text(
                &ds.households[0].classification
            ))
            .expect("a classification")
            .expect("one")
            .key()
        ))
        .await;
    assert_eq!(kept, 1, "the third file's classification is stored");
}

on_both_databases!(
    files_named_together_are_checked_and_written_in_their_order,
    funds_are_kept_and_reported_on_the_command_line,
    agencies_are_listed_and_managed_on_the_command_line,
    a_key_made_on_the_command_line_opens_the_api_until_revoked,
    import_json_is_one_array_and_the_exit_code_says_whether_all_imported,
    the_blank_template_has_the_six_sheets_and_is_refused_as_empty,
    hostile_files_get_reports_and_the_other_files_still_run,
);

/// `logbook demo` as a newcomer meets it: a port that is taken is said at once, before any
/// work or key; a run imports as the district (whose key then sees the batch), with few
/// unknown agencies and readable status words; a second run revokes the first run's keys.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_checks_its_port_first_and_keeps_one_pair_of_keys() {
    use crate::helpers::{Server, free_port, http};
    use std::io::Read;
    let app = TestApp::sqlite().await;
    let url = app.url.clone();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port();
    let out = logbook(
        &url,
        &[
            "demo",
            "--households",
            "20",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(out.stdout.is_empty(), "no key printed");
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_batches").await, 0);
    drop(taken);

    let run = |url: String| {
        tokio::task::spawn_blocking(move || {
            let port = free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_logbook"))
                .args([
                    "demo",
                    "--households",
                    "40",
                    "--bind",
                    &format!("127.0.0.1:{port}"),
                ])
                .env("DATABASE_URL", &url)
                .env_remove("RUST_LOG")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start the demo");
            let mut stdout = child.stdout.take().expect("stdout");
            let mut stderr = child.stderr.take().expect("stderr");
            let mut server = Server(child);
            let start = std::time::Instant::now();
            while http(port, "GET /readyz HTTP/1.1", b"").0 != 200 {
                assert!(start.elapsed().as_secs() < 60, "the demo did not start");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            server.terminate(std::time::Duration::from_secs(20));
            let (mut out, mut err) = (String::new(), String::new());
            stdout.read_to_string(&mut out).expect("stdout");
            stderr.read_to_string(&mut err).expect("stderr");
            (out, err)
        })
    };
    let (out, err) = run(url.clone()).await.expect("no panic");
    let admin = out.trim().to_string();
    assert!(admin.starts_with("lbk_"), "{out}");
    assert!(err.contains("นำเข้าแล้ว / imported"), "{err}");
    let district = err
        .lines()
        .find_map(|l| l.split_once("district key (3318): ").map(|(_, k)| k.trim()))
        .expect("a district key")
        .to_string();
    // the district's key sees the demo's batch
    let (_, v) = app
        .graphql(
            Some(&district),
            "{ importBatches(first: 5) { nodes { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["importBatches"]["nodes"][0]["status"], "IMPORTED",
        "{v}"
    );
    // few unknown agencies: the generator writes mostly the province's own
    let (unknown, entries) = (
        app.count("SELECT COUNT(*) FROM logbook_entries WHERE agency_id IS NULL")
            .await,
        app.count("SELECT COUNT(*) FROM logbook_entries").await,
    );
    assert!(
        entries > 0 && unknown * 10 < entries,
        "{unknown} of {entries} unknown"
    );
    // a second run: one pair of live demo keys, the first run's revoked
    let (_, err2) = run(url).await.expect("no panic");
    assert!(err2.contains("revoked 2 key(s)"), "{err2}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
            .await,
        2
    );
    assert!(
        app.refused_after(&admin).await.is_some(),
        "the first run's admin key is revoked"
    );
}

/// `key create --expires-in-days`, `key rotate --overlap-hours` and `key list --json` with
/// the expiry and last use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_expire_and_rotate_from_the_command_line() {
    let app = TestApp::sqlite().await;
    let out = logbook(
        &app.url,
        &[
            "key",
            "create",
            "--district",
            "3318",
            "--expires-in-days",
            "30",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains("working until"));
    let (status, _) = app
        .graphql(Some(&token), "{ me { kind } }", json!({}))
        .await;
    assert_eq!(status, 200);
    let list = json(&logbook(&app.url, &["key", "list", "--json"]));
    let k = &list[0];
    assert!(k["expires_at"].is_string(), "{list}");
    let id = k["id"].as_i64().expect("id").to_string();
    let out = logbook(&app.url, &["key", "rotate", &id, "--overlap-hours", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(new.starts_with("lbk_") && new != token);
    // rotated by another process: the old token is refused within a second
    assert!(
        app.refused_after(&token)
            .await
            .is_some_and(|t| t <= api::service::keys::KEY_SEEN_FOR * 2)
    );
    assert_eq!(
        app.graphql(Some(&new), "{ me { kind } }", json!({}))
            .await
            .0,
        200
    );
    // a trusted document locks the new key to it
    let list = json(&logbook(&app.url, &["key", "list", "--json"]));
    let new_id = list[0]["id"].as_i64().expect("id").to_string();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("mine.graphql");
    std::fs::write(&file, "query Mine { me { kind } }").expect("write");
    let out = logbook(
        &app.url,
        &[
            "documents",
            "add",
            "--key",
            &new_id,
            file.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        sha,
        api::service::keys::document_hash("query Mine { me { kind } }")
    );
    let listed = logbook(&app.url, &["documents", "list", "--key", &new_id]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        format!("{sha}  mine.graphql")
    );
    // locked by another process: within a second
    assert!(
        app.answered_after(&new, "{ me { kind } }", 403)
            .await
            .is_some_and(|t| t <= api::service::keys::KEY_SEEN_FOR * 2)
    );
    assert_eq!(
        app.graphql(Some(&new), "query Mine { me { kind } }", json!({}))
            .await
            .0,
        200
    );
    std::fs::write(&file, "{ broken").expect("write");
    assert_eq!(
        logbook(
            &app.url,
            &[
                "documents",
                "add",
                "--key",
                &new_id,
                file.to_str().expect("path")
            ]
        )
        .status
        .code(),
        Some(2)
    );
    // usage errors: exit 2
    assert_eq!(
        logbook(&app.url, &["key", "rotate", &id]).status.code(),
        Some(2)
    );
    assert_eq!(
        logbook(
            &app.url,
            &["key", "create", "--admin", "--expires-in-days", "0"]
        )
        .status
        .code(),
        Some(2)
    );
}
