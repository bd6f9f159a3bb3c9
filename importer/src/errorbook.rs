//! The error workbook of a rejected import: a summary sheet listing every error, then, per
//! sheet with offending rows, the header and those rows as uploaded — the bad cells filled
//! red — with the original row number first and the reasons in Thai last, so an officer can
//! find each row in the original workbook, fix it and upload again.

use crate::cells::Cell;
use crate::error::ImportError;
use crate::header::{columns, find_header};
use crate::limits::ReadLimits;
use crate::rows::HEADER_WINDOW;
use crate::workbook::{SheetKind, Workbook};
use entity::types::text::header_key;
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook as XlsxWorkbook};
use std::collections::{BTreeMap, HashMap};

/// One error to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// Sheet, when the error is in one.
    pub sheet: Option<SheetKind>,
    /// Excel row number (1-based), when the error is in a row.
    pub row: Option<u32>,
    /// Column header as the report names it.
    pub column: Option<String>,
    /// The offending value as read.
    pub value: Option<String>,
    /// Reason, in Thai.
    pub message_th: String,
}

/// Where the flagged cells of one sheet are.
struct SheetCut {
    name: String,
    header: Vec<String>,
    /// Column label (normalised) → position.
    positions: HashMap<String, usize>,
    rows: BTreeMap<u32, Vec<Cell>>,
}

/// Builds the error workbook from the uploaded bytes and the batch's errors.
pub fn error_workbook(original: Vec<u8>, flags: &[Flag]) -> Result<Vec<u8>, ImportError> {
    let limits = ReadLimits::default();
    let mut wb =
        Workbook::open(original, &limits).map_err(|r| ImportError::Refused(Box::new(r)))?;
    let mut cuts: BTreeMap<SheetKind, SheetCut> = BTreeMap::new();
    for name in wb.sheet_names() {
        let Some(kind) = SheetKind::from_name(&name) else {
            continue;
        };
        let wanted: std::collections::HashSet<u32> = flags
            .iter()
            .filter(|f| f.sheet == Some(kind))
            .filter_map(|f| f.row)
            .collect();
        if wanted.is_empty() || cuts.contains_key(&kind) {
            continue;
        }
        // the first rows (for the header) and the flagged rows, as written
        let mut first: Option<u32> = None;
        let mut head: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
        let mut rows: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
        wb.cells(&name, |r, c, v| {
            let f = *first.get_or_insert(r);
            let target = if r >= f && r - f < HEADER_WINDOW {
                Some(&mut head)
            } else if wanted.contains(&(r + 1)) {
                Some(&mut rows)
            } else {
                None
            };
            if let Some(map) = target {
                let cells = map.entry(r).or_default();
                let c = c as usize;
                if cells.len() <= c {
                    cells.resize(c + 1, Cell::Empty);
                }
                cells[c] = v.cell();
            }
            Ok(())
        })
        .map_err(|r| ImportError::Refused(Box::new(r)))?;
        let f = first.unwrap_or(0);
        let grid: Vec<Vec<Cell>> = (f..f + HEADER_WINDOW)
            .map(|r| head.get(&r).cloned().unwrap_or_default())
            .collect();
        let Some(h) = find_header(kind, &grid) else {
            continue;
        };
        let header: Vec<String> = grid[h.row_index]
            .iter()
            .map(|c| c.display().unwrap_or_default())
            .collect();
        let mut positions = HashMap::new();
        for (pos, idx) in &h.known {
            positions.insert(header_key(h.label(kind, *idx)), *pos);
            positions.insert(header_key(columns(kind)[*idx].aliases[0]), *pos);
        }
        for (pos, text) in h.unknown.iter().chain(h.duplicates.iter()) {
            positions.entry(header_key(text)).or_insert(*pos);
        }
        for (r, cells) in head {
            if wanted.contains(&(r + 1)) {
                rows.insert(r, cells);
            }
        }
        let rows = rows.into_iter().map(|(r, cells)| (r + 1, cells)).collect();
        cuts.insert(
            kind,
            SheetCut {
                name,
                header,
                positions,
                rows,
            },
        );
    }

    let mut out = XlsxWorkbook::new();
    let bold = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border(FormatBorder::Thin);
    let bad = Format::new()
        .set_background_color(Color::RGB(0xFFC7CE))
        .set_font_color(Color::RGB(0x9C0006))
        .set_border(FormatBorder::Thin);
    let reason = Format::new()
        .set_text_wrap()
        .set_font_color(Color::RGB(0x9C0006));
    let plain = Format::new();

    // summary: every error, in sheet and row order
    let ws = out.add_worksheet();
    ws.set_name("สรุปข้อผิดพลาด")?;
    for (c, h) in ["แผ่นงาน", "แถว", "คอลัมน์", "ค่า", "เหตุผล"].iter().enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, f) in flags.iter().enumerate() {
        let r = i as u32 + 1;
        let sheet = f
            .sheet
            .map(|k| cuts.get(&k).map_or(k.name_th(), |c| c.name.as_str()))
            .unwrap_or("");
        ws.write_string(r, 0, sheet)?;
        if let Some(row) = f.row {
            ws.write_number(r, 1, f64::from(row))?;
        }
        ws.write_string(r, 2, f.column.as_deref().unwrap_or(""))?;
        ws.write_string(r, 3, f.value.as_deref().unwrap_or(""))?;
        ws.write_string_with_format(r, 4, &f.message_th, &reason)?;
    }
    ws.set_column_width(0, 14)?;
    ws.set_column_width(2, 22)?;
    ws.set_column_width(3, 22)?;
    ws.set_column_width(4, 80)?;
    ws.set_freeze_panes(1, 0)?;

    // per sheet: header, offending rows, reasons
    for (kind, cut) in &cuts {
        let ws = out.add_worksheet();
        ws.set_name(&cut.name)?;
        ws.write_string_with_format(0, 0, "แถวที่ (ไฟล์เดิม)", &bold)?;
        for (c, h) in cut.header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16 + 1, h, &bold)?;
        }
        let reason_col = cut.header.len() as u16 + 1;
        ws.write_string_with_format(0, reason_col, "เหตุผล", &bold)?;
        for (i, (row, cells)) in cut.rows.iter().enumerate() {
            let r = i as u32 + 1;
            let mine: Vec<&Flag> = flags
                .iter()
                .filter(|f| f.sheet == Some(*kind) && f.row == Some(*row))
                .collect();
            let bad_cols: Vec<usize> = mine
                .iter()
                .filter_map(|f| f.column.as_deref())
                .filter_map(|c| cut.positions.get(&header_key(c)).copied())
                .collect();
            ws.write_number(r, 0, f64::from(*row))?;
            let width = cells.len().max(cut.header.len());
            for c in 0..width {
                let text = cells.get(c).and_then(Cell::display).unwrap_or_default();
                let fmt = if bad_cols.contains(&c) { &bad } else { &plain };
                ws.write_string_with_format(r, c as u16 + 1, &text, fmt)?;
            }
            let reasons: Vec<String> = mine
                .iter()
                .map(|f| match &f.column {
                    Some(c) => format!("{c}: {}", f.message_th),
                    None => f.message_th.clone(),
                })
                .collect();
            ws.write_string_with_format(r, reason_col, reasons.join("\n"), &reason)?;
        }
        ws.set_column_width(reason_col, 80)?;
        ws.set_freeze_panes(1, 1)?;
        tracing::debug!(sheet = %cut.name, rows = cut.rows.len(), "error sheet");
    }
    Ok(out.save_to_buffer()?)
}
