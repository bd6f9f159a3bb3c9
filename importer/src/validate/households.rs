//! The households sheet: each row's area resolved against the master data (with
//! suggestions for a misspelt name), its village code checked, its district in the upload's
//! scope, villages first seen here recorded, duplicates refused.

use super::check::Checker;
use super::{Context, Row, Seen, Validated};
use crate::header::hh;
use crate::reference::{AreaResolver, Unresolved, squash};
use crate::report::IssueCode;
use crate::rows::{HouseholdIn, Parsed};
use entity::types::{AreaCode, AreaLevel, ClosureReason, Cohort, VillageCode};
use entity::{area, household};
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::HashMap;

/// Checks the households sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<HouseholdIn>>,
    ctx: &Context<'_>,
    seen: &mut Seen,
    out: &mut Validated,
) {
    // head's citizen ID → row, when the row's house code is unreadable
    let mut lost_heads: HashMap<String, u32> = HashMap::new();
    let mut village_names: HashMap<String, String> = ctx.stored.villages.clone();
    let mut resolver = AreaResolver::new(ctx.areas);
    out.households.reserve(rows.len());
    for p in rows {
        let Some(mut h) = p.value else {
            match (&p.ident.house_code, &p.ident.citizen_id) {
                (Some(code), _) => {
                    seen.rejected.households.insert(code.to_string(), p.row);
                }
                (None, Some(head)) => {
                    lost_heads.insert(head.to_string(), p.row);
                }
                (None, None) => {}
            }
            continue;
        };
        let code = h.house_code.to_string();
        let mut ok = true;
        if let Some((first, ..)) = seen.households.get(&code) {
            ck.duplicate(p.row, &ck.col(hh::HOUSE_CODE), Some(code.clone()), *first);
            ck.reject(p.row);
            continue;
        }
        let resolved = resolve_area(&h, p.row, &mut resolver, ck);
        let Some((province, district, subdistrict)) = resolved else {
            seen.rejected.households.insert(code, p.row);
            ck.reject(p.row);
            continue;
        };
        let Some(village) = VillageCode::of(&subdistrict, h.village_no) else {
            seen.rejected.households.insert(code, p.row);
            ck.reject(p.row);
            continue;
        };
        let village_code = village.as_str().to_string();
        if let Some(given) = &h.village_code
            && given.as_str() != village_code
        {
            ck.error(
                p.row,
                &ck.col(hh::VILLAGE_CODE),
                Some(given.to_string()),
                IssueCode::VillageCodeMismatch,
                format!("รหัสหมู่บ้าน {given} ไม่ตรงกับตำบลและหมู่ที่ที่ระบุ (ควรเป็น {village_code})"),
                format!("Village code {given} does not match the subdistrict and village number given (expected {village_code})"),
            );
            ok = false;
        }
        if let Some(scope) = ctx.scope
            && !district.as_str().starts_with(scope)
        {
            let (th, en) = if scope.len() == 2 {
                (
                    format!("ครัวเรือนนี้อยู่ในอำเภอรหัส {district} ไม่ใช่จังหวัดของท่าน ({scope})"),
                    format!(
                        "This household is in district {district}, not in your province ({scope})"
                    ),
                )
            } else {
                (
                    format!("ครัวเรือนนี้อยู่ในอำเภอรหัส {district} ไม่ใช่อำเภอของท่าน ({scope})"),
                    format!(
                        "This household is in district {district}, not in your district ({scope})"
                    ),
                )
            };
            ck.error(
                p.row,
                &ck.col(hh::DISTRICT),
                Some(h.district.clone()),
                IssueCode::OutOfDistrict,
                th,
                en,
            );
            ok = false;
        }
        if !ok {
            seen.rejected.households.insert(code, p.row);
            ck.reject(p.row);
            continue;
        }
        match village_names.get(&village_code) {
            Some(stored) => {
                if let Some(given) = &h.village_name
                    && squash(given) != squash(stored)
                {
                    ck.warn(
                        p.row,
                        &ck.col(hh::VILLAGE_NAME),
                        Some(given.clone()),
                        IssueCode::VillageRenamed,
                        format!("หมู่ที่ {} มีชื่อในระบบว่า \"{stored}\" จึงคงชื่อเดิมไว้", h.village_no.get()),
                        format!("Village {village_code} is stored as \"{stored}\"; the stored name is kept"),
                    );
                }
            }
            None => {
                // the household's own record does not keep the village name
                let name = h
                    .village_name
                    .take()
                    .unwrap_or_else(|| format!("หมู่ที่ {}", h.village_no.get()));
                village_names.insert(village_code.clone(), name.clone());
                out.villages.push(Row {
                    row: p.row,
                    model: area::ActiveModel {
                        code: Set(village.clone().into()),
                        level: Set(AreaLevel::Village),
                        parent_code: Set(Some(subdistrict.clone())),
                        name_th: Set(name),
                        name_en: Set(None),
                        batch_id: NotSet,
                        source_sheet: NotSet,
                        source_row: NotSet,
                    },
                    link: (),
                });
            }
        }
        if let Some(f) = follow_up(&h, ctx) {
            out.follow_ups.push(Row {
                row: p.row,
                model: f,
                link: (),
            });
        }
        seen.households.insert(
            code.clone(),
            (
                p.row,
                district.as_str().to_string(),
                province.as_str().to_string(),
            ),
        );
        out.households.push(household_row(
            p.row,
            h,
            village,
            [subdistrict, district, province],
        ));
    }

    // a household row whose house code cannot be read is found through its head: the
    // house code its head has in the members sheet is that row's
    for p in &ck.read.members {
        if let (Some(h), Some(c)) = (&p.ident.house_code, &p.ident.citizen_id)
            && let Some(row) = lost_heads.get(c.as_str())
            && !seen.households.contains_key(h.as_str())
        {
            seen.rejected
                .households
                .entry(h.to_string())
                .or_insert(*row);
        }
    }
}

fn suggest_th(u: &Unresolved) -> String {
    if u.suggestions.is_empty() {
        String::new()
    } else {
        format!(" หมายถึง {} หรือไม่?", u.suggestions.join(", "))
    }
}

fn suggest_en(u: &Unresolved) -> String {
    if u.suggestions.is_empty() {
        String::new()
    } else {
        format!(" Did you mean {}?", u.suggestions.join(", "))
    }
}

fn resolve_area(
    h: &HouseholdIn,
    row: u32,
    resolver: &mut AreaResolver<'_>,
    ck: &mut Checker<'_>,
) -> Option<(AreaCode, AreaCode, AreaCode)> {
    let (level, u) = match resolver.resolve(&h.province, &h.district, &h.subdistrict) {
        Ok(codes) => return Some(codes.clone()),
        Err((level, u)) => (*level, u.clone()),
    };
    match level {
        AreaLevel::Province => ck.error(
            row,
            &ck.col(hh::PROVINCE),
            Some(h.province.clone()),
            IssueCode::ProvinceUnknown,
            format!("ไม่พบจังหวัด \"{}\"{}", h.province, suggest_th(&u)),
            format!("Unknown province \"{}\".{}", h.province, suggest_en(&u)),
        ),
        AreaLevel::District => ck.error(
            row,
            &ck.col(hh::DISTRICT),
            Some(h.district.clone()),
            IssueCode::DistrictUnknown,
            format!(
                "ไม่พบอำเภอ \"{}\" ในจังหวัด{}{}",
                h.district,
                h.province,
                suggest_th(&u)
            ),
            format!(
                "No district \"{}\" in province {}.{}",
                h.district,
                h.province,
                suggest_en(&u)
            ),
        ),
        _ => ck.error(
            row,
            &ck.col(hh::SUBDISTRICT),
            Some(h.subdistrict.clone()),
            IssueCode::SubdistrictUnknown,
            format!(
                "ไม่พบตำบล \"{}\" ในอำเภอ{}{}",
                h.subdistrict,
                h.district,
                suggest_th(&u)
            ),
            format!(
                "No subdistrict \"{}\" in district {}.{}",
                h.subdistrict,
                h.district,
                suggest_en(&u)
            ),
        ),
    }
    None
}

/// The follow-up state a row sets, when it says something and that differs from what is
/// stored: `urgent` yes or no sets the urgency; a closure reason closes the household. Blank
/// cells leave the state as it is (a page or the API may have set it; reopening is theirs).
fn follow_up(
    h: &HouseholdIn,
    ctx: &Context<'_>,
) -> Option<entity::household_follow_up::ActiveModel> {
    if h.urgent.is_none() && h.closed_reason.is_none() {
        return None;
    }
    let stored = ctx.stored.follow_ups.get(h.house_code.as_str());
    let mut next = stored
        .cloned()
        .unwrap_or(entity::household_follow_up::Model {
            house_code: h.house_code.to_string(),
            urgent: false,
            urgent_reason: None,
            closed_reason: None,
            closed_on: None,
            closed_note: None,
            merged_into: None,
            updated_by: String::new(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
        });
    if let Some(urgent) = h.urgent {
        next.urgent = urgent;
        next.urgent_reason = urgent.then(|| h.urgent_reason.clone()).flatten();
    }
    if h.closed_reason.is_some() {
        next.closed_reason = h.closed_reason;
        next.closed_on = h.closed_on;
        next.closed_note = h.closed_note.clone();
        next.merged_into = h
            .merged_into
            .as_ref()
            .filter(|_| h.closed_reason == Some(ClosureReason::MergedInto))
            .map(|c| c.to_string());
    }
    let same = |a: &entity::household_follow_up::Model, b: &entity::household_follow_up::Model| {
        (
            a.urgent,
            &a.urgent_reason,
            a.closed_reason,
            a.closed_on,
            &a.closed_note,
            &a.merged_into,
        ) == (
            b.urgent,
            &b.urgent_reason,
            b.closed_reason,
            b.closed_on,
            &b.closed_note,
            &b.merged_into,
        )
    };
    let unchanged = match stored {
        Some(s) => same(s, &next),
        None => !next.urgent && next.closed_reason.is_none(),
    };
    if unchanged {
        return None;
    }
    let mut m: entity::household_follow_up::ActiveModel = next.into();
    // who and when: the importing transaction's
    m.updated_by = sea_orm::ActiveValue::NotSet;
    m.updated_at = sea_orm::ActiveValue::NotSet;
    for c in [
        entity::household_follow_up::Column::Urgent,
        entity::household_follow_up::Column::UrgentReason,
        entity::household_follow_up::Column::ClosedReason,
        entity::household_follow_up::Column::ClosedOn,
        entity::household_follow_up::Column::ClosedNote,
        entity::household_follow_up::Column::MergedInto,
        entity::household_follow_up::Column::HouseCode,
    ] {
        use sea_orm::ActiveModelTrait;
        if let sea_orm::ActiveValue::Unchanged(v) = m.get(c) {
            m.set(c, v);
        }
    }
    Some(m)
}

fn household_row(
    row: u32,
    h: HouseholdIn,
    village: VillageCode,
    [subdistrict, district, province]: [AreaCode; 3],
) -> Row<household::ActiveModel, Cohort> {
    Row {
        row,
        model: household::ActiveModel {
            house_code: Set(h.house_code),
            house_no: Set(h.house_no),
            village_code: Set(village),
            subdistrict_code: Set(subdistrict),
            district_code: Set(district),
            province_code: Set(province),
            head_title: Set(h.head_title),
            head_name: Set(h.head_name),
            head_citizen_id: Set(h.head_citizen_id),
            member_count: Set(h.member_count),
            classification: Set(h.classification),
            // the cohort may be new: its id is known when written
            cohort_id: NotSet,
            latitude: Set(h.latitude),
            longitude: Set(h.longitude),
            // the writing transaction's place in the change feed
            change_seq: NotSet,
            updated_at: NotSet,
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
        },
        link: h.cohort,
    }
}
