// bt report: draws the bundle's data (the JSON in #bt-data, written by bt)
// with the chart functions of charts.js. Everything here works offline.
"use strict";

(() => {
  const t0 = performance.now();
  BT.catchErrors();
  const D = JSON.parse(document.getElementById("bt-data").textContent);
  const { el, fmt, fmtMetric } = BT;
  const $ = id => document.getElementById(id);
  const metricIndex = Object.fromEntries(D.metrics.map((m, i) => [m.name, i]));
  const axes = D.axes;
  const varying = axes.map((a, i) => i).filter(i => axes[i].labels.length > 1);

  /** Variant n's level on axis a (the variant number's digit). */
  const level = (n, a) => Math.floor(n / axes[a].stride) % axes[a].labels.length;
  const params = n => varying.map(a => `${axes[a].name}=${axes[a].labels[level(n, a)]}`).join(" ");

  $("source").textContent = `${D.source} · bt ${D.version}`;

  // ------------------------------------------------------------- summary
  const b = D.bundle;
  const facts = el("table", { class: "facts" }, $("facts"));
  const fact = (k, v) => { const tr = el("tr", {}, facts); el("td", {}, tr, k); el("td", {}, tr, v); };
  fact("name", b.name || "(unnamed)");
  fact("variants", `${fmt(b.variants)}` + (b.results !== b.variants ? ` (${fmt(b.results)} with results)` : ""));
  fact("run time", b.run_seconds === null ? "not recorded" : `${fmt(b.run_seconds, 3)} s`);
  for (const d of b.datasets) {
    fact(`${d.ticker}/${d.timeframe}`,
         (d.bars === null ? "" : `${fmt(d.bars)} bars, `) + (d.first ? `${d.first} to ${d.last}, ` : "") + `annualization ${d.annualization}`);
  }
  fact("strategy", b.strategy);
  for (const [rule, text] of b.rules) fact(rule, text);
  for (const a of varying) {
    const ax = axes[a];
    const shown = ax.labels.length > 12 ? ax.labels.slice(0, 5).concat(["…"], ax.labels.slice(-5)) : ax.labels;
    fact(`grid ${ax.name}`, `${shown.join(", ")} (${fmt(ax.labels.length)} values)`);
  }
  fact("fixed", axes.filter(a => a.labels.length === 1).map(a => `${a.name}=${a.labels[0]}`).join(", "));
  fact("money", `initial balance ${fmt(b.initial_balance)}, fee ${fmt(b.fee_bps)} bps, slippage ${fmt(b.slippage_bps)} bps`);
  fact("annualization", b.annualization);
  fact("execution", b.execution);

  // ------------------------------------------------------------- a picked variant
  const topRows = D.top.rows;
  const topByVariant = new Map(topRows.map(r => [r[0], r]));
  function pick(n, note) {
    const p = $("picked");
    BT.clear(p);
    if (D.focus && n === D.focus.variant) {
      el("span", {}, p, `variant ${n}: ${params(n)} (shown in detail below) `);
      $("focus-section").scrollIntoView({ behavior: "smooth" });
      return;
    }
    el("b", {}, p, `variant ${n}`);
    el("span", {}, p, `: ${params(n)}. ${note || ""} `);
    const row = topByVariant.get(n);
    if (row) el("span", {}, p, D.metrics.map((m, i) => `${m.name} ${fmtMetric(m.name, row[i + 1])}`).join(", ") + ". ");
    el("span", {}, p, "Its trades and curves: ");
    el("code", {}, p, `bt report … --variant ${n}`);
  }

  // ------------------------------------------------------------- heatmap
  const pairs = new Map(D.heatmap.pairs.map(p => [`${p.x},${p.y}`, p]));
  const decoded = new Map();
  const arr = (p, key, metric, Type) => {
    const k = `${p.x},${p.y},${metric},${key}`;
    if (!decoded.has(k)) decoded.set(k, BT.decode(metric ? p.metrics[metric][key] : p[key], Type));
    return decoded.get(k);
  };
  const controls = $("heatmap-controls");
  const select = (label, options, value) => {
    const l = el("label", {}, controls, label + " ");
    const s = el("select", { id: "pick-" + label.replace(/\W/g, "") }, l);
    for (const [v, text] of options) el("option", { value: v }, s, text);
    s.value = value;
    s.addEventListener("change", drawAll);
    return s;
  };
  // Default axes: the first two varying strategy parameters, else the first two varying.
  const strategyAxes = varying.filter(a => axes[a].kind === "strategy");
  const defaults = strategyAxes.length >= 2 ? strategyAxes : varying;
  const axisOptions = varying.map(a => [a, axes[a].name]);
  const selX = select("x", axisOptions, defaults[0]);
  const selY = select("y", axisOptions, defaults[1] !== undefined ? defaults[1] : defaults[0]);
  const selM = select("metric", D.metrics.map(m => [m.name, m.name]), D.metric);
  const selA = select("aggregate", [["max", "max"], ["median", "median"]], "max");
  el("span", { class: "muted" }, controls, "over the other parameters; hover for values, click a cell to open its best variant");

  function drawHeatmap() {
    const host = $("heatmap");
    const x = +selX.value, y = +selY.value, metric = selM.value, agg = selA.value;
    const m = D.metrics[metricIndex[metric]];
    if (varying.length < 2) {
      BT.clear(host);
      el("p", { class: "muted" }, host, "A heatmap needs two parameters with more than one value.");
      return;
    }
    if (x === y) {
      BT.clear(host);
      el("p", { class: "muted" }, host, "Pick two different parameters.");
      return;
    }
    const p = pairs.get(`${Math.min(x, y)},${Math.max(x, y)}`);
    const swap = x > y;
    const count = arr(p, "count", null, Uint32Array);
    const vals = arr(p, agg, metric, Float32Array);
    const best = arr(p, "best", metric, Uint32Array);
    // Cells are stored y-major over the pair's (x, y) = (lower, higher) axis.
    const at = (ix, iy) => (swap ? ix * p.nx + iy : iy * p.nx + ix);
    const xl = swap ? p.y_labels : p.x_labels, yl = swap ? p.x_labels : p.y_labels;
    BT.heatmap(host, {
      xName: axes[x].name, yName: axes[y].name, xLabels: xl, yLabels: yl, metric: `${agg} ${metric}`, better: m.better,
      value: (ix, iy) => vals[at(ix, iy)],
      tip: (ix, iy) => {
        const k = at(ix, iy), bv = best[k];
        return `${BT.esc(axes[x].name)} ${BT.esc(xl[ix])}, ${BT.esc(axes[y].name)} ${BT.esc(yl[iy])}<br>` +
               `${agg} ${BT.esc(metric)}: <b>${fmtMetric(metric, vals[k])}</b><br>${fmt(count[k])} variants` +
               (bv === 0xffffffff ? "" : `<br>best: variant ${bv}`);
      },
      onClick: (ix, iy) => {
        const bv = best[at(ix, iy)];
        if (bv !== 0xffffffff) pick(bv, `The best ${metric} of the cell ${axes[x].name}=${xl[ix]}, ${axes[y].name}=${yl[iy]}.`);
      },
    });
    $("heatmap").dataset.cells = p.nx * p.ny;
    $("heatmap").dataset.pairs = `${axes[x].name}x${axes[y].name}`;
  }

  // ------------------------------------------------------------- scatter, histogram
  function drawScatter() {
    const s = D.scatter;
    const bx = BT.decode(s.bx, Uint32Array), by = BT.decode(s.by, Uint32Array);
    const count = BT.decode(s.count, Uint32Array), best = BT.decode(s.best, Uint32Array);
    const bins = Array.from(bx, (v, i) => ({ bx: v, by: by[i], count: count[i], best: best[i] }));
    BT.density($("scatter"), {
      xLabel: s.x, yLabel: s.y, xRange: s.x_range, yRange: s.y_range, nx: s.nx, ny: s.ny, bins, excluded: s.excluded,
      onClick: n => pick(n, `The best ${s.y} of its bin.`),
    });
  }

  function drawHistogram() {
    const metric = selM.value, h = D.histograms[metric];
    BT.histogram($("histogram"), { min: h.min, max: h.max, counts: h.counts, label: metric, nonFinite: h.non_finite });
  }

  // ------------------------------------------------------------- top table
  function drawTop() {
    const metric = selM.value;
    const shown = [...new Set([metric, "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "trades", "win_rate", "profit_factor", "exposure"])]
      .filter(n => n in metricIndex);
    const columns = [{ label: "variant", value: r => r[0], text: r => String(r[0]), num: true }]
      .concat(varying.map(a => ({ label: axes[a].name, value: r => level(r[0], a), text: r => axes[a].labels[level(r[0], a)] })))
      .concat(shown.map(n => ({
        label: n, num: true, about: D.metrics[metricIndex[n]].about, better: D.metrics[metricIndex[n]].better,
        value: r => r[metricIndex[n] + 1], text: r => fmtMetric(n, r[metricIndex[n] + 1]),
      })));
    BT.table($("top"), {
      columns, rows: topRows, sortBy: 1 + varying.length, descending: D.metrics[metricIndex[metric]].better !== "lower",
      limit: D.top.per_metric, onRow: r => pick(r[0], ""),
    });
    $("top-note").textContent = `The first ${D.top.per_metric} by the column clicked (of the ${fmt(topRows.length)} variants ` +
      `that are among the first ${D.top.per_metric} of some metric). Click a row for its parameters.`;
  }

  // ------------------------------------------------------------- the variant in detail
  function drawFocus() {
    const f = D.focus;
    if (!f) {
      $("focus-title").textContent = "No variant in detail";
      return;
    }
    $("focus-title").textContent = `Variant ${f.variant} (${f.why})`;
    const box = $("focus-facts");
    el("p", {}, box, `${f.dataset} · ${f.strategy} · ${params(f.variant)}`);
    for (const [rule, text] of f.rules) el("p", { class: "muted" }, box, `${rule}: ${text}`);
    const grid = el("div", { class: "metrics" }, box);
    D.metrics.forEach((m, i) => {
      const d = el("div", { title: m.about }, grid);
      el("span", {}, d, m.name);
      el("b", {}, d, fmtMetric(m.name, f.metrics[i]));
    });
    el("p", { class: "muted" }, box,
       `annualization ${f.annualization}; ${fmt(f.bars)} bars drawn in ${fmt(f.columns)} columns` +
       (f.columns < f.bars ? " (each column's low and high kept, so no spike is lost)" : "") +
       (f.open_position ? "; a position was open at the end" : "") + (f.liquidated ? "; liquidated" : ""));
    const n = f.ts.length;
    const hold = f.close.map(c => (c === null ? null : (f.initial_balance * c) / f.first_close));
    const trades = f.trades;
    const markers = [], levels = [];
    for (const t of trades) {
      const [side, ets, ep, xts, xp] = t;
      markers.push({ x: ets, y: ep, kind: side > 0 ? "entry-long" : "entry-short" });
      if (t[8] !== "open") markers.push({ x: xts, y: xp, kind: "exit" });
      if (f.stop_loss) levels.push({ x0: ets, x1: xts, y: ep * (1 - side * f.stop_loss), cls: "stop" });
      if (f.take_profit) levels.push({ x0: ets, x1: xts, y: ep * (1 + side * f.take_profit), cls: "target" });
    }
    const few = n <= 300 && f.columns === f.bars;
    const price = few
      ? [{ kind: "candles", open: f.open, high: f.high, low: f.low, close: f.close }]
      : [{ kind: "band", lo: f.low, hi: f.high, cls: "price" }, { kind: "line", y: f.close, cls: "price" }];
    BT.curves($("curves"), {
      x: f.ts,
      panels: [
        { name: "equity", label: "equity (blue) and buy-and-hold (grey)", height: 220, series: [
          { kind: "band", lo: f.eq_min, hi: f.eq_max, cls: "equity" },
          { kind: "line", y: hold, cls: "hold" },
          { kind: "line", y: f.eq_last, cls: "equity" }] },
        { name: "drawdown", label: "drawdown", height: 90, series: [{ kind: "area", y: f.dd_min, base: 0, cls: "drawdown" }] },
        { name: "price", label: `price (${few ? "candles" : "close; band: each column's low to high"}), entries ▲▼, exits ×, stop and target levels`,
          height: 260, series: price.concat([{ kind: "levels", items: levels }, { kind: "markers", points: markers }]) },
      ],
      hover: k => `equity ${fmt(f.eq_last[k])} (low ${fmt(f.eq_min[k])}, high ${fmt(f.eq_max[k])})<br>` +
                  `drawdown ${fmt(f.dd_min[k] * 100)} %<br>close ${fmt(f.close[k])} (low ${fmt(f.low[k])}, high ${fmt(f.high[k])})`,
    });
    $("curves").dataset.markers = markers.length;
    const cols = [
      { label: "#", value: r => r.i, num: true },
      { label: "side", value: r => r.t[0], text: r => (r.t[0] > 0 ? "long" : "short") },
      { label: "entry", value: r => r.t[1], text: r => BT.timeText(r.t[1], true) },
      { label: "entry price", value: r => r.t[2], num: true },
      { label: "exit", value: r => r.t[3], text: r => BT.timeText(r.t[3], true) },
      { label: "exit price", value: r => r.t[4], num: true },
      { label: "quantity", value: r => r.t[5], num: true },
      { label: "pnl", value: r => r.t[6], num: true },
      { label: "return on margin", value: r => r.t[7], num: true },
      { label: "reason", value: r => r.t[8], text: r => r.t[8] },
    ];
    const rows = trades.map((t, i) => ({ i: i + 1, t }));
    const note = $("trades-note");
    const limit = 200;
    const drawTrades = all => BT.table($("trades"), { columns: cols, rows, limit: all ? 0 : limit });
    drawTrades(false);
    note.textContent = `${fmt(f.trades_total)} trades` + (f.trades_total > trades.length ? `; the first ${fmt(trades.length)} are drawn and listed (all of them: bt run … --variant ${f.variant} --trades trades.csv)` : "") + ". ";
    if (rows.length > limit) {
      const btn = el("button", {}, note, `list all ${fmt(rows.length)}`);
      btn.addEventListener("click", () => { drawTrades(true); btn.remove(); });
    }
  }

  function drawAll() {
    drawHeatmap();
    drawHistogram();
    drawTop();
  }

  drawAll();
  drawScatter();
  drawFocus();
  performance.mark("bt-drawn");
  // From the start of navigation (reading the file included), and the script alone.
  document.body.dataset.drawnMs = Math.round(performance.now());
  document.body.dataset.scriptMs = Math.round(performance.now() - t0);
  document.body.dataset.ready = "1";
})();
