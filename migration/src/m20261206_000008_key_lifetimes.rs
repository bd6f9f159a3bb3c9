//! Keys for production: an expiry (`expires_at`: refused after it; a rotation's old key ends
//! there), when a key was last used (`last_used_at`, written at most once a minute), and its
//! own cost budget per minute (`budget_per_minute`; none: the server's).

use sea_orm_migration::prelude::*;

/// Adds `expires_at`, `last_used_at` and `budget_per_minute` to `api_keys`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000008_key_lifetimes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement
        for mut c in [
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
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("api_keys"))
                        .add_column(&mut c)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["expires_at", "last_used_at", "budget_per_minute"] {
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
