//! The catalogue: who the key is, the dimensions and indicators, areas and agencies.

use super::*;

/// Who the key belongs to.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Me {
    /// `ADMIN`, `DISTRICT` or `AGENCY`.
    pub kind: String,
    /// Its label in logs and records.
    pub label: String,
    /// Province it is bound to, if any.
    pub province: Option<String>,
    /// District, for a district key.
    pub district: Option<String>,
    /// Agency code, for an agency key.
    pub agency: Option<String>,
    /// Dimensions it sees: all, or the agency's.
    pub dimensions: Vec<Dimension>,
}

#[async_graphql::ComplexObject]
impl Me {
    /// The area the key is bound to, with its names: a district key's district, a province
    /// admin's or agency's province; none for a national admin.
    async fn area(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        let Some(code) = self.district.as_deref().or(self.province.as_deref()) else {
            return Ok(None);
        };
        let Ok(code) = entity::types::AreaCode::parse_str(code) else {
            return Ok(None);
        };
        Ok(loaders::of(ctx)?.areas.load_one(code).await?.map(Area))
    }
}

/// A dimension with its indicators and the agencies that own it.
#[derive(SimpleObject)]
pub struct DimensionInfo {
    /// Key.
    pub key: Dimension,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: String,
    /// Its indicators.
    pub indicators: Vec<Indicator>,
    /// Agencies owning it (in the key's province).
    pub agencies: Vec<AgencyInfo>,
}

/// The service's agency row, as the schema shows it.
#[derive(Clone)]
pub struct AgencyInfo(pub service::catalog::AgencyRow);

/// An agency: an office of one province.
#[Object]
impl AgencyInfo {
    /// `33-pho`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// `สสจ.`
    async fn abbreviation(&self) -> &str {
        &self.0.abbreviation
    }
    /// Thai name.
    async fn name_th(&self) -> &str {
        &self.0.name_th
    }
    /// English name.
    async fn name_en(&self) -> &str {
        &self.0.name_en
    }
    /// Province code.
    async fn province(&self) -> &str {
        &self.0.province
    }
    /// Dimensions it owns.
    async fn dimensions(&self) -> &[Dimension] {
        &self.0.dimensions
    }
}

/// The catalogue's queries.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Who the key belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let p = principal(ctx)?;
        let all: Vec<Dimension> = domain::Dimension::ALL.to_vec();
        Ok(match p {
            Principal::Admin { province, .. } => Me {
                kind: "ADMIN".into(),
                label: p.label(),
                province: province.clone(),
                district: None,
                agency: None,
                dimensions: all,
            },
            Principal::District { district, .. } => Me {
                kind: "DISTRICT".into(),
                label: p.label(),
                province: p.province().map(str::to_string),
                district: Some(district.clone()),
                agency: None,
                dimensions: all,
            },
            Principal::Agency {
                agency_code,
                province,
                dimensions,
                ..
            } => Me {
                kind: "AGENCY".into(),
                label: p.label(),
                province: Some(province.clone()),
                district: None,
                agency: Some(agency_code.clone()),
                dimensions: dimensions.to_vec(),
            },
            // the command line has no key, so it never asks; answered for completeness
            Principal::Operator { district } => Me {
                kind: "OPERATOR".into(),
                label: p.label(),
                province: p.province().map(str::to_string),
                district: district.clone(),
                agency: None,
                dimensions: all,
            },
        })
    }

    /// The five dimensions, with their indicators and owning agencies.
    async fn dimensions(&self, ctx: &Context<'_>) -> Result<Vec<DimensionInfo>> {
        let p = principal(ctx)?;
        let agencies = service::catalog::agencies(db(ctx)?, p).await.gql()?;
        Ok(domain::Dimension::ALL
            .iter()
            .map(|d| DimensionInfo {
                key: (*d),
                name_th: d.name_th().into(),
                name_en: d.name_en().into(),
                indicators: entity::catalog::INDICATORS
                    .iter()
                    .filter(|i| i.dimension == *d)
                    .filter_map(|i| Indicator::of(i32::from(i.code)))
                    .collect(),
                agencies: agencies
                    .iter()
                    .filter(|a| a.dimensions.contains(d))
                    .cloned()
                    .map(AgencyInfo)
                    .collect(),
            })
            .collect())
    }

    /// The seventeen indicators.
    async fn indicators(&self, ctx: &Context<'_>) -> Result<Vec<Indicator>> {
        principal(ctx)?;
        Ok((1..=17).filter_map(Indicator::of).collect())
    }

    /// Areas of a level, optionally inside a parent.
    async fn areas(
        &self,
        ctx: &Context<'_>,
        level: AreaLevel,
        parent_code: Option<String>,
    ) -> Result<Vec<Area>> {
        principal(ctx)?;
        let rows = service::catalog::areas(db(ctx)?, level.as_str(), parent_code.as_deref())
            .await
            .gql()?;
        Ok(rows.into_iter().map(Area).collect())
    }

    /// Agencies of the key's province (every agency for a national admin).
    async fn agencies(&self, ctx: &Context<'_>) -> Result<Vec<AgencyInfo>> {
        let p = principal(ctx)?;
        Ok(service::catalog::agencies(db(ctx)?, p)
            .await
            .gql()?
            .into_iter()
            .map(AgencyInfo)
            .collect())
    }
}
