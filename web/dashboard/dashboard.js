// The operations dashboard: figures of the read model and the pipeline's health, pushed by the
// query API as server-sent events (/api/dashboard/stream, same origin; one event per change, at
// most two a second). The charts are SVG drawn here; the sparklines keep the last two minutes
// of samples seen by this page. Every figure's element carries its plain value in data-value;
// body[data-state] is connecting, live or reconnecting, body[data-updates] counts the documents,
// body[data-stalled] says whether the pipeline is stalled (the reason in #stall-reason).
//
// The dead-letter panel lists GET /api/dead-letters (same origin) and acts through the command
// API (another origin: ?command=<its URL> on this page's address, else this host's port 8080),
// which answers CORS for this page. When it answers 401 the page asks for its token and keeps it
// in sessionStorage only (this tab, until it closes).
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const HISTORY = 120;
const STATUSES = ['CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'];
const history = { at: [], rate: [], lag: [], backlog: [] };
const fmtInt = new Intl.NumberFormat('en-US');
const fmtMoney = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

// Shows text in #id and keeps raw in data-value; flashes the figure when it changed.
function setFigure(id, raw, text) {
  const e = $(id);
  const value = raw === null || raw === undefined ? '' : String(raw);
  if (e.dataset.value === value && e.textContent === text) return;
  const changed = e.dataset.value !== '' && e.dataset.value !== value;
  e.dataset.value = value;
  e.textContent = text;
  if (changed) {
    e.classList.remove('bump');
    void e.getBoundingClientRect(); // restart the animation
    e.classList.add('bump');
  }
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return 'n/a';
  if (ms < 1000) return `${fmtInt.format(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function truncate(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function push(series, v) {
  series.push(v === null || v === undefined ? 0 : Number(v));
  if (series.length > HISTORY) series.shift();
}

// The points of values (oldest first) spread over [x0, x1], scaled to max between y0 (bottom)
// and y1 (top).
function points(values, max, x0, x1, y0, y1) {
  const step = (x1 - x0) / Math.max(values.length - 1, 1);
  return values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(y0 - (v / max) * (y0 - y1)).toFixed(1)}`);
}

// A sparkline of values (oldest first) in an SVG with a 240x48 viewBox.
function spark(id, values) {
  const s = $(id);
  s.replaceChildren();
  if (values.length < 2) return;
  const pts = points(values, Math.max(...values, 1e-9), 0, 240, 46, 4);
  el('path', { class: 'area', d: `M0,48 L${pts.join(' L')} L240,48 Z` }, s);
  el('polyline', { class: 'line', points: pts.join(' ') }, s);
}

// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((k) => k * p).find((m) => m >= v);
}

// The throughput chart: events per second with a labelled axis, in a 1000x170 viewBox.
function throughput(values, times) {
  const s = $('throughput');
  const [x0, x1, y0, y1] = [48, 992, 150, 12];
  const max = niceMax(Math.max(...values, 0));
  s.replaceChildren();
  for (const f of [0, 0.5, 1]) {
    const y = y0 - f * (y0 - y1);
    el('line', { class: 'grid', x1: x0, x2: x1, y1: y, y2: y }, s);
    el('text', { class: 'axis', x: x0 - 8, y: y + 4, 'text-anchor': 'end' }, s, fmtInt.format(f * max));
  }
  const time = (t) => new Date(t).toLocaleTimeString();
  if (times.length > 1) el('text', { class: 'axis', x: x0, y: 168 }, s, time(times[0]));
  if (times.length > 0) el('text', { class: 'axis', x: x1, y: 168, 'text-anchor': 'end' }, s, time(times.at(-1)));
  if (values.length < 2) return;
  const pts = points(values, max, x0, x1, y0, y1);
  el('path', { class: 'area', d: `M${x0},${y0} L${pts.join(' L')} L${x1},${y0} Z` }, s);
  el('polyline', { class: 'line', points: pts.join(' ') }, s);
}

// Horizontal bars: rows of {key, label, value, cls, attrs} in a 400-wide SVG.
function bars(id, rows) {
  const s = $(id);
  const rowH = 38;
  s.replaceChildren();
  s.setAttribute('viewBox', `0 0 400 ${Math.max(rows.length, 1) * rowH}`);
  const max = Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((r, i) => {
    const g = el('g', { class: 'row', transform: `translate(0 ${i * rowH})`, ...r.attrs }, s);
    el('text', { class: 'label', x: 0, y: 23 }, g, truncate(r.label, 15));
    el('rect', { class: 'track', x: 118, y: 10, width: 222, height: 18, rx: 4 }, g);
    const w = r.value > 0 ? Math.max(3, (r.value / max) * 222) : 0;
    el('rect', { class: r.cls, x: 118, y: 10, width: w.toFixed(1), height: 18, rx: 4 }, g);
    el('text', { class: 'num', x: 400, y: 23, 'text-anchor': 'end' }, g, fmtInt.format(r.value));
  });
}

function renderStatuses(byStatus) {
  bars('status-chart', STATUSES.map((st) => ({
    label: st.charAt(0) + st.slice(1).toLowerCase(),
    value: Number(byStatus[st] ?? 0),
    cls: `bar s-${st}`,
    attrs: { 'data-status': st, 'data-value': Number(byStatus[st] ?? 0) },
  })));
}

function renderTop(products) {
  bars('top-chart', products.map((p) => ({
    label: p.name,
    value: Number(p.unitsSold),
    cls: 'bar product',
    attrs: { 'data-product-id': p.productId, 'data-units': p.unitsSold, 'data-revenue': p.revenue },
  })));
  $('top-empty').hidden = products.length > 0;
  $('top-chart').classList.toggle('hidden', products.length === 0);
}

function renderLowStock(low) {
  const list = $('low-stock');
  setFigure('low-stock-count', low.count, fmtInt.format(low.count));
  list.replaceChildren();
  for (const p of low.products) {
    const li = document.createElement('li');
    li.dataset.productId = String(p.productId);
    li.dataset.available = String(p.available);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = p.name;
    name.title = `product ${p.productId}`;
    const qty = document.createElement('span');
    qty.className = 'qty';
    qty.textContent = `${fmtInt.format(p.available)} / ${fmtInt.format(p.threshold)}`;
    const bar = document.createElementNS(SVG, 'svg');
    bar.setAttribute('viewBox', '0 0 100 6');
    bar.setAttribute('preserveAspectRatio', 'none');
    el('rect', { class: 'track', width: 100, height: 6, rx: 3 }, bar);
    const frac = p.threshold > 0 ? Math.max(0, Math.min(1, p.available / p.threshold)) : 0;
    el('rect', { class: 'fill', width: (frac * 100).toFixed(1), height: 6, rx: 3 }, bar);
    li.append(name, qty, bar);
    list.appendChild(li);
  }
  $('low-empty').hidden = low.count > 0;
}

function stageAge(ms) {
  return ms === null || ms === undefined ? 'n/a' : fmtMs(ms);
}

function renderPipeline(p) {
  const stalled = Boolean(p.stalled);
  document.body.dataset.stalled = String(stalled);
  $('stall').hidden = !stalled;
  $('stall').dataset.stalled = String(stalled);
  $('stall-reason').textContent = stalled ? p.stalledReason : '';
  $('stall-after').textContent = fmtMs(p.stallAfterMs);
  const st = p.stages ?? {};
  setFigure('stage-outbox-backlog', p.outboxBacklog,
    p.outboxBacklog === null ? 'n/a' : fmtInt.format(p.outboxBacklog));
  setFigure('stage-outbox-lag', p.outboxOldestAgeMs, stageAge(p.outboxOldestAgeMs));
  $('relay-state').textContent = p.relayStatusAgeMs === null ? 'no relay status yet'
    : `${p.relayBlocked ? 'blocked · ' : ''}reported ${fmtMs(p.relayStatusAgeMs)} ago`;
  $('stage-outbox').classList.toggle('stale', (p.relayStatusAgeMs ?? 0) > p.stallAfterMs);
  const queues = p.queues ?? {};
  for (const tr of document.querySelectorAll('#queues tr[data-role]')) {
    const q = queues[tr.dataset.role];
    const td = tr.querySelector('td');
    td.dataset.value = q ? String(q.messages) : '';
    td.textContent = q ? fmtInt.format(q.messages) : 'n/a';
    td.classList.toggle('alert', Boolean(q) && q.messages > 0 && tr.dataset.role === 'dead');
  }
  setFigure('consumers', p.consumers, p.consumers === null ? 'n/a' : fmtInt.format(p.consumers));
  $('consumer-state').textContent = p.consumerStatusAgeMs === null ? 'no queue reading yet'
    : `read ${fmtMs(p.consumerStatusAgeMs)} ago`;
  $('stage-broker').classList.toggle('stale', (p.consumerStatusAgeMs ?? 0) > p.stallAfterMs);
  setFigure('stage-read-lag', st.readModel?.lagMs ?? null, stageAge(st.readModel?.lagMs));
  setFigure('stage-read-age', p.lastAppliedAgeMs, stageAge(p.lastAppliedAgeMs));
}

// --- the dead-letter panel -------------------------------------------------------------------

const COMMAND_URL = new URLSearchParams(location.search).get('command')
  ?? `${location.protocol}//${location.hostname}:8080`;
const TOKEN_KEY = 'commandToken';
let deadSeen = null;
let deadBusy = false;

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

async function loadDeadLetters() {
  if (deadBusy) return;
  deadBusy = true;
  try {
    const res = await fetch('/api/dead-letters?limit=50');
    if (!res.ok) return;
    const page = await res.json();
    const body = $('dead-letters').querySelector('tbody');
    body.replaceChildren();
    for (const d of page.items) {
      const tr = document.createElement('tr');
      tr.dataset.eventId = d.eventId;
      tr.dataset.deadAt = d.deadAt;
      tr.dataset.attempts = String(d.attempts);
      const ev = cell(tr, d.eventType ?? '(unknown type)');
      ev.title = d.eventId;
      cell(tr, d.aggregateType ? `${d.aggregateType} ${d.aggregateId ?? ''}` : '–');
      cell(tr, d.sqlstate ? `${d.reason} (${d.sqlstate})` : d.reason, 'reason');
      cell(tr, fmtInt.format(d.attempts));
      cell(tr, new Date(d.deadAt).toLocaleTimeString());
      const actions = cell(tr, '');
      for (const [action, label] of [['requeue', 'Requeue'], ['drop', 'Drop']]) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = action;
        b.textContent = label;
        b.addEventListener('click', () => act(d.eventId, action, tr));
        actions.appendChild(b);
      }
      body.appendChild(tr);
    }
    setFigure('dead-count', page.total, fmtInt.format(page.total));
    $('dead-empty').hidden = page.items.length > 0;
    $('dead-letters').classList.toggle('hidden', page.items.length === 0);
  } catch {
    // the next document tries again
  } finally {
    deadBusy = false;
  }
}

async function post(url) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(url, { method: 'POST', headers, mode: 'cors' });
}

async function act(eventId, action, tr) {
  const url = `${COMMAND_URL}/api/dead-letters/${encodeURIComponent(eventId)}/${action}`;
  for (const b of tr.querySelectorAll('button')) b.disabled = true;
  const say = (text) => { $('dl-message').textContent = text; };
  try {
    let res = await post(url);
    if (res.status === 401) {
      const token = window.prompt('The command API needs its token (kept for this tab only):');
      if (!token) {
        say(`${action} of ${eventId} cancelled: no token`);
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      res = await post(url);
      if (res.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    }
    const json = await res.json().catch(() => ({}));
    if (res.ok) {
      say(`${json.status} ${eventId}`);
      tr.remove();
    } else {
      say(`${action} of ${eventId} failed: ${json.error?.message ?? res.status}`);
    }
  } catch (e) {
    say(`${action} of ${eventId} failed: the command API at ${COMMAND_URL} cannot be reached`);
  } finally {
    for (const b of tr.querySelectorAll('button')) b.disabled = false;
    deadSeen = null; // reload the list with the next document
  }
}

function render(doc) {
  setFigure('orders-today', doc.today.orders, fmtInt.format(doc.today.orders));
  setFigure('revenue-today', doc.today.revenue, fmtMoney.format(doc.today.revenue));
  $('orders-total').textContent = `${fmtInt.format(doc.totals.orders)} all time`;
  $('revenue-total').textContent = `${fmtMoney.format(doc.totals.revenue)} all time`;

  const p = doc.pipeline;
  setFigure('rate', p.eventsPerSecond, Number(p.eventsPerSecond).toFixed(1));
  setFigure('lag', p.projectionLagMs, fmtMs(p.projectionLagMs));
  setFigure('backlog', p.outboxBacklog, p.outboxBacklog === null ? 'n/a' : fmtInt.format(p.outboxBacklog));
  $('backlog').classList.toggle('alert', (p.outboxOldestAgeMs ?? 0) > 5000);
  push(history.rate, p.eventsPerSecond);
  push(history.lag, p.projectionLagMs);
  push(history.backlog, p.outboxBacklog);
  spark('rate-spark', history.rate);
  spark('lag-spark', history.lag);
  spark('backlog-spark', history.backlog);
  history.at.push(doc.at);
  if (history.at.length > HISTORY) history.at.shift();
  throughput(history.rate, history.at);

  renderPipeline(p);
  // the list again when the count changed, and every 5th document (a death replaces a death)
  const updates = Number(document.body.dataset.updates);
  if (doc.deadLetters !== deadSeen || updates % 5 === 0) {
    deadSeen = doc.deadLetters;
    loadDeadLetters();
  }

  renderStatuses(doc.byStatus);
  renderTop(doc.topProducts);
  renderLowStock(doc.lowStock);

  const notes = [];
  if (p.lastEventAt) notes.push(`last event applied ${new Date(p.lastEventAt).toLocaleTimeString()}`);
  notes.push(p.outboxBacklog === null ? 'no status from the relay yet'
    : `oldest unpublished ${fmtMs(p.outboxOldestAgeMs ?? 0)}`);
  $('pipeline-note').textContent = notes.join(' · ');
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
}

function setState(state, text) {
  document.body.dataset.state = state;
  $('live').textContent = text;
}

function connect() {
  const source = new EventSource('/api/dashboard/stream');
  source.onopen = () => setState('live', 'live');
  source.onmessage = (e) => {
    let doc;
    try {
      doc = JSON.parse(e.data);
    } catch {
      return;
    }
    render(doc);
    setState('live', `live · ${new Date(doc.at).toLocaleTimeString()}`);
  };
  source.onerror = () => {
    setState('reconnecting', 'reconnecting…');
    if (source.readyState === EventSource.CLOSED) {
      // refused (e.g. 503 while the server restarts): EventSource gives up, so start over
      setTimeout(connect, 3000);
    }
  };
}

connect();
