//! Bearer keys: minted by `bt keys create`, stored as SHA-256, checked on
//! every `/v1` request. A short in-process cache spares the database a lookup
//! per request; a revoked key stops working within its TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bt_queue::Store;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// A new key: its record id and the key text (shown once).
pub fn mint() -> (Uuid, String) {
    let key = format!("bt_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    (Uuid::new_v4(), key)
}

pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A key's SHA-256 -> its owner (`None`: no live key) and when that was read.
type Seen = HashMap<[u8; 32], (Option<String>, Instant)>;

/// Owners of recently seen keys (and misses), for `ttl`.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    seen: Mutex<Seen>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, seen: Mutex::default() }
    }

    pub async fn owner(&self, store: &Store, key: &str) -> Result<Option<String>, ApiError> {
        let h = hash(key);
        if !self.ttl.is_zero() {
            let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((owner, at)) = seen.get(&h)
                && at.elapsed() < self.ttl
            {
                return Ok(owner.clone());
            }
        }
        let owner = store.api_key_owner(&h).await?;
        if !self.ttl.is_zero() {
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.len() > 100_000 {
                seen.clear();
            }
            seen.insert(h, (owner.clone(), Instant::now()));
        }
        Ok(owner)
    }
}

/// The caller, from `Authorization: Bearer <key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

impl FromRequestParts<Arc<AppState>> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::unauthorized("missing Authorization: Bearer <key>"));
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header is not Bearer <key>"))?;
        match state.keys.owner(&state.store, key).await? {
            Some(owner) => Ok(Owner(owner)),
            None => Err(ApiError::unauthorized("unknown or revoked key")),
        }
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
