//! The archive calamine reads an xlsx from: the uploaded one, with each worksheet part
//! served as a *stored* entry whose bytes are inflated from the original only as calamine
//! reads them. Every chunk passes the part's scan ([`PartScanner`]: the longest XML run,
//! hidden rows, merged ranges) before calamine's XML reader sees it, so a limit stops the
//! read where it is hit, and each worksheet is inflated once.
//!
//! The other entries are served as they are (calamine inflates them; the container scan
//! has already inflated them once under the limits). Sizes come from the central directory,
//! which the container scan checked against the limits; a part never yields more than its
//! declared size, and its CRC-32 is the original's, which zip checks at the end.

use crate::container::{PartScan, PartScanner, is_worksheet};
use crate::limits::{ReadLimits, Refusal};
use std::collections::HashMap;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

/// A reader of the rebuilt archive; clones share one state (calamine owns one, the
/// [`crate::workbook::Workbook`] keeps another to ask for a part's scan).
#[derive(Clone)]
pub struct SheetZip {
    state: Arc<Mutex<State>>,
    pos: u64,
}

struct State {
    bytes: Arc<[u8]>,
    limits: ReadLimits,
    regions: Vec<Region>,
    parts: Vec<Part>,
    open: Option<Open>,
    done: HashMap<usize, PartScan>,
    refusal: Option<Refusal>,
}

/// A stretch of the rebuilt archive.
struct Region {
    start: u64,
    len: u64,
    source: Source,
}

enum Source {
    /// Headers and the central directory, made here.
    Made(Vec<u8>),
    /// An entry's data as it is in the original, from this offset.
    Copied(usize),
    /// A worksheet part, inflated on demand (index into `parts`).
    Part(usize),
}

struct Part {
    name: String,
    data: Range<usize>,
    deflated: bool,
    size: u64,
}

/// The part being inflated.
struct Open {
    part: usize,
    at: u64,
    reader: Box<dyn Read + Send>,
    scan: PartScanner,
}

/// A slice of the shared file bytes, owned.
struct Slice(Arc<[u8]>, Range<usize>);

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.0[self.1.clone()]
    }
}

const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// UTF-8 names (general purpose bit 11): the only flag kept.
const UTF8_NAMES: u16 = 0x0800;

impl SheetZip {
    /// Rebuilds the archive of an xlsx; refused as unreadable when it is not a zip this
    /// reader can serve (an entry method other than stored or deflate, sizes past 4 GB,
    /// over 65,535 entries).
    pub fn new(bytes: Arc<[u8]>, limits: &ReadLimits) -> Result<Self, Refusal> {
        let mut zip =
            zip::ZipArchive::new(Cursor::new(&bytes[..])).map_err(|_| Refusal::unreadable())?;
        let entries = u16::try_from(zip.len()).map_err(|_| Refusal::unreadable())?;
        let (mut regions, mut parts, mut central) = (Vec::new(), Vec::new(), Vec::new());
        let mut offset = 0u64;
        let u32_of = |n: u64| u32::try_from(n).map_err(|_| Refusal::unreadable());
        for i in 0..zip.len() {
            let e = zip.by_index_raw(i).map_err(|_| Refusal::unreadable())?;
            if e.encrypted() {
                return Err(Refusal::encrypted());
            }
            let method = match e.compression() {
                zip::CompressionMethod::Stored => STORED,
                zip::CompressionMethod::Deflated => DEFLATED,
                _ => return Err(Refusal::unreadable()),
            };
            let name = e.name_raw().to_vec();
            let start = usize::try_from(e.data_start().ok_or_else(Refusal::unreadable)?)
                .map_err(|_| Refusal::unreadable())?;
            let data = start
                ..start
                    .checked_add(
                        usize::try_from(e.compressed_size()).map_err(|_| Refusal::unreadable())?,
                    )
                    .filter(|end| *end <= bytes.len())
                    .ok_or_else(Refusal::unreadable)?;
            let part = e
                .name()
                .ok()
                .filter(|n| is_worksheet(n))
                .map(|n| n.into_owned());
            let (method, stored_len) = match &part {
                Some(_) => (STORED, e.size()),
                None => (method, e.compressed_size()),
            };
            let fields = Fields {
                flags: e.flags().as_u16() & UTF8_NAMES,
                method,
                crc: e.crc32(),
                compressed: u32_of(stored_len)?,
                size: u32_of(e.size())?,
                name: &name,
            };
            let header = fields.local();
            central.extend(fields.central(u32_of(offset)?));
            let header_len = header.len() as u64;
            regions.push(Region {
                start: offset,
                len: header_len,
                source: Source::Made(header),
            });
            offset += header_len;
            let source = match part {
                Some(name) => {
                    parts.push(Part {
                        name,
                        data,
                        deflated: e.compression() == zip::CompressionMethod::Deflated,
                        size: e.size(),
                    });
                    Source::Part(parts.len() - 1)
                }
                None => Source::Copied(data.start),
            };
            regions.push(Region {
                start: offset,
                len: stored_len,
                source,
            });
            offset += stored_len;
        }
        let mut end = Vec::with_capacity(22);
        end.extend(0x0605_4b50u32.to_le_bytes());
        end.extend([0u8; 4]); // this disk, the central directory's disk
        end.extend(entries.to_le_bytes());
        end.extend(entries.to_le_bytes());
        end.extend(u32_of(central.len() as u64)?.to_le_bytes());
        end.extend(u32_of(offset)?.to_le_bytes());
        end.extend([0u8; 2]); // no comment
        central.extend(end);
        regions.push(Region {
            start: offset,
            len: central.len() as u64,
            source: Source::Made(central),
        });
        Ok(Self {
            state: Arc::new(Mutex::new(State {
                bytes,
                limits: *limits,
                regions,
                parts,
                open: None,
                done: HashMap::new(),
                refusal: None,
            })),
            pos: 0,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worksheet part's size unzipped, as declared.
    pub fn part_size(&self, part: &str) -> Option<u64> {
        self.state()
            .parts
            .iter()
            .find(|p| p.name == part)
            .map(|p| p.size)
    }

    /// The limit a read stopped at, if one did (calamine then reports a read error).
    pub fn refusal(&self) -> Option<Refusal> {
        self.state().refusal.clone()
    }

    /// The scan of a worksheet part: the rest of the part is inflated through the scan
    /// when calamine stopped reading before its end (at `</sheetData>`); a part not read yet
    /// is scanned whole.
    pub fn finish(&self, part: &str) -> Result<PartScan, Refusal> {
        let mut st = self.state();
        let Some(p) = st.parts.iter().position(|x| x.name == part) else {
            return Ok(PartScan::default());
        };
        if let Some(r) = &st.refusal {
            return Err(r.clone());
        }
        if st.open.as_ref().is_none_or(|o| o.part != p) {
            if let Some(done) = st.done.get(&p) {
                return Ok(done.clone());
            }
            st.open = Some(st.open_part(p));
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match st.read_open(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    return Err(st.refusal.clone().unwrap_or_else(Refusal::unreadable));
                }
            }
        }
        let scan = st.open.take().map(|o| o.scan.finish()).unwrap_or_default();
        st.done.insert(p, scan.clone());
        Ok(scan)
    }
}

/// The fields a local header and its central-directory record share.
struct Fields<'a> {
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    name: &'a [u8],
}

impl Fields<'_> {
    /// version needed, flags, method, time, date (1980-01-01), CRC, sizes, name length, no
    /// extra field
    fn common(&self, out: &mut Vec<u8>) {
        out.extend(20u16.to_le_bytes());
        out.extend(self.flags.to_le_bytes());
        out.extend(self.method.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0x21u16.to_le_bytes());
        out.extend(self.crc.to_le_bytes());
        out.extend(self.compressed.to_le_bytes());
        out.extend(self.size.to_le_bytes());
        out.extend((self.name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
    }

    fn local(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(30 + self.name.len());
        out.extend(0x0403_4b50u32.to_le_bytes());
        self.common(&mut out);
        out.extend(self.name);
        out
    }

    fn central(&self, local_offset: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(46 + self.name.len());
        out.extend(0x0201_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes()); // made by
        self.common(&mut out);
        out.extend([0u8; 2 + 2 + 2 + 4]); // comment length, disk, internal, external attributes
        out.extend(local_offset.to_le_bytes());
        out.extend(self.name);
        out
    }
}

impl State {
    fn len(&self) -> u64 {
        self.regions.last().map_or(0, |r| r.start + r.len)
    }

    fn open_part(&self, p: usize) -> Open {
        let part = &self.parts[p];
        let data = Cursor::new(Slice(self.bytes.clone(), part.data.clone()));
        let reader: Box<dyn Read + Send> = if part.deflated {
            Box::new(flate2::read::DeflateDecoder::new(data))
        } else {
            Box::new(data)
        };
        Open {
            part: p,
            at: 0,
            reader,
            scan: PartScanner::new(&self.limits),
        }
    }

    /// The next bytes of the open part, scanned; an error once a limit is hit.
    fn read_open(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(open) = self.open.as_mut() else {
            return Ok(0);
        };
        if self.refusal.is_some() {
            return Err(io::Error::other("stopped at a limit"));
        }
        let n = open.reader.read(buf)?;
        if let Err(r) = open.scan.feed(&buf[..n]) {
            self.refusal = Some(r);
            return Err(io::Error::other("stopped at a limit"));
        }
        open.at += n as u64;
        Ok(n)
    }

    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let i = self.regions.partition_point(|r| r.start + r.len <= pos);
        let Some(r) = self.regions.get(i) else {
            return Ok(0);
        };
        let off = pos - r.start;
        let n = usize::try_from((r.len - off).min(buf.len() as u64)).unwrap_or(buf.len());
        let out = &mut buf[..n];
        match r.source {
            Source::Made(ref v) => {
                out.copy_from_slice(&v[off as usize..off as usize + n]);
                Ok(n)
            }
            Source::Copied(start) => {
                let from = start + off as usize;
                out.copy_from_slice(&self.bytes[from..from + n]);
                Ok(n)
            }
            Source::Part(p) => {
                if self.open.as_ref().is_none_or(|o| o.part != p || o.at > off) {
                    self.open = Some(self.open_part(p));
                }
                // a forward seek inside the part: inflate up to it through the scan
                let mut skip = [0u8; 8 * 1024];
                while let Some(at) = self.open.as_ref().map(|o| o.at)
                    && at < off
                {
                    let want = ((off - at) as usize).min(skip.len());
                    if self.read_open(&mut skip[..want])? == 0 {
                        return Ok(0);
                    }
                }
                self.read_open(out)
            }
        }
    }
}

impl Read for SheetZip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.pos;
        let n = self.state().read_at(pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SheetZip {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.state().len();
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn xlsx_like(sheet: &[u8], method: zip::CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, body) in [
            ("xl/workbook.xml", &b"<workbook/>"[..]),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/styles.xml", b"<styleSheet/>"),
        ] {
            w.start_file(name, opts).expect("entry");
            w.write_all(body).expect("write");
        }
        w.finish().expect("zip").into_inner()
    }

    fn read_all(z: &SheetZip, name: &str) -> zip::result::ZipResult<Vec<u8>> {
        let mut a = zip::ZipArchive::new(z.clone())?;
        let mut out = Vec::new();
        a.by_name(name)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn the_rebuilt_archive_holds_the_same_entries_and_scans_the_parts() {
        let sheet = br#"<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="2" hidden="1"><c r="A2"><v>2</v></c></row></sheetData><mergeCells count="1"><mergeCell ref="B3:B5"/></mergeCells></worksheet>"#;
        for method in [
            zip::CompressionMethod::Deflated,
            zip::CompressionMethod::Stored,
        ] {
            let bytes: Arc<[u8]> = Arc::from(xlsx_like(sheet, method));
            let z = SheetZip::new(bytes, &ReadLimits::default()).expect("rebuilt");
            assert_eq!(
                read_all(&z, "xl/worksheets/sheet1.xml").expect("part"),
                sheet
            );
            assert_eq!(
                read_all(&z, "xl/styles.xml").expect("styles"),
                b"<styleSheet/>"
            );
            let scan = z.finish("xl/worksheets/sheet1.xml").expect("scan");
            assert_eq!(scan.hidden_rows, vec![2]);
            assert_eq!(scan.merges.len(), 1);
            // a part never read is scanned whole when asked
            let z2 = SheetZip::new(Arc::from(xlsx_like(sheet, method)), &ReadLimits::default())
                .expect("rebuilt");
            assert_eq!(
                z2.finish("xl/worksheets/sheet1.xml")
                    .expect("scan")
                    .hidden_rows,
                vec![2]
            );
        }
    }

    #[test]
    fn a_long_run_stops_the_read_where_it_is_and_names_the_limit() {
        let mut sheet = b"<worksheet><sheetData>".to_vec();
        sheet.extend(std::iter::repeat_n(b' ', 6 << 20));
        sheet.extend(b"</sheetData></worksheet>");
        let bytes: Arc<[u8]> = Arc::from(xlsx_like(&sheet, zip::CompressionMethod::Deflated));
        let z = SheetZip::new(bytes, &ReadLimits::default()).expect("rebuilt");
        assert!(read_all(&z, "xl/worksheets/sheet1.xml").is_err());
        let r = z.refusal().expect("a refusal");
        assert_eq!(r.code, "file_too_large");
        assert!(z.finish("xl/worksheets/sheet1.xml").is_err());
    }

    #[test]
    fn a_part_that_inflates_short_of_its_declared_size_is_an_error_not_a_hang() {
        let sheet = b"<worksheet><sheetData></sheetData></worksheet>";
        let mut bytes = xlsx_like(sheet, zip::CompressionMethod::Deflated);
        // raise the declared size in the central directory record of the sheet
        let name = b"xl/worksheets/sheet1.xml";
        let at = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == 0x0201_4b50u32.to_le_bytes())
            .map(|(i, _)| i)
            .find(|i| bytes[i + 46..].starts_with(name))
            .expect("central record");
        bytes[at + 24..at + 28].copy_from_slice(&1000u32.to_le_bytes());
        let z = SheetZip::new(Arc::from(bytes), &ReadLimits::default()).expect("rebuilt");
        assert!(read_all(&z, "xl/worksheets/sheet1.xml").is_err());
    }
}
