//! Exact stored values from a small hand-made workbook with the untidiness of real ones,
//! built cell by cell so a reader sees each spelling next to what it must become.

use crate::helpers::TestApp;
use crate::on_both_databases;
use chrono::NaiveDate;
use entity::{analysis, household, logbook_entry, member, problem};
use importer::report::ImportStatus;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use sea_orm::{EntityTrait, QueryOrder};

enum C {
    S(&'static str),
    N(f64),
    /// An Excel date cell holding a Buddhist-Era year.
    BeDate(u16, u8, u8),
    E,
}

fn row(ws: &mut Worksheet, r: u32, cells: &[C]) {
    let fmt = Format::new().set_num_format("d/m/yyyy");
    for (c, v) in cells.iter().enumerate() {
        let c = c as u16;
        match v {
            C::S(s) => {
                ws.write_string(r, c, *s).expect("write");
            }
            C::N(n) => {
                ws.write_number(r, c, *n).expect("write");
            }
            C::BeDate(y, m, d) => {
                ws.write_datetime_with_format(
                    r,
                    c,
                    ExcelDateTime::from_ymd(*y, *m, *d).expect("date"),
                    &fmt,
                )
                .expect("write");
            }
            C::E => {}
        }
    }
}

fn untidy_workbook() -> Vec<u8> {
    use C::*;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(" ครัวเรือน ").expect("name");
    // two title rows and a merged group header above the header row
    row(ws, 0, &[S("แบบ ศจพ. อำเภอเมืองจันทร์")]);
    ws.merge_range(1, 2, 1, 5, "ที่อยู่", &Format::new())
        .expect("merge");
    row(
        ws,
        2,
        &[
            S("ลำดับ"),
            S("รหัสบ้าน (house_code)"),
            S("บ้านเลขที่"),
            S("หมู่"),
            S("ตำบล"),
            S("อำเภอ"),
            S("จังหวัด*"),
            S("ชื่อ-สกุลหัวหน้าครัวเรือน"),
            S("เลขบัตรประชาชนหัวหน้าครัวเรือน"),
            S("ประเภทครัวเรือน"),
            S("ที่มา"),
            S("หมายเหตุเพิ่มเติม"),
        ],
    );
    row(
        ws,
        3,
        &[
            N(1.0),
            S("๓๓๑๘๑๑๘๓๖๘๗"),
            S("12/3"),
            S("0105"),
            S("ต.ตาโกน"),
            S("อ.เมืองจันทร์"),
            S("จ.ศรีสะเกษ"),
            S("นางสาวมาลี  ศรีอำไพ"),
            N(1234567890121.0),
            S("สงเคราะห์"),
            S("TPMAP ปี 65"),
            S("ย้ายมาใหม่"),
        ],
    );
    row(ws, 4, &[N(2.0)]); // only the running number: skipped
    row(
        ws,
        5,
        &[
            N(3.0),
            S("33180000002"),
            S("7"),
            S("ม.2"),
            S("หนองใหญ่"),
            S("เมืองจันทร์"),
            S("ศรีสะเกษ"),
            S("นายทองดี ทําดี"),
            S("1-2345-67890-12-2"),
            S("welfare"),
            S("ตกหล่น 2565"),
            E,
        ],
    );

    let ws = wb.add_worksheet();
    ws.set_name("members").expect("name");
    row(
        ws,
        0,
        &[
            S("รหัสบ้าน"),
            S("เลขบัตรประชาชน"),
            S("คำนำหน้า"),
            S("ชื่อ"),
            S("นามสกุล"),
            S("เพศ"),
            S("วันเกิด"),
            S("อายุ"),
            S("ความพิการ"),
        ],
    );
    row(
        ws,
        1,
        &[
            S("33181183687"),
            N(1234567890121.0),
            E,
            S("นางสาวมาลี"),
            S("ศรีอำไพ"),
            E,
            BeDate(2505, 1, 29),
            E,
            S("✓"),
        ],
    );
    row(
        ws,
        2,
        &[
            S("33181183687"),
            S("๕๐๓๓๐๗๖๖๖๑๙๓๑"),
            S("ด.ช."),
            S("สมชาย"),
            E,
            E,
            S("15 ส.ค 64"),
            E,
            S("-"),
        ],
    );
    row(
        ws,
        3,
        &[
            S("33180000002"),
            S(" 1234567890122\u{200B}"),
            S("นาย"),
            S("ทองดี"),
            S("ทําดี"),
            S("ชาย"),
            E,
            N(70.0),
            E,
        ],
    );

    let ws = wb.add_worksheet();
    ws.set_name("ปัญหา").expect("name");
    row(
        ws,
        0,
        &[
            S("รหัสบ้าน"),
            S("ตัวชี้วัด"),
            S("เลขบัตรประชาชน"),
            S("มิติ"),
            S("ที่มา"),
            S("รายละเอียด"),
        ],
    );
    row(
        ws,
        1,
        &[
            S("33181183687"),
            S("ตัวชี้วัดที่ 5"),
            E,
            S("ด้านความเป็นอยู่"),
            S("TPMAP 2565"),
            S("บ้านชำรุด"),
        ],
    );
    row(
        ws,
        2,
        &[
            S("33181183687"),
            N(10.0),
            S("5-0330-76661-93-1"),
            E,
            S("TPMAP 2565"),
            E,
        ],
    );
    row(
        ws,
        3,
        &[
            S("33180000002"),
            S("ข้อ 14"),
            S("1234567890122"),
            S("รายได้"),
            S("ThaiQM 2565"),
            E,
        ],
    );

    let ws = wb.add_worksheet();
    ws.set_name("วิเคราะห์ 4ท").expect("name");
    row(
        ws,
        0,
        &[S("รหัสบ้าน"), S("ทัศนคติ"), S("ทางออก"), S("วันที่วิเคราะห์")],
    );
    row(
        ws,
        1,
        &[
            S("33181183687"),
            S("พร้อมรับการช่วยเหลือ"),
            S("ส่งเสริมอาชีพ"),
            S("๘ มี.ค. ๒๕๖๕"),
        ],
    );

    let ws = wb.add_worksheet();
    ws.set_name("การช่วยเหลือ").expect("name");
    row(
        ws,
        0,
        &[
            S("รหัสบ้าน"),
            S("ตัวชี้วัด"),
            S("เลขบัตรประชาชน"),
            S("วันที่"),
            S("หน่วยงาน"),
            S("กิจกรรม"),
            S("งบประมาณ (บาท)"),
            S("ผลการดำเนินงาน"),
        ],
    );
    row(
        ws,
        1,
        &[
            S("33181183687"),
            N(5.0),
            E,
            S("4-1-2565"),
            S("พมจ.ศรีสะเกษ"),
            S("ซ่อมแซมบ้าน"),
            S("1,500 บาท"),
            S("รอติดตามผล"),
        ],
    );
    row(
        ws,
        2,
        &[
            S("33181183687"),
            N(5.0),
            E,
            BeDate(2565, 4, 18),
            S("สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัดศรีสะเกษ"),
            S("ติดตามผล"),
            S("-"),
            S("สามารถแก้ไขปัญหาได้แล้ว"),
        ],
    );
    row(
        ws,
        3,
        &[
            S("33180000002"),
            S("14"),
            S("1234567890122"),
            S("2022-06-02"),
            S("อบต.ตาโกน"),
            S("มอบพันธุ์ไก่"),
            N(12000.0),
            S("following_up"),
        ],
    );
    let ws = wb.add_worksheet();
    ws.set_name("สรุป").expect("name");
    wb.save_to_buffer().expect("save")
}

fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, day)
}

async fn untidy_cells_are_stored_as_their_exact_values(app: TestApp) {
    let r = app.import("untidy.xlsx", untidy_workbook()).await;
    assert_eq!(r.status, ImportStatus::Imported, "{:#?}", r.errors);
    let codes: Vec<&str> = r.warnings.iter().map(|w| w.code.as_str()).collect();
    for c in [
        "unknown_sheet",
        "unknown_column",
        "citizen_id_checksum",
        "unknown_agency",
    ] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    // the checksum warning names the members row of 1234567890122 (Excel row 4)
    assert!(r.warnings.iter().any(|w| w.code == "citizen_id_checksum"
        && w.row == Some(4)
        && w.value.as_deref() == Some("1234567890122")));

    let hh = household::Entity::find()
        .order_by_asc(household::Column::HouseCode)
        .all(&app.db)
        .await
        .expect("households");
    assert_eq!(hh.len(), 2);
    let (b, a) = (&hh[0], &hh[1]);
    assert_eq!(a.house_code, "33181183687");
    assert_eq!(a.house_no.as_deref(), Some("12/3"));
    assert_eq!(a.village_code, "33180205");
    assert_eq!(
        (
            a.subdistrict_code.as_str(),
            a.district_code.as_str(),
            a.province_code.as_str()
        ),
        ("331802", "3318", "33")
    );
    assert_eq!(
        (a.head_title.as_deref(), a.head_name.as_deref()),
        (Some("นางสาว"), Some("มาลี ศรีอำไพ"))
    );
    assert_eq!(
        a.head_citizen_id.as_ref().map(|c| c.as_str()),
        Some("1234567890121")
    );
    assert_eq!(a.classification.map(|c| c.key()), Some("welfare"));
    assert_eq!(
        (a.source_sheet.as_deref(), a.source_row),
        (Some("households"), Some(4))
    );
    assert_eq!(b.village_code, "33180302");
    assert_eq!(
        (b.head_title.as_deref(), b.head_name.as_deref()),
        (Some("นาย"), Some("ทองดี ทำดี"))
    );

    let mm = member::Entity::find()
        .order_by_asc(member::Column::CitizenId)
        .all(&app.db)
        .await
        .expect("members");
    assert_eq!(mm.len(), 3);
    let malee = &mm[0];
    assert_eq!(malee.citizen_id, "1234567890121");
    assert_eq!(
        (malee.title.as_deref(), malee.first_name.as_str()),
        (Some("นางสาว"), "มาลี")
    );
    assert_eq!(malee.sex.key(), "female");
    assert_eq!(malee.birth_date, d(1962, 1, 29));
    assert!(malee.disabled && malee.citizen_id_valid);
    let thongdee = &mm[1];
    assert_eq!(thongdee.citizen_id, "1234567890122");
    assert!(!thongdee.citizen_id_valid);
    assert_eq!(
        (thongdee.age, thongdee.age_as_of),
        (Some(70), Some(crate::helpers::today()))
    );
    assert_eq!(thongdee.last_name.as_deref(), Some("ทำดี"));
    let boy = &mm[2];
    assert_eq!(boy.citizen_id, "5033076661931");
    assert_eq!(
        (boy.sex.key(), boy.birth_date, boy.disabled),
        ("male", d(2021, 8, 15), false)
    );
    assert_eq!(boy.last_name, None);

    let pp = problem::Entity::find()
        .order_by_asc(problem::Column::Id)
        .all(&app.db)
        .await
        .expect("problems");
    assert_eq!(pp.len(), 3);
    assert_eq!(
        (
            pp[0].indicator_code,
            pp[0].citizen_id.as_ref().map(|c| c.as_str()),
            pp[0].detail.as_deref()
        ),
        (5, None, Some("บ้านชำรุด"))
    );
    assert_eq!(
        (
            pp[1].indicator_code,
            pp[1].citizen_id.as_ref().map(|c| c.as_str())
        ),
        (10, Some("5033076661931"))
    );
    assert_eq!(pp[2].person_key, "1234567890122");
    // statuses from the logbook: the later entry of problem 5 solved it
    assert_eq!(
        (pp[0].status.key(), pp[1].status.key(), pp[2].status.key()),
        ("solved", "not_started", "following_up")
    );

    let an = analysis::Entity::find()
        .all(&app.db)
        .await
        .expect("analyses");
    assert_eq!(an[0].analysed_on, d(2022, 3, 8));
    assert_eq!(an[0].skills, None);

    let ee = logbook_entry::Entity::find()
        .order_by_asc(logbook_entry::Column::Id)
        .all(&app.db)
        .await
        .expect("entries");
    assert_eq!(ee.len(), 3);
    assert_eq!(
        (ee[0].entry_date, ee[0].amount_satang),
        (d(2022, 1, 4).expect("date"), Some(150_000))
    );
    assert!(ee[0].agency_id.is_some());
    assert_eq!(
        ee[0].agency_id, ee[1].agency_id,
        "abbreviation + province and the full name are one agency"
    );
    assert_eq!(
        (ee[1].entry_date, ee[1].amount_satang, ee[1].status.key()),
        (d(2022, 4, 18).expect("date"), None, "solved")
    );
    assert_eq!(
        (ee[2].agency_id, ee[2].agency_text.as_str()),
        (None, "อบต.ตาโกน")
    );
    assert_eq!(ee[2].amount_satang, Some(1_200_000));
    assert_eq!(
        (ee[2].source_sheet.as_deref(), ee[2].source_row),
        (Some("assistance"), Some(4))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cohorts").await, 2);
}

on_both_databases!(untidy_cells_are_stored_as_their_exact_values);
