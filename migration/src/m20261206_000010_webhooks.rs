//! Webhooks: a key's subscriptions to topics, the outbox of events written in each change's
//! own transaction, and each event's delivery to each subscription with its attempts.

use sea_orm_migration::prelude::*;

/// Adds `webhooks`, `webhook_events`, `webhook_deliveries` and `webhook_attempts`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000010_webhooks"
    }
}

fn id() -> ColumnDef {
    ColumnDef::new(Alias::new("id"))
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn col(n: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(n)).to_owned()
}

fn cascade(from: &str, col: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("webhooks"))
                    .col(id())
                    .col(col("key_id").integer().not_null())
                    .col(col("url").text().not_null())
                    .col(col("topics").string().not_null())
                    .col(col("dimensions").string().null())
                    .col(col("area_codes").text().null())
                    .col(col("description").text().null())
                    .col(col("secret").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut cascade("webhooks", "key_id", "api_keys"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("webhook_events"))
                    .col(id())
                    .col(col("topic").string().not_null())
                    .col(col("subject_id").integer().not_null())
                    .col(col("problem_id").integer().null())
                    .col(col("house_code").string().null())
                    .col(col("indicator_code").integer().null())
                    .col(col("status").string().null())
                    .col(col("previous_status").string().null())
                    .col(col("area_code").string().null())
                    .col(col("at").timestamp_with_time_zone().not_null())
                    .col(col("dispatched").boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_dispatched")
                    .table(Alias::new("webhook_events"))
                    .col(Alias::new("dispatched"))
                    .col(Alias::new("id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("webhook_deliveries"))
                    .col(id())
                    .col(col("webhook_id").integer().not_null())
                    .col(col("event_id").integer().not_null())
                    .col(col("status").string().not_null())
                    .col(col("attempts").integer().not_null().default(0))
                    .col(col("next_attempt_at").timestamp_with_time_zone().null())
                    .col(col("lease_until").timestamp_with_time_zone().null())
                    .col(col("last_response").integer().null())
                    .col(col("last_error").text().null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .col(col("finished_at").timestamp_with_time_zone().null())
                    .foreign_key(&mut cascade("webhook_deliveries", "webhook_id", "webhooks"))
                    .foreign_key(&mut cascade(
                        "webhook_deliveries",
                        "event_id",
                        "webhook_events",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_once")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("webhook_id"))
                    .col(Alias::new("event_id"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        // a delivery's event: the fan-out's "taken by no webhook" and the cascade from events
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_event")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("event_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(Alias::new("webhook_deliveries"))
                    .col(Alias::new("status"))
                    .col(Alias::new("next_attempt_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("webhook_attempts"))
                    .col(id())
                    .col(col("delivery_id").integer().not_null())
                    .col(col("at").timestamp_with_time_zone().not_null())
                    .col(col("response").integer().null())
                    .col(col("error").text().null())
                    .col(col("duration_ms").integer().not_null())
                    .foreign_key(&mut cascade(
                        "webhook_attempts",
                        "delivery_id",
                        "webhook_deliveries",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_delivery")
                    .table(Alias::new("webhook_attempts"))
                    .col(Alias::new("delivery_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_events",
            "webhooks",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
