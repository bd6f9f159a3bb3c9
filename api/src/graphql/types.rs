//! GraphQL output types and enums, separate from the SeaORM models they wrap.

use super::loaders;
use crate::error::GqlResult;
use async_graphql::{Context, Object, Result, SimpleObject};
use entity::types::AreaCode;
use entity::{analysis, area, cohort, household, logbook_entry, member, problem};

/// An import batch's state (the domain's `BatchStatus`, named `ImportStatus` in the schema).
pub use entity::types::BatchStatus as ImportStatus;
/// The domain's own enums are the GraphQL enums (derived in `entity` with its `graphql`
/// feature): no mirror to keep in step.
pub use entity::types::{
    AreaLevel, Classification, Dimension, JobStage, ProblemStatus, Sex, Verification,
};

/// An administrative area.
pub struct Area(pub area::Model);

#[Object]
impl Area {
    /// 2, 4, 6 or 8 digits.
    async fn code(&self) -> &str {
        self.0.code.as_str()
    }
    /// Level.
    async fn level(&self) -> AreaLevel {
        self.0.level
    }
    /// Thai name.
    async fn name_th(&self) -> &str {
        &self.0.name_th
    }
    /// English name.
    async fn name_en(&self) -> Option<&str> {
        self.0.name_en.as_deref()
    }
    /// Enclosing area's code.
    async fn parent_code(&self) -> Option<&str> {
        self.0.parent_code.as_ref().map(AreaCode::as_str)
    }
}

/// One of the seventeen MPI indicators.
#[derive(SimpleObject, Clone)]
pub struct Indicator {
    /// Stable code 1–17.
    pub code: i32,
    /// Basic Minimum Needs survey item (2017–2021 edition).
    pub bmn: i32,
    /// Its dimension.
    pub dimension: Dimension,
    /// `household` or `person`.
    pub unit: String,
    /// Who it is about (`6-14`, `60+`, `disabled`…).
    pub age_rule: Option<String>,
    /// Thai text.
    pub name_th: String,
    /// English text.
    pub name_en: String,
}

impl Indicator {
    /// From the catalogue.
    pub fn of(code: i32) -> Option<Self> {
        u8::try_from(code)
            .ok()
            .and_then(entity::catalog::indicator)
            .map(|d| Indicator {
                code: i32::from(d.code),
                bmn: i32::from(d.bmn),
                dimension: d.dimension,
                unit: d.unit.as_str().to_string(),
                age_rule: d.age_rule.map(str::to_string),
                name_th: d.name_th.to_string(),
                name_en: d.name_en.to_string(),
            })
    }
}

/// A cohort: source and Buddhist-Era year.
pub struct Cohort(pub cohort::Model);

/// A cohort: source and Buddhist-Era year.
#[Object]
impl Cohort {
    /// `TPMAP 2565`.
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// `tpmap` or `thaiqm`.
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// Buddhist-Era year.
    async fn be_year(&self) -> i32 {
        self.0.be_year
    }
}

/// A target household.
pub struct Household(pub household::Model);

#[Object]
impl Household {
    /// 11-digit house code.
    async fn house_code(&self) -> &str {
        self.0.house_code.as_str()
    }
    /// Its urgency and closure (none: neither urgent nor closed).
    async fn follow_up(&self, ctx: &Context<'_>) -> Result<Option<FollowUp>> {
        Ok(loaders::of(ctx)?
            .follow_ups
            .load_one(self.0.house_code.to_string())
            .await?
            .map(FollowUp))
    }
    /// House number as written.
    async fn house_no(&self) -> Option<&str> {
        self.0.house_no.as_deref()
    }
    /// Village code.
    async fn village_code(&self) -> &str {
        self.0.village_code.as_str()
    }
    /// The village.
    async fn village(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(loaders::of(ctx)?
            .areas
            .load_one(self.0.village_code.clone().into())
            .await?
            .map(Area))
    }
    /// The subdistrict.
    async fn subdistrict(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(loaders::of(ctx)?
            .areas
            .load_one(self.0.subdistrict_code.clone())
            .await?
            .map(Area))
    }
    /// The district.
    async fn district(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(loaders::of(ctx)?
            .areas
            .load_one(self.0.district_code.clone())
            .await?
            .map(Area))
    }
    /// The province.
    async fn province(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(loaders::of(ctx)?
            .areas
            .load_one(self.0.province_code.clone())
            .await?
            .map(Area))
    }
    /// Head's title.
    async fn head_title(&self) -> Option<&str> {
        self.0.head_title.as_deref()
    }
    /// Head's name.
    async fn head_name(&self) -> Option<&str> {
        self.0.head_name.as_deref()
    }
    /// Members as stated in the workbook.
    async fn member_count(&self) -> Option<i32> {
        self.0.member_count
    }
    /// The 4ท classification.
    async fn classification(&self) -> Option<Classification> {
        self.0.classification
    }
    /// The cohort.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Option<Cohort>> {
        let c = loaders::of(ctx)?.cohorts.load_one(self.0.cohort_id).await?;
        Ok(c.map(Cohort))
    }
    /// Latitude.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Longitude.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// Its members (personal data: only of households the key may see).
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>> {
        let members = loaders::of(ctx)?
            .members
            .load_one(self.0.house_code.clone())
            .await?;
        Ok(members.into_iter().flatten().map(Member).collect())
    }
    /// Its problems the key may see (an agency: only those in its dimensions).
    async fn problems(&self, ctx: &Context<'_>) -> Result<Vec<Problem>> {
        let problems = loaders::of(ctx)?
            .problems
            .load_one(self.0.house_code.clone())
            .await?;
        Ok(problems.into_iter().flatten().map(Problem).collect())
    }
    /// Its 4ท analysis.
    async fn analysis(&self, ctx: &Context<'_>) -> Result<Option<Analysis>> {
        let analysis = loaders::of(ctx)?
            .analyses
            .load_one(self.0.house_code.clone())
            .await?;
        Ok(analysis.flatten().map(Analysis))
    }
    /// When it last changed (RFC 3339); see also the `changes` feed.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
}

/// A person in a target household.
#[derive(Clone)]
pub struct Member(pub member::Model);

#[Object]
impl Member {
    /// 13-digit citizen ID.
    async fn citizen_id(&self) -> &str {
        self.0.citizen_id.as_str()
    }
    /// Whether its check digit is right.
    async fn citizen_id_valid(&self) -> bool {
        self.0.citizen_id_valid
    }
    /// Title.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// First name.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }
    /// Last name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// Sex.
    async fn sex(&self) -> Sex {
        self.0.sex
    }
    /// Birth date, `YYYY-MM-DD`.
    async fn birth_date(&self) -> Option<String> {
        self.0.birth_date.map(|d| d.to_string())
    }
    /// Age in whole years as given (when no birth date was).
    async fn age(&self) -> Option<i32> {
        self.0.age
    }
    /// Relation to the head.
    async fn relation(&self) -> Option<&str> {
        self.0.relation.as_deref()
    }
    /// Has a disability.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// Household.
    async fn house_code(&self) -> &str {
        self.0.house_code.as_str()
    }
    /// When it last changed (RFC 3339); see also the `changes` feed.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
}

/// A failed indicator of a household, or of one person in it.
#[derive(Clone)]
pub struct Problem(pub problem::Model);

#[Object]
impl Problem {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// Household.
    async fn house_code(&self) -> &str {
        self.0.house_code.as_str()
    }
    /// The indicator failed.
    async fn indicator(&self) -> Option<Indicator> {
        Indicator::of(self.0.indicator_code)
    }
    /// The person, for person indicators.
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        let Some(cid) = &self.0.citizen_id else {
            return Ok(None);
        };
        let members = loaders::of(ctx)?
            .members
            .load_one(self.0.house_code.clone())
            .await?;
        Ok(members
            .into_iter()
            .flatten()
            .find(|m| &m.citizen_id == cid)
            .map(Member))
    }
    /// The cohort.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Option<Cohort>> {
        let c = loaders::of(ctx)?.cohorts.load_one(self.0.cohort_id).await?;
        Ok(c.map(Cohort))
    }
    /// Detail.
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
    /// Its latest logbook entry's status, or NOT_STARTED.
    async fn status(&self) -> ProblemStatus {
        self.0.status
    }
    /// Help given, oldest first.
    async fn logbook(&self, ctx: &Context<'_>) -> Result<Vec<LogbookEntry>> {
        let entries = loaders::of(ctx)?.entries.load_one(self.0.id).await?;
        Ok(entries
            .into_iter()
            .flatten()
            .map(|(e, agency)| LogbookEntry(e, agency))
            .collect())
    }
    /// When it last changed (RFC 3339); see also the `changes` feed.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
    /// The next visit its latest logbook entry plans (`YYYY-MM-DD`).
    async fn next_visit_on(&self) -> Option<String> {
        self.0.next_visit_on.map(|d| d.to_string())
    }
    /// When it is due: its next visit while it is followed up; `--overdue-days` after it
    /// was recorded while not started; none once solved or not solvable yet.
    async fn due_on(&self, ctx: &Context<'_>) -> Option<String> {
        overdue_rule(ctx).due(&self.0).map(|d| d.to_string())
    }
    /// Its due day has passed.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        let rule = overdue_rule(ctx);
        rule.due(&self.0).is_some_and(|d| d < rule.today)
    }
}

/// The request's overdue rule (the server's `--overdue-days`, today), or the default one.
pub(crate) fn overdue_rule(ctx: &Context<'_>) -> crate::service::follow_up::OverdueRule {
    ctx.data_opt::<crate::service::follow_up::OverdueRule>()
        .copied()
        .unwrap_or_default()
}

/// A household's follow-up: urgency and closure.
pub struct FollowUp(pub entity::household_follow_up::Model);

/// A household's follow-up: whether it is urgent, and whether (and why) it was closed.
#[Object]
impl FollowUp {
    /// A critical target: first on the worklist.
    async fn urgent(&self) -> bool {
        self.0.urgent
    }
    /// Why it is urgent.
    async fn urgent_reason(&self) -> Option<&str> {
        self.0.urgent_reason.as_deref()
    }
    /// Closed: why (none while open).
    async fn closed_reason(&self) -> Option<entity::types::ClosureReason> {
        self.0.closed_reason
    }
    /// Closed on (`YYYY-MM-DD`).
    async fn closed_on(&self) -> Option<String> {
        self.0.closed_on.map(|d| d.to_string())
    }
    /// The note on its closure.
    async fn closed_note(&self) -> Option<&str> {
        self.0.closed_note.as_deref()
    }
    /// The household it was merged into.
    async fn merged_into(&self) -> Option<&str> {
        self.0.merged_into.as_deref()
    }
    /// Who last changed it.
    async fn updated_by(&self) -> &str {
        &self.0.updated_by
    }
}

/// One piece of help given.
#[derive(Clone)]
pub struct LogbookEntry(pub logbook_entry::Model, pub Option<String>);

#[Object]
impl LogbookEntry {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// The problem.
    async fn problem_id(&self) -> i32 {
        self.0.problem_id
    }
    /// Date, `YYYY-MM-DD`.
    async fn date(&self) -> String {
        self.0.entry_date.to_string()
    }
    /// The agency's code, when it is a known one.
    async fn agency_code(&self) -> Option<&str> {
        self.1.as_deref()
    }
    /// The agency as written.
    async fn agency(&self) -> &str {
        &self.0.agency_text
    }
    /// Activity.
    async fn activity(&self) -> &str {
        &self.0.activity
    }
    /// Poverty-solving menu item.
    async fn menu(&self) -> Option<&str> {
        self.0.menu.as_deref()
    }
    /// Cost in baht.
    async fn amount(&self) -> Option<f64> {
        self.0.amount_satang.map(|s| s as f64 / 100.0)
    }
    /// Fund, as written.
    async fn fund(&self) -> Option<&str> {
        self.0.fund.as_deref()
    }
    /// The fund (`funds`, `fund(id)`) the text names: one of the household's district or
    /// province, where it names one.
    async fn fund_id(&self) -> Option<i32> {
        self.0.fund_id
    }
    /// Result.
    async fn status(&self) -> ProblemStatus {
        self.0.status
    }
    /// Note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Who recorded it.
    async fn recorded_by(&self) -> Option<&str> {
        self.0.recorded_by.as_deref()
    }
    /// When the household is to be visited next about this problem (`YYYY-MM-DD`).
    async fn next_visit_on(&self) -> Option<String> {
        self.0.next_visit_on.map(|d| d.to_string())
    }
    /// When it last changed (RFC 3339); see also the `changes` feed.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
    /// Where the help was given: latitude (WGS 84).
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Where the help was given: longitude (WGS 84).
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// The district's check.
    async fn verification(&self) -> Verification {
        self.0.verification
    }
    /// Why it was returned.
    async fn verification_note(&self) -> Option<&str> {
        self.0.verification_note.as_deref()
    }
    /// Who verified or returned it.
    async fn verified_by(&self) -> Option<&str> {
        self.0.verified_by.as_deref()
    }
    /// When (RFC 3339).
    async fn verified_at(&self) -> Option<String> {
        self.0.verified_at.map(|t| t.to_rfc3339())
    }
    /// Its evidence photos (those the key may see: its household's personal data).
    async fn evidence(&self, ctx: &Context<'_>) -> Result<Vec<Evidence>> {
        Ok(loaders::of(ctx)?
            .evidence
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Evidence)
            .collect())
    }
}

/// An evidence photo of a logbook entry.
pub struct Evidence(pub entity::evidence::Model);

/// An evidence photo: fetch `url` (or `thumbUrl`) with the same key.
#[Object]
impl Evidence {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// The entry it shows.
    async fn entry_id(&self) -> i32 {
        self.0.entry_id
    }
    /// The photo, metadata removed: `/evidence/{id}`.
    async fn url(&self) -> String {
        format!("/evidence/{}", self.0.id)
    }
    /// Its thumbnail (JPEG, at most 320 px): `/evidence/{id}/thumb`.
    async fn thumb_url(&self) -> String {
        format!("/evidence/{}/thumb", self.0.id)
    }
    /// `image/jpeg` or `image/png`.
    async fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// Width, pixels.
    async fn width(&self) -> i32 {
        self.0.width
    }
    /// Height, pixels.
    async fn height(&self) -> i32 {
        self.0.height
    }
    /// Size of the photo as served, bytes.
    async fn byte_size(&self) -> i64 {
        self.0.byte_size
    }
    /// Caption.
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }
    /// Who attached it.
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }
    /// When (RFC 3339).
    async fn created_at(&self) -> String {
        self.0.created_at.to_rfc3339()
    }
}

/// The 4ท analysis.
#[derive(Clone)]
pub struct Analysis(pub analysis::Model);

#[Object]
impl Analysis {
    /// ทัศนคติ
    async fn attitude(&self) -> Option<&str> {
        self.0.attitude.as_deref()
    }
    /// ทักษะ
    async fn skills(&self) -> Option<&str> {
        self.0.skills.as_deref()
    }
    /// ทรัพยากร
    async fn resources(&self) -> Option<&str> {
        self.0.resources.as_deref()
    }
    /// ทางออก
    async fn way_out(&self) -> Option<&str> {
        self.0.way_out.as_deref()
    }
    /// Date, `YYYY-MM-DD`.
    async fn analysed_on(&self) -> Option<String> {
        self.0.analysed_on.map(|d| d.to_string())
    }
    /// Mentor team.
    async fn mentor(&self) -> Option<&str> {
        self.0.mentor.as_deref()
    }
    /// When it last changed (RFC 3339); see also the `changes` feed.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
}

/// Where a running import is.
#[derive(SimpleObject, Clone)]
pub struct ImportProgress {
    /// `reading`, `validating`, `writing`, or `queued` / `done`.
    pub stage: String,
    /// Rows done in this stage.
    pub rows_done: i64,
    /// Rows of this stage (0 while reading).
    pub rows_total: i64,
    /// The whole job's share done, 0 to 1 (reading 0–0.4, validating 0.4–0.6, writing 0.6–1).
    pub fraction: f64,
}

impl ImportProgress {
    /// Progress of a running stage from its rows; the weights are the stage's own.
    pub fn of(stage: JobStage, done: i64, total: i64) -> Self {
        let part = if total > 0 {
            done as f64 / total as f64
        } else {
            0.0
        };
        Self {
            stage: stage.key().to_string(),
            rows_done: done,
            rows_total: total,
            fraction: stage.fraction(part),
        }
    }

    /// A job not started yet.
    pub fn waiting() -> Self {
        Self {
            stage: "queued".into(),
            rows_done: 0,
            rows_total: 0,
            fraction: 0.0,
        }
    }

    /// A finished batch, whatever its outcome.
    pub fn done() -> Self {
        Self {
            stage: "done".into(),
            rows_done: 0,
            rows_total: 0,
            fraction: 1.0,
        }
    }
}

/// Counts of one sheet of a batch.
#[derive(SimpleObject, Clone)]
pub struct SheetCounts {
    /// `households`, `members`, `problems`, `analysis` or `assistance`.
    pub sheet: String,
    /// Data rows read.
    pub read: i64,
    /// Rows whose identity was new.
    pub inserted: i64,
    /// Rows that changed something stored.
    pub updated: i64,
    /// Rows equal to what was stored.
    pub unchanged: i64,
    /// Rows with at least one error.
    pub rejected: i64,
}

/// An error or warning of a batch.
#[derive(SimpleObject, Clone)]
pub struct ImportIssue {
    /// Canonical English sheet name, or null for the whole file.
    pub sheet: Option<String>,
    /// Row number as Excel shows it.
    pub row: Option<i32>,
    /// Column header as written.
    pub column: Option<String>,
    /// Cell value as written.
    pub value: Option<String>,
    /// Stable code, e.g. `citizen_id_length`.
    pub code: String,
    /// Message in Thai.
    pub message_th: String,
    /// Message in English.
    pub message_en: String,
}

/// One change to agencies, their dimensions or API keys, and who made it.
#[derive(SimpleObject)]
pub struct AuditEvent {
    /// Id; newer events have larger ids.
    pub id: i32,
    /// When (RFC 3339).
    pub at: String,
    /// Who: `admin:33:4`, `cli` for the command line.
    pub principal: String,
    /// What: `agency.add`, `agency.assign`, `agency.unassign`, `key.create`, `key.revoke`.
    pub action: String,
    /// The province it belongs to.
    pub province_code: Option<String>,
    /// What was changed: an agency code or a key id.
    pub subject: String,
    /// Details (JSON text).
    pub detail: String,
}

impl From<entity::audit_event::Model> for AuditEvent {
    fn from(m: entity::audit_event::Model) -> Self {
        AuditEvent {
            id: m.id,
            at: m.at.to_rfc3339(),
            principal: m.principal,
            action: m.action,
            province_code: m.province_code,
            subject: m.subject,
            detail: m.detail,
        }
    }
}

/// One workbook imported (or refused).
pub struct ImportBatch(pub entity::import_batch::Model);

#[Object]
impl ImportBatch {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// File name.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// Where the job is, or its outcome.
    async fn status(&self) -> ImportStatus {
        self.0.status
    }
    /// Uploaded to be checked only.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
    /// Progress: live while this server runs the job, else as last recorded.
    async fn progress(&self, ctx: &Context<'_>) -> ImportProgress {
        if self.0.status.is_open()
            && let Some(l) = ctx
                .data_opt::<crate::jobs::Jobs>()
                .and_then(|j| j.live(self.0.id))
        {
            return ImportProgress::of(l.stage, l.done as i64, l.total as i64);
        }
        match self.0.status {
            ImportStatus::Queued => ImportProgress::waiting(),
            ImportStatus::Running => ImportProgress::of(
                self.0.stage.unwrap_or(JobStage::Reading),
                self.0.rows_done,
                self.0.rows_total,
            ),
            _ => ImportProgress::done(),
        }
    }
    /// Why a `FAILED` job failed.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    /// Times a worker started the job (more than 1 after a restart interrupted it).
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// For a rejected upload: where to download the workbook of its offending rows, with
    /// the reasons in Thai (GET with the same key). Null for other batches, and for batches
    /// imported from the command line (their file is not stored).
    async fn error_workbook_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if self.0.status != ImportStatus::Rejected || self.0.error_count == 0 {
            return Ok(None);
        }
        let db = super::db(ctx)?;
        let stored = crate::service::imports::has_upload(db, self.0.id)
            .await
            .gql()?;
        Ok(stored.then(|| format!("/batches/{}/errors.xlsx", self.0.id)))
    }
    /// The scope it ran under: a district code, a province code (a province admin's
    /// upload), or null (national).
    async fn district_code(&self) -> Option<&str> {
        self.0.district_code.as_deref()
    }
    /// Who imported it.
    async fn principal(&self) -> Option<&str> {
        self.0.principal.as_deref()
    }
    /// When it started (RFC 3339).
    async fn started_at(&self) -> String {
        self.0.started_at.to_rfc3339()
    }
    /// When it finished (RFC 3339).
    async fn finished_at(&self) -> Option<String> {
        self.0.finished_at.map(|t| t.to_rfc3339())
    }
    /// Per-sheet counts.
    async fn sheets(&self) -> Vec<SheetCounts> {
        let v: serde_json::Value = serde_json::from_str(&self.0.counts).unwrap_or_default();
        let n = |c: &serde_json::Value, k: &str| c[k].as_i64().unwrap_or(0);
        importer::workbook::SheetKind::ALL
            .iter()
            .map(|k| k.key())
            .filter_map(|s| v.get(s).map(|c| (s, c)))
            .map(|(s, c)| SheetCounts {
                sheet: s.to_string(),
                read: n(c, "read"),
                inserted: n(c, "inserted"),
                updated: n(c, "updated"),
                unchanged: n(c, "unchanged"),
                rejected: n(c, "rejected"),
            })
            .collect()
    }
    /// Number of errors.
    async fn error_count(&self) -> i32 {
        self.0.error_count
    }
    /// Number of warnings.
    async fn warning_count(&self) -> i32 {
        self.0.warning_count
    }
    /// Errors, in sheet and row order.
    async fn errors(&self, ctx: &Context<'_>) -> Result<Vec<ImportIssue>> {
        issues(ctx, self.0.id, "error").await
    }
    /// Warnings, in sheet and row order.
    async fn warnings(&self, ctx: &Context<'_>) -> Result<Vec<ImportIssue>> {
        issues(ctx, self.0.id, "warning").await
    }
}

async fn issues(ctx: &Context<'_>, batch: i32, severity: &str) -> Result<Vec<ImportIssue>> {
    use crate::error::GqlResult;
    let db = super::db(ctx)?;
    let rows = crate::service::imports::issues(db, batch, severity)
        .await
        .gql()?;
    Ok(rows
        .into_iter()
        .map(|i| ImportIssue {
            sheet: Some(i.sheet).filter(|s| !s.is_empty()),
            row: i.row,
            column: i.column,
            value: i.value,
            code: i.code,
            message_th: i.message_th,
            message_en: i.message_en,
        })
        .collect())
}

/// What happened to a record, in the change feed.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created or changed: the event carries the record as it is now.
    Upserted,
    /// No longer in the key's sight: delete it from the mirror.
    Removed,
}

/// A record as the change feed carries it.
#[derive(async_graphql::Union)]
pub enum ChangeRecord {
    /// A household.
    Household(Household),
    /// A member.
    Member(Member),
    /// A problem.
    Problem(Problem),
    /// An analysis.
    Analysis(Analysis),
    /// A logbook entry.
    LogbookEntry(LogbookEntry),
}

/// One event of the change feed (with the agency code of a logbook entry's agency).
pub struct Change(pub crate::service::changes::Change, pub Option<String>);

#[Object]
impl Change {
    /// The record's kind.
    async fn entity(&self) -> crate::service::changes::Entity {
        self.0.entity
    }
    /// Its key: house code (households, analyses), citizen ID (members), id (problems,
    /// logbook entries).
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// Upserted or removed.
    async fn kind(&self) -> ChangeKind {
        if self.0.record.is_some() {
            ChangeKind::Upserted
        } else {
            ChangeKind::Removed
        }
    }
    /// When (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }
    /// The record as it is now (for `UPSERTED`).
    async fn record(&self) -> Option<ChangeRecord> {
        use crate::service::changes::Record as R;
        self.0.record.clone().map(|r| match r {
            R::Household(h) => ChangeRecord::Household(Household(h)),
            R::Member(m) => ChangeRecord::Member(Member(m)),
            R::Problem(p) => ChangeRecord::Problem(Problem(p)),
            R::Analysis(a) => ChangeRecord::Analysis(Analysis(a)),
            R::LogbookEntry(e) => ChangeRecord::LogbookEntry(LogbookEntry(e, self.1.clone())),
        })
    }
}

/// A bulk export.
pub struct ExportJob(pub entity::export_job::Model);

/// One file of an export.
#[derive(SimpleObject)]
pub struct ExportFile {
    /// The kind of record in it.
    pub entity: crate::service::changes::Entity,
    /// Records written (once the export is done).
    pub rows: Option<i64>,
    /// Where to download it (with the same key), once the export is done.
    pub url: Option<String>,
}

#[Object]
impl ExportJob {
    /// Id.
    async fn id(&self) -> i32 {
        self.0.id
    }
    /// `QUEUED`, `RUNNING`, `DONE`, `FAILED` or `EXPIRED` (its files deleted).
    async fn status(&self) -> String {
        self.0.status.to_ascii_uppercase()
    }
    /// `csv` or `ndjson`.
    async fn format(&self) -> &str {
        &self.0.format
    }
    /// Records written so far.
    async fn rows_done(&self) -> i64 {
        self.0.rows_done
    }
    /// Its files, one per kind of record.
    async fn files(&self) -> Vec<ExportFile> {
        let counts: serde_json::Value =
            serde_json::from_str(&self.0.counts).unwrap_or(serde_json::Value::Null);
        let done = self.0.status == "done";
        crate::service::exports::kinds(&self.0)
            .into_iter()
            .map(|k| ExportFile {
                entity: k,
                rows: counts[crate::service::exports::kind_key(k)].as_i64(),
                url: done.then(|| {
                    format!(
                        "/exports/{}/{}",
                        self.0.id,
                        crate::service::exports::file_name(k, &self.0)
                    )
                }),
            })
            .collect()
    }
    /// When asked (RFC 3339).
    async fn created_at(&self) -> String {
        self.0.created_at.to_rfc3339()
    }
    /// When it ended.
    async fn finished_at(&self) -> Option<String> {
        self.0.finished_at.map(|t| t.to_rfc3339())
    }
    /// When its files are deleted.
    async fn expires_at(&self) -> Option<String> {
        self.0.expires_at.map(|t| t.to_rfc3339())
    }
    /// Why it failed.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
}
