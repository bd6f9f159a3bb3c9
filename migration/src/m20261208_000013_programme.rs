//! The provincial programme: poverty funds and their movements (capital, grants, loans,
//! repayments, write-offs), agencies' plans on problems, the province's targets, and the
//! fund a logbook entry's `fund` text was matched to.

use sea_orm_migration::prelude::*;

/// Adds `funds`, `fund_movements`, `plans`, `targets`, and `logbook_entries.fund_id`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000013_programme"
    }
}

fn fk(from: &str, col: &str, to: &str, to_col: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(from), Alias::new(col))
        .to(Alias::new(to), Alias::new(to_col))
        .on_delete(ForeignKeyAction::NoAction)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |n: &str| ColumnDef::new(Alias::new(n)).to_owned();
        let id = || {
            col("id")
                .integer()
                .not_null()
                .auto_increment()
                .primary_key()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("funds"))
                    .col(id())
                    .col(col("name").string().not_null())
                    .col(col("level").string().not_null())
                    .col(col("area_code").string().not_null())
                    .col(col("province_code").string().not_null())
                    .col(col("established_on").date().null())
                    .col(col("note").text().null())
                    .col(col("created_by").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk("funds", "area_code", "areas", "code"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_funds_area_name")
                    .table(Alias::new("funds"))
                    .col(Alias::new("area_code"))
                    .col(Alias::new("name"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("fund_movements"))
                    .col(id())
                    .col(col("fund_id").integer().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("moved_on").date().not_null())
                    .col(col("amount_satang").big_integer().not_null())
                    .col(col("house_code").string().null())
                    .col(col("problem_id").integer().null())
                    .col(col("entry_id").integer().null())
                    .col(col("loan_id").integer().null())
                    .col(col("source").text().null())
                    .col(col("term_months").integer().null())
                    .col(col("every_months").integer().null())
                    .col(col("note").text().null())
                    .col(col("recorded_by").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .col(col("batch_id").integer().null())
                    .col(col("source_row").integer().null())
                    .check(Expr::cust("amount_satang > 0"))
                    .foreign_key(&mut fk("fund_movements", "fund_id", "funds", "id"))
                    .foreign_key(&mut fk(
                        "fund_movements",
                        "house_code",
                        "households",
                        "house_code",
                    ))
                    .foreign_key(&mut fk("fund_movements", "problem_id", "problems", "id"))
                    .foreign_key(&mut fk(
                        "fund_movements",
                        "entry_id",
                        "logbook_entries",
                        "id",
                    ))
                    .foreign_key(&mut fk("fund_movements", "loan_id", "fund_movements", "id"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_fund_movements_fund", &["fund_id", "moved_on"][..]),
            ("ix_fund_movements_house", &["house_code"][..]),
            ("ix_fund_movements_loan", &["loan_id"][..]),
        ] {
            let mut ix = Index::create();
            ix.name(name).table(Alias::new("fund_movements"));
            for c in cols {
                ix.col(Alias::new(*c));
            }
            manager.create_index(ix.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("plans"))
                    .col(id())
                    .col(col("problem_id").integer().not_null())
                    .col(col("agency_id").integer().not_null())
                    .col(col("project").string().not_null())
                    .col(col("planned_on").date().not_null())
                    .col(col("budget_satang").big_integer().null())
                    .col(col("made_on").date().not_null())
                    .col(col("recorded_by").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk("plans", "problem_id", "problems", "id"))
                    .foreign_key(&mut fk("plans", "agency_id", "agencies", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_plans_problem_agency_project")
                    .table(Alias::new("plans"))
                    .col(Alias::new("problem_id"))
                    .col(Alias::new("agency_id"))
                    .col(Alias::new("project"))
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_plans_agency")
                    .table(Alias::new("plans"))
                    .col(Alias::new("agency_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("targets"))
                    .col(id())
                    .col(col("province_code").string().not_null())
                    .col(col("name").string().not_null())
                    .col(col("cohort_id").integer().null())
                    .col(col("dimension").string().null())
                    .col(col("due_on").date().not_null())
                    .col(col("created_by").string().not_null())
                    .col(col("created_at").timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk("targets", "province_code", "areas", "code"))
                    .foreign_key(&mut fk("targets", "cohort_id", "cohorts", "id"))
                    .foreign_key(&mut fk("targets", "dimension", "dimensions", "key"))
                    .to_owned(),
            )
            .await?;
        // not keyed: SQLite cannot add a constraint to a table without rebuilding it (see
        // m20261203_000006); the importer and the API write only ids of funds they read
        crate::add_columns(
            manager,
            Alias::new("logbook_entries"),
            [col("fund_id").integer().null().to_owned()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["targets", "plans", "fund_movements", "funds"] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
