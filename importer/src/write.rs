//! Writing: one transaction, batched upserts (never a round trip per row), provenance on
//! every record, and problem statuses recomputed from their logbooks before commit.

use crate::plan::{Action, Plan, stored_problem_id};
use crate::reference::{IN_CHUNK, Stored};
use crate::report::{ImportReport, Issue};
use crate::validate::{ProblemIdent, Validated};
use crate::workbook::SheetKind;
use chrono::{NaiveDate, Utc};
use entity::types::Cohort;
use entity::{
    analysis, area, cohort, household, import_batch, import_issue, logbook_entry, member, problem,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Set, TransactionTrait,
};
use std::collections::{HashMap, HashSet};
use tracing::{debug, info_span};

/// Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

/// What the batch row records.
#[derive(Debug, Clone)]
pub struct BatchInfo {
    /// File name.
    pub file_name: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// District scope.
    pub district: Option<String>,
    /// Who.
    pub principal: Option<String>,
    /// Day the batch's values were true.
    pub as_of: NaiveDate,
}

async fn insert_batch(
    db: &impl ConnectionTrait,
    info: &BatchInfo,
    report: &ImportReport,
) -> Result<i32, DbErr> {
    let now = Utc::now();
    let counts = serde_json::to_string(&report.sheets).unwrap_or_else(|_| "{}".into());
    let m = import_batch::ActiveModel {
        id: NotSet,
        file_name: Set(info.file_name.clone()),
        file_sha256: Set(info.sha256.clone()),
        district_code: Set(info.district.clone()),
        status: Set(report.status.as_str().to_string()),
        principal: Set(info.principal.clone()),
        as_of: Set(info.as_of),
        started_at: Set(now),
        finished_at: Set(Some(now)),
        counts: Set(counts),
        error_count: Set(report.errors.len() as i32),
        warning_count: Set(report.warnings.len() as i32),
    }
    .insert(db)
    .await?;
    Ok(m.id)
}

async fn insert_issues<'a>(
    db: &impl ConnectionTrait,
    batch_id: i32,
    issues: impl Iterator<Item = &'a Issue>,
) -> Result<(), DbErr> {
    let models: Vec<import_issue::ActiveModel> = issues
        .map(|i| import_issue::ActiveModel {
            id: NotSet,
            batch_id: Set(batch_id),
            severity: Set(i.severity.as_str().to_string()),
            sheet: Set(i.sheet.map(|s| s.key().to_string()).unwrap_or_default()),
            row: Set(i.row.map(|r| r as i32)),
            column: Set(i.column.clone()),
            value: Set(i.value.clone()),
            code: Set(i.code.clone()),
            message_th: Set(i.message_th.clone()),
            message_en: Set(i.message_en.clone()),
        })
        .collect();
    for chunk in models.chunks(MAX_PARAMS / 10) {
        import_issue::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Records a rejected batch and its errors and warnings; no data is written.
pub async fn record_rejected(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
) -> Result<i32, DbErr> {
    let txn = db.begin().await?;
    let id = insert_batch(&txn, info, report).await?;
    insert_issues(&txn, id, report.errors.iter().chain(report.warnings.iter())).await?;
    txn.commit().await?;
    Ok(id)
}

async fn upsert<E, A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    ncols: usize,
    on_conflict: OnConflict,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    A: ActiveModelTrait<Entity = E> + Clone + Send,
{
    for chunk in rows.chunks((MAX_PARAMS / ncols).max(1)) {
        E::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.clone())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn changed<'a, T>(rows: &'a [T], actions: &'a [Action]) -> impl Iterator<Item = &'a T> {
    rows.iter()
        .zip(actions)
        .filter(|(_, a)| **a != Action::Unchanged)
        .map(|(r, _)| r)
}

/// Writes a validated, planned workbook in one transaction. Returns the batch id.
pub async fn write(
    db: &DatabaseConnection,
    info: &BatchInfo,
    report: &ImportReport,
    v: &Validated,
    plan: &Plan,
    stored: &Stored,
) -> Result<i32, DbErr> {
    let span = info_span!("import.write", import.file = %info.file_name);
    let _guard = span.enter();
    let txn = db.begin().await?;
    let batch = insert_batch(&txn, info, report).await?;
    let prov_sheet = |k: SheetKind| Set(Some(k.key().to_string()));

    // villages first seen here
    let villages: Vec<area::ActiveModel> = v
        .villages
        .iter()
        .map(|vr| area::ActiveModel {
            code: Set(vr.code.clone()),
            level: Set("village".into()),
            parent_code: Set(Some(vr.subdistrict_code.clone())),
            name_th: Set(vr.name.clone()),
            name_en: Set(None),
            batch_id: Set(Some(batch)),
            source_sheet: prov_sheet(SheetKind::Households),
            source_row: Set(Some(vr.row as i32)),
        })
        .collect();
    upsert(
        &txn,
        villages,
        8,
        OnConflict::column(area::Column::Code)
            .do_nothing()
            .to_owned(),
    )
    .await?;

    // cohorts
    let mut cohorts = stored.cohorts.clone();
    let wanted: HashSet<Cohort> = v
        .households
        .iter()
        .map(|h| h.cohort)
        .chain(v.problems.iter().map(|p| p.ident.cohort))
        .filter(|c| !cohorts.contains_key(c))
        .collect();
    for c in wanted {
        let m = cohort::ActiveModel {
            id: NotSet,
            source: Set(c.source.key().to_string()),
            be_year: Set(c.be_year),
            label: Set(c.label()),
        }
        .insert(&txn)
        .await?;
        cohorts.insert(c, m.id);
    }
    let cohort_id = |c: &Cohort| cohorts.get(c).copied().unwrap_or_default();

    // households
    let rows: Vec<household::ActiveModel> = changed(&v.households, &plan.households)
        .map(|h| household::ActiveModel {
            house_code: Set(h.house_code.clone()),
            house_no: Set(h.house_no.clone()),
            village_code: Set(h.village_code.clone()),
            subdistrict_code: Set(h.subdistrict_code.clone()),
            district_code: Set(h.district_code.clone()),
            province_code: Set(h.province_code.clone()),
            head_title: Set(h.head_title.clone()),
            head_name: Set(h.head_name.clone()),
            head_citizen_id: Set(h.head_citizen_id.clone()),
            member_count: Set(h.member_count),
            classification: Set(h.classification.clone()),
            cohort_id: Set(cohort_id(&h.cohort)),
            latitude: Set(h.latitude),
            longitude: Set(h.longitude),
            batch_id: Set(Some(batch)),
            source_sheet: prov_sheet(SheetKind::Households),
            source_row: Set(Some(h.row as i32)),
        })
        .collect();
    debug!(import.rows = rows.len(), "households");
    use household::Column as H;
    upsert(
        &txn,
        rows,
        17,
        OnConflict::column(H::HouseCode)
            .update_columns([
                H::HouseNo,
                H::VillageCode,
                H::SubdistrictCode,
                H::DistrictCode,
                H::ProvinceCode,
                H::HeadTitle,
                H::HeadName,
                H::HeadCitizenId,
                H::MemberCount,
                H::Classification,
                H::CohortId,
                H::Latitude,
                H::Longitude,
                H::BatchId,
                H::SourceSheet,
                H::SourceRow,
            ])
            .to_owned(),
    )
    .await?;

    // members
    let rows: Vec<member::ActiveModel> = changed(&v.members, &plan.members)
        .map(|m| member::ActiveModel {
            citizen_id: Set(m.citizen_id.clone()),
            house_code: Set(m.house_code.clone()),
            title: Set(m.title.clone()),
            first_name: Set(m.first_name.clone()),
            last_name: Set(m.last_name.clone()),
            sex: Set(m.sex.clone()),
            birth_date: Set(m.birth_date),
            age: Set(m.age),
            age_as_of: Set(m.age.map(|_| info.as_of)),
            relation: Set(m.relation.clone()),
            disabled: Set(m.disabled),
            citizen_id_valid: Set(m.citizen_id_valid),
            batch_id: Set(Some(batch)),
            source_sheet: prov_sheet(SheetKind::Members),
            source_row: Set(Some(m.row as i32)),
        })
        .collect();
    use member::Column as M;
    upsert(
        &txn,
        rows,
        15,
        OnConflict::column(M::CitizenId)
            .update_columns([
                M::HouseCode,
                M::Title,
                M::FirstName,
                M::LastName,
                M::Sex,
                M::BirthDate,
                M::Age,
                M::AgeAsOf,
                M::Relation,
                M::Disabled,
                M::CitizenIdValid,
                M::BatchId,
                M::SourceSheet,
                M::SourceRow,
            ])
            .to_owned(),
    )
    .await?;

    // problems
    let rows: Vec<problem::ActiveModel> = changed(&v.problems, &plan.problems)
        .map(|p| problem::ActiveModel {
            id: NotSet,
            house_code: Set(p.ident.house_code.clone()),
            indicator_code: Set(p.ident.indicator),
            citizen_id: Set((!p.ident.person_key.is_empty()).then(|| p.ident.person_key.clone())),
            person_key: Set(p.ident.person_key.clone()),
            cohort_id: Set(cohort_id(&p.ident.cohort)),
            detail: Set(p.detail.clone()),
            status: Set("not_started".into()),
            batch_id: Set(Some(batch)),
            source_sheet: prov_sheet(SheetKind::Problems),
            source_row: Set(Some(p.row as i32)),
        })
        .collect();
    use problem::Column as P;
    upsert(
        &txn,
        rows,
        10,
        OnConflict::columns([P::HouseCode, P::IndicatorCode, P::PersonKey, P::CohortId])
            .update_columns([P::Detail, P::BatchId, P::SourceSheet, P::SourceRow])
            .to_owned(),
    )
    .await?;

    // analyses
    let rows: Vec<analysis::ActiveModel> = changed(&v.analyses, &plan.analyses)
        .map(|a| analysis::ActiveModel {
            house_code: Set(a.house_code.clone()),
            attitude: Set(a.value.attitude.clone()),
            skills: Set(a.value.skills.clone()),
            resources: Set(a.value.resources.clone()),
            way_out: Set(a.value.way_out.clone()),
            analysed_on: Set(a.value.analysed_on),
            mentor: Set(a.value.mentor.clone()),
            batch_id: Set(Some(batch)),
            source_sheet: prov_sheet(SheetKind::Analysis),
            source_row: Set(Some(a.row as i32)),
        })
        .collect();
    use analysis::Column as A;
    upsert(
        &txn,
        rows,
        10,
        OnConflict::column(A::HouseCode)
            .update_columns([
                A::Attitude,
                A::Skills,
                A::Resources,
                A::WayOut,
                A::AnalysedOn,
                A::Mentor,
                A::BatchId,
                A::SourceSheet,
                A::SourceRow,
            ])
            .to_owned(),
    )
    .await?;

    // logbook entries: resolve problem ids (stored, or just inserted)
    let to_write: Vec<_> = changed(&v.entries, &plan.entries).collect();
    let mut problem_ids: HashMap<ProblemIdent, i32> = HashMap::new();
    let mut unknown_houses: Vec<String> = Vec::new();
    for e in &to_write {
        match stored_problem_id(stored, &e.problem) {
            Some(id) => {
                problem_ids.insert(e.problem.clone(), id);
            }
            None => unknown_houses.push(e.problem.house_code.clone()),
        }
    }
    unknown_houses.sort();
    unknown_houses.dedup();
    if !unknown_houses.is_empty() {
        let by_id: HashMap<i32, Cohort> = cohorts.iter().map(|(c, id)| (*id, *c)).collect();
        for chunk in unknown_houses.chunks(IN_CHUNK) {
            for p in problem::Entity::find()
                .filter(problem::Column::HouseCode.is_in(chunk.to_vec()))
                .all(&txn)
                .await?
            {
                if let Some(c) = by_id.get(&p.cohort_id) {
                    problem_ids.insert(
                        ProblemIdent {
                            house_code: p.house_code,
                            indicator: p.indicator_code,
                            person_key: p.person_key,
                            cohort: *c,
                        },
                        p.id,
                    );
                }
            }
        }
    }
    let mut touched: Vec<i32> = Vec::new();
    let rows: Vec<logbook_entry::ActiveModel> = to_write
        .iter()
        .filter_map(|e| {
            let pid = *problem_ids.get(&e.problem)?;
            touched.push(pid);
            Some(logbook_entry::ActiveModel {
                id: NotSet,
                problem_id: Set(pid),
                entry_date: Set(e.date),
                agency_id: Set(e.agency_id),
                agency_text: Set(e.agency_text.clone()),
                entry_key: Set(e.entry_key.clone()),
                activity: Set(e.activity.clone()),
                menu: Set(e.menu.clone()),
                amount_satang: Set(e.amount_satang),
                fund: Set(e.fund.clone()),
                status: Set(e.status.clone()),
                note: Set(e.note.clone()),
                recorded_by: Set(info.principal.clone()),
                batch_id: Set(Some(batch)),
                source_sheet: prov_sheet(SheetKind::Assistance),
                source_row: Set(Some(e.row as i32)),
            })
        })
        .collect();
    if rows.len() != to_write.len() {
        return Err(DbErr::Custom(
            "a logbook entry's problem was not found after writing problems".into(),
        ));
    }
    use logbook_entry::Column as L;
    upsert(
        &txn,
        rows,
        16,
        OnConflict::columns([L::ProblemId, L::EntryDate, L::EntryKey])
            .update_columns([
                L::AgencyId,
                L::AgencyText,
                L::Activity,
                L::Menu,
                L::AmountSatang,
                L::Fund,
                L::Status,
                L::Note,
                L::RecordedBy,
                L::BatchId,
                L::SourceSheet,
                L::SourceRow,
            ])
            .to_owned(),
    )
    .await?;

    touched.sort_unstable();
    touched.dedup();
    refresh_statuses(&txn, &touched).await?;
    insert_issues(&txn, batch, report.warnings.iter()).await?;
    txn.commit().await?;
    Ok(batch)
}

/// Sets each problem's status to its latest logbook entry's (by date, then batch, then
/// row), or `not_started` when it has none. Ids are integers, inlined in chunks.
pub async fn refresh_statuses(db: &impl ConnectionTrait, problem_ids: &[i32]) -> Result<(), DbErr> {
    for chunk in problem_ids.chunks(IN_CHUNK) {
        let ids = chunk
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "UPDATE problems SET status = COALESCE((SELECT e.status FROM logbook_entries e \
             WHERE e.problem_id = problems.id \
             ORDER BY e.entry_date DESC, e.batch_id DESC, e.source_row DESC, e.id DESC LIMIT 1), 'not_started') \
             WHERE id IN ({ids})"
        );
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
