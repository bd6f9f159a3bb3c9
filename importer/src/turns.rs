//! Turns: which files of one run check and write at the same time. Each file has its place
//! in the run ([`Turns::ticket`]); it takes its turn once it is read (reading goes on beside
//! any turn) and keeps it until it is written. With turns by district (PostgreSQL, whose
//! imports of different districts write side by side), a file goes as soon as no file before
//! it in the run shares a district with it and is unwritten, so each is checked against what
//! the ones before it wrote; with one turn (SQLite, one writer), files go one after another,
//! in order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The turns of one run, shared by its files.
#[derive(Clone, Debug)]
pub struct Turns(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// One turn for all, instead of one per district.
    single: bool,
    /// The files not yet written, by place: their districts once read.
    pending: Mutex<BTreeMap<usize, Option<BTreeSet<String>>>>,
    freed: Notify,
}

impl Turns {
    /// Files of different districts together, one district's one after another.
    pub fn by_district() -> Self {
        Self::new(false)
    }

    /// One file at a time, in order.
    pub fn single() -> Self {
        Self::new(true)
    }

    fn new(single: bool) -> Self {
        Turns(Arc::new(Inner {
            single,
            pending: Mutex::new(BTreeMap::new()),
            freed: Notify::new(),
        }))
    }

    fn pending(&self) -> MutexGuard<'_, BTreeMap<usize, Option<BTreeSet<String>>>> {
        // a panic while holding it left nothing half-done: the map is whole either way
        self.0.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `place`th file's ticket (places from 0, each given once, all before any turn is
    /// taken); its place is freed when the ticket is dropped.
    pub fn ticket(&self, place: usize) -> Ticket {
        self.pending().insert(place, None);
        Ticket {
            turns: self.clone(),
            place,
        }
    }
}

/// A file's place in the run.
#[derive(Debug)]
pub struct Ticket {
    turns: Turns,
    place: usize,
}

impl Ticket {
    /// Waits for the file's turn, now that it is read and its districts known; the turn
    /// lasts until the ticket is dropped.
    pub async fn take(&self, districts: BTreeSet<String>) {
        let inner = &self.turns.0;
        loop {
            let freed = inner.freed.notified();
            tokio::pin!(freed);
            // registered before looking, so a place freed meanwhile wakes this one
            freed.as_mut().enable();
            {
                let mut pending = self.turns.pending();
                pending.insert(self.place, Some(districts.clone()));
                let mut before = pending.range(..self.place).map(|(_, d)| d);
                let free = if inner.single {
                    before.next().is_none()
                } else {
                    before.all(|d| d.as_ref().is_some_and(|d| d.is_disjoint(&districts)))
                };
                if free {
                    return;
                }
            }
            freed.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.turns.pending().remove(&self.place);
        self.turns.0.freed.notify_waiters();
    }
}

/// The districts of house codes (their first four digits).
pub fn districts_of<'a>(house_codes: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    house_codes
        .into_iter()
        .filter_map(|h| h.get(..4))
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn set(ds: &[&str]) -> BTreeSet<String> {
        ds.iter().map(|d| d.to_string()).collect()
    }

    async fn waits(t: &Ticket, ds: &[&str]) -> bool {
        tokio::time::timeout(Duration::from_millis(50), t.take(set(ds)))
            .await
            .is_err()
    }

    #[tokio::test]
    async fn a_file_waits_only_for_earlier_files_of_its_districts() {
        let turns = Turns::by_district();
        let tickets: Vec<Ticket> = (0..4).map(|i| turns.ticket(i)).collect();
        // the second file is read first: the first, not read yet, may share its district
        assert!(waits(&tickets[1], &["3301"]).await, "first not read yet");
        tickets[0].take(set(&["3318"])).await;
        assert!(
            !waits(&tickets[1], &["3301"]).await,
            "another district goes"
        );
        assert!(
            waits(&tickets[2], &["3318", "3302"]).await,
            "one sharing 3318 with the first waits"
        );
        assert!(
            !waits(&tickets[3], &["3399"]).await,
            "every file before it read, none of 3399"
        );
        let mut tickets = tickets.into_iter();
        let first = tickets.next().expect("first");
        let _second = tickets.next().expect("second");
        let third = tickets.next().expect("third");
        let later = tokio::spawn(async move {
            third.take(set(&["3318", "3302"])).await;
            third
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!later.is_finished());
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(5), later)
            .await
            .expect("its turn once the first is written")
            .expect("task");
        let fourth = tickets.next().expect("fourth");
        assert!(
            waits(&fourth, &["3302"]).await,
            "the third, of 3302, is unwritten"
        );
        drop(third);
        assert!(!waits(&fourth, &["3302"]).await);
    }

    #[tokio::test]
    async fn a_single_turn_is_one_file_at_a_time_in_order() {
        let turns = Turns::single();
        let a = turns.ticket(0);
        let b = turns.ticket(1);
        assert!(waits(&b, &["3301"]).await, "the first has not gone");
        a.take(set(&["3318"])).await;
        assert!(waits(&b, &["3301"]).await, "the first is being written");
        drop(a);
        assert!(!waits(&b, &["3301"]).await);
    }

    #[test]
    fn districts_are_the_first_four_digits() {
        assert_eq!(
            districts_of(["33180179046", "33011234567", "3318x", "abcd123", "33"]),
            set(&["3301", "3318"])
        );
    }
}
