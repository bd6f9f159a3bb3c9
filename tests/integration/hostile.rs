//! Hostile and malformed workbooks: each class as a small file made here, with its exact
//! outcome and code — bombs stop at their limit, nothing panics or aborts, every value is
//! read as the workbook shows it or refused — and a property test that mutates the XML of
//! valid workbooks and asserts every outcome is a report.

use crate::helpers::{TestApp, dataset, render, today};
use crate::on_both_databases;
use importer::header::{aa, columns, hh, mm};
use importer::report::ImportStatus;
use importer::workbook::SheetKind;
use importer::{ReadLimits, ReadWorkbook, Refusal, read_workbook};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use std::io::{Cursor, Read, Write};

/// The entries of a zip, in order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut v = Vec::new();
            f.read_to_end(&mut v).expect("inflate");
            (f.name().expect("name").into_owned(), v)
        })
        .collect()
}

/// A zip of the entries (deflated).
fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// The workbook with one entry's text changed by `f`.
pub fn patch(bytes: &[u8], entry: &str, f: impl Fn(String) -> String) -> Vec<u8> {
    let mut entries = unzip(bytes);
    let e = entries
        .iter_mut()
        .find(|(n, _)| n == entry)
        .unwrap_or_else(|| panic!("no entry {entry}"));
    e.1 = f(String::from_utf8(std::mem::take(&mut e.1)).expect("utf-8")).into_bytes();
    rezip(&entries)
}

/// The workbook with the first sheet's cell `cell` (its whole `<c …>…</c>`) replaced by `xml`.
fn replace_cell(bytes: &[u8], cell: &str, xml: &str) -> Vec<u8> {
    patch(bytes, "xl/worksheets/sheet1.xml", |x| {
        let start = x.find(&format!("<c r=\"{cell}\"")).expect("the cell");
        let end = start + x[start..].find("</c>").expect("its end") + 4;
        format!("{}{xml}{}", &x[..start], &x[end..])
    })
}

/// A workbook of one sheet: a header of canonical Thai column names, then rows of text.
fn sheet(kind: SheetKind, cols: &[usize], rows: &[&[&str]]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(kind.name_th()).expect("name");
    for (c, col) in cols.iter().enumerate() {
        ws.write_string(0, c as u16, columns(kind)[*col].aliases[0])
            .expect("write");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, *v).expect("write");
            }
        }
    }
    wb.save_to_buffer().expect("save")
}

const HH_COLS: [usize; 6] = [
    hh::HOUSE_CODE,
    hh::VILLAGE_NO,
    hh::SUBDISTRICT,
    hh::DISTRICT,
    hh::PROVINCE,
    hh::COHORT,
];

pub fn households(rows: &[&[&str]]) -> Vec<u8> {
    sheet(SheetKind::Households, &HH_COLS, rows)
}

pub const GOOD: [&str; 6] = [
    "33180100101",
    "1",
    "ตาโกน",
    "เมืองจันทร์",
    "ศรีสะเกษ",
    "TPMAP 2565",
];

fn read(bytes: Vec<u8>) -> Result<ReadWorkbook, Refusal> {
    read_workbook(bytes, today(), &ReadLimits::default())
}

fn read_with(bytes: Vec<u8>, limits: ReadLimits) -> Result<ReadWorkbook, Refusal> {
    read_workbook(bytes, today(), &limits)
}

/// The error codes of a read, with row and column.
fn errors(r: &ReadWorkbook) -> Vec<(String, Option<u32>, Option<String>)> {
    r.issues
        .iter()
        .filter(|i| i.severity == importer::report::Severity::Error)
        .map(|i| (i.code.to_string(), i.row, i.column.clone()))
        .collect()
}

fn refused(r: Result<ReadWorkbook, Refusal>) -> Refusal {
    match r {
        Ok(r) => panic!("read, with issues {:?}", errors(&r)),
        Err(e) => e,
    }
}

#[test]
fn a_far_cell_reference_is_refused_without_allocating_the_rectangle() {
    let base = households(&[&GOOD]);
    let far = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen("<c r=\"F2\"", "<c r=\"XFD1048576\"", 1)
    });
    let r = refused(read(far));
    assert_eq!(r.code, "sheet_too_large");
    assert_eq!(
        (r.row, r.cell.as_deref()),
        (Some(1_048_576), Some("XFD1048576"))
    );
    assert!(
        r.th.contains("ครัวเรือน") && r.th.contains("ลบแถวและคอลัมน์ว่าง"),
        "{}",
        r.th
    );
    // a column past the limit, inside Excel's grid
    let wide = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen("<c r=\"F2\"", "<c r=\"ZZ2\"", 1)
    });
    let r = refused(read(wide));
    assert_eq!(
        (r.code.as_str(), r.cell.as_deref()),
        ("sheet_too_large", Some("ZZ2"))
    );
    // and a declared dimension of the whole grid costs nothing
    let dim = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen(
            "<dimension ref=\"A1:F2\"/>",
            "<dimension ref=\"A1:XFD1048576\"/>",
            1,
        )
    });
    assert!(errors(&read(dim).expect("read")).is_empty());
}

#[test]
fn a_white_space_bomb_stops_at_the_limit() {
    let base = households(&[&GOOD]);
    // 24 MiB of spaces in one text node: over the longest XML run
    let bomb = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen(
            "<sheetData>",
            &format!("{}<sheetData>", " ".repeat(24 << 20)),
            1,
        )
    });
    assert!(bomb.len() < 200_000, "{} bytes zipped", bomb.len());
    // its declared sizes give it away before anything is inflated: 24 MiB from ~30 KB
    let r = refused(read(bomb.clone()));
    assert_eq!(r.code, "file_too_large");
    assert!(r.en.contains("compressed more than 100 to 1"), "{}", r.en);
    // under a smaller unzipped limit it stops there
    let small = ReadLimits {
        max_unzipped: 1 << 20,
        ..Default::default()
    };
    let r = refused(read_with(bomb.clone(), small));
    assert!(r.en.contains("over 1 MB unzipped"), "{}", r.en);
    // allowed any ratio, the run of white space itself is refused as it streams
    let any_ratio = ReadLimits {
        max_ratio: 1_000_000,
        ..Default::default()
    };
    let r = refused(read_with(bomb, any_ratio));
    assert_eq!(r.code, "file_too_large");
    assert!(r.en.contains("long run"), "{}", r.en);
}

#[test]
fn a_cell_bomb_stops_at_the_row_limit() {
    let base = households(&[&GOOD]);
    let rows: String = (2..5_000)
        .map(|r| {
            format!("<row r=\"{r}\"><c r=\"A{r}\" t=\"inlineStr\"><is><t>x</t></is></c></row>")
        })
        .collect();
    let bomb = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen("</sheetData>", &format!("{rows}</sheetData>"), 1)
    });
    let limits = ReadLimits {
        max_rows: 1_000,
        ..Default::default()
    };
    let r = refused(read_with(bomb.clone(), limits));
    assert_eq!(r.code, "sheet_too_large");
    assert!(r.en.contains("over 1000 data rows"), "{}", r.en);
    assert!(
        r.row.is_some_and(|row| (1_000..1_020).contains(&row)),
        "{:?}",
        r.row
    );
    // under the default limit the same file is read: 4,999 rows, each with its errors
    let read = read(bomb).expect("read");
    assert_eq!(read.sheets[&SheetKind::Households].read, 4_998);
}

#[test]
fn entity_expansion_is_not_performed() {
    let base = households(&[&GOOD]);
    let laughs = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        let dtd = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\"><!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">]>";
        x.replacen("?>", &format!("?>{dtd}"), 1).replacen(
            "<c r=\"F2\"",
            "<c r=\"G2\" t=\"inlineStr\"><is><t>&lol9;</t></is></c><c r=\"F2\"",
            1,
        )
    });
    match read(laughs) {
        Err(r) => assert_eq!(r.code, "file_unreadable"),
        Ok(r) => {
            // the unknown entity is left unexpanded or refused: never a billion laughs
            assert!(r.households.len() <= 1);
        }
    }
}

#[test]
fn encrypted_files_are_named_as_such() {
    // what Excel writes for a password-protected .xlsx: a compound file with an
    // EncryptionInfo and an EncryptedPackage stream
    let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("cfb");
    cfb.create_stream("/EncryptionInfo")
        .expect("stream")
        .write_all(&[4, 0, 4, 0, 0x40, 0, 0, 0])
        .expect("write");
    cfb.create_stream("/EncryptedPackage")
        .expect("stream")
        .write_all(&[0u8; 600])
        .expect("write");
    cfb.flush().expect("flush");
    let bytes = cfb.into_inner().into_inner();
    let r = refused(read(bytes));
    assert_eq!(r.code, "file_encrypted");
    assert!(r.th.contains("รหัสผ่าน"));
    // and a file that is no workbook at all
    let r = refused(read(b"not a workbook at all".to_vec()));
    assert_eq!(r.code, "file_unreadable");
    assert!(!r.en.contains("Cannot detect"), "{}", r.en);
}

fn date_cell_workbook(date1904: bool, iso: bool) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SheetKind::Members.name_th()).expect("name");
    for (c, col) in [
        mm::HOUSE_CODE,
        mm::CITIZEN_ID,
        mm::FIRST_NAME,
        mm::BIRTH_DATE,
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, c as u16, columns(SheetKind::Members)[*col].aliases[0])
            .expect("write");
    }
    ws.write_string(1, 0, "33180100101").expect("write");
    ws.write_string(1, 1, "1101700207366").expect("write");
    ws.write_string(1, 2, "สมศรี").expect("write");
    let fmt = Format::new().set_num_format("d/m/yyyy");
    ws.write_datetime_with_format(
        1,
        3,
        ExcelDateTime::from_ymd(1980, 3, 24).expect("date"),
        &fmt,
    )
    .expect("write");
    let bytes = wb.save_to_buffer().expect("save");
    // 1980-03-24 is serial 29304 in the 1900 system and 27842 in the 1904 system
    let bytes = if date1904 {
        let b = patch(&bytes, "xl/workbook.xml", |x| {
            x.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
        });
        patch(&b, "xl/worksheets/sheet1.xml", |x| {
            assert!(x.contains("<v>29304</v>"), "{x}");
            x.replacen("<v>29304</v>", "<v>27842</v>", 1)
        })
    } else {
        bytes
    };
    if iso {
        replace_cell(
            &bytes,
            "D2",
            "<c r=\"D2\" t=\"d\"><v>1980-03-24T00:00:00</v></c>",
        )
    } else {
        bytes
    }
}

#[test]
fn dates_are_read_as_the_workbook_shows_them_in_every_date_system() {
    let day = chrono::NaiveDate::from_ymd_opt(1980, 3, 24);
    for (date1904, iso) in [(false, false), (true, false), (false, true)] {
        let r = read(date_cell_workbook(date1904, iso)).expect("read");
        assert!(errors(&r).is_empty(), "{date1904} {iso}: {:?}", errors(&r));
        let m = r.members[0].value.as_ref().expect("a member");
        assert_eq!(m.birth_date, day, "date1904 {date1904}, iso {iso}");
    }
}

#[test]
fn control_characters_too_long_text_and_bad_values_are_refused_with_their_column() {
    let rows: [&[&str]; 5] = [
        &[
            "33180100101",
            "1",
            "ตา\u{1}โกน",
            "เมืองจันทร์",
            "ศรีสะเกษ",
            "TPMAP 2565",
        ],
        &["33180100102", "1", "ตาโกน", "เมืองจันทร์", "ศรีสะเกษ", "ตกหล่น"],
        &["33180100103", "1", "ตาโกน", "LONG", "ศรีสะเกษ", "TPMAP 2565"],
        &["33180100104", "1", "ตาโกน", "เมืองจันทร์", "ศรีสะเกษ", "ตกหล่นปี"],
        &GOOD,
    ];
    // a 1 MB value: more than Excel itself can hold in a cell (written past rust_xlsxwriter)
    let bytes = patch(&households(&rows), "xl/sharedStrings.xml", |x| {
        x.replacen(">LONG<", &format!(">{}<", "ก".repeat(1_000_000)), 1)
    });
    let r = read(bytes).expect("read");
    let mut got = errors(&r);
    got.sort();
    let col = |i: usize| Some(columns(SheetKind::Households)[HH_COLS[i]].aliases[0].to_string());
    assert_eq!(
        got,
        vec![
            ("cohort_invalid".into(), Some(3), col(5)),
            ("cohort_invalid".into(), Some(5), col(5)),
            ("control_character".into(), Some(2), col(2)),
            ("too_long".into(), Some(4), col(3)),
        ]
    );
    let too_long = r
        .issues
        .iter()
        .find(|i| i.code == "too_long")
        .expect("too_long");
    assert_eq!(
        too_long.value.as_ref().map(|v| v.chars().count()),
        Some(201)
    );
    assert!(r.households[4].value.is_some());
}

#[test]
fn amounts_in_every_spelling() {
    let cols = [
        aa::HOUSE_CODE,
        aa::INDICATOR,
        aa::DATE,
        aa::AGENCY,
        aa::ACTIVITY,
        aa::AMOUNT,
        aa::STATUS,
    ];
    let spellings = [
        ("1,500.00", Some(150_000)),
        ("1500", Some(150_000)),
        ("1,500 บาท", Some(150_000)),
        ("0.5", Some(50)),
        ("1.500,00", None),
        ("12,34", None),
        ("1e3", None),
        ("0.001", None),
    ];
    let rows: Vec<Vec<&str>> = spellings
        .iter()
        .map(|(a, _)| {
            vec![
                "33180100101",
                "1",
                "15/09/2565",
                "สสจ.",
                "ตรวจสุขภาพ",
                *a,
                "แก้ไขได้แล้ว",
            ]
        })
        .collect();
    let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
    let r = read(sheet(SheetKind::Assistance, &cols, &rows)).expect("read");
    for (i, (spelling, want)) in spellings.iter().enumerate() {
        let got = r.entries[i]
            .value
            .as_ref()
            .map(|e| e.amount.map(|b| b.satang()));
        match want {
            Some(s) => assert_eq!(got, Some(Some(*s)), "{spelling}"),
            None => {
                assert_eq!(got, None, "{spelling}");
                let issue = r
                    .issues
                    .iter()
                    .find(|x| x.row == Some(i as u32 + 2))
                    .expect("an issue");
                assert_eq!(issue.code, "amount_invalid", "{spelling}");
                assert_eq!(issue.value.as_deref(), Some(*spelling));
            }
        }
    }
}

#[test]
fn a_bad_shared_string_index_is_an_error_on_its_cell_not_the_file() {
    let base = households(&[
        &GOOD,
        &[
            "33180100102",
            "2",
            "ตาโกน",
            "เมืองจันทร์",
            "ศรีสะเกษ",
            "TPMAP 2565",
        ],
    ]);
    let xml = &unzip(&base)
        .into_iter()
        .find(|(n, _)| n == "xl/worksheets/sheet1.xml")
        .expect("sheet")
        .1;
    let xml = String::from_utf8(xml.clone()).expect("utf-8");
    // the first cell of a row too, where "the cell after the last one read" would be wrong
    for (cell, col) in [("C3", hh::SUBDISTRICT), ("A3", hh::HOUSE_CODE)] {
        let open = format!("<c r=\"{cell}\" t=\"s\"><v>");
        assert!(xml.contains(&open), "{xml}");
        let bad = patch(&base, "xl/worksheets/sheet1.xml", |x| {
            let start = x.find(&open).expect("cell") + open.len();
            let end = start + x[start..].find("</v>").expect("v");
            format!("{}999999{}", &x[..start], &x[end..])
        });
        let r = read(bad).expect("read");
        assert_eq!(
            errors(&r),
            vec![(
                "cell_unreadable".into(),
                Some(3),
                Some(columns(SheetKind::Households)[col].aliases[0].into())
            )],
            "{cell}"
        );
        assert!(r.households[0].value.is_some());
    }
}

#[test]
fn hidden_sheets_and_rows_are_read_with_one_warning_each() {
    let mut wb = Workbook::new();
    let visible = wb.add_worksheet();
    visible.set_name("อื่น ๆ").expect("name");
    let ws = wb.add_worksheet();
    ws.set_name(SheetKind::Households.name_th()).expect("name");
    for (c, col) in HH_COLS.iter().enumerate() {
        ws.write_string(0, c as u16, columns(SheetKind::Households)[*col].aliases[0])
            .expect("write");
    }
    for r in 1..=3u32 {
        for (c, v) in GOOD.iter().enumerate() {
            let v = if c == 0 {
                format!("3318010010{r}")
            } else {
                v.to_string()
            };
            ws.write_string(r, c as u16, v).expect("write");
        }
    }
    ws.set_row_hidden(2).expect("hide");
    ws.set_row_hidden(3).expect("hide");
    ws.set_hidden(true);
    let r = read(wb.save_to_buffer().expect("save")).expect("read");
    let warnings: Vec<(&str, Option<u32>)> = r
        .issues
        .iter()
        .filter(|i| i.code.as_str().starts_with("hidden"))
        .map(|i| (i.code.as_str(), i.row))
        .collect();
    assert_eq!(
        warnings,
        vec![("hidden_sheet", None), ("hidden_rows", Some(3))]
    );
    let rows = r
        .issues
        .iter()
        .find(|i| i.code == "hidden_rows")
        .expect("rows");
    assert!(
        rows.message_en.contains("2 rows") && rows.message_en.contains("3, 4"),
        "{}",
        rows.message_en
    );
    assert_eq!(r.households.iter().filter(|h| h.value.is_some()).count(), 3);
}

#[test]
fn a_formula_without_a_saved_value_and_an_empty_merged_cell_say_what_to_do() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SheetKind::Households.name_th()).expect("name");
    for (c, col) in HH_COLS.iter().enumerate() {
        ws.write_string(0, c as u16, columns(SheetKind::Households)[*col].aliases[0])
            .expect("write");
    }
    for r in 1..=3u32 {
        for (c, v) in GOOD.iter().enumerate() {
            let v = if c == 0 {
                format!("3318010010{r}")
            } else {
                v.to_string()
            };
            if c != 2 {
                ws.write_string(r, c as u16, v).expect("write");
            }
        }
    }
    // the subdistrict merged over rows 2 and 3: row 3's cell is empty
    ws.merge_range(1, 2, 2, 2, "ตาโกน", &Format::new())
        .expect("merge");
    ws.write_string(3, 2, "ตาโกน").expect("write");
    ws.write_formula(3, 1, "=1+0").expect("formula");
    let bytes = wb.save_to_buffer().expect("save");
    // a program that writes formulas without their results leaves no <v>
    let bytes = replace_cell(&bytes, "B4", "<c r=\"B4\"><f>1+0</f></c>");
    let r = read(bytes).expect("read");
    let mut got = errors(&r);
    got.sort();
    let col = |i: usize| Some(columns(SheetKind::Households)[HH_COLS[i]].aliases[0].to_string());
    assert_eq!(
        got,
        vec![
            ("formula_without_value".into(), Some(4), col(1)),
            ("merged_cell".into(), Some(3), col(2)),
        ]
    );
    let f = r
        .issues
        .iter()
        .find(|i| i.code == "formula_without_value")
        .expect("f");
    assert!(
        f.message_th.contains("เปิดแฟ้มใน Excel แล้วบันทึกใหม่"),
        "{}",
        f.message_th
    );
}

async fn headers_without_data_are_rejected(app: TestApp) {
    app.load_builtin_areas().await;
    let r = app.import("empty.xlsx", households(&[])).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    assert_eq!(
        r.errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(),
        vec!["no_data_rows"]
    );
    assert_eq!(app.count("select count(*) from households").await, 0);
}

async fn refused_files_are_recorded_with_their_code(app: TestApp) {
    app.load_builtin_areas().await;
    let base = households(&[&GOOD]);
    let far = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen("<c r=\"F2\"", "<c r=\"XFD1048576\"", 1)
    });
    let r = app.import("far.xlsx", far).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let e = &r.errors[0];
    assert_eq!(
        (e.code.as_str(), e.sheet, e.row),
        (
            "sheet_too_large",
            Some(SheetKind::Households),
            Some(1_048_576)
        )
    );
    assert_eq!(e.column.as_deref(), Some("XFD1048576"));
    let batch = r.batch_id.expect("recorded");
    assert_eq!(
        app.count(&format!(
            "select count(*) from import_batches where id = {batch} and status = 'rejected'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("select count(*) from households").await, 0);
}

/// A cell reference whose row overflows 32 bits: calamine's reference parser overflows
/// (a panic in debug builds, a wrapped number in release); either way one report.
async fn a_panic_while_reading_is_an_internal_error_report(app: TestApp) {
    app.load_builtin_areas().await;
    let base = households(&[&GOOD]);
    let bytes = patch(&base, "xl/worksheets/sheet1.xml", |x| {
        x.replacen("<c r=\"F2\"", "<c r=\"A99999999999\"", 1)
    });
    let r = app.import("overflow.xlsx", bytes).await;
    assert_eq!(r.status, ImportStatus::Rejected);
    let want = if cfg!(debug_assertions) {
        "internal_error"
    } else {
        "sheet_too_large"
    };
    assert_eq!(r.errors[0].code, want, "{:?}", r.errors);
    if want == "internal_error" {
        assert!(r.errors[0].message_th.contains("แจ้งผู้ดูแลระบบ"));
    }
    assert!(r.batch_id.is_some());
    // the next file imports as usual
    let ok = app
        .import("ok.xlsx", render(&dataset(3, 5), false, false).bytes)
        .await;
    assert_eq!(ok.status, ImportStatus::Imported, "{:?}", ok.errors);
}

on_both_databases!(
    headers_without_data_are_rejected,
    refused_files_are_recorded_with_their_code,
    a_panic_while_reading_is_an_internal_error_report,
);

/// Mutations of the XML inside valid generated workbooks: every outcome is a report (a
/// read or a refusal), never a panic or an abort.
mod mutations {
    use super::*;
    use proptest::prelude::*;

    fn base() -> &'static [(String, Vec<u8>)] {
        static BASE: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
        BASE.get_or_init(|| unzip(&render(&dataset(4, 3), true, false).bytes))
    }

    fn mutate(
        entries: &[(String, Vec<u8>)],
        which: usize,
        at: usize,
        how: u8,
        byte: u8,
        len: usize,
    ) -> Vec<u8> {
        let mut entries = entries.to_vec();
        let xml: Vec<usize> = (0..entries.len())
            .filter(|i| entries[*i].0.ends_with(".xml"))
            .collect();
        let e = &mut entries[xml[which % xml.len()]].1;
        if e.is_empty() {
            return rezip(&entries);
        }
        let at = at % e.len();
        let end = (at + len).min(e.len());
        match how % 5 {
            0 => e[at] = byte,
            1 => {
                e.drain(at..end);
            }
            2 => {
                let chunk = e[at..end].to_vec();
                e.splice(at..at, chunk);
            }
            3 => {
                // a digit run replaced by a huge number (indexes, references, repeats)
                let digits = b"99999999999";
                e.splice(at..end, digits.iter().copied());
            }
            _ => {
                let markup: &[&[u8]] = &[
                    b"<",
                    b">",
                    b"\"",
                    b"&",
                    b"<c r=\"A1\">",
                    b"</row>",
                    b"<v>",
                    b"&#0;",
                    b"\xff",
                ];
                let m = markup[byte as usize % markup.len()];
                e.splice(at..at, m.iter().copied());
            }
        }
        rezip(&entries)
    }

    proptest! {
        // 300 in CI; `PROPTEST_CASES=4000` for a longer run
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
            ..ProptestConfig::default()
        })]
        #[test]
        fn every_mutated_workbook_is_a_report(which in 0usize..64, at in 0usize..1_000_000, how in 0u8..5, byte in 0u8..=255, len in 1usize..40) {
            let bytes = mutate(base(), which, at, how, byte, len);
            // the guarded read is what every import runs: it must return, whatever the bytes
            let outcome = std::panic::catch_unwind(|| {
                importer::read_guarded(bytes, today(), &ReadLimits::default(), None)
            });
            prop_assert!(outcome.is_ok(), "a panic escaped the guarded read");
            if let Ok(Err(r)) = outcome {
                prop_assert!(
                    ["file_unreadable", "file_too_large", "sheet_too_large", "internal_error", "file_encrypted"].contains(&r.code.as_str()),
                    "unexpected code {}", r.code
                );
                prop_assert!(!r.th.is_empty() && !r.en.is_empty());
            }
        }
    }
}

/// The `code` extension of a response's first GraphQL error.
fn gql_code(v: &serde_json::Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

/// The documents that kept a worker busy for minutes or allocated before a refusal are
/// refused at the front door, and the next request is served.
async fn hostile_documents_are_refused_at_the_front_door(app: TestApp) {
    app.load_builtin_areas().await;
    let token = app
        .key(api::service::keys::KeyScope::Admin { province: None })
        .await;
    // 10 fragments × 10 spreads: 10¹⁰ fields once expanded, in 780 bytes
    let mut bomb = String::from("query { ...F0 }\n");
    for l in 0..10 {
        let body = if l == 9 {
            "__typename".to_string()
        } else {
            (0..10)
                .map(|_| format!("...F{}", l + 1))
                .collect::<Vec<_>>()
                .join(" ")
        };
        bomb.push_str(&format!("fragment F{l} on Query {{ {body} }}\n"));
    }
    let started = std::time::Instant::now();
    let (status, v) = app
        .graphql(Some(&token), &bomb, serde_json::json!({}))
        .await;
    assert_eq!((status, gql_code(&v)), (400, Some("LIMIT_EXCEEDED")), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_fields"))
    );
    // 1,000 aliased stats, and 45,000 aliases
    let stats: String = (0..1_000)
        .map(|i| format!("s{i}: stats(groupBy: [DISTRICT, DIMENSION, STATUS]) {{ problems }} "))
        .collect();
    let (_, v) = app
        .graphql(
            Some(&token),
            &format!("{{ {stats} }}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(gql_code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    let aliases: String = (0..45_000).map(|i| format!("a{i}: __typename ")).collect();
    let (_, v) = app
        .graphql(
            Some(&token),
            &format!("{{ {aliases} }}"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(gql_code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_tokens"))
    );
    // a parser-recursion bomb
    let deep = format!("{}{}", "{a".repeat(20_000), "}".repeat(20_000));
    let (_, v) = app
        .graphql(Some(&token), &deep, serde_json::json!({}))
        .await;
    assert_eq!(gql_code(&v), Some("LIMIT_EXCEEDED"), "{v}");
    // all four in well under a second of server time (the old figure: 4 minutes for one)
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // two stats with every group key cost what they do, and are served
    let (_, v) = app
        .graphql(
            Some(&token),
            "{ a: stats(groupBy: [DISTRICT, DIMENSION, STATUS]) { problems } b: stats(groupBy: []) { problems } }",
            serde_json::json!({}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    // the next request is served at once
    let (status, v) = app
        .graphql(Some(&token), "{ me { kind } }", serde_json::json!({}))
        .await;
    assert_eq!(
        (status, v["data"]["me"]["kind"].as_str()),
        (200, Some("ADMIN")),
        "{v}"
    );
    // a light document (run on the async worker) and a heavier one (run on the blocking
    // pool) are answered alike, and so are their mistakes
    let light = "{ a0: me { kind } a1: me { kind } }";
    let heavy = format!(
        "{{ {} }}",
        (0..300)
            .map(|i| format!("a{i}: me {{ kind }} "))
            .collect::<String>()
    );
    for q in [light.to_string(), heavy.clone()] {
        let (status, v) = app.graphql(Some(&token), &q, serde_json::json!({})).await;
        assert_eq!(status, 200, "{v}");
        assert!(v["errors"].is_null(), "{v}");
        assert_eq!(v["data"]["a0"]["kind"].as_str(), Some("ADMIN"), "{v}");
        assert_eq!(v["data"]["a1"]["kind"].as_str(), Some("ADMIN"), "{v}");
    }
    let mut refusals = Vec::new();
    for q in [
        "{ a0: me { kind } a1: me { nope } }".to_string(),
        heavy.replace("a1: me { kind }", "a1: me { nope }"),
        "{ me { kind ".to_string(),
    ] {
        let (status, v) = app.graphql(Some(&token), &q, serde_json::json!({})).await;
        assert!(v["data"].is_null(), "{v}");
        refusals.push((
            status,
            v["errors"][0]["message"].as_str().map(|m| m.to_string()),
        ));
    }
    assert_eq!(refusals[0], refusals[1], "{refusals:?}");
    assert!(
        refusals[0].1.as_deref().is_some_and(|m| m.contains("nope")),
        "{refusals:?}"
    );
    assert!(refusals[2].1.is_some(), "{refusals:?}");
}

async fn only_json_is_executed_and_the_bearer_scheme_is_case_insensitive(app: TestApp) {
    let token = app
        .key(api::service::keys::KeyScope::Admin { province: None })
        .await;
    let body = serde_json::json!({"query": "{ me { kind } }"}).to_string();
    let auth = ("authorization", format!("bearer {token}"));
    let (status, v) = app
        .post(
            &[("content-type", "application/json".into()), auth.clone()],
            body.clone(),
        )
        .await;
    assert_eq!(
        (status, v["data"]["me"]["kind"].as_str()),
        (200, Some("ADMIN")),
        "{v}"
    );
    let (status, _) = app
        .post(
            &[
                ("content-type", "application/json; charset=utf-8".into()),
                ("authorization", format!("BEARER {token}")),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(status, 200);
    // what a cross-site page can send without a preflight is not executed, mutations included
    let mutation = serde_json::json!({"query": "mutation { createAgency(code: \"x\", nameTh: \"x\", province: \"33\") { code } }"}).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut h = vec![auth.clone()];
        if let Some(ct) = ct {
            h.push(("content-type", ct.to_string()));
        }
        let (status, v) = app.post(&h, mutation.clone()).await;
        assert_eq!(status, 415, "{ct:?}");
        assert_eq!(gql_code(&v), Some("BAD_USER_INPUT"), "{ct:?}: {v}");
    }
    // an integer out of range is the caller's mistake, named
    let (_, v) = app
        .graphql(
            Some(&token),
            "{ problems(first: 1, filter: { indicator: 99999999999 }) { totalCount } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(gql_code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("indicator")),
        "{v}"
    );
    assert_eq!(
        v["errors"][0]["extensions"]["field"].as_str(),
        Some("indicator"),
        "{v}"
    );
}

on_both_databases!(
    hostile_documents_are_refused_at_the_front_door,
    only_json_is_executed_and_the_bearer_scheme_is_case_insensitive,
);

#[test]
fn stored_text_fields_have_maximum_lengths() {
    let cols = [
        hh::HOUSE_CODE,
        hh::VILLAGE_NO,
        hh::SUBDISTRICT,
        hh::DISTRICT,
        hh::PROVINCE,
        hh::COHORT,
        hh::VILLAGE_NAME,
    ];
    let long = "ก".repeat(501);
    let fits = "ข".repeat(500);
    let mut a: Vec<&str> = GOOD.to_vec();
    a.push(&long);
    let mut b: Vec<&str> = GOOD.to_vec();
    b[0] = "33180100102";
    b.push(&fits);
    let r = read(sheet(SheetKind::Households, &cols, &[&a, &b])).expect("read");
    let col = columns(SheetKind::Households)[hh::VILLAGE_NAME].aliases[0].to_string();
    assert_eq!(errors(&r), vec![("too_long".into(), Some(2), Some(col))]);
    let e = r
        .issues
        .iter()
        .find(|i| i.code == "too_long")
        .expect("too_long");
    assert!(e.message_th.contains("500"), "{}", e.message_th);
    assert_eq!(
        r.households[1]
            .value
            .as_ref()
            .and_then(|h| h.village_name.clone()),
        Some(fits)
    );
}

#[test]
fn an_ods_whose_repeats_expand_past_the_limit_is_refused_before_it_materialises() {
    let content = |rows: u64, cols: u64| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="ครัวเรือน"><table:table-row><table:table-cell office:value-type="string"><text:p>รหัสบ้าน</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>หมู่ที่</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="{rows}"><table:table-cell table:number-columns-repeated="{cols}" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#
        )
        .into_bytes()
    };
    let ods = |rows, cols| {
        rezip(&[
            ("mimetype".to_string(), b"application/vnd.oasis.opendocument.spreadsheet".to_vec()),
            ("META-INF/manifest.xml".to_string(), br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#.to_vec()),
            ("content.xml".to_string(), content(rows, cols)),
        ])
    };
    // 1,000,000 rows × 1,000 columns of one value: a billion cells from a file of 1 KB
    let bomb = ods(1_000_000, 1_000);
    assert!(bomb.len() < 2_000);
    let r = refused(read(bomb));
    assert_eq!(
        (r.code.as_str(), r.sheet.as_deref()),
        ("sheet_too_large", Some("ครัวเรือน"))
    );
    // the same shape under the limit is read (and its rows get their errors)
    let small = read(ods(3, 50)).expect("read");
    assert_eq!(small.sheets[&SheetKind::Households].read, 3);
}

#[test]
fn an_xls_whose_cells_span_past_the_limit_is_refused_before_it_materialises() {
    // a BIFF8 workbook stream: BOF (globals), EOF, BOF (sheet), two NUMBER cells at the
    // opposite corners of the .xls grid, EOF
    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }
    let bof = |kind: u16| {
        let mut d = 0x0600u16.to_le_bytes().to_vec();
        d.extend(kind.to_le_bytes());
        d.extend([0u8; 12]);
        record(0x0809, &d)
    };
    let number = |row: u16, col: u16| {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend(1.0f64.to_le_bytes());
        record(0x0203, &d)
    };
    let mut stream = bof(0x0005);
    stream.extend(record(0x000A, &[]));
    stream.extend(bof(0x0010));
    stream.extend(number(0, 0));
    stream.extend(number(65_535, 255));
    stream.extend(record(0x000A, &[]));
    let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("cfb");
    cfb.create_stream("/Workbook")
        .expect("stream")
        .write_all(&stream)
        .expect("write");
    cfb.flush().expect("flush");
    let r = refused(read(cfb.into_inner().into_inner()));
    assert_eq!(r.code, "file_too_large");
    assert!(
        r.en.contains(".xls") && r.en.contains("save it as .xlsx"),
        "{}",
        r.en
    );
}
