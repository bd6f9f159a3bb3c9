//! The mutation root: uploads, logbook entries, agencies and their dimensions.

use super::*;

/// Help given, to record in the logbook.
#[derive(InputObject)]
pub struct AssistanceInput {
    /// House code (11 digits).
    pub house_code: String,
    /// Indicator code 1–17.
    pub indicator: i32,
    /// The person helped, for person indicators.
    pub citizen_id: Option<String>,
    /// Which problem when the household has it in several cohorts (`TPMAP 2565`); default: the latest.
    pub cohort: Option<String>,
    /// Date of the help: `2022-06-02`, `2/6/2565`, `2 มิ.ย. 2565`…
    pub date: String,
    /// The agency that gave it (code, e.g. `33-pho`): required for admin and district keys;
    /// an agency key records as itself.
    pub agency: Option<String>,
    /// Activity.
    pub activity: String,
    /// Poverty-solving menu item.
    pub menu: Option<String>,
    /// Cost in baht.
    pub amount: Option<f64>,
    /// Fund that paid.
    pub fund: Option<String>,
    /// The result.
    pub status: ProblemStatus,
    /// Note.
    pub note: Option<String>,
    /// When to visit next (on or after `date`, at most two years ahead): the problem is
    /// overdue on the worklist once it has passed.
    pub next_visit_on: Option<String>,
    /// Where the help was given (with `longitude`): latitude inside Thailand, 5–21.
    pub latitude: Option<f64>,
    /// Where the help was given (with `latitude`): longitude inside Thailand, 97–106.
    pub longitude: Option<f64>,
}

/// A new agency.
#[derive(InputObject)]
pub struct AgencyInput {
    /// Code, unique (`33-nso`).
    pub code: String,
    /// Abbreviation.
    pub abbreviation: String,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Province code.
    pub province: String,
}

/// The mutations of records, uploads, agencies and exports.
#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Uploads a workbook (GraphQL multipart request; the request must carry an
    /// `Apollo-Require-Preflight` header). It is stored and queued; poll `importBatch(id)` for
    /// its progress and report. District keys import their district only; admin keys any;
    /// agency keys may not upload.
    async fn upload_workbook(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(desc = "Check only: report what the import would do, write nothing.")]
        dry_run: Option<bool>,
    ) -> Result<types::ImportBatch> {
        let p = principal(ctx)?;
        let jobs = ctx
            .data_opt::<crate::jobs::Jobs>()
            .ok_or_else(|| ApiError::Forbidden("this server takes no uploads".into()).extend())?;
        let value = file.value(ctx).map_err(|e| {
            ApiError::bad_input("file", format!("the upload cannot be read: {e}")).extend()
        })?;
        let bytes = value.content.to_vec();
        if bytes.is_empty() {
            return Err(ApiError::bad_input("file", "the file is empty").extend());
        }
        let up = crate::jobs::Upload {
            file_name: value.filename.clone(),
            bytes,
            dry_run: dry_run.unwrap_or(false),
        };
        Ok(types::ImportBatch(jobs.enqueue(p, up).await.gql()?))
    }

    /// Asks for a bulk export of the records the key may see: one gzip file per kind (all
    /// kinds unless `entities` names some), CSV (UTF-8 with a byte-order mark) or NDJSON,
    /// only those changed at or after `updatedSince` when given. It is queued; poll
    /// `exportJob(id)`, then download each file's `url` with the same key.
    async fn start_export(
        &self,
        ctx: &Context<'_>,
        entities: Option<Vec<service::changes::Entity>>,
        format: service::exports::Format,
        #[graphql(desc = "Only records changed at or after this time (RFC 3339).")]
        updated_since: Option<String>,
    ) -> Result<types::ExportJob> {
        let p = principal(ctx)?;
        let key = p.key_id().ok_or_else(|| {
            ApiError::Forbidden("exports are asked for with a key".into()).extend()
        })?;
        let since = parse_since(&updated_since).gql()?;
        let job = service::exports::start(
            db(ctx)?,
            key,
            p,
            &entities.unwrap_or_default(),
            format,
            since,
        )
        .await
        .gql()?;
        if let Some(jobs) = ctx.data_opt::<crate::jobs::Jobs>() {
            jobs.wake();
        }
        Ok(types::ExportJob(job))
    }

    /// Adds an agency to a province (admin keys).
    async fn add_agency(&self, ctx: &Context<'_>, input: AgencyInput) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        let a = service::agencies::NewAgency {
            code: input.code,
            abbreviation: input.abbreviation,
            name_th: input.name_th,
            name_en: input.name_en,
            province: input.province,
        };
        Ok(AgencyInfo(
            service::agencies::add(db(ctx)?, p, a).await.gql()?,
        ))
    }

    /// Gives an agency a dimension (admin keys).
    async fn assign_dimension(
        &self,
        ctx: &Context<'_>,
        agency: String,
        dimension: Dimension,
    ) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        Ok(AgencyInfo(
            service::agencies::assign(db(ctx)?, p, &agency, dimension)
                .await
                .gql()?,
        ))
    }

    /// Takes a dimension from an agency (admin keys).
    async fn unassign_dimension(
        &self,
        ctx: &Context<'_>,
        agency: String,
        dimension: Dimension,
    ) -> Result<AgencyInfo> {
        let p = principal(ctx)?;
        Ok(AgencyInfo(
            service::agencies::unassign(db(ctx)?, p, &agency, dimension)
                .await
                .gql()?,
        ))
    }

    /// Records help given on a problem the key may see; the problem's status follows in the
    /// same transaction. Validation errors are BAD_USER_INPUT naming the field.
    async fn record_assistance(
        &self,
        ctx: &Context<'_>,
        input: AssistanceInput,
    ) -> Result<types::LogbookEntry> {
        let p = principal(ctx)?;
        let status = input.status;
        let (entry, code) = service::assistance::record(
            db(ctx)?,
            p,
            service::assistance::AssistanceInput {
                house_code: input.house_code,
                indicator: input.indicator,
                citizen_id: input.citizen_id,
                cohort: input.cohort,
                date: input.date,
                agency: input.agency,
                activity: input.activity,
                menu: input.menu,
                amount: input.amount,
                fund: input.fund,
                status,
                note: input.note,
                next_visit_on: input.next_visit_on,
                latitude: input.latitude,
                longitude: input.longitude,
            },
        )
        .await
        .gql()?;
        Ok(types::LogbookEntry(entry, Some(code)))
    }
}
