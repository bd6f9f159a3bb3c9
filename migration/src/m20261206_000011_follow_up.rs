//! Follow-up: a logbook entry's next visit (and its problem's, from its latest entry), when a
//! problem was first recorded (a problem not started for too long is overdue), and each
//! household's urgency and closure.

use sea_orm_migration::prelude::*;

/// Adds `next_visit_on` to `logbook_entries` and `problems`, `created_at` to `problems`, and
/// `household_follow_ups`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000011_follow_up"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let date = |n: &str| ColumnDef::new(Alias::new(n)).date().null().to_owned();
        crate::add_columns(
            manager,
            Alias::new("logbook_entries"),
            [date("next_visit_on")],
        )
        .await?;
        crate::add_columns(
            manager,
            Alias::new("problems"),
            [
                date("next_visit_on"),
                ColumnDef::new(Alias::new("created_at"))
                    .timestamp_with_time_zone()
                    .null()
                    .to_owned(),
            ],
        )
        .await?;
        // a problem recorded before this migration: as old as its last change says
        manager
            .get_connection()
            .execute_unprepared("UPDATE problems SET created_at = updated_at")
            .await?;
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("household_follow_ups"))
                    .col(col("house_code").string().not_null().primary_key())
                    .col(col("urgent").boolean().not_null().default(false))
                    .col(col("urgent_reason").text().null())
                    .col(col("closed_reason").string().null())
                    .col(col("closed_on").date().null())
                    .col(col("closed_note").text().null())
                    .col(col("merged_into").string().null())
                    .col(col("updated_by").string().not_null())
                    .col(col("updated_at").timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("household_follow_ups"), Alias::new("house_code"))
                            .to(Alias::new("households"), Alias::new("house_code"))
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
                    .table(Alias::new("household_follow_ups"))
                    .to_owned(),
            )
            .await
    }
}
