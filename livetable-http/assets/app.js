// livetable live page: one table, kept up to date from a server-sent-events stream.
//
// Patches are applied in place, keyed by the dimension values, so the viewer's sort,
// filter, scroll position, selection and focus survive every update. Every URL is
// relative, so the page works wherever the router is nested.
//
// Every row is kept in memory, but only the first MAX_SHOWN rows in the current order
// that pass the filter box are in the DOM (a note says so): a table of 100,000 rows
// stays responsive. Rows get DOM elements only when shown.
//
// The view (window, server filters, grouping, trend) lives in the address, so a link
// shows the same view; the filter box only searches the rows already received.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_SHOWN = 2000;
  const el = {
    title: $('title'), tableLabel: $('table-label'), tableSelect: $('table-select'),
    windowSelect: $('window-select'), filter: $('filter'), pause: $('pause'), csv: $('csv'),
    theme: $('theme'), state: $('state'), windowInfo: $('window-info'), updated: $('updated'),
    fetch: $('fetch'), count: $('count'), flags: $('flags'), stale: $('stale'), conn: $('conn'),
    head: $('head'), body: $('body'), empty: $('empty'), scroll: $('scroll'),
    capped: $('capped'), viewbar: $('viewbar'), crumbs: $('crumbs'), grouping: $('grouping'),
    trend: $('trend'),
  };

  const st = {
    tables: [],
    info: null,          // the table's description from api/tables
    cols: [],            // the view's columns (a grouping has fewer dimensions)
    keyIdx: [],
    dims: [],            // the table's dimension names, in schema order
    query: new URLSearchParams(), // view parameters: window, filters, group_by, trend
    rows: new Map(),     // key -> { key, values, tr, cells, styleKeys, styles, text, series, spark }
    matched: 0,          // rows passing the filter box
    shown: 0,            // of those, rows in the DOM (at most MAX_SHOWN)
    sort: [],            // [{ name, dir }] chosen by the viewer; empty: the default order
    filter: '',
    selected: null,      // key of the selected row
    version: null,
    meta: null,          // window, taken_at, fetch_ms, approximate, partial, status
    paused: false,
    es: null,
    retryTimer: null,
    trend: null,         // { start (ms), step, points, empty, metric } of the rows' series
    trendRefused: false, // the server answered 400 to `trend`: no toggle
    streams: 0,          // streams opened (each starts from a snapshot)
  };

  // ---- formatting ----------------------------------------------------------------

  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  const numberFormats = new Map();
  function numberFormat(min, max, grouping = true) {
    const k = min + ':' + max + ':' + grouping;
    if (!numberFormats.has(k)) {
      numberFormats.set(k, new Intl.NumberFormat(undefined, {
        minimumFractionDigits: min, maximumFractionDigits: max, useGrouping: grouping,
      }));
    }
    return numberFormats.get(k);
  }
  function plainNumber(col, v) {
    if (typeof v !== 'number') return String(v);
    // Integer dimensions are identifiers (ports, ids, years): no thousands separators.
    const grouping = !(col.role === 'dimension' && col.type === 'int');
    if (col.decimals !== undefined) return numberFormat(col.decimals, col.decimals, grouping).format(v);
    return numberFormat(0, col.type === 'int' ? 0 : 2, grouping).format(v);
  }
  const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  // Decimal units (1 KB = 1,000 B), as the labels say.
  function bytes(v) {
    let x = Math.abs(v);
    let i = 0;
    while (x >= 1000 && i < BYTE_UNITS.length - 1) { x /= 1000; i += 1; }
    const shown = i === 0 ? numberFormat(0, 0).format(x) : numberFormat(1, 1).format(x);
    return (v < 0 ? '-' : '') + shown + ' ' + BYTE_UNITS[i];
  }
  function formatCell(col, v) {
    if (v === null || v === undefined) return '–';
    switch (col.type) {
      case 'int':
      case 'float':
        switch (col.unit) {
          case 'bytes': return bytes(v);
          case 'percent': return plainNumber(col, v * 100) + ' %';
          case 'seconds': return plainNumber(col, v) + ' s';
          case 'milliseconds': return plainNumber(col, v) + ' ms';
          default: return plainNumber(col, v);
        }
      case 'timestamp': {
        const d = new Date(v);
        return isNaN(d) ? String(v) : d.toLocaleString();
      }
      case 'bool': return v ? 'true' : 'false';
      default: return String(v);
    }
  }
  function cellClass(col, v) {
    const c = [];
    if (col.type === 'int' || col.type === 'float') c.push('num');
    if (col.type === 'ip') c.push('ip');
    if (col.type === 'timestamp') c.push('ts');
    if (v === null || v === undefined) c.push('null');
    return c.join(' ');
  }

  // ---- ordering ------------------------------------------------------------------

  function ipKey(s) {
    if (typeof s !== 'string') return [2, ''];
    const p = s.split('.');
    if (p.length === 4 && p.every((x) => /^\d+$/.test(x))) {
      return [0, p.reduce((a, x) => a * 256 + Number(x), 0)];
    }
    // IPv6: expand `::` and compare the hex groups.
    const [l, r] = s.includes('::') ? s.split('::') : [s, null];
    const left = l ? l.split(':') : [];
    const right = r ? r.split(':') : [];
    const groups = r === null ? left : left.concat(Array(8 - left.length - right.length).fill('0'), right);
    return [1, groups.map((g) => g.padStart(4, '0')).join(':')];
  }
  // Nulls first, as the server orders them.
  function compareValues(col, a, b) {
    const an = a === null || a === undefined;
    const bn = b === null || b === undefined;
    if (an || bn) return an === bn ? 0 : (an ? -1 : 1);
    switch (col.type) {
      case 'int': case 'float': case 'bool':
        return a === b ? 0 : (a < b ? -1 : 1);
      case 'timestamp': return Date.parse(a) - Date.parse(b);
      case 'ip': {
        const x = ipKey(a), y = ipKey(b);
        if (x[0] !== y[0]) return x[0] - y[0];
        return x[1] === y[1] ? 0 : (x[1] < y[1] ? -1 : 1);
      }
      default: return collator.compare(String(a), String(b));
    }
  }
  // Sort keys are kept by column name, so they survive a grouping that moves or drops
  // columns; those not in the view are skipped (none left: the default order).
  function activeOrder() {
    const inView = (named) => named
      .map((o) => ({ col: st.cols.findIndex((c) => c.name === o.name), dir: o.dir }))
      .filter((o) => o.col >= 0);
    const chosen = inView(st.sort);
    if (chosen.length) return chosen;
    return inView((st.info.default_order || [])
      .map((o) => ({ name: o.column, dir: o.direction === 'desc' ? -1 : 1 })));
  }
  function sortedEntries() {
    const entries = Array.from(st.rows.values());
    const order = activeOrder();
    if (!order.length) return entries; // arrival order
    const keyCols = st.keyIdx;
    entries.sort((x, y) => {
      for (const o of order) {
        const c = compareValues(st.cols[o.col], x.values[o.col], y.values[o.col]);
        if (c) return c * o.dir;
      }
      // Ties by key, so equal rows keep a stable place.
      for (const i of keyCols) {
        const c = compareValues(st.cols[i], x.values[i], y.values[i]);
        if (c) return c;
      }
      return 0;
    });
    return entries;
  }
  // Puts the first MAX_SHOWN rows that pass the filter, in order, in the DOM; moves only
  // the rows that are out of place and detaches the others (their elements are
  // dropped). Focus is restored if a move took it.
  function reorder() {
    const entries = sortedEntries();
    const shown = [];
    let matched = 0;
    for (const e of entries) {
      if (!passes(e)) continue;
      matched += 1;
      if (shown.length < MAX_SHOWN) shown.push(e);
    }
    st.matched = matched;
    st.shown = shown.length;
    const keep = new Set(shown);
    const focused = document.activeElement;
    const body = el.body;
    for (const e of st.rows.values()) {
      if (e.tr && !keep.has(e)) { e.tr.remove(); e.tr = null; e.cells = null; e.spark = null; }
    }
    let node = body.firstElementChild;
    for (const e of shown) {
      const tr = rowElement(e);
      if (node === tr) { node = node.nextElementSibling; continue; }
      body.insertBefore(tr, node);
    }
    if (focused && focused !== document.activeElement && body.contains(focused)) {
      focused.focus({ preventScroll: true });
    }
  }

  // ---- the table -----------------------------------------------------------------

  const keyOf = (values) => JSON.stringify(st.keyIdx.map((i) => values[i]));

  function buildHeader() {
    el.head.textContent = '';
    st.cols.forEach((col, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.dataset.col = col.name;
      if (col.type === 'int' || col.type === 'float') th.className = 'num';
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.col = col.name;
      b.title = 'Sort by ' + (col.label || col.name) + ' (shift-click to add a second key)';
      const label = document.createElement('span');
      label.textContent = col.label || col.name;
      const mark = document.createElement('span');
      mark.className = 'sort';
      mark.setAttribute('aria-hidden', 'true');
      b.append(label, mark);
      b.addEventListener('click', (ev) => sortBy(i, ev.shiftKey));
      th.append(b);
      el.head.append(th);
    });
    const trend = st.query.get('trend');
    if (trend) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.className = 'trend';
      const metric = st.info.schema.columns.find((c) => c.name === trend);
      th.textContent = 'Trend of ' + (metric ? metric.label || metric.name : trend);
      el.head.append(th);
    }
    showSort();
  }

  // Adopts the columns of a snapshot when they differ (the first snapshot of a
  // grouping): rows keyed by the old dimensions go.
  function setColumns(cols) {
    const same = cols.length === st.cols.length && cols.every((c, i) => c.name === st.cols[i].name);
    if (same) return;
    st.cols = cols;
    st.keyIdx = cols.map((c, i) => (c.role === 'dimension' ? i : -1)).filter((i) => i >= 0);
    for (const e of st.rows.values()) if (e.tr) e.tr.remove();
    st.rows.clear();
    buildHeader();
  }

  function showSort() {
    const order = activeOrder();
    Array.from(el.head.children).slice(0, st.cols.length).forEach((th, i) => {
      const pos = order.findIndex((o) => o.col === i);
      const mark = th.querySelector('.sort');
      if (pos < 0) {
        th.removeAttribute('aria-sort');
        mark.textContent = '';
        return;
      }
      const dir = order[pos].dir;
      if (pos === 0) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      mark.textContent = (dir > 0 ? '▲' : '▼') + (order.length > 1 ? String(pos + 1) : '');
    });
  }

  // Numbers sort largest first on the first click, text A to Z.
  function sortBy(col, add) {
    const name = st.cols[col].name;
    const numeric = st.cols[col].type === 'int' || st.cols[col].type === 'float';
    const first = numeric ? -1 : 1;
    const current = activeOrder().map((o) => ({ name: st.cols[o.col].name, dir: o.dir }));
    const at = current.findIndex((o) => o.name === name);
    if (add) {
      st.sort = current.slice();
      if (at >= 0) st.sort[at] = { name, dir: -st.sort[at].dir };
      else st.sort.push({ name, dir: first });
    } else if (at === 0 && current.length === 1) {
      st.sort = [{ name, dir: -current[0].dir }];
    } else {
      st.sort = [{ name, dir: first }];
    }
    showSort();
    reorder();
  }

  // A cell's text; a dimension value is also a button that narrows the view to it (see
  // narrow), unless the view is already filtered to that value alone. Its buttons are
  // tab stops only in the selected row, so Tab does not walk through every row.
  function fillCell(td, col, v, selected) {
    td.className = cellClass(col, v);
    const text = formatCell(col, v);
    const only = st.view.filters.find((f) => f.name === col.name);
    if (col.role !== 'dimension' || v === null || v === undefined
      || (only && only.values.length === 1 && only.values[0] === String(v))) {
      td.textContent = text;
      return;
    }
    const name = col.label || col.name;
    const b = document.createElement('button');
    b.type = 'button';
    b.tabIndex = selected ? 0 : -1;
    b.dataset.dim = col.name;
    b.dataset.value = String(v);
    td.textContent = '';
    if (st.view.next) {
      b.className = 'drill';
      b.textContent = text;
      b.title = 'Show ' + name + ' = ' + text + ' by ' + labelOf(st.view.next);
      td.append(b);
    } else {
      // Its word comes from the style sheet: the cell's text stays the value.
      b.className = 'only';
      b.setAttribute('aria-label', 'Only ' + name + ' = ' + text + ' (a server filter)');
      b.title = 'Ask the server for the rows with ' + name + ' = ' + text + ' only';
      td.append(text, b);
    }
  }

  // A row's data; its DOM elements are made when it is shown (rowElement).
  function makeRow(values) {
    return {
      key: keyOf(values), values, tr: null, cells: null, styleKeys: [], styles: [], text: null,
      series: null, spark: null,
    };
  }

  function rowElement(entry) {
    if (entry.tr) return entry.tr;
    const values = entry.values;
    const tr = document.createElement('tr');
    tr.tabIndex = -1;
    const selected = entry.key === st.selected;
    entry.cells = st.cols.map((col, i) => {
      const td = document.createElement('td');
      td.dataset.col = col.name;
      fillCell(td, col, values[i], selected);
      tr.append(td);
      return td;
    });
    if (st.query.has('trend')) {
      entry.spark = document.createElement('td');
      entry.spark.className = 'trend';
      drawSpark(entry);
      tr.append(entry.spark);
    }
    tr.dataset.key = entry.key;
    if (selected) { tr.classList.add('selected'); tr.tabIndex = 0; }
    tr.setAttribute('aria-selected', entry.key === st.selected ? 'true' : 'false');
    entry.tr = tr;
    entry.styleKeys = [];
    paint(entry);
    return tr;
  }

  function updateRow(entry, values, flashes) {
    const old = entry.values;
    entry.values = values;
    entry.text = null;
    if (!entry.cells) return;
    st.cols.forEach((col, i) => {
      const v = values[i];
      if (old[i] === v || JSON.stringify(old[i]) === JSON.stringify(v)) return;
      const td = entry.cells[i];
      fillCell(td, col, v, entry.key === st.selected);
      flashes.push(td);
    });
  }

  function rowText(entry) {
    if (entry.text === null) {
      entry.text = st.cols.map((col, i) => formatCell(col, entry.values[i])).join('\u0001').toLowerCase();
    }
    return entry.text;
  }
  function passes(entry) {
    return st.filter === '' || rowText(entry).includes(st.filter);
  }

  function flash(cells, entries) {
    const rows = entries.filter((e) => e.tr).map((e) => e.tr);
    cells = cells.filter((td) => td.isConnected);
    if (!cells.length && !rows.length) return;
    for (const td of cells) td.classList.remove('flash');
    for (const tr of rows) tr.classList.remove('inserted');
    void el.body.offsetWidth; // one reflow restarts every animation
    for (const td of cells) td.classList.add('flash');
    for (const tr of rows) tr.classList.add('inserted');
  }

  // A full table: rows already shown are updated in place (a resynchronisation keeps
  // the viewer's state), the others added or removed.
  function applySnapshot(snap) {
    if (snap.schema) setColumns(snap.schema.columns);
    const first = st.version === null && st.rows.size === 0;
    const seen = new Set();
    const flashes = [];
    const inserted = [];
    for (const values of snap.rows) {
      const key = keyOf(values);
      seen.add(key);
      const entry = st.rows.get(key);
      if (entry) updateRow(entry, values, flashes);
      else {
        const e = makeRow(values);
        st.rows.set(key, e);
        if (!first) inserted.push(e);
      }
    }
    for (const [key, e] of st.rows) {
      if (!seen.has(key)) { if (e.tr) e.tr.remove(); st.rows.delete(key); }
    }
    takeTrend(snap);
    finishUpdate(snap, first ? [] : flashes, inserted);
  }

  // Returns false when the patch does not fit what is shown (a missed update).
  function applyPatch(p) {
    if (st.version === null || p.from_version !== st.version) return false;
    for (const k of p.removed) if (!st.rows.has(JSON.stringify(k))) return false;
    for (const v of p.updated) if (!st.rows.has(keyOf(v))) return false;
    for (const v of p.inserted) if (st.rows.has(keyOf(v))) return false;
    const trend = p.trend ? trendPlan(p) : null;
    if (p.trend && !trend) return false;
    for (const k of p.removed) {
      const key = JSON.stringify(k);
      const e = st.rows.get(key);
      if (e.tr) e.tr.remove();
      st.rows.delete(key);
    }
    const flashes = [];
    for (const v of p.updated) updateRow(st.rows.get(keyOf(v)), v, flashes);
    const inserted = [];
    for (const v of p.inserted) {
      const e = makeRow(v);
      st.rows.set(e.key, e);
      inserted.push(e);
    }
    if (trend) patchTrend(trend);
    finishUpdate(p, flashes, inserted);
    return true;
  }

  function finishUpdate(meta, flashes, inserted) {
    st.version = meta.to_version !== undefined ? meta.to_version : meta.version;
    st.meta = meta;
    if (st.selected !== null && !st.rows.has(st.selected)) st.selected = null;
    reorder();
    applyRules();
    flash(flashes, inserted);
    showMeta();
    document.body.dataset.version = String(st.version);
  }

  // ---- trends ----------------------------------------------------------------------

  // A snapshot's `trend`: `series[i]` belongs to `rows[i]`.
  function takeTrend(snap) {
    const t = snap.trend;
    st.trend = t ? trendOf(t) : null;
    for (const e of st.rows.values()) e.series = null;
    if (t) snap.rows.forEach((values, i) => { st.rows.get(keyOf(values)).series = t.series[i] || null; });
    for (const e of st.rows.values()) if (e.spark) drawSpark(e);
  }
  const trendOf = (t) => ({
    metric: t.metric, start: Date.parse(t.start), step: t.step_ms, points: t.points, empty: t.empty,
  });

  // How a patch's trend applies: the steps every series moves on (-1: the series shown
  // are not comparable — another metric, step or empty value, or an earlier start — and
  // every row comes whole), or null when it does not fit what is shown (a change from a
  // point past 0 needs that row's earlier series).
  function trendPlan(p) {
    const t = trendOf(p.trend);
    const prev = st.trend;
    const k = prev && prev.metric === t.metric && prev.step === t.step && prev.empty === t.empty
      ? (t.start - prev.start) / t.step : -1;
    const shift = Number.isInteger(k) && k >= 0 ? k : -1;
    const removed = new Set(p.removed.map((key) => JSON.stringify(key)));
    for (const [key, at] of p.trend.changes) {
      if (at === 0) continue;
      const e = st.rows.get(JSON.stringify(key));
      if (shift < 0 || !e || !e.series || removed.has(e.key)) return null;
    }
    return { t, shift, changes: p.trend.changes };
  }

  // Every series drops its first `shift` points and is padded with `empty` ones, then
  // each change replaces a series from its point `at` on; a row left without one is
  // all `empty`.
  function patchTrend({ t, shift, changes }) {
    st.trend = t;
    const fit = (s) => {
      const out = s.slice(0, t.points);
      while (out.length < t.points) out.push(t.empty);
      return out;
    };
    const changed = new Set();
    for (const e of st.rows.values()) {
      if (!e.series || (shift === 0 && e.series.length === t.points)) continue;
      e.series = shift < 0 ? null : fit(e.series.slice(shift));
      changed.add(e);
    }
    for (const [key, at, points] of changes) {
      const e = st.rows.get(JSON.stringify(key));
      if (!e) continue; // not among the rows (a server's extra): nothing to show
      e.series = fit((e.series || []).slice(0, at).concat(points));
      changed.add(e);
    }
    for (const e of st.rows.values()) {
      if (!e.series) { e.series = fit([]); changed.add(e); }
    }
    for (const e of changed) if (e.spark) drawSpark(e);
  }

  // An inline SVG line of a row's series, from zero (or its lowest value) to its
  // highest; a null point (no data in that step) leaves a gap.
  const SPARK_W = 80, SPARK_H = 18;
  function drawSpark(e) {
    const s = e.series;
    // The values drawn, for scripts and tests.
    e.spark.dataset.series = s ? JSON.stringify(s) : '';
    if (!s || !s.length) { e.spark.textContent = ''; return; }
    let lo = 0, hi = 0, last = null;
    for (const v of s) {
      if (typeof v !== 'number') continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      last = v;
    }
    const dx = s.length > 1 ? (SPARK_W - 2) / (s.length - 1) : 0;
    const y = (v) => (hi > lo ? SPARK_H - 1 - ((v - lo) / (hi - lo)) * (SPARK_H - 2) : SPARK_H - 1).toFixed(1);
    const runs = [];
    let run = [];
    s.forEach((v, i) => {
      if (typeof v === 'number') run.push((1 + i * dx).toFixed(1) + ',' + y(v));
      else if (run.length) { runs.push(run); run = []; }
    });
    if (run.length) runs.push(run);
    // A lone point is a zero-length line, drawn as a dot by its round cap.
    const lines = runs.map((r) => '<polyline points="' + (r.length > 1 ? r : [r[0], r[0]]).join(' ') + '"/>');
    // Markup of numbers only: the SVG namespace comes from the HTML parser.
    e.spark.innerHTML = '<svg class="spark" width="' + SPARK_W + '" height="' + SPARK_H
      + '" viewBox="0 0 ' + SPARK_W + ' ' + SPARK_H + '" role="img" aria-label="trend, highest '
      + hi + ', last ' + (last === null ? 'none' : last) + '">' + lines.join('') + '</svg>';
  }

  // ---- formatting rules ----------------------------------------------------------

  function compareOp(col, v, op, ref) {
    if (v === null || v === undefined) return op === 'ne' ? ref !== null : (op === 'eq' && ref === null);
    const c = compareValues(col, v, ref);
    switch (op) {
      case 'gt': return c > 0;
      case 'gte': return c >= 0;
      case 'lt': return c < 0;
      case 'lte': return c <= 0;
      case 'eq': return c === 0;
      case 'ne': return c !== 0;
      default: return false;
    }
  }
  function mergeStyle(target, style) {
    if (style.color) target.color = style.color;
    if (style.background) target.background = style.background;
    if (style.bold) target.bold = true;
  }
  function applyRules() {
    const rules = st.info.format_rules || [];
    if (!rules.length) return;
    const entries = Array.from(st.rows.values());
    const styles = new Map(); // entry -> per column style
    const styleOf = (e, i) => {
      let s = styles.get(e);
      if (!s) { s = []; styles.set(e, s); }
      if (!s[i]) s[i] = {};
      return s[i];
    };
    for (const rule of rules) {
      const i = st.cols.findIndex((c) => c.name === rule.column);
      if (i < 0) continue;
      const col = st.cols[i];
      const nums = entries.map((e) => e.values[i]).filter((v) => typeof v === 'number');
      switch (rule.rule) {
        case 'threshold':
          for (const e of entries) if (compareOp(col, e.values[i], rule.op, rule.value)) mergeStyle(styleOf(e, i), rule.style);
          break;
        case 'top_n': {
          const dir = rule.direction === 'asc' ? 1 : -1;
          const ranked = entries.filter((e) => e.values[i] !== null && e.values[i] !== undefined)
            .sort((x, y) => dir * compareValues(col, x.values[i], y.values[i]))
            .slice(0, rule.n);
          for (const e of ranked) mergeStyle(styleOf(e, i), rule.style);
          break;
        }
        case 'color_scale': {
          if (!nums.length) break;
          // A loop, not a spread into Math.min: 125,000+ arguments throw RangeError.
          let lo = Infinity, hi = -Infinity;
          for (const v of nums) { if (v < lo) lo = v; if (v > hi) hi = v; }
          for (const e of entries) {
            const v = e.values[i];
            if (typeof v !== 'number') continue;
            const t = hi > lo ? Math.round(((v - lo) / (hi - lo)) * 100) : 100;
            styleOf(e, i).background = 'color-mix(in srgb, ' + rule.high + ' ' + t + '%, ' + rule.low + ')';
          }
          break;
        }
        case 'data_bar': {
          if (!nums.length) break;
          let max = 0;
          for (const v of nums) { const a = Math.abs(v); if (a > max) max = a; }
          for (const e of entries) {
            const v = e.values[i];
            if (typeof v !== 'number' || max <= 0) continue;
            const w = Math.max(0, Math.min(100, (Math.abs(v) / max) * 100)).toFixed(1);
            styleOf(e, i).bar = 'linear-gradient(90deg, ' + rule.color + ' ' + w + '%, transparent ' + w + '%)';
          }
          break;
        }
        default: break;
      }
    }
    for (const e of entries) {
      e.styles = styles.get(e) || [];
      paint(e);
    }
  }

  // Applies a shown row's rule styles to its cells (only those that changed).
  function paint(e) {
    if (!e.cells) return;
    const rules = st.info.format_rules || [];
    for (const rule of rules) {
      const i = st.cols.findIndex((c) => c.name === rule.column);
      if (i < 0) continue;
      const style = e.styles[i] || {};
      const key = JSON.stringify(style);
      if (e.styleKeys[i] === key) continue;
      e.styleKeys[i] = key;
      const td = e.cells[i];
      // Text on a rule's background keeps its own colour in both themes (rule
      // backgrounds are usually light): --lt-on-rule, overridable.
      td.style.color = style.color || (style.background ? 'var(--lt-on-rule)' : '');
      td.style.backgroundColor = style.background || '';
      td.style.backgroundImage = style.bar || '';
      td.style.fontWeight = style.bold ? '700' : '';
    }
  }

  // ---- status and metadata -------------------------------------------------------

  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s ago';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
  }
  function time(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString();
  }
  function setState(name, text) {
    el.state.dataset.state = name;
    el.state.textContent = text || name;
  }
  function showMeta() {
    const m = st.meta;
    const matched = st.matched;
    el.count.textContent = st.rows.size === matched
      ? st.rows.size.toLocaleString() + ' rows'
      : matched.toLocaleString() + ' of ' + st.rows.size.toLocaleString() + ' rows';
    el.capped.hidden = st.shown >= matched;
    el.capped.textContent = st.shown >= matched ? ''
      : 'Showing the first ' + st.shown.toLocaleString() + ' of ' + matched.toLocaleString()
        + ' rows in this order; sort, filter or download the CSV to see the others.';
    el.empty.hidden = matched > 0 || !m || m.status.state === 'loading';
    if (!m) return;
    const w = windowSelected();
    el.windowInfo.textContent = 'window ' + w + ' (' + time(m.window.start) + ' – ' + time(m.window.end) + ')';
    el.fetch.textContent = 'fetch ' + numberFormat(0, 1).format(m.fetch_ms) + ' ms';
    el.flags.textContent = [m.approximate ? 'approximate values' : '', m.partial ? 'partial: ' + m.partial : '']
      .filter(Boolean).join(' · ');
    tick();
    const s = m.status;
    if (s.state === 'stale') {
      el.stale.hidden = false;
      el.stale.textContent = 'Stale since ' + time(s.since) + ': ' + s.error.message
        + ' — showing the last good rows.';
    } else {
      el.stale.hidden = true;
      el.stale.textContent = '';
    }
    if (!st.paused) setState(s.state);
  }
  function tick() {
    const m = st.meta;
    el.updated.textContent = m && m.status.state !== 'loading' ? 'updated ' + ago(m.taken_at) : '';
  }
  function windowSelected() {
    return st.query.get('window') || (st.info ? st.info.window : '');
  }
  function showConn(text) {
    el.conn.hidden = !text;
    el.conn.textContent = text || '';
  }

  // ---- the stream ----------------------------------------------------------------

  const base = () => 'api/tables/' + encodeURIComponent(st.info.name);
  const qs = () => { const s = st.query.toString(); return s ? '?' + s : ''; };

  function close() {
    if (st.es) { st.es.close(); st.es = null; }
    clearTimeout(st.retryTimer);
  }
  // Opens a stream that starts with a full snapshot (a new EventSource sends no
  // Last-Event-ID); the browser's own reconnects resume with it.
  function open() {
    close();
    if (st.paused || document.hidden) return;
    const es = new EventSource(base() + '/stream' + qs());
    st.es = es;
    st.streams += 1;
    document.body.dataset.streams = String(st.streams);
    es.addEventListener('open', () => showConn(''));
    es.addEventListener('snapshot', (ev) => { applySnapshot(JSON.parse(ev.data)); showConn(''); });
    es.addEventListener('patch', (ev) => {
      if (!applyPatch(JSON.parse(ev.data))) {
        // Out of step (an update was missed): start again from a snapshot.
        open();
      }
    });
    es.addEventListener('error', () => {
      if (st.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (bad parameter, unknown table, token): say why.
        st.es = null;
        fetch(base() + qs(), { headers: { Accept: 'application/json' } })
          .then(async (r) => {
            const body = r.ok ? null : await r.json();
            const message = body && body.error ? body.error.message : 'The stream closed; reconnecting…';
            // A server without trends refuses `trend`: the view goes on without it.
            if (r.status === 400 && st.query.has('trend') && message.includes('trend')) {
              st.trendRefused = true;
              const q = new URLSearchParams(st.query);
              q.delete('trend');
              changeView(q, false);
            } else {
              showConn(message);
            }
          })
          .catch(() => showConn('The server cannot be reached; retrying…'));
        st.retryTimer = setTimeout(open, 5000);
      } else {
        showConn('Connection lost; reconnecting…');
      }
    });
  }

  function setPaused(paused) {
    st.paused = paused;
    el.pause.setAttribute('aria-pressed', String(paused));
    el.pause.textContent = paused ? 'Resume' : 'Pause';
    if (paused) { close(); setState('paused'); } else { open(); }
  }

  // ---- grouping, drill-down and server filters -------------------------------------
  //
  // All of it is in the view parameters: `group_by=a,b` (absent: every dimension, the
  // table's own view) and a filter per dimension, in the order they were added. A
  // drill on a value filters on it and appends the next dimension to `group_by`; so
  // the breadcrumb is read back from the parameters alone, and a link shows it too.

  const NOT_FILTERS = ['window', 'group_by', 'trend'];

  function grouping(q) {
    const g = q.get('group_by');
    return g === null ? st.dims.slice() : g.split(',').filter(Boolean);
  }
  // The server filters, by dimension in the order they were added: [{ name, values }].
  function filters(q) {
    const out = [];
    for (const [name, value] of q) {
      if (NOT_FILTERS.includes(name)) continue;
      const f = out.find((x) => x.name === name);
      if (f) f.values.push(value);
      else out.push({ name, values: [value] });
    }
    return out;
  }
  // What the page needs of a view: its filters, its grouping, and the dimension a
  // drill brings in (the first one in schema order not shown) when it is rolled up.
  function describeView(q) {
    const g = grouping(q);
    const next = q.has('group_by') ? st.dims.find((d) => !g.includes(d)) : undefined;
    return { filters: filters(q), grouping: g, next: next || null };
  }
  const labelOf = (name) => {
    const c = st.info.schema.columns.find((x) => x.name === name);
    return c ? c.label || c.name : name;
  };

  // One level up: the last filter goes, and with it the dimension its drill brought in
  // (a drill appends it to `group_by` after the filtered one).
  function levelUp(q) {
    const out = new URLSearchParams(q);
    const fs = filters(q);
    if (!fs.length) return out;
    const last = fs[fs.length - 1].name;
    out.delete(last);
    const g = grouping(q);
    const at = g.indexOf(last);
    if (q.has('group_by') && at >= 0 && at < g.length - 1) out.set('group_by', g.slice(0, -1).join(','));
    return out;
  }

  // A click on a dimension value: the server filters on it, and a rolled-up view
  // drills (brings in the next dimension).
  function narrow(dim, value) {
    const q = new URLSearchParams(st.query);
    q.delete(dim);
    q.append(dim, value); // last: the newest level of the breadcrumb
    if (st.view.next) q.set('group_by', st.view.grouping.concat([st.view.next]).join(','));
    changeView(q, true);
  }

  // Turns a dimension of the grouping on or off (at least one stays on); the grouping
  // follows schema order, and every dimension on is the table's own view.
  function toggleDimension(dim) {
    const on = new Set(st.view.grouping);
    if (on.has(dim)) on.delete(dim);
    else on.add(dim);
    if (!on.size) return;
    const q = new URLSearchParams(st.query);
    if (on.size === st.dims.length) q.delete('group_by');
    else q.set('group_by', st.dims.filter((d) => on.has(d)).join(','));
    changeView(q, true);
  }

  // The metric a trend follows: the first one of the default order, else the first.
  function trendMetric() {
    const metrics = st.info.schema.columns.filter((c) => c.role !== 'dimension').map((c) => c.name);
    return (st.info.default_order || []).map((o) => o.column).find((n) => metrics.includes(n)) || metrics[0];
  }

  function button(text, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.addEventListener('click', onClick);
    return b;
  }

  // The breadcrumb (All › each filter › by the dimensions left), the grouping toggles
  // and the trend toggle.
  function showView() {
    const v = st.view;
    const groupable = st.info.groupable === true;
    // `trends` says which tables have them (older servers: the groupable ones).
    const trends = st.info.trends === undefined ? groupable : st.info.trends === true;
    el.viewbar.hidden = !groupable && !trends && !v.filters.length;
    const levels = [st.query];
    for (let i = 0; i < v.filters.length; i += 1) levels.unshift(levelUp(levels[0]));
    el.crumbs.textContent = '';
    const crumb = (level, text) => {
      const li = document.createElement('li');
      if (level === v.filters.length) {
        const span = document.createElement('span');
        span.textContent = text;
        span.setAttribute('aria-current', 'page');
        li.append(span);
      } else {
        const b = button(text, () => changeView(levels[level], true));
        b.className = 'crumb';
        b.title = 'Back to this level';
        li.append(b);
      }
      el.crumbs.append(li);
      return li;
    };
    crumb(0, 'All');
    v.filters.forEach((f, i) => {
      const text = labelOf(f.name) + ' = ' + f.values.join(', ');
      const li = crumb(i + 1, text);
      li.className = 'chip';
      const x = button('×', () => {
        const q = new URLSearchParams(st.query);
        q.delete(f.name);
        changeView(q, true);
      });
      x.className = 'remove';
      x.setAttribute('aria-label', 'Remove the filter ' + text);
      li.append(x);
    });
    const by = v.grouping.filter((d) => !v.filters.some((f) => f.name === d && f.values.length === 1));
    if (st.query.has('group_by') && by.length) {
      const li = document.createElement('li');
      li.className = 'by';
      li.textContent = 'by ' + by.map(labelOf).join(', ');
      el.crumbs.append(li);
    }
    el.grouping.hidden = !groupable;
    el.grouping.querySelectorAll('button').forEach((b) => b.remove());
    if (groupable) {
      for (const d of st.dims) {
        const on = v.grouping.includes(d);
        const b = button(labelOf(d), () => toggleDimension(d));
        b.dataset.dim = d;
        b.setAttribute('aria-pressed', String(on));
        // The last dimension on stays on: a grouping needs one.
        b.disabled = on && v.grouping.length === 1;
        el.grouping.append(b);
      }
    }
    el.trend.hidden = !trends || st.trendRefused;
    el.trend.setAttribute('aria-pressed', String(st.query.has('trend')));
  }

  // ---- choosing the table and view -----------------------------------------------

  function selectTable(name, query) {
    close();
    const info = st.tables.find((t) => t.name === name) || st.tables[0];
    st.info = info;
    st.dims = info.schema.columns.filter((c) => c.role === 'dimension').map((c) => c.name);
    st.query = query;
    st.view = describeView(query);
    // A grouping's columns come with its first snapshot (setColumns).
    st.cols = query.has('group_by') ? [] : info.schema.columns;
    st.keyIdx = st.cols.map((c, i) => (c.role === 'dimension' ? i : -1)).filter((i) => i >= 0);
    st.trend = null;
    st.rows.clear();
    st.matched = 0;
    st.shown = 0;
    st.sort = [];
    st.selected = null;
    st.version = null;
    st.meta = null;
    el.body.textContent = '';
    document.title = info.title + ' · livetable';
    el.title.textContent = info.title;
    el.tableSelect.value = info.name;
    el.windowSelect.textContent = '';
    for (const w of info.allowed_windows) {
      const o = document.createElement('option');
      o.value = w;
      o.textContent = w;
      el.windowSelect.append(o);
    }
    el.windowSelect.value = windowSelected();
    const csv = new URLSearchParams(query);
    csv.delete('trend'); // rows only
    el.csv.href = base() + '.csv' + (csv.toString() ? '?' + csv : '');
    el.csv.setAttribute('download', info.name + '.csv');
    showView();
    buildHeader();
    setState('loading');
    showMeta();
    open();
  }

  // Another view of the same table; the sort and the filter box stay.
  function changeView(query, push) {
    const sort = st.sort;
    selectTable(st.info.name, query);
    st.sort = sort;
    showSort();
    if (push) history.pushState(null, '', pageUrl());
    else history.replaceState(null, '', pageUrl());
  }

  function pageUrl() {
    const p = new URLSearchParams(st.query);
    p.set('table', st.info.name);
    return '?' + p.toString();
  }

  async function start() {
    const theme = localStorage.getItem('livetable-theme');
    if (theme === 'light' || theme === 'dark') setTheme(theme);
    let body;
    try {
      const r = await fetch('api/tables', { headers: { Accept: 'application/json' } });
      body = await r.json();
      if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    } catch (e) {
      showConn('Cannot load the tables: ' + e.message);
      return;
    }
    st.tables = body.tables;
    if (!st.tables.length) { showConn('No table is served here.'); return; }
    for (const t of st.tables) {
      const o = document.createElement('option');
      o.value = t.name;
      o.textContent = t.title;
      el.tableSelect.append(o);
    }
    el.tableLabel.hidden = st.tables.length < 2;
    const params = new URLSearchParams(location.search);
    const name = params.get('table');
    params.delete('table');
    // The server redirects `?token=` away; should one remain (an old server, a
    // proxy), it is neither a filter nor part of the CSV link, and leaves the address.
    if (params.has('token')) {
      params.delete('token');
      const left = new URLSearchParams(location.search);
      left.delete('token');
      const q = left.toString();
      history.replaceState(null, '', q ? '?' + q : location.pathname);
    }
    selectTable(name, params);
    setInterval(tick, 1000);
  }

  function setTheme(theme) {
    if (theme === 'auto') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    el.theme.textContent = 'Theme: ' + theme;
  }

  // ---- events --------------------------------------------------------------------

  el.tableSelect.addEventListener('change', () => {
    selectTable(el.tableSelect.value, new URLSearchParams());
    history.replaceState(null, '', pageUrl());
  });
  el.windowSelect.addEventListener('change', () => {
    const q = new URLSearchParams(st.query);
    q.set('window', el.windowSelect.value);
    changeView(q, false); // a new window, the same way of looking at it
  });
  el.filter.addEventListener('input', () => {
    st.filter = el.filter.value.trim().toLowerCase();
    reorder();
    showMeta();
  });
  el.pause.addEventListener('click', () => setPaused(!st.paused));
  el.trend.addEventListener('click', () => {
    const q = new URLSearchParams(st.query);
    if (q.has('trend')) q.delete('trend');
    else q.set('trend', trendMetric());
    changeView(q, true);
  });
  // Back and forward walk through the views a viewer chose.
  window.addEventListener('popstate', () => {
    const params = new URLSearchParams(location.search);
    const name = params.get('table');
    params.delete('table');
    if (st.info) selectTable(name, params);
  });
  el.theme.addEventListener('click', () => {
    const order = ['auto', 'light', 'dark'];
    const now = document.documentElement.dataset.theme || 'auto';
    const next = order[(order.indexOf(now) + 1) % order.length];
    setTheme(next);
    localStorage.setItem('livetable-theme', next);
  });

  function select(tr, focus) {
    for (const old of el.body.querySelectorAll('tr.selected')) {
      old.classList.remove('selected');
      old.setAttribute('aria-selected', 'false');
      old.tabIndex = -1;
    }
    // A row's value buttons are tab stops only while it is selected.
    for (const b of el.body.querySelectorAll('button[tabindex="0"]')) b.tabIndex = -1;
    st.selected = tr ? tr.dataset.key : null;
    if (!tr) return;
    for (const b of tr.querySelectorAll('button')) b.tabIndex = 0;
    tr.classList.add('selected');
    tr.setAttribute('aria-selected', 'true');
    tr.tabIndex = 0;
    if (focus) tr.focus();
  }
  el.body.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-dim]');
    if (b) { narrow(b.dataset.dim, b.dataset.value); return; }
    const tr = ev.target.closest('tr');
    if (tr) select(tr.dataset.key === st.selected ? null : tr, false);
  });
  // Arrow keys move the selection through the visible rows; Escape clears it.
  el.body.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr');
    if (!tr) return;
    const step = { ArrowDown: 1, ArrowUp: -1 }[ev.key];
    if (step) {
      let next = step > 0 ? tr.nextElementSibling : tr.previousElementSibling;
      while (next && next.hidden) next = step > 0 ? next.nextElementSibling : next.previousElementSibling;
      if (next) { select(next, true); ev.preventDefault(); }
    } else if (ev.key === 'Escape') {
      select(null, false);
    }
  });
  // Tab into the table lands on the selected row, or the first visible one.
  el.scroll.addEventListener('focusin', (ev) => {
    if (ev.target === el.scroll && !st.selected) {
      const first = el.body.querySelector('tr:not([hidden])');
      if (first) select(first, true);
    }
  });
  el.scroll.tabIndex = 0;

  // A hidden tab closes its stream, so an unwatched table stops querying; it reopens
  // (from a fresh snapshot, applied in place) when the tab is shown again.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) close();
    else if (!st.paused && st.info) open();
  });

  start();
})();
