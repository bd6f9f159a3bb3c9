//! `audit_events`: who changed what outside imports (agencies, ownership, keys). Imports
//! record their principal on the batch, logbook entries on the entry.

use sea_orm_migration::prelude::*;

/// Creates `audit_events`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000004_audit_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("audit_events"))
                    .col(
                        col("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("at").timestamp_with_time_zone().not_null())
                    .col(col("principal").string().not_null())
                    .col(col("action").string().not_null())
                    .col(col("province_code").string().null())
                    .col(col("subject").string().not_null())
                    .col(col("detail").text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_province")
                    .table(Alias::new("audit_events"))
                    .col(Alias::new("province_code"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("audit_events")).to_owned())
            .await
    }
}
