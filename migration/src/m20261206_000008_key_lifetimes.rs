//! Keys for production: an expiry (`expires_at`: refused after it; a rotation's old key ends
//! there) and when a key was last used (`last_used_at`, written at most once a minute).

use sea_orm_migration::prelude::*;

/// Adds `expires_at` and `last_used_at` to `api_keys`.
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
        for name in ["expires_at", "last_used_at"] {
            let mut c = ColumnDef::new(Alias::new(name))
                .timestamp_with_time_zone()
                .null()
                .to_owned();
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
        for name in ["expires_at", "last_used_at"] {
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
