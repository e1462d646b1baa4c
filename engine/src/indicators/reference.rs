//! Naive O(n × window) reference implementations, written straight from each
//! indicator's definition, and deterministic random test data.
//!
//! Each window is summed afresh, not in TA-Lib's running order as the kernels
//! are, so the two agree to about 1e-13 (the tests allow 1e-9), never bit for
//! bit; the kernels' bits are checked against TA-Lib's own outputs in
//! `testdata/talib_fixture.txt`.

/// Deterministic xorshift64* uniforms in [0, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A positive random walk around 100 with some repeated values (flat steps).
pub fn random_walk(n: usize, seed: u64) -> Vec<f64> {
    let mut r = Rng::new(seed);
    let mut x = 100.0;
    (0..n)
        .map(|_| {
            let u = r.uniform();
            if u > 0.1 {
                x *= 1.0 + (r.uniform() - 0.5) * 0.02;
            }
            x
        })
        .collect()
}

/// Random OHLC bars: (open, high, low, close), consistent.
pub fn random_ohlc(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut r = Rng::new(seed);
    let close = random_walk(n, seed + 1000);
    let mut open = Vec::with_capacity(n);
    let (mut high, mut low) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let o = if i == 0 { close[0] } else { close[i - 1] * (1.0 + (r.uniform() - 0.5) * 0.002) };
        let c = close[i];
        open.push(o);
        high.push(o.max(c) * (1.0 + r.uniform() * 0.01));
        low.push(o.min(c) * (1.0 - r.uniform() * 0.01));
    }
    (open, high, low, close)
}

/// Equal NaN positions and values equal to 1e-9 relative (absolute near 0).
#[track_caller]
pub fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() || g.is_nan() {
            assert!(w.is_nan() && g.is_nan(), "index {i}: got {g}, want {w}");
            continue;
        }
        let tol = 1e-9 * w.abs().max(1.0);
        assert!((g - w).abs() <= tol, "index {i}: got {g}, want {w}");
    }
}

fn nan(n: usize) -> Vec<f64> {
    vec![f64::NAN; n]
}

pub fn naive_sma(x: &[f64], p: usize) -> Vec<f64> {
    let mut out = nan(x.len());
    for i in p.saturating_sub(1)..x.len() {
        if i + 1 >= p {
            out[i] = x[i + 1 - p..=i].iter().sum::<f64>() / p as f64;
        }
    }
    out
}

/// EMA with `a*x + (1-a)*prev`, seeded with the mean of the `p` values ending at `first`.
pub fn naive_ema(x: &[f64], p: usize, first: usize) -> Vec<f64> {
    let mut out = nan(x.len());
    if x.len() <= first {
        return out;
    }
    let a = 2.0 / (p as f64 + 1.0);
    let mut prev = x[first + 1 - p..=first].iter().sum::<f64>() / p as f64;
    out[first] = prev;
    for i in first + 1..x.len() {
        prev = a * x[i] + (1.0 - a) * prev;
        out[i] = prev;
    }
    out
}

pub fn naive_wma(x: &[f64], p: usize) -> Vec<f64> {
    let mut out = nan(x.len());
    let denom = (p * (p + 1) / 2) as f64;
    for i in p.saturating_sub(1)..x.len() {
        let w = &x[i + 1 - p..=i];
        out[i] = w.iter().enumerate().map(|(j, v)| (j + 1) as f64 * v).sum::<f64>() / denom;
    }
    out
}

pub fn naive_rsi(x: &[f64], p: usize) -> Vec<f64> {
    let mut out = nan(x.len());
    if x.len() <= p {
        return out;
    }
    let gains: Vec<f64> = (1..x.len()).map(|i| (x[i] - x[i - 1]).max(0.0)).collect();
    let losses: Vec<f64> = (1..x.len()).map(|i| (x[i - 1] - x[i]).max(0.0)).collect();
    let mut g = gains[..p].iter().sum::<f64>() / p as f64;
    let mut l = losses[..p].iter().sum::<f64>() / p as f64;
    let rsi = |g: f64, l: f64| if g + l == 0.0 { 0.0 } else { 100.0 - 100.0 / (1.0 + g / l) };
    let rsi2 = |g: f64, l: f64| if l == 0.0 && g > 0.0 { 100.0 } else { rsi(g, l) };
    out[p] = rsi2(g, l);
    for i in p + 1..x.len() {
        g = (g * (p as f64 - 1.0) + gains[i - 1]) / p as f64;
        l = (l * (p as f64 - 1.0) + losses[i - 1]) / p as f64;
        out[i] = rsi2(g, l);
    }
    out
}

pub fn naive_roc(x: &[f64], p: usize) -> Vec<f64> {
    let mut out = nan(x.len());
    for i in p..x.len() {
        out[i] = if x[i - p] == 0.0 { 0.0 } else { (x[i] - x[i - p]) / x[i - p] * 100.0 };
    }
    out
}

pub fn naive_macd(x: &[f64], fast: usize, slow: usize, signal: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (fast, slow) = (fast.min(slow), fast.max(slow));
    let n = x.len();
    let start = slow - 1;
    let first = start + signal - 1;
    let f = naive_ema(x, fast, start);
    let s = naive_ema(x, slow, start);
    let line: Vec<f64> = (0..n).map(|i| f[i] - s[i]).collect();
    let sig = naive_ema(&line, signal, first);
    let mut l = nan(n);
    let mut h = nan(n);
    for i in first..n {
        l[i] = line[i];
        h[i] = line[i] - sig[i];
    }
    (l, sig, h)
}

pub fn naive_stoch(h: &[f64], l: &[f64], c: &[f64], fk: usize, sk: usize, sd: usize) -> (Vec<f64>, Vec<f64>) {
    let n = c.len();
    let mut fast = nan(n);
    for i in fk - 1..n {
        let hh = h[i + 1 - fk..=i].iter().copied().fold(f64::MIN, f64::max);
        let ll = l[i + 1 - fk..=i].iter().copied().fold(f64::MAX, f64::min);
        fast[i] = if hh == ll { 0.0 } else { (c[i] - ll) / (hh - ll) * 100.0 };
    }
    let mut k = nan(n);
    for i in fk - 1 + sk - 1..n {
        k[i] = fast[i + 1 - sk..=i].iter().sum::<f64>() / sk as f64;
    }
    let first = fk - 1 + sk - 1 + sd - 1;
    let mut d = nan(n);
    for i in first..n {
        d[i] = k[i + 1 - sd..=i].iter().sum::<f64>() / sd as f64;
    }
    for v in k.iter_mut().take(first) {
        *v = f64::NAN;
    }
    (k, d)
}

fn naive_tr(h: &[f64], l: &[f64], c: &[f64], i: usize) -> f64 {
    [h[i] - l[i], (h[i] - c[i - 1]).abs(), (l[i] - c[i - 1]).abs()].into_iter().fold(f64::MIN, f64::max)
}

pub fn naive_atr(h: &[f64], l: &[f64], c: &[f64], p: usize) -> Vec<f64> {
    let n = c.len();
    let mut out = nan(n);
    if n <= p {
        return out;
    }
    let mut a = (1..=p).map(|i| naive_tr(h, l, c, i)).sum::<f64>() / p as f64;
    out[p] = a;
    for i in p + 1..n {
        a = (a * (p as f64 - 1.0) + naive_tr(h, l, c, i)) / p as f64;
        out[i] = a;
    }
    out
}

pub fn naive_adx(h: &[f64], l: &[f64], c: &[f64], p: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = c.len();
    let (mut adx, mut pdi, mut mdi) = (nan(n), nan(n), nan(n));
    let pf = p as f64;
    let (mut sp, mut sm, mut st) = (0.0, 0.0, 0.0);
    let mut dxs = Vec::new();
    for i in 1..n {
        let up = h[i] - h[i - 1];
        let down = l[i - 1] - l[i];
        let pdm = if up > down && up > 0.0 { up } else { 0.0 };
        let mdm = if down > up && down > 0.0 { down } else { 0.0 };
        let tr = naive_tr(h, l, c, i);
        if i < p {
            sp += pdm;
            sm += mdm;
            st += tr;
            continue;
        }
        sp += pdm - sp / pf;
        sm += mdm - sm / pf;
        st += tr - st / pf;
        let (a, b) = if st == 0.0 { (0.0, 0.0) } else { (sp / st * 100.0, sm / st * 100.0) };
        pdi[i] = a;
        mdi[i] = b;
        dxs.push(if a + b == 0.0 { 0.0 } else { (a - b).abs() / (a + b) * 100.0 });
        if dxs.len() == p {
            adx[i] = dxs.iter().sum::<f64>() / pf;
        } else if dxs.len() > p {
            adx[i] = (adx[i - 1] * (pf - 1.0) + dxs[dxs.len() - 1]) / pf;
        }
    }
    (adx, pdi, mdi)
}

pub fn naive_bbands(x: &[f64], p: usize, k: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = x.len();
    let (mut u, mut m, mut lo) = (nan(n), nan(n), nan(n));
    for i in p - 1..n {
        let w = &x[i + 1 - p..=i];
        let mean = w.iter().sum::<f64>() / p as f64;
        let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / p as f64;
        let sd = var.sqrt();
        m[i] = mean;
        u[i] = mean + k * sd;
        lo[i] = mean - k * sd;
    }
    (u, m, lo)
}

pub fn naive_donchian(h: &[f64], l: &[f64], p: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = h.len();
    let (mut u, mut m, mut lo) = (nan(n), nan(n), nan(n));
    for i in p - 1..n {
        let hi = h[i + 1 - p..=i].iter().copied().fold(f64::MIN, f64::max);
        let low = l[i + 1 - p..=i].iter().copied().fold(f64::MAX, f64::min);
        u[i] = hi;
        lo[i] = low;
        m[i] = (hi + low) / 2.0;
    }
    (u, m, lo)
}

pub fn naive_supertrend(h: &[f64], l: &[f64], c: &[f64], p: usize, mult: f64) -> (Vec<f64>, Vec<f64>) {
    let n = c.len();
    let atr = naive_atr(h, l, c, p);
    let (mut line, mut dir) = (nan(n), nan(n));
    let (mut upper, mut lower) = (f64::NAN, f64::NAN);
    for i in p..n {
        let mid = (h[i] + l[i]) / 2.0;
        let (bu, bl) = (mid + mult * atr[i], mid - mult * atr[i]);
        let prev_dir = if i == p { None } else { Some(dir[i - 1]) };
        match prev_dir {
            None => {
                upper = bu;
                lower = bl;
                dir[i] = -1.0;
            }
            Some(d) => {
                if bu < upper || c[i - 1] > upper {
                    upper = bu;
                }
                if bl > lower || c[i - 1] < lower {
                    lower = bl;
                }
                dir[i] = if d < 0.0 {
                    if c[i] > upper { 1.0 } else { -1.0 }
                } else if c[i] < lower {
                    -1.0
                } else {
                    1.0
                };
            }
        }
        line[i] = if dir[i] > 0.0 { lower } else { upper };
    }
    (line, dir)
}
