//! Agencies and their dimension ownership: listing, adding, assigning and unassigning.
//! Writes are the admin's (a province admin's within its province); the CLI runs as a
//! national admin.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::audit;
use crate::service::catalog::{self, AgencyRow};
use entity::types::{AreaCode, AreaLevel, Dimension};
use entity::{agency, agency_dimension, area};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TryInsertResult,
};
use serde_json::json;

/// The principal the command line acts as.
pub fn operator() -> Principal {
    Principal::Operator { district: None }
}

/// The agency as the principal its key `key_id` acts as, owning the dimensions it owns now
/// (in order).
pub(crate) async fn as_principal(
    db: &impl ConnectionTrait,
    key_id: i32,
    a: &agency::Model,
) -> ApiResult<(Principal, Vec<Dimension>)> {
    let mut dims: Vec<Dimension> = agency_dimension::Entity::find()
        .filter(agency_dimension::Column::AgencyId.eq(a.id))
        .all(db)
        .await?
        .into_iter()
        .map(|d| d.dimension)
        .collect();
    dims.sort();
    let p = Principal::Agency {
        key_id,
        agency_id: a.id,
        agency_code: a.code.clone(),
        province: a.province_code.clone(),
        dimensions: dims.clone(),
    };
    Ok((p, dims))
}

async fn find(db: &impl ConnectionTrait, code: &str) -> ApiResult<agency::Model> {
    agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::bad_input("agency", format!("no agency {code}")))
}

/// A new agency.
#[derive(Debug, Clone)]
pub struct NewAgency {
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

/// Adds an agency (no dimensions yet), audited.
pub async fn add(db: &DatabaseConnection, p: &Principal, a: NewAgency) -> ApiResult<AgencyRow> {
    let province = AreaCode::parse_level(&a.province, AreaLevel::Province)
        .map_err(|_| ApiError::bad_input("province", "a 2-digit province code"))?;
    p.administers(province.as_str())?;
    if area::Entity::find_by_id(province.clone())
        .one(db)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_input(
            "province",
            format!("no province {province} is loaded"),
        ));
    }
    for (field, v) in [
        ("code", &a.code),
        ("abbreviation", &a.abbreviation),
        ("nameTh", &a.name_th),
        ("nameEn", &a.name_en),
    ] {
        if v.trim().is_empty() {
            return Err(ApiError::bad_input(field, "must not be empty"));
        }
    }
    if agency::Entity::find()
        .filter(agency::Column::Code.eq(a.code.trim()))
        .one(db)
        .await?
        .is_some()
    {
        return Err(ApiError::bad_input(
            "code",
            format!("agency {} exists", a.code.trim()),
        ));
    }
    let tx = super::begin_write(db).await?;
    agency::Entity::insert(agency::ActiveModel {
        code: Set(a.code.trim().to_string()),
        abbreviation: Set(a.abbreviation.trim().to_string()),
        name_th: Set(a.name_th.trim().to_string()),
        name_en: Set(a.name_en.trim().to_string()),
        province_code: Set(province.as_str().to_string()),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    audit::record(
        &tx,
        p,
        "agency.add",
        Some(province.as_str()),
        a.code.trim(),
        json!({"abbreviation": a.abbreviation.trim(), "nameTh": a.name_th.trim(), "nameEn": a.name_en.trim()}),
    )
    .await?;
    tx.commit().await?;
    one(db, p, a.code.trim()).await
}

/// Gives an agency a dimension (idempotent; only a change is audited).
pub async fn assign(
    db: &DatabaseConnection,
    p: &Principal,
    code: &str,
    d: Dimension,
) -> ApiResult<AgencyRow> {
    let a = find(db, code).await?;
    p.administers(&a.province_code)?;
    let tx = super::begin_write(db).await?;
    let inserted = agency_dimension::Entity::insert(agency_dimension::ActiveModel {
        agency_id: Set(a.id),
        dimension: Set(d),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&tx)
    .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        // what the agency now sees comes to its change feed
        // no key of its: only the conditions the principal makes are used
        let (agency, after) = as_principal(&tx, 0, &a).await?;
        let before: Vec<Dimension> = after.iter().copied().filter(|x| *x != d).collect();
        let n = super::changes::record_visibility(&tx, &agency, before, after).await?;
        tracing::info!(
            agency = code,
            dimension = d.key(),
            records = n,
            "records come into the agency's sight"
        );
        audit::record(
            &tx,
            p,
            "agency.assign",
            Some(&a.province_code),
            code,
            json!({"dimension": d.key()}),
        )
        .await?;
    }
    tx.commit().await?;
    super::keys::forget_keys();
    one(db, p, code).await
}

/// Takes a dimension from an agency (idempotent; only a change is audited).
pub async fn unassign(
    db: &DatabaseConnection,
    p: &Principal,
    code: &str,
    d: Dimension,
) -> ApiResult<AgencyRow> {
    let a = find(db, code).await?;
    p.administers(&a.province_code)?;
    let tx = super::begin_write(db).await?;
    // no key of its: only the conditions the principal makes are used
    let (agency, before) = as_principal(&tx, 0, &a).await?;
    let deleted = agency_dimension::Entity::delete_many()
        .filter(agency_dimension::Column::AgencyId.eq(a.id))
        .filter(agency_dimension::Column::Dimension.eq(d.key()))
        .exec(&tx)
        .await?
        .rows_affected;
    if deleted > 0 {
        // what the agency no longer sees leaves its mirror through its change feed
        let after: Vec<Dimension> = before.iter().copied().filter(|x| *x != d).collect();
        let n = super::changes::record_visibility(&tx, &agency, before, after).await?;
        tracing::info!(
            agency = code,
            dimension = d.key(),
            records = n,
            "records leave the agency's sight"
        );
        audit::record(
            &tx,
            p,
            "agency.unassign",
            Some(&a.province_code),
            code,
            json!({"dimension": d.key()}),
        )
        .await?;
    }
    tx.commit().await?;
    super::keys::forget_keys();
    one(db, p, code).await
}

async fn one(db: &impl ConnectionTrait, p: &Principal, code: &str) -> ApiResult<AgencyRow> {
    catalog::agencies(db, p)
        .await?
        .into_iter()
        .find(|a| a.code == code)
        .ok_or_else(|| ApiError::NotFound(format!("agency {code}")))
}
