//! The summary figures of an area — what `logbook stats` prints and the seeds quote:
//! households, members, problems, logbook entries, analyses, households solved, problems by
//! status and by dimension. The figures only; the API's stats service computes them.

use crate::types::{Dimension, ProblemStatus};
use serde::Serialize;

/// Problems per status, in the report's key order.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ByStatus {
    /// ยังไม่ได้ดำเนินการ
    pub not_started: i64,
    /// แก้ไขได้แล้ว
    pub solved: i64,
    /// รอติดตามผล
    pub awaiting_follow_up: i64,
    /// อยู่ระหว่างติดตามผล
    pub following_up: i64,
    /// ยังไม่สามารถแก้ไขปัญหาได้
    pub not_solvable_yet: i64,
}

impl ByStatus {
    /// Adds `n` problems of status `s`.
    pub fn add(&mut self, s: ProblemStatus, n: i64) {
        *match s {
            ProblemStatus::NotStarted => &mut self.not_started,
            ProblemStatus::Solved => &mut self.solved,
            ProblemStatus::AwaitingFollowUp => &mut self.awaiting_follow_up,
            ProblemStatus::FollowingUp => &mut self.following_up,
            ProblemStatus::NotSolvableYet => &mut self.not_solvable_yet,
        } += n;
    }

    /// The count of status `s`.
    pub fn get(&self, s: ProblemStatus) -> i64 {
        match s {
            ProblemStatus::NotStarted => self.not_started,
            ProblemStatus::Solved => self.solved,
            ProblemStatus::AwaitingFollowUp => self.awaiting_follow_up,
            ProblemStatus::FollowingUp => self.following_up,
            ProblemStatus::NotSolvableYet => self.not_solvable_yet,
        }
    }
}

/// Problems per dimension.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ByDimension {
    /// สุขภาพ
    pub health: i64,
    /// ความเป็นอยู่
    pub living: i64,
    /// การศึกษา
    pub education: i64,
    /// รายได้
    pub income: i64,
    /// การเข้าถึงบริการรัฐ
    pub access: i64,
}

impl ByDimension {
    /// Adds `n` problems of dimension `d`.
    pub fn add(&mut self, d: Dimension, n: i64) {
        *match d {
            Dimension::Health => &mut self.health,
            Dimension::Living => &mut self.living,
            Dimension::Education => &mut self.education,
            Dimension::Income => &mut self.income,
            Dimension::Access => &mut self.access,
        } += n;
    }

    /// The count of dimension `d`.
    pub fn get(&self, d: Dimension) -> i64 {
        match d {
            Dimension::Health => self.health,
            Dimension::Living => self.living,
            Dimension::Education => self.education,
            Dimension::Income => self.income,
            Dimension::Access => self.access,
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Target households stored.
    pub households: i64,
    /// Their members.
    pub members: i64,
    /// Their problems.
    pub problems: i64,
    /// Logbook entries on those problems.
    pub logbook_entries: i64,
    /// 4ท analyses.
    pub analyses: i64,
    /// Households that have problems, all solved.
    pub households_solved: i64,
    /// Problems by status.
    pub problems_by_status: ByStatus,
    /// Problems by dimension.
    pub problems_by_dimension: ByDimension,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_status_and_dimension_has_its_own_count() {
        let mut s = ByStatus::default();
        let mut d = ByDimension::default();
        for (i, k) in [
            "not_started",
            "solved",
            "awaiting_follow_up",
            "following_up",
            "not_solvable_yet",
        ]
        .into_iter()
        .enumerate()
        {
            s.add(ProblemStatus::from_str(k).unwrap(), i as i64 + 1);
        }
        for (i, k) in ["health", "living", "education", "income", "access"]
            .into_iter()
            .enumerate()
        {
            d.add(Dimension::from_str(k).unwrap(), 10 * (i as i64 + 1));
        }
        assert_eq!(
            (
                s.not_started,
                s.solved,
                s.awaiting_follow_up,
                s.following_up,
                s.not_solvable_yet
            ),
            (1, 2, 3, 4, 5)
        );
        assert_eq!(
            (d.health, d.living, d.education, d.income, d.access),
            (10, 20, 30, 40, 50)
        );
        assert_eq!(s.get(ProblemStatus::FollowingUp), 4);
        assert_eq!(d.get(Dimension::Income), 40);
    }
}
