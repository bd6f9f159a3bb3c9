//! The webhooks' outbox: the statements that record events in the transaction of the change
//! they announce. A writer asks which topics some webhook subscribes to ([`Subscribed`]) and
//! writes events only for those — with no webhook, a change writes nothing more. The SQL
//! here runs on both backends (`placeholder` gives the backend's parameter marks); values
//! inlined into it are integers and this crate's own status keys, never input.

use crate::types::{ProblemStatus, WebhookTopic};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement};
use std::collections::HashSet;

/// Reads every webhook's topics.
pub const TOPICS_SQL: &str = "SELECT topics FROM webhooks";

/// The topics some webhook subscribes to, read in the writer's transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribed(HashSet<WebhookTopic>);

impl Subscribed {
    /// From the `topics` column of every webhook (comma-separated keys; an unknown key is
    /// skipped).
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a str>) -> Self {
        Subscribed(
            rows.into_iter()
                .flat_map(|r| r.split(','))
                .filter_map(|k| WebhookTopic::from_key(k.trim()))
                .collect(),
        )
    }

    /// Reads them through a SeaORM connection or transaction.
    pub async fn load(conn: &impl ConnectionTrait) -> Result<Self, DbErr> {
        #[derive(FromQueryResult)]
        struct Row {
            topics: String,
        }
        let rows = Row::find_by_statement(Statement::from_string(
            conn.get_database_backend(),
            TOPICS_SQL,
        ))
        .all(conn)
        .await?;
        Ok(Self::from_rows(rows.iter().map(|r| r.topics.as_str())))
    }

    /// Whether some webhook wants this topic.
    pub fn wants(&self, t: WebhookTopic) -> bool {
        self.0.contains(&t)
    }

    /// Whether no webhook wants anything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const INSERT: &str = "INSERT INTO webhook_events (topic, subject_id, problem_id, house_code, \
     indicator_code, status, previous_status, area_code, at, dispatched)";

/// `problem.created` for every problem with an id above parameter 2 written by the change
/// numbered parameter 3, at parameter 1 (ids only grow: a writer notes the largest before it
/// inserts; the number leaves out what writers of other districts commit meanwhile).
pub fn problems_created(ph: impl Fn(usize) -> String) -> String {
    format!(
        "{INSERT} SELECT '{}', p.id, p.id, p.house_code, p.indicator_code, p.status, NULL, \
         h.village_code, {}, FALSE FROM problems p JOIN households h ON h.house_code = p.house_code \
         WHERE p.id > {} AND p.change_seq = {} ORDER BY p.id",
        WebhookTopic::ProblemCreated.key(),
        ph(1),
        ph(2),
        ph(3)
    )
}

/// `logbook_entry.created` for every logbook entry with an id above parameter 2 written by
/// the change numbered parameter 3, at parameter 1.
pub fn entries_created(ph: impl Fn(usize) -> String) -> String {
    format!(
        "{INSERT} SELECT '{}', e.id, e.problem_id, p.house_code, p.indicator_code, e.status, \
         NULL, h.village_code, {}, FALSE FROM logbook_entries e \
         JOIN problems p ON p.id = e.problem_id JOIN households h ON h.house_code = p.house_code \
         WHERE e.id > {} AND e.change_seq = {} ORDER BY e.id",
        WebhookTopic::LogbookEntryCreated.key(),
        ph(1),
        ph(2),
        ph(3)
    )
}

/// `problem.status_changed` for each (problem id, status before) of `changed` — whose
/// status is now another — at parameter 1. At most a few hundred a statement.
pub fn statuses_changed(changed: &[(i32, ProblemStatus)], ph: impl Fn(usize) -> String) -> String {
    let values = changed
        .iter()
        .map(|(id, was)| format!("({id}, '{}')", was.key()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{INSERT} SELECT '{}', p.id, p.id, p.house_code, p.indicator_code, p.status, v.column2, \
         h.village_code, {}, FALSE FROM problems p JOIN households h ON h.house_code = p.house_code \
         JOIN (VALUES {values}) AS v ON v.column1 = p.id ORDER BY p.id",
        WebhookTopic::ProblemStatusChanged.key(),
        ph(1),
    )
}

/// `import_batch.finished` for batch parameter 1 in area parameter 2 (its district or
/// province; none for a national import), at parameter 3.
pub fn batch_finished(ph: impl Fn(usize) -> String) -> String {
    format!(
        "{INSERT} VALUES ('{}', {}, NULL, NULL, NULL, NULL, NULL, {}, {}, FALSE)",
        WebhookTopic::ImportBatchFinished.key(),
        ph(1),
        ph(2),
        ph(3)
    )
}

/// The problems of `before` (id, status before the change) whose status in `after` differs.
pub fn changed_statuses(
    before: &[(i32, ProblemStatus)],
    after: &[(i32, ProblemStatus)],
) -> Vec<(i32, ProblemStatus)> {
    let now: std::collections::HashMap<i32, ProblemStatus> = after.iter().copied().collect();
    let mut out: Vec<(i32, ProblemStatus)> = before
        .iter()
        .filter(|(id, was)| now.get(id).is_some_and(|s| s != was))
        .copied()
        .collect();
    out.sort_unstable_by_key(|(id, _)| *id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribed_reads_topic_lists_and_skips_unknown_keys() {
        let s = Subscribed::from_rows(["problem.created, import_batch.finished", "nonsense"]);
        assert!(s.wants(WebhookTopic::ProblemCreated));
        assert!(s.wants(WebhookTopic::ImportBatchFinished));
        assert!(!s.wants(WebhookTopic::LogbookEntryCreated));
        assert!(Subscribed::from_rows([]).is_empty());
    }

    #[test]
    fn only_problems_whose_status_moved_are_announced() {
        use ProblemStatus::*;
        let before = [(3, NotStarted), (1, FollowingUp), (2, Solved)];
        let after = [(1, Solved), (2, Solved), (3, FollowingUp)];
        assert_eq!(
            changed_statuses(&before, &after),
            vec![(1, FollowingUp), (3, NotStarted)]
        );
    }

    #[test]
    fn status_changes_are_inlined_as_numbers_and_own_keys() {
        let sql = statuses_changed(&[(7, ProblemStatus::NotStarted)], |n| format!("${n}"));
        assert!(sql.contains("(VALUES (7, 'not_started'))"), "{sql}");
        assert!(sql.contains("'problem.status_changed'"));
    }
}
