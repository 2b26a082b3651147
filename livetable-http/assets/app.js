// livetable live page: one table, kept up to date from a server-sent-events stream.
//
// Patches are applied in place, keyed by the dimension values, so the viewer's sort,
// filter, scroll position, selection and focus survive every update. Every URL is
// relative, so the page works wherever the router is nested.
//
// Every row is kept in memory, but only the first MAX_SHOWN rows in the current order
// that pass the filter box are in the DOM (a note says so): a table of 100,000 rows
// stays responsive. Rows get DOM elements only when shown.
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
    capped: $('capped'),
  };

  const st = {
    tables: [],
    info: null,          // the table's description from api/tables
    cols: [],
    keyIdx: [],
    query: new URLSearchParams(), // view parameters: window and dimension filters
    rows: new Map(),     // key -> { key, values, tr, cells, styleKeys, styles, text }
    matched: 0,          // rows passing the filter box
    shown: 0,            // of those, rows in the DOM (at most MAX_SHOWN)
    sort: [],            // [{ col, dir }] chosen by the viewer; empty: the default order
    filter: '',
    selected: null,      // key of the selected row
    version: null,
    meta: null,          // window, taken_at, fetch_ms, approximate, partial, status
    paused: false,
    es: null,
    retryTimer: null,
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
  function activeOrder() {
    if (st.sort.length) return st.sort;
    return (st.info.default_order || [])
      .map((o) => ({ col: st.cols.findIndex((c) => c.name === o.column), dir: o.direction === 'desc' ? -1 : 1 }))
      .filter((o) => o.col >= 0);
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
      if (e.tr && !keep.has(e)) { e.tr.remove(); e.tr = null; e.cells = null; }
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
    showSort();
  }

  function showSort() {
    const order = activeOrder();
    Array.from(el.head.children).forEach((th, i) => {
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
    const numeric = st.cols[col].type === 'int' || st.cols[col].type === 'float';
    const first = numeric ? -1 : 1;
    const current = st.sort.length ? st.sort : activeOrder();
    const at = current.findIndex((o) => o.col === col);
    if (add) {
      st.sort = current.slice();
      if (at >= 0) st.sort[at] = { col, dir: -st.sort[at].dir };
      else st.sort.push({ col, dir: first });
    } else if (at === 0 && current.length === 1) {
      st.sort = [{ col, dir: -current[0].dir }];
    } else {
      st.sort = [{ col, dir: first }];
    }
    showSort();
    reorder();
  }

  // A row's data; its DOM elements are made when it is shown (rowElement).
  function makeRow(values) {
    return { key: keyOf(values), values, tr: null, cells: null, styleKeys: [], styles: [], text: null };
  }

  function rowElement(entry) {
    if (entry.tr) return entry.tr;
    const values = entry.values;
    const tr = document.createElement('tr');
    tr.tabIndex = -1;
    entry.cells = st.cols.map((col, i) => {
      const td = document.createElement('td');
      td.dataset.col = col.name;
      td.className = cellClass(col, values[i]);
      td.textContent = formatCell(col, values[i]);
      tr.append(td);
      return td;
    });
    tr.dataset.key = entry.key;
    if (entry.key === st.selected) { tr.classList.add('selected'); tr.tabIndex = 0; }
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
      td.textContent = formatCell(col, v);
      td.className = cellClass(col, v);
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
    finishUpdate(snap, first ? [] : flashes, inserted);
  }

  // Returns false when the patch does not fit what is shown (a missed update).
  function applyPatch(p) {
    if (st.version === null || p.from_version !== st.version) return false;
    for (const k of p.removed) if (!st.rows.has(JSON.stringify(k))) return false;
    for (const v of p.updated) if (!st.rows.has(keyOf(v))) return false;
    for (const v of p.inserted) if (st.rows.has(keyOf(v))) return false;
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
          .then((r) => (r.ok ? null : r.json()))
          .then((body) => showConn(body && body.error ? body.error.message : 'The stream closed; reconnecting…'))
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

  // ---- choosing the table and view -----------------------------------------------

  function selectTable(name, query) {
    close();
    const info = st.tables.find((t) => t.name === name) || st.tables[0];
    st.info = info;
    st.cols = info.schema.columns;
    st.keyIdx = st.cols.map((c, i) => (c.role === 'dimension' ? i : -1)).filter((i) => i >= 0);
    st.query = query;
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
    el.csv.href = base() + '.csv' + qs();
    el.csv.setAttribute('download', info.name + '.csv');
    buildHeader();
    setState('loading');
    showMeta();
    open();
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
    const sort = st.sort;
    selectTable(st.info.name, q);
    st.sort = sort; // a new window, the same way of looking at it
    showSort();
    history.replaceState(null, '', pageUrl());
  });
  el.filter.addEventListener('input', () => {
    st.filter = el.filter.value.trim().toLowerCase();
    reorder();
    showMeta();
  });
  el.pause.addEventListener('click', () => setPaused(!st.paused));
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
    st.selected = tr ? tr.dataset.key : null;
    if (!tr) return;
    tr.classList.add('selected');
    tr.setAttribute('aria-selected', 'true');
    tr.tabIndex = 0;
    if (focus) tr.focus();
  }
  el.body.addEventListener('click', (ev) => {
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
