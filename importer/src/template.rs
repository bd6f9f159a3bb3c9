//! The blank district workbook: the six sheets (the funds sheet optional) with canonical headers (Thai, with the
//! English key as a note), required columns marked, drop-down lists for fixed values.

use crate::error::ImportError;
use crate::header::columns;
use crate::workbook::SheetKind;
use entity::types::{Classification, Dimension, FundMovementKind, ProblemStatus};
use rust_xlsxwriter::{Color, DataValidation, Format, Workbook};

/// Rows the drop-down lists cover.
const LIST_ROWS: u32 = 5000;

fn list_for(kind: SheetKind, key: &str) -> Option<Vec<String>> {
    let v: Vec<String> = match (kind, key) {
        (SheetKind::Households, "classification") => Classification::ALL
            .iter()
            .map(|c| c.name_th().to_string())
            .collect(),
        (SheetKind::Assistance, "status") => ProblemStatus::ALL[1..]
            .iter()
            .map(|s| s.name_th().to_string())
            .collect(),
        (SheetKind::Members, "sex") => vec!["ชาย".into(), "หญิง".into()],
        (SheetKind::Members, "disabled") => vec!["มี".into(), "ไม่มี".into()],
        (SheetKind::Problems, "dimension") => Dimension::ALL
            .iter()
            .map(|d| d.name_th().trim_start_matches("ด้าน").to_string())
            .collect(),
        (SheetKind::Funds, "kind") => [
            FundMovementKind::Grant,
            FundMovementKind::Loan,
            FundMovementKind::Repayment,
            FundMovementKind::WriteOff,
        ]
        .iter()
        .map(|k| k.name_th().to_string())
        .collect(),
        (_, "indicator") => (1..=17).map(|i| i.to_string()).collect(),
        _ => return None,
    };
    Some(v)
}

/// Writes the blank template.
pub fn template() -> Result<Vec<u8>, ImportError> {
    let mut wb = Workbook::new();
    let required = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xFCE4D6));
    let optional = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7));
    for kind in SheetKind::ALL {
        let ws = wb.add_worksheet();
        ws.set_name(kind.name_th())?;
        for (i, spec) in columns(kind).iter().enumerate() {
            let col = i as u16;
            let label = format!(
                "{}{} ({})",
                spec.aliases[0],
                if spec.required { "*" } else { "" },
                spec.key
            );
            ws.write_string_with_format(
                0,
                col,
                &label,
                if spec.required { &required } else { &optional },
            )?;
            ws.set_column_width(col, (label.chars().count() as f64 * 1.3).max(14.0))?;
            if let Some(list) = list_for(kind, spec.key) {
                let dv = DataValidation::new()
                    .allow_list_strings(&list)?
                    .ignore_blank(true);
                ws.add_data_validation(1, col, LIST_ROWS, col, &dv)?;
            }
        }
        ws.set_freeze_panes(1, 0)?;
    }
    Ok(wb.save_to_buffer()?)
}
