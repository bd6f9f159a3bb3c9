//! Synthetic district workbooks for tests, demos and benchmarks: Thai names, valid citizen
//! IDs, person indicators consistent with age, logbook histories; optionally with the
//! untidiness of real workbooks. A [`Dataset`] is plain data that tests can change
//! (next month, injected mistakes) before [`write_workbook`] renders it.

use crate::areas::AreaRow;
use crate::error::ImportError;
use crate::header::columns;
use crate::workbook::SheetKind;
use chrono::{Datelike, Days, NaiveDate};
use entity::catalog::{INDICATORS, Unit};
use entity::summary::Summary;
use entity::types::{
    AreaLevel, CitizenId, Cohort, CohortSource, Dimension, FundMovementKind, ProblemStatus,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use std::collections::{HashMap, HashSet};

/// The areas of the district to generate in.
#[derive(Debug, Clone)]
pub struct DistrictAreas {
    /// Province code.
    pub province_code: String,
    /// Province Thai name.
    pub province_name: String,
    /// District code.
    pub district_code: String,
    /// District Thai name.
    pub district_name: String,
    /// Subdistricts: (code, Thai name).
    pub subdistricts: Vec<(String, String)>,
}

impl DistrictAreas {
    /// อำเภอเมืองจันทร์, ศรีสะเกษ (the built-in areas).
    pub fn builtin() -> Self {
        let rows =
            crate::areas::parse_csv(crate::areas::BUILTIN_AREAS_CSV.as_bytes()).unwrap_or_default();
        Self::from_rows(&rows, crate::areas::BUILTIN_DISTRICT).unwrap_or_else(|| DistrictAreas {
            province_code: "33".into(),
            province_name: "ศรีสะเกษ".into(),
            district_code: "3318".into(),
            district_name: "เมืองจันทร์".into(),
            subdistricts: vec![("331801".into(), "เมืองจันทร์".into())],
        })
    }

    /// A district of an area master file.
    pub fn from_rows(rows: &[AreaRow], district: &str) -> Option<Self> {
        let d = rows
            .iter()
            .find(|r| r.level == AreaLevel::District && r.code.as_str() == district)?;
        let p = rows.iter().find(|r| Some(&r.code) == d.parent.as_ref())?;
        let subdistricts: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r.level == AreaLevel::Subdistrict && r.parent.as_ref() == Some(&d.code))
            .map(|r| (r.code.as_str().to_string(), r.name_th.clone()))
            .collect();
        (!subdistricts.is_empty()).then(|| DistrictAreas {
            province_code: p.code.as_str().to_string(),
            province_name: p.name_th.clone(),
            district_code: d.code.as_str().to_string(),
            district_name: d.name_th.clone(),
            subdistricts,
        })
    }
}

/// A generated household.
#[derive(Debug, Clone, PartialEq)]
pub struct GHousehold {
    /// House code.
    pub house_code: String,
    /// House number.
    pub house_no: String,
    /// Village number.
    pub village_no: u8,
    /// Village name.
    pub village_name: String,
    /// Subdistrict Thai name.
    pub subdistrict: String,
    /// Subdistrict code.
    pub subdistrict_code: String,
    /// Head's title.
    pub head_title: String,
    /// Head's name.
    pub head_name: String,
    /// Head's citizen ID.
    pub head_citizen_id: String,
    /// Member count.
    pub members: u32,
    /// Classification Thai label.
    pub classification: String,
    /// Cohort.
    pub cohort: Cohort,
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
}

/// A generated member.
#[derive(Debug, Clone, PartialEq)]
pub struct GMember {
    /// House code.
    pub house_code: String,
    /// Citizen ID.
    pub citizen_id: String,
    /// Title.
    pub title: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// `ชาย` / `หญิง`.
    pub sex: String,
    /// Birth date, or none when only the age is given.
    pub birth_date: Option<NaiveDate>,
    /// Age, given when the birth date is not.
    pub age: Option<u32>,
    /// Relation to the head.
    pub relation: String,
    /// Disabled.
    pub disabled: bool,
}

/// A generated problem.
#[derive(Debug, Clone, PartialEq)]
pub struct GProblem {
    /// House code.
    pub house_code: String,
    /// Indicator.
    pub indicator: u8,
    /// Person, for person indicators.
    pub citizen_id: Option<String>,
    /// Cohort.
    pub cohort: Cohort,
    /// Detail.
    pub detail: String,
}

/// A generated analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct GAnalysis {
    /// House code.
    pub house_code: String,
    /// Attitude.
    pub attitude: String,
    /// Skills.
    pub skills: String,
    /// Resources.
    pub resources: String,
    /// Way out.
    pub way_out: String,
    /// Date.
    pub analysed_on: NaiveDate,
    /// Mentor.
    pub mentor: String,
}

/// A generated logbook entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GEntry {
    /// Index into [`Dataset::problems`].
    pub problem: usize,
    /// Date.
    pub date: NaiveDate,
    /// Agency as written.
    pub agency: String,
    /// Whether the agency is one of the province's known ones.
    pub agency_known: bool,
    /// Activity.
    pub activity: String,
    /// Menu.
    pub menu: Option<String>,
    /// Amount in baht.
    pub amount: Option<u32>,
    /// Fund.
    pub fund: Option<String>,
    /// Result.
    pub status: ProblemStatus,
}

impl GEntry {
    /// The next visit it plans: a month after it, while the problem is followed up (the
    /// optional column นัดเยี่ยมครั้งถัดไป).
    pub fn next_visit_on(&self) -> Option<NaiveDate> {
        matches!(
            self.status,
            ProblemStatus::AwaitingFollowUp | ProblemStatus::FollowingUp
        )
        .then(|| self.date + Days::new(30))
    }
}

/// A row of the funds sheet.
#[derive(Debug, Clone)]
pub struct GFundRow {
    /// Household.
    pub house_code: String,
    /// The fund's name as written.
    pub fund: String,
    /// Grant, loan or repayment.
    pub kind: FundMovementKind,
    /// Day.
    pub date: NaiveDate,
    /// Amount in baht.
    pub amount: u32,
    /// A loan's term in months.
    pub term_months: Option<i32>,
    /// A loan's instalment interval in months.
    pub every_months: Option<i32>,
    /// A repayment's loan day.
    pub loan_date: Option<NaiveDate>,
}

/// A generated district workbook's content.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Province name.
    pub province: String,
    /// District name.
    pub district: String,
    /// Households.
    pub households: Vec<GHousehold>,
    /// Members.
    pub members: Vec<GMember>,
    /// Problems.
    pub problems: Vec<GProblem>,
    /// Analyses.
    pub analyses: Vec<GAnalysis>,
    /// Logbook entries, in the order written.
    pub entries: Vec<GEntry>,
    /// Funds-sheet rows (none unless [`Dataset::add_fund_rows`]); without them the workbook
    /// has no funds sheet.
    pub fund_rows: Vec<GFundRow>,
    /// Raw text that replaces a rendered cell: (sheet, data row index, column key) → text.
    pub overrides: HashMap<(SheetKind, usize, &'static str), String>,
}

const MALE: &[&str] = &[
    "สมชาย",
    "สมศักดิ์",
    "ประยุทธ",
    "วิชัย",
    "ธนากร",
    "สุรชัย",
    "บุญมี",
    "ทองดี",
    "อำนาจ",
    "ชาตรี",
    "ณัฐวุฒิ",
    "สมพงษ์",
    "ประเสริฐ",
    "สุทธิพงษ์",
    "กิตติ",
    "อนุชา",
];
const FEMALE: &[&str] = &[
    "สมหญิง",
    "ลำดวน",
    "มาลี",
    "ศิริพร",
    "ประภา",
    "ปวีณา",
    "อำไพ",
    "จันทร์เพ็ญ",
    "ธิดารัตน์",
    "บุญเรือน",
    "กัลยา",
    "สุภาพร",
    "วันเพ็ญ",
    "นงลักษณ์",
    "รัตนา",
    "พรทิพย์",
];
const LAST: &[&str] = &[
    "ใจดี",
    "มีสุข",
    "ศรีสุข",
    "แก้วมณี",
    "ทองคำ",
    "บุญมา",
    "พรมมา",
    "อินทร์ตา",
    "สายบุญ",
    "ศรีอำไพ",
    "จันทร์แก้ว",
    "ทำดี",
    "คำแสน",
    "ดำรงค์ชัย",
    "ชาวนา",
    "รักไทย",
];
const VILLAGES: &[&str] = &[
    "บ้านตาโกน",
    "บ้านหนองใหญ่",
    "บ้านโคกสะอาด",
    "บ้านดอนแดง",
    "บ้านหนองบัว",
    "บ้านโนนสูง",
    "บ้านหนองแวง",
    "บ้านนาคำ",
    "บ้านห้วยทราย",
    "บ้านสำโรง",
];
const ATTITUDE: &[&str] = &["พร้อมรับการช่วยเหลือ", "ต้องการพัฒนาตนเอง", "ยังไม่มั่นใจ"];
const SKILLS: &[&str] = &["รับจ้างทั่วไป", "ทำการเกษตร", "ไม่มีทักษะอาชีพ", "ทอผ้า"];
const RESOURCES: &[&str] = &["มีที่ดิน 2 ไร่", "ไม่มีที่ดินทำกิน", "มีแหล่งน้ำ"];
const WAY_OUT: &[&str] = &["ส่งเสริมอาชีพเสริม", "ประสานสวัสดิการรัฐ", "ปรับปรุงที่อยู่อาศัย"];
const LOCAL_AGENCIES: &[&str] = &["อบต.", "รพ.สต.บ้าน", "เทศบาลตำบล"];

fn activity_for(d: Dimension) -> &'static [&'static str] {
    match d {
        Dimension::Health => &[
            "มอบชุดยาสามัญประจำบ้าน",
            "อบรมโภชนาการครัวเรือน",
            "ตรวจสุขภาพที่บ้าน",
        ],
        Dimension::Living => &[
            "ซ่อมแซมบ้านผู้มีรายได้น้อย",
            "มอบถังเก็บน้ำ",
            "ติดตั้งระบบกรองน้ำ",
            "จัดการบ้านเรือนให้สะอาด",
        ],
        Dimension::Education => &["มอบทุนการศึกษา", "ส่งต่อ กศน. อ่านเขียน", "ติดตามเด็กกลับเข้าเรียน"],
        Dimension::Income => &["ฝึกอาชีพเพาะเห็ด", "มอบพันธุ์ไก่ไข่", "ส่งเสริมการจ้างงาน"],
        Dimension::Access => &[
            "ขึ้นทะเบียนเบี้ยยังชีพผู้สูงอายุ",
            "ขึ้นทะเบียนคนพิการ",
            "เยี่ยมบ้านโดยทีมพี่เลี้ยง",
        ],
    }
}

fn agency_for(d: Dimension, rng: &mut fastrand::Rng) -> &'static str {
    match d {
        Dimension::Health => "สสจ.",
        Dimension::Living => "พมจ.",
        Dimension::Education => "ศธจ.",
        Dimension::Income => ["พช.จ.", "กษ.จ.", "รง.จ."][rng.usize(..3)],
        Dimension::Access => ["พมจ.", "สถ.จ."][rng.usize(..2)],
    }
}

fn pick<'a>(rng: &mut fastrand::Rng, v: &[&'a str]) -> &'a str {
    v[rng.usize(..v.len())]
}

fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut a = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        a -= 1;
    }
    a
}

struct Ids {
    used: HashSet<String>,
}

impl Ids {
    fn citizen(&mut self, rng: &mut fastrand::Rng) -> String {
        loop {
            let first12 = format!(
                "{}{:011}",
                [1, 3, 5][rng.usize(..3)],
                rng.u64(..100_000_000_000)
            );
            if let Some(d) = CitizenId::check_digit(&first12) {
                let id = format!("{first12}{d}");
                if self.used.insert(id.clone()) {
                    return id;
                }
            }
        }
    }

    fn house(&mut self, rng: &mut fastrand::Rng, district: &str) -> String {
        loop {
            let id = format!("{district}{:07}", rng.u32(..10_000_000));
            if self.used.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Households.
    pub households: usize,
    /// Random seed: the same seed gives the same dataset.
    pub seed: u64,
    /// The day the data is as of (dates are before it).
    pub as_of: NaiveDate,
    /// Where.
    pub areas: DistrictAreas,
}

/// Generates a dataset.
pub fn synthesize(opts: &GenOptions) -> Dataset {
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut ids = Ids {
        used: HashSet::new(),
    };
    let a = &opts.areas;
    let mut ds = Dataset {
        province: a.province_name.clone(),
        district: a.district_name.clone(),
        ..Default::default()
    };
    // villages: (subdistrict index, number, name)
    let mut villages = Vec::new();
    for (si, _) in a.subdistricts.iter().enumerate() {
        for n in 1..=(4 + rng.u8(..6)) {
            villages.push((si, n, VILLAGES[(si * 3 + usize::from(n)) % VILLAGES.len()]));
        }
    }
    let as_of = opts.as_of;
    let year_ago = as_of - Days::new(365);
    for _ in 0..opts.households {
        let (si, vno, vname) = villages[rng.usize(..villages.len())];
        let house_code = ids.house(&mut rng, &a.district_code);
        let last = pick(&mut rng, LAST);
        let size = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6][rng.usize(..10)];
        let mut people: Vec<GMember> = Vec::new();
        for k in 0..size {
            let (min_age, max_age, relation) = match k {
                0 => (25, 85, "หัวหน้าครัวเรือน"),
                1 => (22, 80, "คู่สมรส"),
                _ if rng.u8(..5) == 0 => (60, 90, "บิดา"),
                _ => (0, 20, "บุตร"),
            };
            let age = rng.i32(min_age..=max_age);
            let male = rng.bool();
            let birth =
                NaiveDate::from_ymd_opt(as_of.year() - age, 1 + rng.u32(..12), 1 + rng.u32(..28))
                    .unwrap_or(as_of)
                    .min(as_of - Days::new(1));
            let age_now = age_on(birth, as_of).max(0);
            let title = match (male, age_now < 15) {
                (true, true) => "เด็กชาย",
                (false, true) => "เด็กหญิง",
                (true, false) => "นาย",
                (false, false) => ["นาง", "นางสาว"][rng.usize(..2)],
            };
            let only_age = rng.u8(..10) == 0;
            people.push(GMember {
                house_code: house_code.clone(),
                citizen_id: ids.citizen(&mut rng),
                title: title.to_string(),
                first_name: pick(&mut rng, if male { MALE } else { FEMALE }).to_string(),
                last_name: if k < 2 || rng.bool() {
                    last.to_string()
                } else {
                    pick(&mut rng, LAST).to_string()
                },
                sex: if male { "ชาย" } else { "หญิง" }.to_string(),
                birth_date: (!only_age).then_some(birth),
                age: only_age.then_some(age_now as u32),
                relation: relation.to_string(),
                disabled: rng.u8(..20) == 0,
            });
        }
        let head = &people[0];
        let cohort = Cohort {
            source: if rng.u8(..5) == 0 {
                CohortSource::Thaiqm
            } else {
                CohortSource::Tpmap
            },
            be_year: 2565,
        };
        ds.households.push(GHousehold {
            house_code: house_code.clone(),
            house_no: if rng.bool() {
                format!("{}", 1 + rng.u32(..250))
            } else {
                format!("{}/{}", 1 + rng.u32(..150), 1 + rng.u32(..9))
            },
            village_no: vno,
            village_name: vname.to_string(),
            subdistrict: a.subdistricts[si].1.clone(),
            subdistrict_code: a.subdistricts[si].0.clone(),
            head_title: head.title.clone(),
            head_name: format!("{} {}", head.first_name, head.last_name),
            head_citizen_id: head.citizen_id.clone(),
            members: people.len() as u32,
            classification: ["พัฒนาได้", "สงเคราะห์", "พัฒนาตนเองได้"][rng.usize(..3)].to_string(),
            cohort,
            latitude: 14.0 + rng.f64() * 2.5,
            longitude: 101.0 + rng.f64() * 3.8,
        });
        // problems: ~1.3 per household, person indicators only for eligible people
        let n_problems = 1 + usize::from(rng.u8(..10) < 3);
        let mut chosen = HashSet::new();
        for _ in 0..n_problems * 3 {
            if chosen.len() >= n_problems {
                break;
            }
            let def = &INDICATORS[rng.usize(..INDICATORS.len())];
            let person = match def.unit {
                Unit::Household => None,
                Unit::Person => {
                    let eligible: Vec<&GMember> = people
                        .iter()
                        .filter(|m| {
                            let age = m
                                .birth_date
                                .map_or(m.age.unwrap_or(0) as i32, |b| age_on(b, as_of));
                            match def.age_rule {
                                Some("disabled") => m.disabled,
                                Some("finished_m3") => (15..=17).contains(&age),
                                Some("newborn") => age == 0,
                                _ => {
                                    def.min_age.is_none_or(|lo| age >= lo)
                                        && def.max_age.is_none_or(|hi| age <= hi)
                                }
                            }
                        })
                        .collect();
                    if eligible.is_empty() {
                        continue;
                    }
                    Some(eligible[rng.usize(..eligible.len())].citizen_id.clone())
                }
            };
            if !chosen.insert((def.code, person.clone())) {
                continue;
            }
            let pidx = ds.problems.len();
            ds.problems.push(GProblem {
                house_code: house_code.clone(),
                indicator: def.code,
                citizen_id: person,
                cohort,
                detail: ["ข้อมูลจาก TPMAP", "ตรวจพบจากการลงพื้นที่", ""][rng.usize(..3)].to_string(),
            });
            // logbook history
            let n_entries = [0, 0, 0, 1, 1, 1, 1, 2, 2, 3][rng.usize(..10)];
            let mut day = year_ago + Days::new(rng.u64(..120));
            for e in 0..n_entries {
                let last = e + 1 == n_entries;
                let status = if last {
                    [
                        ProblemStatus::Solved,
                        ProblemStatus::Solved,
                        ProblemStatus::Solved,
                        ProblemStatus::AwaitingFollowUp,
                        ProblemStatus::FollowingUp,
                        ProblemStatus::NotSolvableYet,
                    ][rng.usize(..6)]
                } else {
                    [ProblemStatus::AwaitingFollowUp, ProblemStatus::FollowingUp][rng.usize(..2)]
                };
                // mostly the province's own agencies; now and then a local one the province's
                // list does not have (an unknown-agency warning on import)
                let known = rng.u8(..40) != 0;
                let agency = if known {
                    agency_for(def.dimension, &mut rng).to_string()
                } else {
                    format!("{}{}", pick(&mut rng, LOCAL_AGENCIES), a.subdistricts[si].1)
                };
                ds.entries.push(GEntry {
                    problem: pidx,
                    date: day,
                    agency,
                    agency_known: known,
                    activity: format!(
                        "{} ครั้งที่ {}",
                        pick(&mut rng, activity_for(def.dimension)),
                        e + 1
                    ),
                    menu: rng
                        .bool()
                        .then(|| format!("เมนูแก้จน {}", def.dimension.name_th())),
                    amount: (rng.u8(..5) > 1)
                        .then(|| [500, 1500, 3000, 12000, 25000][rng.usize(..5)]),
                    fund: rng.bool().then(|| "กองทุนขจัดความยากจนอำเภอ".to_string()),
                    status,
                });
                day = (day + Days::new(10 + rng.u64(..60))).min(as_of - Days::new(1));
            }
        }
        if rng.u8(..5) != 0 {
            ds.analyses.push(GAnalysis {
                house_code: house_code.clone(),
                attitude: pick(&mut rng, ATTITUDE).to_string(),
                skills: pick(&mut rng, SKILLS).to_string(),
                resources: pick(&mut rng, RESOURCES).to_string(),
                way_out: pick(&mut rng, WAY_OUT).to_string(),
                analysed_on: year_ago - Days::new(rng.u64(..60)),
                mentor: format!("ทีมพี่เลี้ยง ต.{}", a.subdistricts[si].1),
            });
        }
        ds.members.extend(people);
    }
    ds
}

/// What [`Dataset::next_month`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthChanges {
    /// New logbook entries added.
    pub new_entries: usize,
    /// Households re-classified.
    pub changed_households: usize,
    /// Analyses rewritten.
    pub changed_analyses: usize,
}

impl Dataset {
    /// The next month's workbook: new follow-up entries on some open problems, some
    /// households re-classified, some analyses rewritten. Everything else is unchanged.
    pub fn next_month(&mut self, seed: u64, as_of: NaiveDate) -> MonthChanges {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut ch = MonthChanges::default();
        let statuses = self.statuses();
        for (i, p) in self.problems.clone().iter().enumerate() {
            if statuses[i] == ProblemStatus::Solved || rng.u8(..3) != 0 {
                continue;
            }
            let dim =
                entity::catalog::indicator(p.indicator).map_or(Dimension::Health, |d| d.dimension);
            self.entries.push(GEntry {
                problem: i,
                date: as_of - Days::new(1 + rng.u64(..20)),
                agency: agency_for(dim, &mut rng).to_string(),
                agency_known: true,
                activity: "ติดตามผลการช่วยเหลือ".to_string(),
                menu: None,
                amount: None,
                fund: None,
                status: [ProblemStatus::Solved, ProblemStatus::FollowingUp][rng.usize(..2)],
            });
            ch.new_entries += 1;
        }
        for h in &mut self.households {
            if rng.u8(..10) == 0 {
                h.classification = if h.classification == "พัฒนาได้" {
                    "พัฒนาตนเองได้"
                } else {
                    "พัฒนาได้"
                }
                .to_string();
                ch.changed_households += 1;
            }
        }
        for a in &mut self.analyses {
            if rng.u8(..6) == 0 {
                a.way_out = format!("{} และติดตามผลรายเดือน", a.way_out);
                ch.changed_analyses += 1;
            }
        }
        ch
    }

    /// Each problem's status as the importer must derive it: the latest entry's by date,
    /// then by order written; `not_started` without entries.
    pub fn statuses(&self) -> Vec<ProblemStatus> {
        let mut latest: Vec<Option<(NaiveDate, usize)>> = vec![None; self.problems.len()];
        for (i, e) in self.entries.iter().enumerate() {
            let slot = &mut latest[e.problem];
            if slot.is_none_or(|(d, _)| e.date >= d) {
                *slot = Some((e.date, i));
            }
        }
        latest
            .iter()
            .map(|l| l.map_or(ProblemStatus::NotStarted, |(_, i)| self.entries[i].status))
            .collect()
    }

    /// The figures `logbook stats` must print after importing this dataset alone.
    pub fn expected_stats(&self) -> Summary {
        let statuses = self.statuses();
        let mut s = Summary {
            households: self.households.len() as i64,
            members: self.members.len() as i64,
            problems: self.problems.len() as i64,
            logbook_entries: self.entries.len() as i64,
            analyses: self.analyses.len() as i64,
            ..Default::default()
        };
        let mut open: HashMap<&str, bool> = HashMap::new();
        for (p, st) in self.problems.iter().zip(&statuses) {
            s.problems_by_status.add(*st, 1);
            if let Some(i) = entity::catalog::indicator(p.indicator) {
                s.problems_by_dimension.add(i.dimension, 1);
            }
            *open.entry(&p.house_code).or_insert(false) |= *st != ProblemStatus::Solved;
        }
        s.households_solved = open.values().filter(|o| !**o).count() as i64;
        s
    }

    /// Adds funds-sheet rows from the fund named `fund`: a grant (500–3,000 baht) or an
    /// interest-free loan (6,000–24,000 baht over 12 months, paid monthly or quarterly) to
    /// about one household in eight, dated from `from` to `as_of`, never more than `capital`
    /// baht paid out in all; and on about half the loans every instalment due by `as_of`,
    /// repaid on its day. The same seed gives the same rows. The fund must hold `capital`
    /// on `from` for the rows to import.
    pub fn add_fund_rows(
        &mut self,
        fund: &str,
        capital: u32,
        from: NaiveDate,
        as_of: NaiveDate,
        seed: u64,
    ) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let days = (as_of - from).num_days().max(0) as u64;
        let mut left = u64::from(capital);
        let houses: Vec<String> = self
            .households
            .iter()
            .map(|h| h.house_code.clone())
            .collect();
        for house in houses {
            if rng.u8(..8) != 0 {
                continue;
            }
            let date = from + Days::new(rng.u64(..=days));
            let row = |kind, date, amount| GFundRow {
                house_code: house.clone(),
                fund: fund.to_string(),
                kind,
                date,
                amount,
                term_months: None,
                every_months: None,
                loan_date: None,
            };
            if rng.bool() {
                let amount = rng.u32(5..=30) * 100;
                if u64::from(amount) > left {
                    break;
                }
                left -= u64::from(amount);
                self.fund_rows
                    .push(row(FundMovementKind::Grant, date, amount));
                continue;
            }
            let every = if rng.bool() { 1 } else { 3 };
            // whole baht in equal parts
            let amount = rng.u32(5..=20) * 1_200;
            if u64::from(amount) > left {
                break;
            }
            left -= u64::from(amount);
            self.fund_rows.push(GFundRow {
                term_months: Some(12),
                every_months: Some(every),
                ..row(FundMovementKind::Loan, date, amount)
            });
            if rng.bool() {
                let due = entity::funds::schedule(date, i64::from(amount) * 100, 12, every)
                    .unwrap_or_default();
                for part in due.iter().filter(|i| i.due_on <= as_of) {
                    self.fund_rows.push(GFundRow {
                        loan_date: Some(date),
                        ..row(
                            FundMovementKind::Repayment,
                            part.due_on,
                            (part.amount / 100) as u32,
                        )
                    });
                }
            }
        }
    }

    /// Replaces the rendered text of one cell (for injecting mistakes).
    pub fn set_raw(
        &mut self,
        sheet: SheetKind,
        index: usize,
        column: &'static str,
        text: impl Into<String>,
    ) {
        self.overrides.insert((sheet, index, column), text.into());
    }
}

/// How to render a dataset.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Title rows, merged group headers, Thai digits, numeric IDs, BE date cells, spelling
    /// variants, fused titles, decomposed สระอำ, zero-width spaces, extra sheet and column.
    pub messy: bool,
    /// English headers and sheet names instead of Thai.
    pub english: bool,
    /// Seed for the untidiness.
    pub seed: u64,
    /// Headers as a person typed them, by sheet and column key, instead of the importer's
    /// canonical ones (tests write these out by hand, so that the importer's alias table is
    /// not checked against itself).
    pub headers: Vec<(SheetKind, &'static str, &'static str)>,
}

/// A rendered workbook and where each data row landed.
#[derive(Debug, Clone)]
pub struct Written {
    /// The `.xlsx` bytes.
    pub bytes: Vec<u8>,
    /// (sheet, data row index) → row number as Excel shows it.
    pub rows: HashMap<(SheetKind, usize), u32>,
}

impl Written {
    /// The Excel row of a data row.
    pub fn row(&self, sheet: SheetKind, index: usize) -> u32 {
        self.rows.get(&(sheet, index)).copied().unwrap_or(0)
    }
}

/// A cell to render.
enum V {
    S(String),
    N(f64),
    D(NaiveDate, bool),
    E,
}

fn thai_digits(s: &str) -> String {
    s.chars()
        .map(|c| {
            c.to_digit(10)
                .map_or(c, |d| char::from_u32(0x0E50 + d).unwrap_or(c))
        })
        .collect()
}

fn decompose_am(s: &str) -> String {
    s.replace('\u{0E33}', "\u{0E4D}\u{0E32}")
}

struct Messer {
    rng: fastrand::Rng,
    on: bool,
}

impl Messer {
    fn roll(&mut self, one_in: u8) -> bool {
        self.on && self.rng.u8(..one_in) == 0
    }

    fn id(&mut self, id: &str) -> V {
        if !self.on {
            return V::S(id.to_string());
        }
        match self.rng.u8(..6) {
            0 => V::N(id.parse::<f64>().unwrap_or(0.0)),
            1 if id.len() == 13 => V::S(format!(
                "{}-{}-{}-{}-{}",
                &id[..1],
                &id[1..5],
                &id[5..10],
                &id[10..12],
                &id[12..]
            )),
            2 => V::S(thai_digits(id)),
            3 => V::S(format!(" {id}\u{200B}")),
            _ => V::S(id.to_string()),
        }
    }

    fn date(&mut self, d: NaiveDate) -> V {
        let be = d.year() + 543;
        if !self.on {
            return V::S(format!("{}/{:02}/{}", d.day(), d.month(), be));
        }
        let abbr = entity::types::MONTHS_ABBR_DOTTED[d.month0() as usize];
        match self.rng.u8(..7) {
            0 => V::D(d, true),
            1 => V::D(d, false),
            2 => V::S(format!("{} {} {}", d.day(), abbr, be)),
            3 => V::S(format!(
                "{} {} {:02}",
                d.day(),
                abbr.trim_end_matches('.'),
                be % 100
            )),
            4 => V::S(thai_digits(&format!("{} {} {}", d.day(), abbr, be))),
            5 => V::S(d.format("%Y-%m-%d").to_string()),
            _ => V::S(format!("{}-{}-{}", d.day(), d.month(), be)),
        }
    }

    fn text(&mut self, s: &str) -> V {
        if self.roll(8) {
            return V::S(decompose_am(s));
        }
        if self.roll(15) {
            return V::S(format!("{s}  "));
        }
        V::S(s.to_string())
    }
}

fn header_row(kind: SheetKind, style: &Style, extra: bool) -> Vec<String> {
    let english = style.english;
    let mut v: Vec<String> = columns(kind)
        .iter()
        .map(|c| {
            let typed = style
                .headers
                .iter()
                .find(|(k, key, _)| *k == kind && *key == c.key)
                .map(|h| h.2);
            typed
                .unwrap_or(if english { c.aliases[1] } else { c.aliases[0] })
                .to_string()
        })
        .collect();
    v.insert(0, if english { "No." } else { "ลำดับ" }.to_string());
    if extra {
        v.push(
            if english {
                "extra_note"
            } else {
                "หมายเหตุเพิ่มเติม"
            }
            .to_string(),
        );
    }
    v
}

fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    v: &V,
    date_fmt: &Format,
) -> Result<(), ImportError> {
    match v {
        V::S(s) => {
            ws.write_string(row, col, s)?;
        }
        V::N(n) => {
            ws.write_number(row, col, *n)?;
        }
        V::D(d, be) => {
            let y = if *be { d.year() + 543 } else { d.year() };
            let dt = ExcelDateTime::from_ymd(y as u16, d.month() as u8, d.day() as u8)?;
            ws.write_datetime_with_format(row, col, &dt, date_fmt)?;
        }
        V::E => {}
    }
    Ok(())
}

/// Renders a dataset as a district workbook.
pub fn write_workbook(ds: &Dataset, style: &Style) -> Result<Written, ImportError> {
    let mut wb = Workbook::new();
    let date_fmt = Format::new().set_num_format("d/m/yyyy");
    let mut m = Messer {
        rng: fastrand::Rng::with_seed(style.seed ^ 0x5eed),
        on: style.messy,
    };
    let mut rows_at = HashMap::new();
    // where each household is: a follow-up visit's GPS point is taken at the house
    let houses_at: HashMap<&str, (f64, f64)> = ds
        .households
        .iter()
        .map(|h| (h.house_code.as_str(), (h.latitude, h.longitude)))
        .collect();
    let statuses_th = |s: ProblemStatus, m: &mut Messer| -> String {
        match s {
            ProblemStatus::Solved if m.roll(2) => "สามารถแก้ไขปัญหาได้แล้ว".into(),
            ProblemStatus::NotSolvableYet if m.roll(2) => "ยังไม่สามารถแก้ไขได้".into(),
            s => s.name_th().into(),
        }
    };
    let province_of = |m: &mut Messer| {
        if m.roll(3) {
            format!("จ.{}", ds.province)
        } else {
            ds.province.clone()
        }
    };
    for kind in SheetKind::ALL {
        if kind == SheetKind::Funds && ds.fund_rows.is_empty() {
            continue;
        }
        let ws = wb.add_worksheet();
        ws.set_name(if style.english {
            kind.key()
        } else {
            kind.name_th()
        })?;
        let mut r: u32 = 0;
        if style.messy {
            ws.write_string(
                r,
                0,
                format!(
                    "แบบ ศจพ. {} อำเภอ{} จังหวัด{}",
                    kind.name_th(),
                    ds.district,
                    ds.province
                ),
            )?;
            r += 1;
            if kind == SheetKind::Households {
                ws.write_string(r, 0, "ข้อมูล ณ วันที่ 15 ก.ย. 2565")?;
                r += 1;
                ws.merge_range(r, 2, r, 8, "ที่อยู่", &Format::new())?;
                ws.merge_range(r, 9, r, 11, "หัวหน้าครัวเรือน", &Format::new())?;
                r += 1;
            }
        }
        let extra = style.messy && kind == SheetKind::Households;
        for (c, h) in header_row(kind, style, extra).iter().enumerate() {
            ws.write_string(r, c as u16, h)?;
        }
        r += 1;
        let keys: Vec<&'static str> = columns(kind).iter().map(|c| c.key).collect();
        let n = match kind {
            SheetKind::Households => ds.households.len(),
            SheetKind::Members => ds.members.len(),
            SheetKind::Problems => ds.problems.len(),
            SheetKind::Analysis => ds.analyses.len(),
            SheetKind::Assistance => ds.entries.len(),
            SheetKind::Funds => ds.fund_rows.len(),
        };
        for i in 0..n {
            if style.messy && m.rng.u16(..200) == 0 {
                r += 1; // an empty row
            }
            let mut vals: Vec<V> = keys.iter().map(|_| V::E).collect();
            let mut set = |k: &str, v: V| {
                if let Some(p) = keys.iter().position(|x| *x == k) {
                    vals[p] = v;
                }
            };
            match kind {
                SheetKind::Households => {
                    let h = &ds.households[i];
                    set(
                        "house_code",
                        if m.roll(4) {
                            V::S(thai_digits(&h.house_code))
                        } else {
                            V::S(h.house_code.clone())
                        },
                    );
                    set("house_no", V::S(h.house_no.clone()));
                    let vno = h.village_no;
                    set(
                        "village_no",
                        if !style.messy {
                            V::N(f64::from(vno))
                        } else {
                            match m.rng.u8(..6) {
                                0 => V::S(format!("ม.{vno}")),
                                1 => V::S(format!("หมู่ที่ {vno}")),
                                2 => V::S(format!("{vno:02}")),
                                3 => V::S(format!("{:02}{vno:02}", 1 + m.rng.u8(..9))),
                                4 => V::N(f64::from(vno)),
                                _ => V::S(vno.to_string()),
                            }
                        },
                    );
                    set("village_name", V::S(h.village_name.clone()));
                    set(
                        "subdistrict",
                        if m.roll(4) {
                            V::S(format!("ต.{}", h.subdistrict))
                        } else {
                            V::S(h.subdistrict.clone())
                        },
                    );
                    set(
                        "district",
                        if m.roll(4) {
                            V::S(format!("อ.{}", ds.district))
                        } else {
                            V::S(ds.district.clone())
                        },
                    );
                    set("province", V::S(province_of(&mut m)));
                    if m.roll(4) {
                        set(
                            "head_name",
                            V::S(format!("{}{}", h.head_title, h.head_name)),
                        );
                    } else {
                        set("head_title", V::S(h.head_title.clone()));
                        let name = m.text(&h.head_name);
                        set("head_name", name);
                    }
                    let id = m.id(&h.head_citizen_id);
                    set("head_citizen_id", id);
                    set("members", V::N(f64::from(h.members)));
                    set(
                        "classification",
                        V::S(if style.english {
                            english_class(&h.classification)
                        } else {
                            h.classification.clone()
                        }),
                    );
                    set("cohort", V::S(h.cohort.label()));
                    set("latitude", V::N((h.latitude * 1e6).round() / 1e6));
                    set("longitude", V::N((h.longitude * 1e6).round() / 1e6));
                }
                SheetKind::Members => {
                    let p = &ds.members[i];
                    set("house_code", V::S(p.house_code.clone()));
                    let id = m.id(&p.citizen_id);
                    set("citizen_id", id);
                    set("title", V::S(p.title.clone()));
                    let first = m.text(&p.first_name);
                    set("first_name", first);
                    let last = m.text(&p.last_name);
                    set("last_name", last);
                    set(
                        "sex",
                        if m.roll(3) {
                            V::E
                        } else {
                            V::S(if style.english {
                                sex_en(&p.sex)
                            } else {
                                p.sex.clone()
                            })
                        },
                    );
                    if let Some(b) = p.birth_date {
                        let d = m.date(b);
                        set("birth_date", d);
                    }
                    if let Some(a) = p.age {
                        set("age", V::N(f64::from(a)));
                    }
                    set("relation", V::S(p.relation.clone()));
                    set(
                        "disabled",
                        match (p.disabled, m.on && m.rng.bool()) {
                            (true, true) => V::S("✓".into()),
                            (true, false) => V::S("มี".into()),
                            (false, true) => V::E,
                            (false, false) => V::S("ไม่มี".into()),
                        },
                    );
                }
                SheetKind::Problems => {
                    let p = &ds.problems[i];
                    set("house_code", V::S(p.house_code.clone()));
                    set(
                        "indicator",
                        if !style.messy {
                            V::N(f64::from(p.indicator))
                        } else {
                            match m.rng.u8(..4) {
                                0 => V::S(format!("ตัวชี้วัดที่ {}", p.indicator)),
                                1 => V::S(format!("ข้อ {}", p.indicator)),
                                2 => V::N(f64::from(p.indicator)),
                                _ => V::S(p.indicator.to_string()),
                            }
                        },
                    );
                    if let Some(c) = &p.citizen_id {
                        let id = m.id(c);
                        set("citizen_id", id);
                    }
                    if m.roll(3) {
                        let d = entity::catalog::indicator(p.indicator)
                            .map_or(Dimension::Health, |d| d.dimension);
                        set(
                            "dimension",
                            V::S(d.name_th().trim_start_matches("ด้าน").to_string()),
                        );
                    }
                    set("cohort", V::S(p.cohort.label()));
                    if !p.detail.is_empty() {
                        set("detail", V::S(p.detail.clone()));
                    }
                }
                SheetKind::Analysis => {
                    let a = &ds.analyses[i];
                    set("house_code", V::S(a.house_code.clone()));
                    set("attitude", V::S(a.attitude.clone()));
                    set("skills", V::S(a.skills.clone()));
                    set("resources", V::S(a.resources.clone()));
                    set("way_out", V::S(a.way_out.clone()));
                    let d = m.date(a.analysed_on);
                    set("analysed_on", d);
                    set("mentor", V::S(a.mentor.clone()));
                }
                SheetKind::Assistance => {
                    let e = &ds.entries[i];
                    let p = &ds.problems[e.problem];
                    set("house_code", V::S(p.house_code.clone()));
                    set("indicator", V::N(f64::from(p.indicator)));
                    if let Some(c) = &p.citizen_id {
                        let id = m.id(c);
                        set("citizen_id", id);
                    }
                    let d = m.date(e.date);
                    set("date", d);
                    let agency = if e.agency_known && m.roll(3) {
                        format!("{}{}", e.agency, ds.province)
                    } else {
                        e.agency.clone()
                    };
                    set("agency", V::S(agency));
                    set("activity", V::S(e.activity.clone()));
                    if let Some(menu) = &e.menu {
                        set("menu", V::S(menu.clone()));
                    }
                    set(
                        "amount",
                        match (e.amount, style.messy) {
                            (None, true) if m.rng.bool() => V::S("-".into()),
                            (None, _) => V::E,
                            (Some(a), false) => V::N(f64::from(a)),
                            (Some(a), true) => match m.rng.u8(..4) {
                                0 => V::S(format!("{} บาท", group(a))),
                                1 => V::S(format!("{}.00", group(a))),
                                2 => V::S(group(a)),
                                _ => V::N(f64::from(a)),
                            },
                        },
                    );
                    if let Some(f) = &e.fund {
                        set("fund", V::S(f.clone()));
                    }
                    set(
                        "status",
                        V::S(if style.english {
                            e.status.key().to_string()
                        } else {
                            statuses_th(e.status, &mut m)
                        }),
                    );
                    // the Buddhist-era day, spelled one way (no randomness: the rest of
                    // the workbook stays as it was before this column)
                    if let Some(d) = e.next_visit_on() {
                        set(
                            "next_visit_on",
                            V::S(format!("{}/{:02}/{}", d.day(), d.month(), d.year() + 543)),
                        );
                        // a follow-up visit was made at the house (six decimals, as a
                        // phone gives them)
                        if let Some((lat, lon)) = houses_at.get(p.house_code.as_str()) {
                            set("latitude", V::N((lat * 1e6).round() / 1e6));
                            set("longitude", V::N((lon * 1e6).round() / 1e6));
                        }
                    }
                }
                SheetKind::Funds => {
                    let f = &ds.fund_rows[i];
                    set("house_code", V::S(f.house_code.clone()));
                    set("fund", V::S(f.fund.clone()));
                    set(
                        "kind",
                        V::S(
                            if style.english {
                                f.kind.key()
                            } else {
                                f.kind.name_th()
                            }
                            .to_string(),
                        ),
                    );
                    let d = m.date(f.date);
                    set("date", d);
                    set(
                        "amount",
                        if style.messy && m.rng.bool() {
                            V::S(format!("{} บาท", group(f.amount)))
                        } else {
                            V::N(f64::from(f.amount))
                        },
                    );
                    if let Some(t) = f.term_months {
                        set("term_months", V::N(f64::from(t)));
                    }
                    if let Some(e) = f.every_months {
                        set("every_months", V::N(f64::from(e)));
                    }
                    if let Some(l) = f.loan_date {
                        let d = m.date(l);
                        set("loan_date", d);
                    }
                }
            }
            ws.write_number(r, 0, (i + 1) as f64)?;
            for (c, v) in vals.iter().enumerate() {
                let v = match ds.overrides.get(&(kind, i, keys[c])) {
                    Some(text) => V::S(text.clone()),
                    None => match v {
                        V::S(s) => V::S(s.clone()),
                        V::N(n) => V::N(*n),
                        V::D(d, be) => V::D(*d, *be),
                        V::E => V::E,
                    },
                };
                write_cell(ws, r, (c + 1) as u16, &v, &date_fmt)?;
            }
            if extra && m.roll(3) {
                ws.write_string(r, (keys.len() + 1) as u16, "ย้ายมาใหม่")?;
            }
            rows_at.insert((kind, i), r + 1);
            r += 1;
        }
    }
    if style.messy {
        let ws = wb.add_worksheet();
        ws.set_name("สรุป")?;
        ws.write_string(0, 0, "สรุปผล (แผ่นงานนี้ไม่ใช่ข้อมูลนำเข้า)")?;
    }
    Ok(Written {
        bytes: wb.save_to_buffer()?,
        rows: rows_at,
    })
}

fn group(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn english_class(th: &str) -> String {
    match th {
        "พัฒนาได้" => "developable",
        "สงเคราะห์" => "welfare",
        _ => "self_reliant",
    }
    .to_string()
}

fn sex_en(th: &str) -> String {
    if th == "ชาย" { "male" } else { "female" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(n: usize) -> GenOptions {
        GenOptions {
            households: n,
            seed: 7,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            areas: DistrictAreas::builtin(),
        }
    }

    #[test]
    fn fund_rows_stay_within_the_capital_and_repay_their_loans() {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        let from = NaiveDate::from_ymd_opt(2025, 11, 1).unwrap_or_default();
        for seed in 1..20u64 {
            let mut ds = synthesize(&opts(80));
            ds.add_fund_rows("กองทุน", 150_000, from, as_of, seed);
            let out: u32 = ds
                .fund_rows
                .iter()
                .filter(|r| r.kind.pays_out())
                .map(|r| r.amount)
                .sum();
            assert!(out <= 150_000);
            for r in ds
                .fund_rows
                .iter()
                .filter(|r| r.kind == FundMovementKind::Repayment)
            {
                let lent = r.loan_date.expect("a loan's day");
                assert!(lent <= r.date && r.date <= as_of);
                assert!(ds.fund_rows.iter().any(|l| l.kind == FundMovementKind::Loan
                    && l.date == lent
                    && l.house_code == r.house_code));
            }
            assert!(
                ds.fund_rows
                    .iter()
                    .all(|r| from <= r.date && r.date <= as_of && r.amount > 0)
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_dataset() {
        let a = synthesize(&opts(30));
        let b = synthesize(&opts(30));
        assert_eq!(a.households, b.households);
        assert_eq!(a.entries, b.entries);
    }

    #[test]
    fn ids_are_valid_and_person_problems_name_members_of_their_household() {
        let ds = synthesize(&opts(200));
        assert_eq!(ds.households.len(), 200);
        for m in &ds.members {
            assert!(CitizenId::parse_str(&m.citizen_id).is_ok_and(|c| c.checksum_valid()));
        }
        let members: HashMap<&str, &str> = ds
            .members
            .iter()
            .map(|m| (m.citizen_id.as_str(), m.house_code.as_str()))
            .collect();
        for p in &ds.problems {
            let def = entity::catalog::indicator(p.indicator).unwrap_or(&INDICATORS[0]);
            match (&p.citizen_id, def.unit) {
                (Some(c), Unit::Person) => {
                    assert_eq!(members.get(c.as_str()), Some(&p.house_code.as_str()))
                }
                (None, Unit::Household) => {}
                other => panic!("inconsistent problem {other:?}"),
            }
        }
        let per_household = ds.problems.len() as f64 / 200.0;
        assert!((1.0..1.6).contains(&per_household), "{per_household}");
    }

    #[test]
    fn group_formats_thousands() {
        assert_eq!(group(1500), "1,500");
        assert_eq!(group(25000), "25,000");
        assert_eq!(group(500), "500");
    }
}
