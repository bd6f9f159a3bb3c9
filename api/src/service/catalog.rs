//! Reference data: areas and agencies with their dimensions.

use crate::access::Principal;
use crate::error::ApiResult;
use entity::types::Dimension;
use entity::{agency, agency_dimension, area};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;

/// An agency with its dimensions (`logbook agency list --json` prints these as they are).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgencyRow {
    /// Code.
    pub code: String,
    /// Abbreviation.
    pub abbreviation: String,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Province code.
    pub province: String,
    /// Dimensions owned.
    pub dimensions: Vec<Dimension>,
}

/// Agencies of the principal's province (all, for a national admin), by code.
pub async fn agencies(db: &impl ConnectionTrait, p: &Principal) -> ApiResult<Vec<AgencyRow>> {
    let mut q = agency::Entity::find().order_by_asc(agency::Column::Code);
    if let Some(province) = p.province() {
        q = q.filter(agency::Column::ProvinceCode.eq(province));
    }
    let agencies = q.all(db).await?;
    let ids: Vec<i32> = agencies.iter().map(|a| a.id).collect();
    let mut dims: HashMap<i32, Vec<Dimension>> = HashMap::new();
    for d in agency_dimension::Entity::find()
        .filter(agency_dimension::Column::AgencyId.is_in(ids))
        .all(db)
        .await?
    {
        dims.entry(d.agency_id).or_default().push(d.dimension);
    }
    Ok(agencies
        .into_iter()
        .map(|a| {
            let mut dimensions = dims.remove(&a.id).unwrap_or_default();
            dimensions.sort();
            AgencyRow {
                code: a.code,
                abbreviation: a.abbreviation,
                name_th: a.name_th,
                name_en: a.name_en,
                province: a.province_code,
                dimensions,
            }
        })
        .collect())
}

/// Areas of a level, optionally inside a parent, by code.
pub async fn areas(
    db: &impl ConnectionTrait,
    level: &str,
    parent: Option<&str>,
) -> ApiResult<Vec<area::Model>> {
    let mut q = area::Entity::find()
        .filter(area::Column::Level.eq(level))
        .order_by_asc(area::Column::Code);
    if let Some(parent) = parent {
        q = q.filter(area::Column::ParentCode.eq(parent));
    }
    Ok(q.all(db).await?)
}

/// Every district's Thai name by its code (the reports' district columns).
pub async fn district_names(
    db: &impl ConnectionTrait,
) -> ApiResult<std::collections::HashMap<String, String>> {
    Ok(areas(db, "district", None)
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_string(), a.name_th))
        .collect())
}
