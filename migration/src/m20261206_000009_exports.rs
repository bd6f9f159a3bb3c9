//! Bulk exports: a key asks for its records (some kinds, CSV or NDJSON, optionally only those
//! changed since a time); the server's worker writes one gzip file per kind under the key's
//! rule, which the same key downloads until the files expire.

use sea_orm_migration::prelude::*;

/// Adds `export_jobs`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000009_exports"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("export_jobs"))
                    .col(
                        col("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("key_id").integer().not_null())
                    .col(col("entities").string().not_null())
                    .col(col("format").string().not_null())
                    .col(col("updated_since").timestamp_with_time_zone().null())
                    .col(col("status").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .col(col("claimed_at").timestamp_with_time_zone().null())
                    .col(col("finished_at").timestamp_with_time_zone().null())
                    .col(col("expires_at").timestamp_with_time_zone().null())
                    .col(col("rows_done").big_integer().not_null().default(0))
                    .col(col("counts").text().not_null())
                    .col(col("failure").text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("export_jobs"), Alias::new("key_id"))
                            .to(Alias::new("api_keys"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_export_jobs_status")
                    .table(Alias::new("export_jobs"))
                    .col(Alias::new("status"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("export_jobs")).to_owned())
            .await
    }
}
