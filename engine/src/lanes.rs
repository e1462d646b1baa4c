//! The sweep's fast path: [`W`] variants advance together through the bar
//! loop, their state in a struct-of-arrays layout held in SIMD registers.
//!
//! It computes exactly what [`simulate`](crate::sim::simulate) computes, lane
//! by lane, with the same float operations in the same order, so its
//! accumulators are bit-identical to the scalar path's:
//! - the per-bar work (stop/target/liquidation test, mark to the close, the
//!   [`Accumulator::bar`] update) is branch-free across lanes; a bar where any
//!   lane's stop, target or liquidation price is touched, or where any lane
//!   has a signal to fill, drops to the scalar code of the simulator
//!   ([`Position`]'s methods) for those lanes only; the rare new drawdown
//!   maximum is divided out only when a lane may have one;
//! - a trailing stop moves its lane's trigger level with each new best price:
//!   a group with one tracks the best highs and lows in the vector loop (a
//!   few more vector operations a bar, none in groups without), and the
//!   scalar exit code takes the best price from there; a `max_bars` exit is
//!   one more fill event of its lane (at the due bar), so the loop stops there
//!   as at a signal;
//! - signals are kept as sparse event lists (fill bar, side); while every lane
//!   of a group is flat, its equity is constant, every per-bar return is zero,
//!   and the accumulator's state after the last flat bar equals the state
//!   after processing the first and the last of them (timestamps must be
//!   non-decreasing), so flat stretches cost two steps whatever their length;
//! - groups are processed in tiles of bars, so the columns a task reads stay in
//!   L2 while all of its groups pass over them.
//!
//! Wider instructions are chosen at run time: AVX when the CPU has it,
//! otherwise the same kernel on plain arrays ([`Portable`]).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::metrics::Accumulator;
use crate::sim::{ExitReason, Position, SimParams, flags};

/// Variants per group (one AVX register of f64).
pub(crate) const W: usize = 4;

/// One signal to fill: at bar `bar`'s open, [`flags`] `flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) bar: usize,
    pub(crate) flags: u8,
}

/// The fill events of a signal column (`signals[t]` fills at bar `t + 1`).
pub(crate) fn events(signals: &[u8]) -> Vec<Event> {
    let fills = &signals[..signals.len().saturating_sub(1)];
    let mut out = Vec::new();
    // Signals are sparse: skip 8 zero bytes at a time.
    const STEP: usize = 8;
    for (k, chunk) in fills.chunks(STEP).enumerate() {
        if let Ok(word) = <[u8; STEP]>::try_from(chunk)
            && u64::from_ne_bytes(word) == 0
        {
            continue;
        }
        for (j, &s) in chunk.iter().enumerate() {
            if s != 0 {
                out.push(Event { bar: k * STEP + j + 1, flags: s });
            }
        }
    }
    out
}

/// The bar columns the kernel reads; `ts` as f64 (exact: see [`Columns::new`]).
#[derive(Debug)]
pub(crate) struct Columns<'a> {
    pub(crate) ts: Vec<f64>,
    pub(crate) open: &'a [f64],
    pub(crate) high: &'a [f64],
    pub(crate) low: &'a [f64],
    pub(crate) close: &'a [f64],
}

impl<'a> Columns<'a> {
    /// `None` unless the kernel gives the scalar path's results on these bars:
    /// at least one bar, finite prices, non-decreasing timestamps within
    /// ±2^52 ms (so they and their differences are exact in f64).
    pub(crate) fn new(c: bt_candles::CandlesView<'a>) -> Option<Self> {
        let n = c.len();
        if n == 0 || [c.open, c.high, c.low, c.close].iter().any(|col| col.len() < n) {
            return None;
        }
        const LIM: i64 = 1 << 52;
        if c.ts.windows(2).any(|w| w[0] > w[1]) || c.ts.iter().any(|&t| !(-LIM..LIM).contains(&t)) {
            return None;
        }
        if [c.open, c.high, c.low, c.close].iter().any(|col| col[..n].iter().any(|v| !v.is_finite())) {
            return None;
        }
        Some(Self {
            ts: c.ts.iter().map(|&t| t as f64).collect(),
            open: &c.open[..n],
            high: &c.high[..n],
            low: &c.low[..n],
            close: &c.close[..n],
        })
    }

    fn len(&self) -> usize {
        self.ts.len()
    }
}

/// Four f64 lanes; a mask is a lane with all bits set (true) or clear.
pub(crate) trait Lanes: Copy {
    fn splat(x: f64) -> Self;
    fn load(a: &[f64; W]) -> Self;
    fn store(self, a: &mut [f64; W]);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// Ordered comparisons (false with NaN), as Rust's operators.
    fn le(self, o: Self) -> Self;
    fn ge(self, o: Self) -> Self;
    fn gt(self, o: Self) -> Self;
    fn lt(self, o: Self) -> Self;
    /// `!(self >= o)` (true with NaN).
    fn nge(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    /// `!self & o`.
    fn andnot(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    /// `m ? a : b` per lane.
    fn select(m: Self, a: Self, b: Self) -> Self;
    fn any(self) -> bool;
}

/// The kernel on plain arrays: any CPU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable([f64; W]);

impl Portable {
    #[inline(always)]
    fn map2(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Self(std::array::from_fn(|l| f(self.0[l], o.0[l])))
    }
    #[inline(always)]
    fn cmp(self, o: Self, f: impl Fn(f64, f64) -> bool) -> Self {
        self.map2(o, |a, b| mask(f(a, b)))
    }
    #[inline(always)]
    fn bits(self, o: Self, f: impl Fn(u64, u64) -> u64) -> Self {
        self.map2(o, |a, b| f64::from_bits(f(a.to_bits(), b.to_bits())))
    }
}

#[inline(always)]
fn mask(b: bool) -> f64 {
    f64::from_bits(if b { u64::MAX } else { 0 })
}

#[inline(always)]
fn is_set(m: f64) -> bool {
    m.to_bits() >> 63 != 0
}

impl Lanes for Portable {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Self([x; W])
    }
    #[inline(always)]
    fn load(a: &[f64; W]) -> Self {
        Self(*a)
    }
    #[inline(always)]
    fn store(self, a: &mut [f64; W]) {
        *a = self.0;
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.map2(o, |a, b| a + b)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.map2(o, |a, b| a - b)
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.map2(o, |a, b| a * b)
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        self.map2(o, |a, b| a / b)
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        self.cmp(o, |a, b| a <= b)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        self.cmp(o, |a, b| a >= b)
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        self.cmp(o, |a, b| a > b)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        self.cmp(o, |a, b| a < b)
    }
    #[inline(always)]
    fn nge(self, o: Self) -> Self {
        self.cmp(o, |a, b| a.partial_cmp(&b).is_none_or(|c| c.is_lt()))
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self.bits(o, |a, b| a & b)
    }
    #[inline(always)]
    fn andnot(self, o: Self) -> Self {
        self.bits(o, |a, b| !a & b)
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        self.bits(o, |a, b| a | b)
    }
    #[inline(always)]
    fn select(m: Self, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|l| if is_set(m.0[l]) { a.0[l] } else { b.0[l] }))
    }
    #[inline(always)]
    fn any(self) -> bool {
        self.0.iter().any(|&m| is_set(m))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;
    use std::sync::atomic::AtomicBool;

    use super::{Columns, Group, Lanes, W};

    /// Four lanes in one AVX register. Values of this type are only created
    /// inside [`run_groups`], which runs after AVX was detected: that is the
    /// safety argument of every `unsafe` block below.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx(__m256d);

    macro_rules! bin {
        ($name:ident, $f:ident) => {
            #[inline(always)]
            fn $name(self, o: Self) -> Self {
                // SAFETY: AVX is available (see the type's documentation).
                Self(unsafe { $f(self.0, o.0) })
            }
        };
    }
    macro_rules! cmp {
        ($name:ident, $pred:ident) => {
            #[inline(always)]
            fn $name(self, o: Self) -> Self {
                // SAFETY: AVX is available (see the type's documentation).
                Self(unsafe { _mm256_cmp_pd::<$pred>(self.0, o.0) })
            }
        };
    }

    impl Lanes for Avx {
        #[inline(always)]
        fn splat(x: f64) -> Self {
            // SAFETY: AVX is available (see the type's documentation).
            Self(unsafe { _mm256_set1_pd(x) })
        }
        #[inline(always)]
        fn load(a: &[f64; W]) -> Self {
            // SAFETY: AVX is available; `a` holds four f64 (unaligned load).
            Self(unsafe { _mm256_loadu_pd(a.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, a: &mut [f64; W]) {
            // SAFETY: AVX is available; `a` holds four f64 (unaligned store).
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), self.0) }
        }
        bin!(add, _mm256_add_pd);
        bin!(sub, _mm256_sub_pd);
        bin!(mul, _mm256_mul_pd);
        bin!(div, _mm256_div_pd);
        bin!(and, _mm256_and_pd);
        bin!(andnot, _mm256_andnot_pd);
        bin!(or, _mm256_or_pd);
        cmp!(le, _CMP_LE_OQ);
        cmp!(ge, _CMP_GE_OQ);
        cmp!(gt, _CMP_GT_OQ);
        cmp!(lt, _CMP_LT_OQ);
        cmp!(nge, _CMP_NGE_UQ);
        #[inline(always)]
        fn select(m: Self, a: Self, b: Self) -> Self {
            // SAFETY: AVX is available (see the type's documentation).
            Self(unsafe { _mm256_blendv_pd(b.0, a.0, m.0) })
        }
        #[inline(always)]
        fn any(self) -> bool {
            // SAFETY: AVX is available (see the type's documentation).
            unsafe { _mm256_movemask_pd(self.0) != 0 }
        }
    }

    /// The kernel compiled for AVX.
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn run_groups(
        groups: &mut [Group<'_>],
        c: &Columns<'_>,
        tile: usize,
        cancel: &AtomicBool,
    ) -> bool {
        super::run_groups_with::<Avx>(groups, c, tile, cancel)
    }
}

/// Which kernel runs the lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The widest the CPU has.
    Best,
    /// Plain arrays (any CPU).
    Portable,
}

/// Runs `groups` over all bars, `tile` bars at a time; false when cancelled.
pub(crate) fn run_groups(
    groups: &mut [Group<'_>],
    c: &Columns<'_>,
    tile: usize,
    cancel: &AtomicBool,
    isa: Isa,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Best && std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX was just detected.
        return unsafe { avx::run_groups(groups, c, tile, cancel) };
    }
    let _ = isa;
    run_groups_with::<Portable>(groups, c, tile, cancel)
}

#[inline(always)]
fn run_groups_with<V: Lanes>(
    groups: &mut [Group<'_>],
    c: &Columns<'_>,
    tile: usize,
    cancel: &AtomicBool,
) -> bool {
    let n = c.len();
    let mut t0 = 0;
    while t0 < n {
        let t1 = (t0 + tile.max(1)).min(n);
        // Fills read the open of sparse bars: stream the tile's opens into
        // cache first rather than miss on each (a tenth of the run otherwise).
        std::hint::black_box(c.open[t0..t1].iter().fold(0.0, |a, &x| a + x));
        for g in groups.iter_mut() {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            run::<V>(g, c, t1);
        }
        t0 = t1;
    }
    true
}

/// The lanes' per-bar state, one array per field (lane-major).
#[derive(Debug, Clone, Copy)]
struct State {
    cash: [f64; W],
    /// side × quantity; 0 when flat.
    sq: [f64; W],
    /// Entry fill; 0 when flat.
    entry: [f64; W],
    /// Mask: a position is open.
    inpos: [f64; W],
    /// A low at or under `lo`, or a high at or over `hi`, hits a stop, target
    /// or liquidation price (NaN when flat: never).
    lo: [f64; W],
    hi: [f64; W],
    /// `lo` and `hi` without the trailing stop.
    slo: [f64; W],
    shi: [f64; W],
    /// The best price since entry of a long (`bl`) or short (`bs`) with a
    /// trailing stop, the stop's factor on it (`tk`); NaN otherwise.
    bl: [f64; W],
    bs: [f64; W],
    tk: [f64; W],
    prev: [f64; W],
    sum_r: [f64; W],
    sum_r2: [f64; W],
    sum_down2: [f64; W],
    peak: [f64; W],
    peak_ts: [f64; W],
    /// Mask.
    below: [f64; W],
    max_dd_ms: [f64; W],
    max_dd: [f64; W],
    bars_in_position: [f64; W],
}

/// `W` variants of one dataset (padding lanes never trade; their results are
/// dropped).
#[derive(Debug)]
pub(crate) struct Group<'a> {
    st: State,
    lanes: usize,
    pos: [Option<Position>; W],
    stopped: [bool; W],
    /// Trade statistics, fees and the liquidation flag; the per-bar fields
    /// live in `st` until [`Group::finish`].
    acc: [Accumulator; W],
    params: [SimParams; W],
    events: [&'a [Event]; W],
    cursor: [usize; W],
    /// Next bar to process.
    next: usize,
    /// Some lane has a trailing stop.
    trailing: bool,
    /// Some lane has a `max_bars` limit.
    max_bars: bool,
}

impl<'a> Group<'a> {
    /// A group of `lanes.len()` (at most `W`) variants: their parameters and
    /// signal events, on bars `c`.
    pub(crate) fn new(lanes: &[(SimParams, &'a [Event])], c: &Columns<'_>) -> Self {
        assert!(!lanes.is_empty() && lanes.len() <= W, "1 to {W} lanes");
        let pad = lanes[0];
        let get = |l: usize| lanes.get(l).copied().unwrap_or((pad.0, &[]));
        let params: [SimParams; W] = std::array::from_fn(|l| get(l).0);
        let cash = params.map(|p| p.initial_balance);
        let nan = [f64::NAN; W];
        Self {
            st: State {
                cash,
                sq: [0.0; W],
                entry: [0.0; W],
                inpos: [0.0; W],
                lo: nan,
                hi: nan,
                slo: nan,
                shi: nan,
                bl: nan,
                bs: nan,
                tk: nan,
                prev: cash,
                sum_r: [0.0; W],
                sum_r2: [0.0; W],
                sum_down2: [0.0; W],
                peak: cash,
                // The accumulator takes the first bar's time as its first peak's.
                peak_ts: [c.ts.first().copied().unwrap_or(0.0); W],
                below: [0.0; W],
                max_dd_ms: [0.0; W],
                max_dd: [0.0; W],
                bars_in_position: [0.0; W],
            },
            lanes: lanes.len(),
            pos: [None; W],
            stopped: std::array::from_fn(|l| l >= lanes.len()),
            acc: cash.map(Accumulator::new),
            params,
            events: std::array::from_fn(|l| get(l).1),
            cursor: [0; W],
            next: 0,
            trailing: params.iter().any(|p| p.trailing_stop.is_some()),
            max_bars: params.iter().any(|p| p.max_bars.is_some()),
        }
    }

    /// The accumulators of the real lanes after all bars of `c`.
    pub(crate) fn finish(&self, c: &Columns<'_>) -> impl Iterator<Item = Accumulator> + '_ {
        let s = &self.st;
        let n = c.len();
        let last_ts = c.ts.last().copied().unwrap_or(0.0);
        (0..self.lanes).map(move |l| Accumulator {
            prev_equity: s.prev[l],
            n: n as u64,
            sum_r: s.sum_r[l],
            sum_r2: s.sum_r2[l],
            sum_down2: s.sum_down2[l],
            peak: s.peak[l],
            peak_ts: s.peak_ts[l] as i64,
            below_peak: is_set(s.below[l]),
            max_dd: s.max_dd[l],
            // A drawdown never recovered lasts to the last bar.
            max_dd_ms: if is_set(s.below[l]) && last_ts - s.peak_ts[l] > s.max_dd_ms[l] {
                last_ts - s.peak_ts[l]
            } else {
                s.max_dd_ms[l]
            } as i64,
            bars_in_position: s.bars_in_position[l] as u64,
            open_position: self.pos[l].is_some(),
            ..self.acc[l]
        })
    }

    /// The first bar at or after the cursors where some trading lane has a
    /// signal to fill or a position to close for `max_bars` (`usize::MAX` if
    /// none).
    fn next_event(&self) -> usize {
        (0..W)
            .filter(|&l| !self.stopped[l])
            .map(|l| {
                let signal = self.events[l].get(self.cursor[l]).map_or(usize::MAX, |e| e.bar);
                signal.min(self.pos[l].map_or(usize::MAX, |ps| ps.due))
            })
            .min()
            .unwrap_or(usize::MAX)
    }

    /// Lane `l`'s position, its best price brought up to date from the
    /// per-bar state (where the vector loop tracks it).
    fn position(&mut self, l: usize) -> Option<Position> {
        let ps = self.pos[l].as_mut()?;
        if !ps.trail.is_nan() {
            ps.best = if ps.side > 0 { self.st.bl[l] } else { self.st.bs[l] };
        }
        Some(*ps)
    }

    fn all_flat(&self) -> bool {
        self.pos.iter().all(Option::is_none)
    }

    /// Writes lane `l`'s position into the per-bar state.
    fn sync(&mut self, l: usize, cash: f64) {
        let s = &mut self.st;
        s.cash[l] = cash;
        match self.pos[l] {
            Some(ps) => {
                s.sq[l] = f64::from(ps.side) * ps.qty;
                s.entry[l] = ps.entry;
                s.inpos[l] = mask(true);
                // Exactly the simulator's tests (NaN stop or target: never),
                // the trailing level as `Trail::levels` computes it.
                let best = if ps.trail.is_nan() { f64::NAN } else { ps.best };
                let trail = ps.trail_level();
                s.tk[l] = ps.trail;
                if ps.side > 0 {
                    (s.slo[l], s.shi[l]) = (ps.sl.max(ps.liq), ps.tp);
                    (s.bl[l], s.bs[l]) = (best, f64::NAN);
                    s.lo[l] = if trail > s.slo[l] { trail } else { s.slo[l] };
                    s.hi[l] = s.shi[l];
                } else {
                    (s.slo[l], s.shi[l]) = (ps.tp, ps.sl.min(ps.liq));
                    (s.bl[l], s.bs[l]) = (f64::NAN, best);
                    s.lo[l] = s.slo[l];
                    s.hi[l] = if trail < s.shi[l] { trail } else { s.shi[l] };
                }
            }
            None => {
                s.sq[l] = 0.0;
                s.entry[l] = 0.0;
                s.inpos[l] = 0.0;
                for a in [&mut s.lo, &mut s.hi, &mut s.slo, &mut s.shi, &mut s.bl, &mut s.bs, &mut s.tk] {
                    a[l] = f64::NAN;
                }
            }
        }
    }

    /// Closes the positions due for `max_bars` and fills the signals due at
    /// bar `i`'s open (the simulator's step 1).
    #[inline(never)]
    fn fill_signals(&mut self, i: usize, c: &Columns<'_>) {
        let open = c.open[i];
        for l in 0..W {
            if self.stopped[l] {
                continue;
            }
            let e = self.events[l].get(self.cursor[l]).copied().filter(|e| e.bar == i);
            let due = self.pos[l].is_some_and(|ps| ps.due == i);
            if e.is_none() && !due {
                continue;
            }
            let p = self.params[l];
            let (fee, slip) = p.costs();
            let mut cash = self.st.cash[l];
            let mut pos = self.position(l);
            if let Some(ps) = pos.filter(|ps| ps.due == i) {
                ps.settle(ps.signal_exit_price(open, slip), fee, c.ts[i] as i64, &mut cash, &mut self.acc[l]);
                pos = None;
            }
            if let Some(e) = e {
                self.cursor[l] += 1;
                let f = e.flags;
                if let Some(ps) = pos.filter(|ps| flags::exits(f, ps.side)) {
                    ps.settle(
                        ps.signal_exit_price(open, slip),
                        fee,
                        c.ts[i] as i64,
                        &mut cash,
                        &mut self.acc[l],
                    );
                    pos = None;
                }
                let s = flags::entry_side(f);
                if s != 0 && pos.is_none() && p.direction.allows(s) && cash > 0.0 {
                    pos = Position::open(s, open, i, c.ts[i] as i64, &p, &mut cash, &mut self.acc[l]);
                }
            }
            self.pos[l] = pos;
            self.sync(l, cash);
        }
    }

    /// Stops, liquidations and targets within bar `i` (the simulator's step 2).
    #[inline(never)]
    fn exits(&mut self, i: usize, c: &Columns<'_>) {
        let (open, high, low) = (c.open[i], c.high[i], c.low[i]);
        for l in 0..W {
            let Some(ps) = self.position(l) else { continue };
            let (fee, slip) = self.params[l].costs();
            if let Some((price, reason)) = ps.exit_within(open, high, low, slip) {
                let mut cash = self.st.cash[l];
                ps.settle(price, fee, c.ts[i] as i64, &mut cash, &mut self.acc[l]);
                self.pos[l] = None;
                if reason == ExitReason::Liquidation {
                    self.stopped[l] = true;
                    self.acc[l].liquidated = true;
                }
                self.sync(l, cash);
            }
        }
    }
}

/// The per-bar state in registers.
#[derive(Clone, Copy)]
struct Regs<V> {
    cash: V,
    sq: V,
    entry: V,
    inpos: V,
    lo: V,
    hi: V,
    prev: V,
    sum_r: V,
    sum_r2: V,
    sum_down2: V,
    peak: V,
    peak_ts: V,
    below: V,
    max_dd_ms: V,
    max_dd: V,
    bars_in_position: V,
}

impl<V: Lanes> Regs<V> {
    #[inline(always)]
    fn load(s: &State) -> Self {
        Self {
            cash: V::load(&s.cash),
            sq: V::load(&s.sq),
            entry: V::load(&s.entry),
            inpos: V::load(&s.inpos),
            lo: V::load(&s.lo),
            hi: V::load(&s.hi),
            prev: V::load(&s.prev),
            sum_r: V::load(&s.sum_r),
            sum_r2: V::load(&s.sum_r2),
            sum_down2: V::load(&s.sum_down2),
            peak: V::load(&s.peak),
            peak_ts: V::load(&s.peak_ts),
            below: V::load(&s.below),
            max_dd_ms: V::load(&s.max_dd_ms),
            max_dd: V::load(&s.max_dd),
            bars_in_position: V::load(&s.bars_in_position),
        }
    }

    #[inline(always)]
    fn store(&self, s: &mut State) {
        self.cash.store(&mut s.cash);
        self.sq.store(&mut s.sq);
        self.entry.store(&mut s.entry);
        self.inpos.store(&mut s.inpos);
        self.lo.store(&mut s.lo);
        self.hi.store(&mut s.hi);
        self.prev.store(&mut s.prev);
        self.sum_r.store(&mut s.sum_r);
        self.sum_r2.store(&mut s.sum_r2);
        self.sum_down2.store(&mut s.sum_down2);
        self.peak.store(&mut s.peak);
        self.peak_ts.store(&mut s.peak_ts);
        self.below.store(&mut s.below);
        self.max_dd_ms.store(&mut s.max_dd_ms);
        self.max_dd.store(&mut s.max_dd);
        self.bars_in_position.store(&mut s.bars_in_position);
    }

    /// The fields the scalar code changes (position and cash).
    #[inline(always)]
    fn reload_position(&mut self, s: &State) {
        self.cash = V::load(&s.cash);
        self.sq = V::load(&s.sq);
        self.entry = V::load(&s.entry);
        self.inpos = V::load(&s.inpos);
        self.lo = V::load(&s.lo);
        self.hi = V::load(&s.hi);
    }

    /// Mark to bar's close `close` at time `ts`: [`Accumulator::bar`] per lane,
    /// branch-free (the drawdown division only when a lane may set a new
    /// maximum).
    #[inline(always)]
    fn mark(&mut self, close: f64, ts: f64) {
        let zero = V::splat(0.0);
        let one = V::splat(1.0);
        let (close, ts) = (V::splat(close), V::splat(ts));
        // Flat lanes: cash + 0 × close = cash (cash is never -0).
        let eq = self.cash.add(self.sq.mul(close.sub(self.entry)));
        let r = self.prev.gt(zero).and(eq.div(self.prev).sub(one));
        self.prev = eq;
        self.sum_r = self.sum_r.add(r);
        let r2 = r.mul(r);
        self.sum_r2 = self.sum_r2.add(r2);
        self.sum_down2 = V::select(r.lt(zero), self.sum_down2.add(r2), self.sum_down2);
        let below = eq.nge(self.peak);
        // Drawdown duration. The accumulator takes the longest time from the
        // peak at every bar below it and at the recovery; with non-decreasing
        // times the recovery's (or, never recovered, the last bar's: see
        // `Group::finish`) is the longest of its drawdown, so only recoveries
        // are needed here.
        let dur = ts.sub(self.peak_ts);
        let recovery = below.andnot(self.below);
        self.max_dd_ms = V::select(recovery.and(dur.gt(self.max_dd_ms)), dur, self.max_dd_ms);
        // A new maximum drawdown needs d / peak > max_dd, so d > max_dd × peak
        // within rounding: the margin keeps every lane that may have one.
        let d = self.peak.sub(eq);
        let maybe = below.and(d.gt(self.max_dd.mul(self.peak).mul(V::splat(1.0 - 1e-12))));
        if maybe.any() {
            let dd = d.div(self.peak);
            self.max_dd = V::select(maybe.and(dd.gt(self.max_dd)), dd, self.max_dd);
        }
        self.peak = V::select(below, self.peak, eq);
        self.peak_ts = V::select(below, self.peak_ts, ts);
        self.below = below;
        self.bars_in_position = self.bars_in_position.add(self.inpos.and(one));
    }
}

/// The trailing stops' state in registers (groups with a trailing stop only).
#[derive(Clone, Copy)]
struct Trail<V> {
    slo: V,
    shi: V,
    bl: V,
    bs: V,
    tk: V,
}

impl<V: Lanes> Trail<V> {
    #[inline(always)]
    fn load(s: &State) -> Self {
        Self {
            slo: V::load(&s.slo),
            shi: V::load(&s.shi),
            bl: V::load(&s.bl),
            bs: V::load(&s.bs),
            tk: V::load(&s.tk),
        }
    }

    /// The best prices, the only fields the vector loop changes.
    #[inline(always)]
    fn store(&self, s: &mut State) {
        self.bl.store(&mut s.bl);
        self.bs.store(&mut s.bs);
    }

    /// Takes a finished bar's high and low into the best prices, as
    /// [`Position::track`] does, and moves the trigger levels.
    #[inline(always)]
    fn track(&mut self, r: &mut Regs<V>, high: f64, low: f64) {
        let (high, low) = (V::splat(high), V::splat(low));
        self.bl = V::select(high.gt(self.bl), high, self.bl);
        self.bs = V::select(low.lt(self.bs), low, self.bs);
        self.levels(r);
    }

    /// `lo` and `hi` from the best prices, as `Group::sync` computes them
    /// (NaN best or factor: the static level).
    #[inline(always)]
    fn levels(&self, r: &mut Regs<V>) {
        let up = self.bl.mul(self.tk);
        r.lo = V::select(up.gt(self.slo), up, self.slo);
        let down = self.bs.mul(self.tk);
        r.hi = V::select(down.lt(self.shi), down, self.shi);
    }
}

/// Bars `[from, to)`: stops and targets, then the mark (and with `TRAIL`, the
/// trailing stops' move). Returns early, after the bar where the last open
/// position closed, with that bar's successor.
#[inline(always)]
fn bars<V: Lanes, const TRAIL: bool>(g: &mut Group<'_>, c: &Columns<'_>, from: usize, to: usize) -> usize {
    let (high, low, close, ts) = (&c.high[..to], &c.low[..to], &c.close[..to], &c.ts[..to]);
    let mut r = Regs::<V>::load(&g.st);
    let mut t = Trail::<V>::load(&g.st);
    let mut b = from;
    while b < to {
        let hit = V::splat(low[b]).le(r.lo).or(V::splat(high[b]).ge(r.hi));
        if hit.any() {
            // The scalar code reads and writes only the position fields, which
            // the mark never changes: their copies in `g.st` are current, but
            // for the best prices and levels the trailing stops move.
            if TRAIL {
                t.store(&mut g.st);
            }
            g.exits(b, c);
            r.reload_position(&g.st);
            if TRAIL {
                t = Trail::load(&g.st);
                t.levels(&mut r);
            }
            if g.all_flat() {
                r.mark(close[b], ts[b]);
                r.store(&mut g.st);
                if TRAIL {
                    t.store(&mut g.st);
                }
                return b + 1;
            }
        }
        r.mark(close[b], ts[b]);
        if TRAIL {
            t.track(&mut r, high[b], low[b]);
        }
        b += 1;
    }
    r.store(&mut g.st);
    if TRAIL {
        t.store(&mut g.st);
    }
    to
}

/// Advances group `g` to bar `t1` (or beyond, over a flat stretch).
#[inline(always)]
fn run<V: Lanes>(g: &mut Group<'_>, c: &Columns<'_>, t1: usize) {
    if g.trailing {
        advance::<V, true>(g, c, t1);
    } else {
        advance::<V, false>(g, c, t1);
    }
}

#[inline(always)]
fn advance<V: Lanes, const TRAIL: bool>(g: &mut Group<'_>, c: &Columns<'_>, t1: usize) {
    let n = c.len();
    let mut i = g.next;
    let mut next_ev = g.next_event();
    while i < t1 {
        if i == next_ev {
            g.fill_signals(i, c);
            next_ev = g.next_event();
        }
        if g.all_flat() {
            // Flat up to the next fill: the first and the last bar stand for all.
            let j = next_ev.min(n);
            bars::<V, TRAIL>(g, c, i, i + 1);
            if j - 1 > i {
                bars::<V, TRAIL>(g, c, j - 1, j);
            }
            i = j;
        } else {
            i = bars::<V, TRAIL>(g, c, i, next_ev.min(t1));
            if g.max_bars && g.all_flat() {
                // Drop the due bars of the positions stops closed.
                next_ev = g.next_event();
            }
        }
    }
    g.next = i;
}
