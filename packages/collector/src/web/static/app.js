// The Outpost status page: plain browser JavaScript, no build step. It reads the collector's admin
// JSON API with the token kept in sessionStorage (this tab only, gone when the tab closes).
const TOKEN_KEY = 'outpost.adminToken';
const REFRESH_MS = 10_000;
const CHARTS = [
  { name: 'system.cpu.utilization', title: 'CPU utilization', format: (v) => `${(v * 100).toFixed(0)}%` },
  { name: 'system.memory.usage', title: 'Memory usage', format: bytes },
  { name: 'system.filesystem.usage', title: 'Disk usage', format: bytes },
  // A cumulative byte counter: drawn as a rate.
  { name: 'system.network.io', title: 'Network I/O', format: (v) => `${bytes(v)}/s`, rate: true },
];
const COLORS = ['#2e6fd8', '#d8622e', '#2ea86b', '#9b4fd8'];
const MAX_SERIES = 4;
const MAX_POINTS = 20_000;
// Longer ranges are drawn from hourly rollups: raw points over days are too many to fetch every
// refresh. Shorter ones use `auto`: raw where it is still stored, rollups where retention removed it.
const HOURLY_FROM_HOURS = 24;

const $ = (id) => document.getElementById(id);

function bytes(v) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = Math.abs(v);
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${v < 0 ? '-' : ''}${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function number(v) {
  if (typeof v !== 'number') return v ?? '';
  return Math.abs(v) >= 1000 || Number.isInteger(v)
    ? String(Math.round(v))
    : String(Number(v.toPrecision(3)));
}

function ago(ms) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

class Unauthorized extends Error {}

async function api(path) {
  const res = await fetch(path, {
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` },
  });
  if (res.status === 401) throw new Unauthorized('the admin token was refused');
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `${path} answered ${res.status}`);
  return body;
}

function fillTable(id, rows, emptyText, columns) {
  const tbody = $(id).querySelector('tbody');
  tbody.replaceChildren();
  if (rows.length === 0) {
    tbody.append(el('tr', {}, el('td', { class: 'empty', colspan: String(columns) }, emptyText)));
    return;
  }
  for (const cells of rows) tbody.append(el('tr', {}, ...cells.map((c) => el('td', {}, c))));
}

function stateBadge(state) {
  return el('span', { class: `state ${state}` }, state);
}

async function metricSeries(def, agentId, from, resolution) {
  const name = def.name;
  const points = [];
  let after = '';
  for (;;) {
    const page = await api(
      `/api/v1/metrics?agent=${encodeURIComponent(agentId)}&name=${encodeURIComponent(name)}&from=${from}&resolution=${resolution}&limit=10000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    );
    points.push(...page.metrics);
    if (!page.more || !page.next || points.length >= MAX_POINTS) break;
    after = page.next;
  }
  // Labelled by the attributes that differ between series only (e.g. "state=used", not the mountpoint
  // every series shares).
  const keys = new Set(points.flatMap((m) => Object.keys(m.attrs)));
  const varying = [...keys].filter((k) => new Set(points.map((m) => String(m.attrs[k]))).size > 1);
  const series = new Map();
  for (const m of points) {
    const label = varying
      .filter((k) => m.attrs[k] !== undefined)
      .map((k) => `${k.split('.').at(-1)}=${m.attrs[k]}`)
      .join(' ');
    if (!series.has(label)) series.set(label, []);
    // An hourly counter: its largest value is the closest to the hour's last reading.
    series.get(label).push([m.ts, def.rate && m.resolution === 'hour' ? m.max : m.value]);
  }
  if (def.rate) {
    for (const [label, pts] of series) {
      const rates = [];
      for (let i = 1; i < pts.length; i++) {
        const seconds = (pts[i][0] - pts[i - 1][0]) / 1000;
        const delta = pts[i][1] - pts[i - 1][1];
        // A counter that went down was reset (agent or host restart): no rate for that step.
        if (seconds > 0 && delta >= 0) rates.push([pts[i][0], delta / seconds]);
      }
      series.set(label, rates);
    }
  }
  // The busiest series first: with many devices or mountpoints only the largest are drawn.
  return [...series.entries()]
    .sort((a, b) => (b[1].at(-1)?.[1] ?? 0) - (a[1].at(-1)?.[1] ?? 0))
    .slice(0, MAX_SERIES);
}

function chart(def, series, from, to) {
  const width = 300;
  const height = 110;
  const pad = { left: 4, right: 4, top: 14, bottom: 4 };
  const root = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'data-metric': def.name,
  });
  const values = series.flatMap(([, pts]) => pts.map((p) => p[1]));
  if (values.length === 0) {
    const text = svg('text', { x: 8, y: height / 2 });
    text.textContent = 'no data in this range';
    root.append(text);
    return root;
  }
  // The x axis starts at the first point when the data is younger than the range asked for.
  const first = Math.min(...series.flatMap(([, pts]) => pts.map((p) => p[0])));
  const start = Math.max(from, first);
  const min = Math.min(0, ...values);
  const max = Math.max(...values) || 1;
  const x = (ts) => pad.left + ((ts - start) / (to - start || 1)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - min) / (max - min || 1)) * (height - pad.top - pad.bottom);
  const top = svg('text', { x: 4, y: 10 });
  top.textContent = `max ${def.format(max)}`;
  root.append(top);
  series.forEach(([, pts], i) => {
    root.append(
      svg('polyline', {
        fill: 'none',
        stroke: COLORS[i % COLORS.length],
        'stroke-width': 1.5,
        points: pts.map(([ts, v]) => `${x(ts).toFixed(1)},${y(v).toFixed(1)}`).join(' '),
      }),
    );
    // A line of one point draws nothing: the first hour of rollups, or a series that just started.
    if (pts.length === 1) {
      const [ts, v] = pts[0];
      root.append(
        svg('circle', { cx: x(ts).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: COLORS[i % COLORS.length] }),
      );
    }
  });
  return root;
}

async function hostCharts(agent, hours) {
  const to = Date.now();
  const from = to - hours * 3_600_000;
  const resolution = hours >= HOURLY_FROM_HOURS ? 'hour' : 'auto';
  const figures = await Promise.all(
    CHARTS.map(async (def) => {
      const series = await metricSeries(def, agent.id, from, resolution);
      const legend = el('div', { class: 'legend' });
      series.forEach(([label, pts], i) => {
        const last = pts.at(-1)?.[1];
        const item = el('div', {}, `${label || 'total'}: ${last === undefined ? '' : def.format(last)}`);
        // Through CSSOM: the page's Content-Security-Policy refuses inline style attributes.
        item.style.color = COLORS[i % COLORS.length];
        legend.append(item);
      });
      const caption = resolution === 'hour' ? `${def.title} (hourly)` : def.title;
      return el(
        'figure',
        { 'data-resolution': resolution },
        el('figcaption', {}, caption),
        chart(def, series, from, to),
        legend,
      );
    }),
  );
  return el(
    'div',
    { class: 'host', 'data-agent': agent.id },
    el('h3', {}, `${agent.hostname} `, stateBadge(agent.state)),
    el('div', { class: 'charts' }, ...figures),
  );
}

async function refresh() {
  const hours = Number($('hours').value);
  const [{ agents }, { alerts }, { transitions }] = await Promise.all([
    api('/api/v1/agents'),
    api('/api/v1/alert/alerts?state=firing'),
    api('/api/v1/alert/history?limit=20'),
  ]);
  fillTable(
    'agents',
    agents.map((a) => [a.hostname, a.id, stateBadge(a.state), a.version, ago(a.lastHeartbeatAt)]),
    'No agent has registered yet.',
    5,
  );
  fillTable(
    'firing',
    alerts.map((a) => [a.name, a.labels.hostname ?? '', number(a.value), ago(a.since), a.source]),
    'Nothing is firing.',
    5,
  );
  fillTable(
    'history',
    transitions.map((t) => [
      new Date(t.at).toLocaleString(),
      t.name,
      t.labels.hostname ?? '',
      el('span', {}, `${t.from} → `, stateBadge(t.to)),
      number(t.value),
    ]),
    'No alert transitions yet.',
    5,
  );
  $('charts').replaceChildren(...(await Promise.all(agents.map((a) => hostCharts(a, hours)))));
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

let timer;

async function tick() {
  clearTimeout(timer);
  try {
    await refresh();
    $('error').textContent = '';
  } catch (err) {
    if (err instanceof Unauthorized) {
      showLogin(err.message);
      return;
    }
    $('error').textContent = `Could not refresh: ${err.message}`;
  }
  timer = setTimeout(tick, REFRESH_MS);
}

function showLogin(message = '') {
  clearTimeout(timer);
  sessionStorage.removeItem(TOKEN_KEY);
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
}

function showDashboard() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('logout').hidden = false;
  void tick();
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  showDashboard();
});
$('logout').addEventListener('click', () => showLogin());
$('hours').addEventListener('change', () => void tick());

if (sessionStorage.getItem(TOKEN_KEY)) showDashboard();
else showLogin();
