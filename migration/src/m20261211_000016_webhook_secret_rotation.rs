//! A webhook's secret can be replaced while its receiver still checks the old one: the old
//! secret is kept beside the new until a time the key chose, and deliveries until then carry
//! a signature by each (Standard Webhooks allows several in one header).

use sea_orm_migration::prelude::*;

/// Adds `webhooks.previous_secret` and `webhooks.previous_secret_until`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261211_000016_webhook_secret_rotation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhooks"))
                    .add_column(
                        ColumnDef::new(Alias::new("previous_secret"))
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhooks"))
                    .add_column(
                        ColumnDef::new(Alias::new("previous_secret_until"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["previous_secret_until", "previous_secret"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("webhooks"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
