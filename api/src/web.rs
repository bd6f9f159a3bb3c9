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

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");

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
    let (label_w, bar_w, row_h, gap) = (230.0, 560.0, 20.0, 14.0);
    let width = label_w + bar_w + 80.0;
    let height = 70.0
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
