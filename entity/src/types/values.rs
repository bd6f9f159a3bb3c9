//! The fixed value lists and small values of a workbook: dimensions, statuses,
//! classifications, sex, titles, cohorts, indicators, baht amounts, yes/no and numbers.

use super::{Raw, UnknownKey, ValueError, text};
use crate::catalog::{INDICATORS, indicator};
use serde::Serialize;
use std::fmt;

/// The text of a number cell as typed: normalised, Thai digits made ASCII, trimmed, a
/// trailing `บาท` dropped; `None` for empty, `-` and `ไม่มี`.
fn number_text(s: &str) -> Option<String> {
    let norm = text::normalize_text(s);
    let ascii = text::ascii_digits(&norm);
    let t = ascii.trim();
    let t = t.strip_suffix("บาท").unwrap_or(t).trim();
    (!(t.is_empty() || t == "-" || t == "ไม่มี")).then(|| t.to_string())
}

/// Reads a plain number cell or text with `,` separators, spaces and a trailing `บาท`.
/// `-`, `ไม่มี` and empty mean none.
pub fn parse_number(raw: &Raw<'_>) -> Result<Option<f64>, ValueError> {
    match raw {
        Raw::Empty => Ok(None),
        Raw::Number(f) if f.is_finite() => Ok(Some(*f)),
        Raw::Error(e) => Err(ValueError::ExcelError((*e).to_string())),
        Raw::Text(s) => {
            let Some(t) = number_text(s) else {
                return Ok(None);
            };
            let cleaned: String = t.chars().filter(|c| *c != ',' && *c != ' ').collect();
            cleaned
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or(ValueError::NumberInvalid)
        }
        _ => Err(ValueError::NumberInvalid),
    }
}

/// A whole number within `min..=max`, or none when the cell is empty (see [`parse_number`]).
pub fn parse_whole(raw: &Raw<'_>, min: i64, max: i64) -> Result<Option<i64>, ValueError> {
    match parse_number(raw)? {
        None => Ok(None),
        Some(f) if f.fract() == 0.0 && f >= min as f64 && f <= max as f64 => Ok(Some(f as i64)),
        Some(_) => Err(ValueError::OutOfRange { min, max }),
    }
}

/// A latitude inside Thailand (5–21°), or none.
pub fn parse_latitude(raw: &Raw<'_>) -> Result<Option<f64>, ValueError> {
    coordinate(raw, "latitude", 5.0, 21.0)
}

/// A longitude inside Thailand (97–106°), or none.
pub fn parse_longitude(raw: &Raw<'_>) -> Result<Option<f64>, ValueError> {
    coordinate(raw, "longitude", 97.0, 106.0)
}

fn coordinate(
    raw: &Raw<'_>,
    what: &'static str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, ValueError> {
    match parse_number(raw)? {
        None => Ok(None),
        Some(f) if (min..=max).contains(&f) => Ok(Some(f)),
        Some(_) => Err(ValueError::Coordinate { what, min, max }),
    }
}

/// Satang from `1,500.50` / `1500` / `0.5`: see [`Baht::parse`]. `None` when the text is not
/// of that grammar or the amount is 10¹³ baht or more.
fn parse_amount_text(t: &str) -> Option<i64> {
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let int_ok = match groups.as_slice() {
        [one] => digits(one),
        [first, rest @ ..] => {
            digits(first) && first.len() <= 3 && rest.iter().all(|g| g.len() == 3 && digits(g))
        }
        [] => false,
    };
    if !int_ok {
        return None;
    }
    let whole: String = groups.concat();
    if whole.len() > 13 {
        return None;
    }
    let cents = match frac {
        None => 0,
        Some(f) if (1..=2).contains(&f.len()) && digits(f) => {
            let v: i64 = f.parse().ok()?;
            if f.len() == 1 { v * 10 } else { v }
        }
        Some(_) => return None,
    };
    let baht: i64 = whole.parse().ok()?;
    (baht < 10_000_000_000_000).then_some(baht * 100 + cents)
}

/// An amount of money in satang (1/100 baht), so sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Baht(i64);

impl Baht {
    /// The one amount grammar (docs/workbook-format.md): digits, optionally in `,` groups of
    /// exactly three (`1,500`), optionally `.` and one or two decimals, optionally `บาท`
    /// after; `-`, `ไม่มี` or empty is none. A numeric cell must hold whole satang. Everything
    /// else — `1.500,00`, `12,34`, `1e3`, `0.001`, negative amounts — is refused rather than
    /// guessed.
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        match raw {
            Raw::Empty => Ok(None),
            Raw::Number(f) => {
                let satang = f * 100.0;
                if !f.is_finite()
                    || *f < 0.0
                    || *f >= 1e13
                    || (satang - satang.round()).abs() > 1e-6
                {
                    return Err(ValueError::AmountInvalid);
                }
                Ok(Some(Self(satang.round() as i64)))
            }
            Raw::Error(e) => Err(ValueError::ExcelError((*e).to_string())),
            Raw::Text(s) => {
                let Some(t) = number_text(s) else {
                    return Ok(None);
                };
                parse_amount_text(&t)
                    .map(|s| Some(Self(s)))
                    .ok_or(ValueError::AmountInvalid)
            }
            _ => Err(ValueError::AmountInvalid),
        }
    }

    /// From satang (stored value).
    pub fn from_satang(satang: i64) -> Self {
        Self(satang)
    }

    /// Satang.
    pub fn satang(self) -> i64 {
        self.0
    }

    /// Baht as a float, for display.
    pub fn baht(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Baht {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

macro_rules! key_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $var:ident = $key:literal),+ $(,)? }) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize,
            sea_orm::DeriveValueType,
        )]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        #[serde(rename_all = "snake_case")]
        #[sea_orm(value_type = "String")]
        $(#[$doc])*
        pub enum $name { $($(#[$vdoc])* $var),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The stable key stored in the database.
            pub fn key(self) -> &'static str {
                match self { $($name::$var => $key),+ }
            }

            /// Position in [`Self::ALL`] (a column in tables of counts).
            pub fn index(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
            }

            /// Parses a stored key.
            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some($name::$var),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.key())
            }
        }

        /// Parses a stored key (how a column of this type is read back).
        impl std::str::FromStr for $name {
            type Err = UnknownKey;

            fn from_str(key: &str) -> Result<Self, UnknownKey> {
                Self::from_key(key).ok_or_else(|| UnknownKey {
                    what: stringify!($name),
                    key: key.to_string(),
                })
            }
        }
    };
}

key_enum!(
    /// A poverty dimension (มิติ).
    Dimension {
        /// ด้านสุขภาพ
        Health = "health",
        /// ด้านความเป็นอยู่
        Living = "living",
        /// ด้านการศึกษา
        Education = "education",
        /// ด้านรายได้
        Income = "income",
        /// ด้านการเข้าถึงบริการรัฐ
        Access = "access",
    }
);

impl Dimension {
    /// Thai name with ด้าน.
    pub fn name_th(self) -> &'static str {
        match self {
            Dimension::Health => "ด้านสุขภาพ",
            Dimension::Living => "ด้านความเป็นอยู่",
            Dimension::Education => "ด้านการศึกษา",
            Dimension::Income => "ด้านรายได้",
            Dimension::Access => "ด้านการเข้าถึงบริการรัฐ",
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            Dimension::Health => "Health",
            Dimension::Living => "Living conditions",
            Dimension::Education => "Education",
            Dimension::Income => "Income",
            Dimension::Access => "Access to public services",
        }
    }

    /// Parses the key, or the Thai name with or without ด้าน (and ภาครัฐ for access).
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        let Some(s) = raw_text(raw)? else {
            return Ok(None);
        };
        let k = text::match_key(&s);
        let k = k.strip_prefix("ด้าน").unwrap_or(&k).trim();
        let found = match k {
            "health" | "สุขภาพ" => Dimension::Health,
            "living" | "ความเป็นอยู่" => Dimension::Living,
            "education" | "การศึกษา" => Dimension::Education,
            "income" | "รายได้" => Dimension::Income,
            "access" | "การเข้าถึงบริการรัฐ" | "การเข้าถึงบริการภาครัฐ" => {
                Dimension::Access
            }
            _ => {
                return Err(ValueError::NotInList {
                    what: "dimension",
                    allowed: "สุขภาพ, ความเป็นอยู่, การศึกษา, รายได้, การเข้าถึงบริการรัฐ",
                });
            }
        };
        Ok(Some(found))
    }
}

key_enum!(
    /// An import batch's state: a job's place in the queue, then the import's outcome.
    #[cfg_attr(feature = "graphql", graphql(name = "ImportStatus"))]
    BatchStatus {
        /// Uploaded, waiting for the worker.
        Queued = "queued",
        /// Being imported.
        Running = "running",
        /// Written.
        Imported = "imported",
        /// Refused: nothing written but the batch and its errors.
        Rejected = "rejected",
        /// The import stopped on an internal error (see `failure`); nothing written.
        Failed = "failed",
        /// Checked only, and it would have been imported.
        DryRun = "dry_run",
    }
);

impl BatchStatus {
    /// Still to finish: queued or running.
    pub fn is_open(self) -> bool {
        matches!(self, BatchStatus::Queued | BatchStatus::Running)
    }
}

key_enum!(
    /// Why a household left the open work.
    ClosureReason {
        /// Its members died.
        Died = "died",
        /// It moved away.
        MovedAway = "moved_away",
        /// No member is left.
        NoMemberLeft = "no_member_left",
        /// It was merged into another household (see `mergedInto`).
        MergedInto = "merged_into",
        /// Another reason (see the note).
        Other = "other",
    }
);

impl ClosureReason {
    /// Thai label.
    pub fn name_th(self) -> &'static str {
        match self {
            ClosureReason::Died => "เสียชีวิต",
            ClosureReason::MovedAway => "ย้ายออก",
            ClosureReason::NoMemberLeft => "ไม่มีสมาชิกเหลือ",
            ClosureReason::MergedInto => "รวมกับครัวเรือนอื่น",
            ClosureReason::Other => "อื่น ๆ",
        }
    }

    /// Parses the Thai label (or a common spelling of it) or the English key; empty is none.
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        let Some(s) = raw_text(raw)? else {
            return Ok(None);
        };
        let key = text::match_key(&s).replace(' ', "");
        match key.as_str() {
            "died" | "เสียชีวิต" | "ตาย" => Ok(Some(ClosureReason::Died)),
            "moved_away" | "ย้ายออก" | "ย้ายที่อยู่" | "ย้ายถิ่น" => {
                Ok(Some(ClosureReason::MovedAway))
            }
            "no_member_left" | "ไม่มีสมาชิกเหลือ" | "ไม่มีสมาชิก" => {
                Ok(Some(ClosureReason::NoMemberLeft))
            }
            "merged_into" | "รวมกับครัวเรือนอื่น" | "รวมครัวเรือน" => {
                Ok(Some(ClosureReason::MergedInto))
            }
            "other" | "อื่นๆ" | "อื่น" => Ok(Some(ClosureReason::Other)),
            _ => Err(ValueError::NotInList {
                what: "closed_reason",
                allowed: "เสียชีวิต, ย้ายออก, ไม่มีสมาชิกเหลือ, รวมกับครัวเรือนอื่น, อื่น ๆ",
            }),
        }
    }
}

key_enum!(
    /// Where a logbook entry stands in the district's check.
    Verification {
        /// Recorded (or changed since it was checked): waits for the district.
        Recorded = "recorded",
        /// Checked and accepted by the district.
        Verified = "verified",
        /// Sent back by the district with a note, to be corrected.
        Returned = "returned",
    }
);

key_enum!(
    /// Whether an evidence photo is whole: its row is written `pending` before its objects
    /// and `stored` after them; only stored photos are listed or served.
    EvidenceState {
        /// Its objects may not all be written yet (a crash leaves it here; it is swept).
        Pending = "pending",
        /// Its objects are written.
        Stored = "stored",
    }
);

key_enum!(
    /// Who a poverty fund belongs to: the province or one of its districts.
    FundLevel {
        /// The provincial fund (กองทุนระดับจังหวัด).
        Province = "province",
        /// A district's fund (กองทุนระดับอำเภอ).
        District = "district",
    }
);

impl FundLevel {
    /// Thai name.
    pub fn name_th(self) -> &'static str {
        match self {
            FundLevel::Province => "จังหวัด",
            FundLevel::District => "อำเภอ",
        }
    }
}

key_enum!(
    /// A movement of money in a poverty fund.
    FundMovementKind {
        /// Capital paid into the fund (with its source).
        Capital = "capital",
        /// A grant to a household (not repaid).
        Grant = "grant",
        /// An interest-free loan to a household, repaid on a schedule.
        Loan = "loan",
        /// A repayment of a loan.
        Repayment = "repayment",
        /// A part of a loan the fund's committee will not collect.
        WriteOff = "write_off",
    }
);

impl FundMovementKind {
    /// Thai name (as the fund sheet and the reports write it).
    pub fn name_th(self) -> &'static str {
        match self {
            FundMovementKind::Capital => "เงินทุน",
            FundMovementKind::Grant => "ให้เปล่า",
            FundMovementKind::Loan => "ให้ยืม",
            FundMovementKind::Repayment => "ชำระคืน",
            FundMovementKind::WriteOff => "ตัดหนี้สูญ",
        }
    }

    /// Parses the kind of a row of the workbook's funds sheet: a grant, loan, repayment or
    /// write-off (Thai names, common spellings, or the English keys). Capital is not
    /// recorded in a district's workbook and is refused like any other text.
    pub fn parse_sheet(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let s = raw_text(raw)?.ok_or(ValueError::Required)?;
        let key = text::match_key(&s).replace(' ', "");
        match key.as_str() {
            "grant" | "ให้เปล่า" | "เงินให้เปล่า" | "ทุนให้เปล่า" | "ช่วยเหลือให้เปล่า" => {
                Ok(FundMovementKind::Grant)
            }
            "loan" | "ให้ยืม" | "เงินยืม" | "ให้กู้" | "กู้ยืม" | "ยืม" => {
                Ok(FundMovementKind::Loan)
            }
            "repayment" | "ชำระคืน" | "คืนเงิน" | "ชำระหนี้" | "ส่งคืน" => {
                Ok(FundMovementKind::Repayment)
            }
            "write_off" | "writeoff" | "ตัดหนี้สูญ" | "หนี้สูญ" | "ตัดหนี้" => {
                Ok(FundMovementKind::WriteOff)
            }
            _ => Err(ValueError::NotInList {
                what: "kind",
                allowed: "ให้เปล่า, ให้ยืม, ชำระคืน, ตัดหนี้สูญ",
            }),
        }
    }

    /// Whether it pays money out of the fund to a household the caller names (a grant or
    /// a loan): what the fund's balance must cover.
    pub fn pays_out(self) -> bool {
        matches!(self, FundMovementKind::Grant | FundMovementKind::Loan)
    }

    /// Whether it belongs to a loan (repayments and write-offs).
    pub fn of_loan(self) -> bool {
        matches!(
            self,
            FundMovementKind::Repayment | FundMovementKind::WriteOff
        )
    }
}

key_enum!(
    /// What a webhook subscribes to: a kind of event.
    WebhookTopic {
        /// A problem was recorded for the first time (by an import).
        ProblemCreated = "problem.created",
        /// A problem's status changed (help was recorded, by an import or the API).
        ProblemStatusChanged = "problem.status_changed",
        /// Help was recorded on a problem (a logbook entry, by an import or the API).
        LogbookEntryCreated = "logbook_entry.created",
        /// An import batch ended: imported, rejected, a dry run, or failed.
        ImportBatchFinished = "import_batch.finished",
    }
);

key_enum!(
    /// Where one event's delivery to one webhook stands.
    #[cfg_attr(feature = "graphql", graphql(name = "WebhookDeliveryStatus"))]
    DeliveryStatus {
        /// Not delivered yet: waiting for its first or next attempt.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Every attempt failed, for 24 hours: given up.
        Failed = "failed",
        /// Not sent: at the time of delivery the webhook's key may not see the record (or
        /// the key no longer works).
        Withheld = "withheld",
    }
);

key_enum!(
    /// Where a running import job is.
    JobStage {
        /// Opening and reading the sheets.
        Reading = "reading",
        /// Checking rows against each other and what is stored.
        Validating = "validating",
        /// Writing, in one transaction.
        Writing = "writing",
    }
);

impl JobStage {
    /// The whole job's share done when this stage has done `part` (0 to 1) of its rows:
    /// reading counts 0.05, validating 0.4, writing 0.6 to 1.
    pub fn fraction(self, part: f64) -> f64 {
        match self {
            JobStage::Reading => 0.05,
            JobStage::Validating => 0.4,
            JobStage::Writing => 0.6 + 0.4 * part.clamp(0.0, 1.0),
        }
    }
}

key_enum!(
    /// A problem's state, and the result a logbook entry records.
    ProblemStatus {
        /// ยังไม่ได้ดำเนินการ — no help recorded yet
        NotStarted = "not_started",
        /// แก้ไขได้แล้ว
        Solved = "solved",
        /// รอติดตามผล
        AwaitingFollowUp = "awaiting_follow_up",
        /// อยู่ระหว่างติดตามผล
        FollowingUp = "following_up",
        /// ยังไม่สามารถแก้ไขปัญหาได้
        NotSolvableYet = "not_solvable_yet",
    }
);

impl ProblemStatus {
    /// English label.
    pub fn name_en(self) -> &'static str {
        match self {
            ProblemStatus::NotStarted => "Not started",
            ProblemStatus::Solved => "Solved",
            ProblemStatus::AwaitingFollowUp => "Awaiting follow-up",
            ProblemStatus::FollowingUp => "Following up",
            ProblemStatus::NotSolvableYet => "Not solvable yet",
        }
    }

    /// Thai label.
    pub fn name_th(self) -> &'static str {
        match self {
            ProblemStatus::NotStarted => "ยังไม่ได้ดำเนินการ",
            ProblemStatus::Solved => "แก้ไขได้แล้ว",
            ProblemStatus::AwaitingFollowUp => "รอติดตามผล",
            ProblemStatus::FollowingUp => "อยู่ระหว่างติดตามผล",
            ProblemStatus::NotSolvableYet => "ยังไม่สามารถแก้ไขปัญหาได้",
        }
    }

    /// Parses a logbook entry's result (Thai wordings of workbook-format.md, or the English
    /// keys). `not_started` is not a result and is refused.
    pub fn parse_result(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let s = raw_text(raw)?.ok_or(ValueError::Required)?;
        let k = text::match_key(&s);
        match k.as_str() {
            "solved" | "แก้ไขได้แล้ว" | "สามารถแก้ไขปัญหาได้แล้ว" | "สามารถแก้ไขได้แล้ว" => {
                Ok(ProblemStatus::Solved)
            }
            "awaiting_follow_up" | "รอติดตามผล" => {
                Ok(ProblemStatus::AwaitingFollowUp)
            }
            "following_up" | "อยู่ระหว่างติดตามผล" => {
                Ok(ProblemStatus::FollowingUp)
            }
            "not_solvable_yet"
            | "ยังไม่สามารถแก้ไขได้"
            | "ยังไม่สามารถแก้ปัญหาได้"
            | "ยังไม่สามารถแก้ไขปัญหาได้" => {
                Ok(ProblemStatus::NotSolvableYet)
            }
            _ => Err(ValueError::NotInList {
                what: "status",
                allowed: "แก้ไขได้แล้ว, รอติดตามผล, อยู่ระหว่างติดตามผล, ยังไม่สามารถแก้ไขปัญหาได้",
            }),
        }
    }
}

key_enum!(
    /// How the 4ท analysis classes a household.
    Classification {
        /// พัฒนาได้
        Developable = "developable",
        /// สงเคราะห์
        Welfare = "welfare",
        /// พัฒนาตนเองได้
        SelfReliant = "self_reliant",
    }
);

impl Classification {
    /// Thai label.
    pub fn name_th(self) -> &'static str {
        match self {
            Classification::Developable => "พัฒนาได้",
            Classification::Welfare => "สงเคราะห์",
            Classification::SelfReliant => "พัฒนาตนเองได้",
        }
    }

    /// Parses the Thai label or the English key; empty is none.
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        let Some(s) = raw_text(raw)? else {
            return Ok(None);
        };
        match text::match_key(&s).as_str() {
            "developable" | "พัฒนาได้" => Ok(Some(Classification::Developable)),
            "welfare" | "สงเคราะห์" => Ok(Some(Classification::Welfare)),
            "self_reliant" | "พัฒนาตนเองได้" => {
                Ok(Some(Classification::SelfReliant))
            }
            _ => Err(ValueError::NotInList {
                what: "classification",
                allowed: "พัฒนาได้, สงเคราะห์, พัฒนาตนเองได้",
            }),
        }
    }
}

key_enum!(
    /// A person's sex as the workbook or the title says.
    Sex {
        /// ชาย
        Male = "male",
        /// หญิง
        Female = "female",
        /// neither the sex column nor the title says
        Unknown = "unknown",
    }
);

impl Sex {
    /// Parses `ชาย`/`male`, `หญิง`/`female`; empty is none.
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        let Some(s) = raw_text(raw)? else {
            return Ok(None);
        };
        match text::match_key(&s).as_str() {
            "male" | "ชาย" | "m" => Ok(Some(Sex::Male)),
            "female" | "หญิง" | "f" => Ok(Some(Sex::Female)),
            _ => Err(ValueError::NotInList {
                what: "sex",
                allowed: "ชาย, หญิง",
            }),
        }
    }
}

/// Titles whose sex is known, longest first so `นางสาว` wins over `นาง`.
const TITLES: [(&str, Sex); 8] = [
    ("เด็กหญิง", Sex::Female),
    ("เด็กชาย", Sex::Male),
    ("นางสาว", Sex::Female),
    ("ด.ญ.", Sex::Female),
    ("ด.ช.", Sex::Male),
    ("น.ส.", Sex::Female),
    ("นาย", Sex::Male),
    ("นาง", Sex::Female),
];

/// A name title (คำนำหน้า), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    /// Any non-empty text is a title; empty is none.
    pub fn parse(raw: &Raw<'_>) -> Result<Option<Self>, ValueError> {
        Ok(raw_text(raw)?.map(Self))
    }

    /// The sex a known title implies (`นาย` male, `นาง`/`นางสาว`/`น.ส.` female, …).
    pub fn implied_sex(&self) -> Option<Sex> {
        TITLES.iter().find(|(t, _)| *t == self.0).map(|(_, s)| *s)
    }

    /// Splits a known title off the front of a full name: `นางสาวมาลี ศรีอำไพ` →
    /// (`นางสาว`, `มาลี ศรีอำไพ`). The longest title wins.
    pub fn split_name(name: &str) -> Option<(Title, String)> {
        let name = text::normalize_text(name);
        TITLES
            .iter()
            .find(|(t, _)| name.starts_with(t))
            .and_then(|(t, _)| {
                let rest = name[t.len()..].trim();
                (!rest.is_empty()).then(|| (Title(t.to_string()), rest.to_string()))
            })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps stored text.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
}

/// Yes/no for the disability column: `มี`, `ใช่`, `yes`, `y`, `1`, `✓`, `/` are yes;
/// `ไม่มี`, `ไม่ใช่`, `no`, `n`, `0`, `-` and empty are no.
pub fn parse_yes_no(raw: &Raw<'_>) -> Result<bool, ValueError> {
    match raw {
        Raw::Empty => Ok(false),
        Raw::Bool(b) => Ok(*b),
        Raw::Number(f) if *f == 1.0 => Ok(true),
        Raw::Number(f) if *f == 0.0 => Ok(false),
        Raw::Error(e) => Err(ValueError::ExcelError((*e).to_string())),
        Raw::Text(s) => match text::match_key(&text::ascii_digits(s)).as_str() {
            "มี" | "ใช่" | "yes" | "y" | "1" | "✓" | "✔" | "/" | "true" => Ok(true),
            "ไม่มี" | "ไม่ใช่" | "no" | "n" | "0" | "-" | "" | "false" => {
                Ok(false)
            }
            _ => Err(ValueError::NotInList {
                what: "disabled",
                allowed: "มี, ไม่มี",
            }),
        },
        _ => Err(ValueError::NotInList {
            what: "disabled",
            allowed: "มี, ไม่มี",
        }),
    }
}

key_enum!(
    /// Where a target household came from.
    CohortSource {
        /// TPMAP's list for the year
        Tpmap = "tpmap",
        /// households TPMAP missed (ตกหล่น), found by the Thai QM survey
        Thaiqm = "thaiqm",
    }
);

/// A cohort: a source and a Buddhist-Era year (`TPMAP 2565`, `ตกหล่น 2565`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Cohort {
    /// TPMAP or missed households.
    pub source: CohortSource,
    /// Buddhist-Era year, e.g. 2565.
    pub be_year: i32,
}

impl Cohort {
    /// Parses `TPMAP 2565`, `TPMAP ปี 65`, `ตกหล่น 2565`, `ThaiQM 2565`, `TPMAP 2022` (CE).
    pub fn parse(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let s = raw_text(raw)?.ok_or(ValueError::Required)?;
        Self::parse_str(&s)
    }

    /// Parses text with the same rules.
    pub fn parse_str(s: &str) -> Result<Self, ValueError> {
        let k = text::match_key(&text::ascii_digits(s));
        let (head, year) = text::split_trailing_digits(&k);
        let head = head.trim();
        let head = head.strip_suffix("ปี").unwrap_or(head).trim();
        let head = head.strip_suffix("พ.ศ.").unwrap_or(head).trim();
        let source = match head {
            "tpmap" => CohortSource::Tpmap,
            "ตกหล่น" | "thaiqm" | "thai qm" | "ครัวเรือนตกหล่น" | "missed" => {
                CohortSource::Thaiqm
            }
            _ => return Err(ValueError::Cohort),
        };
        let n: i32 = year.parse().map_err(|_| ValueError::Cohort)?;
        let be_year = match year.len() {
            2 => 2500 + n,
            4 if n > 2400 => n,
            4 if (1950..2400).contains(&n) => n + 543,
            _ => return Err(ValueError::Cohort),
        };
        Ok(Self { source, be_year })
    }

    /// `TPMAP 2565` / `ตกหล่น 2565`.
    pub fn label(&self) -> String {
        match self.source {
            CohortSource::Tpmap => format!("TPMAP {}", self.be_year),
            CohortSource::Thaiqm => format!("ตกหล่น {}", self.be_year),
        }
    }
}

impl fmt::Display for Cohort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// One of the seventeen indicator codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IndicatorCode(u8);

impl IndicatorCode {
    /// Parses `5`, `ตัวชี้วัดที่ 5`, `ข้อ 5`, a numeric cell, or the indicator's Thai text.
    pub fn parse(raw: &Raw<'_>) -> Result<Self, ValueError> {
        let n = match raw {
            Raw::Empty => return Err(ValueError::Required),
            Raw::Error(e) => return Err(ValueError::ExcelError((*e).to_string())),
            Raw::Number(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 256.0 => *f as u8,
            Raw::Text(s) => {
                let norm = text::normalize_text(s);
                let ascii = text::ascii_digits(&norm);
                let rest = text::strip_prefixes(
                    &ascii,
                    &["ตัวชี้วัดที่", "ตัวชี้วัด", "ข้อที่", "ข้อ", "indicator", "Indicator"],
                );
                if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) && rest.len() <= 3 {
                    rest.parse::<u8>()
                        .map_err(|_| ValueError::IndicatorUnknown)?
                } else if let Some(def) = INDICATORS
                    .iter()
                    .find(|d| text::normalize_text(d.name_th) == norm)
                {
                    def.code
                } else {
                    return Err(ValueError::IndicatorUnknown);
                }
            }
            _ => return Err(ValueError::IndicatorUnknown),
        };
        Self::new(n).ok_or(ValueError::IndicatorUnknown)
    }

    /// A code 1–17.
    pub fn new(code: u8) -> Option<Self> {
        indicator(code).map(|_| Self(code))
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The indicator's definition.
    pub fn def(self) -> &'static crate::catalog::IndicatorDef {
        &INDICATORS[usize::from(self.0) - 1]
    }

    /// Its dimension.
    pub fn dimension(self) -> Dimension {
        self.def().dimension
    }
}

/// The normalised text of a cell, or none when empty. Numbers become their shortest text.
pub fn raw_text(raw: &Raw<'_>) -> Result<Option<String>, ValueError> {
    match raw {
        Raw::Empty => Ok(None),
        Raw::Text(s) => Ok(text::non_empty(s)),
        Raw::Number(f) => Ok(Some(if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{:.0}", f)
        } else {
            f.to_string()
        })),
        Raw::Bool(b) => Ok(Some(b.to_string())),
        Raw::Date(d) => Ok(Some(d.to_string())),
        Raw::Error(e) => Err(ValueError::ExcelError((*e).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Raw<'_> {
        Raw::Text(s)
    }

    #[test]
    fn baht_amounts() {
        assert_eq!(Baht::parse(&t("1500")).unwrap().unwrap().satang(), 150_000);
        assert_eq!(
            Baht::parse(&t("1,500.00")).unwrap().unwrap().satang(),
            150_000
        );
        assert_eq!(
            Baht::parse(&t("1,500 บาท")).unwrap().unwrap().satang(),
            150_000
        );
        assert_eq!(
            Baht::parse(&t("๑,๕๐๐.๕๐")).unwrap().unwrap().satang(),
            150_050
        );
        assert_eq!(
            Baht::parse(&Raw::Number(12000.0))
                .unwrap()
                .unwrap()
                .to_string(),
            "12000.00"
        );
        assert_eq!(Baht::parse(&t("-")).unwrap(), None);
        assert_eq!(Baht::parse(&t("ไม่มี")).unwrap(), None);
        assert_eq!(Baht::parse(&Raw::Empty).unwrap(), None);
        assert_eq!(Baht::parse(&t("0.5")).unwrap().unwrap().satang(), 50);
        assert_eq!(
            Baht::parse(&t("1,234,567.89")).unwrap().unwrap().satang(),
            123_456_789
        );
        assert_eq!(
            Baht::parse(&Raw::Number(0.25)).unwrap().unwrap().satang(),
            25
        );
        // everything outside the grammar is refused, never guessed
        for bad in [
            "หนึ่งพัน",
            "-500",
            "1.500,00",
            "12,34",
            "1e3",
            "0.001",
            "1,5000",
            ",500",
            "1,",
            "1.",
            "1..5",
            "+5",
            "1 500",
            "NaN",
            "inf",
            "1,500.5.0",
            "99999999999999",
        ] {
            assert_eq!(
                Baht::parse(&t(bad)).unwrap_err().code(),
                "amount_invalid",
                "{bad}"
            );
        }
        for bad in [0.001, -1.0, f64::NAN, f64::INFINITY, 1e14] {
            assert_eq!(
                Baht::parse(&Raw::Number(bad)).unwrap_err().code(),
                "amount_invalid",
                "{bad}"
            );
        }
    }

    #[test]
    fn statuses_in_every_wording() {
        for s in [
            "แก้ไขได้แล้ว",
            "สามารถแก้ไขปัญหาได้แล้ว",
            "สามารถแก้ไขได้แล้ว",
            "Solved",
            " solved ",
        ] {
            assert_eq!(
                ProblemStatus::parse_result(&t(s)).unwrap(),
                ProblemStatus::Solved,
                "{s}"
            );
        }
        assert_eq!(
            ProblemStatus::parse_result(&t("รอติดตามผล")).unwrap(),
            ProblemStatus::AwaitingFollowUp
        );
        assert_eq!(
            ProblemStatus::parse_result(&t("อยู่ระหว่างติดตามผล")).unwrap(),
            ProblemStatus::FollowingUp
        );
        for s in [
            "ยังไม่สามารถแก้ไขได้",
            "ยังไม่สามารถแก้ปัญหาได้",
            "ยังไม่สามารถแก้ไขปัญหาได้",
            "NOT_SOLVABLE_YET",
        ] {
            assert_eq!(
                ProblemStatus::parse_result(&t(s)).unwrap(),
                ProblemStatus::NotSolvableYet,
                "{s}"
            );
        }
        assert_eq!(
            ProblemStatus::parse_result(&t("เสร็จแล้วมั้ง"))
                .unwrap_err()
                .code(),
            "status_invalid"
        );
        assert_eq!(
            ProblemStatus::parse_result(&t("not_started"))
                .unwrap_err()
                .code(),
            "status_invalid"
        );
        assert_eq!(
            ProblemStatus::parse_result(&Raw::Empty).unwrap_err().code(),
            "required"
        );
    }

    #[test]
    fn classifications_and_dimensions() {
        assert_eq!(
            Classification::parse(&t("สงเคราะห์")).unwrap(),
            Some(Classification::Welfare)
        );
        assert_eq!(
            Classification::parse(&t("Self_Reliant")).unwrap(),
            Some(Classification::SelfReliant)
        );
        assert_eq!(Classification::parse(&Raw::Empty).unwrap(), None);
        assert!(Classification::parse(&t("ยากจน")).is_err());
        assert_eq!(
            Dimension::parse(&t("ด้านสุขภาพ")).unwrap(),
            Some(Dimension::Health)
        );
        assert_eq!(
            Dimension::parse(&t("การเข้าถึงบริการภาครัฐ")).unwrap(),
            Some(Dimension::Access)
        );
        assert_eq!(
            Dimension::parse(&t("Income")).unwrap(),
            Some(Dimension::Income)
        );
        assert_eq!(
            Dimension::parse(&t("กีฬา")).unwrap_err().code(),
            "dimension_invalid"
        );
    }

    #[test]
    fn titles_split_and_imply_sex() {
        let (title, rest) = Title::split_name("นางสาวมาลี ศรีอำไพ").unwrap();
        assert_eq!((title.as_str(), rest.as_str()), ("นางสาว", "มาลี ศรีอำไพ"));
        let (title, _) = Title::split_name("นางศิริพร  คำแสน").unwrap();
        assert_eq!(title.as_str(), "นาง");
        assert_eq!(title.implied_sex(), Some(Sex::Female));
        assert!(Title::split_name("สมชาย ใจดี").is_none());
        let monk = Title::parse(&t("พระ")).unwrap().unwrap();
        assert_eq!(monk.implied_sex(), None);
        assert_eq!(
            Title::parse(&t("ด.ช.")).unwrap().unwrap().implied_sex(),
            Some(Sex::Male)
        );
    }

    #[test]
    fn sex_and_yes_no() {
        assert_eq!(Sex::parse(&t("หญิง")).unwrap(), Some(Sex::Female));
        assert_eq!(Sex::parse(&t("Male")).unwrap(), Some(Sex::Male));
        assert!(Sex::parse(&t("อื่น")).is_err());
        for s in ["มี", "ใช่", "yes", "Y", "1", "✓", "/"] {
            assert!(parse_yes_no(&t(s)).unwrap(), "{s}");
        }
        for s in ["ไม่มี", "ไม่ใช่", "no", "N", "0", "-", ""] {
            assert!(!parse_yes_no(&t(s)).unwrap(), "{s}");
        }
        assert!(parse_yes_no(&t("อาจจะ")).is_err());
    }

    #[test]
    fn cohorts() {
        let c = Cohort::parse(&t("TPMAP 2565")).unwrap();
        assert_eq!((c.source, c.be_year), (CohortSource::Tpmap, 2565));
        assert_eq!(Cohort::parse(&t("TPMAP ปี 65")).unwrap(), c);
        assert_eq!(Cohort::parse(&t("tpmap 2022")).unwrap(), c);
        let m = Cohort::parse(&t("ตกหล่น 2565")).unwrap();
        assert_eq!(m.source, CohortSource::Thaiqm);
        assert_eq!(Cohort::parse(&t("ThaiQM 2565")).unwrap(), m);
        assert_eq!(m.label(), "ตกหล่น 2565");
        assert!(Cohort::parse(&t("TPMAP")).is_err());
        // no year after Thai text: an error, not a panic on a byte inside a Thai character
        assert_eq!(
            Cohort::parse(&t("ตกหล่น")).unwrap_err().code(),
            "cohort_invalid"
        );
        assert_eq!(
            Cohort::parse(&t("ตกหล่นปี")).unwrap_err().code(),
            "cohort_invalid"
        );
        assert_eq!(Cohort::parse(&t("ก")).unwrap_err().code(), "cohort_invalid");
        assert!(Cohort::parse(&t("สำรวจ 2565")).is_err());
    }

    #[test]
    fn indicators_by_number_prefix_and_text() {
        for s in ["5", "ตัวชี้วัดที่ 5", "ข้อ 5", "๕"] {
            assert_eq!(IndicatorCode::parse(&t(s)).unwrap().get(), 5, "{s}");
        }
        assert_eq!(IndicatorCode::parse(&Raw::Number(12.0)).unwrap().get(), 12);
        let by_text = IndicatorCode::parse(&t("เด็กอายุ 6-14 ปี ได้รับการศึกษาภาคบังคับ 9 ปี")).unwrap();
        assert_eq!(by_text.get(), 10);
        assert_eq!(by_text.dimension(), Dimension::Education);
        assert_eq!(
            IndicatorCode::parse(&Raw::Number(42.0)).unwrap_err().code(),
            "indicator_unknown"
        );
        assert_eq!(
            IndicatorCode::parse(&t("0")).unwrap_err().code(),
            "indicator_unknown"
        );
    }

    #[test]
    fn numbers_and_coordinates() {
        assert_eq!(parse_whole(&t("1,234"), 0, 10_000).unwrap(), Some(1234));
        assert!(parse_whole(&t("2.5"), 0, 10).is_err());
        assert_eq!(parse_latitude(&Raw::Number(15.2)).unwrap(), Some(15.2));
        assert_eq!(
            parse_latitude(&Raw::Number(45.0)).unwrap_err().code(),
            "latitude_out_of_range"
        );
        assert_eq!(
            parse_longitude(&Raw::Number(50.0)).unwrap_err().code(),
            "longitude_out_of_range"
        );
    }
}
