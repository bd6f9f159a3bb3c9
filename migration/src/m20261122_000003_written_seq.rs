//! `logbook_entries.written_seq`: the order entries were written in, across imports and API
//! writes, which breaks ties between entries of one day (the latest written wins).

use sea_orm_migration::prelude::*;

/// Adds the column (existing rows: their id, which is their insertion order).
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000003_written_seq"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("logbook_entries"))
                    .add_column(
                        ColumnDef::new(Alias::new("written_seq"))
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE logbook_entries SET written_seq = id")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("logbook_entries"))
                    .drop_column(Alias::new("written_seq"))
                    .to_owned(),
            )
            .await
    }
}
