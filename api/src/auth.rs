//! Bearer keys: minted by `bt keys create`, stored as SHA-256 with the
//! owner's limits, checked on every `/v1` request under the rate limits of
//! `limit.rs`. A short in-process cache spares the database a lookup per
//! request; a revoked key stops working within its TTL.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bt_queue::{KeyLimits, LiveKey, Store};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::{AppState, limit};

/// A new key: its record id and the key text (shown once).
pub fn mint() -> (Uuid, String) {
    let key = format!("bt_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    (Uuid::new_v4(), key)
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A key's SHA-256 -> the live key (`None`: no live key) and when that was read.
type Seen = HashMap<[u8; 32], (Option<LiveKey>, Instant)>;

/// What the cache knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cached {
    /// Read within the TTL.
    Fresh(Option<LiveKey>),
    /// Read before: to be read again (a revoked key stops working).
    Stale(Option<LiveKey>),
    Absent,
}

/// Recently seen keys (and misses) with their owners and limits, for `ttl`.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    seen: Mutex<Seen>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, seen: Mutex::default() }
    }

    fn get(&self, h: &[u8; 32]) -> Cached {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get(h) {
            Some((k, at)) if at.elapsed() < self.ttl => Cached::Fresh(k.clone()),
            Some((k, _)) => Cached::Stale(k.clone()),
            None => Cached::Absent,
        }
    }

    /// Reads the key from the database and remembers it.
    async fn lookup(&self, store: &Store, h: [u8; 32]) -> Result<Option<LiveKey>, ApiError> {
        let key = store.api_key(&h).await?;
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(h, (key.clone(), Instant::now()));
        Ok(key)
    }
}

/// The caller of a `/v1` request: its key's id, owner and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: Uuid,
    pub owner: String,
    pub limits: KeyLimits,
}

/// The caller's owner alone (most handlers need no more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized("missing Authorization: Bearer <key>"));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not Bearer <key>"))
}

/// The key of `Authorization: Bearer <key>`, within the rate limits: a
/// request that does not authenticate takes a token of its address's bucket,
/// and a key the cache does not know as valid is looked up only while that
/// bucket has one (unknown keys cannot cost a query each without limit); an
/// authenticated request takes a token of its key's bucket.
async fn authenticate(parts: &Parts, s: &AppState) -> Result<Caller, ApiError> {
    let now = Instant::now();
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let addr = limit::client_block(ip);
    let anon = s.limiter.limits.anonymous_per_minute;
    let refuse = |wait| {
        ApiError::rate_limited("anonymous_rate_limit", anon, wait, "from this address without a valid key")
    };
    let charge = || s.limiter.anonymous.take(addr, anon, now).map_err(refuse);
    let key = match bearer(parts) {
        Ok(k) => k,
        Err(e) => {
            charge()?;
            return Err(e);
        }
    };
    let h = hash(key);
    let found = match s.keys.get(&h) {
        Cached::Fresh(k) => k,
        // Known to have been valid: checked again whatever the address did.
        Cached::Stale(Some(_)) => s.keys.lookup(&s.store, h).await?,
        Cached::Stale(None) | Cached::Absent => {
            s.limiter.anonymous.peek(addr, anon, now).map_err(refuse)?;
            s.keys.lookup(&s.store, h).await?
        }
    };
    let Some(k) = found else {
        charge()?;
        return Err(ApiError::unauthorized("unknown or revoked key"));
    };
    let rate = k.limits.rate_limit.map_or(s.limiter.limits.key_per_minute, |r| r.max(0).unsigned_abs());
    s.limiter
        .keys
        .take(k.id, rate, now)
        .map_err(|wait| ApiError::rate_limited("rate_limit", rate, wait, "with this key"))?;
    Ok(Caller { key_id: k.id, owner: k.owner, limits: k.limits })
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).await
    }
}

impl FromRequestParts<Arc<AppState>> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        Ok(Owner(authenticate(parts, state).await?.owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (id1, k1) = mint();
        let (id2, k2) = mint();
        assert_ne!(id1, id2);
        assert_ne!(k1, k2);
        assert_eq!(k1.len(), 3 + 64);
        assert!(k1.starts_with("bt_"));
        assert_eq!(hash(&k1), hash(&k1));
        assert_ne!(hash(&k1), hash(&k2));
        // SHA-256 of "abc", from FIPS 180-2.
        assert_eq!(hash("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
