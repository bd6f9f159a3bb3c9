//! Import batches become jobs: an uploaded workbook is stored (`import_uploads`) and its
//! batch queued; a worker runs it and records its stage, progress, attempts and any failure.
//! Statuses: `queued`, `running`, `imported`, `rejected`, `failed`, `dry_run`.

use sea_orm_migration::prelude::*;

/// Adds the job columns and `import_uploads`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000005_import_jobs"
    }
}

fn batches() -> Alias {
    Alias::new("import_batches")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        let columns = [
            col("dry_run")
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            col("stage").string().null().to_owned(),
            col("rows_done")
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            col("rows_total")
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            col("attempts").integer().not_null().default(0).to_owned(),
            col("failure").text().null().to_owned(),
        ];
        crate::add_columns(manager, batches(), columns).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_import_batches_status")
                    .table(batches())
                    .col(Alias::new("status"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("import_uploads"))
                    .col(col("batch_id").integer().not_null().primary_key())
                    .col(col("bytes").blob().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("import_uploads"), Alias::new("batch_id"))
                            .to(batches(), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("import_uploads")).to_owned())
            .await?;
        for c in [
            "dry_run",
            "stage",
            "rows_done",
            "rows_total",
            "attempts",
            "failure",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(batches())
                        .drop_column(Alias::new(c))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
