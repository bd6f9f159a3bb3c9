//! API keys: creating (the token is shown once; its SHA-256 is stored), listing, revoking,
//! and turning a bearer token into a [`Principal`].

use crate::access::Principal;
use crate::error::{ApiError, ApiResult};
use crate::service::agencies::operator;
use crate::service::audit;
use chrono::Utc;
use entity::types::{AreaCode, AreaLevel};
use entity::{agency, api_key, area, trusted_document};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// What a new key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    /// Everything (national) or everything in one province.
    Admin {
        /// Province code.
        province: Option<String>,
    },
    /// One district.
    District(String),
    /// One agency, by code.
    Agency(String),
}

/// A key as `key list` shows it (never the token).
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Id.
    pub id: i32,
    /// `admin`, `district`, `agency`.
    pub kind: String,
    /// Province, district or agency code.
    pub scope: String,
    /// Label.
    pub label: Option<String>,
    /// Created.
    pub created_at: String,
    /// Revoked, if so.
    pub revoked_at: Option<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<String>,
    /// Its own cost budget per minute (none: the server's).
    pub budget_per_minute: Option<i64>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a key that does not expire; returns its id and the token (shown once).
pub async fn create(
    db: &DatabaseConnection,
    scope: KeyScope,
    label: Option<String>,
) -> ApiResult<(i32, String)> {
    create_expiring(db, scope, label, None).await
}

/// Creates a key that stops working at `expires_at` (never when none); returns its id and
/// the token (shown once).
pub async fn create_expiring(
    db: &DatabaseConnection,
    scope: KeyScope,
    label: Option<String>,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> ApiResult<(i32, String)> {
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::bad_input(
            "expires",
            "a key must expire in the future",
        ));
    }
    let mut key = api_key::ActiveModel {
        label: Set(label),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        budget_per_minute: Set(None),
        trusted_only: Set(false),
        province_code: Set(None),
        district_code: Set(None),
        agency_id: Set(None),
        ..Default::default()
    };
    let province: Option<String>;
    match scope {
        KeyScope::Admin { province: admin_of } => {
            if let Some(p) = &admin_of {
                let code = AreaCode::parse_level(p, AreaLevel::Province)
                    .map_err(|_| ApiError::bad_input("province", "a 2-digit province code"))?;
                if area::Entity::find_by_id(code.clone())
                    .one(db)
                    .await?
                    .is_none()
                {
                    return Err(ApiError::bad_input(
                        "province",
                        format!("no province {code} is loaded"),
                    ));
                }
            }
            key.kind = Set("admin".into());
            key.province_code = Set(admin_of.clone());
            province = admin_of;
        }
        KeyScope::District(d) => {
            let code = AreaCode::parse_level(&d, AreaLevel::District)
                .map_err(|_| ApiError::bad_input("district", "a 4-digit district code"))?;
            if area::Entity::find_by_id(code.clone())
                .one(db)
                .await?
                .is_none()
            {
                return Err(ApiError::bad_input(
                    "district",
                    format!("no district {code} is loaded"),
                ));
            }
            key.kind = Set("district".into());
            key.district_code = Set(Some(code.as_str().to_string()));
            province = Some(code.as_str()[..2].to_string());
        }
        KeyScope::Agency(code) => {
            let a = agency::Entity::find()
                .filter(agency::Column::Code.eq(code.clone()))
                .one(db)
                .await?
                .ok_or_else(|| ApiError::bad_input("agency", format!("no agency {code}")))?;
            key.kind = Set("agency".into());
            key.agency_id = Set(Some(a.id));
            province = Some(a.province_code);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("lbk_{}", hex::encode(bytes));
    key.token_hash = Set(hash(&token));
    let tx = super::begin_write(db).await?;
    let m = key.insert(&tx).await?;
    audit::record(
        &tx,
        &operator(),
        "key.create",
        province.as_deref(),
        &m.id.to_string(),
        json!({"kind": m.kind, "label": m.label, "province": m.province_code, "district": m.district_code, "agencyId": m.agency_id, "expiresAt": m.expires_at.map(|t| t.to_rfc3339())}),
    )
    .await?;
    tx.commit().await?;
    Ok((m.id, token))
}

/// Every key, newest first.
pub async fn list(db: &impl ConnectionTrait) -> ApiResult<Vec<KeyInfo>> {
    let agencies: std::collections::HashMap<i32, String> = agency::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.code))
        .collect();
    let keys = api_key::Entity::find()
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?;
    Ok(keys
        .into_iter()
        .map(|k| KeyInfo {
            id: k.id,
            scope: match k.kind.as_str() {
                "admin" => k.province_code.clone().unwrap_or_else(|| "national".into()),
                "district" => k.district_code.clone().unwrap_or_default(),
                _ => k
                    .agency_id
                    .and_then(|i| agencies.get(&i).cloned())
                    .unwrap_or_default(),
            },
            kind: k.kind,
            label: k.label,
            created_at: k.created_at.to_rfc3339(),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
            expires_at: k.expires_at.map(|t| t.to_rfc3339()),
            last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
            budget_per_minute: k.budget_per_minute,
        })
        .collect())
}

/// Revokes a key; false when no such key.
pub async fn revoke(db: &DatabaseConnection, id: i32) -> ApiResult<bool> {
    let Some(k) = api_key::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    let province = province_of(db, &k).await?;
    let tx = super::begin_write(db).await?;
    let mut k: api_key::ActiveModel = k.into();
    k.revoked_at = Set(Some(Utc::now()));
    k.update(&tx).await?;
    audit::record(
        &tx,
        &operator(),
        "key.revoke",
        province.as_deref(),
        &id.to_string(),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    forget_keys();
    Ok(true)
}

/// The province a key's changes are audited under.
async fn province_of(db: &impl ConnectionTrait, k: &api_key::Model) -> ApiResult<Option<String>> {
    Ok(match (&k.province_code, &k.district_code, k.agency_id) {
        (Some(p), _, _) => Some(p.clone()),
        (_, Some(d), _) => Some(d.chars().take(2).collect()),
        (_, _, Some(a)) => agency::Entity::find_by_id(a)
            .one(db)
            .await?
            .map(|a| a.province_code),
        _ => None,
    })
}

/// Replaces key `id` with a new one of the same scope and label; the old one keeps working
/// for `overlap` (revoked at once when zero), so that a system can switch without a gap.
/// Returns the new key's id and token (shown once).
pub async fn rotate(
    db: &DatabaseConnection,
    id: i32,
    overlap: chrono::Duration,
) -> ApiResult<(i32, String)> {
    let Some(old) = api_key::Entity::find_by_id(id).one(db).await? else {
        return Err(ApiError::NotFound(format!("key {id}")));
    };
    let now = Utc::now();
    if old.revoked_at.is_some() || old.expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::bad_input(
            "id",
            format!("key {id} no longer works: create a new key instead"),
        ));
    }
    if overlap < chrono::Duration::zero() {
        return Err(ApiError::bad_input("overlap", "must not be negative"));
    }
    let scope = match old.kind.as_str() {
        "admin" => KeyScope::Admin {
            province: old.province_code.clone(),
        },
        "district" => KeyScope::District(old.district_code.clone().unwrap_or_default()),
        _ => {
            let code = match old.agency_id {
                Some(a) => agency::Entity::find_by_id(a).one(db).await?.map(|a| a.code),
                None => None,
            };
            KeyScope::Agency(code.unwrap_or_default())
        }
    };
    let (new_id, token) = create_expiring(db, scope, old.label.clone(), old.expires_at).await?;
    if old.budget_per_minute.is_some() {
        api_key::ActiveModel {
            id: sea_orm::Unchanged(new_id),
            budget_per_minute: Set(old.budget_per_minute),
            ..Default::default()
        }
        .update(db)
        .await?;
    }
    let province = province_of(db, &old).await?;
    let tx = super::begin_write(db).await?;
    let ends = now + overlap;
    let mut k: api_key::ActiveModel = old.clone().into();
    if overlap.is_zero() {
        k.revoked_at = Set(Some(now));
    } else {
        k.expires_at = Set(Some(old.expires_at.map_or(ends, |t| t.min(ends))));
    }
    k.update(&tx).await?;
    audit::record(
        &tx,
        &operator(),
        "key.rotate",
        province.as_deref(),
        &id.to_string(),
        json!({"newKey": new_id, "oldWorksUntil": ends.to_rfc3339()}),
    )
    .await?;
    tx.commit().await?;
    forget_keys();
    Ok((new_id, token))
}

/// Keys (by token hash) marked used by this process, and when: a key's `last_used_at` is
/// written at most once a minute.
fn marked() -> &'static std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>> {
    static MARKED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    > = std::sync::OnceLock::new();
    MARKED.get_or_init(Default::default)
}

/// Whether the key of this token hash ([`KeyAuth::token_hash`]) is due a last-use mark: not
/// marked by this process within the last minute. Claims the mark when due, so that only one
/// request a minute writes it. Cheap and synchronous: called on every request.
pub fn due_for_mark(token_hash: &str) -> bool {
    let now = std::time::Instant::now();
    let Ok(mut m) = marked().lock() else {
        return false;
    };
    if m.get(token_hash)
        .is_some_and(|t| now.duration_since(*t) < std::time::Duration::from_secs(60))
    {
        return false;
    }
    // bounded: entries older than a minute are dropped once it grows
    if m.len() > 10_000 {
        m.retain(|_, t| now.duration_since(*t) < std::time::Duration::from_secs(60));
    }
    m.insert(token_hash.to_string(), now);
    true
}

/// Writes the last use of the key of this token hash, unless the database holds a time less
/// than a minute old; for a key [`due_for_mark`]. Never on the request's path: run it beside.
pub async fn mark_used(db: &DatabaseConnection, token_hash: &str) -> ApiResult<()> {
    let at = Utc::now();
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(at),
        )
        .filter(api_key::Column::TokenHash.eq(token_hash))
        .filter(
            sea_orm::Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(api_key::Column::LastUsedAt.lt(at - chrono::Duration::seconds(60))),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Sets key `id`'s own cost budget per minute (none: the server's), audited.
pub async fn set_budget(
    db: &DatabaseConnection,
    id: i32,
    per_minute: Option<u64>,
) -> ApiResult<()> {
    let Some(k) = api_key::Entity::find_by_id(id).one(db).await? else {
        return Err(ApiError::NotFound(format!("key {id}")));
    };
    let per_minute = per_minute
        .map(|n| {
            i64::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::bad_input("budget", "a budget is a positive number"))
        })
        .transpose()?;
    let province = province_of(db, &k).await?;
    let tx = super::begin_write(db).await?;
    let mut m: api_key::ActiveModel = k.into();
    m.budget_per_minute = Set(per_minute);
    m.update(&tx).await?;
    audit::record(
        &tx,
        &operator(),
        "key.budget",
        province.as_deref(),
        &id.to_string(),
        json!({"perMinute": per_minute}),
    )
    .await?;
    tx.commit().await?;
    forget_keys();
    Ok(())
}

/// What a bearer token stands for: its principal, its own budget per minute, and whether it
/// runs only its trusted documents.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    /// The key's id.
    pub id: i32,
    /// The SHA-256 of its token, hex (what is stored; it also names the key's budget and
    /// its last-use mark).
    pub token_hash: String,
    /// Who.
    pub principal: Principal,
    /// Its own cost budget per minute (none: the server's).
    pub budget_per_minute: Option<i64>,
    /// It runs only the documents stored for it.
    pub trusted_only: bool,
}

/// The SHA-256 of a document's text, hex: how a trusted document is named.
pub fn document_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Stores a trusted document for key `id` and locks the key to its documents (from now on
/// it runs only stored ones), audited; returns the document's SHA-256. The document must
/// parse and hold exactly one operation.
pub async fn add_document(
    db: &DatabaseConnection,
    id: i32,
    text: &str,
    name: Option<String>,
) -> ApiResult<String> {
    let Some(k) = api_key::Entity::find_by_id(id).one(db).await? else {
        return Err(ApiError::NotFound(format!("key {id}")));
    };
    let doc = async_graphql::parser::parse_query(text)
        .map_err(|e| ApiError::bad_input("document", format!("not a GraphQL document: {e}")))?;
    if doc.operations.iter().count() != 1 {
        return Err(ApiError::bad_input(
            "document",
            "a trusted document holds exactly one operation",
        ));
    }
    let sha = document_hash(text);
    let province = province_of(db, &k).await?;
    let tx = super::begin_write(db).await?;
    trusted_document::Entity::insert(trusted_document::ActiveModel {
        key_id: Set(id),
        sha256: Set(sha.clone()),
        document: Set(text.to_string()),
        name: Set(name.clone()),
        created_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&tx)
    .await?;
    let mut m: api_key::ActiveModel = k.into();
    m.trusted_only = Set(true);
    m.update(&tx).await?;
    audit::record(
        &tx,
        &operator(),
        "key.document",
        province.as_deref(),
        &id.to_string(),
        json!({"sha256": sha, "name": name}),
    )
    .await?;
    tx.commit().await?;
    forget_keys();
    Ok(sha)
}

/// The trusted documents of key `id`: (SHA-256, name), oldest first.
pub async fn documents(
    db: &impl ConnectionTrait,
    id: i32,
) -> ApiResult<Vec<(String, Option<String>)>> {
    Ok(trusted_document::Entity::find()
        .filter(trusted_document::Column::KeyId.eq(id))
        .order_by_asc(trusted_document::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.sha256, d.name))
        .collect())
}

/// The text of key `id`'s trusted document with this SHA-256, if stored.
pub async fn document(
    db: &impl ConnectionTrait,
    id: i32,
    sha256: &str,
) -> ApiResult<Option<String>> {
    Ok(
        trusted_document::Entity::find_by_id((id, sha256.to_ascii_lowercase()))
            .one(db)
            .await?
            .map(|d| d.document),
    )
}

/// The principal a bearer token stands for, or none (unknown, revoked or expired token).
pub async fn principal(db: &impl ConnectionTrait, token: &str) -> ApiResult<Option<Principal>> {
    Ok(lookup(db, token).await?.map(|k| k.principal))
}

/// [`principal`], with the key's budget. A working key looked up within the last
/// [`KEY_SEEN_FOR`] is answered from memory, with no round trip to the database; an unknown,
/// revoked or expired token is always looked up.
pub async fn lookup(db: &impl ConnectionTrait, token: &str) -> ApiResult<Option<KeyAuth>> {
    let token_hash = hash(token);
    let now = std::time::Instant::now();
    let memo = || {
        seen()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(k) = memo().get(&token_hash, now, Utc::now()) {
        return Ok(Some(k));
    }
    let found = working(db, api_key::Column::TokenHash.eq(&token_hash)).await?;
    if let Some((k, expires)) = &found {
        memo().put(token_hash, now, *expires, k.clone());
    }
    Ok(found.map(|(k, _)| k))
}

/// How long a working key looked up stays known without asking the database again: a key
/// revoked, rotated, re-budgeted or locked to documents, or an agency whose dimensions
/// change, by another process (the command line, another server) is refused or seen
/// changed within this time; by this process at once ([`forget_keys`]).
pub const KEY_SEEN_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Working keys looked up within [`KEY_SEEN_FOR`], by token hash: when, until when the key
/// works (its expiry), and what it stands for. Holds at most `max` keys.
#[derive(Debug)]
struct KeyMemo {
    keys: std::collections::HashMap<
        String,
        (std::time::Instant, Option<chrono::DateTime<Utc>>, KeyAuth),
    >,
    max: usize,
}

impl KeyMemo {
    /// The key, when it was looked up less than [`KEY_SEEN_FOR`] before `now` and has not
    /// expired by `wall`.
    fn get(
        &self,
        token_hash: &str,
        now: std::time::Instant,
        wall: chrono::DateTime<Utc>,
    ) -> Option<KeyAuth> {
        self.keys
            .get(token_hash)
            .filter(|(at, expires, _)| {
                now.saturating_duration_since(*at) < KEY_SEEN_FOR
                    && expires.is_none_or(|e| e > wall)
            })
            .map(|(_, _, k)| k.clone())
    }

    /// Remembers a key looked up at `now`; when full, the stale keys go first, then all.
    fn put(
        &mut self,
        token_hash: String,
        now: std::time::Instant,
        expires: Option<chrono::DateTime<Utc>>,
        k: KeyAuth,
    ) {
        if self.keys.len() >= self.max {
            self.keys
                .retain(|_, (at, _, _)| now.saturating_duration_since(*at) < KEY_SEEN_FOR);
            if self.keys.len() >= self.max {
                self.keys.clear();
            }
        }
        self.keys.insert(token_hash, (now, expires, k));
    }
}

fn seen() -> &'static std::sync::Mutex<KeyMemo> {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<KeyMemo>> = std::sync::OnceLock::new();
    SEEN.get_or_init(|| {
        std::sync::Mutex::new(KeyMemo {
            keys: Default::default(),
            max: 10_000,
        })
    })
}

/// Forgets every key looked up: after a change to keys or to what an agency may see, the
/// next request of every key asks the database again.
pub fn forget_keys() {
    seen()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .keys
        .clear();
}

/// Key `id`, if it still works (not revoked, not expired): for work done later on its
/// behalf (an export), checked when the work runs.
pub async fn by_id(db: &impl ConnectionTrait, id: i32) -> ApiResult<Option<KeyAuth>> {
    Ok(working(db, api_key::Column::Id.eq(id))
        .await?
        .map(|(k, _)| k))
}

/// The working key matching `which`, as a [`KeyAuth`], with when it expires.
async fn working(
    db: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
) -> ApiResult<Option<(KeyAuth, Option<chrono::DateTime<Utc>>)>> {
    let Some(k) = api_key::Entity::find()
        .filter(which)
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(api_key::Column::ExpiresAt.is_null())
                .add(api_key::Column::ExpiresAt.gt(Utc::now())),
        )
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let (id, budget_per_minute, trusted_only) = (k.id, k.budget_per_minute, k.trusted_only);
    let expires = k.expires_at;
    let token_hash = k.token_hash.clone();
    let principal = match k.kind.as_str() {
        "admin" => Some(Principal::Admin {
            key_id: k.id,
            province: k.province_code,
        }),
        "district" => k.district_code.map(|district| Principal::District {
            key_id: k.id,
            district,
        }),
        "agency" => {
            let Some(a) = (match k.agency_id {
                Some(id) => agency::Entity::find_by_id(id).one(db).await?,
                None => None,
            }) else {
                return Ok(None);
            };
            Some(super::agencies::as_principal(db, k.id, &a).await?.0)
        }
        _ => None,
    };
    Ok(principal.map(|principal| {
        (
            KeyAuth {
                id,
                token_hash,
                principal,
                budget_per_minute,
                trusted_only,
            },
            expires,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn key(id: i32) -> KeyAuth {
        KeyAuth {
            id,
            token_hash: format!("h{id}"),
            principal: Principal::District {
                key_id: id,
                district: "3318".into(),
            },
            budget_per_minute: None,
            trusted_only: false,
        }
    }

    #[test]
    fn a_key_is_known_for_a_second_and_never_past_its_expiry() {
        let mut m = KeyMemo {
            keys: Default::default(),
            max: 3,
        };
        let t0 = Instant::now();
        let wall = Utc::now();
        m.put("a".into(), t0, None, key(1));
        assert_eq!(
            m.get("a", t0 + Duration::from_millis(999), wall)
                .map(|k| k.id),
            Some(1)
        );
        assert!(
            m.get("a", t0 + KEY_SEEN_FOR, wall).is_none(),
            "asked again after a second"
        );
        assert!(m.get("b", t0, wall).is_none());
        // a key expiring within the second is not answered past its expiry
        m.put(
            "e".into(),
            t0,
            Some(wall + chrono::Duration::milliseconds(100)),
            key(2),
        );
        assert!(m.get("e", t0, wall).is_some());
        assert!(
            m.get("e", t0, wall + chrono::Duration::milliseconds(100))
                .is_none()
        );
    }

    #[test]
    fn the_memo_stays_bounded() {
        let mut m = KeyMemo {
            keys: Default::default(),
            max: 3,
        };
        let t0 = Instant::now();
        for i in 0..3 {
            m.put(format!("old{i}"), t0, None, key(i));
        }
        // full: the stale ones make room
        let later = t0 + KEY_SEEN_FOR;
        m.put("new".into(), later, None, key(9));
        assert_eq!(m.keys.len(), 1);
        // full of fresh ones: all go
        for i in 0..2 {
            m.put(format!("n{i}"), later, None, key(i));
        }
        m.put("last".into(), later, None, key(8));
        assert_eq!(m.keys.len(), 1);
        assert!(m.get("last", later, Utc::now()).is_some());
    }
}
