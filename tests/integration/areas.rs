//! Loading the area master data: idempotent, default agencies per new province.

use crate::helpers::TestApp;
use crate::on_both_databases;
use entity::{agency, agency_dimension};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const MORE: &str = "level,code,parent_code,name_th,name_en
province,67,,เพชรบูรณ์,Phetchabun
district,6701,67,เมืองเพชรบูรณ์,Mueang Phetchabun
subdistrict,670101,6701,ในเมือง,Nai Mueang
district,3318,33,เมืองจันทร์,Mueang Chan
";

async fn loading_areas_twice_changes_nothing_and_creates_agencies_once(app: TestApp) {
    // the built-in set is already loaded by TestApp
    let again = app.load_areas_csv(importer::areas::BUILTIN_AREAS_CSV).await;
    assert_eq!(
        (
            again.read,
            again.inserted,
            again.updated,
            again.unchanged,
            again.agencies_created
        ),
        (5, 0, 0, 5, 0)
    );
    let r = app.load_areas_csv(MORE).await;
    assert_eq!(
        (
            r.inserted,
            r.unchanged,
            r.new_provinces.clone(),
            r.agencies_created
        ),
        (3, 1, vec!["67".to_string()], 8)
    );
    let pho = agency::Entity::find()
        .filter(agency::Column::Code.eq("67-pho"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("67-pho");
    assert_eq!(pho.name_th, "สำนักงานสาธารณสุขจังหวัดเพชรบูรณ์");
    assert_eq!(pho.abbreviation, "สสจ.");
    let dims: Vec<String> = agency_dimension::Entity::find()
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .filter(|d| d.agency_id == pho.id)
        .map(|d| d.dimension.key().to_string())
        .collect();
    assert_eq!(dims, vec!["health".to_string()]);
    let sdhs = agency::Entity::find()
        .filter(agency::Column::Code.eq("33-sdhs"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("33-sdhs");
    let mut dims: Vec<String> = agency_dimension::Entity::find()
        .filter(agency_dimension::Column::AgencyId.eq(sdhs.id))
        .all(&app.db)
        .await
        .expect("query")
        .into_iter()
        .map(|d| d.dimension.key().to_string())
        .collect();
    dims.sort();
    assert_eq!(dims, vec!["access".to_string(), "living".to_string()]);
    assert_eq!(app.count("SELECT COUNT(*) FROM agencies").await, 16);
    // a renamed area is updated
    let renamed = MORE.replace("ในเมือง,Nai Mueang", "ในเมือง,Nai Muang");
    let r = app.load_areas_csv(&renamed).await;
    assert_eq!((r.updated, r.unchanged, r.agencies_created), (1, 3, 0));
}

async fn an_area_whose_parent_is_unknown_is_refused_and_nothing_is_loaded(app: TestApp) {
    let rows = importer::areas::parse_csv(
        b"level,code,parent_code,name_th,name_en\ndistrict,9901,99,X,\n",
    )
    .expect("parse");
    let e = importer::areas::load(&app.db, &rows).await.unwrap_err();
    assert!(e.to_string().contains("9901"), "{e}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM areas WHERE code = '9901'")
            .await,
        0
    );
}

on_both_databases!(
    loading_areas_twice_changes_nothing_and_creates_agencies_once,
    an_area_whose_parent_is_unknown_is_refused_and_nothing_is_loaded,
);
