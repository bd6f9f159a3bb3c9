//! Which end-to-end tests this machine runs, decided when they are built, so that `cargo
//! test` reports the others as ignored instead of counting them as passed: the PostgreSQL
//! twins need `LOGBOOK_TEST_PG_URL` (a server), the browser test Debian's Chromium and
//! ChromeDriver (found at build time, or `LOGBOOK_TEST_BROWSER=1` once installed), the
//! GraphQL-over-HTTP audit Node.js with `tests/audit`'s packages (`npm ci --prefix
//! tests/audit`, found at build time, or `LOGBOOK_TEST_AUDIT=1`), the agency guide's examples
//! Node.js and Python's `gql` (`LOGBOOK_TEST_EXAMPLES=1`), evidence in an S3-compatible store
//! Python's moto server (`pip install -r tests/requirements.txt`, `LOGBOOK_TEST_S3=1`). CI sets
//! all five and fails on any ignored test.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=LOGBOOK_TEST_PG_URL");
    println!("cargo::rerun-if-env-changed=LOGBOOK_TEST_BROWSER");
    println!("cargo::rerun-if-env-changed=LOGBOOK_TEST_AUDIT");
    println!("cargo::rerun-if-env-changed=LOGBOOK_TEST_EXAMPLES");
    println!("cargo::rerun-if-env-changed=LOGBOOK_TEST_S3");
    println!("cargo::rustc-check-cfg=cfg(logbook_pg)");
    println!("cargo::rustc-check-cfg=cfg(logbook_browser)");
    println!("cargo::rustc-check-cfg=cfg(logbook_audit)");
    println!("cargo::rustc-check-cfg=cfg(logbook_examples)");
    println!("cargo::rustc-check-cfg=cfg(logbook_s3)");
    if std::env::var_os("LOGBOOK_TEST_PG_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=logbook_pg");
    }
    let browser = std::env::var_os("LOGBOOK_TEST_BROWSER")
        .is_some_and(|v| !v.is_empty() && v != "0")
        || (Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists());
    if browser {
        println!("cargo::rustc-cfg=logbook_browser");
    }
    let audit = flag("LOGBOOK_TEST_AUDIT")
        || Path::new("tests/audit/node_modules/graphql-http/package.json").exists();
    if audit {
        println!("cargo::rustc-cfg=logbook_audit");
    }
    if flag("LOGBOOK_TEST_EXAMPLES") {
        println!("cargo::rustc-cfg=logbook_examples");
    }
    if flag("LOGBOOK_TEST_S3") {
        println!("cargo::rustc-cfg=logbook_s3");
    }
}

/// Whether an environment variable is set to something other than empty or `0`.
fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}
