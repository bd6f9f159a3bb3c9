//! The initial schema: areas, the dimension and indicator catalogue (seeded), agencies,
//! cohorts, households, members, problems, analyses, the logbook and import batches.

use entity::catalog::INDICATORS;
use entity::types::Dimension;
use sea_orm_migration::prelude::*;

/// Creates every table and seeds the catalogue.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_init"
    }
}

fn provenance(t: &mut TableCreateStatement) -> &mut TableCreateStatement {
    t.col(ColumnDef::new(Alias::new("batch_id")).integer().null())
        .col(ColumnDef::new(Alias::new("source_sheet")).string().null())
        .col(ColumnDef::new(Alias::new("source_row")).integer().null())
}

fn pk_auto(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .string()
        .not_null()
        .to_owned()
}

fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).string().null().to_owned()
}

fn int(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
        .integer()
        .not_null()
        .to_owned()
}

fn int_null(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name)).integer().null().to_owned()
}

fn index(table: &str, name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table(Alias::new("areas"))
                .col(text("code").primary_key())
                .col(text("level"))
                .col(text_null("parent_code"))
                .col(text("name_th"))
                .col(text_null("name_en"))
                .col(int_null("batch_id"))
                .col(text_null("source_sheet"))
                .col(int_null("source_row"))
                .to_owned(),
            Table::create()
                .table(Alias::new("dimensions"))
                .col(text("key").primary_key())
                .col(int("position"))
                .col(text("name_th"))
                .col(text("name_en"))
                .to_owned(),
            Table::create()
                .table(Alias::new("indicators"))
                .col(int("code").primary_key())
                .col(int("bmn"))
                .col(text("dimension"))
                .col(text("unit"))
                .col(text_null("age_rule"))
                .col(int_null("min_age"))
                .col(int_null("max_age"))
                .col(text("name_th"))
                .col(text("name_en"))
                .to_owned(),
            Table::create()
                .table(Alias::new("agencies"))
                .col(pk_auto("id"))
                .col(text("code").unique_key())
                .col(text("abbreviation"))
                .col(text("name_th"))
                .col(text("name_en"))
                .col(text("province_code"))
                .to_owned(),
            Table::create()
                .table(Alias::new("agency_dimensions"))
                .col(int("agency_id"))
                .col(text("dimension"))
                .primary_key(
                    Index::create()
                        .col(Alias::new("agency_id"))
                        .col(Alias::new("dimension")),
                )
                .to_owned(),
            Table::create()
                .table(Alias::new("cohorts"))
                .col(pk_auto("id"))
                .col(text("source"))
                .col(int("be_year"))
                .col(text("label"))
                .to_owned(),
            provenance(
                Table::create()
                    .table(Alias::new("households"))
                    .col(text("house_code").primary_key())
                    .col(text_null("house_no"))
                    .col(text("village_code"))
                    .col(text("subdistrict_code"))
                    .col(text("district_code"))
                    .col(text("province_code"))
                    .col(text_null("head_title"))
                    .col(text_null("head_name"))
                    .col(text_null("head_citizen_id"))
                    .col(int_null("member_count"))
                    .col(text_null("classification"))
                    .col(int("cohort_id"))
                    .col(ColumnDef::new(Alias::new("latitude")).double().null())
                    .col(ColumnDef::new(Alias::new("longitude")).double().null()),
            )
            .to_owned(),
            provenance(
                Table::create()
                    .table(Alias::new("members"))
                    .col(text("citizen_id").primary_key())
                    .col(text("house_code"))
                    .col(text_null("title"))
                    .col(text("first_name"))
                    .col(text_null("last_name"))
                    .col(text("sex"))
                    .col(ColumnDef::new(Alias::new("birth_date")).date().null())
                    .col(int_null("age"))
                    .col(ColumnDef::new(Alias::new("age_as_of")).date().null())
                    .col(text_null("relation"))
                    .col(ColumnDef::new(Alias::new("disabled")).boolean().not_null())
                    .col(
                        ColumnDef::new(Alias::new("citizen_id_valid"))
                            .boolean()
                            .not_null(),
                    ),
            )
            .to_owned(),
            provenance(
                Table::create()
                    .table(Alias::new("problems"))
                    .col(pk_auto("id"))
                    .col(text("house_code"))
                    .col(int("indicator_code"))
                    .col(text_null("citizen_id"))
                    .col(text("person_key"))
                    .col(int("cohort_id"))
                    .col(text_null("detail"))
                    .col(text("status")),
            )
            .to_owned(),
            provenance(
                Table::create()
                    .table(Alias::new("analyses"))
                    .col(text("house_code").primary_key())
                    .col(text_null("attitude"))
                    .col(text_null("skills"))
                    .col(text_null("resources"))
                    .col(text_null("way_out"))
                    .col(ColumnDef::new(Alias::new("analysed_on")).date().null())
                    .col(text_null("mentor")),
            )
            .to_owned(),
            provenance(
                Table::create()
                    .table(Alias::new("logbook_entries"))
                    .col(pk_auto("id"))
                    .col(int("problem_id"))
                    .col(ColumnDef::new(Alias::new("entry_date")).date().not_null())
                    .col(int_null("agency_id"))
                    .col(text("agency_text"))
                    .col(text("entry_key"))
                    .col(text("activity"))
                    .col(text_null("menu"))
                    .col(
                        ColumnDef::new(Alias::new("amount_satang"))
                            .big_integer()
                            .null(),
                    )
                    .col(text_null("fund"))
                    .col(text("status"))
                    .col(text_null("note"))
                    .col(text_null("recorded_by")),
            )
            .to_owned(),
            Table::create()
                .table(Alias::new("import_batches"))
                .col(pk_auto("id"))
                .col(text("file_name"))
                .col(text("file_sha256"))
                .col(text_null("district_code"))
                .col(text("status"))
                .col(text_null("principal"))
                .col(ColumnDef::new(Alias::new("as_of")).date().not_null())
                .col(
                    ColumnDef::new(Alias::new("started_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("finished_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Alias::new("counts")).text().not_null())
                .col(int("error_count"))
                .col(int("warning_count"))
                .to_owned(),
            Table::create()
                .table(Alias::new("import_issues"))
                .col(pk_auto("id"))
                .col(int("batch_id"))
                .col(text("severity"))
                .col(text("sheet"))
                .col(int_null("row"))
                .col(text_null("column"))
                .col(ColumnDef::new(Alias::new("value")).text().null())
                .col(text("code"))
                .col(ColumnDef::new(Alias::new("message_th")).text().not_null())
                .col(ColumnDef::new(Alias::new("message_en")).text().not_null())
                .to_owned(),
        ];
        for t in tables {
            manager.create_table(t).await?;
        }
        let indexes = [
            index("areas", "idx_areas_parent", &["parent_code"], false),
            index(
                "agencies",
                "idx_agencies_province",
                &["province_code"],
                false,
            ),
            index(
                "cohorts",
                "uq_cohorts_source_year",
                &["source", "be_year"],
                true,
            ),
            index(
                "households",
                "idx_households_district",
                &["district_code"],
                false,
            ),
            index(
                "households",
                "idx_households_village",
                &["village_code"],
                false,
            ),
            index("members", "idx_members_house", &["house_code"], false),
            index(
                "problems",
                "uq_problems_identity",
                &["house_code", "indicator_code", "person_key", "cohort_id"],
                true,
            ),
            index(
                "problems",
                "idx_problems_indicator_status",
                &["indicator_code", "status"],
                false,
            ),
            index(
                "logbook_entries",
                "uq_logbook_identity",
                &["problem_id", "entry_date", "entry_key"],
                true,
            ),
            index(
                "import_issues",
                "idx_import_issues_batch",
                &["batch_id"],
                false,
            ),
        ];
        for i in indexes {
            manager.create_index(i).await?;
        }

        // seed the catalogue
        let mut dims = Query::insert();
        dims.into_table(Alias::new("dimensions")).columns([
            Alias::new("key"),
            Alias::new("position"),
            Alias::new("name_th"),
            Alias::new("name_en"),
        ]);
        for (i, d) in Dimension::ALL.iter().enumerate() {
            dims.values_panic([
                d.key().into(),
                (i as i32 + 1).into(),
                d.name_th().into(),
                d.name_en().into(),
            ]);
        }
        manager.exec_stmt(dims).await?;
        let mut inds = Query::insert();
        inds.into_table(Alias::new("indicators")).columns(
            [
                "code",
                "bmn",
                "dimension",
                "unit",
                "age_rule",
                "min_age",
                "max_age",
                "name_th",
                "name_en",
            ]
            .map(Alias::new),
        );
        for d in INDICATORS {
            inds.values_panic([
                i32::from(d.code).into(),
                i32::from(d.bmn).into(),
                d.dimension.key().into(),
                d.unit.as_str().into(),
                d.age_rule.map(str::to_string).into(),
                d.min_age.into(),
                d.max_age.into(),
                d.name_th.into(),
                d.name_en.into(),
            ]);
        }
        manager.exec_stmt(inds).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "import_issues",
            "import_batches",
            "logbook_entries",
            "analyses",
            "problems",
            "members",
            "households",
            "cohorts",
            "agency_dimensions",
            "agencies",
            "indicators",
            "dimensions",
            "areas",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
