// bt charts: small SVG drawing functions shared by the report (bt report)
// and the dashboard (bt serve, GET /). Plain JavaScript, no library, nothing
// fetched: every chart is drawn from numbers the page already holds, which
// bt has reduced to about a pixel's worth (heatmap bins, density grids,
// per-column min/max envelopes).
"use strict";

const BT = (() => {
  const NS = "http://www.w3.org/2000/svg";

  /** An element: SVG when `tag` is an SVG tag inside an SVG parent, else HTML. */
  function el(tag, attrs, parent, text) {
    const svg = parent && parent.namespaceURI === NS || tag === "svg";
    const e = svg ? document.createElementNS(NS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /** Removes every child of `host`. */
  function clear(host) {
    while (host.firstChild) host.removeChild(host.firstChild);
    return host;
  }

  /** A number for people: 4 significant digits, thousands grouped; "–" for none. */
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (v === Infinity) return "∞";
    if (v === -Infinity) return "-∞";
    const a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e15) return v.toLocaleString("en-US");
    if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential((digits || 4) - 1);
    return v.toLocaleString("en-US", { maximumSignificantDigits: digits || 4 });
  }

  /** A metric's value: as bt stores it (fractions as fractions), durations in days. */
  function fmtMetric(name, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (/_ms$/.test(name)) return fmt(v / 86400000, 3) + " d";
    return fmt(v);
  }

  /** UTC time text: a date, or a date and time when `withTime`. */
  function timeText(ms, withTime) {
    const s = new Date(ms).toISOString();
    return withTime ? s.slice(0, 16).replace("T", " ") : s.slice(0, 10);
  }

  // Viridis, 9 stops: perceptually even, readable in grey and by the colour-blind.
  const STOPS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                 [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];

  /** The colour of `t` in [0, 1]. */
  function colour(t) {
    const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(x));
    const f = x - i;
    const c = STOPS[i].map((a, k) => Math.round(a + (STOPS[i + 1][k] - a) * f));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  /** About `n` round numbers covering [lo, hi]. */
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / Math.max(1, n);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
    const out = [];
    for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) {
      const v = k * step;
      out.push(Math.abs(v) < step * 1e-9 ? 0 : +v.toPrecision(12));
    }
    return out;
  }

  /** A tooltip div that follows the mouse inside `host`. */
  function tooltip(host) {
    const t = el("div", { class: "tip", hidden: "" }, host);
    return {
      show(ev, html) {
        t.innerHTML = html;
        t.hidden = false;
        const r = host.getBoundingClientRect();
        t.style.left = Math.min(ev.clientX - r.left + 14, r.width - 220) + "px";
        t.style.top = (ev.clientY - r.top + 14) + "px";
      },
      hide() { t.hidden = true; },
    };
  }

  const esc = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  /** A horizontal colour legend from `lo` to `hi` (`reversed`: low is bright). */
  function legend(svg, x, y, w, lo, hi, reversed, label) {
    const n = 40;
    for (let i = 0; i < n; i++) {
      const t = i / (n - 1);
      el("rect", { x: x + (w * i) / n, y, width: w / n + 0.5, height: 10, fill: colour(reversed ? 1 - t : t) }, svg);
    }
    el("text", { x, y: y + 22, class: "axis" }, svg, fmt(lo));
    el("text", { x: x + w, y: y + 22, class: "axis", "text-anchor": "end" }, svg, fmt(hi));
    el("text", { x: x + w / 2, y: y + 22, class: "axis", "text-anchor": "middle" }, svg, label);
  }

  /**
   * A heatmap: one `rect.cell` per (x bin, y bin) pair.
   * o: { xName, yName, xLabels, yLabels, value(ix, iy) -> number (NaN: none),
   *      count(ix, iy), metric, better: "higher"|"lower", tip(ix, iy) -> html,
   *      onClick(ix, iy) }
   */
  function heatmap(host, o) {
    clear(host);
    const nx = o.xLabels.length, ny = o.yLabels.length;
    const W = Math.max(360, Math.min(host.clientWidth || 900, 1100));
    const left = 90, top = 10, bottom = 70;
    const cw = Math.max(2, Math.floor((W - left - 20) / nx));
    const ch = Math.max(2, Math.min(28, Math.floor(520 / ny)));
    const svg = el("svg", { width: left + cw * nx + 20, height: top + ch * ny + bottom, class: "heatmap" }, host);
    let lo = Infinity, hi = -Infinity;
    for (let iy = 0; iy < ny; iy++) for (let ix = 0; ix < nx; ix++) {
      const v = o.value(ix, iy);
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    const rev = o.better === "lower";
    const tip = tooltip(host);
    for (let iy = 0; iy < ny; iy++) {
      for (let ix = 0; ix < nx; ix++) {
        const v = o.value(ix, iy);
        const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
        const r = el("rect", {
          class: "cell", x: left + ix * cw, y: top + (ny - 1 - iy) * ch, width: cw, height: ch,
          fill: Number.isFinite(v) ? colour(rev ? 1 - t : t) : "#ddd", "data-x": ix, "data-y": iy,
        }, svg);
        r.addEventListener("mousemove", ev => tip.show(ev, o.tip(ix, iy)));
        r.addEventListener("mouseleave", () => tip.hide());
        if (o.onClick) r.addEventListener("click", () => o.onClick(ix, iy));
      }
    }
    const every = n => Math.max(1, Math.ceil(n / 25));
    for (let ix = 0; ix < nx; ix += every(nx)) {
      const x = left + ix * cw + cw / 2, y = top + ny * ch + 12;
      el("text", { x, y, class: "axis", "text-anchor": "end", transform: `rotate(-45 ${x} ${y})` }, svg, o.xLabels[ix]);
    }
    for (let iy = 0; iy < ny; iy += every(ny)) {
      el("text", { x: left - 6, y: top + (ny - 1 - iy) * ch + ch / 2 + 4, class: "axis", "text-anchor": "end" }, svg, o.yLabels[iy]);
    }
    el("text", { x: left + (cw * nx) / 2, y: top + ny * ch + bottom - 4, class: "title", "text-anchor": "middle" }, svg, o.xName);
    el("text", { x: 12, y: top + (ny * ch) / 2, class: "title", "text-anchor": "middle", transform: `rotate(-90 12 ${top + (ny * ch) / 2})` }, svg, o.yName);
    if (lo <= hi) {
      const lg = el("svg", { width: 260, height: 30, class: "legend" }, host);
      legend(lg, 10, 2, 240, lo, hi, rev, o.metric);
    }
    return svg;
  }

  /** A histogram of counts over equal bins of [min, max]. o: { min, max, counts, label, nonFinite } */
  function histogram(host, o) {
    clear(host);
    const W = 520, H = 220, left = 50, bottom = 40, top = 10;
    const svg = el("svg", { width: W, height: H, class: "histogram" }, host);
    const n = o.counts.length;
    if (n === 0) {
      el("text", { x: 20, y: 40, class: "axis" }, svg, "no finite values");
      return svg;
    }
    const peak = Math.max(...o.counts, 1);
    const bw = (W - left - 10) / n;
    const tip = tooltip(host);
    o.counts.forEach((c, i) => {
      const h = ((H - top - bottom) * c) / peak;
      const a = o.min + ((o.max - o.min) * i) / n, b = o.min + ((o.max - o.min) * (i + 1)) / n;
      const r = el("rect", { class: "bar", x: left + i * bw, y: H - bottom - h, width: Math.max(1, bw - 1), height: h }, svg);
      r.addEventListener("mousemove", ev => tip.show(ev, `${esc(o.label)} ${fmt(a)} to ${fmt(b)}<br>${fmt(c)} variants`));
      r.addEventListener("mouseleave", () => tip.hide());
    });
    el("text", { x: left, y: H - bottom + 16, class: "axis" }, svg, fmt(o.min));
    el("text", { x: W - 10, y: H - bottom + 16, class: "axis", "text-anchor": "end" }, svg, fmt(o.max));
    el("text", { x: left + (W - left) / 2, y: H - 6, class: "title", "text-anchor": "middle" }, svg,
       o.label + (o.nonFinite ? ` (${fmt(o.nonFinite)} not finite, not shown)` : ""));
    el("text", { x: left - 6, y: top + 10, class: "axis", "text-anchor": "end" }, svg, fmt(peak));
    return svg;
  }

  /**
   * A scatter of any number of points as a density grid: darker bins hold more.
   * o: { xLabel, yLabel, xRange: [lo, hi], yRange, nx, ny, bins: [{bx, by, count, best}],
   *      excluded, onClick(best) }
   */
  function density(host, o) {
    clear(host);
    const W = 560, H = 360, left = 64, bottom = 44, top = 10, right = 10;
    const svg = el("svg", { width: W, height: H, class: "density" }, host);
    const pw = (W - left - right) / o.nx, ph = (H - top - bottom) / o.ny;
    const peak = Math.max(1, ...o.bins.map(b => b.count));
    const tip = tooltip(host);
    const range = (r, n, i) => [r[0] + ((r[1] - r[0]) * i) / n, r[0] + ((r[1] - r[0]) * (i + 1)) / n];
    for (const b of o.bins) {
      const t = Math.log1p(b.count) / Math.log1p(peak);
      const r = el("rect", {
        class: "point", x: left + b.bx * pw, y: H - bottom - (b.by + 1) * ph,
        width: Math.max(pw, 2), height: Math.max(ph, 2), fill: colour(0.15 + 0.85 * t),
      }, svg);
      r.addEventListener("mousemove", ev => {
        const [x0, x1] = range(o.xRange, o.nx, b.bx), [y0, y1] = range(o.yRange, o.ny, b.by);
        tip.show(ev, `${fmt(b.count)} variant${b.count > 1 ? "s" : ""}<br>${esc(o.xLabel)} ${fmt(x0)} to ${fmt(x1)}` +
                     `<br>${esc(o.yLabel)} ${fmt(y0)} to ${fmt(y1)}<br>best: variant ${b.best}`);
      });
      r.addEventListener("mouseleave", () => tip.hide());
      if (o.onClick) r.addEventListener("click", () => o.onClick(b.best));
    }
    const xs = v => left + ((v - o.xRange[0]) / (o.xRange[1] - o.xRange[0] || 1)) * (W - left - right);
    const ys = v => H - bottom - ((v - o.yRange[0]) / (o.yRange[1] - o.yRange[0] || 1)) * (H - top - bottom);
    el("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, class: "frame" }, svg);
    el("line", { x1: left, y1: top, x2: left, y2: H - bottom, class: "frame" }, svg);
    for (const v of ticks(o.xRange[0], o.xRange[1], 6)) {
      el("text", { x: xs(v), y: H - bottom + 14, class: "axis", "text-anchor": "middle" }, svg, fmt(v));
    }
    for (const v of ticks(o.yRange[0], o.yRange[1], 6)) {
      el("text", { x: left - 6, y: ys(v) + 4, class: "axis", "text-anchor": "end" }, svg, fmt(v));
    }
    el("text", { x: left + (W - left) / 2, y: H - 8, class: "title", "text-anchor": "middle" }, svg,
       o.xLabel + (o.excluded ? ` (${fmt(o.excluded)} not finite, not shown)` : ""));
    el("text", { x: 12, y: H / 2, class: "title", "text-anchor": "middle", transform: `rotate(-90 12 ${H / 2})` }, svg, o.yLabel);
    return svg;
  }

  /** Index of the last x[i] <= v (x ascending). */
  function bisect(x, v) {
    let lo = 0, hi = x.length - 1;
    if (v <= x[0]) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (x[mid] <= v) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Panels sharing a time axis (ms). o: { x: [...], panels: [{ name, height, log,
   * series: [{ kind: "line"|"band"|"area"|"candles"|"markers"|"levels", ... }] }],
   * hover(k) -> html for column k }
   * line: { y, cls }; band: { lo, hi, cls } (one vertical stroke per column: the
   * column's min to max, so no spike is lost); area: { y, base, cls };
   * candles: { open, high, low, close }; markers: { points: [{ x, y, kind }] };
   * levels: { items: [{ x0, x1, y, cls }] }.
   */
  function curves(host, o) {
    clear(host);
    const W = Math.max(600, Math.min(host.clientWidth || 1200, 1400));
    const left = 70, right = 16, gap = 18;
    const H = o.panels.reduce((h, p) => h + p.height + gap, 0) + 24;
    const svg = el("svg", { width: W, height: H, class: "curves" }, host);
    const x = o.x, n = x.length;
    const x0 = x[0], x1 = n > 1 ? x[n - 1] : x[0] + 1;
    const xs = v => left + ((v - x0) / (x1 - x0 || 1)) * (W - left - right);
    let top = 6;
    const finite = a => a.filter(v => v !== null && Number.isFinite(v));
    for (const p of o.panels) {
      const g = el("g", { class: "panel " + (p.name || "") }, svg);
      // The panel's range: every value it draws.
      let vals = [];
      for (const s of p.series) {
        if (s.kind === "line" || s.kind === "area") vals = vals.concat(finite(s.y));
        if (s.kind === "area" && s.base !== undefined) vals.push(s.base);
        if (s.kind === "band") vals = vals.concat(finite(s.lo), finite(s.hi));
        if (s.kind === "candles") vals = vals.concat(finite(s.low), finite(s.high));
        if (s.kind === "markers") vals = vals.concat(s.points.map(q => q.y).filter(Number.isFinite));
      }
      let lo = Math.min(...vals), hi = Math.max(...vals);
      if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
      if (hi === lo) { hi = lo + Math.abs(lo || 1) * 0.01; lo -= Math.abs(lo || 1) * 0.01; }
      const pad = (hi - lo) * 0.04;
      lo -= pad; hi += pad;
      const y0 = top, h = p.height;
      const ys = v => y0 + h - ((v - lo) / (hi - lo)) * h;
      el("rect", { x: left, y: y0, width: W - left - right, height: h, class: "plot" }, g);
      for (const t of ticks(lo, hi, 4)) {
        el("line", { x1: left, x2: W - right, y1: ys(t), y2: ys(t), class: "grid" }, g);
        el("text", { x: left - 6, y: ys(t) + 4, class: "axis", "text-anchor": "end" }, g, fmt(t));
      }
      el("text", { x: left + 6, y: y0 + 14, class: "title" }, g, p.label || "");
      const path = (ys_, arr) => {
        let d = "", pen = false;
        for (let k = 0; k < n; k++) {
          const v = arr[k];
          if (v === null || !Number.isFinite(v)) { pen = false; continue; }
          d += (pen ? "L" : "M") + xs(x[k]).toFixed(1) + "," + ys_(v).toFixed(1);
          pen = true;
        }
        return d;
      };
      for (const s of p.series) {
        if (s.kind === "line") {
          el("path", { d: path(ys, s.y), class: "line " + (s.cls || "") }, g);
        } else if (s.kind === "band") {
          let d = "";
          for (let k = 0; k < n; k++) {
            if (s.lo[k] === null || s.hi[k] === null || s.hi[k] === s.lo[k]) continue;
            const xx = xs(x[k]).toFixed(1);
            d += `M${xx},${ys(s.hi[k]).toFixed(1)}V${ys(s.lo[k]).toFixed(1)}`;
          }
          el("path", { d, class: "band " + (s.cls || "") }, g);
        } else if (s.kind === "area") {
          const base = ys(s.base || 0).toFixed(1);
          const line = path(ys, s.y);
          const d = line ? line + `L${xs(x[n - 1]).toFixed(1)},${base}L${xs(x[0]).toFixed(1)},${base}Z` : "";
          el("path", { d, class: "area " + (s.cls || "") }, g);
        } else if (s.kind === "candles") {
          const bw = Math.max(1, ((W - left - right) / n) * 0.7);
          for (let k = 0; k < n; k++) {
            const up = s.close[k] >= s.open[k];
            const cx = xs(x[k]);
            el("line", { x1: cx, x2: cx, y1: ys(s.high[k]), y2: ys(s.low[k]), class: "wick" }, g);
            const a = ys(Math.max(s.open[k], s.close[k])), b = ys(Math.min(s.open[k], s.close[k]));
            el("rect", { x: cx - bw / 2, y: a, width: bw, height: Math.max(1, b - a), class: "candle " + (up ? "up" : "down") }, g);
          }
        } else if (s.kind === "levels") {
          for (const it of s.items) {
            if (!Number.isFinite(it.y)) continue;
            el("line", { x1: xs(it.x0), x2: xs(it.x1), y1: ys(it.y), y2: ys(it.y), class: "level " + it.cls }, g);
          }
        } else if (s.kind === "markers") {
          for (const q of s.points) {
            if (!Number.isFinite(q.y)) continue;
            const cx = xs(q.x).toFixed(1), cy = ys(q.y).toFixed(1);
            const d = q.kind === "entry-long" ? `M${cx},${cy}m-5,7l5,-9l5,9z`
                    : q.kind === "entry-short" ? `M${cx},${cy}m-5,-7l5,9l5,-9z`
                    : `M${cx},${cy}m-4,-4l8,8m0,-8l-8,8`;
            el("path", { d, class: "marker " + q.kind }, g);
          }
        }
      }
      top += h + gap;
    }
    // Time ticks under the last panel.
    const span = x1 - x0;
    const nt = Math.min(8, n);
    for (let i = 0; i < nt; i++) {
      const v = x0 + (span * i) / Math.max(1, nt - 1);
      el("text", { x: xs(v), y: top + 2, class: "axis", "text-anchor": i === 0 ? "start" : i === nt - 1 ? "end" : "middle" }, svg,
         timeText(v, span < 3 * 86400000));
    }
    if (o.hover && n > 0) {
      const tip = tooltip(host);
      const cross = el("line", { x1: 0, x2: 0, y1: 6, y2: top - gap, class: "cross", visibility: "hidden" }, svg);
      svg.addEventListener("mousemove", ev => {
        const r = svg.getBoundingClientRect();
        const px = ev.clientX - r.left;
        if (px < left || px > W - right) { tip.hide(); cross.setAttribute("visibility", "hidden"); return; }
        const v = x0 + ((px - left) / (W - left - right)) * (x1 - x0);
        const k = bisect(x, v);
        cross.setAttribute("x1", xs(x[k])); cross.setAttribute("x2", xs(x[k]));
        cross.setAttribute("visibility", "visible");
        tip.show(ev, `<b>${timeText(x[k], true)}</b><br>` + o.hover(k));
      });
      svg.addEventListener("mouseleave", () => { tip.hide(); cross.setAttribute("visibility", "hidden"); });
    }
    return svg;
  }

  /**
   * A table sortable by clicking a header. o: { columns: [{ label, value(row), text(row), num }],
   * rows, sortBy, descending, limit, onRow(row) }
   */
  function table(host, o) {
    clear(host);
    let by = o.sortBy === undefined ? -1 : o.sortBy, desc = !!o.descending;
    const t = el("table", { class: "rows" }, host);
    const head = el("tr", {}, el("thead", {}, t));
    const body = el("tbody", {}, t);
    const draw = () => {
      let rows = o.rows.slice();
      if (by >= 0) {
        const c = o.columns[by];
        rows.sort((a, b) => {
          const x = c.value(a), y = c.value(b);
          const nx = x === null || Number.isNaN(x), ny = y === null || Number.isNaN(y);
          if (nx !== ny) return nx ? 1 : -1;
          if (x === y) return 0;
          return (x < y ? -1 : 1) * (desc ? -1 : 1);
        });
      }
      if (o.limit) rows = rows.slice(0, o.limit);
      clear(head);
      o.columns.forEach((c, i) => {
        const th = el("th", { class: c.num ? "num" : "", title: c.about || "" }, head, c.label + (i === by ? (desc ? " ▾" : " ▴") : ""));
        th.addEventListener("click", () => {
          desc = i === by ? !desc : c.num && c.better !== "lower";
          by = i;
          draw();
        });
      });
      clear(body);
      for (const r of rows) {
        const tr = el("tr", {}, body);
        for (const c of o.columns) el("td", { class: c.num ? "num" : "" }, tr, c.text ? c.text(r) : fmt(c.value(r)));
        if (o.onRow) { tr.classList.add("link"); tr.addEventListener("click", () => o.onRow(r)); }
      }
    };
    draw();
    return t;
  }

  /** Decodes base64 into a typed array of `Type` (little-endian, as bt writes). */
  function decode(b64, Type) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  /** Page errors (uncaught, rejected promises, console.error) into `#errors`, for people and tests. */
  function catchErrors() {
    const errors = [];
    const show = msg => {
      errors.push(String(msg));
      const box = document.getElementById("errors");
      if (box) { box.hidden = false; el("div", {}, box, String(msg)); }
      document.body.dataset.errors = errors.length;
    };
    window.addEventListener("error", e => show(e.message || e));
    window.addEventListener("unhandledrejection", e => show(e.reason && e.reason.message || e.reason));
    const orig = console.error.bind(console);
    console.error = (...a) => { show(a.join(" ")); orig(...a); };
    return errors;
  }

  return { el, clear, fmt, fmtMetric, timeText, colour, heatmap, histogram, density, curves, table, decode, catchErrors, esc, bisect };
})();
