#!/usr/bin/env python3
"""Re-derives every reference fixture from goog.csv and signals.json with the
rules written down in README.md, without importing backtesting.py or
vectorbt, and reports the largest relative difference per fixture.

    /var/tmp/bt-ref-venv/bin/python scripts/reference/verify_semantics.py

It is the executable form of the README: a Python model of the two brokers
and of both tools' statistics, small enough to port line by line. Exit status
1 when anything differs by more than 1e-9 (relative, 1e-9 absolute near 0) or
a trade's bars, side or exit reason differ.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "engine" / "tests" / "fixtures" / "reference"
TOL = 1e-9
NAN = float("nan")


# ------------------------------------------------------------------ helpers


def py_floordiv(a: float, b: float) -> float:
    """CPython's float `a // b` (Objects/floatobject.c float_floor_div) for
    a >= 0, b > 0: exact remainder first, so it never rounds a quotient like
    4.9999999999999999 up to 5 the way floor(a / b) can."""
    mod = math.fmod(a, b)
    div = (a - mod) / b
    if div:
        fl = math.floor(div)
        if div - fl > 0.5:
            fl += 1.0
        return fl
    return 0.0


def rel_diff(a, b) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if isinstance(a, str) or isinstance(b, str):
        return 0.0 if a == b else math.inf
    a, b = float(a), float(b)
    if math.isnan(a) and math.isnan(b):
        return 0.0
    d = abs(a - b)
    return d if max(abs(a), abs(b)) < 1.0 else d / max(abs(a), abs(b))


def js(x):
    """The fixture's JSON encoding of a stat."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# --------------------------------------------------------- backtesting.py model


def sim_backtesting(bars, up, down, fx):
    """backtesting.py 0.6.6 `_Broker` with spread 0, commission `fee`
    (relative only), margin 1, trade_on_close False, hedging False,
    exclusive_orders False, default size (_FULL_EQUITY), and the strategy of
    make_fixtures.py."""
    o, h, low, c = bars["Open"], bars["High"], bars["Low"], bars["Close"]
    n = len(c)
    opt = fx["options"]
    fee = opt["commission"]
    finalize = opt["finalize_trades"]
    case = fx["case"]
    stops = fx["profile"]["stops_from"]
    slf = opt.get("sl_fraction")
    tpf = opt.get("tp_fraction")
    warmup = fx["first_trading_bar"]  # first bar where every indicator is non-NaN
    full = 1 - sys.float_info.epsilon  # Strategy._FULL_EQUITY

    cash = opt["cash"]
    trade = None  # dict(size=signed int, entry, entry_bar, sl, tp)
    closed = []
    equity = [NAN] * n
    # Orders placed at the previous bar's close, as backtesting.py queues them:
    # close() at the head, SL at the head, TP and new entries at the tail.
    pending_close = False
    pending_entry = None  # (side, sl, tp)

    def commission(size, price):
        return abs(size) * price * fee  # (fixed 0) + |size| * price * relative

    def close_trade(price, i):
        nonlocal cash, trade
        t = trade
        exit_c = commission(t["size"], price)
        cash += t["size"] * (price - t["entry"]) - exit_c
        comms = exit_c + commission(t["size"], t["entry"])
        pl = t["size"] * (price - t["entry"]) - comms
        side = 1 if t["size"] > 0 else -1
        ret = side * (price / t["entry"] - 1) - comms / (abs(t["size"]) * t["entry"])
        closed.append(
            dict(
                side=side,
                entry_bar=t["entry_bar"],
                exit_bar=i,
                entry_price=t["entry"],
                exit_price=price,
                size=float(abs(t["size"])),
                pnl=pl,
                return_pct=ret,
                fees=comms,
                sl=t["sl"],
                tp=t["tp"],
                exit_reason=t.get("reason"),
            )
        )
        trade = None

    def check_stops(i):
        """SL first (it sits at the queue's head), then TP; a gap through
        the level fills at the open."""
        if trade is None:
            return
        long = trade["size"] > 0
        sl, tp = trade["sl"], trade["tp"]
        if sl is not None and (low[i] <= sl if long else h[i] >= sl):
            trade["reason"] = "stop_loss"
            close_trade(min(o[i], sl) if long else max(o[i], sl), i)
            return
        if tp is not None and (h[i] >= tp if long else low[i] <= tp):
            trade["reason"] = "take_profit"
            close_trade(max(o[i], tp) if long else min(o[i], tp), i)

    def process_bar(i):
        nonlocal pending_close, pending_entry, cash, trade
        if pending_close:
            pending_close = False
            if trade is not None:
                trade["reason"] = trade.get("end_reason", "signal")
                close_trade(o[i], i)
        check_stops(i)
        if pending_entry is not None:
            side, sl, tp = pending_entry
            pending_entry = None
            assert trade is None
            price = o[i]  # market order: this bar's open
            adjusted = price * (1 + math.copysign(0.0, side))  # spread 0
            per_unit = adjusted + (full * price * fee) / full  # commission / |order.size|
            margin_available = max(0.0, cash)  # no open trade here
            size = int(py_floordiv(margin_available * 1.0 * full, per_unit))
            assert size > 0 and size * per_unit <= margin_available
            trade = dict(size=side * size, entry=adjusted, entry_bar=i, sl=None, tp=None)
            cash -= commission(size, adjusted)
            if sl is not None or tp is not None:
                trade["sl"], trade["tp"] = sl, tp
                check_stops(i)  # bracket orders are re-processed in the same bar

    def mark(i):
        if trade is None:
            return cash
        return cash + (c[i] * trade["size"] - trade["size"] * trade["entry"])

    start = 1 + warmup
    for i in range(start, n):
        process_bar(i)
        equity[i] = mark(i)
        # Strategy.next() at bar i's close
        if stops == "next_bar" and trade is not None and trade["sl"] is None and trade["tp"] is None:
            trade["sl"] = trade["entry"] * (1 - slf)
            trade["tp"] = trade["entry"] * (1 + tpf)
        if case == "long_short":
            if up[i] or down[i]:
                pending_close = trade is not None
                pending_entry = (1 if up[i] else -1, None, None)
        else:
            if up[i] and trade is None:
                if stops == "entry_bar" and i + 1 < n:
                    pending_entry = (1, o[i + 1] * (1 - slf), o[i + 1] * (1 + tpf))
                else:
                    pending_entry = (1, None, None)
            elif down[i] and trade is not None:
                pending_close = True
    if finalize:
        # trade.close() for every open trade, then broker.next() once more on
        # the last bar: the close fills at the LAST BAR'S OPEN.
        if trade is not None:
            pending_close = True
            trade["end_reason"] = "end"
        process_bar(n - 1)
        equity[n - 1] = mark(n - 1)
    equity = pd.Series(equity).bfill().fillna(cash).to_numpy()
    open_trades = []
    if trade is not None:
        open_trades.append(dict(entry_bar=trade["entry_bar"], size=abs(trade["size"]), entry_price=trade["entry"]))
    return closed, open_trades, equity


def backtesting_stats(bars, index, trades, equity, warmup):
    """backtesting/_stats.py compute_stats(), risk_free_rate 0."""
    c = bars["Close"]
    n = len(equity)
    s = {}
    s["Start"] = index[0].strftime("%Y-%m-%d")
    s["End"] = index[-1].strftime("%Y-%m-%d")
    s["Duration"] = (index[-1] - index[0]) / pd.Timedelta(days=1)
    have = np.zeros(n, dtype=int)
    for t in trades:
        have[t["entry_bar"] : t["exit_bar"] + 1] = 1
    s["Exposure Time [%]"] = have.mean() * 100
    s["Equity Final [$]"] = equity[-1]
    s["Equity Peak [$]"] = equity.max()
    comm = sum(t["fees"] for t in trades)
    if comm:
        s["Commissions [$]"] = comm
    s["Return [%]"] = (equity[-1] - equity[0]) / equity[0] * 100
    s["Buy & Hold Return [%]"] = (c[-1] - c[warmup]) / c[warmup] * 100
    # Daily returns: equity resampled to calendar days (last), empty days
    # dropped, then simple returns; with one bar per day = bar-to-bar returns.
    eq = pd.Series(equity, index=index)
    day_returns = eq.resample("D").last().dropna().pct_change().dropna()
    r = day_returns.to_numpy()
    weekend_share = np.isin(index.day_of_week, [5, 6]).mean()
    periods = 365 if weekend_share > 2 / 7 * 0.6 else 252  # 52/12/1 for weekly/monthly/yearly data
    g = 0.0 if np.any(1 + r <= 0) else math.exp(np.log(1 + r).sum() / len(r)) - 1
    ann = (1 + g) ** periods - 1
    s["Return (Ann.) [%]"] = ann * 100
    var = day_returns.var(ddof=1)
    s["Volatility (Ann.) [%]"] = math.sqrt((var + (1 + g) ** 2) ** periods - (1 + g) ** (2 * periods)) * 100
    years = s["Duration"] / 365.25
    s["CAGR [%]"] = ((equity[-1] / equity[0]) ** (1 / years) - 1) * 100
    s["Sharpe Ratio"] = s["Return (Ann.) [%]"] / s["Volatility (Ann.) [%]"]
    s["Sortino Ratio"] = ann / (math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(periods))
    dd = 1 - equity / np.maximum.accumulate(equity)
    max_dd = dd.max()
    s["Calmar Ratio"] = ann / max_dd
    eq_log = np.log(equity[1:] / equity[:-1])
    mkt_log = np.log(c[1:] / c[:-1])
    cov = np.cov(eq_log, mkt_log)
    beta = cov[0, 1] / cov[1, 1]
    s["Alpha [%]"] = s["Return [%]"] - beta * s["Buy & Hold Return [%]"]
    s["Beta"] = beta
    s["Max. Drawdown [%]"] = -max_dd * 100
    # Drawdown episodes: between consecutive bars with dd == 0 (plus the last
    # bar) that are more than one bar apart; duration in calendar time from
    # the previous zero bar to the closing one; depth the max dd between.
    zeros = sorted(set(np.flatnonzero(dd == 0).tolist()) | {n - 1})
    durs, peaks = [], []
    for prev, cur in zip(zeros, zeros[1:]):
        if cur > prev + 1:
            durs.append((index[cur] - index[prev]) / pd.Timedelta(days=1))
            peaks.append(dd[prev : cur + 1].max())
    s["Avg. Drawdown [%]"] = -np.mean(peaks) * 100
    s["Max. Drawdown Duration"] = math.ceil(max(durs))  # Timedelta.ceil('D')
    s["Avg. Drawdown Duration"] = math.ceil(np.mean(durs))
    ntr = len(trades)
    s["# Trades"] = ntr
    pl = np.array([t["pnl"] for t in trades])
    rets = np.array([t["return_pct"] for t in trades])
    durations = np.array([(index[t["exit_bar"]] - index[t["entry_bar"]]) / pd.Timedelta(days=1) for t in trades])
    win_rate = (pl > 0).mean()
    s["Win Rate [%]"] = win_rate * 100
    s["Best Trade [%]"] = rets.max() * 100
    s["Worst Trade [%]"] = rets.min() * 100
    gm = 0.0 if np.any(1 + rets <= 0) else math.exp(np.log(1 + rets).sum() / len(rets)) - 1
    s["Avg. Trade [%]"] = gm * 100
    s["Max. Trade Duration"] = math.ceil(durations.max())
    s["Avg. Trade Duration"] = math.ceil(durations.mean())
    s["Profit Factor"] = rets[rets > 0].sum() / abs(rets[rets < 0].sum())
    s["Expectancy [%]"] = rets.mean() * 100
    s["SQN"] = math.sqrt(ntr) * pl.mean() / pl.std(ddof=1)
    s["Kelly Criterion"] = win_rate - (1 - win_rate) / (pl[pl > 0].mean() / -pl[pl < 0].mean())
    return s


# --------------------------------------------------------------- vectorbt model


def _is_close(a, b, rel=1e-9, abs_=1e-12):
    if a == b:
        return True
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def add_nb(a, b):
    """vectorbt's addition that snaps to 0.0 within 1e-9 relative."""
    if np.sign(a) != np.sign(b):
        if _is_close(abs(a), abs(b)):
            return 0.0
    elif _is_close(a + b, 0.0):
        return 0.0
    return a + b


def sim_vectorbt(bars, up, down, fx):
    """Portfolio.from_signals(close, entries=up shifted 1, exits=down shifted
    1, price=open, open/high/low, size=inf, fees, init_cash, sl/tp with
    stop_entry_price='fillprice', stop_exit_price='stoplimit'); order records
    out."""
    o, h, low, c = bars["Open"], bars["High"], bars["Low"], bars["Close"]
    n = len(c)
    opt = fx["options"]
    f = opt["fees"]
    both = opt["direction"] == "both"
    slf = opt.get("sl_stop", NAN)
    tpf = opt.get("tp_stop", NAN)
    entries = np.r_[False, up[:-1]]
    exits = np.r_[False, down[:-1]]
    cash = free = opt["init_cash"]
    pos = debt = 0.0
    init_price = NAN  # stop reference: the fill price of the opening order
    orders = []  # (bar, size, price, fees, side +1 buy / -1 sell)

    def buy_all(i, p):  # size = inf: every unit of cash, the fee inside
        nonlocal cash, free, pos, debt
        max_req = cash / (1 + f)
        size = max_req / p
        fees = cash - max_req
        req = cash
        if pos < 0:
            short = abs(pos) if add_nb(pos, size) >= 0 else size
            debt_diff = short * (debt / abs(pos))
            debt = add_nb(debt, -debt_diff)
            free = add_nb(free + 2 * debt_diff, -req)
        else:
            free = add_nb(free, -req)
        cash = add_nb(cash, -req)
        pos = add_nb(pos, size)
        orders.append((i, size, p, fees, 1))

    def sell(i, p, size):
        nonlocal cash, free, pos, debt
        acq = size * p
        fees = acq * f
        final = add_nb(acq, -fees)
        new_pos = add_nb(pos, -size)
        if new_pos < 0:
            short = size if pos < 0 else abs(new_pos)
            value = short * p
            debt = debt + value
            free = add_nb(free, add_nb(final, -2 * value))
        else:
            free = free + final
        cash = cash + final
        pos = new_pos
        orders.append((i, size, p, fees, -1))

    def sell_all(i, p):  # size = -inf, direction both: close the long, short with the rest
        long_size = max(pos, 0.0)
        total_free = add_nb(free, long_size * p * (1 - f))
        max_short = total_free / (p * (1 + f))
        sell(i, p, add_nb(long_size, max_short))

    for i in range(n):
        stop_price = NAN
        if pos != 0 and not math.isnan(init_price):
            if not math.isnan(slf):
                lvl = init_price * (1 - slf) if pos > 0 else init_price * (1 + slf)
                if (pos > 0 and o[i] <= lvl) or (pos < 0 and lvl <= o[i]):
                    stop_price = o[i]
                elif low[i] <= lvl <= h[i]:
                    stop_price = lvl
            if math.isnan(stop_price) and not math.isnan(tpf):
                lvl = init_price * (1 + tpf) if pos > 0 else init_price * (1 - tpf)
                if (pos > 0 and lvl <= o[i]) or (pos < 0 and o[i] <= lvl):
                    stop_price = o[i]
                elif low[i] <= lvl <= h[i]:
                    stop_price = lvl
        before = pos
        if not math.isnan(stop_price):  # a stop exit replaces the bar's signals
            assert pos > 0
            sell(i, stop_price, pos)
        else:
            p = o[i]
            if both:
                if entries[i] and pos <= 0:
                    buy_all(i, p)
                elif exits[i] and pos >= 0:
                    sell_all(i, p)
            else:
                if entries[i] and pos == 0:
                    buy_all(i, p)
                elif exits[i] and pos > 0:
                    sell(i, p, pos)
        if pos != before:
            if pos == 0:
                init_price = NAN
            elif before == 0 or np.sign(pos) != np.sign(before):
                init_price = orders[-1][2]
    # pf.value(): init cash + cumulative cash flow (per order -size*price -
    # fees, signed size), plus assets * close.
    flow = np.zeros(n)
    assets_flow = np.zeros(n)
    p_now = 0.0
    for i, size, p, fees, side in orders:
        flow[i] = add_nb(flow[i], -(side * size) * p - fees)
        new = add_nb(p_now, side * size)
        assets_flow[i] = add_nb(assets_flow[i], side * size)
        p_now = new
    cash_s = np.empty(n)
    assets = np.empty(n)
    cur, a = opt["init_cash"], 0.0
    for i in range(n):
        cur = add_nb(cur, flow[i])
        a = add_nb(a, assets_flow[i])
        cash_s[i], assets[i] = cur, a
    equity = cash_s + assets * c
    return orders, equity, assets


def vectorbt_trades(orders, close):
    """get_exit_trades_nb: one trade per exit; a reversal order is split into
    the closing part (fees pro rata) and the opening part."""
    trades = []
    in_pos = False
    for i, size, p, fees, side in orders:
        if not in_pos:
            in_pos = True
            entry_idx, direction = i, side
            e_size = e_gross = e_fees = 0.0
        if side == direction:
            e_size += size
            e_gross += size * p
            e_fees += fees
        elif _is_close(size, e_size) or size < e_size:
            exit_size = e_size if _is_close(size, e_size) else size
            trades.append(_trade(exit_size, entry_idx, e_gross / e_size, exit_size / e_size * e_fees, i, p, fees, direction, True))
            assert _is_close(size, e_size)
            in_pos = False
        else:  # reversal
            cl = e_size
            cl_fees = cl / size * fees
            trades.append(_trade(cl, entry_idx, e_gross / e_size, cl / e_size * e_fees, i, p, cl_fees, direction, True))
            e_size = size - cl
            e_gross = e_size * p
            e_fees = fees - cl_fees
            entry_idx, direction = i, side
    if in_pos and -e_size < 0 and not _is_close(-e_size, 0):
        n = len(close)
        trades.append(_trade(e_size, entry_idx, e_gross / e_size, e_fees, n - 1, close[-1], 0.0, direction, False))
    return trades


def _trade(size, entry_idx, entry_price, entry_fees, exit_idx, exit_price, exit_fees, direction, closed):
    diff = add_nb(size * exit_price, -(size * entry_price))
    if diff != 0 and direction < 0:
        diff *= -1
    pnl = diff - entry_fees - exit_fees
    return dict(
        side=direction,
        entry_bar=entry_idx,
        exit_bar=exit_idx,
        entry_price=entry_price,
        exit_price=exit_price,
        size=size,
        pnl=pnl,
        return_pct=pnl / (size * entry_price),
        entry_fees=entry_fees,
        exit_fees=exit_fees,
        closed=closed,
    )


def vectorbt_stats(bars, index, orders, trades, equity, cash_free_fn, assets, init_cash):
    c = bars["Close"]
    n = len(c)
    s = {}
    s["Start"] = index[0].strftime("%Y-%m-%d")
    s["End"] = index[-1].strftime("%Y-%m-%d")
    s["Period"] = float(n)  # bars x freq (1D)
    s["Start Value"] = init_cash
    cash_end, assets_end = 0.0, 0.0
    for i, size, p, fees, side in orders:  # total_profit_nb
        assets_end = add_nb(assets_end, side * size)
        cash_end = add_nb(cash_end, -(side * size * p + fees) if side > 0 else size * p - fees)
    profit = cash_end + assets_end * c[-1]
    s["End Value"] = profit + init_cash
    s["Total Return [%]"] = profit / init_cash * 100
    bench = c / c[0] * init_cash
    br = np.r_[(bench[0] - init_cash) / init_cash, np.diff(bench) / bench[:-1]]
    s["Benchmark Return [%]"] = (np.prod(br + 1) - 1) * 100
    av = np.abs(assets * c)
    free = cash_free_fn()
    denom = av + free
    s["Max Gross Exposure [%]"] = np.max(np.where(denom == 0, 0.0, av / denom)) * 100
    s["Total Fees Paid"] = sum(o[3] for o in orders)
    # Drawdown records on the value series (get_drawdowns_nb).
    dds = []
    peak_i, peak_v, valley_v, started = 0, equity[0], NAN, False
    for i, v in enumerate(equity):
        if v >= peak_v:
            if started:
                dds.append((peak_i, i, peak_v, valley_v, "recovered"))
                started = False
            peak_i, peak_v = i, v
        else:
            if not started:
                started, valley_v = True, v
            elif v < valley_v:
                valley_v = v
        if i == n - 1 and started:
            dds.append((peak_i, i, peak_v, valley_v, "active"))
    s["Max Drawdown [%]"] = -min((vv - pv) / pv for _, _, pv, vv, _ in dds) * 100
    # duration = end_idx - start_idx (+1 while active), start_idx = peak + 1
    s["Max Drawdown Duration"] = float(max(e - (p + 1) + (1 if st == "active" else 0) for p, e, _, _, st in dds))
    closed = [t for t in trades if t["closed"]]
    opened = [t for t in trades if not t["closed"]]
    s["Total Trades"] = len(trades)
    s["Total Closed Trades"] = len(closed)
    s["Total Open Trades"] = len(opened)
    s["Open Trade PnL"] = sum(t["pnl"] for t in opened)
    pnl = np.array([t["pnl"] for t in closed])
    ret = np.array([t["return_pct"] for t in closed])
    dur = np.array([t["exit_bar"] - t["entry_bar"] for t in closed], dtype=float)
    win, lose = pnl > 0, pnl < 0
    s["Win Rate [%]"] = win.sum() / len(closed) * 100
    s["Best Trade [%]"] = ret.max() * 100
    s["Worst Trade [%]"] = ret.min() * 100
    s["Avg Winning Trade [%]"] = ret[win].mean() * 100
    s["Avg Losing Trade [%]"] = ret[lose].mean() * 100
    s["Avg Winning Trade Duration"] = dur[win].mean()
    s["Avg Losing Trade Duration"] = dur[lose].mean()
    s["Profit Factor"] = pnl[win].sum() / abs(pnl[lose].sum())
    wr = win.sum() / len(closed)
    loss_rate = (len(closed) - win.sum() - (pnl == 0).sum()) / len(closed)
    s["Expectancy"] = wr * pnl[win].mean() - loss_rate * abs(pnl[lose].mean())
    r = np.r_[(equity[0] - init_cash) / init_cash, np.diff(equity) / equity[:-1]]
    ann = 365.0  # year_freq '365 days' / freq '1D'
    s["Sharpe Ratio"] = r.mean() / r.std(ddof=1) * math.sqrt(ann)
    mdd = -s["Max Drawdown [%]"] / 100
    # calmar uses max drawdown of cumulated returns (same series)
    ann_ret = np.prod(r + 1) ** (ann / n) - 1
    s["Calmar Ratio"] = ann_ret / abs(mdd)
    s["Omega Ratio"] = r[r > 0].sum() / -r[r < 0].sum()
    down = np.minimum(r, 0)
    s["Sortino Ratio"] = r.mean() * ann / (math.sqrt(np.mean(down**2)) * math.sqrt(ann))
    return s


# ------------------------------------------------------------------------ main


def compare(name, fx, trades, open_trades, equity, stats, trade_keys):
    worst = 0.0
    where = ""
    ok = True
    if len(trades) != len(fx["trades"]):
        print(f"  {name}: {len(trades)} trades, fixture has {len(fx['trades'])}")
        return False, math.inf
    for k, (a, b) in enumerate(zip(trades, fx["trades"])):
        for key in ("side", "entry_bar", "exit_bar", "exit_reason"):
            if key in a and a[key] != b[key]:
                print(f"  {name}: trade {k} {key} {a[key]} != {b[key]}")
                ok = False
        for key in trade_keys:
            d = rel_diff(a[key], b[key])
            if d > worst:
                worst, where = d, f"trade {k} {key}"
    if len(open_trades) != len(fx["open_trades"]):
        print(f"  {name}: {len(open_trades)} open trades, fixture has {len(fx['open_trades'])}")
        ok = False
    for i, (a, b) in enumerate(zip(equity, fx["equity"])):
        d = rel_diff(a, b)
        if d > worst:
            worst, where = d, f"equity[{i}]"
    if set(stats) != set(fx["stats"]):
        print(f"  {name}: stat names differ: {set(stats) ^ set(fx['stats'])}")
        ok = False
    for k, v in stats.items():
        d = rel_diff(js(v) if not isinstance(v, str) else v, fx["stats"].get(k))
        if d > worst:
            worst, where = d, f"stat {k!r} ({v} vs {fx['stats'].get(k)})"
    if worst > TOL:
        ok = False
    print(f"  {name:42s} {'ok  ' if ok else 'FAIL'} max rel diff {worst:.3g} at {where or '-'}")
    return ok, worst


def main() -> int:
    df = pd.read_csv(FIX / "goog.csv", index_col="Date", parse_dates=True)
    bars = {k: df[k].to_numpy(dtype=np.float64) for k in ("Open", "High", "Low", "Close")}
    index = df.index
    sig = json.loads((FIX / "signals.json").read_text())
    n = len(df)
    up = np.zeros(n, dtype=bool)
    down = np.zeros(n, dtype=bool)
    up[sig["cross_up"]] = True
    down[sig["cross_down"]] = True
    all_ok = True
    for path in sorted(FIX.glob("*.json")):
        if path.name == "signals.json":
            continue
        fx = json.loads(path.read_text())
        if fx["tool"].startswith("backtesting.py"):
            closed, open_t, equity = sim_backtesting(bars, up, down, fx)
            stats = backtesting_stats(bars, index, closed, equity, fx["first_trading_bar"])
            keys = ("entry_price", "exit_price", "size", "pnl", "return_pct", "fees")
            ok, _ = compare(path.name, fx, closed, open_t, equity, stats, keys)
        else:
            orders, equity, assets = sim_vectorbt(bars, up, down, fx)
            trades = vectorbt_trades(orders, bars["Close"])

            def free_cash():
                out = np.empty(n)
                cur, pos, debt = fx["options"]["init_cash"], 0.0, 0.0
                k = 0
                for i in range(n):
                    while k < len(orders) and orders[k][0] == i:
                        _, size, p, fees, side = orders[k]
                        new = add_nb(pos, side * size)
                        sz = add_nb(new, -pos)
                        final = -sz * p - fees
                        if sz > 0 and pos < 0:
                            short = abs(sz) if new < 0 else abs(pos)
                            dd = short * (debt / abs(pos))
                            debt = add_nb(debt, -dd)
                            diff = add_nb(2 * dd, final)
                        elif sz < 0 and new < 0:
                            short = abs(sz) if pos < 0 else abs(new)
                            debt = debt + short * p
                            diff = add_nb(final, -2 * short * p)
                        else:
                            diff = final
                        cur = add_nb(cur, diff)
                        pos = new
                        k += 1
                    out[i] = cur
                return out

            stats = vectorbt_stats(bars, index, orders, trades, equity, free_cash, assets, fx["options"]["init_cash"])
            closed = [t for t in trades if t["closed"]]
            opened = [t for t in trades if not t["closed"]]
            # exit reasons: stops first, then signals (see README)
            for t in closed:
                t["exit_reason"] = _vbt_reason(t, bars, fx)
            keys = ("entry_price", "exit_price", "size", "pnl", "return_pct", "entry_fees", "exit_fees")
            ok, _ = compare(path.name, fx, closed, opened, equity, stats, keys)
            for a, b in zip(opened, fx["open_trades"]):
                for key in keys + ("entry_bar", "exit_bar"):
                    if rel_diff(a[key], b[key]) > TOL:
                        print(f"  {path.name}: open trade {key} {a[key]} != {b[key]}")
                        ok = False
        all_ok &= ok
    print("all fixtures re-derived within 1e-9" if all_ok else "DIFFERENCES")
    return 0 if all_ok else 1


def _vbt_reason(t, bars, fx):
    o, h, low = bars["Open"][t["exit_bar"]], bars["High"][t["exit_bar"]], bars["Low"][t["exit_bar"]]
    slf = fx["options"].get("sl_stop")
    tpf = fx["options"].get("tp_stop")
    if slf is not None:
        lvl = t["entry_price"] * (1 - slf)
        if o <= lvl or low <= lvl <= h:
            return "stop_loss"
        lvl = t["entry_price"] * (1 + tpf)
        if lvl <= o or low <= lvl <= h:
            return "take_profit"
    return "signal"


if __name__ == "__main__":
    sys.exit(main())
