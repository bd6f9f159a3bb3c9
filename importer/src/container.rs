//! The file around the sheets: which format the bytes are (from their first bytes, not the
//! name), refused when encrypted, and — for the zipped formats — the declared sizes checked
//! and every entry but an xlsx's worksheets inflated once under the limits before any reader
//! allocates from it (the shared-string count and the sheet → part map kept for the reader).
//! The scan of a worksheet part ([`PartScanner`]: XML runs, hidden rows, merged ranges) runs
//! on its bytes as calamine reads them ([`crate::sheetzip`]).

use crate::limits::{MAX_XML_RUN, RATIO_FLOOR, ReadLimits, Refusal};
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// The workbook formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Office Open XML (zip).
    Xlsx,
    /// Binary Office Open XML (zip).
    Xlsb,
    /// OpenDocument spreadsheet (zip).
    Ods,
    /// Excel 97–2003 (compound file).
    Xls,
}

/// What the scan of a zipped workbook found.
#[derive(Debug, Default, Clone)]
pub struct Scan {
    /// Bytes of every entry, unzipped.
    pub unzipped: u64,
    /// Items of the shared-string table.
    pub shared_strings: u64,
    /// The worksheet part of each sheet name (xlsx), from the workbook and its relationships.
    pub sheet_parts: HashMap<String, String>,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Which format `bytes` are, or why they are refused. A compound file holding an
/// `EncryptedPackage` is an xlsx with a password.
pub fn detect(bytes: &[u8]) -> Result<Format, Refusal> {
    if bytes.starts_with(CFB_MAGIC) {
        if cfb_has_encrypted_package(bytes) {
            return Err(Refusal::encrypted());
        }
        return Ok(Format::Xls);
    }
    if !bytes.starts_with(ZIP_MAGIC) {
        return Err(Refusal::unreadable());
    }
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::unreadable())?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    if names.iter().any(|n| n == "xl/workbook.bin") {
        Ok(Format::Xlsb)
    } else if names.iter().any(|n| n == "xl/workbook.xml") {
        Ok(Format::Xlsx)
    } else if names.iter().any(|n| n == "content.xml") {
        Ok(Format::Ods)
    } else {
        Err(Refusal::unreadable())
    }
}

/// True when a compound file's directory names an `EncryptedPackage` stream (UTF-16 names
/// in 128-byte directory entries; looked for in the whole file, which is bounded by the
/// upload limit).
fn cfb_has_encrypted_package(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    bytes.windows(name.len()).any(|w| w == name.as_slice())
}

/// What the scan of one worksheet part found.
#[derive(Debug, Default, Clone)]
pub struct PartScan {
    /// Hidden rows (1-based).
    pub hidden_rows: Vec<u32>,
    /// Merged ranges.
    pub merges: Vec<Merge>,
}

/// Inflates every entry of a zipped workbook once, counting bytes, stopping at the first
/// limit: the whole file unzipped, its ratio to the zipped size, and the longest stretch of
/// XML between two `<` (what one XML event may buffer). Encrypted entries are refused as an
/// encrypted file. (An xlsx's worksheet parts are not inflated here: [`crate::sheetzip`]
/// scans them as calamine reads them.)
pub fn scan_zip(bytes: &[u8], limits: &ReadLimits) -> Result<Scan, Refusal> {
    check_declared_sizes(bytes, limits)?;
    scan_entries(bytes, limits, &|_| true)
}

/// True for the name of an xlsx worksheet part.
pub fn is_worksheet(name: &str) -> bool {
    name.starts_with("xl/worksheets/") && name.ends_with(".xml")
}

/// Scans an xlsx: the declared sizes of every entry, then every part but the worksheets
/// (shared strings, workbook, styles: what opening the workbook reads).
pub fn scan_xlsx(bytes: &[u8], limits: &ReadLimits) -> Result<Scan, Refusal> {
    check_declared_sizes(bytes, limits)?;
    scan_entries(bytes, limits, &|n| !is_worksheet(n))
}

/// Refuses a file whose entries' declared unzipped sizes add up past the limits. The zip
/// reader fails an entry that inflates past its declared size (and the rebuilt archive of
/// [`crate::sheetzip`] never yields more), so these bound what any reader can inflate.
fn check_declared_sizes(bytes: &[u8], limits: &ReadLimits) -> Result<(), Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::unreadable())?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let raw = zip.by_index_raw(i).map_err(|_| Refusal::unreadable())?;
        total = total.saturating_add(raw.size());
    }
    if total > limits.max_unzipped {
        return Err(too_large_unzipped(limits));
    }
    if total > RATIO_FLOOR && total > (bytes.len() as u64).saturating_mul(limits.max_ratio) {
        return Err(too_compressed(limits));
    }
    Ok(())
}

fn too_large_unzipped(limits: &ReadLimits) -> Refusal {
    Refusal::file_too_large(
        &format!("ขนาดเมื่อคลายการบีบอัดเกิน {} MB", limits.max_unzipped >> 20),
        &format!("over {} MB unzipped", limits.max_unzipped >> 20),
    )
}

fn too_compressed(limits: &ReadLimits) -> Refusal {
    Refusal::file_too_large(
        &format!("บีบอัดไว้มากกว่า {} เท่า", limits.max_ratio),
        &format!("compressed more than {} to 1", limits.max_ratio),
    )
}

fn too_long_run() -> Refusal {
    Refusal::file_too_large(
        "มีข้อความหรือช่องว่างยาวผิดปกติในแฟ้ม",
        "it holds an abnormally long run of text or white space",
    )
}

/// The scan of one worksheet part, fed its bytes in order as they are inflated: the
/// longest XML run (refused past [`MAX_XML_RUN`]), hidden rows and merged ranges.
pub struct PartScanner {
    xml: XmlRuns,
    rows: TagScanner,
    merges: TagScanner,
}

impl PartScanner {
    /// A scanner for a part of a sheet read under `limits`.
    pub fn new(limits: &ReadLimits) -> Self {
        Self {
            xml: XmlRuns::default(),
            rows: TagScanner::new(b"<row", Some(b"hidden"), limits.max_rows as usize + 1_000),
            merges: TagScanner::new(b"<mergeCell", None, 10_000),
        }
    }

    /// Scans the next bytes of the part; a run of XML past the limit refuses the file.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if self.xml.feed(chunk) > MAX_XML_RUN {
            return Err(too_long_run());
        }
        self.rows.feed(chunk);
        self.merges.feed(chunk);
        Ok(())
    }

    /// What the part holds.
    pub fn finish(self) -> PartScan {
        PartScan {
            hidden_rows: hidden_rows(&self.rows.found),
            merges: merged(&self.merges.found),
        }
    }
}

/// Inflates the entries `wanted` names under the limits.
fn scan_entries(
    bytes: &[u8],
    limits: &ReadLimits,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Scan, Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::unreadable())?;
    let mut scan = Scan::default();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut small: HashMap<&'static str, Vec<u8>> = HashMap::new();
    for i in 0..zip.len() {
        let raw = zip.by_index_raw(i).map_err(|_| Refusal::unreadable())?;
        if raw.encrypted() {
            return Err(Refusal::encrypted());
        }
        let name = raw.name().map(|n| n.into_owned()).unwrap_or_default();
        drop(raw);
        if !wanted(&name) {
            continue;
        }
        let mut entry = zip.by_index(i).map_err(|_| Refusal::unreadable())?;
        let is_sst = name == "xl/sharedStrings.xml";
        let mut items = ItemCounter::default();
        let keep: Option<&'static str> = match name.as_str() {
            "xl/workbook.xml" => Some("workbook"),
            "xl/_rels/workbook.xml.rels" => Some("rels"),
            _ => None,
        };
        let mut xml = XmlRuns::default();
        let mut kept = Vec::new();
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => return Err(Refusal::unreadable()),
            };
            total += n as u64;
            if total > limits.max_unzipped {
                return Err(too_large_unzipped(limits));
            }
            if total > RATIO_FLOOR && total > (bytes.len() as u64).saturating_mul(limits.max_ratio)
            {
                return Err(too_compressed(limits));
            }
            let chunk = &buf[..n];
            if xml.feed(chunk) > MAX_XML_RUN {
                return Err(too_long_run());
            }
            if is_sst && items.feed(chunk) > MAX_SHARED_STRINGS {
                return Err(Refusal::file_too_large(
                    &format!("ข้อความไม่ซ้ำกันเกิน {MAX_SHARED_STRINGS} รายการ"),
                    &format!("over {MAX_SHARED_STRINGS} distinct texts"),
                ));
            }
            if keep.is_some() && kept.len() < 4 * 1024 * 1024 {
                kept.extend_from_slice(chunk);
            }
        }
        if is_sst {
            scan.shared_strings = items.count;
        }
        if let Some(k) = keep {
            small.insert(k, kept);
        }
    }
    scan.unzipped = total;
    if let (Some(wb), Some(rels)) = (small.get("workbook"), small.get("rels")) {
        scan.sheet_parts = sheet_parts(wb, rels);
    }
    Ok(scan)
}

/// The longest stretch between two `<` seen so far, across chunks.
#[derive(Default)]
struct XmlRuns {
    current: u64,
    longest: u64,
}

impl XmlRuns {
    fn feed(&mut self, chunk: &[u8]) -> u64 {
        let (Some(first), Some(last)) = (memchr::memchr(b'<', chunk), memchr::memrchr(b'<', chunk))
        else {
            self.current += chunk.len() as u64;
            self.longest = self.longest.max(self.current);
            return self.longest;
        };
        // the run into the first `<`, the runs inside the chunk (each shorter than the
        // chunk, so only looked at when the chunk itself is longer than a run may be), and
        // the run after the last `<`, which goes on into the next chunk
        self.longest = self.longest.max(self.current + first as u64);
        if chunk.len() as u64 > MAX_XML_RUN {
            let mut prev = first;
            for i in memchr::memchr_iter(b'<', &chunk[first + 1..]) {
                let at = first + 1 + i;
                self.longest = self.longest.max((at - prev - 1) as u64);
                prev = at;
            }
        }
        self.current = (chunk.len() - last - 1) as u64;
        self.longest = self.longest.max(self.current);
        self.longest
    }
}

/// Collects the bodies of the `<NAME …>` tags in a stream of XML chunks (a tag cut between
/// chunks included) that hold `filter`, at most `max` of them, each cut to 512 bytes: a few
/// MB at most, whatever the file.
struct TagScanner {
    needle: &'static [u8],
    /// Only tags whose body holds this are kept (`hidden` for rows).
    filter: Option<&'static [u8]>,
    max: usize,
    /// The tag being read, after its name, up to `>`.
    tag: Option<Vec<u8>>,
    /// The last bytes of the previous chunk, for a tag name cut in two.
    tail: Vec<u8>,
    found: Vec<Vec<u8>>,
}

impl TagScanner {
    const MAX_TAG: usize = 512;

    fn new(needle: &'static [u8], filter: Option<&'static [u8]>, max: usize) -> Self {
        Self {
            needle,
            filter,
            max,
            tag: None,
            tail: Vec::new(),
            found: Vec::new(),
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0;
        if let Some(tag) = self.tag.as_mut() {
            let Some(end) = memchr::memchr(b'>', chunk) else {
                let room = Self::MAX_TAG.saturating_sub(tag.len());
                tag.extend_from_slice(&chunk[..chunk.len().min(room)]);
                return;
            };
            let room = Self::MAX_TAG.saturating_sub(tag.len());
            tag.extend_from_slice(&chunk[..end.min(room)]);
            let tag = self.tag.take().unwrap_or_default();
            self.finish(&tag);
            i = end + 1;
        }
        let n = self.needle.len();
        if !self.tail.is_empty() {
            // a name cut between the chunks: it starts in the kept tail
            let mut joint = std::mem::take(&mut self.tail);
            let kept = joint.len();
            joint.extend_from_slice(&chunk[i..chunk.len().min(i + n - 1)]);
            if let Some(p) = memchr::memmem::find(&joint, self.needle).filter(|p| *p < kept) {
                match self.tag_at(chunk, i + p + n - kept) {
                    Some(next) => i = next,
                    None => return,
                }
            }
        }
        let finder = memchr::memmem::Finder::new(self.needle);
        while let Some(p) = finder.find(&chunk[i..]) {
            match self.tag_at(chunk, i + p + n) {
                Some(next) => i = next,
                None => return,
            }
        }
        // keep a possible cut tag name for the next chunk
        let keep = chunk.len().saturating_sub(i).min(n - 1);
        self.tail = chunk[chunk.len() - keep..].to_vec();
    }

    /// The tag whose body starts at `start`: finished when its `>` is in the chunk (the
    /// position after it returned), else kept open for the next chunk.
    fn tag_at(&mut self, chunk: &[u8], start: usize) -> Option<usize> {
        let rest = &chunk[start.min(chunk.len())..];
        match memchr::memchr(b'>', rest) {
            Some(end) => {
                self.finish(&rest[..end.min(Self::MAX_TAG)]);
                Some(start + end + 1)
            }
            None => {
                self.tag = Some(rest[..rest.len().min(Self::MAX_TAG)].to_vec());
                None
            }
        }
    }

    fn finish(&mut self, tag: &[u8]) {
        // `<rows…` is not `<row`: the name must end with white space
        if tag.first().is_some_and(|b| b.is_ascii_whitespace())
            && self.found.len() < self.max
            && self
                .filter
                .is_none_or(|f| memchr::memmem::find(tag, f).is_some())
        {
            self.found.push(tag.to_vec());
        }
    }
}

/// Counts `<si>` / `<si …>` (shared-string items) across chunks.
#[derive(Default)]
struct ItemCounter {
    tail: Vec<u8>,
    count: u64,
}

impl ItemCounter {
    fn feed(&mut self, chunk: &[u8]) -> u64 {
        let mut data = std::mem::take(&mut self.tail);
        data.extend_from_slice(chunk);
        let finder = memchr::memmem::Finder::new(b"<si");
        let mut last_end = 0;
        for p in finder.find_iter(&data) {
            match data.get(p + 3) {
                Some(b) if *b == b'>' || b.is_ascii_whitespace() || *b == b'/' => self.count += 1,
                Some(_) => {}
                None => break,
            }
            last_end = p + 3;
        }
        let keep = data.len().saturating_sub(last_end).min(3);
        self.tail = data[data.len() - keep..].to_vec();
        self.count
    }
}

/// Most shared strings a workbook may hold (each costs a string in memory before any row is
/// read): twelve times a province's 160,000.
pub const MAX_SHARED_STRINGS: u64 = 2_000_000;

/// The value of attribute `name` in a tag body (no entities: row numbers and references).
fn tag_attr<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&tag[from..], name) {
        let at = from + p;
        let before_ok = at == 0 || tag[at - 1].is_ascii_whitespace();
        let rest = &tag[at + name.len()..];
        if before_ok && rest.first() == Some(&b'=') {
            let q = *rest.get(1)?;
            let body = rest.get(2..)?;
            let end = memchr::memchr(q, body)?;
            return Some(&body[..end]);
        }
        from = at + 1;
    }
    None
}

/// Hidden rows (1-based) from `<row …>` tag bodies.
fn hidden_rows(tags: &[Vec<u8>]) -> Vec<u32> {
    tags.iter()
        .filter(|t| matches!(tag_attr(t, b"hidden"), Some(b"1") | Some(b"true")))
        .filter_map(|t| std::str::from_utf8(tag_attr(t, b"r")?).ok()?.parse().ok())
        .collect()
}

/// Merged ranges (0-based, inclusive) from `<mergeCell …>` tag bodies.
fn merged(tags: &[Vec<u8>]) -> Vec<Merge> {
    tags.iter()
        .filter_map(|t| {
            let r = std::str::from_utf8(tag_attr(t, b"ref")?).ok()?;
            let (a, b) = r.split_once(':')?;
            let (r0, c0) = crate::limits::parse_cell_ref(a)?;
            let (r1, c1) = crate::limits::parse_cell_ref(b)?;
            Some(Merge {
                rows: (r0, r1),
                cols: (c0, c1),
            })
        })
        .collect()
}

/// A merged range of cells, 0-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    /// First and last row.
    pub rows: (u32, u32),
    /// First and last column.
    pub cols: (u32, u32),
}

impl Merge {
    /// True when (row, col) lies in the range but is not its top-left cell (which holds the
    /// merged value).
    pub fn covers(&self, row: u32, col: u32) -> bool {
        (self.rows.0..=self.rows.1).contains(&row)
            && (self.cols.0..=self.cols.1).contains(&col)
            && (row, col) != (self.rows.0, self.cols.0)
    }
}

/// An attribute's value with its entities resolved.
fn attr_value(a: &quick_xml::events::attributes::Attribute<'_>) -> Option<String> {
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .ok()
        .map(|v| v.into_owned())
}

/// Sheet name → worksheet part, from `xl/workbook.xml` and its relationships.
fn sheet_parts(workbook: &[u8], rels: &[u8]) -> HashMap<String, String> {
    use quick_xml::events::Event;
    let mut targets = HashMap::new();
    let mut r = quick_xml::Reader::from_reader(rels);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                let (mut id, mut target) = (None, None);
                for a in e.attributes().flatten() {
                    let v = attr_value(&a);
                    match a.key.local_name().as_ref() {
                        "Id" => id = v,
                        "Target" => target = v,
                        _ => {}
                    }
                }
                if let (Some(id), Some(t)) = (id, target) {
                    let part = match t.strip_prefix('/') {
                        Some(abs) => abs.to_string(),
                        None => format!("xl/{t}"),
                    };
                    targets.insert(id, part);
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    let mut out = HashMap::new();
    let mut r = quick_xml::Reader::from_reader(workbook);
    loop {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "sheet" => {
                let (mut name, mut id) = (None, None);
                for a in e.attributes().flatten() {
                    let v = attr_value(&a);
                    match (a.key.prefix().is_some(), a.key.local_name().as_ref()) {
                        (false, "name") => name = v,
                        (true, "id") => id = v,
                        _ => {}
                    }
                }
                if let (Some(n), Some(part)) = (name, id.and_then(|i| targets.get(&i))) {
                    out.insert(n, part.clone());
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// The cells (0-based) of a worksheet part whose shared-string index is outside a table of
/// `count` strings, in stream order: where calamine's reader stopped on such a cell, so the
/// report names the cell exactly. Only read when that happens.
pub fn bad_shared_string_cells(bytes: &[u8], part: &str, count: u64) -> Vec<(u32, u32)> {
    use quick_xml::events::Event;
    let mut out = Vec::new();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return out;
    };
    let Ok(entry) = zip.by_name(part) else {
        return out;
    };
    let mut r = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
    let mut buf = Vec::new();
    let (mut row, mut col) = (0u32, 0u32);
    let mut current: Option<(u32, u32)> = None;
    let mut in_v = false;
    while let Ok(ev) = r.read_event_into(&mut buf) {
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => match e.local_name().as_ref() {
                "row" => {
                    if let Some(n) = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == "r")
                        .and_then(|a| a.value.trim().parse::<u32>().ok())
                    {
                        row = n.saturating_sub(1);
                    }
                    col = 0;
                }
                "c" => {
                    let attrs: Vec<_> = e.attributes().flatten().collect();
                    let pos = attrs
                        .iter()
                        .find(|a| a.key.as_ref() == "r")
                        .and_then(|a| crate::limits::parse_cell_ref(&a.value))
                        .unwrap_or((row, col));
                    col = pos.1.saturating_add(1);
                    let shared = attrs
                        .iter()
                        .any(|a| a.key.as_ref() == "t" && a.value == "s");
                    current = shared.then_some(pos);
                }
                "v" => in_v = current.is_some(),
                _ => {}
            },
            Event::Text(ref t) if in_v => {
                let text: &str = t.as_ref();
                let idx = text.trim().parse::<u64>().ok();
                if let (Some(pos), Some(i)) = (current, idx)
                    && i >= count
                {
                    out.push(pos);
                }
                in_v = false;
            }
            Event::End(ref e) if e.local_name().as_ref() == "c" => {
                current = None;
                in_v = false;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

/// Bounds an ods `content.xml` before calamine materialises it: per table, the rows up to
/// the last one with a value times the widest row up to its last value, repeats included.
/// Returns the first table over `max_cells`, with its name.
pub fn ods_oversized_table(bytes: &[u8], max_cells: u64) -> Result<Option<String>, Refusal> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::unreadable())?;
    let content = zip
        .by_name("content.xml")
        .map_err(|_| Refusal::unreadable())?;
    let mut r = quick_xml::Reader::from_reader(std::io::BufReader::new(content));
    let mut buf = Vec::new();
    let repeat = |e: &quick_xml::events::BytesStart<'_>, name: &str| -> u64 {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.value.trim().parse().ok())
            .unwrap_or(1)
    };
    let has_value = |e: &quick_xml::events::BytesStart<'_>| {
        e.attributes()
            .flatten()
            .any(|a| a.key.as_ref() == "office:value-type" || a.key.as_ref() == "table:formula")
    };
    let (mut table, mut rows, mut width, mut last_row) = (String::new(), 0u64, 0u64, 0u64);
    let (mut row_repeat, mut col, mut row_last_col) = (1u64, 0u64, 0u64);
    let mut in_cell_with_text = false;
    loop {
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|_| Refusal::unreadable())?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.name().as_ref() {
                    "table:table" => {
                        table = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == "table:name")
                            .and_then(|a| attr_value(&a))
                            .unwrap_or_default();
                        (rows, width, last_row) = (0, 0, 0);
                    }
                    "table:table-row" => {
                        row_repeat = repeat(e, "table:number-rows-repeated");
                        (col, row_last_col) = (0, 0);
                    }
                    "table:table-cell" | "table:covered-table-cell" => {
                        let n = repeat(e, "table:number-columns-repeated");
                        col = col.saturating_add(n);
                        if has_value(e) {
                            row_last_col = col;
                        }
                        in_cell_with_text = !empty;
                    }
                    "text:p" if in_cell_with_text => row_last_col = col,
                    _ => {}
                }
            }
            Event::End(ref e) => match e.name().as_ref() {
                "table:table-row" => {
                    rows = rows.saturating_add(row_repeat);
                    if row_last_col > 0 {
                        last_row = rows;
                        width = width.max(row_last_col);
                    }
                    if last_row.saturating_mul(width) > max_cells {
                        return Ok(Some(table.clone()));
                    }
                }
                "table:table-cell" | "table:covered-table-cell" => in_cell_with_text = false,
                _ => {}
            },
            Event::Eof => return Ok(None),
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_runs_span_chunks() {
        let mut x = XmlRuns::default();
        x.feed(b"<a>   ");
        x.feed(b"      ");
        assert_eq!(x.feed(b"  <b>"), 13);
        // a chunk longer than a run may be is looked at inside too
        let mut big = vec![b'<'];
        big.extend(std::iter::repeat_n(b' ', MAX_XML_RUN as usize + 10));
        big.extend(b"<c>");
        assert_eq!(XmlRuns::default().feed(&big), MAX_XML_RUN + 10);
    }

    #[test]
    fn hidden_rows_are_found_across_chunk_boundaries() {
        let xml = br#"<sheetData><row r="1"><c/></row><row r="2" hidden="1"><c/></row><rows x="1"/><row hidden="true" r="7" spans="1:3"></row></sheetData>"#;
        for cut in 1..xml.len() {
            let mut h = TagScanner::new(b"<row", Some(b"hidden"), 100);
            h.feed(&xml[..cut]);
            h.feed(&xml[cut..]);
            assert_eq!(hidden_rows(&h.found), vec![2, 7], "cut at {cut}");
        }
    }

    #[test]
    fn shared_string_items_are_counted_across_chunks() {
        let xml = b"<sst><si><t>a</t></si><si x=\"1\"><t>b</t></si><sig/><si/></sst>";
        for cut in 1..xml.len() {
            let mut c = ItemCounter::default();
            c.feed(&xml[..cut]);
            assert_eq!(c.feed(&xml[cut..]), 3, "cut at {cut}");
        }
    }

    #[test]
    fn merged_ranges_are_read_from_merge_cell_tags() {
        let xml = br#"<mergeCells count="2"><mergeCell ref="B3:B5"/><mergeCell ref="A1:D1"/></mergeCells>"#;
        let mut m = TagScanner::new(b"<mergeCell", None, 10);
        m.feed(xml);
        let ms = merged(&m.found);
        assert_eq!(
            ms,
            vec![
                Merge {
                    rows: (2, 4),
                    cols: (1, 1)
                },
                Merge {
                    rows: (0, 0),
                    cols: (0, 3)
                }
            ]
        );
        assert!(ms[0].covers(3, 1) && !ms[0].covers(2, 1) && !ms[0].covers(3, 2));
    }

    #[test]
    fn formats_from_first_bytes() {
        assert_eq!(detect(b"hello").unwrap_err().code, "file_unreadable");
        assert_eq!(
            detect(b"PK\x03\x04garbage").unwrap_err().code,
            "file_unreadable"
        );
        let mut cfb = CFB_MAGIC.to_vec();
        cfb.extend(
            "EncryptedPackage"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        );
        assert_eq!(detect(&cfb).unwrap_err().code, "file_encrypted");
        assert_eq!(detect(CFB_MAGIC).unwrap(), Format::Xls);
    }

    #[test]
    fn sheet_parts_follow_relationships() {
        let wb = r#"<workbook xmlns:r="x"><sheets><sheet name="ครัวเรือน" sheetId="1" r:id="rId1"/><sheet name="B" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
        let rels = br#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Target="/xl/worksheets/s2.xml"/></Relationships>"#;
        let parts = sheet_parts(wb.as_bytes(), rels);
        assert_eq!(parts["ครัวเรือน"], "xl/worksheets/sheet1.xml");
        assert_eq!(parts["B"], "xl/worksheets/s2.xml");
    }
}
