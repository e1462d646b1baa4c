// bt dashboard: the bundles of the caller's API key, drawn from the public
// /v1 API with the chart functions of charts.js. The key is asked for once
// and kept in sessionStorage (this browser tab only); every call sends it as
// `Authorization: Bearer`. Views are addressed by the fragment:
//   #/              the bundle list, live progress and ETA
//   #/b/ID          a bundle: progress, cancel, heatmap, scatter, top variants
//   #/b/ID/v/N      a variant: equity, drawdown, trades
// A fragment `#key=KEY&to=/b/ID` fills in the key prompt as if typed (for
// links and scripts) and is removed from the address at once.
"use strict";

(() => {
  BT.catchErrors();
  const { el, clear, fmt, fmtMetric } = BT;
  const KEY = "bt-api-key";
  const view = document.getElementById("view");
  let timer = null;
  let generation = 0;

  class ApiError extends Error {
    constructor(status, body) {
      const msg = body && body.error ? body.error.message : String(body).slice(0, 200);
      super(`${status}: ${msg}`);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, method) {
    const r = await fetch(path, { method: method || "GET", headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
    const text = await r.text();
    let body = text;
    try { body = JSON.parse(text); } catch (_) { /* a CSV or plain text */ }
    if (!r.ok) throw new ApiError(r.status, body);
    return body;
  }

  /** An API error shown where a person looks: a refused key brings the prompt back. */
  function failed(e, host) {
    if (e instanceof ApiError && e.status === 401) {
      sessionStorage.removeItem(KEY);
      prompt(`The API refused the key (${e.message}).`);
      return;
    }
    el("p", { class: "message error" }, host || view, e instanceof ApiError ? `The API answered ${e.message}` : `Cannot reach the API: ${e.message}`);
  }

  const current = g => g === generation;

  // ------------------------------------------------------------- the key
  function prompt(error) {
    clearTimeout(timer);
    generation++;
    clear(view);
    const s = el("section", {}, view);
    el("h2", {}, s, "API key");
    if (error) el("p", { class: "message error", id: "key-error" }, s, error);
    const f = el("form", { class: "key", id: "key-form" }, s);
    el("p", { class: "muted" }, f, "The key (bt keys create) is kept in this browser tab only and sent with each API call.");
    const input = el("input", { id: "key-input", type: "password", autocomplete: "off", placeholder: "bt_..." }, f);
    el("button", { type: "submit" }, f, "Use this key");
    f.addEventListener("submit", ev => {
      ev.preventDefault();
      const k = input.value.trim();
      if (!k) return;
      sessionStorage.setItem(KEY, k);
      route();
    });
    input.focus();
  }

  function takeKeyFromFragment() {
    const h = location.hash.replace(/^#/, "");
    if (!h.startsWith("key=")) return;
    const q = new URLSearchParams(h);
    history.replaceState(null, "", location.pathname + "#" + (q.get("to") || "/"));
    prompt();
    document.getElementById("key-input").value = q.get("key") || "";
    document.getElementById("key-form").requestSubmit();
  }

  // ------------------------------------------------------------- views
  function route() {
    clearTimeout(timer);
    generation++;
    document.getElementById("forget").hidden = !sessionStorage.getItem(KEY);
    if (!sessionStorage.getItem(KEY)) return prompt();
    const h = location.hash.replace(/^#/, "");
    let m = h.match(/^\/b\/([0-9a-f-]{36})\/v\/(\d+)$/);
    if (m) return variantPage(m[1], +m[2], generation);
    m = h.match(/^\/b\/([0-9a-f-]{36})$/);
    if (m) return bundlePage(m[1], generation);
    return listPage(generation);
  }

  const pct = p => (p === null || p === undefined ? "–" : `${Math.floor(p * 1000) / 10} %`);
  const eta = s => (s === null || s === undefined ? "" : s < 90 ? `${Math.ceil(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);
  const active = st => st === "pending" || st === "running";

  function progressCell(td, p) {
    clear(td);
    const bar = el("span", { class: "progress" }, td);
    el("div", { style: `width:${Math.round((p || 0) * 100)}%` }, bar);
    el("span", { class: "pct" }, td, " " + pct(p));
  }

  async function listPage(g) {
    clear(view);
    const s = el("section", {}, view);
    el("h2", {}, s, "Bundles");
    const host = el("div", { id: "bundles" }, s);
    const tick = async () => {
      let list;
      try {
        list = await api("/v1/bundles?limit=50");
        // Progress and ETA of the unfinished ones (the finished are whole).
        const live = await Promise.all(list.bundles.map(b => (active(b.status) ? api(`/v1/bundles/${b.id}`) : null)));
        list.bundles.forEach((b, i) => { if (live[i]) Object.assign(b, live[i]); });
      } catch (e) {
        if (current(g)) { clear(host); failed(e, host); }
        return;
      }
      if (!current(g)) return;
      clear(host);
      if (list.bundles.length === 0) {
        el("p", { class: "muted" }, host, "No bundles yet: POST /v1/bundles (or bt submit) and they appear here.");
      } else {
        const t = el("table", { class: "rows" }, host);
        const hr = el("tr", {}, el("thead", {}, t));
        for (const h of ["name", "status", "progress", "ETA", "variants", "execution", "created"]) el("th", {}, hr, h);
        const body = el("tbody", {}, t);
        for (const b of list.bundles) {
          const tr = el("tr", { class: "link", "data-id": b.id }, body);
          const a = el("a", { href: `#/b/${b.id}` }, el("td", {}, tr), b.name || b.id.slice(0, 8));
          a.title = b.id;
          el("td", { class: `status status-${b.status}` }, tr, b.status);
          const p = b.status === "completed" ? 1 : b.progress;
          progressCell(el("td", {}, tr), active(b.status) || b.status === "completed" ? p : null);
          el("td", {}, tr, active(b.status) ? eta(b.eta_seconds) : "");
          el("td", { class: "num" }, tr, fmt(b.variants));
          el("td", {}, tr, b.execution);
          el("td", {}, tr, String(b.created_at).slice(0, 19).replace("T", " "));
          tr.addEventListener("click", ev => { if (ev.target.tagName !== "A") location.hash = `#/b/${b.id}`; });
        }
      }
      // Every second while a bundle runs, else every 2 s (new bundles appear).
      timer = setTimeout(tick, list.bundles.some(b => active(b.status)) ? 1000 : 2000);
    };
    await tick();
  }

  async function bundlePage(id, g) {
    clear(view);
    const top = el("section", { id: "status" }, view);
    const charts = el("div", { id: "charts" }, view);
    let drawn = false;
    const tick = async () => {
      let st;
      try { st = await api(`/v1/bundles/${id}`); } catch (e) { if (current(g)) { clear(top); failed(e, top); } return; }
      if (!current(g)) return;
      clear(top);
      el("h2", {}, top, `${st.name || "bundle"} `).appendChild(el("span", { class: `status status-${st.status}`, id: "state" }, null, st.status));
      const line = el("p", {}, top);
      progressCell(el("span", {}, line), st.status === "completed" ? 1 : st.progress);
      el("span", {}, line, ` of ${fmt(st.variants)} variants (${fmt(st.variants_done)} stored)` +
         (active(st.status) && st.eta_seconds !== null ? `, ETA ${eta(st.eta_seconds)}` : ""));
      const j = st.jobs;
      el("p", { class: "muted" }, top,
         `${st.id} · ${st.execution} · jobs: ${j.completed} completed, ${j.running} running, ${j.pending} pending` +
         (j.failed ? `, ${j.failed} failed` : "") + (j.cancelled ? `, ${j.cancelled} cancelled` : "") + (st.error ? ` · ${st.error}` : ""));
      if (active(st.status)) {
        const c = el("button", { class: "danger", id: "cancel" }, top, "Cancel bundle");
        c.addEventListener("click", async () => {
          c.disabled = true;
          try { await api(`/v1/bundles/${id}/cancel`, "POST"); } catch (e) { failed(e, top); }
          if (current(g)) { clearTimeout(timer); tick(); }
        });
        timer = setTimeout(tick, 1000);
        if (!drawn) { clear(charts); el("p", { class: "muted" }, charts, "The charts appear when the bundle has finished."); }
      } else if (!drawn) {
        drawn = true;
        clear(charts);
        if (st.variants_done > 0) bundleCharts(id, charts, g); else el("p", { class: "muted" }, charts, "No results were stored.");
      }
    };
    await tick();
  }

  function bundleCharts(id, host, g) {
    const hs = el("section", {}, host);
    el("h2", {}, hs, "Parameter heatmap");
    const controls = el("div", { class: "controls" }, hs);
    const heat = el("div", { id: "heatmap" }, hs);
    const row = el("div", { class: "row" }, host);
    const ss = el("section", {}, row);
    el("h2", {}, ss, "Return vs max drawdown, every variant");
    const scatter = el("div", { id: "scatter" }, ss);
    const ts = el("section", {}, host);
    el("h2", {}, ts, "Top variants");
    const note = el("p", { class: "muted" }, ts);
    const table = el("div", { id: "top", class: "scroll" }, ts);
    const open = n => { location.hash = `#/b/${id}/v/${n}`; };
    let sel = null;

    const drawHeat = async q => {
      let h;
      try { h = await api(`/v1/bundles/${id}/heatmap?${new URLSearchParams(q)}`); } catch (e) { if (current(g)) { clear(heat); failed(e, heat); } return; }
      if (!current(g)) return;
      if (!sel) {
        const varying = h.axes.filter(a => a.levels > 1).map(a => [a.name, a.name]);
        const select = (label, options, value) => {
          const l = el("label", {}, controls, label + " ");
          const s = el("select", {}, l);
          for (const [v, t] of options) el("option", { value: v }, s, t);
          s.value = value;
          s.addEventListener("change", () => {
            const q2 = { x: sel.x.value, y: sel.y.value, metric: sel.metric.value, agg: sel.agg.value };
            drawHeat(q2);
            drawTop(q2.metric);
          });
          return s;
        };
        sel = {
          x: select("x", varying, h.x), y: select("y", varying, h.y),
          metric: select("metric", h.metrics.map(m => [m, m]), h.metric), agg: select("aggregate", [["max", "max"], ["median", "median"]], h.agg),
        };
        el("span", { class: "muted" }, controls, "over the other parameters; hover for values, click a cell to open its best variant");
      }
      if (h.x === null || h.y === null) {
        clear(heat);
        el("p", { class: "muted" }, heat, "A heatmap needs two parameters with more than one value.");
        return;
      }
      const grid = new Map(h.cells.map(c => [`${c.x},${c.y}`, c]));
      const cell = (ix, iy) => grid.get(`${ix},${iy}`);
      BT.heatmap(heat, {
        xName: h.x, yName: h.y, xLabels: h.x_labels, yLabels: h.y_labels, metric: `${h.agg} ${h.metric}`, better: h.better,
        value: (ix, iy) => { const c = cell(ix, iy); return c && c.value !== null ? c.value : NaN; },
        tip: (ix, iy) => {
          const c = cell(ix, iy);
          return `${BT.esc(h.x)} ${BT.esc(h.x_labels[ix])}, ${BT.esc(h.y)} ${BT.esc(h.y_labels[iy])}<br>` +
                 (c ? `${h.agg} ${BT.esc(h.metric)}: <b>${fmtMetric(h.metric, c.value)}</b><br>${fmt(c.count)} variants` +
                      (c.best === null ? "" : `<br>best: variant ${c.best}`) : "no variants");
        },
        onClick: (ix, iy) => { const c = cell(ix, iy); if (c && c.best !== null) open(c.best); },
      });
      heat.dataset.cells = h.x_labels.length * h.y_labels.length;
    };

    const drawScatter = async () => {
      let s;
      try { s = await api(`/v1/bundles/${id}/scatter`); } catch (e) { if (current(g)) failed(e, scatter); return; }
      if (!current(g)) return;
      BT.density(scatter, {
        xLabel: s.x, yLabel: s.y, xRange: s.x_range, yRange: s.y_range, nx: s.nx, ny: s.ny, excluded: s.excluded,
        bins: s.bins.map(([bx, by, count, best]) => ({ bx, by, count, best })), onClick: open,
      });
    };

    const drawTop = async metric => {
      let r;
      try { r = await api(`/v1/bundles/${id}/results?sort=${metric}&limit=25`); } catch (e) { if (current(g)) failed(e, table); return; }
      if (!current(g)) return;
      const params = v => Object.entries(v.strategy).filter(([k]) => k !== "kind" && k !== "rules").map(([k, x]) => `${k}=${x}`)
        .concat(Object.entries(v.money).filter(([, x]) => x !== null).map(([k, x]) => `${k}=${x}`)).join(" ");
      const shown = [...new Set([metric, "total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "trades", "win_rate"])];
      BT.table(table, {
        columns: [{ label: "variant", value: v => v.variant, text: v => String(v.variant), num: true },
                  { label: "dataset", value: v => `${v.dataset.ticker}/${v.dataset.timeframe}`, text: v => `${v.dataset.ticker}/${v.dataset.timeframe}` },
                  { label: "parameters", value: params, text: params }]
          .concat(shown.filter(m => r.results.length === 0 || m in r.results[0].metrics)
            .map(m => ({ label: m, num: true, value: v => v.metrics[m], text: v => fmtMetric(m, v.metrics[m]) }))),
        rows: r.results, onRow: v => open(v.variant),
      });
      note.textContent = `The first ${r.results.length} by ${metric} (${r.order}ending), ranked by the API; click a header to reorder them, a row to open it.`;
    };

    drawHeat({});
    drawScatter();
    drawTop("sharpe");
  }

  const when = t => Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(t) ? t : t.replace(" ", "T") + "Z");

  async function variantPage(id, n, g) {
    clear(view);
    const s = el("section", {}, view);
    el("p", {}, s).appendChild(el("a", { href: `#/b/${id}` }, null, "← the bundle"));
    let d;
    try { d = await api(`/v1/bundles/${id}/variants/${n}?points=1500&trades_limit=1000`); } catch (e) { if (current(g)) failed(e, s); return; }
    if (!current(g)) return;
    el("h2", {}, s, `Variant ${n}: ${d.dataset.ticker}/${d.dataset.timeframe}`);
    const kv = Object.entries(d.strategy).filter(([k]) => k !== "rules").map(([k, v]) => `${k}=${v}`).join(" ");
    el("p", {}, s, `${kv} · ` + Object.entries(d.money).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(" "));
    for (const [rule, text] of Object.entries(d.strategy.rules || {})) el("p", { class: "muted" }, s, `${rule}: ${text}`);
    const grid = el("div", { class: "metrics" }, s);
    for (const [k, v] of Object.entries(d.metrics)) {
      const c = el("div", {}, grid);
      el("span", {}, c, k);
      el("b", {}, c, typeof v === "boolean" ? String(v) : fmtMetric(k, v));
    }
    const dl = el("p", {}, s);
    for (const what of ["equity", "trades"]) {
      const b = el("button", {}, dl, `download ${what}.csv`);
      b.addEventListener("click", async () => {
        try {
          const text = await api(`/v1/bundles/${id}/variants/${n}/${what}.csv`);
          const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: `${id}-${n}-${what}.csv` });
          a.click();
        } catch (e) { failed(e, dl); }
      });
      dl.appendChild(document.createTextNode(" "));
    }
    const x = d.equity.map(p => when(p[0]));
    const eq = d.equity.map(p => p[1]);
    let peak = -Infinity;
    const dd = eq.map(v => { peak = Math.max(peak, v); return peak > 0 ? v / peak - 1 : 0; });
    const at = ms => eq[BT.bisect(x, ms)];
    const markers = [];
    for (const t of d.trades) {
      const e = when(t.entry_time), xt = when(t.exit_time);
      markers.push({ x: e, y: at(e), kind: t.side === "long" ? "entry-long" : "entry-short" });
      if (t.reason !== "open") markers.push({ x: xt, y: at(xt), kind: "exit" });
    }
    const cs = el("section", {}, view);
    el("h2", {}, cs, "Equity and drawdown");
    el("p", { class: "muted" }, cs, `${fmt(d.equity_bars)} bars drawn as ${fmt(d.equity.length)} points (each bucket's low and high kept); entries ▲▼ and exits × of the trades listed`);
    const curves = el("div", { id: "curves" }, cs);
    BT.curves(curves, {
      x,
      panels: [
        { name: "equity", label: "equity", height: 260, series: [{ kind: "line", y: eq, cls: "equity" }, { kind: "markers", points: markers }] },
        { name: "drawdown", label: "drawdown", height: 100, series: [{ kind: "area", y: dd, base: 0, cls: "drawdown" }] },
      ],
      hover: k => `equity ${fmt(eq[k])}<br>drawdown ${fmt(dd[k] * 100)} %`,
    });
    curves.dataset.markers = markers.length;
    const ts = el("section", {}, view);
    el("h2", {}, ts, "Trades");
    el("p", { class: "muted" }, ts, `${fmt(d.trades_total)} trades` + (d.trades_total > d.trades.length ? `; the first ${fmt(d.trades.length)} here, all of them in trades.csv` : ""));
    const cols = ["side", "entry_time", "entry_price", "exit_time", "exit_price", "quantity", "fees", "pnl", "return_on_margin", "reason"]
      .map(k => ({ label: k.replace(/_/g, " "), value: t => t[k], num: typeof d.trades[0]?.[k] === "number", text: t => (typeof t[k] === "number" ? fmt(t[k]) : String(t[k])) }));
    BT.table(el("div", { id: "trades", class: "scroll" }, ts), { columns: cols, rows: d.trades });
  }

  document.getElementById("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); route(); });
  window.addEventListener("hashchange", route);
  if (location.hash.startsWith("#key=")) takeKeyFromFragment(); else route();
  document.body.dataset.ready = "1";
})();
