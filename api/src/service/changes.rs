//! The change feed: every record a key may see, in the order the changes committed, from a
//! position on — for a system that keeps a mirror in step. A record's position is its
//! writing transaction's sequence number ([`entity::db::Stamp`]), its kind's rank and its
//! key; an agency's feed also carries what it stopped (or started) seeing when a dimension
//! was taken from it (or given to it), recorded in `visibility_changes` by [`record_visibility`].
//! Each record appears once, at its latest change; what it may see is decided by
//! [`crate::access`] at the moment of reading.

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::db::Stamp;
use entity::types::Dimension;
use entity::{analysis, household, logbook_entry, member, problem, visibility_change};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IdenStatic, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::cmp::Ordering;
use std::collections::HashSet;

/// A kind of record the feed carries; the order of the variants orders the records of one
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, async_graphql::Enum)]
#[graphql(name = "ChangeEntity")]
pub enum Entity {
    /// A household (key: house code).
    Household,
    /// A member (key: citizen ID).
    Member,
    /// A problem (key: its id).
    Problem,
    /// A 4ท analysis (key: house code).
    Analysis,
    /// A logbook entry (key: its id).
    LogbookEntry,
}

impl Entity {
    /// Every kind, in order.
    pub const ALL: [Entity; 5] = [
        Entity::Household,
        Entity::Member,
        Entity::Problem,
        Entity::Analysis,
        Entity::LogbookEntry,
    ];

    fn rank(self) -> i16 {
        self as i16 + 1
    }

    fn from_rank(r: i16) -> Option<Entity> {
        Entity::ALL.get(usize::try_from(r - 1).ok()?).copied()
    }

    /// Whether its key is an integer id (ordered as a number).
    fn int_key(self) -> bool {
        matches!(self, Entity::Problem | Entity::LogbookEntry)
    }
}

/// Where the feed stands: after the event at this position. Records (stream 0) of a change
/// come before its visibility events (stream 1); within a stream, by kind, then key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    seq: i64,
    stream: u8,
    entity: Entity,
    key: String,
}

impl Position {
    /// The opaque cursor a client resumes from.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "chg:{}:{}:{}:{}",
            self.seq,
            self.stream,
            self.entity.rank(),
            self.key
        ))
    }

    /// A cursor this feed gave.
    pub fn decode(cursor: &str) -> ApiResult<Position> {
        let bad = || ApiError::bad_input("after", "not a cursor the change feed gave");
        let text = URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut parts = text.splitn(5, ':');
        if parts.next() != Some("chg") {
            return Err(bad());
        }
        let seq = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let stream = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| *s <= 1)
            .ok_or_else(bad)?;
        let entity = parts
            .next()
            .and_then(|s| s.parse().ok())
            .and_then(Entity::from_rank)
            .ok_or_else(bad)?;
        let key = parts.next().ok_or_else(bad)?.to_string();
        if key.is_empty()
            || key.len() > 32
            || (stream == 0 && entity.int_key() && key.parse::<i32>().is_err())
        {
            return Err(bad());
        }
        Ok(Position {
            seq,
            stream,
            entity,
            key,
        })
    }

    fn cmp_key(&self, other: &Position) -> Ordering {
        if self.stream == 0 && self.entity.int_key() {
            let n = |k: &str| k.parse::<i64>().unwrap_or(i64::MAX);
            n(&self.key).cmp(&n(&other.key))
        } else {
            self.key.cmp(&other.key)
        }
    }
}

impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.seq, self.stream, self.entity)
            .cmp(&(other.seq, other.stream, other.entity))
            .then_with(|| self.cmp_key(other))
    }
}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A record as the feed gives it.
#[derive(Debug, Clone)]
pub enum Record {
    /// A household.
    Household(household::Model),
    /// A member.
    Member(member::Model),
    /// A problem.
    Problem(problem::Model),
    /// An analysis.
    Analysis(analysis::Model),
    /// A logbook entry.
    LogbookEntry(logbook_entry::Model),
}

/// One event of the feed.
#[derive(Debug, Clone)]
pub struct Change {
    /// Its position (the cursor to resume after it).
    pub position: Position,
    /// The record's kind.
    pub entity: Entity,
    /// The record's key.
    pub key: String,
    /// When it changed.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The record as it is now, or `None`: it left the key's sight.
    pub record: Option<Record>,
}

/// A page of the feed: its events, and whether more follow.
#[derive(Debug)]
pub struct Page {
    /// The events, in feed order.
    pub changes: Vec<Change>,
    /// More events follow the last.
    pub has_next: bool,
    /// The codes of the agencies of the page's logbook entries, by id.
    pub agency_codes: std::collections::HashMap<i32, String>,
}

/// The condition "after `after`" on one record table (stream 0) of kind `entity`.
fn after_records(
    seq: impl ColumnTrait,
    key: impl ColumnTrait,
    entity: Entity,
    after: Option<&Position>,
) -> Condition {
    let Some(a) = after else {
        return Condition::all();
    };
    match (a.stream, entity.cmp(&a.entity)) {
        (1, _) | (_, Ordering::Less) => Condition::all().add(seq.gt(a.seq)),
        (_, Ordering::Greater) => Condition::all().add(seq.gte(a.seq)),
        (_, Ordering::Equal) => {
            let key_after = if entity.int_key() {
                key.gt(a.key.parse::<i32>().unwrap_or(i32::MAX))
            } else {
                key.gt(a.key.clone())
            };
            Condition::any()
                .add(seq.gt(a.seq))
                .add(Condition::all().add(seq.eq(a.seq)).add(key_after))
        }
    }
}

/// The condition "after `after`" on the visibility events (stream 1).
fn after_visibility(after: Option<&Position>) -> Condition {
    use visibility_change::Column as V;
    let Some(a) = after else {
        return Condition::all();
    };
    if a.stream == 0 {
        return Condition::all().add(V::Seq.gte(a.seq));
    }
    let rank = a.entity.rank();
    Condition::any().add(V::Seq.gt(a.seq)).add(
        Condition::all().add(V::Seq.eq(a.seq)).add(
            Condition::any().add(V::Rank.gt(rank)).add(
                Condition::all()
                    .add(V::Rank.eq(rank))
                    .add(V::Key.gt(a.key.clone())),
            ),
        ),
    )
}

/// A table the feed and exports read: its kind, the key's rule over it, and its columns.
pub trait Tracked: EntityTrait {
    /// Its kind.
    const KIND: Entity;
    /// What `p` may see of it ([`crate::access`]).
    fn rule(p: &Principal) -> Condition;
    /// Its key column.
    fn key() -> Self::Column;
    /// Its change number.
    fn seq() -> Self::Column;
    /// Its change time.
    fn updated() -> Self::Column;
    /// A record's key, change number and time, and the record.
    fn parts(m: Self::Model) -> (String, i64, chrono::DateTime<chrono::Utc>, Record);
}

macro_rules! tracked {
    ($m:ident, $kind:ident, $rule:ident, $key:ident, |$r:ident| $key_text:expr) => {
        impl Tracked for $m::Entity {
            const KIND: Entity = Entity::$kind;
            fn rule(p: &Principal) -> Condition {
                p.$rule()
            }
            fn key() -> $m::Column {
                $m::Column::$key
            }
            fn seq() -> $m::Column {
                $m::Column::ChangeSeq
            }
            fn updated() -> $m::Column {
                $m::Column::UpdatedAt
            }
            fn parts($r: $m::Model) -> (String, i64, chrono::DateTime<chrono::Utc>, Record) {
                ($key_text, $r.change_seq, $r.updated_at, Record::$kind($r))
            }
        }
    };
}

tracked!(household, Household, households, HouseCode, |r| r
    .house_code
    .to_string());
tracked!(member, Member, members, CitizenId, |r| r
    .citizen_id
    .to_string());
tracked!(problem, Problem, problems, Id, |r| r.id.to_string());
tracked!(analysis, Analysis, analyses, HouseCode, |r| r
    .house_code
    .to_string());
tracked!(logbook_entry, LogbookEntry, entries, Id, |r| r
    .id
    .to_string());

/// Runs `$body` with `$E` the [`Tracked`] table of kind `$kind`.
macro_rules! for_kind {
    ($kind:expr, $E:ident => $body:expr) => {
        match $kind {
            $crate::service::changes::Entity::Household => {
                type $E = entity::household::Entity;
                $body
            }
            $crate::service::changes::Entity::Member => {
                type $E = entity::member::Entity;
                $body
            }
            $crate::service::changes::Entity::Problem => {
                type $E = entity::problem::Entity;
                $body
            }
            $crate::service::changes::Entity::Analysis => {
                type $E = entity::analysis::Entity;
                $body
            }
            $crate::service::changes::Entity::LogbookEntry => {
                type $E = entity::logbook_entry::Entity;
                $body
            }
        }
    };
}
pub(crate) use for_kind;

fn upsert(
    entity: Entity,
    key: String,
    seq: i64,
    at: chrono::DateTime<chrono::Utc>,
    record: Record,
) -> Change {
    Change {
        position: Position {
            seq,
            stream: 0,
            entity,
            key: key.clone(),
        },
        entity,
        key,
        at,
        record: Some(record),
    }
}

/// The records of `E` the key may see after `after` (and, when given, with a change number
/// below `before`; at most `settled`), in feed order, at most `limit`, as upsert events.
async fn changed<E: Tracked>(
    db: &impl ConnectionTrait,
    p: &Principal,
    after: Option<&Position>,
    before: Option<i64>,
    settled: Option<i64>,
    limit: u64,
) -> ApiResult<Vec<Change>> {
    let mut q =
        E::find()
            .filter(E::rule(p))
            .filter(after_records(E::seq(), E::key(), E::KIND, after));
    if let Some(b) = before {
        q = q.filter(E::seq().lt(b));
    }
    if let Some(s) = settled {
        q = q.filter(E::seq().lte(s));
    }
    let rows = q
        .order_by_asc(E::seq())
        .order_by_asc(E::key())
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (k, s, t, record) = E::parts(r);
            upsert(E::KIND, k, s, t, record)
        })
        .collect())
}

/// One page of the feed for `p`: the events after `after` (from the start when none), at
/// most `first`, of the kinds in `entities` (all when empty).
pub async fn page(
    db: &impl ConnectionTrait,
    p: &Principal,
    after: Option<&Position>,
    first: u64,
    entities: &[Entity],
) -> ApiResult<Page> {
    let wanted = |e: Entity| entities.is_empty() || entities.contains(&e);
    let limit = first + 1;
    // no further than every change below has committed or ended: an import still writing
    // holds the feed below its number, and what commits after it comes on a later page
    let settled = entity::db::settled(db).await?;
    let mut events: Vec<Change> = Vec::new();
    // kinds in rank order: once `limit` events are in hand, a later kind's record at the
    // change number of the `limit`-th or after comes after it in the feed (same change, higher
    // rank), so only its records of earlier changes are read (a page inside one import's
    // change is its first kind's alone: one statement of rows, the others find nothing)
    for entity in Entity::ALL.into_iter().filter(|e| wanted(*e)) {
        let before = (events.len() as u64 >= limit).then(|| {
            events.sort_by(|a, b| a.position.cmp(&b.position));
            events[limit as usize - 1].position.seq
        });
        events.extend(
            for_kind!(entity, E => changed::<E>(db, p, after, before, settled, limit).await?),
        );
    }
    if let Principal::Agency { agency_id, .. } = p {
        use visibility_change::Column as V;
        let ranks: Vec<i16> = Entity::ALL
            .iter()
            .filter(|e| wanted(**e))
            .map(|e| e.rank())
            .collect();
        let rows = visibility_change::Entity::find()
            .filter(V::AgencyId.eq(*agency_id))
            .filter(V::Rank.is_in(ranks))
            .filter(after_visibility(after))
            .filter(settled.map_or_else(Condition::all, |s| Condition::all().add(V::Seq.lte(s))))
            .order_by_asc(V::Seq)
            .order_by_asc(V::Rank)
            .order_by_asc(V::Key)
            .limit(limit)
            .all(db)
            .await?;
        for v in rows {
            let Some(entity) = Entity::from_rank(v.rank) else {
                continue;
            };
            events.push(Change {
                position: Position {
                    seq: v.seq,
                    stream: 1,
                    entity,
                    key: v.key.clone(),
                },
                entity,
                key: v.key,
                at: v.at,
                // filled below for a record that came into sight and is still in it
                record: None,
            });
        }
    }
    events.sort_by(|a, b| a.position.cmp(&b.position));
    let has_next = events.len() as u64 > first;
    events.truncate(first as usize);
    fill_visible(db, p, &mut events).await?;
    let agency_ids: Vec<i32> = events
        .iter()
        .filter_map(|c| match &c.record {
            Some(Record::LogbookEntry(e)) => e.agency_id,
            _ => None,
        })
        .collect();
    let agency_codes = if agency_ids.is_empty() {
        Default::default()
    } else {
        entity::agency::Entity::find()
            .filter(entity::agency::Column::Id.is_in(agency_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.code))
            .collect()
    };
    Ok(Page {
        changes: events,
        has_next,
        agency_codes,
    })
}

/// Gives the visibility events of records that came into the key's sight their record as it
/// is now; one that is no longer in sight stays a removal.
async fn fill_visible(
    db: &impl ConnectionTrait,
    p: &Principal,
    events: &mut [Change],
) -> ApiResult<()> {
    for entity in Entity::ALL {
        let keys: Vec<String> = events
            .iter()
            .filter(|c| c.position.stream == 1 && c.entity == entity)
            .map(|c| c.key.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let found = for_kind!(entity, E => visible_records::<E>(db, p, &keys).await?);
        for (key, record) in found {
            for c in events
                .iter_mut()
                .filter(|c| c.position.stream == 1 && c.entity == entity && c.key == key)
            {
                c.record = Some(record.clone());
            }
        }
    }
    Ok(())
}

/// The records of `E` with these keys that the key may see now, with their keys.
async fn visible_records<E: Tracked>(
    db: &impl ConnectionTrait,
    p: &Principal,
    keys: &[String],
) -> ApiResult<Vec<(String, Record)>> {
    let keys: Vec<sea_orm::Value> = if E::KIND.int_key() {
        keys.iter()
            .filter_map(|k| k.parse::<i32>().ok())
            .map(sea_orm::Value::from)
            .collect()
    } else {
        keys.iter()
            .map(|k| sea_orm::Value::from(k.clone()))
            .collect()
    };
    Ok(E::find()
        .filter(E::rule(p))
        .filter(E::key().is_in(keys))
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let (k, _, _, record) = E::parts(r);
            (k, record)
        })
        .collect())
}

/// The keys (as text) of the records of `E` the key may see.
async fn keys_of<E: Tracked>(
    db: &impl ConnectionTrait,
    p: &Principal,
) -> ApiResult<HashSet<String>> {
    let rows: Vec<sea_orm::JsonValue> = E::find()
        .select_only()
        .column(E::key())
        .filter(E::rule(p))
        .into_json()
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .map(|r| match &r[E::key().as_str()] {
            sea_orm::JsonValue::String(s) => s.clone(),
            v => v.to_string(),
        })
        .collect())
}

/// Every key of each kind `p` may see.
async fn visible_keys(
    db: &impl ConnectionTrait,
    p: &Principal,
) -> ApiResult<Vec<(Entity, HashSet<String>)>> {
    let mut out = Vec::new();
    for entity in Entity::ALL {
        out.push((entity, for_kind!(entity, E => keys_of::<E>(db, p).await?)));
    }
    Ok(out)
}

/// Records, in `db`'s transaction, what an agency stops and starts seeing when its
/// dimensions change from `before` to `after`: one visibility event per record, all at one
/// new change number. Returns how many.
pub async fn record_visibility(
    db: &impl ConnectionTrait,
    agency: &Principal,
    before: Vec<Dimension>,
    after: Vec<Dimension>,
) -> ApiResult<u64> {
    let (Some(was), Some(is), Principal::Agency { agency_id, .. }) = (
        agency.agency_with(before),
        agency.agency_with(after),
        agency,
    ) else {
        return Ok(0);
    };
    let was = visible_keys(db, &was).await?;
    let is = visible_keys(db, &is).await?;
    let stamp: Stamp = entity::db::stamp(db).await?;
    let mut rows = Vec::new();
    for ((entity, before), (_, after)) in was.iter().zip(is.iter()) {
        for (keys, visible) in [
            (before.difference(after), false),
            (after.difference(before), true),
        ] {
            rows.extend(keys.map(|k| visibility_change::ActiveModel {
                agency_id: sea_orm::Set(*agency_id),
                seq: sea_orm::Set(stamp.seq),
                rank: sea_orm::Set(entity.rank()),
                key: sea_orm::Set(k.clone()),
                visible: sea_orm::Set(visible),
                at: sea_orm::Set(stamp.at),
            }));
        }
    }
    let n = rows.len() as u64;
    // six parameters a row: well under both databases' limits
    for chunk in rows.chunks(1_000) {
        visibility_change::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: i64, stream: u8, entity: Entity, key: &str) -> Position {
        Position {
            seq,
            stream,
            entity,
            key: key.into(),
        }
    }

    #[test]
    fn positions_order_by_change_then_stream_kind_and_key() {
        let mut v = vec![
            at(2, 0, Entity::Problem, "10"),
            at(2, 1, Entity::Household, "1"),
            at(1, 1, Entity::Problem, "9"),
            at(2, 0, Entity::Problem, "9"),
            at(2, 0, Entity::Household, "33189999999"),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                at(1, 1, Entity::Problem, "9"),
                at(2, 0, Entity::Household, "33189999999"),
                // ids are numbers: 9 before 10
                at(2, 0, Entity::Problem, "9"),
                at(2, 0, Entity::Problem, "10"),
                at(2, 1, Entity::Household, "1"),
            ]
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_what_the_feed_did_not_give() {
        let p = at(41, 0, Entity::LogbookEntry, "123");
        assert_eq!(Position::decode(&p.encode()).expect("ok"), p);
        let h = at(7, 1, Entity::Household, "33181183687");
        assert_eq!(Position::decode(&h.encode()).expect("ok"), h);
        let forged = |s: &str| Position::decode(&URL_SAFE_NO_PAD.encode(s)).is_err();
        assert!(forged("chg:1:0:3:abc"), "an id must be a number");
        assert!(forged("chg:1:2:1:x"), "no stream 2");
        assert!(forged("chg:1:0:9:x"), "no kind 9");
        assert!(forged("hh:1:0:1:x"));
        assert!(forged("chg:x:0:1:x"));
        assert!(Position::decode("not base64!").is_err());
    }
}
