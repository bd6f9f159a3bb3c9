//! Cross-sheet validation: areas resolved against the master data, households, members and
//! problems referring to each other, district scope, duplicates, dependants of rejected rows,
//! agencies matched within the household's province. Produces rows ready to plan and write.

use crate::ReadWorkbook;
use crate::header::{aa, an, hh, mm, pp};
use crate::reference::{AgencyIndex, AreaIndex, AreaResolver, Stored, Unresolved, squash};
use crate::report::IssueCode;
use crate::report::{Issue, Severity};
use crate::rows::{EntryIn, HouseholdIn, MemberIn, ProblemIn};
use crate::workbook::SheetKind;
use chrono::NaiveDate;
use entity::catalog::Unit;
use entity::types::{AreaCode, AreaLevel, Cohort, VillageCode};
use entity::{analysis, area, household, logbook_entry, member, problem};
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::{HashMap, HashSet};

/// A row that passed validation: the entity's own record as the workbook gives it, the row
/// it came from, and the identities it refers to that may not be stored yet.
///
/// Columns the workbook does not give are `NotSet` here — surrogate ids, the batch and the
/// rest of the provenance, foreign keys to rows written in the same batch (`cohort_id`,
/// `problem_id`), values derived at write time (`age_as_of`, a new problem's status, the
/// entry's write order) — and are filled by `write`. Every column that is `Set` is compared
/// by `plan` and written by `write`: a new column is one field here plus a migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<A, L = ()> {
    /// Source row as Excel shows it.
    pub row: u32,
    /// The record.
    pub model: A,
    /// What it refers to by identity (a cohort, a problem).
    pub link: L,
}

/// A problem's identity in workbook terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProblemIdent {
    /// House code.
    pub house_code: String,
    /// Indicator code.
    pub indicator: i32,
    /// Citizen ID or empty.
    pub person_key: String,
    /// Cohort.
    pub cohort: Cohort,
}

/// Rows that passed validation, and the rejected row count per sheet.
#[derive(Debug, Default)]
pub struct Validated {
    /// Households, with their cohort.
    pub households: Vec<Row<household::ActiveModel, Cohort>>,
    /// Members.
    pub members: Vec<Row<member::ActiveModel>>,
    /// Problems, with their identity (its cohort among it).
    pub problems: Vec<Row<problem::ActiveModel, ProblemIdent>>,
    /// Analyses.
    pub analyses: Vec<Row<analysis::ActiveModel>>,
    /// Logbook entries, with the problem they are on.
    pub entries: Vec<Row<logbook_entry::ActiveModel, ProblemIdent>>,
    /// Villages first seen in this workbook (households sheet rows).
    pub villages: Vec<Row<area::ActiveModel>>,
    /// Rejected rows per sheet.
    pub rejected: HashMap<SheetKind, u32>,
    /// Errors and warnings found here.
    pub issues: Vec<Issue>,
}

use entity::rules::entry_key;

/// Where a house code stands for rows that refer to it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum House<'a> {
    Ok { province: &'a str },
    Rejected(u32),
    OutOfScope,
    Unknown,
}

struct Checker<'a> {
    kind: SheetKind,
    issues: &'a mut Vec<Issue>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        row: u32,
        column: &str,
        value: Option<String>,
        code: IssueCode,
        th: String,
        en: String,
    ) {
        self.issues.push(
            Issue::new(Severity::Error, Some(self.kind), Some(row), code, th, en)
                .column(column)
                .value(value),
        );
    }

    fn warn(
        &mut self,
        row: u32,
        column: &str,
        value: Option<String>,
        code: IssueCode,
        th: String,
        en: String,
    ) {
        self.issues.push(
            Issue::new(Severity::Warning, Some(self.kind), Some(row), code, th, en)
                .column(column)
                .value(value),
        );
    }

    /// An error for a row that refers to a rejected row (`on` = that row's sheet and row).
    fn depends(&mut self, row: u32, column: &str, value: Option<String>, on: (SheetKind, u32)) {
        let (sheet, on_row) = on;
        self.error(
            row,
            column,
            value,
            IssueCode::DependsOnRejectedRow,
            format!(
                "แถวนี้อ้างถึงแผ่นงาน{} แถวที่ {on_row} ซึ่งมีข้อผิดพลาด จึงนำเข้าไม่ได้ ให้แก้ไขแถวนั้นก่อน",
                sheet.name_th()
            ),
            format!(
                "This row refers to {} row {on_row}, which has errors; fix that row first",
                sheet.key()
            ),
        );
    }

    fn house(&mut self, row: u32, column: &str, code: &str, state: House<'_>) -> bool {
        match state {
            House::Ok { .. } => true,
            House::Rejected(on_row) => {
                self.depends(
                    row,
                    column,
                    Some(code.to_string()),
                    (SheetKind::Households, on_row),
                );
                false
            }
            House::OutOfScope => {
                self.error(
                    row,
                    column,
                    Some(code.to_string()),
                    IssueCode::OutOfDistrict,
                    format!("ครัวเรือน {code} ไม่อยู่ในพื้นที่ของท่าน (อำเภอหรือจังหวัดที่รับผิดชอบ)"),
                    format!("Household {code} is not in your area (your district or province)"),
                );
                false
            }
            House::Unknown => {
                self.error(
                    row,
                    column,
                    Some(code.to_string()),
                    IssueCode::HouseholdUnknown,
                    format!("ไม่พบครัวเรือนรหัสบ้าน {code} ทั้งในแผ่นงานครัวเรือนและในฐานข้อมูล"),
                    format!("Household {code} is neither in the households sheet nor stored"),
                );
                false
            }
        }
    }

    fn duplicate(&mut self, row: u32, column: &str, value: Option<String>, first: u32) {
        self.error(
            row,
            column,
            value,
            IssueCode::DuplicateRow,
            format!("ข้อมูลซ้ำกับแถวที่ {first} (แถว {first} และแถว {row} เป็นรายการเดียวกัน)"),
            format!("Duplicate of row {first} (rows {first} and {row} are the same record)"),
        );
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

/// Everything validation needs besides the rows.
pub struct Context<'a> {
    /// Area tree.
    pub areas: &'a AreaIndex,
    /// Agencies.
    pub agencies: &'a AgencyIndex,
    /// Stored records.
    pub stored: &'a Stored,
    /// The area (a district, or a province: a 2-digit code) the import is limited to.
    pub scope: Option<&'a str>,
}

/// Labels of the columns, for messages, per sheet.
fn label(read: &ReadWorkbook, kind: SheetKind, col: usize) -> String {
    read.header(kind).map_or_else(
        || crate::header::columns(kind)[col].aliases[0].to_string(),
        |h| h.label(kind, col).to_string(),
    )
}

/// Validates a read workbook against the reference data.
pub fn validate(read: &ReadWorkbook, ctx: &Context<'_>) -> Validated {
    let mut out = Validated::default();
    let mut rejected_rows: HashMap<SheetKind, HashSet<u32>> = HashMap::new();
    for kind in SheetKind::ALL {
        rejected_rows.insert(kind, read.rejected_rows(kind));
    }

    // ---- households
    let mut hh_ok: HashMap<String, (u32, String, String)> = HashMap::new(); // code → (row, district, province)
    let mut hh_rejected: HashMap<String, u32> = HashMap::new(); // code → row
    let mut lost_heads: HashMap<String, u32> = HashMap::new(); // head's citizen ID → row, when the code is unreadable
    let mut village_names: HashMap<String, String> = ctx.stored.villages.clone();
    let mut resolver = AreaResolver::new(ctx.areas);
    {
        let kind = SheetKind::Households;
        let mut ck = Checker {
            kind,
            issues: &mut out.issues,
        };
        let col = |c| label(read, kind, c);
        for p in &read.households {
            let Some(h) = &p.value else {
                match (&p.ident.house_code, &p.ident.citizen_id) {
                    (Some(code), _) => {
                        hh_rejected.insert(code.to_string(), p.row);
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
            if let Some((first, ..)) = hh_ok.get(&code) {
                ck.duplicate(p.row, &col(hh::HOUSE_CODE), Some(code.clone()), *first);
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            }
            let resolved = resolve_area(h, p.row, &mut resolver, &mut ck, &col);
            let Some((province, district, subdistrict)) = resolved else {
                hh_rejected.insert(code, p.row);
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            };
            let Some(village) = VillageCode::of(&subdistrict, h.village_no) else {
                hh_rejected.insert(code, p.row);
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            };
            let village_code = village.as_str().to_string();
            if let Some(given) = &h.village_code
                && given.as_str() != village_code
            {
                ck.error(
                    p.row,
                    &col(hh::VILLAGE_CODE),
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
                    &col(hh::DISTRICT),
                    Some(h.district.clone()),
                    IssueCode::OutOfDistrict,
                    th,
                    en,
                );
                ok = false;
            }
            if !ok {
                hh_rejected.insert(code, p.row);
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            }
            match village_names.get(&village_code) {
                Some(stored) => {
                    if let Some(given) = &h.village_name
                        && squash(given) != squash(stored)
                    {
                        ck.warn(
                            p.row,
                            &col(hh::VILLAGE_NAME),
                            Some(given.clone()),
                            IssueCode::VillageRenamed,
                            format!("หมู่ที่ {} มีชื่อในระบบว่า \"{stored}\" จึงคงชื่อเดิมไว้", h.village_no.get()),
                            format!("Village {village_code} is stored as \"{stored}\"; the stored name is kept"),
                        );
                    }
                }
                None => {
                    let name = h
                        .village_name
                        .clone()
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
            hh_ok.insert(
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
    }

    // a household row whose house code cannot be read is found through its head: the
    // house code its head has in the members sheet is that row's
    for p in &read.members {
        if let (Some(h), Some(c)) = (&p.ident.house_code, &p.ident.citizen_id)
            && let Some(row) = lost_heads.get(c.as_str())
            && !hh_ok.contains_key(h.as_str())
        {
            hh_rejected.entry(h.to_string()).or_insert(*row);
        }
    }

    let house_state = |code: &str| -> House<'_> {
        if let Some((_, _, province)) = hh_ok.get(code) {
            return House::Ok { province };
        }
        if let Some(row) = hh_rejected.get(code) {
            return House::Rejected(*row);
        }
        match ctx.stored.households.get(code) {
            Some(h)
                if ctx
                    .scope
                    .is_some_and(|d| !h.district_code.as_str().starts_with(d)) =>
            {
                House::OutOfScope
            }
            Some(h) => House::Ok {
                province: h.province_code.as_str(),
            },
            None => House::Unknown,
        }
    };

    // ---- members
    let mut members_ok: HashMap<String, (u32, String)> = HashMap::new(); // citizen → (row, house)
    let mut rejected_citizens: HashMap<(String, String), u32> = HashMap::new();
    let mut houses_with_rejected_members: HashMap<String, u32> = HashMap::new();
    {
        let kind = SheetKind::Members;
        let mut ck = Checker {
            kind,
            issues: &mut out.issues,
        };
        let col = |c| label(read, kind, c);
        for p in &read.members {
            let Some(m) = &p.value else {
                if let Some(h) = &p.ident.house_code {
                    houses_with_rejected_members
                        .entry(h.to_string())
                        .or_insert(p.row);
                    if let Some(c) = &p.ident.citizen_id {
                        rejected_citizens.insert((h.to_string(), c.to_string()), p.row);
                    }
                }
                continue;
            };
            let house = m.house_code.to_string();
            let cid = m.citizen_id.to_string();
            let reject = |rr: &mut HashMap<SheetKind, HashSet<u32>>,
                          hs: &mut HashMap<String, u32>,
                          rc: &mut HashMap<(String, String), u32>| {
                rr.get_mut(&kind).map(|s| s.insert(p.row));
                hs.entry(house.clone()).or_insert(p.row);
                rc.insert((house.clone(), cid.clone()), p.row);
            };
            if let Some((first, _)) = members_ok.get(&cid) {
                ck.duplicate(p.row, &col(mm::CITIZEN_ID), Some(cid.clone()), *first);
                reject(
                    &mut rejected_rows,
                    &mut houses_with_rejected_members,
                    &mut rejected_citizens,
                );
                continue;
            }
            if !ck.house(p.row, &col(mm::HOUSE_CODE), &house, house_state(&house)) {
                reject(
                    &mut rejected_rows,
                    &mut houses_with_rejected_members,
                    &mut rejected_citizens,
                );
                continue;
            }
            members_ok.insert(cid.clone(), (p.row, house.clone()));
            out.members.push(member_row(p.row, m));
        }
    }
    let is_member = |house: &str, cid: &str| -> bool {
        match members_ok.get(cid) {
            Some((_, h)) => h == house,
            None => ctx
                .stored
                .members
                .get(cid)
                .is_some_and(|m| m.house_code.as_str() == house),
        }
    };

    // ---- problems
    let mut problems_ok: HashMap<ProblemIdent, u32> = HashMap::new();
    let mut rejected_problems: HashMap<(String, i32, String), u32> = HashMap::new();
    // rejected problem rows whose household could not be identified: (indicator, person) → row
    let mut orphan_problems: HashMap<(i32, String), u32> = HashMap::new();
    // households with a rejected problem row whose indicator cannot be read → row
    let mut houses_with_rejected_problems: HashMap<String, u32> = HashMap::new();
    {
        let kind = SheetKind::Problems;
        let mut ck = Checker {
            kind,
            issues: &mut out.issues,
        };
        let col = |c| label(read, kind, c);
        for p in &read.problems {
            let Some(pr) = &p.value else {
                if let (Some(h), None) = (&p.ident.house_code, p.ident.indicator) {
                    houses_with_rejected_problems
                        .entry(h.to_string())
                        .or_insert(p.row);
                }
                if let Some(i) = p.ident.indicator {
                    let person = p
                        .ident
                        .citizen_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    match &p.ident.house_code {
                        Some(h) if !matches!(house_state(h.as_str()), House::Unknown) => {
                            rejected_problems
                                .insert((h.to_string(), i32::from(i.get()), person), p.row);
                        }
                        _ => {
                            orphan_problems
                                .entry((i32::from(i.get()), person))
                                .or_insert(p.row);
                        }
                    }
                }
                continue;
            };
            let house = pr.house_code.to_string();
            let person = pr
                .citizen_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let ind = i32::from(pr.indicator.get());
            let refs = Rejected {
                problems: &rejected_problems,
                orphan_problems: &orphan_problems,
                citizens: &rejected_citizens,
                houses_with_members: &houses_with_rejected_members,
                houses_with_problems: &houses_with_rejected_problems,
            };
            let ok = check_problem(
                p.row,
                pr,
                &house,
                &mut ck,
                &col,
                house_state(&house),
                &is_member,
                &refs,
            );
            let ident = ProblemIdent {
                house_code: house.clone(),
                indicator: ind,
                person_key: person.clone(),
                cohort: pr.cohort,
            };
            if ok && let Some(first) = problems_ok.get(&ident) {
                ck.duplicate(
                    p.row,
                    &col(pp::INDICATOR),
                    Some(pr.indicator.get().to_string()),
                    *first,
                );
            } else if ok {
                problems_ok.insert(ident.clone(), p.row);
                out.problems.push(Row {
                    row: p.row,
                    model: problem::ActiveModel {
                        id: NotSet,
                        house_code: Set(pr.house_code.clone()),
                        indicator_code: Set(ind),
                        citizen_id: Set(pr.citizen_id.clone()),
                        person_key: Set(person.clone()),
                        cohort_id: NotSet,
                        detail: Set(pr.detail.clone()),
                        // derived from the logbook: set on insert, never compared
                        status: NotSet,
                        batch_id: NotSet,
                        source_sheet: NotSet,
                        source_row: NotSet,
                    },
                    link: ident,
                });
                continue;
            }
            rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
            if matches!(house_state(&house), House::Unknown) {
                orphan_problems.entry((ind, person)).or_insert(p.row);
            } else {
                rejected_problems.insert((house, ind, person), p.row);
            }
        }
    }

    // ---- analyses
    {
        let kind = SheetKind::Analysis;
        let mut ck = Checker {
            kind,
            issues: &mut out.issues,
        };
        let col = |c| label(read, kind, c);
        let mut seen: HashMap<String, u32> = HashMap::new();
        for p in &read.analyses {
            let Some(a) = &p.value else { continue };
            let house = a.house_code.to_string();
            let ok = if let Some(first) = seen.get(&house) {
                ck.duplicate(p.row, &col(an::HOUSE_CODE), Some(house.clone()), *first);
                false
            } else {
                ck.house(p.row, &col(an::HOUSE_CODE), &house, house_state(&house))
            };
            if ok {
                seen.insert(house.clone(), p.row);
                out.analyses.push(Row {
                    row: p.row,
                    model: analysis::ActiveModel {
                        house_code: Set(a.house_code.clone()),
                        attitude: Set(a.attitude.clone()),
                        skills: Set(a.skills.clone()),
                        resources: Set(a.resources.clone()),
                        way_out: Set(a.way_out.clone()),
                        analysed_on: Set(a.analysed_on),
                        mentor: Set(a.mentor.clone()),
                        batch_id: NotSet,
                        source_sheet: NotSet,
                        source_row: NotSet,
                    },
                    link: (),
                });
            } else {
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
            }
        }
    }

    // ---- logbook entries
    {
        let kind = SheetKind::Assistance;
        let mut ck = Checker {
            kind,
            issues: &mut out.issues,
        };
        let col = |c| label(read, kind, c);
        // problems known per (house, indicator, person): cohorts available
        let mut cohorts_of: HashMap<(String, i32, String), Vec<Cohort>> = HashMap::new();
        for ident in problems_ok.keys() {
            cohorts_of
                .entry((
                    ident.house_code.clone(),
                    ident.indicator,
                    ident.person_key.clone(),
                ))
                .or_default()
                .push(ident.cohort);
        }
        let cohort_by_id: HashMap<i32, Cohort> =
            ctx.stored.cohorts.iter().map(|(c, id)| (*id, *c)).collect();
        for (house, ind, person, cohort_id) in ctx.stored.problems.keys() {
            if let Some(c) = cohort_by_id.get(cohort_id) {
                let v = cohorts_of
                    .entry((house.clone(), *ind, person.clone()))
                    .or_default();
                if !v.contains(c) {
                    v.push(*c);
                }
            }
        }
        let mut seen: HashMap<(ProblemIdent, NaiveDate, String), u32> = HashMap::new();
        // the workbook's province, for rows whose household is not known
        let mut provinces: HashMap<&str, usize> = HashMap::new();
        for (_, _, p) in hh_ok.values() {
            *provinces.entry(p.as_str()).or_default() += 1;
        }
        let main_province: String = provinces
            .into_iter()
            .max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p)))
            .map(|(p, _)| p.to_string())
            .or_else(|| ctx.scope.map(|d| d[..2].to_string()))
            .unwrap_or_default();
        for p in &read.entries {
            let Some(e) = &p.value else { continue };
            let house = e.house_code.to_string();
            let state = house_state(&house);
            let province = match state {
                House::Ok { province } => province,
                _ => main_province.as_str(),
            };
            // checked on every row, so that one pass shows staff every unknown agency
            let agency = ctx.agencies.find(province, &e.agency);
            if agency.is_none() {
                ck.warn(
                    p.row,
                    &col(aa::AGENCY),
                    Some(e.agency.clone()),
                    IssueCode::UnknownAgency,
                    format!(
                        "ไม่พบหน่วยงาน \"{}\" ในรายชื่อหน่วยงานของจังหวัด จึงบันทึกไว้เป็นข้อความ",
                        e.agency
                    ),
                    format!(
                        "\"{}\" is not a known agency of the province; kept as text",
                        e.agency
                    ),
                );
            }
            if !ck.house(p.row, &col(aa::HOUSE_CODE), &house, state) {
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            }
            let refs = Rejected {
                problems: &rejected_problems,
                orphan_problems: &orphan_problems,
                citizens: &rejected_citizens,
                houses_with_members: &houses_with_rejected_members,
                houses_with_problems: &houses_with_rejected_problems,
            };
            let Some(problem) = find_problem(p.row, e, &house, &mut ck, &col, &cohorts_of, &refs)
            else {
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            };
            let agency_key = agency.map_or_else(|| squash(&e.agency), |a| a.code.clone());
            let key = entry_key(&agency_key, &e.activity);
            let id = (problem.clone(), e.date, key.clone());
            if let Some(first) = seen.get(&id) {
                ck.duplicate(p.row, &col(aa::ACTIVITY), Some(e.activity.clone()), *first);
                rejected_rows.get_mut(&kind).map(|s| s.insert(p.row));
                continue;
            }
            seen.insert(id, p.row);
            out.entries.push(Row {
                row: p.row,
                model: logbook_entry::ActiveModel {
                    id: NotSet,
                    problem_id: NotSet,
                    entry_date: Set(e.date),
                    agency_id: Set(agency.map(|a| a.id)),
                    agency_text: Set(e.agency.clone()),
                    entry_key: Set(key),
                    activity: Set(e.activity.clone()),
                    menu: Set(e.menu.clone()),
                    amount_satang: Set(e.amount.map(|a| a.satang())),
                    fund: Set(e.fund.clone()),
                    status: Set(e.status),
                    note: Set(e.note.clone()),
                    recorded_by: NotSet,
                    written_seq: NotSet,
                    batch_id: NotSet,
                    source_sheet: NotSet,
                    source_row: NotSet,
                },
                link: problem,
            });
        }
    }

    // a row is rejected once, however many errors it has
    out.rejected = rejected_rows
        .into_iter()
        .map(|(k, v)| (k, v.len() as u32))
        .collect();
    // rows that passed here but were rejected before (cannot happen) are not double counted:
    // rows only reach the output lists when valid.
    out
}

fn resolve_area(
    h: &HouseholdIn,
    row: u32,
    resolver: &mut AreaResolver<'_>,
    ck: &mut Checker<'_>,
    col: &dyn Fn(usize) -> String,
) -> Option<(AreaCode, AreaCode, AreaCode)> {
    let (level, u) = match resolver.resolve(&h.province, &h.district, &h.subdistrict) {
        Ok(codes) => return Some(codes.clone()),
        Err((level, u)) => (*level, u.clone()),
    };
    match level {
        AreaLevel::Province => ck.error(
            row,
            &col(hh::PROVINCE),
            Some(h.province.clone()),
            IssueCode::ProvinceUnknown,
            format!("ไม่พบจังหวัด \"{}\"{}", h.province, suggest_th(&u)),
            format!("Unknown province \"{}\".{}", h.province, suggest_en(&u)),
        ),
        AreaLevel::District => ck.error(
            row,
            &col(hh::DISTRICT),
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
            &col(hh::SUBDISTRICT),
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

fn household_row(
    row: u32,
    h: &HouseholdIn,
    village: VillageCode,
    [subdistrict, district, province]: [AreaCode; 3],
) -> Row<household::ActiveModel, Cohort> {
    Row {
        row,
        model: household::ActiveModel {
            house_code: Set(h.house_code.clone()),
            house_no: Set(h.house_no.clone()),
            village_code: Set(village),
            subdistrict_code: Set(subdistrict),
            district_code: Set(district),
            province_code: Set(province),
            head_title: Set(h.head_title.clone()),
            head_name: Set(h.head_name.clone()),
            head_citizen_id: Set(h.head_citizen_id.clone()),
            member_count: Set(h.member_count),
            classification: Set(h.classification),
            // the cohort may be new: its id is known when written
            cohort_id: NotSet,
            latitude: Set(h.latitude),
            longitude: Set(h.longitude),
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
        },
        link: h.cohort,
    }
}

fn member_row(row: u32, m: &MemberIn) -> Row<member::ActiveModel> {
    Row {
        row,
        model: member::ActiveModel {
            citizen_id: Set(m.citizen_id.clone()),
            house_code: Set(m.house_code.clone()),
            title: Set(m.title.clone()),
            first_name: Set(m.first_name.clone()),
            last_name: Set(m.last_name.clone()),
            sex: Set(m.sex),
            birth_date: Set(m.birth_date),
            age: Set(m.age),
            // the batch's day, filled when written
            age_as_of: NotSet,
            relation: Set(m.relation.clone()),
            disabled: Set(m.disabled),
            citizen_id_valid: Set(m.citizen_id.checksum_valid()),
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
        },
        link: (),
    }
}

/// Rows rejected so far that later rows may depend on.
struct Rejected<'a> {
    /// (house, indicator, person) → problems row.
    problems: &'a HashMap<(String, i32, String), u32>,
    /// (indicator, person) → problems row whose household is unknown or unreadable.
    orphan_problems: &'a HashMap<(i32, String), u32>,
    /// (house, citizen) → members row.
    citizens: &'a HashMap<(String, String), u32>,
    /// house → first rejected members row.
    houses_with_members: &'a HashMap<String, u32>,
    /// house → first rejected problems row whose indicator cannot be read.
    houses_with_problems: &'a HashMap<String, u32>,
}

#[allow(clippy::too_many_arguments)]
fn check_problem(
    row: u32,
    pr: &ProblemIn,
    house: &str,
    ck: &mut Checker<'_>,
    col: &dyn Fn(usize) -> String,
    state: House<'_>,
    is_member: &dyn Fn(&str, &str) -> bool,
    refs: &Rejected<'_>,
) -> bool {
    if !ck.house(row, &col(pp::HOUSE_CODE), house, state) {
        return false;
    }
    let def = pr.indicator.def();
    if let Some(d) = pr.dimension
        && d != def.dimension
    {
        ck.error(
            row,
            &col(pp::DIMENSION),
            Some(d.name_th().to_string()),
            IssueCode::DimensionMismatch,
            format!(
                "ตัวชี้วัดที่ {} อยู่ใน{} ไม่ใช่{}",
                def.code,
                def.dimension.name_th(),
                d.name_th()
            ),
            format!(
                "Indicator {} belongs to {}, not {}",
                def.code,
                def.dimension.name_en(),
                d.name_en()
            ),
        );
        return false;
    }
    match (def.unit, &pr.citizen_id) {
        (Unit::Person, None) => {
            ck.error(
                row,
                &col(pp::CITIZEN_ID),
                None,
                IssueCode::CitizenIdRequired,
                format!(
                    "ตัวชี้วัดที่ {} เป็นตัวชี้วัดรายบุคคล ต้องระบุเลขบัตรประชาชนของสมาชิก",
                    def.code
                ),
                format!(
                    "Indicator {} is about a person: give the member's citizen ID",
                    def.code
                ),
            );
            false
        }
        (Unit::Household, Some(c)) => {
            ck.error(
                row,
                &col(pp::CITIZEN_ID),
                Some(c.to_string()),
                IssueCode::CitizenIdNotExpected,
                format!(
                    "ตัวชี้วัดที่ {} เป็นตัวชี้วัดระดับครัวเรือน ไม่ต้องระบุเลขบัตรประชาชน",
                    def.code
                ),
                format!(
                    "Indicator {} is about the household: leave the citizen ID empty",
                    def.code
                ),
            );
            false
        }
        (Unit::Person, Some(c)) => member_ok(
            row,
            house,
            c.as_ref(),
            ck,
            &col(pp::CITIZEN_ID),
            is_member,
            refs,
        ),
        (Unit::Household, None) => true,
    }
}

/// Whether `cid` is a member of `house`; when not, an error (or a dependency on a
/// rejected members row of that household).
fn member_ok(
    row: u32,
    house: &str,
    cid: &str,
    ck: &mut Checker<'_>,
    column: &str,
    is_member: &dyn Fn(&str, &str) -> bool,
    refs: &Rejected<'_>,
) -> bool {
    if is_member(house, cid) {
        return true;
    }
    let on = refs
        .citizens
        .get(&(house.to_string(), cid.to_string()))
        .or_else(|| refs.houses_with_members.get(house));
    match on {
        Some(on_row) => ck.depends(
            row,
            column,
            Some(cid.to_string()),
            (SheetKind::Members, *on_row),
        ),
        None => ck.error(
            row,
            column,
            Some(cid.to_string()),
            IssueCode::MemberNotInHousehold,
            format!("เลขบัตรประชาชน {cid} ไม่ใช่สมาชิกของครัวเรือน {house}"),
            format!("Citizen {cid} is not a member of household {house}"),
        ),
    }
    false
}

fn find_problem(
    row: u32,
    e: &EntryIn,
    house: &str,
    ck: &mut Checker<'_>,
    col: &dyn Fn(usize) -> String,
    cohorts_of: &HashMap<(String, i32, String), Vec<Cohort>>,
    refs: &Rejected<'_>,
) -> Option<ProblemIdent> {
    let ind = i32::from(e.indicator.get());
    let person = e
        .citizen_id
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let key = (house.to_string(), ind, person.clone());
    if let Some(on_row) = refs.problems.get(&key) {
        ck.depends(
            row,
            &col(aa::INDICATOR),
            Some(ind.to_string()),
            (SheetKind::Problems, *on_row),
        );
        return None;
    }
    let found = cohorts_of.get(&key).and_then(|cohorts| match e.cohort {
        Some(c) => cohorts.contains(&c).then_some(c),
        None => cohorts
            .iter()
            .max_by_key(|c| (c.be_year, c.source))
            .copied(),
    });
    if let Some(cohort) = found {
        return Some(ProblemIdent {
            house_code: house.to_string(),
            indicator: ind,
            person_key: person,
            cohort,
        });
    }
    let def = e.indicator.def();
    if def.unit == Unit::Person && e.citizen_id.is_none() {
        ck.error(
            row,
            &col(aa::CITIZEN_ID),
            None,
            IssueCode::CitizenIdRequired,
            format!(
                "ตัวชี้วัดที่ {} เป็นตัวชี้วัดรายบุคคล ต้องระบุเลขบัตรประชาชนของผู้ได้รับความช่วยเหลือ",
                def.code
            ),
            format!(
                "Indicator {} is about a person: give the citizen ID of the person helped",
                def.code
            ),
        );
        return None;
    }
    if !person.is_empty() {
        let on = refs
            .citizens
            .get(&(house.to_string(), person.clone()))
            .or_else(|| refs.houses_with_members.get(house));
        if let Some(on_row) = on {
            ck.depends(
                row,
                &col(aa::CITIZEN_ID),
                Some(person),
                (SheetKind::Members, *on_row),
            );
            return None;
        }
    }
    // the problem may be a rejected row whose indicator or house code was wrong
    if let Some(on_row) = refs
        .houses_with_problems
        .get(house)
        .or_else(|| refs.orphan_problems.get(&(ind, person.clone())))
    {
        ck.depends(
            row,
            &col(aa::INDICATOR),
            Some(ind.to_string()),
            (SheetKind::Problems, *on_row),
        );
        return None;
    }
    let cohort_th = e.cohort.map(|c| format!(" ที่มา {c}")).unwrap_or_default();
    let cohort_en = e
        .cohort
        .map(|c| format!(" in cohort {c}"))
        .unwrap_or_default();
    ck.error(
        row,
        &col(aa::INDICATOR),
        Some(ind.to_string()),
        IssueCode::ProblemUnknown,
        format!("ครัวเรือน {house} ไม่มีปัญหาตัวชี้วัดที่ {ind}{cohort_th} ทั้งในแผ่นงานปัญหาและในฐานข้อมูล"),
        format!("Household {house} has no problem for indicator {ind}{cohort_en} in the problems sheet or stored"),
    );
    None
}
