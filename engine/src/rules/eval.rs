//! Evaluating a [`Program`] over one dataset's candles into per-bar signal
//! [`flags`], sharing columns through the [`ExprCache`].
//!
//! Boolean columns are bytes (0 or 1) and every loop is over equal-length
//! slices without branches, so the compiler vectorises them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bt_candles::CandlesView;

use super::compile::{Ind, Op, Opd, Program};
use super::parse::{BinOp, Price};
use crate::indicators as ind;
use crate::sim::flags;

/// A computed column.
#[derive(Debug)]
pub enum Column {
    Num(Vec<f64>),
    Bool(Vec<u8>),
    /// All outputs of an indicator.
    Multi(Vec<Vec<f64>>),
    /// A price column, read from the candles (not copied).
    Price(Price),
    /// A data column, read from the candles (not copied).
    Extra(String),
}

impl Column {
    fn bytes(&self) -> usize {
        match self {
            Self::Num(v) => v.len() * 8,
            Self::Bool(v) => v.len(),
            Self::Multi(v) => v.iter().map(|c| c.len() * 8).sum(),
            Self::Price(_) | Self::Extra(_) => 0,
        }
    }
}

/// A node's value: a column and, for an indicator's output, which one.
#[derive(Debug, Clone)]
struct Val {
    col: Arc<Column>,
    k: usize,
}

/// A cached column and the bytes counted for it (0: not kept, see
/// [`ExprCache::get`]).
type Slot = Arc<OnceLock<(Arc<Column>, usize)>>;

/// The expression cache of one dataset: each distinct shared sub-expression
/// (by its canonical key) is computed once, by the first thread that needs
/// it, and kept while the cache stays within its memory bound; past the
/// bound, columns are computed for the strategy that asks and dropped after.
///
/// A cache made [`for_users`](Self::for_users) knows, for every key, how
/// many strategies still to be evaluated use it: it keeps only columns that
/// another strategy will read, and drops each one when the last of them
/// [`release`](Self::release)s it, so its memory follows what the rest of the
/// sweep needs, not everything it has seen. Eviction never changes a value:
/// a column dropped early is computed again, bit for bit the same.
#[derive(Debug)]
pub struct ExprCache {
    inner: Mutex<Inner>,
    bytes: AtomicUsize,
    peak: AtomicUsize,
    limit: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Slot>,
    /// Strategies not yet released that use each key (by its hash); `None`:
    /// not counted, every column is kept while under the bound.
    users: Option<HashMap<u64, u32>>,
}

impl Inner {
    /// Whether a column computed now would be read again.
    fn wanted(&self, key: &str) -> bool {
        self.users.as_ref().is_none_or(|u| u.get(&hash(key)).is_some_and(|&n| n >= 2))
    }
}

/// A key's hash in the user counts. Two keys with one hash share a count:
/// their columns are then kept longer than needed, never dropped early.
fn hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Default bound of an [`ExprCache`].
pub const CACHE_BYTES: usize = 512 << 20;

impl Default for ExprCache {
    fn default() -> Self {
        Self::with_limit(CACHE_BYTES)
    }
}

impl ExprCache {
    /// A cache that keeps columns while it holds at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self { inner: Mutex::default(), bytes: AtomicUsize::new(0), peak: AtomicUsize::new(0), limit }
    }

    /// A cache bounded by `limit` for the strategies whose programs `users`
    /// yields (each once): it keeps a column only while one of them that
    /// uses it is not yet [`release`](Self::release)d.
    pub fn for_users<'p>(limit: usize, users: impl IntoIterator<Item = &'p Program>) -> Self {
        let mut counts = UserCounts::default();
        for p in users {
            counts.add(p);
        }
        Self::with_counts(limit, counts)
    }

    /// [`for_users`](Self::for_users) with counts gathered beforehand (in
    /// parallel, say, without keeping the programs).
    pub fn with_counts(limit: usize, counts: UserCounts) -> Self {
        let c = Self::with_limit(limit);
        c.lock().users = Some(counts.0);
        c
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `bytes` in if they fit under the bound.
    fn reserve(&self, bytes: usize) -> bool {
        let fits = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                b.checked_add(bytes).filter(|&t| t <= self.limit)
            })
            .is_ok();
        if fits {
            self.peak.fetch_max(self.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        fits
    }

    fn get(&self, key: &str, f: impl FnOnce() -> Column) -> Arc<Column> {
        let slot = {
            let mut inner = self.lock();
            match inner.map.get(key) {
                Some(s) => Some(Arc::clone(s)),
                None if self.bytes() < self.limit && inner.wanted(key) => {
                    Some(Arc::clone(inner.map.entry(key.to_owned()).or_default()))
                }
                None => None,
            }
        };
        let Some(slot) = slot else { return Arc::new(f()) };
        let mut not_kept = false;
        let (col, _) = slot.get_or_init(|| {
            let c = f();
            let bytes = c.bytes();
            let kept = self.reserve(bytes);
            not_kept = !kept;
            (Arc::new(c), if kept { bytes } else { 0 })
        });
        let col = Arc::clone(col);
        if not_kept {
            // Over the bound: whoever waited on the slot has the column;
            // later users compute it again.
            let mut inner = self.lock();
            if inner.map.get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                inner.map.remove(key);
            }
        }
        col
    }

    /// A strategy using `program` is done with the cache: each column no
    /// strategy still to come uses is dropped. No-op on a cache that does
    /// not count users.
    pub fn release(&self, program: &Program) {
        let mut guard = self.lock();
        let Inner { map, users } = &mut *guard;
        let Some(users) = users else { return };
        for key in program.cached_keys() {
            let h = hash(key);
            let Some(n) = users.get_mut(&h) else { continue };
            *n = n.saturating_sub(1);
            if *n == 0 {
                users.remove(&h);
                if let Some(slot) = map.remove(key)
                    && let Some((_, bytes)) = slot.get()
                {
                    self.bytes.fetch_sub(*bytes, Ordering::Relaxed);
                }
            }
        }
    }

    /// Number of columns kept.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Most bytes held at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The keys of the columns kept, sorted.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.lock().map.keys().cloned().collect();
        k.sort();
        k
    }
}

/// For [`ExprCache::with_counts`]: how many programs use each cached key.
#[derive(Debug, Default, Clone)]
pub struct UserCounts(HashMap<u64, u32>);

impl UserCounts {
    /// Counts one strategy's program.
    pub fn add(&mut self, program: &Program) {
        for key in program.cached_keys() {
            *self.0.entry(hash(key)).or_default() += 1;
        }
    }

    /// Both counts together (to merge counts made in parallel).
    pub fn merge(self, other: Self) -> Self {
        let (mut big, small) = if self.0.len() >= other.0.len() { (self, other) } else { (other, self) };
        for (k, n) in small.0 {
            *big.0.entry(k).or_default() += n;
        }
        big
    }

    /// Distinct keys counted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn num<'a>(v: &'a Val, c: CandlesView<'a>) -> &'a [f64] {
    match &*v.col {
        Column::Num(x) => x,
        Column::Multi(x) => &x[v.k],
        Column::Price(p) => match p {
            Price::Open => c.open,
            Price::High => c.high,
            Price::Low => c.low,
            Price::Close => c.close,
            Price::Volume => c.volume,
        },
        // Checked before the run: a missing column is refused with the bundle.
        Column::Extra(name) => c.extra.get(name).unwrap_or(&[]),
        Column::Bool(_) => &[],
    }
}

fn bits(v: &Val) -> &[u8] {
    match &*v.col {
        Column::Bool(x) => x,
        _ => &[],
    }
}

/// `a op b` as Rust compares floats (false with NaN); `!=` is false with NaN too.
#[inline(always)]
pub(crate) fn compare(op: BinOp, a: f64, b: f64) -> bool {
    match op {
        BinOp::Lt => a < b,
        BinOp::Le => a <= b,
        BinOp::Gt => a > b,
        BinOp::Ge => a >= b,
        BinOp::Eq => a == b,
        _ => (a < b) | (a > b),
    }
}

/// An operand resolved to a slice or a constant.
#[derive(Clone, Copy)]
enum Src<'a> {
    S(&'a [f64]),
    C(f64),
}

/// `out[t] = f(a[t], b[t])` with each side a slice or a constant; one tight
/// loop per case.
#[inline(always)]
fn zip<T: Copy>(n: usize, a: Src<'_>, b: Src<'_>, out: &mut [T], f: impl Fn(f64, f64) -> T) {
    let out = &mut out[..n];
    match (a, b) {
        (Src::S(a), Src::S(b)) => {
            let (a, b) = (&a[..n], &b[..n]);
            for t in 0..n {
                out[t] = f(a[t], b[t]);
            }
        }
        (Src::S(a), Src::C(y)) => {
            let a = &a[..n];
            for t in 0..n {
                out[t] = f(a[t], y);
            }
        }
        (Src::C(x), Src::S(b)) => {
            let b = &b[..n];
            for t in 0..n {
                out[t] = f(x, b[t]);
            }
        }
        (Src::C(x), Src::C(y)) => out.fill(f(x, y)),
    }
}

/// `out[t - 1]` = whether `a` crosses above `b` at bar `t` (strict on both
/// bars), for `t` in `1..n`. Equal-length slices and `&`: the loops vectorise.
fn cross_above(n: usize, a: Src<'_>, b: Src<'_>, out: &mut [u8]) {
    let out = &mut out[..n - 1];
    match (a, b) {
        (Src::S(a), Src::S(b)) => {
            let (a0, a1, b0, b1) = (&a[..n - 1], &a[1..n], &b[..n - 1], &b[1..n]);
            for t in 0..n - 1 {
                out[t] = u8::from(a0[t] < b0[t]) & u8::from(a1[t] > b1[t]);
            }
        }
        (Src::S(a), Src::C(y)) => {
            let (a0, a1) = (&a[..n - 1], &a[1..n]);
            for t in 0..n - 1 {
                out[t] = u8::from(a0[t] < y) & u8::from(a1[t] > y);
            }
        }
        (Src::C(x), Src::S(b)) => {
            let (b0, b1) = (&b[..n - 1], &b[1..n]);
            for t in 0..n - 1 {
                out[t] = u8::from(x < b0[t]) & u8::from(x > b1[t]);
            }
        }
        // Refused when compiled: two constants never cross.
        (Src::C(_), Src::C(_)) => {}
    }
}

/// Output columns of an indicator.
fn outputs(kind: Ind) -> usize {
    match kind {
        Ind::Macd | Ind::Bbands | Ind::Adx | Ind::Donchian => 3,
        Ind::Stoch | Ind::Supertrend => 2,
        _ => 1,
    }
}

/// Bytes of the column [`compute`] makes for `op` on `n` bars.
fn column_bytes(op: &Op, n: usize) -> usize {
    match op {
        Op::Price(_) | Op::Extra(_) | Op::Out(..) => 0,
        Op::Ind(kind, ..) => outputs(*kind) * n * 8,
        Op::Arith(..) | Op::Neg(_) | Op::Extreme(..) | Op::Prev(_, _, false) => n * 8,
        Op::Cmp(..)
        | Op::And(..)
        | Op::Or(..)
        | Op::Not(_)
        | Op::Cross(..)
        | Op::Prev(_, _, true)
        | Op::Rising(..)
        | Op::Const(_) => n,
    }
}

fn indicator(kind: Ind, x: Option<&[f64]>, p: &[f64], c: CandlesView<'_>) -> Vec<Vec<f64>> {
    let n = c.len();
    let mut o: Vec<Vec<f64>> = vec![vec![f64::NAN; n]; outputs(kind)];
    // An input series starts after its own warm-up: compute from its first
    // number on (an indicator of the candles starts at 0).
    let from = x.map_or(0, |x| x.iter().position(|v| !v.is_nan()).unwrap_or(n));
    let x = x.map(|x| &x[from..n.min(x.len())]);
    let w = |i: usize| p[i] as usize;
    // Periods were checked when the rules were compiled; a series too short
    // for one leaves its column NaN (no signals).
    let _ = match (kind, x, o.as_mut_slice()) {
        (Ind::Sma, Some(x), [a]) => ind::sma(x, w(0), &mut a[from..]),
        (Ind::Ema, Some(x), [a]) => ind::ema(x, w(0), &mut a[from..]),
        (Ind::Wma, Some(x), [a]) => ind::wma(x, w(0), &mut a[from..]),
        (Ind::Rsi, Some(x), [a]) => ind::rsi(x, w(0), &mut a[from..]),
        (Ind::Roc, Some(x), [a]) => ind::roc(x, w(0), &mut a[from..]),
        (Ind::Macd, Some(x), [a, b, h]) => {
            ind::macd(x, w(0), w(1), w(2), &mut a[from..], &mut b[from..], &mut h[from..])
        }
        (Ind::Bbands, Some(x), [u, m, l]) => {
            ind::bbands(x, w(0), p[1], &mut u[from..], &mut m[from..], &mut l[from..])
        }
        (Ind::Atr, None, [a]) => ind::atr(c.high, c.low, c.close, w(0), a),
        (Ind::Stoch, None, [k, d]) => ind::stoch(c.high, c.low, c.close, w(0), w(1), w(2), k, d),
        (Ind::Adx, None, [a, pd, md]) => ind::adx(c.high, c.low, c.close, w(0), a, pd, md),
        (Ind::Supertrend, None, [s, d]) => ind::supertrend(c.high, c.low, c.close, w(0), p[1], s, d),
        (Ind::Donchian, None, [u, m, l]) => ind::donchian(c.high, c.low, w(0), u, m, l),
        _ => Ok(()),
    };
    o
}

/// Highest (`max`) or lowest of `x[t-n+1..=t]`; NaN while the window is not
/// full or holds a NaN. A monotonic queue: O(bars) whatever `n`.
pub(super) fn extreme(x: &[f64], n: usize, max: bool) -> Vec<f64> {
    let len = x.len();
    let mut out = vec![f64::NAN; len];
    let mut q: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut last_nan: Option<usize> = None;
    let better = |a: f64, b: f64| if max { a >= b } else { a <= b };
    for t in 0..len {
        if x[t].is_nan() {
            last_nan = Some(t);
            q.clear();
        } else {
            while q.back().is_some_and(|&j| better(x[t], x[j])) {
                q.pop_back();
            }
            q.push_back(t);
        }
        while q.front().is_some_and(|&j| j + n <= t) {
            q.pop_front();
        }
        let full = t + 1 >= n && last_nan.is_none_or(|j| j + n <= t);
        if full && let Some(&j) = q.front() {
            out[t] = x[j];
        }
    }
    out
}

fn compute(op: &Op, vals: &[Val], c: CandlesView<'_>) -> Column {
    let n = c.len();
    let src = |o: &Opd| match *o {
        Opd::N(i) => Src::S(num(&vals[i], c)),
        Opd::C(v) => Src::C(v),
    };
    match op {
        Op::Price(p) => Column::Price(*p),
        Op::Extra(name) => Column::Extra(name.clone()),
        Op::Ind(kind, input, p) => Column::Multi(indicator(*kind, input.map(|i| num(&vals[i], c)), p, c)),
        // Resolved without computing (see `Program::signals`).
        Op::Out(..) => Column::Num(Vec::new()),
        Op::Arith(op, a, b) => {
            let mut out = vec![0.0; n];
            let (a, b) = (src(a), src(b));
            match op {
                BinOp::Add => zip(n, a, b, &mut out, |x, y| x + y),
                BinOp::Sub => zip(n, a, b, &mut out, |x, y| x - y),
                BinOp::Mul => zip(n, a, b, &mut out, |x, y| x * y),
                _ => zip(n, a, b, &mut out, |x, y| x / y),
            }
            Column::Num(out)
        }
        Op::Neg(i) => Column::Num(num(&vals[*i], c)[..n].iter().map(|x| -x).collect()),
        Op::Cmp(op, a, b) => {
            let mut out = vec![0u8; n];
            let (a, b) = (src(a), src(b));
            match op {
                BinOp::Lt => zip(n, a, b, &mut out, |x, y| u8::from(x < y)),
                BinOp::Le => zip(n, a, b, &mut out, |x, y| u8::from(x <= y)),
                BinOp::Gt => zip(n, a, b, &mut out, |x, y| u8::from(x > y)),
                BinOp::Ge => zip(n, a, b, &mut out, |x, y| u8::from(x >= y)),
                BinOp::Eq => zip(n, a, b, &mut out, |x, y| u8::from(x == y)),
                _ => zip(n, a, b, &mut out, |x, y| u8::from(x < y) | u8::from(x > y)),
            }
            Column::Bool(out)
        }
        Op::And(a, b) | Op::Or(a, b) => {
            let (a, b) = (&bits(&vals[*a])[..n], &bits(&vals[*b])[..n]);
            let and = matches!(op, Op::And(..));
            Column::Bool(if and {
                a.iter().zip(b).map(|(x, y)| x & y).collect()
            } else {
                a.iter().zip(b).map(|(x, y)| x | y).collect()
            })
        }
        Op::Not(a) => Column::Bool(bits(&vals[*a])[..n].iter().map(|x| x ^ 1).collect()),
        Op::Cross(up, a, b) => {
            let mut out = vec![0u8; n];
            if n >= 2 {
                // Strict on both bars: a[t-1] < b[t-1] and a[t] > b[t] (above).
                // Swapping the sides turns "above" into "below".
                let (a, b) = if *up { (src(a), src(b)) } else { (src(b), src(a)) };
                cross_above(n, a, b, &mut out[1..]);
            }
            Column::Bool(out)
        }
        Op::Prev(i, k, boolean) => {
            if *boolean {
                let x = bits(&vals[*i]);
                let mut out = vec![0u8; n];
                if *k < n {
                    out[*k..].copy_from_slice(&x[..n - k]);
                }
                Column::Bool(out)
            } else {
                let x = num(&vals[*i], c);
                let mut out = vec![f64::NAN; n];
                if *k < n {
                    out[*k..].copy_from_slice(&x[..n - k]);
                }
                Column::Num(out)
            }
        }
        Op::Rising(i, k, up) => {
            let x = &num(&vals[*i], c)[..n];
            let mut out = vec![0u8; n];
            if *k < n {
                let (old, new, o) = (&x[..n - k], &x[*k..], &mut out[*k..]);
                for t in 0..n - k {
                    o[t] = if *up { u8::from(new[t] > old[t]) } else { u8::from(new[t] < old[t]) };
                }
            }
            Column::Bool(out)
        }
        Op::Extreme(i, k, max) => Column::Num(extreme(&num(&vals[*i], c)[..n], *k, *max)),
        Op::Const(v) => Column::Bool(vec![u8::from(*v); n]),
    }
}

impl Program {
    /// Keys of the nodes [`signals`](Self::signals) looks up in the cache.
    pub fn cached_keys(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().filter(|n| n.shared && !matches!(n.op, Op::Out(..))).map(|n| n.key.as_str())
    }

    /// Bytes of every column the program computes on `bars` bars (what one
    /// evaluation holds at most, cached or not).
    pub fn column_bytes(&self, bars: usize) -> usize {
        self.nodes.iter().map(|n| column_bytes(&n.op, bars)).sum()
    }

    /// Writes the [`flags`] of every bar into `out` (the length of the
    /// candles). Fails only when the candles lack a data column the rules
    /// read (the bundle's datasets are checked before a run).
    pub fn signals(&self, c: CandlesView<'_>, cache: &ExprCache, out: &mut [u8]) -> Result<(), String> {
        let n = c.len().min(out.len());
        for node in &self.nodes {
            if let Op::Extra(name) = &node.op
                && c.extra.get(name).is_none_or(|x| x.len() < n)
            {
                return Err(format!("the dataset has no data column {name:?}"));
            }
        }
        let mut vals: Vec<Val> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let v = match node.op {
                Op::Out(i, k) => Val { col: Arc::clone(&vals[i].col), k },
                ref op if node.shared => Val { col: cache.get(&node.key, || compute(op, &vals, c)), k: 0 },
                ref op => Val { col: Arc::new(compute(op, &vals, c)), k: 0 },
            };
            vals.push(v);
        }
        let zeros = vec![0u8; if self.roots.iter().all(Option::is_some) { 0 } else { n }];
        let root = |r: Option<usize>| r.map_or(&zeros[..], |i| &bits(&vals[i])[..n]);
        let (el, xl, es, xs) =
            (root(self.roots[0]), root(self.roots[1]), root(self.roots[2]), root(self.roots[3]));
        let out = &mut out[..n];
        for t in 0..n {
            out[t] = flags::of(el[t] != 0, xl[t] != 0, es[t] != 0, xs[t] != 0);
        }
        Ok(())
    }
}
