//! Opening a workbook from bytes and finding its sheets by name (after normalisation).

use crate::cells::Cell;
use crate::container::{self, Format, PartScan, Scan};
use crate::limits::{ReadLimits, Refusal};
use crate::sheetzip::SheetZip;
use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsb, Xlsx};
use entity::types::ValueError;
use entity::types::text::header_key;
use serde::Serialize;
use std::io::Cursor;
use std::sync::Arc;

/// The six sheets the importer knows, in dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    /// ครัวเรือน
    Households,
    /// สมาชิก
    Members,
    /// ปัญหา
    Problems,
    /// วิเคราะห์
    Analysis,
    /// การช่วยเหลือ
    Assistance,
    /// กองทุน (optional): grants, loans and repayments of the district's poverty funds
    Funds,
}

impl SheetKind {
    /// All, in dependency order.
    pub const ALL: [SheetKind; 6] = [
        SheetKind::Households,
        SheetKind::Members,
        SheetKind::Problems,
        SheetKind::Analysis,
        SheetKind::Assistance,
        SheetKind::Funds,
    ];

    /// Canonical English name (report keys).
    pub fn key(self) -> &'static str {
        match self {
            SheetKind::Households => "households",
            SheetKind::Members => "members",
            SheetKind::Problems => "problems",
            SheetKind::Analysis => "analysis",
            SheetKind::Assistance => "assistance",
            SheetKind::Funds => "funds",
        }
    }

    /// Canonical Thai name.
    pub fn name_th(self) -> &'static str {
        self.aliases()[0]
    }

    /// Names the sheet may have; the first is the canonical Thai one.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            SheetKind::Households => &["ครัวเรือน", "households", "household", "ข้อมูลครัวเรือน"],
            SheetKind::Members => &["สมาชิก", "members", "สมาชิกในครัวเรือน"],
            SheetKind::Problems => &["ปัญหา", "problems", "ปัญหาตามตัวชี้วัด", "ตัวชี้วัดที่ไม่ผ่าน"],
            SheetKind::Analysis => &["วิเคราะห์", "analysis", "วิเคราะห์ 4ท", "ศจพ.3"],
            SheetKind::Assistance => &["การช่วยเหลือ", "assistance", "logbook", "ผลการช่วยเหลือ"],
            SheetKind::Funds => &["กองทุน", "funds", "fund", "เงินกองทุน", "กองทุนแก้จน"],
        }
    }

    /// The sheet a normalised name means, if any.
    pub fn from_name(name: &str) -> Option<SheetKind> {
        let k = header_key(name);
        SheetKind::ALL
            .into_iter()
            .find(|s| s.aliases().iter().any(|a| header_key(a) == k))
    }
}

/// An opened workbook: its format checked from its bytes, zipped formats scanned under
/// the limits, and whole-sheet formats (xls, ods, xlsb) bounded before they materialise.
pub struct Workbook {
    inner: Inner,
    scan: Scan,
    /// The file (for naming the exact cell of a damaged value).
    bytes: Arc<[u8]>,
    limits: ReadLimits,
}

/// The file's bytes, shared by the reader and the scan of its worksheet parts.
type Bytes = Cursor<Arc<[u8]>>;

enum Inner {
    /// With the archive it reads from, which scans each worksheet part as it is read.
    Xlsx(Xlsx<SheetZip>, SheetZip),
    Xlsb(Xlsb<Bytes>),
    Ods(Ods<Bytes>),
    Xls(Xls<Bytes>),
}

/// Excel's grid: no real cell lies outside it.
const EXCEL_ROWS: u32 = 1_048_576;
const EXCEL_COLUMNS: u32 = 16_384;

impl Workbook {
    /// Opens xlsx, xlsb, xls or ods bytes (the format from the bytes, not the name).
    pub fn open(bytes: Vec<u8>, limits: &ReadLimits) -> Result<Self, Refusal> {
        Self::open_shared(Arc::from(bytes), limits)
    }

    /// The file's bytes, shared (to open a second reader over them).
    pub fn shared_bytes(&self) -> Arc<[u8]> {
        self.bytes.clone()
    }

    /// [`Workbook::open`] over bytes shared with another reader.
    pub fn open_shared(bytes: Arc<[u8]>, limits: &ReadLimits) -> Result<Self, Refusal> {
        let format = container::detect(&bytes)?;
        let scan = match format {
            Format::Xls => Scan::default(),
            Format::Xlsx => container::scan_xlsx(&bytes, limits)?,
            _ => container::scan_zip(&bytes, limits)?,
        };
        if format == Format::Ods
            && let Some(table) = container::ods_oversized_table(&bytes, limits.max_sheet_cells)?
        {
            return Err(Refusal::sheet_too_large(
                &table,
                &format!("เกิน {} เซลล์", limits.max_sheet_cells),
                &format!("over {} cells", limits.max_sheet_cells),
            ));
        }
        if format == Format::Xls {
            xls_bound(&bytes, limits)?;
        }
        let cursor = Cursor::new(bytes.clone());
        let inner = match format {
            Format::Xlsx => {
                let zip = SheetZip::new(bytes.clone(), limits)?;
                Inner::Xlsx(Xlsx::new(zip.clone()).map_err(xlsx_refusal)?, zip)
            }
            Format::Xlsb => Inner::Xlsb(Xlsb::new(cursor).map_err(|_| Refusal::unreadable())?),
            Format::Ods => Inner::Ods(Ods::new(cursor).map_err(|e| match e {
                calamine::OdsError::Password => Refusal::encrypted(),
                _ => Refusal::unreadable(),
            })?),
            Format::Xls => Inner::Xls(Xls::new(cursor).map_err(|e| match e {
                calamine::XlsError::Password => Refusal::encrypted(),
                _ => Refusal::unreadable(),
            })?),
        };
        Ok(Self {
            inner,
            scan,
            bytes,
            limits: *limits,
        })
    }

    /// The archive an xlsx is read from.
    fn zip(&self) -> Option<&SheetZip> {
        match &self.inner {
            Inner::Xlsx(_, zip) => Some(zip),
            _ => None,
        }
    }

    fn metadata(&self) -> &[calamine::Sheet] {
        match &self.inner {
            Inner::Xlsx(x, _) => x.sheets_metadata(),
            Inner::Xlsb(x) => x.sheets_metadata(),
            Inner::Ods(x) => x.sheets_metadata(),
            Inner::Xls(x) => x.sheets_metadata(),
        }
    }

    /// Where to split these sheets (in order) between two readers: the prefix whose
    /// unzipped size is closest to half of all of theirs. Only an xlsx with at least `from`
    /// bytes of worksheets is split (another reader costs a second read of the shared
    /// strings); otherwise all go to one.
    pub fn split_for_two(&self, sheets: &[(usize, SheetKind, String)], from: u64) -> usize {
        let Some(zip) = self.zip() else {
            return sheets.len();
        };
        let sizes: Vec<u64> = sheets
            .iter()
            .map(|(_, _, name)| {
                self.scan
                    .sheet_parts
                    .get(name)
                    .and_then(|p| zip.part_size(p))
                    .unwrap_or(0)
            })
            .collect();
        let total: u64 = sizes.iter().sum();
        if sheets.len() < 2 || total < from {
            return sheets.len();
        }
        let (mut best, mut at, mut acc) = (u64::MAX, sheets.len(), 0u64);
        for (k, size) in sizes.iter().enumerate().take(sheets.len() - 1) {
            acc += size;
            let gap = acc.abs_diff(total - acc);
            if gap < best {
                (best, at) = (gap, k + 1);
            }
        }
        at
    }

    /// Sheet names in workbook order.
    pub fn sheet_names(&self) -> Vec<String> {
        self.metadata().iter().map(|s| s.name.clone()).collect()
    }

    /// True when the sheet is hidden (or very hidden) in Excel.
    pub fn is_hidden(&self, name: &str) -> bool {
        self.metadata()
            .iter()
            .any(|s| s.name == name && s.visible != calamine::SheetVisible::Visible)
    }

    /// Rows (1-based) the sheet marks hidden, and its merged ranges (xlsx): the scan of the
    /// sheet's part, finished past where calamine stopped reading; a limit hit on the way
    /// refuses the file.
    pub fn sheet_marks(
        &self,
        name: &str,
    ) -> Result<(Vec<u32>, Vec<crate::container::Merge>), Refusal> {
        let (Some(zip), Some(part)) = (self.zip(), self.scan.sheet_parts.get(name)) else {
            return Ok((Vec::new(), Vec::new()));
        };
        zip.finish(part)
            .map(|p: PartScan| (p.hidden_rows, p.merges))
    }

    /// Every non-blank cell of a sheet, in stream order, as `(row, column, value)`
    /// (0-based); the value becomes a [`Cell`] only when asked ([`Value::cell`]). xlsx is
    /// streamed cell by cell; the other formats were bounded when opened. A cell outside
    /// the column limit or Excel's grid stops the sheet with `sheet_too_large`; `f` may stop
    /// it with its own refusal.
    pub fn cells(
        &mut self,
        name: &str,
        mut f: impl FnMut(u32, u32, Value<'_, '_>) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let limits = self.limits;
        let mut bounded = |row: u32, col: u32, v: Value<'_, '_>| -> Result<(), Refusal> {
            if v.is_blank() {
                return Ok(());
            }
            if col >= limits.max_columns || col >= EXCEL_COLUMNS || row >= EXCEL_ROWS {
                return Err(Refusal::sheet_too_large(
                    name,
                    &format!(
                        "มีข้อมูลที่เซลล์ {} เกิน {} คอลัมน์",
                        crate::limits::cell_ref(row, col),
                        limits.max_columns
                    ),
                    &format!(
                        "a value at {} is beyond {} columns",
                        crate::limits::cell_ref(row, col),
                        limits.max_columns
                    ),
                )
                .at(row, col));
            }
            f(row, col, v)
        };
        let (bytes, part, sst, zip) = (
            self.bytes.clone(),
            self.scan.sheet_parts.get(name).cloned(),
            self.scan.shared_strings,
            self.zip().cloned(),
        );
        // a read error after a limit was hit is that limit
        let why = || match zip.as_ref().and_then(SheetZip::refusal) {
            Some(r) => r.sheet(name),
            None => Refusal::sheet_unreadable(name),
        };
        let stopped = |at: (u32, u32)| why().at(at.0, at.1);
        match &mut self.inner {
            Inner::Xlsx(x, _) => {
                let mut bad_cells: Option<std::vec::IntoIter<(u32, u32)>> = None;
                let shared = SharedCells::default();
                // stopped before the first cell: no cell to name
                let mut reader = x.worksheet_cells_reader(name).map_err(|_| why())?;
                let mut last = (0u32, 0u32);
                loop {
                    match reader.next_cell_with_formula_metadata() {
                        Ok(Some(rec)) => {
                            let (row, col) = rec.pos;
                            last = (row, col);
                            let v = if rec.value == DataRef::Empty {
                                if rec.formula.is_some() {
                                    Value::Refused(ValueError::FormulaWithoutValue)
                                } else {
                                    continue;
                                }
                            } else {
                                Value::Streamed(&rec.value, limits.max_cell_chars, Some(&shared))
                            };
                            bounded(row, col, v)?;
                        }
                        Ok(None) => return Ok(()),
                        Err(calamine::XlsxError::Unexpected(m)) if m.contains("shared strings") => {
                            // which cell: the part is read again for the cells whose index is
                            // outside the table, in order (only when this happens)
                            let cells = bad_cells.get_or_insert_with(|| {
                                part.as_deref()
                                    .map(|p| container::bad_shared_string_cells(&bytes, p, sst))
                                    .unwrap_or_default()
                                    .into_iter()
                            });
                            let Some((row, col)) = cells.next() else {
                                return Err(stopped(last));
                            };
                            last = (row, col);
                            bounded(row, col, Value::Refused(ValueError::CellUnreadable))?;
                        }
                        Err(_) => return Err(stopped(last)),
                    }
                }
            }
            Inner::Xlsb(x) => {
                // streamed too: calamine's xlsb range is sized from the cells' corners
                let mut reader = x
                    .worksheet_cells_reader(name)
                    .map_err(|_| Refusal::sheet_unreadable(name))?;
                let mut last = (0u32, 0u32);
                loop {
                    match reader.next_cell() {
                        Ok(Some(c)) => {
                            let (row, col) = c.get_position();
                            last = (row, col);
                            if *c.get_value() != DataRef::Empty {
                                bounded(
                                    row,
                                    col,
                                    Value::Streamed(c.get_value(), limits.max_cell_chars, None),
                                )?;
                            }
                        }
                        Ok(None) => return Ok(()),
                        Err(_) => return Err(Refusal::sheet_unreadable(name).at(last.0, last.1)),
                    }
                }
            }
            inner => {
                let range = match inner {
                    Inner::Ods(x) => x.worksheet_range(name).map_err(|_| ()),
                    Inner::Xls(x) => x.worksheet_range(name).map_err(|_| ()),
                    Inner::Xlsx(..) | Inner::Xlsb(_) => Err(()),
                }
                .map_err(|_| Refusal::sheet_unreadable(name))?;
                let (r0, c0) = range.start().unwrap_or((0, 0));
                for (r, row) in range.rows().enumerate() {
                    for (c, d) in row.iter().enumerate() {
                        if *d != Data::Empty {
                            bounded(
                                r0 + r as u32,
                                c0 + c as u32,
                                Value::Whole(d, limits.max_cell_chars),
                            )?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// The cells made from each shared string of a sheet, by the string's address in the
/// workbook's table (compared, never followed): a text repeated down a column is checked
/// and normalised once, and its cells share one copy.
#[derive(Default)]
pub struct SharedCells(std::cell::RefCell<foldhash::HashMap<(usize, usize), Cell>>);

/// A cell's value as the reader found it, turned into a [`Cell`] only when asked.
pub enum Value<'v, 'a> {
    /// A streamed value, with the cell character limit and the sheet's shared-string cells.
    Streamed(&'v DataRef<'a>, usize, Option<&'v SharedCells>),
    /// A value of a whole-sheet range, with the cell character limit.
    Whole(&'v Data, usize),
    /// A cell that cannot be read as a value.
    Refused(ValueError),
}

impl Value<'_, '_> {
    /// The normalised cell.
    pub fn cell(&self) -> Cell {
        match self {
            Value::Streamed(DataRef::SharedString(s), max, Some(shared)) => {
                let key = (s.as_ptr() as usize, s.len());
                if let Some(c) = shared.0.borrow().get(&key) {
                    return c.clone();
                }
                let c = Cell::text(&crate::cells::ooxml_unescape(s), *max);
                shared.0.borrow_mut().insert(key, c.clone());
                c
            }
            Value::Streamed(d, max, _) => Cell::from_data_ref(d, *max),
            Value::Whole(d, max) => Cell::from_data(d, *max),
            Value::Refused(e) => Cell::refused_for(e.clone(), None),
        }
    }

    /// True for text of white space only (what normalisation makes empty), without
    /// normalising it.
    fn is_blank(&self) -> bool {
        let blank = |s: &str| {
            s.chars().all(|c| {
                c.is_whitespace() || matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}')
            })
        };
        match self {
            Value::Streamed(DataRef::String(s), ..) => blank(s),
            Value::Streamed(DataRef::SharedString(s), ..) => blank(s),
            Value::Whole(Data::String(s), _) => blank(s),
            _ => false,
        }
    }
}

/// Refuses an xls whose sheets would materialise more cells than the limit: calamine builds
/// each sheet's rectangle when the file is opened, so the BIFF cell records of the
/// `Workbook` stream are walked first, per sheet substream, for their smallest and largest
/// row and column.
fn xls_bound(bytes: &[u8], limits: &ReadLimits) -> Result<(), Refusal> {
    use std::io::Read;
    // cell records carrying (row, col) first: LABELSST, NUMBER, RK, BLANK, LABEL, BOOLERR,
    // FORMULA, MULRK, MULBLANK
    const CELLS: [u16; 9] = [
        0x00FD, 0x0203, 0x027E, 0x0201, 0x0204, 0x0205, 0x0006, 0x00BD, 0x00BE,
    ];
    let mut file =
        cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|_| Refusal::unreadable())?;
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| file.is_stream(n))
        .ok_or_else(Refusal::unreadable)?;
    let mut stream = Vec::new();
    file.open_stream(name)
        .and_then(|s| s.take(bytes.len() as u64 * 2).read_to_end(&mut stream))
        .map_err(|_| Refusal::unreadable())?;
    let mut bounds: Option<(u64, u64, u64, u64)> = None;
    let check = |b: &mut Option<(u64, u64, u64, u64)>| -> Result<(), Refusal> {
        if let Some((r0, r1, c0, c1)) = b.take()
            && (r1 - r0 + 1) * (c1 - c0 + 1) > limits.max_sheet_cells
        {
            return Err(Refusal::file_too_large(
                &format!(
                    "แผ่นงานแบบ .xls ใหญ่เกิน {} เซลล์ ให้บันทึกเป็น .xlsx แล้วส่งใหม่",
                    limits.max_sheet_cells
                ),
                &format!(
                    "an .xls sheet spans over {} cells; save it as .xlsx and send it again",
                    limits.max_sheet_cells
                ),
            ));
        }
        Ok(())
    };
    let mut i = 0usize;
    while i + 4 <= stream.len() {
        let typ = u16::from_le_bytes([stream[i], stream[i + 1]]);
        let len = u16::from_le_bytes([stream[i + 2], stream[i + 3]]) as usize;
        let data = &stream[(i + 4).min(stream.len())..(i + 4 + len).min(stream.len())];
        if typ == 0x0809 {
            check(&mut bounds)?;
        } else if CELLS.contains(&typ) && data.len() >= 6 {
            let row = u64::from(u16::from_le_bytes([data[0], data[1]]));
            let col = u64::from(u16::from_le_bytes([data[2], data[3]]));
            let last = if matches!(typ, 0x00BD | 0x00BE) {
                u64::from(u16::from_le_bytes([
                    data[data.len() - 2],
                    data[data.len() - 1],
                ]))
            } else {
                col
            };
            let (r0, r1, c0, c1) = bounds.get_or_insert((row, row, col, col));
            (*r0, *r1, *c0, *c1) = (
                (*r0).min(row),
                (*r1).max(row),
                (*c0).min(col),
                (*c1).max(col.max(last)),
            );
        }
        i += 4 + len;
    }
    check(&mut bounds)
}

fn xlsx_refusal(e: calamine::XlsxError) -> Refusal {
    match e {
        calamine::XlsxError::Password => Refusal::encrypted(),
        _ => Refusal::unreadable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_one_shared_string_are_made_once_and_share_their_text() {
        let table = ["  ศรีสะเกษ ".to_string(), "a\u{0}b".to_string()];
        let shared = SharedCells::default();
        let make = |i: usize| {
            Value::Streamed(&DataRef::SharedString(&table[i]), 100, Some(&shared)).cell()
        };
        let (a, b) = (make(0), make(0));
        match (&a, &b) {
            (Cell::Text(x), Cell::Text(y)) => {
                assert_eq!(&**x, "ศรีสะเกษ");
                assert!(Arc::ptr_eq(x, y), "one copy for both cells");
            }
            other => panic!("{other:?}"),
        }
        // a refused string stays refused from the cache
        assert_eq!(
            make(1).refused().map(ValueError::code),
            Some("control_character".into())
        );
        assert_eq!(
            make(1).refused().map(ValueError::code),
            Some("control_character".into())
        );
        assert_eq!(shared.0.borrow().len(), 2);
    }
}
