//! Filter inputs (`HouseholdFilter`, `ProblemFilter`, `MemberFilter`, `LogbookFilter`) and
//! their translation into SeaORM conditions.

use super::*;

/// Filters on households; combine with `and`, `or`, `not`.
#[derive(InputObject, Default)]
pub struct HouseholdFilter {
    /// All of these.
    pub and: Option<Vec<HouseholdFilter>>,
    /// Any of these.
    pub or: Option<Vec<HouseholdFilter>>,
    /// Not this.
    pub not: Option<Box<HouseholdFilter>>,
    /// Province code (2 digits).
    pub province_code: Option<String>,
    /// District code (4 digits).
    pub district_code: Option<String>,
    /// Subdistrict code (6 digits).
    pub subdistrict_code: Option<String>,
    /// Village code (8 digits).
    pub village_code: Option<String>,
    /// Cohort, e.g. `TPMAP 2565`.
    pub cohort: Option<String>,
    /// Classification.
    pub classification: Option<Classification>,
    /// Has at least one (visible) problem matching this.
    pub problem: Option<ProblemFilter>,
    /// Has at least one member matching this.
    pub member: Option<MemberFilter>,
}

/// Filters on problems; combine with `and`, `or`, `not`.
#[derive(InputObject, Default, Clone)]
pub struct ProblemFilter {
    /// All of these.
    pub and: Option<Vec<ProblemFilter>>,
    /// Any of these.
    pub or: Option<Vec<ProblemFilter>>,
    /// Not this.
    pub not: Option<Box<ProblemFilter>>,
    /// The household's province code.
    pub province_code: Option<String>,
    /// The household's district code.
    pub district_code: Option<String>,
    /// The household's subdistrict code.
    pub subdistrict_code: Option<String>,
    /// The household's village code.
    pub village_code: Option<String>,
    /// The household's classification.
    pub classification: Option<Classification>,
    /// Dimension.
    pub dimension: Option<Dimension>,
    /// Indicator code 1–17.
    pub indicator: Option<i32>,
    /// Status.
    pub status: Option<ProblemStatus>,
    /// Cohort, e.g. `TPMAP 2565`.
    pub cohort: Option<String>,
}

/// Filters on members.
#[derive(InputObject, Default, Clone)]
pub struct MemberFilter {
    /// Youngest age, in whole years today.
    pub age_min: Option<i32>,
    /// Oldest age, in whole years today.
    pub age_max: Option<i32>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Disabled or not.
    pub disabled: Option<bool>,
}

pub(crate) fn area_codes(
    codes: [(&str, &Option<String>); 4],
) -> Result<Vec<domain::AreaCode>, ApiError> {
    let levels = [
        domain::AreaLevel::Province,
        domain::AreaLevel::District,
        domain::AreaLevel::Subdistrict,
        domain::AreaLevel::Village,
    ];
    let mut out = Vec::new();
    for ((field, code), level) in codes.into_iter().zip(levels) {
        if let Some(code) = code {
            out.push(domain::AreaCode::parse_level(code, level).map_err(|_| {
                ApiError::bad_input(field, format!("a {}-digit code", level.code_len()))
            })?);
        }
    }
    Ok(out)
}

/// The households `p` may see that match `f`. A problem filter at the top is folded into
/// the visibility ([`Principal::households_having`]): one semi-join instead of the
/// visibility's and the filter's.
pub(crate) fn visible_households(
    f: &HouseholdFilter,
    p: &Principal,
) -> Result<Condition, ApiError> {
    let seen = match &f.problem {
        Some(pf) => p.households_having(problem_condition(pf)?),
        None => p.households(),
    };
    Ok(seen.add(household_condition_but_problem(f, p)?))
}

/// The count of `f`'s households when the `stats` cells keep it: areas, a classification
/// and a problem of a dimension (and a status), and nothing else. Called after
/// [`visible_households`] has checked `f`.
pub(crate) fn kept_count(
    f: &HouseholdFilter,
) -> Result<Option<service::stats::KeptCount>, ApiError> {
    let HouseholdFilter {
        and: None,
        or: None,
        not: None,
        cohort: None,
        member: None,
        problem: Some(pf),
        province_code,
        district_code,
        subdistrict_code,
        village_code,
        classification,
    } = f
    else {
        return Ok(None);
    };
    let ProblemFilter {
        and: None,
        or: None,
        not: None,
        province_code: None,
        district_code: None,
        subdistrict_code: None,
        village_code: None,
        classification: None,
        indicator: None,
        cohort: None,
        dimension,
        status,
    } = pf
    else {
        return Ok(None);
    };
    Ok(Some(service::stats::KeptCount {
        areas: area_codes([
            ("provinceCode", province_code),
            ("districtCode", district_code),
            ("subdistrictCode", subdistrict_code),
            ("villageCode", village_code),
        ])?,
        classification: *classification,
        dimension: *dimension,
        status: *status,
    }))
}

/// Households matching `f`, among the problems `p` may see.
fn household_condition(f: &HouseholdFilter, p: &Principal) -> Result<Condition, ApiError> {
    let mut c = household_condition_but_problem(f, p)?;
    if let Some(pf) = &f.problem {
        c = c.add(service::households::having_problem(
            problem_condition(pf)?,
            p,
        ));
    }
    Ok(c)
}

/// Households matching every part of `f` but its own `problem`.
fn household_condition_but_problem(
    f: &HouseholdFilter,
    p: &Principal,
) -> Result<Condition, ApiError> {
    let mut c = Condition::all();
    for code in area_codes([
        ("provinceCode", &f.province_code),
        ("districtCode", &f.district_code),
        ("subdistrictCode", &f.subdistrict_code),
        ("villageCode", &f.village_code),
    ])? {
        c = c.add(service::households::in_area(&code));
    }
    if let Some(cohort) = &f.cohort {
        let cohort = domain::Cohort::parse_str(cohort)
            .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
        c = c.add(service::households::in_cohort(cohort));
    }
    if let Some(cl) = f.classification {
        c = c.add(service::households::classified(cl.key()));
    }
    if let Some(mf) = &f.member {
        let sex = mf.sex.map(Sex::key);
        c = c.add(service::households::having_member(
            mf.age_min,
            mf.age_max,
            sex,
            mf.disabled,
        ));
    }
    if let Some(all) = &f.and {
        for sub in all {
            c = c.add(household_condition(sub, p)?);
        }
    }
    if let Some(any) = &f.or {
        let mut o = Condition::any();
        for sub in any {
            o = o.add(household_condition(sub, p)?);
        }
        c = c.add(o);
    }
    if let Some(not) = &f.not {
        c = c.add(household_condition(not, p)?.not());
    }
    Ok(c)
}

pub(crate) fn problem_condition(f: &ProblemFilter) -> Result<Condition, ApiError> {
    let cohort = f
        .cohort
        .as_deref()
        .map(domain::Cohort::parse_str)
        .transpose()
        .map_err(|e| ApiError::bad_input("cohort", e.message_en()))?;
    if let Some(i) = f.indicator
        && !(1..=17).contains(&i)
    {
        return Err(ApiError::bad_input(
            "indicator",
            "an indicator code from 1 to 17",
        ));
    }
    let mut c =
        service::problems::matching(f.dimension, f.indicator, f.status.map(|s| s.key()), cohort);
    let mut houses = Condition::all();
    let mut any_house = false;
    for code in area_codes([
        ("provinceCode", &f.province_code),
        ("districtCode", &f.district_code),
        ("subdistrictCode", &f.subdistrict_code),
        ("villageCode", &f.village_code),
    ])? {
        houses = houses.add(service::households::in_area(&code));
        any_house = true;
    }
    if let Some(cl) = f.classification {
        houses = houses.add(service::households::classified(cl.key()));
        any_house = true;
    }
    if any_house {
        c = c.add(service::problems::of_households(houses));
    }
    if let Some(all) = &f.and {
        for sub in all {
            c = c.add(problem_condition(sub)?);
        }
    }
    if let Some(any) = &f.or {
        let mut o = Condition::any();
        for sub in any {
            o = o.add(problem_condition(sub)?);
        }
        c = c.add(o);
    }
    if let Some(not) = &f.not {
        c = c.add(problem_condition(not)?.not());
    }
    Ok(c)
}

/// Filters on logbook entries.
#[derive(InputObject, Default)]
pub struct LogbookFilter {
    /// On or after this date (`YYYY-MM-DD`).
    pub date_from: Option<String>,
    /// On or before this date (`YYYY-MM-DD`).
    pub date_to: Option<String>,
    /// Given by this agency (code).
    pub agency: Option<String>,
    /// With this result.
    pub status: Option<ProblemStatus>,
    /// On problems matching this.
    pub problem: Option<ProblemFilter>,
}

pub(crate) fn parse_day(
    field: &str,
    s: &Option<String>,
) -> Result<Option<chrono::NaiveDate>, ApiError> {
    s.as_deref()
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_input(field, "a date YYYY-MM-DD"))
        })
        .transpose()
}
