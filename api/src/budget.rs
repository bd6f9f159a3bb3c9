//! Cost budgets per key: a token bucket per key and process, filled at the key's budget per
//! minute (the server's `--cost-budget-per-minute` unless the key has its own) and holding at
//! most one minute of it. A request is charged its validated complexity before it runs; a key
//! whose bucket cannot pay is refused with `RATE_LIMITED` (HTTP 429, `Retry-After`), and every
//! answer says what it cost (`extensions.cost`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The buckets of one server, by the key's token hash (key ids repeat across databases).
#[derive(Clone, Default)]
pub struct Budgets(Arc<Mutex<HashMap<String, Bucket>>>);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What a request cost, as `extensions.cost` shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// The request's complexity.
    pub requested: u64,
    /// The key's budget per minute (also what its bucket holds when full).
    pub limit: u64,
    /// What is left after this request.
    pub remaining: u64,
    /// When the bucket is full again.
    pub reset_at: chrono::DateTime<chrono::Utc>,
    /// When refused: how long until the bucket can pay.
    pub retry_after: Option<Duration>,
}

impl Cost {
    /// As JSON for `extensions.cost`.
    pub fn to_value(&self) -> async_graphql::Value {
        let mut m = async_graphql::indexmap::IndexMap::new();
        let n = |v: u64| async_graphql::Value::from(v);
        m.insert(async_graphql::Name::new("requested"), n(self.requested));
        m.insert(async_graphql::Name::new("limit"), n(self.limit));
        m.insert(async_graphql::Name::new("remaining"), n(self.remaining));
        m.insert(
            async_graphql::Name::new("resetAt"),
            async_graphql::Value::from(self.reset_at.to_rfc3339()),
        );
        async_graphql::Value::Object(m)
    }
}

/// One request's charge against its key's bucket; the outcome is kept for the answer.
pub struct Charge {
    budgets: Budgets,
    key: String,
    per_minute: u64,
    outcome: Mutex<Option<Cost>>,
}

impl Charge {
    /// A charge for the key of `token_hash`, whose budget is `per_minute` (0: no budget).
    pub fn new(budgets: &Budgets, token_hash: String, per_minute: u64) -> Self {
        Charge {
            budgets: budgets.clone(),
            key: token_hash,
            per_minute,
            outcome: Mutex::new(None),
        }
    }

    /// Takes `requested` from the bucket when it can pay; the cost either way (with
    /// `retry_after` when refused). No budget: always paid.
    /// With no budget nothing is recorded (the answer then carries no `cost`).
    pub fn take(&self, requested: u64) -> Cost {
        if self.per_minute == 0 {
            return Cost {
                requested,
                limit: 0,
                remaining: 0,
                reset_at: chrono::Utc::now(),
                retry_after: None,
            };
        }
        let cost = self.take_from_bucket(requested);
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some(cost);
        }
        cost
    }

    fn take_from_bucket(&self, requested: u64) -> Cost {
        let capacity = self.per_minute as f64;
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let Ok(mut map) = self.budgets.0.lock() else {
            // a poisoned lock is no reason to refuse service
            return Cost {
                requested,
                limit: self.per_minute,
                remaining: self.per_minute,
                reset_at: chrono::Utc::now(),
                retry_after: None,
            };
        };
        // bounded: buckets full again (unused for a minute) are dropped once there are many
        if map.len() > 10_000 {
            map.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(60));
        }
        let b = map.entry(self.key.clone()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_second).min(capacity);
        b.at = now;
        // a request dearer than a whole minute's budget takes a full bucket
        let need = (requested as f64).min(capacity);
        let retry_after = if b.tokens >= need {
            b.tokens -= need;
            None
        } else {
            Some(Duration::from_secs_f64(
                ((need - b.tokens) / per_second).max(0.001),
            ))
        };
        let to_full = (capacity - b.tokens) / per_second;
        Cost {
            requested,
            limit: self.per_minute,
            remaining: b.tokens.floor() as u64,
            reset_at: chrono::Utc::now()
                + chrono::Duration::milliseconds((to_full * 1000.0).ceil() as i64),
            retry_after,
        }
    }

    /// The cost charged, once the request was charged.
    pub fn outcome(&self) -> Option<Cost> {
        self.outcome.lock().ok().and_then(|o| *o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_pays_until_empty_then_says_when_to_retry() {
        let budgets = Budgets::default();
        let charge = |n| Charge::new(&budgets, "k".into(), 600).take(n);
        let c = charge(500);
        assert_eq!((c.limit, c.remaining, c.retry_after), (600, 100, None));
        let c = charge(300);
        // 10 a second refill: 200 short is about 20 s
        let wait = c.retry_after.expect("refused");
        assert!((19.0..=21.0).contains(&wait.as_secs_f64()), "{wait:?}");
        assert_eq!(c.remaining, 100, "a refusal takes nothing");
        // another key has its own bucket; no budget pays always
        assert_eq!(
            Charge::new(&budgets, "other".into(), 600)
                .take(300)
                .retry_after,
            None
        );
        assert_eq!(
            Charge::new(&budgets, "k".into(), 0)
                .take(1_000_000)
                .retry_after,
            None
        );
        // dearer than a whole minute: it waits for a full bucket, then takes all of it
        let c = charge(10_000);
        assert!(c.retry_after.expect("refused").as_secs_f64() <= 60.0);
        let fresh = Budgets::default();
        let c = Charge::new(&fresh, "k".into(), 600).take(10_000);
        assert_eq!((c.retry_after, c.remaining), (None, 0));
    }
}
