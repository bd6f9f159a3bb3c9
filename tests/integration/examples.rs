//! The agency guide's examples (`examples/agency/`), run as an agency's developer would run
//! them against a served instance: the Python (`gql`) and JavaScript mirrors keep a copy
//! equal to the API's records, a second run reads nothing new, the Python export downloads
//! as many rows of each kind, and the Python webhook receiver verifies what the server's
//! worker sends and turns a forgery away; on both databases.

use crate::changes::full_read;
use crate::helpers::{TestApp, dataset, render};
use api::service::keys::KeyScope;
use serde_json::Value;
use std::collections::BTreeMap;

/// Runs `program example args…` from the examples folder; its one line of JSON.
async fn run(program: &'static str, example: &'static str, args: Vec<String>) -> Value {
    tokio::task::spawn_blocking(move || {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agency/");
        let out = std::process::Command::new(program)
            .arg(format!("{path}{example}"))
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            out.status.success(),
            "{example} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{example}'s output ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    })
    .await
    .expect("joined")
}

async fn the_agency_guides_examples_run(app: TestApp) {
    let ds = dataset(40, 71);
    app.import("g.xlsx", render(&ds, false, false).bytes).await;
    let key = app.key(KeyScope::Agency("33-pho".into())).await;
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let full = full_read(&app, &key).await;
    for (kind, _) in full.keys() {
        *expected.entry(kind.clone()).or_default() += 1;
    }
    let expected = serde_json::to_value(&expected).expect("json");
    let work = tempfile::tempdir().expect("dir");
    let server = api::Application::build(
        app.db.clone(),
        api::Settings {
            bind: "127.0.0.1:0".into(),
            jobs: api::JobConfig {
                exports: app.export_store(),
                ..Default::default()
            },
            poll: std::time::Duration::from_millis(100),
            webhooks: api::WebhookConfig {
                policy: api::WebhookPolicy::parse(&["127.0.0.1".into()]).expect("a policy"),
                poll: std::time::Duration::from_millis(100),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .expect("a server");
    let url = format!("http://{}/graphql", server.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let at = |name: &str| work.path().join(name).to_string_lossy().into_owned();

    let py = run(
        "python3",
        "mirror.py",
        vec![url.clone(), key.clone(), at("mirror.db")],
    )
    .await;
    assert_eq!(py["records"], expected, "{py}");
    assert_eq!(py["applied"], full.len());
    let again = run(
        "python3",
        "mirror.py",
        vec![url.clone(), key.clone(), at("mirror.db")],
    )
    .await;
    assert_eq!(again["applied"], 0, "nothing changed since: {again}");
    let js = run(
        "node",
        "mirror.mjs",
        vec![url.clone(), key.clone(), at("mirror.json")],
    )
    .await;
    assert_eq!(js["records"], expected, "{js}");
    let exported = run(
        "python3",
        "export.py",
        vec![url.clone(), key.clone(), at("export")],
    )
    .await;
    assert_eq!(exported, expected, "the export's rows");
    let csv = run(
        "python3",
        "export.py",
        vec![
            url.clone(),
            key.clone(),
            at("csv"),
            "--format".into(),
            "CSV".into(),
        ],
    )
    .await;
    assert_eq!(csv, expected, "the CSV export's rows");

    // the webhook receiver: it creates its webhook, then checks what comes
    let port = crate::helpers::free_port();
    let receiver = tokio::spawn(run(
        "python3",
        "webhook_receiver.py",
        vec![
            url.clone(),
            key.clone(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--count".into(),
            "2".into(),
        ],
    ));
    let mut waited = 0;
    while app.count("SELECT COUNT(*) FROM webhooks").await == 0 {
        waited += 1;
        assert!(waited < 600, "the receiver never created its webhook");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let forged = tokio::task::spawn_blocking(move || {
        crate::helpers::http(
            port,
            "POST / HTTP/1.1\r\nwebhook-id: evt_1\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,AAAA",
            b"{\"type\":\"problem.created\"}",
        )
        .0
    })
    .await
    .expect("joined");
    assert_eq!(forged, 401, "a request not signed with the secret");
    let admin = app.key(KeyScope::Admin { province: None }).await;
    let (input, _, _) = crate::webhooks::problem(&app, &ds, true).await;
    let (_, v) = app
        .graphql(
            Some(&admin),
            "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }",
            serde_json::json!({ "i": input }),
        )
        .await;
    assert!(v["data"]["recordAssistance"]["id"].is_i64(), "{v}");
    let heard = receiver.await.expect("joined");
    assert_eq!(
        heard["types"],
        serde_json::json!(["logbook_entry.created", "problem.status_changed"]),
        "{heard}"
    );
    assert_eq!(heard["forged"], 1, "{heard}");

    let _ = stop.send(());
    served.await.expect("joined").expect("served");
}

mod the_agency_guides_examples_run {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(logbook_examples),
        ignore = "agency guide examples: Node.js, pip install -r examples/agency/requirements.txt, build with LOGBOOK_TEST_EXAMPLES=1"
    )]
    async fn sqlite() {
        super::the_agency_guides_examples_run(crate::helpers::TestApp::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(logbook_examples, logbook_pg)),
        ignore = "agency guide examples on PostgreSQL: as above, and LOGBOOK_TEST_PG_URL"
    )]
    async fn postgres() {
        super::the_agency_guides_examples_run(crate::helpers::TestApp::postgres().await).await;
    }
}
