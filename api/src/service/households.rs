//! Households: keyset pages, counts and single lookups under a principal's condition, and
//! the conditions that household filters become.

use crate::access::Principal;
use crate::error::ApiResult;
use chrono::{Datelike, Local, NaiveDate};
use entity::types::{AreaCode, AreaLevel, Cohort};
use entity::{household, member};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Households in an area of any level.
pub fn in_area(code: &AreaCode) -> Condition {
    let col = match code.level() {
        AreaLevel::Province => household::Column::ProvinceCode,
        AreaLevel::District => household::Column::DistrictCode,
        AreaLevel::Subdistrict => household::Column::SubdistrictCode,
        AreaLevel::Village => household::Column::VillageCode,
    };
    Condition::all().add(col.eq(code.as_str()))
}

/// Households of a cohort.
pub fn in_cohort(co: Cohort) -> Condition {
    Condition::all().add(household::Column::CohortId.in_subquery(super::problems::cohort_ids(co)))
}

/// Households of a classification.
pub fn classified(key: &str) -> Condition {
    Condition::all().add(household::Column::Classification.eq(key))
}

/// Households with at least one problem matching `c` among the problems `p` may see (so a
/// filter never reveals problems outside an agency's dimensions).
pub fn having_problem(c: Condition, p: &Principal) -> Condition {
    crate::access::houses_with_problem(Condition::all().add(c).add(p.problems()))
}

/// The latest birth date of someone `age` or older today.
fn born_by(today: NaiveDate, age: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(today.year() - age, today.month(), today.day().min(28)).unwrap_or(today)
}

/// Households with at least one member of an age range, sex and disability. Age is from the
/// birth date, or from the age as given when there is none.
pub fn having_member(
    age_min: Option<i32>,
    age_max: Option<i32>,
    sex: Option<&str>,
    disabled: Option<bool>,
) -> Condition {
    let today = Local::now().date_naive();
    let mut c = Condition::all();
    if age_min.is_some() || age_max.is_some() {
        let mut by_birth = Condition::all().add(member::Column::BirthDate.is_not_null());
        let mut by_age = Condition::all()
            .add(member::Column::BirthDate.is_null())
            .add(member::Column::Age.is_not_null());
        if let Some(lo) = age_min {
            by_birth = by_birth.add(member::Column::BirthDate.lte(born_by(today, lo)));
            by_age = by_age.add(member::Column::Age.gte(lo));
        }
        if let Some(hi) = age_max {
            by_birth = by_birth.add(member::Column::BirthDate.gt(born_by(today, hi + 1)));
            by_age = by_age.add(member::Column::Age.lte(hi));
        }
        c = c.add(Condition::any().add(by_birth).add(by_age));
    }
    if let Some(s) = sex {
        c = c.add(member::Column::Sex.eq(s));
    }
    if let Some(d) = disabled {
        c = c.add(member::Column::Disabled.eq(d));
    }
    Condition::all().add(
        household::Column::HouseCode.in_subquery(
            Query::select()
                .column(member::Column::HouseCode)
                .from(member::Entity)
                .cond_where(c)
                .to_owned(),
        ),
    )
}

/// A column households can be ordered by (never null, so keysets are exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
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

impl OrderField {
    fn column(self) -> household::Column {
        match self {
            OrderField::HouseCode => household::Column::HouseCode,
            OrderField::Province => household::Column::ProvinceCode,
            OrderField::District => household::Column::DistrictCode,
            OrderField::Subdistrict => household::Column::SubdistrictCode,
            OrderField::Village => household::Column::VillageCode,
        }
    }

    /// The value of this column in a row.
    pub fn value(self, h: &household::Model) -> String {
        match self {
            OrderField::HouseCode => h.house_code.to_string(),
            OrderField::Province => h.province_code.to_string(),
            OrderField::District => h.district_code.to_string(),
            OrderField::Subdistrict => h.subdistrict_code.to_string(),
            OrderField::Village => h.village_code.to_string(),
        }
    }
}

/// The full ordering: the fields asked, then the house code (unique) as the tiebreaker.
pub fn ordering(asked: &[(OrderField, bool)]) -> Vec<(OrderField, bool)> {
    let mut out: Vec<(OrderField, bool)> = Vec::new();
    for (f, desc) in asked {
        if !out.iter().any(|(g, _)| g == f) {
            out.push((*f, *desc));
        }
    }
    if !out.iter().any(|(f, _)| *f == OrderField::HouseCode) {
        out.push((OrderField::HouseCode, false));
    }
    out
}

/// Rows strictly after `after` (the values of `order`'s fields in a row) in that order.
fn after_condition(order: &[(OrderField, bool)], after: &[String]) -> Condition {
    let mut any = Condition::any();
    for i in 0..order.len().min(after.len()) {
        let mut all = Condition::all();
        for (j, (f, _)) in order.iter().enumerate().take(i) {
            all = all.add(f.column().eq(after[j].as_str()));
        }
        let (f, desc) = order[i];
        all = all.add(if desc {
            f.column().lt(after[i].as_str())
        } else {
            f.column().gt(after[i].as_str())
        });
        any = any.add(all);
    }
    any
}

/// A page of households matching `condition` (which includes the principal's) in `order`,
/// after the row whose ordered values are `after`; and whether more follow.
pub async fn page(
    db: &impl ConnectionTrait,
    condition: Condition,
    order: &[(OrderField, bool)],
    after: Option<&[String]>,
    first: u64,
) -> ApiResult<(Vec<household::Model>, bool)> {
    let mut q = household::Entity::find().filter(condition);
    if let Some(a) = after {
        q = q.filter(after_condition(order, a));
    }
    for (f, desc) in order {
        q = if *desc {
            q.order_by_desc(f.column())
        } else {
            q.order_by_asc(f.column())
        };
    }
    let mut rows = q.limit(first + 1).all(db).await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// How many households match `condition`.
pub async fn count(db: &impl ConnectionTrait, condition: Condition) -> ApiResult<u64> {
    Ok(household::Entity::find()
        .filter(condition)
        .count(db)
        .await?)
}

/// One household, when `p` may see it.
pub async fn get(
    db: &impl ConnectionTrait,
    p: &Principal,
    house_code: &str,
) -> ApiResult<Option<household::Model>> {
    Ok(household::Entity::find()
        .filter(household::Column::HouseCode.eq(house_code))
        .filter(p.households())
        .one(db)
        .await?)
}

/// Members in workbook order (by source row, then citizen ID): the one order every path
/// that reads a household's members gives them in (the members loader is fed from both).
pub fn in_workbook_order<Q: QueryOrder>(q: Q) -> Q {
    q.order_by_asc(member::Column::SourceRow)
        .order_by_asc(member::Column::CitizenId)
}

/// [`get`] with the household's members (in workbook order), in one statement.
pub async fn get_with_members(
    db: &impl ConnectionTrait,
    p: &Principal,
    house_code: &str,
) -> ApiResult<Option<(household::Model, Vec<member::Model>)>> {
    let rows = household::Entity::find()
        .filter(household::Column::HouseCode.eq(house_code))
        .filter(p.households())
        .find_with_related(member::Entity)
        .filter(p.members_beside_their_household());
    let rows = in_workbook_order(rows).all(db).await?;
    Ok(rows.into_iter().next())
}

/// Most characters a search may hold.
pub const MAX_SEARCH: usize = 100;

/// Households `p` may see that a staff member's search finds, at most `limit`, by house
/// code: 13 digits find the person's household (head or member), 11 the house, 4–10 house
/// codes that start so; any other text finds heads and members whose name contains it.
/// District and admin keys only (agencies filter `households`).
pub async fn search(
    db: &impl ConnectionTrait,
    p: &Principal,
    text: &str,
    limit: u64,
) -> ApiResult<Vec<household::Model>> {
    use crate::error::ApiError;
    p.may_search()?;
    let text = super::free_text("text", Some(text), MAX_SEARCH)?.unwrap_or_default();
    if text.chars().count() < 2 {
        return Err(ApiError::bad_input(
            "text",
            format!("from 2 to {MAX_SEARCH} characters: a house code, a citizen ID or a name"),
        ));
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let only_digits = text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    let found = if only_digits && digits.len() == 13 {
        Condition::any()
            .add(household::Column::HeadCitizenId.eq(digits.as_str()))
            .add(
                household::Column::HouseCode.in_subquery(
                    Query::select()
                        .column(member::Column::HouseCode)
                        .from(member::Entity)
                        .and_where(member::Column::CitizenId.eq(digits.as_str()))
                        .to_owned(),
                ),
            )
    } else if only_digits && (4..=11).contains(&digits.len()) {
        Condition::all().add(household::Column::HouseCode.starts_with(digits.as_str()))
    } else if only_digits {
        return Err(ApiError::bad_input(
            "text",
            "digits: a house code (4–11 digits) or a citizen ID (13 digits)",
        ));
    } else {
        // LIKE's own characters are taken as written
        let like = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let name = |col: sea_orm::sea_query::Expr| {
            sea_orm::sea_query::ExprTrait::like(
                col,
                sea_orm::sea_query::LikeExpr::new(like.clone()).escape('\\'),
            )
        };
        Condition::any()
            .add(name(sea_orm::sea_query::Expr::col((
                household::Entity,
                household::Column::HeadName,
            ))))
            .add(
                household::Column::HouseCode.in_subquery(
                    Query::select()
                        .column(member::Column::HouseCode)
                        .from(member::Entity)
                        .cond_where(
                            Condition::any()
                                .add(name(sea_orm::sea_query::Expr::col(
                                    member::Column::FirstName,
                                )))
                                .add(name(sea_orm::sea_query::Expr::col(
                                    member::Column::LastName,
                                ))),
                        )
                        .to_owned(),
                ),
            )
    };
    Ok(household::Entity::find()
        .filter(p.households())
        .filter(found)
        .order_by_asc(household::Column::HouseCode)
        .limit(limit)
        .all(db)
        .await?)
}
