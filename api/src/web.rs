//! The staff page and the files it offers: `/` (the page, Thai first, no assets from the
//! internet), `/template.xlsx` (the blank workbook), `/dashboard.svg` (problems by district ×
//! dimension × status, drawn here) and `/reports/monthly.xlsx?month=YYYY-MM` (the monthly
//! report). The last two need a key, as GraphQL does, and show what the key may see.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::catalog;
use crate::service::reports::{self, Month};
use crate::service::stats::{self, Key};
use entity::types::{Dimension, ProblemStatus};
use sea_orm::{Condition, ConnectionTrait};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The page (its map's tile server is filled in by [`index_html`]).
pub const INDEX_HTML: &str = include_str!("../assets/index.html");

/// OpenStreetMap's tiles: the map's default background.
pub const DEFAULT_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// Leaflet (npm `leaflet`), vendored by `scripts/vendor-leaflet.sh`: name, type, bytes.
pub const LEAFLET: [crate::http::Asset; 2] = [
    (
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/leaflet/leaflet.js"),
    ),
    (
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/leaflet/leaflet.css"),
    ),
];

/// A tile server as `--map-tiles` takes it: http(s), with `{z}`, `{x}` and `{y}`, and
/// nothing that could leave an HTML attribute.
pub fn tile_url(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let ok_scheme = t.starts_with("https://") || t.starts_with("http://");
    let ok_parts = ["{z}", "{x}", "{y}"].iter().all(|p| t.contains(p));
    let ok_chars = t.len() <= 500
        && !t
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'));
    if ok_scheme && ok_parts && ok_chars {
        Ok(t.to_string())
    } else {
        Err(format!(
            "\"{raw}\" is not a tile server: write it as https://host/{{z}}/{{x}}/{{y}}.png"
        ))
    }
}

/// The page with its map's tile server (checked by [`tile_url`]; escaped again here).
pub fn index_html(tiles: &str) -> String {
    INDEX_HTML.replace("{{MAP_TILES}}", &esc(tiles))
}

/// The MIME type of `.xlsx`.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A status's colour in charts.
fn colour(s: ProblemStatus) -> &'static str {
    match s {
        ProblemStatus::NotStarted => "#9e9e9e",
        ProblemStatus::Solved => "#2e7d32",
        ProblemStatus::AwaitingFollowUp => "#f9a825",
        ProblemStatus::FollowingUp => "#1565c0",
        ProblemStatus::NotSolvableYet => "#c62828",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Problems by district × dimension × status that `p` may see, as an SVG of stacked bars
/// (one per district and dimension). Each segment carries `data-district`, `data-dimension`,
/// `data-status` and `data-count`.
pub async fn dashboard_svg(
    db: &impl ConnectionTrait,
    p: &Principal,
    english: bool,
) -> ApiResult<String> {
    let rows = stats::grouped(
        db,
        p,
        Condition::all(),
        &[Key::District, Key::Dimension, Key::Status],
        Default::default(),
    )
    .await?;
    let names: HashMap<String, (String, Option<String>)> = catalog::areas(db, "district", None)
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_string(), (a.name_th, a.name_en)))
        .collect();
    let mut bars: BTreeMap<(String, Dimension), [u64; 5]> = BTreeMap::new();
    for r in &rows {
        let get = |k: Key| r.keys.get(&k).cloned().flatten().unwrap_or_default();
        let (Some(dim), Some(status)) = (
            Dimension::from_key(&get(Key::Dimension)),
            ProblemStatus::from_key(&get(Key::Status)),
        ) else {
            continue;
        };
        bars.entry((get(Key::District), dim)).or_default()[status.index()] += r.problems;
    }
    let max = bars
        .values()
        .map(|v| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let districts: Vec<String> = {
        let mut d: Vec<String> = bars.keys().map(|(d, _)| d.clone()).collect();
        d.dedup();
        d
    };
    // the province's targets, each as a bar of its problems solved, on top
    let targets = crate::service::targets::list(db, p).await?;
    let today = chrono::Local::now().date_naive();
    let progress = crate::service::targets::progress_of(db, p, &targets, today).await?;
    let (label_w, bar_w, row_h, gap) = (230.0, 560.0, 20.0, 14.0);
    let target_h = 46.0;
    let width = label_w + bar_w + 80.0;
    let height = 70.0
        + targets.len() as f64 * target_h
        + districts.len() as f64 * (5.0 * row_h + 22.0 + gap)
        + if districts.is_empty() { 30.0 } else { 0.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" font-family="Sarabun, Tahoma, 'Noto Sans Thai', Loma, Garuda, sans-serif" font-size="13"><title>{}</title>"#,
        if english {
            "Problems by district, dimension and status"
        } else {
            "ปัญหาตามอำเภอ มิติ และสถานะ"
        }
    );
    // legend
    let mut x = 0.0;
    for st in ProblemStatus::ALL {
        let label = if english { st.name_en() } else { st.name_th() };
        let _ = write!(
            s,
            r#"<rect x="{x}" y="4" width="14" height="14" fill="{}"/><text x="{}" y="16">{}</text>"#,
            colour(*st),
            x + 18.0,
            esc(label)
        );
        x += 18.0 + label.chars().count() as f64 * 7.5 + 18.0;
    }
    let mut y = 40.0;
    for (t, rows) in targets.iter().zip(&progress) {
        let Some(w) = rows.first() else { continue };
        let share = if w.total == 0 {
            1.0
        } else {
            w.done as f64 / w.total as f64
        };
        let line = if english {
            format!(
                "{}: {} of {} solved, {} left, {} days to {}; needs {:.1}/week, last 4 weeks {:.1}/week",
                t.name,
                w.done,
                w.total,
                w.remaining,
                w.days_left,
                t.due_on,
                w.needed_per_week,
                w.last_four_weeks_per_week
            )
        } else {
            format!(
                "{}: แก้ไขแล้ว {} จาก {} เหลือ {} อีก {} วัน (ถึง {}) ต้องแก้ {:.1} ต่อสัปดาห์ 4 สัปดาห์ล่าสุด {:.1} ต่อสัปดาห์",
                t.name,
                w.done,
                w.total,
                w.remaining,
                w.days_left,
                entity::types::ThaiDate::from_stored(t.due_on).to_thai(),
                w.needed_per_week,
                w.last_four_weeks_per_week
            )
        };
        let _ = write!(
            s,
            r##"<g data-target="{}" data-done="{}" data-total="{}" data-on-track="{}"><text x="0" y="{}">{}</text><rect x="0" y="{}" width="{}" height="14" fill="#e0e0e0"/><rect x="0" y="{}" width="{:.1}" height="14" fill="{}"/></g>"##,
            t.id,
            w.done,
            w.total,
            w.on_track(),
            y + 14.0,
            esc(&line),
            y + 20.0,
            label_w + bar_w,
            y + 20.0,
            (label_w + bar_w) * share,
            if w.on_track() { "#2e7d32" } else { "#ef6c00" }
        );
        y += target_h;
    }
    if districts.is_empty() {
        let _ = write!(
            s,
            r#"<text x="0" y="{}">{}</text>"#,
            y + 14.0,
            if english {
                "No problems to show."
            } else {
                "ยังไม่มีข้อมูลปัญหา"
            }
        );
    }
    for d in &districts {
        let (th, en) = names.get(d).cloned().unwrap_or_default();
        let name = if english {
            en.unwrap_or_else(|| th.clone())
        } else {
            th
        };
        let _ = write!(
            s,
            r#"<text x="0" y="{}" font-weight="bold">{} {}</text>"#,
            y + 14.0,
            esc(d),
            esc(&name)
        );
        y += 22.0;
        for dim in Dimension::ALL {
            let counts = bars.get(&(d.clone(), *dim)).copied().unwrap_or_default();
            let label = if english {
                dim.name_en()
            } else {
                dim.name_th()
            };
            let _ = write!(s, r#"<text x="12" y="{}">{}</text>"#, y + 14.0, esc(label));
            let mut x = label_w;
            for (i, st) in ProblemStatus::ALL.iter().enumerate() {
                let n = counts[i];
                if n == 0 {
                    continue;
                }
                let w = bar_w * n as f64 / max as f64;
                let stl = if english { st.name_en() } else { st.name_th() };
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="{}" fill="{}" data-district="{}" data-dimension="{}" data-status="{}" data-count="{n}"><title>{} · {} · {}: {n}</title></rect>"#,
                    y + 2.0,
                    row_h - 4.0,
                    colour(*st),
                    esc(d),
                    dim.key(),
                    st.key(),
                    esc(&name),
                    esc(label),
                    esc(stl)
                );
                x += w;
            }
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" fill="dimgray">{}</text>"#,
                x + 6.0,
                y + 14.0,
                counts.iter().sum::<u64>()
            );
            y += row_h;
        }
        y += gap;
    }
    s.push_str("</svg>");
    Ok(s)
}

/// The monthly report workbook of `month` (`YYYY-MM`) over what `p` may see (a problem not
/// started is overdue `overdue_days` after it was recorded).
pub async fn monthly_report(
    db: &impl ConnectionTrait,
    p: &Principal,
    month: &str,
    overdue_days: u32,
) -> ApiResult<Vec<u8>> {
    let month = Month::parse(month)?;
    let report = reports::monthly(db, p, month, overdue_days).await?;
    reports::monthly_workbook(&report).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The fund report workbook over the funds `p` may see in `area` (or all) on `as_of`
/// (`YYYY-MM-DD`, `30/9/2565` …; today when empty), and the day it is of.
pub async fn fund_report(
    db: &impl ConnectionTrait,
    p: &Principal,
    as_of: Option<&str>,
    area: Option<&str>,
) -> ApiResult<(chrono::NaiveDate, Vec<u8>)> {
    let day = crate::service::day_or_today("asOf", as_of, chrono::Local::now().date_naive())?;
    let area = area.map(str::trim).filter(|s| !s.is_empty());
    let rows = crate::service::funds::report(db, p, area, day).await?;
    let bytes = crate::service::funds::report_workbook(&rows, day)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((day, bytes))
}

/// The quarterly (`quarter`, `2566Q1`) or fiscal-year (`fiscal_year`, `2566`) report
/// workbook over what `p` may see, and the period's key. Exactly one of the two.
pub async fn period_report(
    db: &impl ConnectionTrait,
    p: &Principal,
    quarter: Option<&str>,
    fiscal_year: Option<&str>,
) -> ApiResult<(String, Vec<u8>)> {
    use crate::service::periods::{self, Period};
    let period = match (quarter, fiscal_year) {
        (Some(q), None) => Period::parse_quarter(q)?,
        (None, Some(y)) => Period::parse_fiscal_year(y)?,
        _ => {
            return Err(ApiError::bad_input(
                "quarter",
                "give either quarter (2566Q1) or fiscalYear (2566)",
            ));
        }
    };
    let report = periods::period(db, p, period).await?;
    let bytes = periods::period_workbook(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((period.key(), bytes))
}

/// Most households one map answer carries.
pub const MAP_MAX_POINTS: usize = 50_000;

/// One household on the map.
#[derive(Debug, serde::Serialize, PartialEq)]
pub struct MapPoint {
    /// House code.
    pub h: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Where its work stands: its least advanced visible problem's status (`solved` when all
    /// are solved; none without a visible problem).
    pub s: Option<&'static str>,
    /// Village code.
    pub v: String,
}

/// A village's label, at the middle of its households' points.
#[derive(Debug, serde::Serialize, PartialEq)]
pub struct MapVillage {
    /// Village code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Mean latitude of its households with a point.
    pub lat: f64,
    /// Mean longitude.
    pub lon: f64,
    /// Households with a point.
    pub n: usize,
}

/// What the map draws: the households `p` may see (in `area` when given) that have a point,
/// how many have none, and the villages' labels.
#[derive(Debug, serde::Serialize, PartialEq)]
pub struct MapData {
    /// Households with a point.
    pub points: Vec<MapPoint>,
    /// Households without one (counted beside the map).
    pub missing: u64,
    /// Village labels.
    pub villages: Vec<MapVillage>,
    /// More households than [`MAP_MAX_POINTS`]: narrow the area.
    pub truncated: bool,
}

/// How far along a status is, lowest first: a household shows its least advanced problem.
fn progress(s: ProblemStatus) -> u8 {
    match s {
        ProblemStatus::NotStarted => 0,
        ProblemStatus::NotSolvableYet => 1,
        ProblemStatus::AwaitingFollowUp => 2,
        ProblemStatus::FollowingUp => 3,
        ProblemStatus::Solved => 4,
    }
}

/// The map's data over what `p` may see.
pub async fn map_data(
    db: &impl ConnectionTrait,
    p: &Principal,
    area: Option<&str>,
) -> ApiResult<MapData> {
    use entity::{household, problem};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut houses = p.households();
    if let Some(a) = area {
        let code = entity::types::AreaCode::parse_str(a)
            .map_err(|e| ApiError::bad_input("area", e.message_en()))?;
        houses = houses.add(crate::service::households::in_area(&code));
    }
    let rows: Vec<(String, Option<f64>, Option<f64>, String)> = household::Entity::find()
        .select_only()
        .column(household::Column::HouseCode)
        .column(household::Column::Latitude)
        .column(household::Column::Longitude)
        .column(household::Column::VillageCode)
        .filter(houses.clone())
        .order_by_asc(household::Column::HouseCode)
        .limit(MAP_MAX_POINTS as u64 + 1)
        .into_tuple()
        .all(db)
        .await?;
    let truncated = rows.len() > MAP_MAX_POINTS;
    let statuses: Vec<(String, ProblemStatus)> = problem::Entity::find()
        .select_only()
        .column(problem::Column::HouseCode)
        .column(problem::Column::Status)
        .filter(p.problems())
        .filter(
            problem::Column::HouseCode.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(household::Column::HouseCode)
                    .from(household::Entity)
                    .cond_where(houses)
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut least: HashMap<String, ProblemStatus> = HashMap::new();
    for (h, s) in statuses {
        least
            .entry(h)
            .and_modify(|cur| {
                if progress(s) < progress(*cur) {
                    *cur = s;
                }
            })
            .or_insert(s);
    }
    let mut out = MapData {
        points: Vec::new(),
        missing: 0,
        villages: Vec::new(),
        truncated,
    };
    let mut sums: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for (h, lat, lon, v) in rows.into_iter().take(MAP_MAX_POINTS) {
        match (lat, lon) {
            (Some(lat), Some(lon)) => {
                let e = sums.entry(v.clone()).or_default();
                e.0 += lat;
                e.1 += lon;
                e.2 += 1;
                out.points.push(MapPoint {
                    s: least.get(&h).map(|s| s.key()),
                    h,
                    lat,
                    lon,
                    v,
                });
            }
            _ => out.missing += 1,
        }
    }
    let codes: Vec<String> = sums.keys().cloned().collect();
    let names: HashMap<String, String> = entity::area::Entity::find()
        .filter(
            entity::area::Column::Code.is_in(
                codes
                    .iter()
                    .filter_map(|c| entity::types::AreaCode::parse_str(c).ok()),
            ),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_string(), a.name_th))
        .collect();
    out.villages = sums
        .into_iter()
        .map(|(code, (lat, lon, n))| MapVillage {
            name: names.get(&code).cloned().unwrap_or_else(|| code.clone()),
            lat: lat / n as f64,
            lon: lon / n as f64,
            n,
            code,
        })
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_leaflet_is_the_vendored_one() {
        crate::http::assert_vendored(include_str!("../assets/leaflet/SHA256SUMS"), &LEAFLET);
    }

    #[test]
    fn tile_servers_are_checked_and_escaped() {
        assert_eq!(tile_url(DEFAULT_TILES).as_deref(), Ok(DEFAULT_TILES));
        assert!(tile_url("http://tiles.local/{z}/{x}/{y}.png").is_ok());
        for bad in [
            "ftp://t/{z}/{x}/{y}",
            "https://t/{z}/{x}.png",
            "https://t/{z}/{x}/{y}\"><script>",
            "javascript:alert(1)//{z}{x}{y}",
        ] {
            assert!(tile_url(bad).is_err(), "{bad}");
        }
        let page = index_html("https://t.example/{z}/{x}/{y}.png?a=1&b=2");
        assert!(page.contains("https://t.example/{z}/{x}/{y}.png?a=1&amp;b=2"));
        assert!(!page.contains("{{MAP_TILES}}"));
    }
}
