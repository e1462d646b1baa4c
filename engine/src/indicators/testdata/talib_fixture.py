"""Writes talib_fixture.txt: TA-Lib's outputs on tick-grid OHLC bars, as the
hex bits of each f64, for the bit-for-bit test in engine/src/indicators/mod.rs.

Not part of CI. Made with TA-Lib 0.6.4 (the `ta-lib` 0.6.8 package from PyPI,
which bundles it, and `numpy`), whose C code is TA-Lib's classic one:
    python3 talib_fixture.py > talib_fixture.txt
TA-Lib 0.8 changed a few operations (some divisions by the period became
multiplications by its inverse, WMA's sums are recomputed every 8 x period
bars), so its outputs differ from these in the last bits.
"""

import random
import struct

import numpy as np
import talib


def bars(n, seed):
    """A random walk on a 0.01 tick grid around 100, with flat stretches."""
    rng = random.Random(seed)
    ticks, rows = 10_000, []
    for _ in range(n):
        o = ticks
        if rng.random() < 0.7:
            ticks += rng.randint(-8, 8)
        c = ticks
        h = max(o, c) + rng.randint(0, 4)
        l = min(o, c) - rng.randint(0, 4)
        rows.append((o, h, l, c))
    cols = list(zip(*rows))
    return [np.array([round(t * 0.01, 2) for t in col]) for col in cols]


def line(name, values):
    bits = ("nan" if np.isnan(v) else struct.pack(">d", v).hex() for v in values)
    print(name, " ".join(bits))


o, h, l, c = bars(100, 14)
line("high", h)
line("low", l)
line("close", c)
for p in (2, 5, 14):
    line(f"sma:{p}", talib.SMA(c, p))
    line(f"wma:{p}", talib.WMA(c, p))
    line(f"ema:{p}", talib.EMA(c, p))
    line(f"rsi:{p}", talib.RSI(c, p))
    line(f"roc:{p}", talib.ROC(c, p))
    line(f"atr:{p}", talib.ATR(h, l, c, p))
    a, pdi, mdi = talib.ADX(h, l, c, p), talib.PLUS_DI(h, l, c, p), talib.MINUS_DI(h, l, c, p)
    line(f"adx:{p}", a)
    line(f"adx:{p}.plus_di", pdi)
    line(f"adx:{p}.minus_di", mdi)
    u, m, lo = talib.BBANDS(c, p, 2.0, 2.0, 0)
    line(f"bbands:{p}:2.upper", u)
    line(f"bbands:{p}:2.middle", m)
    line(f"bbands:{p}:2.lower", lo)
for fk, sk, sd in ((5, 3, 3), (14, 1, 4)):
    k, d = talib.STOCH(h, l, c, fk, sk, 0, sd, 0)
    line(f"stoch:{fk}:{sk}:{sd}.k", k)
    line(f"stoch:{fk}:{sk}:{sd}.d", d)
for f, s, g in ((12, 26, 9), (3, 10, 5)):
    m, sig, hist = talib.MACD(c, f, s, g)
    line(f"macd:{f}:{s}:{g}", m)
    line(f"macd:{f}:{s}:{g}.signal", sig)
    line(f"macd:{f}:{s}:{g}.hist", hist)
