//! Request rate limits: a token bucket per API key and one per client address
//! for requests that do not authenticate (missing, malformed, unknown or
//! revoked keys). In memory, per API process.
//!
//! A bucket allowing `n` requests per minute holds at most `n / 6` tokens
//! (ten seconds' worth, at least one) and refills continuously at `n / 60`
//! per second; a request takes one token or is refused with the seconds
//! until the next one. IPv6 addresses share a bucket per /64, the block one
//! client usually holds.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Most buckets kept per kind; past it, idle (full) buckets are dropped, and
/// if every bucket is in use the map starts over (failing open, never growing
/// without bound).
const MAX_BUCKETS: usize = 100_000;

/// Requests per minute: the `bt serve` defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Per key, for keys without their own `rate_limit`; 0: none.
    pub key_per_minute: u32,
    /// Per client address, for requests that do not authenticate; 0: none.
    pub anonymous_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { key_per_minute: 1200, anonymous_per_minute: 60 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

fn capacity(per_minute: u32) -> f64 {
    (f64::from(per_minute) / 6.0).max(1.0)
}

impl Bucket {
    /// Tokens at `now`, refilled since `at`.
    fn level(&self, per_minute: u32, now: Instant) -> f64 {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * f64::from(per_minute) / 60.0;
        (self.tokens + refill).min(capacity(per_minute))
    }
}

/// Token buckets by `K`.
#[derive(Debug)]
pub struct Buckets<K> {
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self { map: Mutex::default() }
    }
}

/// Time until a bucket of `per_minute` at `level` tokens has one.
fn wait(per_minute: u32, level: f64) -> Duration {
    Duration::from_secs_f64((1.0 - level).max(0.0) * 60.0 / f64::from(per_minute))
}

impl<K: Hash + Eq + Copy> Buckets<K> {
    /// Takes a token of `k`'s bucket, or says how long until there is one.
    /// `per_minute` 0: no limit.
    pub fn take(&self, k: K, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_BUCKETS && !map.contains_key(&k) {
            map.retain(|_, b| b.level(per_minute, now) < capacity(per_minute));
            if map.len() >= MAX_BUCKETS {
                map.clear();
            }
        }
        let b = map.entry(k).or_insert(Bucket { tokens: capacity(per_minute), at: now });
        let level = b.level(per_minute, now);
        if level < 1.0 {
            return Err(wait(per_minute, level));
        }
        *b = Bucket { tokens: level - 1.0, at: now };
        Ok(())
    }

    /// Whether `k` has a token now (none is taken); else how long until it does.
    pub fn peek(&self, k: K, per_minute: u32, now: Instant) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&k).map(|b| b.level(per_minute, now)) {
            Some(level) if level < 1.0 => Err(wait(per_minute, level)),
            _ => Ok(()),
        }
    }
}

/// The address a bucket is kept for: IPv4 as is, IPv6 by its /64.
pub fn client_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// The API's buckets.
#[derive(Debug, Default)]
pub struct Limiter {
    pub limits: RateLimits,
    pub keys: Buckets<Uuid>,
    pub anonymous: Buckets<IpAddr>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Self { limits, ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::default();
        let t0 = Instant::now();
        // 60 per minute: a burst of 10, then one a second.
        for i in 0..10 {
            assert_eq!(b.take(1, 60, t0), Ok(()), "request {i}");
        }
        assert_eq!(b.take(1, 60, t0), Err(Duration::from_secs(1)));
        assert_eq!(b.peek(1, 60, t0), Err(Duration::from_secs(1)));
        // Another key has its own bucket.
        assert_eq!(b.take(2, 60, t0), Ok(()));
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(b.peek(1, 60, later), Ok(()));
        assert_eq!(b.take(1, 60, later), Ok(()));
        let left = b.take(1, 60, later).expect_err("half a token");
        assert!((left.as_secs_f64() - 0.5).abs() < 1e-9, "{left:?}");
        // An idle minute refills it only up to the burst.
        let idle = t0 + Duration::from_secs(600);
        assert_eq!((0..11).filter(|_| b.take(1, 60, idle).is_ok()).count(), 10);
        // 0 is no limit.
        assert!((0..1000).all(|_| b.take(3, 0, t0).is_ok()));
    }

    #[test]
    fn the_map_stays_bounded() {
        let b = Buckets::default();
        let t0 = Instant::now();
        for k in 0..MAX_BUCKETS as u64 + 10 {
            assert_eq!(b.take(k, 60, t0), Ok(()));
        }
        let n = b.map.lock().expect("lock").len();
        assert!(n <= MAX_BUCKETS, "{n}");
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_block(a), client_block(b));
        assert_ne!(client_block(a), client_block(c));
        let v4: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(client_block(v4), v4);
        assert_eq!(client_block("::ffff:192.0.2.7".parse().expect("ip")), v4);
    }
}
