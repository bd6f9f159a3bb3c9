//! The schema itself: the foreign keys the database enforces, read from each database's own
//! catalogue, and the records it refuses without their parents.

use crate::helpers::{TestApp, dataset, render};
use crate::on_both_databases;
use importer::report::ImportStatus;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// The foreign keys of `table` as (column, parent table), sorted, from the database.
async fn keys_of(app: &TestApp, table: &str) -> Vec<(String, String)> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => format!(
            "SELECT \"from\" AS col, \"table\" AS parent FROM pragma_foreign_key_list('{table}')"
        ),
        _ => format!(
            "SELECT kcu.column_name AS col, ccu.table_name AS parent \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name \
             JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name \
             WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = '{table}'"
        ),
    };
    let mut keys: Vec<(String, String)> = app
        .db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("catalogue")
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "col").expect("col"),
                r.try_get::<String>("", "parent").expect("parent"),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn exec(app: &TestApp, sql: &str) -> Result<(), sea_orm::DbErr> {
    app.db
        .execute_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .map(|_| ())
}

async fn the_database_refuses_records_without_their_parents(app: TestApp) {
    assert_eq!(
        keys_of(&app, "members").await,
        pairs(&[("house_code", "households")])
    );
    assert_eq!(
        keys_of(&app, "problems").await,
        pairs(&[
            ("cohort_id", "cohorts"),
            ("house_code", "households"),
            ("indicator_code", "indicators"),
        ])
    );
    assert_eq!(
        keys_of(&app, "logbook_entries").await,
        pairs(&[("agency_id", "agencies"), ("problem_id", "problems")])
    );
    assert_eq!(
        keys_of(&app, "households").await,
        pairs(&[("cohort_id", "cohorts"), ("village_code", "areas")])
    );
    assert_eq!(
        keys_of(&app, "import_issues").await,
        pairs(&[("batch_id", "import_batches")])
    );

    // valid data goes in under the keys: a whole generated workbook
    let written = render(&dataset(12, 5), true, false);
    let report = app.import("fk.xlsx", written.bytes).await;
    assert_eq!(report.status, ImportStatus::Imported, "{:?}", report.errors);
    let members = app.count("SELECT COUNT(*) FROM members").await;
    assert!(members > 0);

    // what the importer would never write, the database refuses by itself
    let orphan_member = "INSERT INTO members (citizen_id, house_code, first_name, sex, disabled, citizen_id_valid) \
         VALUES ('1101700230708', '99999999999', 'ทดสอบ', 'male', false, true)";
    assert!(
        exec(&app, orphan_member).await.is_err(),
        "a member without a household"
    );
    let orphan_entry = "INSERT INTO logbook_entries (problem_id, entry_date, agency_text, entry_key, activity, status, written_seq) \
         VALUES (999999, '2026-11-01', 'x', 'k', 'a', 'solved', 1)";
    assert!(
        exec(&app, orphan_entry).await.is_err(),
        "an entry without a problem"
    );
    let household = app
        .count("SELECT COUNT(*) FROM households")
        .await
        .to_string();
    assert!(
        exec(&app, "DELETE FROM households").await.is_err(),
        "households with members cannot be deleted from under them"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM households")
            .await
            .to_string(),
        household
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM members").await, members);
}

on_both_databases!(the_database_refuses_records_without_their_parents);
