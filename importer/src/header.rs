//! Column specifications per sheet, and finding the header row under title rows and
//! merged group headers: the row among the first 15 with the most known headers (≥ 2).

use crate::cells::Cell;
use crate::workbook::SheetKind;
use entity::types::text::header_key;

/// A column the importer knows.
#[derive(Debug)]
pub struct ColumnSpec {
    /// Canonical key (`house_code`).
    pub key: &'static str,
    /// Header aliases; the first is the canonical Thai header, the second the English one.
    pub aliases: &'static [&'static str],
    /// ★: header must be present and cells non-empty.
    pub required: bool,
}

const fn c(key: &'static str, required: bool, aliases: &'static [&'static str]) -> ColumnSpec {
    ColumnSpec {
        key,
        aliases,
        required,
    }
}

/// Aliases of the running-number column every sheet knows and ignores.
pub const ROW_NO_ALIASES: &[&str] = &["ลำดับ", "ลำดับที่", "ที่", "no", "no.", "#", "row_no"];

/// Column indexes of the households sheet.
pub mod hh {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const HOUSE_NO: usize = 1;
    pub const VILLAGE_NO: usize = 2;
    pub const VILLAGE_NAME: usize = 3;
    pub const SUBDISTRICT: usize = 4;
    pub const DISTRICT: usize = 5;
    pub const PROVINCE: usize = 6;
    pub const VILLAGE_CODE: usize = 7;
    pub const HEAD_TITLE: usize = 8;
    pub const HEAD_NAME: usize = 9;
    pub const HEAD_CITIZEN_ID: usize = 10;
    pub const MEMBERS: usize = 11;
    pub const CLASSIFICATION: usize = 12;
    pub const COHORT: usize = 13;
    pub const LATITUDE: usize = 14;
    pub const LONGITUDE: usize = 15;
    pub const URGENT: usize = 16;
    pub const URGENT_REASON: usize = 17;
    pub const CLOSED_REASON: usize = 18;
    pub const CLOSED_ON: usize = 19;
    pub const CLOSED_NOTE: usize = 20;
    pub const MERGED_INTO: usize = 21;
}

/// Column indexes of the members sheet.
pub mod mm {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const CITIZEN_ID: usize = 1;
    pub const TITLE: usize = 2;
    pub const FIRST_NAME: usize = 3;
    pub const LAST_NAME: usize = 4;
    pub const SEX: usize = 5;
    pub const BIRTH_DATE: usize = 6;
    pub const AGE: usize = 7;
    pub const RELATION: usize = 8;
    pub const DISABLED: usize = 9;
}

/// Column indexes of the problems sheet.
pub mod pp {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const INDICATOR: usize = 1;
    pub const CITIZEN_ID: usize = 2;
    pub const DIMENSION: usize = 3;
    pub const COHORT: usize = 4;
    pub const DETAIL: usize = 5;
}

/// Column indexes of the analysis sheet.
pub mod an {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const ATTITUDE: usize = 1;
    pub const SKILLS: usize = 2;
    pub const RESOURCES: usize = 3;
    pub const WAY_OUT: usize = 4;
    pub const ANALYSED_ON: usize = 5;
    pub const MENTOR: usize = 6;
}

/// Column indexes of the assistance sheet.
pub mod aa {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const INDICATOR: usize = 1;
    pub const CITIZEN_ID: usize = 2;
    pub const COHORT: usize = 3;
    pub const DATE: usize = 4;
    pub const AGENCY: usize = 5;
    pub const ACTIVITY: usize = 6;
    pub const MENU: usize = 7;
    pub const AMOUNT: usize = 8;
    pub const FUND: usize = 9;
    pub const STATUS: usize = 10;
    pub const NOTE: usize = 11;
    pub const NEXT_VISIT_ON: usize = 12;
    pub const LATITUDE: usize = 13;
    pub const LONGITUDE: usize = 14;
}

/// Column indexes of the funds sheet.
pub mod ff {
    #![allow(missing_docs)]
    pub const HOUSE_CODE: usize = 0;
    pub const FUND: usize = 1;
    pub const KIND: usize = 2;
    pub const DATE: usize = 3;
    pub const AMOUNT: usize = 4;
    pub const TERM_MONTHS: usize = 5;
    pub const EVERY_MONTHS: usize = 6;
    pub const LOAN_DATE: usize = 7;
    pub const NOTE: usize = 8;
}

const HOUSEHOLDS: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code", "รหัสประจำบ้าน"]),
    c("house_no", false, &["บ้านเลขที่", "house_no"]),
    c("village_no", true, &["หมู่ที่", "village_no", "หมู่", "ม."]),
    c("village_name", false, &["ชื่อหมู่บ้าน", "village_name", "หมู่บ้าน"]),
    c("subdistrict", true, &["ตำบล", "subdistrict", "tambon"]),
    c("district", true, &["อำเภอ", "district", "amphoe"]),
    c("province", true, &["จังหวัด", "province"]),
    c("village_code", false, &["รหัสหมู่บ้าน", "village_code"]),
    c("head_title", false, &["คำนำหน้า", "head_title", "title"]),
    c(
        "head_name",
        false,
        &["ชื่อ-สกุลหัวหน้าครัวเรือน", "head_name", "หัวหน้าครัวเรือน"],
    ),
    c(
        "head_citizen_id",
        false,
        &["เลขบัตรประชาชนหัวหน้าครัวเรือน", "head_citizen_id"],
    ),
    c("members", false, &["จำนวนสมาชิก", "members"]),
    c(
        "classification",
        false,
        &["ประเภทครัวเรือน", "classification", "กลุ่มครัวเรือน"],
    ),
    c("cohort", true, &["ที่มา", "cohort", "source"]),
    c("latitude", false, &["ละติจูด", "latitude", "lat"]),
    c("longitude", false, &["ลองจิจูด", "longitude", "lon", "long"]),
    c("urgent", false, &["เร่งด่วน", "urgent", "ครัวเรือนวิกฤต"]),
    c("urgent_reason", false, &["เหตุเร่งด่วน", "urgent_reason"]),
    c(
        "closed_reason",
        false,
        &["ออกจากเป้าหมายเพราะ", "closed_reason", "เหตุที่ปิด"],
    ),
    c(
        "closed_on",
        false,
        &["วันที่ออกจากเป้าหมาย", "closed_on", "วันที่ปิด"],
    ),
    c("closed_note", false, &["หมายเหตุการปิด", "closed_note"]),
    c("merged_into", false, &["รวมเข้ากับรหัสบ้าน", "merged_into"]),
];

const MEMBERS: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code"]),
    c(
        "citizen_id",
        true,
        &["เลขบัตรประชาชน", "citizen_id", "เลขประจำตัวประชาชน"],
    ),
    c("title", false, &["คำนำหน้า", "title"]),
    c("first_name", true, &["ชื่อ", "first_name"]),
    c("last_name", false, &["นามสกุล", "last_name"]),
    c("sex", false, &["เพศ", "sex"]),
    c(
        "birth_date",
        false,
        &["วันเกิด", "birth_date", "วัน/เดือน/ปีเกิด"],
    ),
    c("age", false, &["อายุ", "age"]),
    c("relation", false, &["ความสัมพันธ์", "relation"]),
    c("disabled", false, &["ความพิการ", "disabled", "พิการ"]),
];

const PROBLEMS: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code"]),
    c("indicator", true, &["ตัวชี้วัด", "indicator", "ตัวชี้วัดที่"]),
    c("citizen_id", false, &["เลขบัตรประชาชน", "citizen_id"]),
    c("dimension", false, &["มิติ", "dimension"]),
    c("cohort", true, &["ที่มา", "cohort", "source"]),
    c("detail", false, &["รายละเอียด", "detail", "สภาพปัญหา"]),
];

const ANALYSIS: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code"]),
    c("attitude", false, &["ทัศนคติ", "attitude"]),
    c("skills", false, &["ทักษะ", "skills"]),
    c("resources", false, &["ทรัพยากร", "resources"]),
    c("way_out", false, &["ทางออก", "way_out"]),
    c("analysed_on", false, &["วันที่วิเคราะห์", "analysed_on"]),
    c("mentor", false, &["ทีมพี่เลี้ยง", "mentor", "ผู้วิเคราะห์"]),
];

const ASSISTANCE: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code"]),
    c("indicator", true, &["ตัวชี้วัด", "indicator"]),
    c("citizen_id", false, &["เลขบัตรประชาชน", "citizen_id"]),
    c("cohort", false, &["ที่มา", "cohort"]),
    c("date", true, &["วันที่", "date", "วันที่ช่วยเหลือ"]),
    c("agency", true, &["หน่วยงาน", "agency", "หน่วยงานที่ช่วยเหลือ"]),
    c("activity", true, &["กิจกรรม", "activity", "โครงการ/กิจกรรม"]),
    c("menu", false, &["เมนูแก้จน", "menu"]),
    c("amount", false, &["งบประมาณ", "amount", "มูลค่า"]),
    c("fund", false, &["กองทุน", "fund"]),
    c("status", true, &["ผลการดำเนินงาน", "status", "สถานะ"]),
    c("note", false, &["หมายเหตุ", "note"]),
    c(
        "next_visit_on",
        false,
        &[
            "นัดเยี่ยมครั้งถัดไป",
            "next_visit_on",
            "นัดครั้งต่อไป",
            "วันนัดเยี่ยมครั้งต่อไป",
            "next visit",
        ],
    ),
    c(
        "latitude",
        false,
        &["ละติจูดที่เยี่ยม", "ละติจูด", "latitude", "lat"],
    ),
    c(
        "longitude",
        false,
        &["ลองจิจูดที่เยี่ยม", "ลองจิจูด", "longitude", "lon", "lng"],
    ),
];

const FUNDS: &[ColumnSpec] = &[
    c("house_code", true, &["รหัสบ้าน", "house_code"]),
    c("fund", true, &["กองทุน", "fund", "ชื่อกองทุน"]),
    c("kind", true, &["รายการ", "kind", "ประเภทรายการ", "ประเภท"]),
    c("date", true, &["วันที่", "date", "วันที่จ่าย", "วันที่รับ"]),
    c(
        "amount",
        true,
        &["จำนวนเงิน (บาท)", "amount", "จำนวนเงิน", "เงิน"],
    ),
    c(
        "term_months",
        false,
        &["ระยะผ่อน (เดือน)", "term_months", "ระยะเวลาผ่อน", "จำนวนเดือน"],
    ),
    c(
        "every_months",
        false,
        &["ชำระทุก (เดือน)", "every_months", "งวดทุก"],
    ),
    c(
        "loan_date",
        false,
        &["วันที่ยืม", "loan_date", "วันที่ให้ยืม", "วันที่กู้"],
    ),
    c("note", false, &["หมายเหตุ", "note"]),
];

/// The columns of a sheet, in index order.
pub fn columns(kind: SheetKind) -> &'static [ColumnSpec] {
    match kind {
        SheetKind::Households => HOUSEHOLDS,
        SheetKind::Members => MEMBERS,
        SheetKind::Problems => PROBLEMS,
        SheetKind::Analysis => ANALYSIS,
        SheetKind::Assistance => ASSISTANCE,
        SheetKind::Funds => FUNDS,
    }
}

/// What a header cell means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMatch {
    /// A known column (index into [`columns`]).
    Known(usize),
    /// The running number.
    RowNo,
}

/// Matches one header cell's text against a sheet's columns.
pub fn match_header(kind: SheetKind, header: &str) -> Option<HeaderMatch> {
    let k = header_key(header);
    if k.is_empty() {
        return None;
    }
    if let Some(i) = columns(kind)
        .iter()
        .position(|c| c.aliases.iter().any(|a| header_key(a) == k))
    {
        return Some(HeaderMatch::Known(i));
    }
    ROW_NO_ALIASES
        .iter()
        .any(|a| header_key(a) == k)
        .then_some(HeaderMatch::RowNo)
}

/// The header row found in a sheet.
#[derive(Debug, Clone)]
pub struct Header {
    /// Index of the header row within the rows given.
    pub row_index: usize,
    /// Column position → known column index.
    pub known: Vec<(usize, usize)>,
    /// Header text as written, per known column index (for reports).
    pub written: Vec<Option<String>>,
    /// Position of the running-number column.
    pub row_no: Option<usize>,
    /// Unknown headers: (position, text).
    pub unknown: Vec<(usize, String)>,
    /// Known columns that appear twice: (position, text).
    pub duplicates: Vec<(usize, String)>,
}

impl Header {
    /// Canonical key of each required column whose header is missing.
    pub fn missing_required(&self, kind: SheetKind) -> Vec<&'static ColumnSpec> {
        columns(kind)
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && self.written[*i].is_none())
            .map(|(_, c)| c)
            .collect()
    }

    /// The header of a column as the workbook writes it, or the canonical Thai one.
    pub fn label(&self, kind: SheetKind, col: usize) -> &str {
        self.written[col]
            .as_deref()
            .unwrap_or(columns(kind)[col].aliases[0])
    }
}

/// Finds the header row among the first 15 rows: the one with the most known columns,
/// at least two; the first such row wins ties.
pub fn find_header(kind: SheetKind, rows: &[Vec<Cell>]) -> Option<Header> {
    let mut best: Option<(usize, usize)> = None;
    for (i, row) in rows.iter().take(15).enumerate() {
        let n = row
            .iter()
            .filter(|c| matches!(c, Cell::Text(t) if matches!(match_header(kind, t), Some(HeaderMatch::Known(_)))))
            .count();
        if n >= 2 && best.is_none_or(|(_, m)| n > m) {
            best = Some((i, n));
        }
    }
    let (row_index, _) = best?;
    let ncols = columns(kind).len();
    let mut h = Header {
        row_index,
        known: Vec::new(),
        written: vec![None; ncols],
        row_no: None,
        unknown: Vec::new(),
        duplicates: Vec::new(),
    };
    for (pos, cell) in rows[row_index].iter().enumerate() {
        let text = match cell {
            Cell::Text(t) => t.to_string(),
            Cell::Empty => continue,
            other => other.display().unwrap_or_default(),
        };
        match match_header(kind, &text) {
            Some(HeaderMatch::Known(i)) if h.written[i].is_none() => {
                h.written[i] = Some(text);
                h.known.push((pos, i));
            }
            Some(HeaderMatch::Known(_)) => h.duplicates.push((pos, text)),
            Some(HeaderMatch::RowNo) if h.row_no.is_none() => h.row_no = Some(pos),
            _ => h.unknown.push((pos, text)),
        }
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn finds_the_header_under_title_rows_and_group_headers() {
        let rows = vec![
            vec![t("แบบ ศจพ. ครัวเรือนเป้าหมาย อำเภอเมืองจันทร์"), Cell::Empty],
            vec![Cell::Empty, t("ที่อยู่"), Cell::Empty],
            vec![
                t("ลำดับ"),
                t("รหัสบ้าน (house_code)"),
                t("หมู่ที่"),
                t("ตำบล*"),
                t("หมายเหตุเพิ่มเติม"),
            ],
            vec![
                Cell::Number(1.0),
                t("33184743548"),
                t("ม.5"),
                t("ตาโกน"),
                Cell::Empty,
            ],
        ];
        let h = find_header(SheetKind::Households, &rows).unwrap();
        assert_eq!(h.row_index, 2);
        assert_eq!(h.row_no, Some(0));
        assert_eq!(
            h.known,
            vec![
                (1, hh::HOUSE_CODE),
                (2, hh::VILLAGE_NO),
                (3, hh::SUBDISTRICT)
            ]
        );
        assert_eq!(h.unknown, vec![(4, "หมายเหตุเพิ่มเติม".to_string())]);
        let missing: Vec<_> = h
            .missing_required(SheetKind::Households)
            .iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(missing, vec!["district", "province", "cohort"]);
    }

    #[test]
    fn english_headers_match_case_insensitively() {
        let rows = vec![vec![
            t("No."),
            t("House_Code"),
            t("CITIZEN_ID"),
            t("first_name"),
        ]];
        let h = find_header(SheetKind::Members, &rows).unwrap();
        assert_eq!(h.known.len(), 3);
        assert_eq!(h.row_no, Some(0));
    }

    #[test]
    fn a_single_known_header_is_not_a_header_row() {
        let rows = vec![vec![t("รหัสบ้าน"), t("อะไรก็ได้")]];
        assert!(find_header(SheetKind::Analysis, &rows).is_none());
    }

    #[test]
    fn sheet_names_match_aliases() {
        assert_eq!(
            SheetKind::from_name(" ครัวเรือน "),
            Some(SheetKind::Households)
        );
        assert_eq!(SheetKind::from_name("Logbook"), Some(SheetKind::Assistance));
        assert_eq!(
            SheetKind::from_name("วิเคราะห์ 4ท"),
            Some(SheetKind::Analysis)
        );
        assert_eq!(SheetKind::from_name("สรุป"), None);
    }
}
