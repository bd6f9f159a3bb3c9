//! The area master data: loading `level,code,parent_code,name_th,name_en` from CSV or XLSX
//! (or the small built-in set) idempotently, and creating each new province's default
//! agencies with their default dimension ownership.

use crate::error::ImportError;
use crate::limits::ReadLimits;
use crate::workbook::Workbook;
use entity::catalog::DEFAULT_AGENCIES;
use entity::types::{AreaCode, AreaLevel, text};
use entity::{agency, agency_dimension, area};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};

/// The built-in areas: อำเภอเมืองจันทร์ (3318) of ศรีสะเกษ (33) and its three subdistricts,
/// as DOPA codes them. Loaded through the same path as a file.
pub const BUILTIN_AREAS_CSV: &str = "level,code,parent_code,name_th,name_en
province,33,,ศรีสะเกษ,Si Sa Ket
district,3318,33,เมืองจันทร์,Mueang Chan
subdistrict,331801,3318,เมืองจันทร์,Mueang Chan
subdistrict,331802,3318,ตาโกน,Takon
subdistrict,331803,3318,หนองใหญ่,Nong Yai
";

/// The built-in district's code.
pub const BUILTIN_DISTRICT: &str = "3318";

/// One area row of a master file.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaRow {
    /// Level.
    pub level: AreaLevel,
    /// Code.
    pub code: AreaCode,
    /// Parent code (none for provinces).
    pub parent: Option<AreaCode>,
    /// Thai name.
    pub name_th: String,
    /// English name.
    pub name_en: Option<String>,
}

fn parse_row(line: usize, cols: &[String]) -> Result<AreaRow, ImportError> {
    let bad = |msg: String| ImportError::Areas(format!("row {line}: {msg}"));
    let get = |i: usize| {
        cols.get(i)
            .map(|s| text::normalize_text(s).into_owned())
            .unwrap_or_default()
    };
    let level = AreaLevel::parse(&get(0))
        .filter(|l| *l != AreaLevel::Village)
        .ok_or_else(|| bad(format!("unknown level \"{}\"", get(0))))?;
    let code = AreaCode::parse_level(&get(1), level)
        .map_err(|e| bad(format!("code \"{}\": {}", get(1), e.message_en())))?;
    let parent = match level {
        AreaLevel::Province => None,
        _ => {
            let p = AreaCode::parse_str(&get(2))
                .map_err(|e| bad(format!("parent_code \"{}\": {}", get(2), e.message_en())))?;
            if Some(&p) != code.parent().as_ref() {
                return Err(bad(format!(
                    "parent_code {} is not the parent of {}",
                    p, code
                )));
            }
            Some(p)
        }
    };
    let name_th = get(3);
    if name_th.is_empty() {
        return Err(bad("name_th is empty".into()));
    }
    let name_en = Some(get(4)).filter(|s| !s.is_empty());
    Ok(AreaRow {
        level,
        code,
        parent,
        name_th,
        name_en,
    })
}

fn check_header(cols: &[String]) -> Result<(), ImportError> {
    let want = ["level", "code", "parent_code", "name_th", "name_en"];
    let got: Vec<String> = cols.iter().map(|c| text::match_key(c)).collect();
    if got.len() < 4 || want.iter().zip(&got).any(|(w, g)| w != g) {
        return Err(ImportError::Areas(format!(
            "the header must be {}, found {}",
            want.join(","),
            got.join(",")
        )));
    }
    Ok(())
}

/// Parses the CSV format.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<AreaRow>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| ImportError::Areas(e.to_string()))?;
        let cols: Vec<String> = rec.iter().map(str::to_string).collect();
        if i == 0 {
            check_header(&cols)?;
            continue;
        }
        if cols.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.push(parse_row(i + 1, &cols)?);
    }
    Ok(out)
}

/// Parses the same columns from the first sheet of a workbook.
pub fn parse_xlsx(bytes: Vec<u8>) -> Result<Vec<AreaRow>, ImportError> {
    let limits = ReadLimits::default();
    let mut wb = Workbook::open(bytes, &limits).map_err(|r| ImportError::Areas(r.en))?;
    let first = wb
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| ImportError::Areas("the workbook has no sheet".into()))?;
    let mut grid: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    wb.cells(&first, |r, c, v| {
        let row = grid.entry(r).or_default();
        let c = c as usize;
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = v.cell().display().unwrap_or_default();
        Ok(())
    })
    .map_err(|r| ImportError::Areas(r.en))?;
    let mut out = Vec::new();
    for (i, (r, cols)) in grid.into_iter().enumerate() {
        if i == 0 {
            check_header(&cols)?;
            continue;
        }
        if cols.iter().all(String::is_empty) {
            continue;
        }
        out.push(parse_row(r as usize + 1, &cols)?);
    }
    Ok(out)
}

/// Parses a file by its extension (`.csv`, else a workbook).
pub fn parse_file(name: &str, bytes: Vec<u8>) -> Result<Vec<AreaRow>, ImportError> {
    if name.to_lowercase().ends_with(".csv") {
        parse_csv(&bytes)
    } else {
        parse_xlsx(bytes)
    }
}

/// What loading areas did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AreasReport {
    /// Rows read.
    pub read: u32,
    /// New areas.
    pub inserted: u32,
    /// Areas whose names or parent changed.
    pub updated: u32,
    /// Areas already stored as given.
    pub unchanged: u32,
    /// Provinces seen for the first time.
    pub new_provinces: Vec<String>,
    /// Agencies created for them.
    pub agencies_created: u32,
}

/// Loads area rows idempotently, in one transaction; creates the default agencies of
/// every province that was not stored before.
pub async fn load(db: &DatabaseConnection, rows: &[AreaRow]) -> Result<AreasReport, ImportError> {
    let mut seen = HashSet::new();
    for r in rows {
        if !seen.insert(r.code.as_str()) {
            return Err(ImportError::Areas(format!("code {} appears twice", r.code)));
        }
    }
    let codes: HashSet<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    // a write transaction from the start (SQLite: BEGIN IMMEDIATE), so a server writing
    // beside it makes it wait rather than fail
    let txn = entity::db::begin_write(db).await?;
    let existing: HashMap<String, area::Model> = area::Entity::find()
        .filter(area::Column::Level.ne(AreaLevel::Village))
        .all(&txn)
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_string(), a))
        .collect();
    for r in rows {
        if let Some(p) = &r.parent
            && !codes.contains(p.as_str())
            && !existing.contains_key(p.as_str())
        {
            return Err(ImportError::Areas(format!(
                "{} {}: parent {} is neither in the file nor stored",
                r.level.as_str(),
                r.code,
                p
            )));
        }
    }
    let mut report = AreasReport {
        read: rows.len() as u32,
        ..Default::default()
    };
    let mut writes = Vec::new();
    for r in rows {
        match existing.get(r.code.as_str()) {
            Some(e)
                if e.level == r.level
                    && e.parent_code == r.parent
                    && e.name_th == r.name_th
                    && e.name_en == r.name_en =>
            {
                report.unchanged += 1;
                continue;
            }
            Some(_) => report.updated += 1,
            None => {
                report.inserted += 1;
                if r.level == AreaLevel::Province {
                    report.new_provinces.push(r.code.as_str().to_string());
                }
            }
        }
        writes.push(area::ActiveModel {
            code: Set(r.code.clone()),
            level: Set(r.level),
            parent_code: Set(r.parent.clone()),
            name_th: Set(r.name_th.clone()),
            name_en: Set(r.name_en.clone()),
            batch_id: Set(None),
            source_sheet: Set(None),
            source_row: Set(None),
        });
    }
    use area::Column as C;
    for chunk in writes.chunks(3000) {
        area::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(C::Code)
                    .update_columns([C::Level, C::ParentCode, C::NameTh, C::NameEn])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    for code in &report.new_provinces {
        let Some(r) = rows.iter().find(|r| r.code.as_str() == code) else {
            continue;
        };
        report.agencies_created +=
            create_default_agencies(&txn, code, &r.name_th, r.name_en.as_deref()).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Creates a province's default agencies (domain.md) and their dimensions, skipping codes
/// that exist. Returns how many were created.
pub async fn create_default_agencies(
    db: &impl ConnectionTrait,
    province: &str,
    name_th: &str,
    name_en: Option<&str>,
) -> Result<u32, DbErr> {
    let mut created = 0;
    for t in DEFAULT_AGENCIES {
        let code = format!("{province}-{}", t.suffix);
        if agency::Entity::find()
            .filter(agency::Column::Code.eq(code.clone()))
            .one(db)
            .await?
            .is_some()
        {
            continue;
        }
        let m = agency::Entity::insert(agency::ActiveModel {
            code: Set(code),
            abbreviation: Set(t.abbreviation.to_string()),
            name_th: Set(format!("{}{}", t.name_th, name_th)),
            name_en: Set(match name_en {
                Some(p) => format!("{} {}", p, t.name_en),
                None => t.name_en.to_string(),
            }),
            province_code: Set(province.to_string()),
            ..Default::default()
        })
        .exec(db)
        .await?;
        let dims: Vec<agency_dimension::ActiveModel> = t
            .dimensions
            .iter()
            .map(|d| agency_dimension::ActiveModel {
                agency_id: Set(m.last_insert_id),
                dimension: Set(*d),
            })
            .collect();
        agency_dimension::Entity::insert_many(dims)
            .exec_without_returning(db)
            .await?;
        created += 1;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_set_parses() {
        let rows = parse_csv(BUILTIN_AREAS_CSV.as_bytes()).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[1].parent.as_ref().unwrap().as_str(), "33");
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let e = parse_csv(
            b"level,code,parent_code,name_th,name_en\nprovince,33,,X,Y\ndistrict,3318,34,Z,\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("row 3"), "{e}");
        let e = parse_csv(b"level,code\nprovince,33\n").unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = parse_csv(b"level,code,parent_code,name_th,name_en\ncounty,33,,X,Y\n").unwrap_err();
        assert!(e.to_string().contains("level"), "{e}");
    }
}
