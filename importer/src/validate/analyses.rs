//! The 4ท analysis sheet: one analysis per household on the sheet or stored, in scope.

use super::{Context, Row, Seen, Validated, check::Checker};
use crate::header::an;
use crate::rows::{AnalysisIn, Parsed};
use entity::analysis;
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::HashMap;

/// Checks the analysis sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<AnalysisIn>>,
    ctx: &Context<'_>,
    seen: &Seen,
    out: &mut Validated,
) {
    let mut first_row: HashMap<String, u32> = HashMap::new();
    out.analyses.reserve(rows.len());
    for p in rows {
        let Some(a) = p.value else { continue };
        let house = a.house_code.to_string();
        let ok = if let Some(first) = first_row.get(&house) {
            ck.duplicate(p.row, &ck.col(an::HOUSE_CODE), Some(house.clone()), *first);
            false
        } else {
            ck.house(
                p.row,
                &ck.col(an::HOUSE_CODE),
                &house,
                seen.house(&house, ctx),
            )
        };
        if ok {
            first_row.insert(house.clone(), p.row);
            out.analyses.push(Row {
                row: p.row,
                model: analysis::ActiveModel {
                    house_code: Set(a.house_code),
                    attitude: Set(a.attitude),
                    skills: Set(a.skills),
                    resources: Set(a.resources),
                    way_out: Set(a.way_out),
                    analysed_on: Set(a.analysed_on),
                    mentor: Set(a.mentor),
                    // the writing transaction's place in the change feed
                    change_seq: NotSet,
                    updated_at: NotSet,
                    batch_id: NotSet,
                    source_sheet: NotSet,
                    source_row: NotSet,
                },
                link: (),
            });
        } else {
            ck.reject(p.row);
        }
    }
}
