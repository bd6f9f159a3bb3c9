//! API keys: a hashed bearer token per principal (admin, district or agency).

use sea_orm_migration::prelude::*;

/// Creates `api_keys`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("api_keys"))
                    .col(
                        col("id")
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(col("token_hash").string().not_null().unique_key())
                    .col(col("kind").string().not_null())
                    .col(col("province_code").string().null())
                    .col(col("district_code").string().null())
                    .col(col("agency_id").integer().null())
                    .col(col("label").string().null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .col(col("revoked_at").timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("api_keys")).to_owned())
            .await
    }
}
