//! An import's place in the change feed without holding the change counter for its whole
//! write: `change_leases` keeps each change number a long writing transaction has taken but
//! not yet committed (the feed reads up to below the lowest), and `stats_dirty.generation` tells
//! a village marked again while it was being counted from one that was not.

use sea_orm_migration::prelude::*;

/// Adds `change_leases` and `stats_dirty.generation`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261212_000017_change_leases"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("change_leases"))
                    .col(col("seq").big_integer().not_null().primary_key())
                    .col(col("token").integer().not_null())
                    .to_owned(),
            )
            .await?;
        super::add_columns(
            manager,
            Alias::new("stats_dirty"),
            [col("generation")
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("stats_dirty"))
                    .drop_column(Alias::new("generation"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Alias::new("change_leases")).to_owned())
            .await
    }
}
