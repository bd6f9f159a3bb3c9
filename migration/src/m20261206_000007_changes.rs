//! The change feed: every record (household, member, problem, analysis, logbook entry) carries
//! the sequence number of the transaction that last changed it (`change_seq`, from the
//! one-row `change_counter`, taken inside the writing transaction so that numbers commit in
//! order) and when (`updated_at`); `visibility_changes` records what an agency stopped or
//! started seeing when a dimension was taken from it or given to it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

/// Adds the change columns, the counter and `visibility_changes`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000007_changes"
    }
}

/// The tracked tables and their keys.
const TRACKED: [(&str, &str); 5] = [
    ("households", "house_code"),
    ("members", "citizen_id"),
    ("problems", "id"),
    ("analyses", "house_code"),
    ("logbook_entries", "id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("change_counter"))
                    .col(col("id").integer().not_null().primary_key())
                    .col(col("value").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO change_counter (id, value) VALUES (1, 0)")
            .await?;
        for (table, key) in TRACKED {
            // records written before this are at 0
            let columns = [
                col("change_seq")
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
                col("updated_at")
                    .timestamp_with_time_zone()
                    .null()
                    .to_owned(),
            ];
            crate::add_columns(manager, Alias::new(table), columns).await?;
            manager
                .exec_stmt(
                    Query::update()
                        .table(Alias::new(table))
                        .value(Alias::new("updated_at"), chrono::Utc::now())
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{table}_change"))
                        .table(Alias::new(table))
                        .col(Alias::new("change_seq"))
                        .col(Alias::new(key))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("visibility_changes"))
                    .col(col("agency_id").integer().not_null())
                    .col(col("seq").big_integer().not_null())
                    .col(col("rank").small_integer().not_null())
                    .col(col("key").string().not_null())
                    .col(col("visible").boolean().not_null())
                    .col(col("at").timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("agency_id"))
                            .col(Alias::new("seq"))
                            .col(Alias::new("rank"))
                            .col(Alias::new("key")),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("visibility_changes"), Alias::new("agency_id"))
                            .to(Alias::new("agencies"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("visibility_changes"))
                    .to_owned(),
            )
            .await?;
        for (table, _) in TRACKED {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("idx_{table}_change"))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
            for c in ["change_seq", "updated_at"] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .drop_column(Alias::new(c))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(Alias::new("change_counter")).to_owned())
            .await
    }
}
