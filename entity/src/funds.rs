//! The arithmetic of poverty funds, on a fund's movements and a day: a loan's instalments,
//! what is owed and in arrears, and a fund's position (capital, grants, loans, repayments,
//! balance, outstanding, arrears). Pure: the API, the reports and the tests share it.

use crate::fund_movement::Model as Movement;
use crate::types::FundMovementKind as Kind;
use chrono::{Months, NaiveDate};
use std::collections::HashMap;

/// Longest loan term, in months (ten years).
pub const MAX_TERM_MONTHS: i32 = 120;

/// A movement not yet stored (id 0, no household or provenance): what a new grant or loan is
/// checked as before it is written.
pub fn draft(fund_id: i32, kind: Kind, moved_on: NaiveDate, amount_satang: i64) -> Movement {
    Movement {
        id: 0,
        fund_id,
        kind,
        moved_on,
        amount_satang,
        house_code: None,
        problem_id: None,
        entry_id: None,
        loan_id: None,
        source: None,
        term_months: None,
        every_months: None,
        note: None,
        recorded_by: String::new(),
        created_at: chrono::DateTime::default(),
        batch_id: None,
        source_row: None,
    }
}

/// One instalment of a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instalment {
    /// When it is due.
    pub due_on: NaiveDate,
    /// Satang.
    pub amount: i64,
}

/// Why a loan's terms are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    /// The term is not 1–120 months.
    #[error("a loan's term is 1 to {MAX_TERM_MONTHS} months")]
    Term,
    /// The instalment interval does not divide the term.
    #[error("instalments come every 1 to {0} months, a whole number of times in the term")]
    Every(i32),
}

/// Checks a loan's term and instalment interval: a term of 1–120 months, and an interval
/// that divides it (the term itself for one payment at the end).
pub fn check_terms(term_months: i32, every_months: i32) -> Result<(), TermsError> {
    if !(1..=MAX_TERM_MONTHS).contains(&term_months) {
        return Err(TermsError::Term);
    }
    if every_months < 1 || every_months > term_months || term_months % every_months != 0 {
        return Err(TermsError::Every(term_months));
    }
    Ok(())
}

/// A loan's instalments: `term / every` equal parts (the last takes the remaining satang),
/// due every `every` months after the day it was lent (the month's last day where the month
/// is shorter: lent on 31 January, due on 28 or 29 February).
pub fn schedule(
    lent_on: NaiveDate,
    amount: i64,
    term_months: i32,
    every_months: i32,
) -> Result<Vec<Instalment>, TermsError> {
    check_terms(term_months, every_months)?;
    let n = term_months / every_months;
    let part = amount / i64::from(n);
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for k in 1..=n {
        let months = u32::try_from(k * every_months).map_err(|_| TermsError::Term)?;
        let due_on = lent_on
            .checked_add_months(Months::new(months))
            .ok_or(TermsError::Term)?;
        let amount = if k == n {
            amount - part * i64::from(n - 1)
        } else {
            part
        };
        out.push(Instalment { due_on, amount });
    }
    Ok(out)
}

/// Where one loan stands on a day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoanState {
    /// The loan's movement id.
    pub loan_id: i32,
    /// Lent, satang.
    pub amount: i64,
    /// Repaid by the day.
    pub repaid: i64,
    /// Written off by the day.
    pub written_off: i64,
    /// Instalments due by the day.
    pub due: i64,
    /// Still owed: lent − repaid − written off.
    pub outstanding: i64,
    /// Due but not settled: due − repaid − written off, at least 0.
    pub arrears: i64,
    /// The first instalment after the day, if any.
    pub next_due: Option<Instalment>,
}

/// The state of `loan` on `as_of`, from the repayments and write-offs among `movements`
/// (those of other loans are ignored). A loan without terms is due whole at once.
pub fn loan_state(loan: &Movement, movements: &[Movement], as_of: NaiveDate) -> LoanState {
    let instalments = match (loan.term_months, loan.every_months) {
        (Some(t), Some(e)) => schedule(loan.moved_on, loan.amount_satang, t, e).unwrap_or_default(),
        _ => Vec::new(),
    };
    let instalments = if instalments.is_empty() {
        vec![Instalment {
            due_on: loan.moved_on,
            amount: loan.amount_satang,
        }]
    } else {
        instalments
    };
    let mut s = LoanState {
        loan_id: loan.id,
        amount: loan.amount_satang,
        ..LoanState::default()
    };
    for m in movements
        .iter()
        .filter(|m| m.loan_id == Some(loan.id) && m.moved_on <= as_of)
    {
        match m.kind {
            Kind::Repayment => s.repaid += m.amount_satang,
            Kind::WriteOff => s.written_off += m.amount_satang,
            _ => {}
        }
    }
    s.due = instalments
        .iter()
        .filter(|i| i.due_on <= as_of)
        .map(|i| i.amount)
        .sum();
    s.next_due = instalments.iter().find(|i| i.due_on > as_of).copied();
    s.outstanding = (s.amount - s.repaid - s.written_off).max(0);
    s.arrears = (s.due - s.repaid - s.written_off).max(0);
    s
}

/// A fund's (or several funds') figures on a day, in satang.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Capital paid in.
    pub capital: i64,
    /// Granted.
    pub granted: i64,
    /// Grants made.
    pub grants: i64,
    /// Lent.
    pub lent: i64,
    /// Loans made.
    pub loans: i64,
    /// Repaid.
    pub repaid: i64,
    /// Written off.
    pub written_off: i64,
    /// Money in the fund: capital − granted − lent + repaid.
    pub balance: i64,
    /// Loans still owed.
    pub outstanding: i64,
    /// Instalments due and not settled.
    pub arrears: i64,
    /// Loans with arrears.
    pub loans_in_arrears: i64,
}

impl std::ops::AddAssign for Position {
    fn add_assign(&mut self, o: Self) {
        self.capital += o.capital;
        self.granted += o.granted;
        self.grants += o.grants;
        self.lent += o.lent;
        self.loans += o.loans;
        self.repaid += o.repaid;
        self.written_off += o.written_off;
        self.balance += o.balance;
        self.outstanding += o.outstanding;
        self.arrears += o.arrears;
        self.loans_in_arrears += o.loans_in_arrears;
    }
}

/// The position of the movements on `as_of` (those dated after it are not counted).
pub fn position(movements: &[Movement], as_of: NaiveDate) -> Position {
    let mut p = Position::default();
    for m in movements.iter().filter(|m| m.moved_on <= as_of) {
        match m.kind {
            Kind::Capital => p.capital += m.amount_satang,
            Kind::Grant => {
                p.granted += m.amount_satang;
                p.grants += 1;
            }
            Kind::Loan => {
                p.lent += m.amount_satang;
                p.loans += 1;
                let s = loan_state(m, movements, as_of);
                p.outstanding += s.outstanding;
                p.arrears += s.arrears;
                p.loans_in_arrears += i64::from(s.arrears > 0);
            }
            Kind::Repayment => p.repaid += m.amount_satang,
            Kind::WriteOff => p.written_off += m.amount_satang,
        }
    }
    p.balance = p.capital - p.granted - p.lent + p.repaid;
    p
}

/// The fund's balance at the end of each day it moved, in day order (a day's inflows and
/// outflows net out).
fn daily_balances(movements: &[Movement]) -> Vec<(NaiveDate, i64)> {
    let mut by_day: std::collections::BTreeMap<NaiveDate, i64> = Default::default();
    for m in movements {
        let signed = match m.kind {
            Kind::Capital | Kind::Repayment => m.amount_satang,
            Kind::Grant | Kind::Loan => -m.amount_satang,
            Kind::WriteOff => 0,
        };
        *by_day.entry(m.moved_on).or_default() += signed;
    }
    let mut running = 0i64;
    by_day
        .into_iter()
        .map(|(day, delta)| {
            running += delta;
            (day, running)
        })
        .collect()
}

/// The lowest balance the fund has at the end of any day from `from` on. A new grant or
/// loan dated `from` is checked with itself among the movements: the fund must not go below
/// 0 that day or any later one.
pub fn lowest_balance_from(movements: &[Movement], from: NaiveDate) -> i64 {
    let days = daily_balances(movements);
    days.iter()
        .filter(|(day, _)| *day >= from)
        .map(|(_, b)| *b)
        .min()
        // no movement on or after `from`: the balance then is the running total
        .unwrap_or_else(|| days.last().map_or(0, |(_, b)| *b))
}

/// The first day on or after `from` whose closing balance is below 0, with that balance:
/// where a set of new grants and loans (an import's) spends money the fund does not have.
pub fn first_overdrawn(movements: &[Movement], from: NaiveDate) -> Option<(NaiveDate, i64)> {
    daily_balances(movements)
        .into_iter()
        .find(|(day, b)| *day >= from && *b < 0)
}

/// What is still owed on each loan among `movements` (repayments and write-offs of every
/// date): how much a new repayment or write-off may be.
pub fn owed(movements: &[Movement]) -> HashMap<i32, i64> {
    let mut owed: HashMap<i32, i64> = movements
        .iter()
        .filter(|m| m.kind == Kind::Loan)
        .map(|m| (m.id, m.amount_satang))
        .collect();
    for m in movements.iter().filter(|m| m.kind.of_loan()) {
        if let Some(o) = m.loan_id.and_then(|l| owed.get_mut(&l)) {
            *o -= m.amount_satang;
        }
    }
    owed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a day")
    }

    fn mv(id: i32, kind: Kind, on: NaiveDate, baht: i64) -> Movement {
        Movement {
            id,
            ..draft(1, kind, on, baht * 100)
        }
    }

    fn loan(id: i32, on: NaiveDate, baht: i64, term: i32, every: i32) -> Movement {
        Movement {
            term_months: Some(term),
            every_months: Some(every),
            ..mv(id, Kind::Loan, on, baht)
        }
    }

    fn pay(id: i32, kind: Kind, loan: i32, on: NaiveDate, baht: i64) -> Movement {
        Movement {
            loan_id: Some(loan),
            ..mv(id, kind, on, baht)
        }
    }

    #[test]
    fn terms_are_checked() {
        assert_eq!(check_terms(12, 1), Ok(()));
        assert_eq!(check_terms(12, 12), Ok(()));
        assert_eq!(check_terms(12, 3), Ok(()));
        assert_eq!(check_terms(0, 1), Err(TermsError::Term));
        assert_eq!(check_terms(121, 1), Err(TermsError::Term));
        assert_eq!(check_terms(12, 5), Err(TermsError::Every(12)));
        assert_eq!(check_terms(12, 0), Err(TermsError::Every(12)));
        assert_eq!(check_terms(12, 24), Err(TermsError::Every(12)));
    }

    #[test]
    fn schedules_split_evenly_and_keep_month_ends() {
        // 10,000 baht over 3 monthly instalments: 3,333.33 twice and 3,333.34
        let s = schedule(d(2022, 1, 31), 1_000_000, 3, 1).expect("terms");
        assert_eq!(
            s,
            vec![
                Instalment {
                    due_on: d(2022, 2, 28),
                    amount: 333_333
                },
                Instalment {
                    due_on: d(2022, 3, 31),
                    amount: 333_333
                },
                Instalment {
                    due_on: d(2022, 4, 30),
                    amount: 333_334
                },
            ]
        );
        assert_eq!(s.iter().map(|i| i.amount).sum::<i64>(), 1_000_000);
        let once = schedule(d(2022, 3, 15), 500_000, 12, 12).expect("terms");
        assert_eq!(once.len(), 1);
        assert_eq!(once[0].due_on, d(2023, 3, 15));
    }

    #[test]
    fn arrears_are_what_is_due_and_not_settled() {
        // 12,000 baht over 12 months from 15 Oct 2021: 1,000 due on the 15th of each month
        let l = loan(1, d(2021, 10, 15), 12_000, 12, 1);
        let ms = vec![
            l.clone(),
            pay(2, Kind::Repayment, 1, d(2021, 11, 15), 1_000),
            pay(3, Kind::Repayment, 1, d(2021, 12, 20), 1_000),
            // another loan's repayment is not this one's
            pay(4, Kind::Repayment, 9, d(2021, 12, 20), 5_000),
        ];
        // before the first instalment: nothing due
        let s = loan_state(&l, &ms, d(2021, 11, 14));
        assert_eq!((s.due, s.arrears, s.outstanding), (0, 0, 1_200_000));
        assert_eq!(s.next_due.map(|i| i.due_on), Some(d(2021, 11, 15)));
        // 15 Dec: two due, one paid
        let s = loan_state(&l, &ms, d(2021, 12, 15));
        assert_eq!((s.due, s.repaid, s.arrears), (200_000, 100_000, 100_000));
        // 20 Dec: caught up
        assert_eq!(loan_state(&l, &ms, d(2021, 12, 20)).arrears, 0);
        // 31 Mar 2022: five due, two paid
        let s = loan_state(&l, &ms, d(2022, 3, 31));
        assert_eq!(
            (s.due, s.arrears, s.outstanding),
            (500_000, 300_000, 1_000_000)
        );
        // a write-off settles as a repayment does
        let mut with_off = ms.clone();
        with_off.push(pay(5, Kind::WriteOff, 1, d(2022, 4, 1), 10_000));
        let s = loan_state(&l, &with_off, d(2022, 4, 1));
        assert_eq!((s.arrears, s.outstanding, s.written_off), (0, 0, 1_000_000));
    }

    #[test]
    fn positions_on_fixed_dates() {
        let ms = vec![
            mv(1, Kind::Capital, d(2021, 10, 1), 100_000),
            mv(2, Kind::Grant, d(2021, 11, 1), 3_000),
            loan(3, d(2021, 11, 1), 12_000, 12, 1),
            pay(4, Kind::Repayment, 3, d(2021, 12, 1), 1_000),
            mv(5, Kind::Capital, d(2022, 1, 10), 50_000),
        ];
        let p = position(&ms, d(2021, 9, 30));
        assert_eq!(p, Position::default());
        let p = position(&ms, d(2021, 12, 31));
        assert_eq!(p.capital, 10_000_000);
        assert_eq!((p.granted, p.grants), (300_000, 1));
        assert_eq!((p.lent, p.loans), (1_200_000, 1));
        assert_eq!(p.repaid, 100_000);
        assert_eq!(p.balance, 10_000_000 - 300_000 - 1_200_000 + 100_000);
        assert_eq!(p.outstanding, 1_100_000);
        // 1 Dec due and paid: no arrears on 31 Dec
        assert_eq!((p.arrears, p.loans_in_arrears), (0, 0));
        let p = position(&ms, d(2022, 2, 1));
        assert_eq!(p.capital, 15_000_000);
        // 1 Jan and 1 Feb due, not paid
        assert_eq!((p.arrears, p.loans_in_arrears), (200_000, 1));
        let mut sum = Position::default();
        sum += p;
        sum += p;
        assert_eq!(sum.arrears, 400_000);
    }

    #[test]
    fn the_lowest_balance_looks_ahead() {
        let ms = vec![
            mv(1, Kind::Capital, d(2022, 1, 1), 10_000),
            mv(2, Kind::Grant, d(2022, 3, 1), 8_000),
        ];
        // on 1 Feb the fund holds 10,000, but 8,000 leaves on 1 Mar: 2,000 may be given
        assert_eq!(lowest_balance_from(&ms, d(2022, 2, 1)), 200_000);
        assert_eq!(lowest_balance_from(&ms, d(2022, 4, 1)), 200_000);
        // before the capital came in, nothing
        assert_eq!(lowest_balance_from(&ms, d(2021, 12, 1)), 200_000);
        assert_eq!(lowest_balance_from(&[], d(2021, 12, 1)), 0);
    }

    #[test]
    fn the_first_overdrawn_day_is_where_the_money_ran_out() {
        let mut ms = vec![
            mv(1, Kind::Capital, d(2022, 1, 1), 10_000),
            mv(2, Kind::Grant, d(2022, 2, 1), 6_000),
            mv(3, Kind::Grant, d(2022, 3, 1), 6_000),
            mv(4, Kind::Capital, d(2022, 4, 1), 5_000),
        ];
        assert_eq!(
            first_overdrawn(&ms, d(2022, 1, 1)),
            Some((d(2022, 3, 1), -200_000))
        );
        // a day's inflow and outflow net out: capital the same day covers the grant
        ms.push(mv(5, Kind::Capital, d(2022, 3, 1), 2_000));
        assert_eq!(first_overdrawn(&ms, d(2022, 1, 1)), None);
        ms.push(mv(6, Kind::Loan, d(2022, 5, 1), 5_001));
        assert_eq!(
            first_overdrawn(&ms, d(2022, 1, 1)),
            Some((d(2022, 5, 1), -100))
        );
        // only from the day asked
        assert_eq!(first_overdrawn(&ms, d(2022, 6, 1)), None);
    }

    #[test]
    fn owed_counts_every_repayment() {
        let ms = vec![
            loan(1, d(2022, 1, 1), 5_000, 5, 1),
            pay(2, Kind::Repayment, 1, d(2022, 2, 1), 1_000),
            pay(3, Kind::WriteOff, 1, d(2030, 1, 1), 500),
        ];
        assert_eq!(owed(&ms).get(&1), Some(&350_000));
    }
}
