//! The province on the problem row: a province's or an agency's rule ("problems of households
//! of province 33", with an agency's indicators) is a condition on the problem itself instead
//! of a semi-join to every household of the province (the worklist's statement as a health
//! agency, 22,387 households: median 28 → 15 ms; docs/benchmarks.md). The importer keeps it:
//! from the household when it inserts a problem, and again for every problem of a household
//! whose province an import changes.

use sea_orm_migration::prelude::*;

/// Adds `problems.province_code` (filled from the households) and its index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000015_problem_province"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("problems"))
                    .add_column(
                        ColumnDef::new(Alias::new("province_code"))
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE problems SET province_code = \
                 (SELECT h.province_code FROM households h WHERE h.house_code = problems.house_code)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_problems_province_indicator")
                    .table(Alias::new("problems"))
                    .col(Alias::new("province_code"))
                    .col(Alias::new("indicator_code"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_problems_province_indicator")
                    .table(Alias::new("problems"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("problems"))
                    .drop_column(Alias::new("province_code"))
                    .to_owned(),
            )
            .await
    }
}
