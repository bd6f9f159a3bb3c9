//! The staff page in a real browser: headless Chromium driven through ChromeDriver signs in,
//! uploads a generated workbook with mistakes, sees the error table, downloads the error
//! workbook and checks it, uploads the corrected workbook, sees it imported and the
//! dashboard change. Screenshots are saved under `target/tmp/browser/`.
//!
//! ChromeDriver comes from Debian's `chromium-driver` (`.ci/run` installs it). A machine
//! without it builds this test as ignored (`build.rs`), so it is never counted as passed.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use api::service::keys::KeyScope;
use calamine::{Reader, open_workbook_auto_from_rs};
use fantoccini::{Client, ClientBuilder, Locator};
use importer::workbook::SheetKind;
use sea_orm::ConnectionTrait;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// ChromeDriver on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts ChromeDriver (this test is built to run only where it is installed).
fn driver() -> Driver {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "{CHROMEDRIVER} / {CHROMIUM} are missing: install Debian's chromium and chromium-driver"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let d = Driver { child, port };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

async fn browser(d: &Driver, downloads: &Path) -> Client {
    browser_with(d, downloads, &["--window-size=1280,1900"]).await
}

/// A browser that reaches nothing but this machine: every other host is unresolvable and
/// every other address goes to a proxy that is not there (loopback bypasses proxies).
const OFFLINE: [&str; 2] = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
];

/// A headless Chromium with these extra arguments.
async fn browser_with(d: &Driver, downloads: &Path, extra: &[&str]) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=th",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ];
    args.extend_from_slice(extra);
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            "prefs": {
                "download.default_directory": downloads.to_str().expect("path"),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true
            }
        }
    });
    session(d, caps).await
}

/// A browser session on `d` with these capabilities.
async fn session(d: &Driver, caps: serde_json::Value) -> Client {
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("a browser session")
}

/// Waits until `check` holds, or fails naming `what` (with a screenshot).
async fn until<F, Fut>(c: &Client, shots: &Path, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() > Duration::from_secs(60) {
            shot(c, shots, "timeout").await;
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(c: &Client, dir: &Path, name: &str) -> PathBuf {
    let png = c.screenshot().await.expect("screenshot");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("save screenshot");
    path
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click #{id}: {e}"));
}

async fn type_into(c: &Client, id: &str, text: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into #{id}: {e}"));
}

async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn has_class(c: &Client, css: &str, class: &str) -> bool {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e
            .attr("class")
            .await
            .ok()
            .flatten()
            .is_some_and(|v| v.split_whitespace().any(|x| x == class)),
        Err(_) => false,
    }
}

/// Where a test's screenshots go: `target/tmp/browser/{sqlite,postgres}/`.
fn shots_of(app: &TestApp) -> PathBuf {
    let db = if app.url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(db);
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    shots
}

async fn staff_fix_a_rejected_workbook_in_the_browser(app: TestApp) {
    let d = driver();
    let shots = shots_of(&app);
    let downloads = tempfile::tempdir().expect("download folder");
    let files = tempfile::tempdir().expect("upload folder");

    // the server, on a real port, with its worker
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let http = app.http();
    tokio::spawn(async move { axum::serve(listener, http).await });
    tokio::spawn(app.jobs().work(
        Duration::from_millis(100),
        tokio::sync::watch::channel(false).1,
    ));
    let key = app.key(KeyScope::District("3318".into())).await;

    // the workbooks: one with three mistakes, and the same corrected
    let good = dataset(30, 17);
    let mut bad = good.clone();
    bad.set_raw(SheetKind::Households, 4, "subdistrict", "หนองใหญ");
    bad.set_raw(SheetKind::Members, 2, "citizen_id", "12345678901");
    bad.set_raw(SheetKind::Assistance, 0, "status", "เสร็จแล้วมั้ง");
    let bad_path = files.path().join("อำเภอเมืองจันทร์-ผิด.xlsx");
    let good_path = files.path().join("อำเภอเมืองจันทร์.xlsx");
    std::fs::write(&bad_path, render(&bad, true, false).bytes).expect("write");
    std::fs::write(&good_path, render(&good, true, false).bytes).expect("write");

    let c = browser(&d, downloads.path()).await;
    c.goto(&format!("{base}/")).await.expect("open the page");
    // a wrong key is refused, in Thai
    type_into(&c, "key", "lbk_wrong").await;
    click(&c, "signin").await;
    until(&c, &shots, "the refusal", || async {
        text(&c, "#signin-error").await.contains("ไม่ถูกต้อง")
    })
    .await;
    let key_box = c.find(Locator::Id("key")).await.expect("key box");
    key_box.clear().await.expect("clear");
    key_box.send_keys(&key).await.expect("type");
    click(&c, "signin").await;
    until(&c, &shots, "signing in", || async {
        !has_class(&c, "#app", "hidden").await
    })
    .await;
    // the field work comes first; imports and reports are a tab away
    assert!(!has_class(&c, "#view-work", "hidden").await);
    click(&c, "tab-data").await;
    until(&c, &shots, "the figures", || async {
        text(&c, "#f-households b").await == "0"
    })
    .await;
    shot(&c, &shots, "1-signed-in").await;
    // the header names the district; no import yet says so
    assert!(text(&c, "header h1").await.contains("อ.เมืองจันทร์"));
    until(&c, &shots, "the empty state of past imports", || async {
        !has_class(&c, "#no-batches", "hidden").await
    })
    .await;
    assert_no_sideways_scroll(&c, "desktop, signed in").await;

    // the workbook with mistakes: rejected, its errors listed
    type_into(&c, "file", bad_path.to_str().expect("path")).await;
    click(&c, "import").await;
    until(&c, &shots, "the rejection", || async {
        has_class(&c, "#status", "s-REJECTED").await
    })
    .await;
    let rows = c
        .find_all(Locator::Css("#errors tbody tr"))
        .await
        .expect("error rows");
    let stored = app
        .count("SELECT CAST(error_count AS BIGINT) FROM import_batches ORDER BY id DESC LIMIT 1")
        .await;
    assert_eq!(rows.len() as i64, stored);
    assert!(stored >= 3, "{stored}");
    let table = text(&c, "#errors").await;
    assert!(
        table.contains("หนองใหญ่"),
        "the did-you-mean is shown: {table}"
    );
    assert_eq!(text(&c, "#f-households b").await, "0");
    shot(&c, &shots, "2-rejected").await;

    // the error workbook downloads and holds the errors
    click(&c, "error-download").await;
    let mut downloaded = None;
    until(&c, &shots, "the error workbook download", || {
        let found = std::fs::read_dir(downloads.path()).ok().and_then(|mut it| {
            it.find_map(|e| {
                let p = e.ok()?.path();
                (p.extension().is_some_and(|x| x == "xlsx")).then_some(p)
            })
        });
        downloaded = found.clone();
        async move { found.is_some() }
    })
    .await;
    let bytes = std::fs::read(downloaded.expect("a file")).expect("read download");
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx");
    let summary = wb.worksheet_range("สรุปข้อผิดพลาด").expect("summary sheet");
    assert_eq!(summary.height() as i64, stored + 1);
    assert!(wb.sheet_names().len() >= 4, "{:?}", wb.sheet_names());

    // corrected and uploaded again: imported, the dashboard changes
    type_into(&c, "file", good_path.to_str().expect("path")).await;
    click(&c, "import").await;
    until(&c, &shots, "the import", || async {
        has_class(&c, "#status", "s-IMPORTED").await
    })
    .await;
    let households = good.households.len().to_string();
    until(&c, &shots, "the dashboard to change", || async {
        text(&c, "#f-households b").await == households
    })
    .await;
    until(&c, &shots, "the chart", || async {
        c.find_all(Locator::Css("#chart svg rect[data-count]"))
            .await
            .is_ok_and(|r| !r.is_empty())
    })
    .await;
    // the list of past batches is refreshed after the status: both batches, once it is
    until(&c, &shots, "both past batches", || async {
        c.find_all(Locator::Css("#batches tbody tr"))
            .await
            .is_ok_and(|r| r.len() == 2)
    })
    .await;
    assert_eq!(app.stats().await, good.expected_stats());
    shot(&c, &shots, "3-imported").await;

    // the English switch
    click(&c, "lang").await;
    until(&c, &shots, "English", || async {
        text(&c, "#status").await == "Imported"
    })
    .await;
    shot(&c, &shots, "4-english").await;
    assert_no_sideways_scroll(&c, "desktop, a report shown").await;
    c.close().await.expect("close the browser");

    // the same page on a phone (390 × 844), signed in with the same key
    let phone = phone_browser(&d, downloads.path()).await;
    phone
        .goto(&format!("{base}/"))
        .await
        .expect("open the page");
    type_into(&phone, "key", &key).await;
    click(&phone, "signin").await;
    until(&phone, &shots, "signing in on a phone", || async {
        !has_class(&phone, "#app", "hidden").await
    })
    .await;
    click(&phone, "tab-data").await;
    until(&phone, &shots, "past imports on a phone", || async {
        phone
            .find_all(Locator::Css("#batches tbody tr"))
            .await
            .is_ok_and(|r| r.len() == 2)
    })
    .await;
    assert_eq!(js(&phone, "return window.innerWidth;").await, 390);
    phone_checks(&phone, &shots).await;
    phone.close().await.expect("close the phone browser");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("browser screenshots: {}\n", shots.display()).as_bytes(),
    );
}

/// A headless Chromium that shows pages as a phone does: 390 × 844 CSS pixels.
async fn phone_browser(d: &Driver, downloads: &Path) -> Client {
    phone_browser_with(d, downloads, &[]).await
}

/// [`phone_browser`] with extra arguments.
async fn phone_browser_with(d: &Driver, downloads: &Path, extra: &[&str]) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=th",
    ];
    args.extend_from_slice(extra);
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            "mobileEmulation": { "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true } },
            "prefs": { "download.default_directory": downloads.to_str().expect("path") }
        }
    });
    session(d, caps).await
}

/// The page does not scroll sideways: nothing is wider than the window.
async fn assert_no_sideways_scroll(c: &Client, when: &str) {
    let widths = js(
        c,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
    )
    .await;
    let (scroll, client) = (widths[0].as_i64(), widths[1].as_i64());
    assert!(
        scroll <= client,
        "{when}: the page is {scroll:?} px wide in a {client:?} px window"
    );
}

/// What a phone must get: no sideways scroll, a one-line header with the district's name
/// and every button inside the window, chart labels of at least 11 px, tables that scroll
/// in their own box, a label on every input, live regions for progress and errors, and past
/// imports that open from the keyboard.
async fn phone_checks(c: &Client, shots: &Path) {
    assert_no_sideways_scroll(c, "phone").await;
    shot(c, shots, "5-phone-top").await;
    let header = js(c, "const h = document.querySelector('header'); const t = h.querySelector('h1'); const r = t.getBoundingClientRect(); return { h: h.getBoundingClientRect().height, lines: Math.round(r.height / parseFloat(getComputedStyle(t).lineHeight || 20)), text: t.innerText, right: Math.max(...[...h.querySelectorAll('button')].filter(b => b.offsetParent).map(b => b.getBoundingClientRect().right)) };").await;
    assert!(
        header["h"].as_f64() < Some(64.0),
        "one line of header: {header}"
    );
    let cut = js(
        c,
        "const t = document.querySelector('header h1'); return t.scrollWidth > t.clientWidth;",
    )
    .await;
    assert_eq!(cut, false, "the header's name is not cut: {header}");
    assert!(
        header["text"]
            .as_str()
            .is_some_and(|t| t.contains("เมืองจันทร์")),
        "{header}"
    );
    assert!(
        header["right"].as_f64() <= Some(390.0),
        "every header button inside: {header}"
    );
    let label_px = js(c, "const s = document.querySelector('#chart svg'); if (!s) return 0; const k = s.getScreenCTM().a; return Math.min(...[...s.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * k));").await;
    assert!(
        label_px.as_f64() >= Some(11.0),
        "chart labels are {label_px} px"
    );
    let unlabelled = js(c, "return [...document.querySelectorAll('input')].filter(i => !document.querySelector('label[for=\"' + i.id + '\"]')).map(i => i.id);").await;
    assert_eq!(unlabelled, serde_json::json!([]), "inputs without a label");
    let live = js(c, "return ['progress-box', 'upload-error', 'signin-error'].map(id => { const e = document.getElementById(id); return e.getAttribute('aria-live') || e.getAttribute('role'); });").await;
    assert_eq!(live, serde_json::json!(["polite", "alert", "alert"]));
    // the tables keep their columns: they scroll inside their box
    let cut = js(c, "return [...document.querySelectorAll('.scroll')].filter(s => s.offsetParent && s.getBoundingClientRect().right > window.innerWidth + 1).length;").await;
    assert_eq!(cut, 0, "a table box wider than the window");
    // a past import opens from the keyboard: Tab to its button, Enter
    js(c, "document.querySelector('#report') && document.querySelector('#report').classList.add('hidden'); document.querySelector('#batches tbody tr:last-child button').focus(); return true;").await;
    let focused = c.active_element().await.expect("focus");
    focused.send_keys("\u{E007}").await.expect("Enter");
    until(c, shots, "the report opened from the keyboard", || async {
        !has_class(c, "#report", "hidden").await && text(c, "#report-file").await.starts_with('#')
    })
    .await;
    assert_no_sideways_scroll(c, "phone, a report shown").await;
    shot(c, shots, "6-phone-report").await;
}

/// Runs `script` in the page; its result.
async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// GraphiQL with the network to anything but the server blocked: it loads from logbook's
/// own copy, takes the key the staff page signed in with, and its docs explorer shows the
/// `Household` type. The same browser cannot load GraphiQL from a CDN (so the block holds).
async fn graphiql_works_with_no_internet(app: TestApp) {
    let d = driver();
    let shots = shots_of(&app);
    let downloads = tempfile::tempdir().expect("download folder");
    let serve = |http: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, http).await });
        base
    };
    let base = serve(app.http()).await;
    let cdn = serve(app.http_with(api::HttpConfig {
        graphiql_cdn: Some("https://unpkg.com".into()),
        ..Default::default()
    }))
    .await;
    let key = app.key(KeyScope::District("3318".into())).await;
    let c = browser_with(
        &d,
        downloads.path(),
        &[&["--window-size=1280,900"][..], &OFFLINE[..]].concat(),
    )
    .await;

    // from a CDN, nothing loads: the page stays at its loading text
    c.goto(&format!("{cdn}/graphql"))
        .await
        .expect("open GraphiQL (CDN)");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(js(&c, "return typeof GraphiQL;").await, "undefined");
    assert!(text(&c, "#graphiql").await.contains("Loading"));
    shot(&c, &shots, "graphiql-0-cdn-offline").await;

    // sign in on the staff page, then open GraphiQL in the same tab
    c.goto(&format!("{base}/")).await.expect("open the page");
    type_into(&c, "key", &key).await;
    click(&c, "signin").await;
    until(&c, &shots, "signing in", || async {
        !has_class(&c, "#app", "hidden").await
    })
    .await;
    c.goto(&format!("{base}/graphql"))
        .await
        .expect("open GraphiQL");
    until(&c, &shots, "GraphiQL", || async {
        js(
            &c,
            "return !!document.querySelector('.graphiql-container');",
        )
        .await
            == true
    })
    .await;
    let open_docs = "const b = [...document.querySelectorAll('button[aria-label]')].find(b => b.getAttribute('aria-label').includes('Documentation Explorer')); if (b) b.click(); return !!b;";
    assert_eq!(js(&c, open_docs).await, true, "a docs button");
    let docs =
        "const e = document.querySelector('.graphiql-doc-explorer'); return e ? e.innerText : '';";
    until(&c, &shots, "the schema in the docs explorer", || async {
        js(&c, docs)
            .await
            .as_str()
            .is_some_and(|t| t.contains("Query"))
    })
    .await;
    // the Household type, from the list of the schema's types, with its own fields
    let to_household = "const a = [...document.querySelectorAll('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name')].find(a => a.textContent.trim() === 'Household'); if (a) a.click(); return !!a;";
    assert_eq!(
        js(&c, to_household).await,
        true,
        "Household among the types"
    );
    until(&c, &shots, "the Household type's fields", || async {
        js(&c, docs)
            .await
            .as_str()
            .is_some_and(|t| t.contains("houseCode") && t.contains("members"))
    })
    .await;
    shot(&c, &shots, "graphiql-1-docs").await;
    // the key from the staff page is in the headers it sends
    let headers = js(&c, "return [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map(e => e.CodeMirror ? e.CodeMirror.getValue() : '').join('\\n');").await;
    assert!(
        headers.as_str().is_some_and(|h| h.contains(&key)),
        "{headers}"
    );
    c.close().await.expect("close the browser");
}

/// A district officer on a phone, with no map tiles reachable: finds a household by its
/// head's name, opens its card, records a visit with a photo and a next visit, sees the
/// problem move on the worklist, verifies the district's entries, and sees the map's points.
async fn field_work_on_a_phone(app: TestApp) {
    let d = driver();
    let shots = shots_of(&app).join("field");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let downloads = tempfile::tempdir().expect("download folder");
    let files = tempfile::tempdir().expect("photo folder");
    let evidence = tempfile::tempdir().expect("evidence folder");

    let ds = dataset(8, 71);
    let report = app.import("d.xlsx", render(&ds, false, false).bytes).await;
    assert_eq!(report.status.as_str(), "imported", "{:?}", report.errors);
    // one household has no location: counted beside the map
    let no_point = &ds.households[1].house_code;
    app.db
        .execute_unprepared(&format!(
            "UPDATE households SET latitude = NULL, longitude = NULL WHERE house_code = '{no_point}'"
        ))
        .await
        .expect("update");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let store =
        api::evidence::EvidenceStore::local(evidence.path(), Default::default()).expect("store");
    let http = app.http_with(api::HttpConfig {
        evidence: Some(store),
        ..Default::default()
    });
    tokio::spawn(async move { axum::serve(listener, http).await });
    let key = app.key(KeyScope::District("3318".into())).await;
    let photo = files.path().join("visit.jpg");
    let img = image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    img.save(&photo).expect("a photo");

    let c = phone_browser_with(&d, downloads.path(), &OFFLINE).await;
    c.goto(&format!("{base}/")).await.expect("open the page");
    type_into(&c, "key", &key).await;
    click(&c, "signin").await;
    until(&c, &shots, "the worklist", || async {
        c.find_all(Locator::Css("#worklist button.wl-item"))
            .await
            .is_ok_and(|r| !r.is_empty())
    })
    .await;
    assert_no_sideways_scroll(&c, "phone, the worklist").await;
    shot(&c, &shots, "1-worklist").await;

    // find a household by part of its head's name
    let house = &ds.households[0];
    let part: String = house
        .head_name
        .split_whitespace()
        .next()
        .expect("a name")
        .to_string();
    type_into(&c, "find-text", &part).await;
    click(&c, "find-go").await;
    let hit = format!("#find-results button[data-code='{}']", house.house_code);
    until(&c, &shots, "the search's hit", || async {
        c.find(Locator::Css(&hit)).await.is_ok()
    })
    .await;
    c.find(Locator::Css(&hit))
        .await
        .expect("hit")
        .click()
        .await
        .expect("click");
    until(&c, &shots, "the household's card", || async {
        !has_class(&c, "#card", "hidden").await
            && text(&c, "#card-title").await.contains(&house.house_code)
    })
    .await;
    assert_no_sideways_scroll(&c, "phone, the card").await;
    shot(&c, &shots, "2-card").await;

    // record a visit on its first problem, with a photo and a next visit
    let problem = c
        .find(Locator::Css("#card-problems button.record-visit"))
        .await
        .expect("a problem");
    let problem_id: i64 = problem
        .attr("data-problem")
        .await
        .expect("attr")
        .expect("id")
        .parse()
        .expect("a number");
    let on_list = format!("#worklist button[data-problem='{problem_id}'] .st");
    let before = c.find(Locator::Css(&on_list)).await.ok();
    if let Some(b) = before {
        let class = b.attr("class").await.expect("class").unwrap_or_default();
        assert!(!class.contains("st-following_up"), "{class}");
    }
    problem.click().await.expect("record a visit");
    until(&c, &shots, "the visit form with its agencies", || async {
        !has_class(&c, "#visit", "hidden").await
            && c.find_all(Locator::Css("#visit-agency option"))
                .await
                .is_ok_and(|o| !o.is_empty())
    })
    .await;
    type_into(&c, "visit-activity", "เยี่ยมบ้าน ให้คำแนะนำการออม").await;
    let next = (chrono::Local::now().date_naive() + chrono::Days::new(14)).to_string();
    js(
        &c,
        &format!("document.getElementById('visit-next').value = '{next}'; return true;"),
    )
    .await;
    type_into(&c, "visit-photo", photo.to_str().expect("path")).await;
    click(&c, "visit-save").await;
    until(&c, &shots, "the visit saved with its photo", || async {
        text(&c, "#visit-msg").await.contains("บันทึกแล้ว")
    })
    .await;
    until(&c, &shots, "the photo on the card", || async {
        js(&c, "const i = document.querySelector('#card-problems img[data-evidence]'); return !!i && i.naturalWidth > 0;").await == true
    })
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM logbook_entries WHERE problem_id = {problem_id} AND activity = 'เยี่ยมบ้าน ให้คำแนะนำการออม' AND next_visit_on IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM evidence WHERE state = 'stored'")
            .await,
        1
    );
    // it moved on the worklist: now followed up
    until(
        &c,
        &shots,
        "the problem followed up on the worklist",
        || async { has_class(&c, &on_list, "st-following_up").await },
    )
    .await;
    shot(&c, &shots, "3-visit-recorded").await;

    // verify the district's entries
    click(&c, "tab-verify").await;
    let waiting = app
        .count("SELECT COUNT(*) FROM logbook_entries WHERE verification = 'recorded'")
        .await;
    until(&c, &shots, "the verification queue", || async {
        c.find_all(Locator::Css("#vq-list input[type=checkbox]"))
            .await
            .is_ok_and(|r| r.len() as i64 == waiting.min(100))
    })
    .await;
    assert_no_sideways_scroll(&c, "phone, the verification queue").await;
    shot(&c, &shots, "4-verify").await;
    click(&c, "vq-all").await;
    click(&c, "vq-verify").await;
    until(&c, &shots, "the queue emptied", || async {
        !has_class(&c, "#vq-empty", "hidden").await || waiting > 100
    })
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM logbook_entries WHERE verification = 'verified'")
            .await,
        waiting.min(100)
    );

    // the map: every household with a point, coloured, village labels; tiles unreachable
    click(&c, "tab-map").await;
    let with_point = app
        .count("SELECT COUNT(*) FROM households WHERE latitude IS NOT NULL")
        .await;
    until(&c, &shots, "the map's points", || async {
        c.find_all(Locator::Css("#map path.hh-point"))
            .await
            .is_ok_and(|r| r.len() as i64 == with_point)
    })
    .await;
    let missing = js(
        &c,
        "return document.getElementById('map-missing').dataset.missing;",
    )
    .await;
    assert_eq!(missing, "1");
    let villages = app
        .count("SELECT COUNT(DISTINCT village_code) FROM households WHERE latitude IS NOT NULL")
        .await;
    let labels = c
        .find_all(Locator::Css(".leaflet-tooltip.village-label"))
        .await
        .expect("labels");
    assert_eq!(labels.len() as i64, villages);
    assert_no_sideways_scroll(&c, "phone, the map").await;
    shot(&c, &shots, "5-map").await;
    c.close().await.expect("close the browser");
}

on_both_databases!(
    browser: staff_fix_a_rejected_workbook_in_the_browser,
    graphiql_works_with_no_internet,
    field_work_on_a_phone
);
