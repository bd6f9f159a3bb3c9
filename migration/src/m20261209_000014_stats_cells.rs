//! `stats` kept ahead: grouped counts per village (and per district, its villages' summed),
//! classification, dimension and status (`stats_cells`), and the villages whose cells are
//! waiting to be counted again
//! (`stats_dirty`). Every village with households starts waiting, so the first count is
//! made from the data already stored.

use sea_orm_migration::prelude::*;

/// Adds `stats_cells` and `stats_dirty`, and marks every village with households dirty.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000014_stats_cells"
    }
}

/// The counts a cell keeps (`stats`' measures but the overdue one, which depends on the day).
const MEASURES: [&str; 10] = [
    "problems",
    "households",
    "people",
    "solved_households",
    "logbook_entries",
    "closed_households",
    "urgent_households",
    "unverified_entries",
    "planned",
    "planned_done",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        let mut cells = Table::create();
        cells
            .table(Alias::new("stats_cells"))
            .col(
                col("id")
                    .integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            // null in a district's cells: its villages' summed
            .col(col("village_code").string().null())
            .col(col("subdistrict_code").string().null())
            .col(col("district_code").string().not_null())
            .col(col("province_code").string().not_null())
            .col(col("classification").string().null())
            // null where the cell counts every dimension (or every status) at once
            .col(col("dimension").string().null())
            .col(col("status").string().null());
        for m in MEASURES {
            cells.col(col(m).big_integer().not_null());
        }
        manager.create_table(cells.to_owned()).await?;
        for (name, cols) in [
            ("ix_stats_cells_village", &["village_code"][..]),
            (
                "ix_stats_cells_scope",
                &["province_code", "district_code", "dimension", "status"][..],
            ),
        ] {
            let mut ix = Index::create();
            ix.name(name).table(Alias::new("stats_cells"));
            for c in cols {
                ix.col(Alias::new(*c));
            }
            manager.create_index(ix.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("stats_dirty"))
                    .col(col("village_code").string().not_null().primary_key())
                    .col(col("district_code").string().not_null())
                    .col(col("province_code").string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO stats_dirty (village_code, district_code, province_code) \
                 SELECT village_code, MIN(district_code), MIN(province_code) FROM households \
                 GROUP BY village_code",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["stats_dirty", "stats_cells"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
