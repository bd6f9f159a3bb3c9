//! Recording help given through the API: a logbook entry on a problem the principal may see,
//! with the problem's status updated in the same transaction.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use chrono::Local;
use entity::rules::{AgencyIndex, entry_key};
use entity::types::{
    Baht, CitizenId, Cohort, CohortSource, HouseCode, IndicatorCode, ProblemStatus, ThaiDate,
};
use entity::{cohort, household, logbook_entry, problem};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
};

/// What a caller gives, as raw values: every one goes through its domain type's `parse`.
#[derive(Debug, Clone)]
pub struct AssistanceInput {
    /// House code.
    pub house_code: String,
    /// Indicator code 1–17.
    pub indicator: i32,
    /// The person, for person indicators.
    pub citizen_id: Option<String>,
    /// Which problem when the household has it in several cohorts (default: the latest).
    pub cohort: Option<String>,
    /// Date of the help (`2022-06-02`, `2/6/2565`…).
    pub date: String,
    /// Agency: required for admin and district keys; an agency key records as itself.
    pub agency: Option<String>,
    /// Activity.
    pub activity: String,
    /// Menu item.
    pub menu: Option<String>,
    /// Cost in baht.
    pub amount: Option<f64>,
    /// Fund.
    pub fund: Option<String>,
    /// Result (not `not_started`).
    pub status: ProblemStatus,
    /// Note.
    pub note: Option<String>,
    /// When to visit next (on or after the help's date, at most two years ahead).
    pub next_visit_on: Option<String>,
    /// Where the help was given (with `longitude`; inside Thailand).
    pub latitude: Option<f64>,
    /// Where the help was given (with `latitude`).
    pub longitude: Option<f64>,
}

/// Most characters of the activity, agency, menu and fund (as the workbook's cells).
const MAX_TEXT: usize = 500;

/// Most characters of a note (as the workbook's note cells).
const MAX_NOTE: usize = 4_000;

fn non_empty(field: &str, s: &str) -> ApiResult<String> {
    super::free_text(field, Some(s), MAX_TEXT)?
        .ok_or_else(|| ApiError::bad_input(field, "must not be empty"))
}

/// A GPS point: both or neither, inside Thailand (the workbook's bounds).
fn point(lat: Option<f64>, lon: Option<f64>) -> ApiResult<(Option<f64>, Option<f64>)> {
    use entity::types::{Raw, parse_latitude, parse_longitude};
    match (lat, lon) {
        (None, None) => Ok((None, None)),
        (Some(a), Some(o)) => {
            let a = parse_latitude(&Raw::Number(a))
                .map_err(|e| ApiError::bad_input("latitude", e.message_en()))?;
            let o = parse_longitude(&Raw::Number(o))
                .map_err(|e| ApiError::bad_input("longitude", e.message_en()))?;
            Ok((a, o))
        }
        (Some(_), None) => Err(ApiError::bad_input(
            "longitude",
            "give the longitude with the latitude",
        )),
        (None, Some(_)) => Err(ApiError::bad_input(
            "latitude",
            "give the latitude with the longitude",
        )),
    }
}

/// Records the entry; returns it with its agency's code. Problems the principal may not
/// see are NOT_FOUND.
pub async fn record(
    db: &DatabaseConnection,
    p: &Principal,
    input: AssistanceInput,
) -> ApiResult<(logbook_entry::Model, String)> {
    let today = Local::now().date_naive();
    let house = HouseCode::parse_str(&input.house_code)
        .map_err(|e| ApiError::bad_input("houseCode", e.message_en()))?;
    let indicator = u8::try_from(input.indicator)
        .ok()
        .and_then(IndicatorCode::new)
        .ok_or_else(|| ApiError::bad_input("indicator", "an indicator code from 1 to 17"))?;
    let citizen = input
        .citizen_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(CitizenId::parse_str)
        .transpose()
        .map_err(|e| ApiError::bad_input("citizenId", e.message_en()))?;
    let cohort = input
        .cohort
        .as_deref()
        .map(Cohort::parse_str)
        .transpose()
        .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
    let date = ThaiDate::parse_str(&input.date, today)
        .map_err(|e| ApiError::bad_input("date", e.message_en()))?;
    let next_visit = match input.next_visit_on.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let d = ThaiDate::parse_str(s, today + chrono::Days::new(730))
                .map_err(|e| ApiError::bad_input("nextVisitOn", e.message_en()))?
                .date();
            if d < date.date() {
                return Err(ApiError::bad_input(
                    "nextVisitOn",
                    "the next visit comes on or after the help's date",
                ));
            }
            Some(d)
        }
    };
    let (latitude, longitude) = point(input.latitude, input.longitude)?;
    let activity = non_empty("activity", &input.activity)?;
    let menu = super::free_text("menu", input.menu.as_deref(), MAX_TEXT)?;
    let fund = super::free_text("fund", input.fund.as_deref(), MAX_TEXT)?;
    let note = super::free_text("note", input.note.as_deref(), MAX_NOTE)?;
    if input.status == ProblemStatus::NotStarted {
        return Err(ApiError::bad_input(
            "status",
            "a result: SOLVED, AWAITING_FOLLOW_UP, FOLLOWING_UP or NOT_SOLVABLE_YET",
        ));
    }
    let amount = match input.amount {
        Some(a) => Baht::parse(&entity::types::Raw::Number(a))
            .map_err(|_| ApiError::bad_input("amount", "a non-negative number of baht"))?
            .map(Baht::satang),
        None => None,
    };

    let txn = super::begin_write(db).await?;
    // the problem, among those the principal may see
    let person = citizen
        .as_ref()
        .map(|c| c.as_str().to_string())
        .unwrap_or_default();
    let candidates = problem::Entity::find()
        .filter(problem::Column::HouseCode.eq(house.as_str()))
        .filter(problem::Column::IndicatorCode.eq(i32::from(indicator.get())))
        .filter(problem::Column::PersonKey.eq(person))
        .filter(p.problems())
        .find_also_related(cohort::Entity)
        .all(&txn)
        .await?;
    let chosen = match cohort {
        Some(c) => candidates.into_iter().find(|(_, co)| {
            co.as_ref()
                .is_some_and(|co| co.be_year == c.be_year && co.source == c.source.key())
        }),
        None => candidates.into_iter().max_by_key(|(_, co)| {
            co.as_ref()
                .map(|co| (co.be_year, co.source == CohortSource::Thaiqm.key()))
        }),
    };
    let Some((problem, _)) = chosen else {
        return Err(ApiError::NotFound(format!(
            "problem {} of household {house}",
            indicator.get()
        )));
    };
    let (province, district) = household::Entity::find_by_id(house.clone())
        .select_only()
        .column(household::Column::ProvinceCode)
        .column(household::Column::DistrictCode)
        .into_tuple::<(String, String)>()
        .one(&txn)
        .await?
        .unwrap_or_default();
    // what the household adds to the stats cells, before this write, and the locks that keep
    // other writes out until it commits (its district's, shared, then the change counter's):
    // under them the month is checked, so a month locked concurrently is seen here or waits
    let counted =
        super::stats::Counted::before(&txn, &[problem.house_code.as_str().to_string()]).await?;
    super::verification::ensure_open(&txn, &district, date.date()).await?;

    // the agency: an agency key is itself; others name a known agency of the province
    let agencies = AgencyIndex::load(&txn).await?;
    let (agency_id, agency_code, agency_text) = match (p, &input.agency) {
        (
            Principal::Agency {
                agency_id,
                agency_code,
                ..
            },
            given,
        ) => {
            if let Some(g) = given
                && agencies
                    .find(&province, g)
                    .is_none_or(|a| a.id != *agency_id)
            {
                return Err(ApiError::Forbidden(format!(
                    "an agency key records as itself ({agency_code})"
                )));
            }
            (*agency_id, agency_code.clone(), agency_code.clone())
        }
        (_, Some(g)) => {
            let text = non_empty("agency", g)?;
            let a = agencies.find(&province, &text).ok_or_else(|| {
                ApiError::bad_input(
                    "agency",
                    format!("no agency \"{text}\" in province {province}"),
                )
            })?;
            (a.id, a.code.clone(), text)
        }
        (_, None) => {
            return Err(ApiError::bad_input(
                "agency",
                "name the agency that gave the help (its code, e.g. 33-pho)",
            ));
        }
    };
    // the fund its text names, where one of the district's or province's does (kept as
    // text either way, as the workbook's column)
    let fund_id = match &fund {
        Some(text) => entity::rules::FundIndex::load(&txn)
            .await?
            .find(&district, text),
        None => None,
    };
    let key = entry_key(&agency_code, &activity);
    let exists = logbook_entry::Entity::find()
        .filter(logbook_entry::Column::ProblemId.eq(problem.id))
        .filter(logbook_entry::Column::EntryDate.eq(date.date()))
        .filter(logbook_entry::Column::EntryKey.eq(key.clone()))
        .one(&txn)
        .await?;
    if exists.is_some() {
        return Err(ApiError::bad_input(
            "activity",
            "this help (date, agency, activity) is already recorded",
        ));
    }
    let seq: Option<i64> = logbook_entry::Entity::find()
        .select_only()
        .expr(Func::max(Expr::col(logbook_entry::Column::WrittenSeq)))
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await?
        .flatten();
    // this write's place in the change feed
    let stamp = entity::db::stamp(&txn).await?;
    let entry = logbook_entry::ActiveModel {
        problem_id: Set(problem.id),
        entry_date: Set(date.date()),
        agency_id: Set(Some(agency_id)),
        agency_text: Set(agency_text),
        entry_key: Set(key),
        activity: Set(activity),
        menu: Set(menu),
        amount_satang: Set(amount),
        fund: Set(fund),
        fund_id: Set(fund_id),
        status: Set(input.status),
        note: Set(note),
        recorded_by: Set(Some(p.label())),
        written_seq: Set(seq.unwrap_or(0) + 1),
        change_seq: Set(stamp.seq),
        updated_at: Set(stamp.at),
        batch_id: Set(None),
        source_sheet: Set(None),
        source_row: Set(None),
        next_visit_on: Set(next_visit),
        latitude: Set(latitude),
        longitude: Set(longitude),
        verification: Set(entity::types::Verification::Recorded),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    entity::rules::refresh_statuses(&txn, &[problem.id], stamp).await?;
    // announced in the same transaction: a webhook hears of it only if it is committed
    super::webhooks::announce_assistance(&txn, entry.id, problem.id, problem.status, stamp).await?;
    counted.commit(txn).await?;
    tracing::info!(principal = %p.label(), problem = problem.id, entry = entry.id, "assistance recorded");
    Ok((entry, agency_code))
}
