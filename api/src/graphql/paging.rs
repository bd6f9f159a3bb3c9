//! Connections: opaque cursors, page sizes, household orderings and the `totalCount`s that
//! count under the same conditions as the page.

use super::*;

pub(crate) fn encode_id_cursor(kind: &str, id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

pub(crate) fn decode_id_cursor(kind: &str, cursor: &str) -> Result<i32, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(&format!("{kind}:"))
                .and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor this API gave"))
}

pub(crate) fn page_size(ctx: &Context<'_>, first: Option<i32>) -> Result<u64, ApiError> {
    let limits = super::data::<Limits>(ctx)?;
    let first = first.unwrap_or(20);
    if first < 0 {
        return Err(ApiError::bad_input("first", "must not be negative"));
    }
    if first as usize > limits.max_page {
        return Err(ApiError::LimitExceeded(format!(
            "first may be at most {}",
            limits.max_page
        )));
    }
    Ok(first as u64)
}

/// The change feed's page size: 100 unless given, at most ten times `--max-page`.
pub(crate) fn feed_page_size(ctx: &Context<'_>, first: Option<i32>) -> Result<u64, ApiError> {
    let limits = super::data::<Limits>(ctx)?;
    let most = limits.max_page.saturating_mul(10);
    let first = first.unwrap_or(100);
    if first < 0 {
        return Err(ApiError::bad_input("first", "must not be negative"));
    }
    if first as usize > most {
        return Err(ApiError::LimitExceeded(format!(
            "first may be at most {most}"
        )));
    }
    Ok(first as u64)
}

/// `updatedSince` as a time, when given.
pub(crate) fn parse_since(
    since: &Option<String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    since
        .as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    ApiError::bad_input(
                        "updatedSince",
                        "a time in RFC 3339, e.g. 2026-12-01T00:00:00+07:00",
                    )
                })
        })
        .transpose()
}

/// Extra fields of a problem connection.
pub struct ProblemTotals {
    pub(crate) condition: Condition,
}

#[Object]
impl ProblemTotals {
    /// Problems matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        service::problems::count(db(ctx)?, self.condition.clone())
            .await
            .gql()
    }
}

/// Extra fields of a logbook connection.
pub struct LogbookTotals {
    pub(crate) condition: Condition,
}

#[Object]
impl LogbookTotals {
    /// Entries matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        service::logbook::count(db(ctx)?, self.condition.clone())
            .await
            .gql()
    }
}

pub(crate) fn encode_cursor(values: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "h:{}",
        serde_json::to_string(values).unwrap_or_default()
    ))
}

pub(crate) fn decode_cursor(cursor: &str, fields: usize) -> Result<Vec<String>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix("h:")
                .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
        })
        .filter(|v| v.len() == fields)
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor this API gave for this ordering"))
}

/// What households can be ordered by.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum HouseholdOrderField {
    /// House code.
    HouseCode,
    /// Province code.
    Province,
    /// District code.
    District,
    /// Subdistrict code.
    Subdistrict,
    /// Village code.
    Village,
}

/// Ascending or descending.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// One ordering of households; later ones break ties, and the house code breaks the rest.
#[derive(InputObject, Clone, Copy)]
pub struct HouseholdOrder {
    /// The field.
    pub field: HouseholdOrderField,
    /// The direction (ASC unless given).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Extra fields of a household connection.
pub struct HouseholdTotals {
    pub(crate) condition: Condition,
    /// The same count as the `stats` cells keep it, when they do.
    pub(crate) kept: Option<service::stats::KeptCount>,
}

#[Object]
impl HouseholdTotals {
    /// Households matching the filter that the key may see, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let db = db(ctx)?;
        if let Some(kept) = &self.kept
            && let Some(n) = service::stats::households_from_cells(db, principal(ctx)?, kept)
                .await
                .gql()?
        {
            return Ok(n);
        }
        service::households::count(db, self.condition.clone())
            .await
            .gql()
    }
}
