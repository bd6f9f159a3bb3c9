//! The members sheet: each member's household on the sheet or stored and in scope, one row
//! per citizen ID.

use super::check::Checker;
use super::{Context, Row, Seen, Validated};
use crate::header::mm;
use crate::rows::{MemberIn, Parsed};
use entity::member;
use sea_orm::ActiveValue::{NotSet, Set};

/// Checks the members sheet.
pub(super) fn check(
    ck: &mut Checker<'_>,
    rows: Vec<Parsed<MemberIn>>,
    ctx: &Context<'_>,
    seen: &mut Seen,
    out: &mut Validated,
) {
    out.members.reserve(rows.len());
    for p in rows {
        let Some(m) = p.value else {
            if let Some(h) = &p.ident.house_code {
                let cid = p.ident.citizen_id.as_ref().map(ToString::to_string);
                seen.rejected.add_member(h.as_str(), cid.as_deref(), p.row);
            }
            continue;
        };
        let house = m.house_code.to_string();
        let cid = m.citizen_id.to_string();
        let ok = match seen.members.get(&cid) {
            Some((first, _)) => {
                ck.duplicate(p.row, &ck.col(mm::CITIZEN_ID), Some(cid.clone()), *first);
                false
            }
            None => ck.house(
                p.row,
                &ck.col(mm::HOUSE_CODE),
                &house,
                seen.house(&house, ctx),
            ),
        };
        if !ok {
            ck.reject(p.row);
            seen.rejected.add_member(&house, Some(&cid), p.row);
            continue;
        }
        seen.members.insert(cid, (p.row, house));
        out.members.push(member_row(p.row, m));
    }
}

fn member_row(row: u32, m: MemberIn) -> Row<member::ActiveModel> {
    Row {
        row,
        model: member::ActiveModel {
            citizen_id_valid: Set(m.citizen_id.checksum_valid()),
            citizen_id: Set(m.citizen_id),
            house_code: Set(m.house_code),
            title: Set(m.title),
            first_name: Set(m.first_name),
            last_name: Set(m.last_name),
            sex: Set(m.sex),
            birth_date: Set(m.birth_date),
            age: Set(m.age),
            // the batch's day, filled when written
            age_as_of: NotSet,
            relation: Set(m.relation),
            disabled: Set(m.disabled),
            // the writing transaction's place in the change feed
            change_seq: NotSet,
            updated_at: NotSet,
            batch_id: NotSet,
            source_sheet: NotSet,
            source_row: NotSet,
        },
        link: (),
    }
}
