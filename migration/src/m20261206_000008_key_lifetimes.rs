//! Keys for production: an expiry (`expires_at`: refused after it; a rotation's old key ends
//! there), when a key was last used (`last_used_at`, written at most once a minute), its own
//! cost budget per minute (`budget_per_minute`; none: the server's), and trusted documents:
//! a key with `trusted_only` runs only the documents stored for it (`trusted_documents`, by
//! SHA-256).

use sea_orm_migration::prelude::*;

/// Adds `expires_at`, `last_used_at`, `budget_per_minute` and `trusted_only` to `api_keys`,
/// and `trusted_documents`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000008_key_lifetimes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(Alias::new("expires_at"))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("last_used_at"))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("budget_per_minute"))
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new("trusted_only"))
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ];
        crate::add_columns(manager, Alias::new("api_keys"), columns).await?;
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("trusted_documents"))
                    .col(col("key_id").integer().not_null())
                    .col(col("sha256").string_len(64).not_null())
                    .col(col("document").text().not_null())
                    .col(col("name").string().null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("key_id"))
                            .col(Alias::new("sha256")),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Alias::new("trusted_documents"), Alias::new("key_id"))
                            .to(Alias::new("api_keys"), Alias::new("id"))
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
                    .table(Alias::new("trusted_documents"))
                    .to_owned(),
            )
            .await?;
        for name in [
            "expires_at",
            "last_used_at",
            "budget_per_minute",
            "trusted_only",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("api_keys"))
                        .drop_column(Alias::new(name))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
