// The overview (web/templates/web/overview.html): the health badge, totals, the nodes table and
// the pods table, kept live by frontend/src/lib/live.js. The view state (search, filters, sorts)
// lives in the URL so that a view can be bookmarked and shared.

import { connectLive } from "../lib/live.js";
import { VirtualTable } from "../lib/vtable.js";

const FLASH_MS = 2500; // how long a changed or added row stays highlighted
const GHOST_MS = 4000; // how long a removed row stays in the table, marked "removed"
const STATES = ["failed", "deleting", "pending", "running", "succeeded"];
const STATE_ICONS = { failed: "✖", deleting: "⌫", pending: "◔", running: "●", succeeded: "✔" };

// Pod row columns (kubemon.liveview.POD_COLUMNS).
const ID = 0, NS = 1, NAME = 2, NODE = 3, STATE = 4, STATUS = 5, READY = 6, CONTAINERS = 7, RESTARTS = 8,
  LAST_RESTART = 9, CPU = 10, CPU_REQ = 11, CPU_LIM = 12, MEM = 13, MEM_REQ = 14, MEM_LIM = 15, GPUS = 16,
  GPU_UTIL = 17, GPU_MEM = 18, NET = 19, CREATED = 20;
// Node row columns (kubemon.liveview.NODE_COLUMNS).
const N_NAME = 0, N_STATUS = 1, N_ROLES = 2, N_CPU = 3, N_MEM = 4, N_CPU_REQ = 5, N_MEM_REQ = 6, N_TEMP = 7,
  N_GPU_UTIL = 8, N_GPU_USED = 9, N_GPU_TOTAL = 10, N_GPUS = 11, N_PODS = 12, N_STATE = 13;

const initial = JSON.parse(document.getElementById("live-view").textContent);
const config = JSON.parse(document.getElementById("overview-config").textContent);

// --- formatting ---
function cpu(m) {
  if (m === null || m === undefined) return "—";
  return m >= 10000 ? `${(m / 1000).toFixed(1)}` : `${Math.round(m)}m`;
}
function cores(m) {
  return m === null || m === undefined ? "—" : `${(m / 1000).toFixed(m >= 100000 ? 0 : 1)}`;
}
function bytes(b) {
  if (b === null || b === undefined) return "—";
  const units = ["B", "Ki", "Mi", "Gi", "Ti", "Pi"];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}
function rate(b) {
  return b === null || b === undefined ? "—" : `${bytes(b)}/s`;
}
function percent(part, whole) {
  if (part === null || part === undefined || !whole) return null;
  return (100 * part) / whole;
}
function pct(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value)}%`;
}
function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ""}`;
  return `${Math.floor(s / 86400)}d`;
}
function stateLabel(state, text) {
  const span = document.createElement("span");
  span.className = `state state-${state}`;
  span.textContent = text ?? state;
  return span;
}
function link(href, text, title) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (title) a.title = title;
  return a;
}

// --- the view state, in the URL ---
const params = new URLSearchParams(location.search);
const view = {
  q: params.get("q") || "",
  namespace: params.get("namespace") || "",
  node: params.get("node") || "",
  state: params.get("state") || "",
  sort: params.get("sort") || "",
  dir: params.get("dir") === "desc" ? -1 : 1,
  nsort: params.get("nsort") || "",
  ndir: params.get("ndir") === "desc" ? -1 : 1,
};
function saveUrl() {
  const next = new URLSearchParams();
  for (const key of ["q", "namespace", "node", "state", "sort", "nsort"]) if (view[key]) next.set(key, view[key]);
  if (view.sort && view.dir < 0) next.set("dir", "desc");
  if (view.nsort && view.ndir < 0) next.set("ndir", "desc");
  const query = next.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
}

// --- live state of rows: highlights and ghosts ---
const flash = new Map(); // id -> {kind: "changed" | "added", until}
const ghosts = new Map(); // id -> {row, until}
let store; // set below
let now = () => (store && store.time) || Date.now() / 1000;

// --- pods table ---
const podColumns = [
  { key: "namespace", label: "Namespace", sort: (r) => r[NS], cell: (r) => nsLink(r[NS]) },
  { key: "name", label: "Name", sort: (r) => r[NAME], cell: (r) => podName(r) },
  { key: "ready", label: "Ready", sort: (r) => r[READY] / Math.max(1, r[CONTAINERS]), cell: (r) => `${r[READY]}/${r[CONTAINERS]}` },
  { key: "status", label: "Status", sort: (r) => r[STATUS], cell: (r) => stateLabel(r[STATE], r[STATUS]) },
  { key: "restarts", label: "Restarts", num: true, descFirst: true, sort: (r) => r[RESTARTS],
    cell: (r) => (r[LAST_RESTART] ? `${r[RESTARTS]} (${duration(now() - r[LAST_RESTART])} ago)` : `${r[RESTARTS]}`) },
  { key: "node", label: "Node", sort: (r) => r[NODE], cell: (r) => (r[NODE] ? nodeLink(r[NODE]) : "—") },
  { key: "cpu", label: "CPU", num: true, descFirst: true, sort: (r) => r[CPU] ?? -1, cell: (r) => cpu(r[CPU]) },
  { key: "cpu_req", label: "%CPU/R", title: "CPU usage as % of its request", num: true, descFirst: true,
    sort: (r) => percent(r[CPU], r[CPU_REQ]) ?? -1, cell: (r) => pct(percent(r[CPU], r[CPU_REQ])) },
  { key: "cpu_lim", label: "%CPU/L", title: "CPU usage as % of its limit", num: true, descFirst: true,
    sort: (r) => percent(r[CPU], r[CPU_LIM]) ?? -1, cell: (r) => pct(percent(r[CPU], r[CPU_LIM])) },
  { key: "memory", label: "Memory", num: true, descFirst: true, sort: (r) => r[MEM] ?? -1, cell: (r) => bytes(r[MEM]) },
  { key: "mem_req", label: "%MEM/R", title: "memory (working set) as % of its request", num: true, descFirst: true,
    sort: (r) => percent(r[MEM], r[MEM_REQ]) ?? -1, cell: (r) => pct(percent(r[MEM], r[MEM_REQ])) },
  { key: "mem_lim", label: "%MEM/L", title: "memory (working set) as % of its limit", num: true, descFirst: true,
    sort: (r) => percent(r[MEM], r[MEM_LIM]) ?? -1, cell: (r) => pct(percent(r[MEM], r[MEM_LIM])) },
  { key: "gpu", label: "GPU", title: "GPUs requested, utilisation, memory used", num: true, descFirst: true,
    sort: (r) => r[GPUS] * 1000 + (r[GPU_UTIL] ?? 0), cell: (r) => gpuCell(r) },
  { key: "net", label: "Net", title: "network rx+tx", num: true, descFirst: true, sort: (r) => r[NET] ?? -1, cell: (r) => rate(r[NET]) },
  { key: "age", label: "Age", num: true, sort: (r) => -(r[CREATED] ?? 0), cell: (r) => (r[CREATED] ? duration(now() - r[CREATED]) : "—") },
];

function nsLink(namespace) {
  const a = link(`?namespace=${encodeURIComponent(namespace)}`, namespace, `only the pods of ${namespace}`);
  a.dataset.filterNamespace = namespace;
  return a;
}
function nodeLink(node) {
  return link(`/web/nodes/${encodeURIComponent(node)}/`, node, `charts of node ${node}`);
}
function podName(row) {
  const mark = flash.get(row[ID]);
  const ghost = ghosts.has(row[ID]) && !store.pods.has(row[ID]);
  if (!mark && !ghost) return row[NAME];
  const wrap = document.createElement("span");
  wrap.append(row[NAME]);
  const badge = document.createElement("span");
  badge.className = `row-badge ${ghost ? "removed" : mark.kind}`;
  badge.textContent = ghost ? "removed" : mark.kind === "added" ? "new" : "changed";
  wrap.append(" ", badge);
  return wrap;
}
function gpuCell(row) {
  if (!row[GPUS] && row[GPU_UTIL] === null) return "—";
  const parts = [`${row[GPUS]}`];
  if (row[GPU_UTIL] !== null) parts.push(`${row[GPU_UTIL]}%`);
  if (row[GPU_MEM] !== null) parts.push(bytes(row[GPU_MEM]));
  return parts.join(" · ");
}

function podRowClass(row) {
  let name = `row-${row[STATE]}`;
  const mark = flash.get(row[ID]);
  if (mark && mark.until > performance.now()) name += ` row-${mark.kind}`;
  if (ghosts.has(row[ID]) && !store.pods.has(row[ID])) name += " row-removed";
  return name;
}

// --- nodes table ---
const nodeColumns = [
  { key: "name", label: "Name", sort: (n) => n[N_NAME], cell: (n) => nodeLink(n[N_NAME]) },
  { key: "status", label: "Status", sort: (n) => n[N_STATUS],
    cell: (n) => stateLabel(n[N_STATUS].startsWith("Ready") ? (n[N_STATUS] === "Ready" ? "running" : "pending") : "failed", n[N_STATUS]) },
  { key: "roles", label: "Roles", sort: (n) => n[N_ROLES], cell: (n) => n[N_ROLES] },
  { key: "colour", label: "Pods' state", title: "the worst state of its pods", sort: (n) => STATES.indexOf(n[N_STATE]),
    cell: (n) => stateLabel(n[N_STATE], n[N_STATE]) },
  { key: "cpu", label: "CPU%", title: "CPU usage as % of allocatable", num: true, descFirst: true, sort: (n) => n[N_CPU] ?? -1, cell: (n) => pct(n[N_CPU]) },
  { key: "mem", label: "MEM%", title: "memory usage as % of allocatable", num: true, descFirst: true, sort: (n) => n[N_MEM] ?? -1, cell: (n) => pct(n[N_MEM]) },
  { key: "req", label: "Requests", title: "CPU / memory requests as % of allocatable", num: true, descFirst: true,
    sort: (n) => n[N_CPU_REQ] ?? -1, cell: (n) => (n[N_CPU_REQ] === null ? "—" : `${pct(n[N_CPU_REQ])} / ${pct(n[N_MEM_REQ])}`) },
  { key: "temp", label: "Temp", num: true, descFirst: true, sort: (n) => n[N_TEMP] ?? -999,
    cell: (n) => (n[N_TEMP] === null ? "—" : `${n[N_TEMP].toFixed(1)} °C`) },
  { key: "gpu", label: "GPU", title: "GPUs, mean utilisation, memory used / total", num: true, descFirst: true,
    sort: (n) => n[N_GPU_UTIL] ?? -1, cell: (n) => nodeGpu(n) },
  { key: "pods", label: "Pods", num: true, descFirst: true, sort: (n) => n[N_PODS], cell: (n) => nodePods(n) },
];
function nodeGpu(n) {
  if (!n[N_GPUS] && n[N_GPU_UTIL] === null) return "—";
  const parts = [`${n[N_GPUS] ?? "?"}`];
  if (n[N_GPU_UTIL] !== null) parts.push(`${n[N_GPU_UTIL]}%`);
  if (n[N_GPU_USED] !== null) parts.push(`${bytes(n[N_GPU_USED])}/${bytes(n[N_GPU_TOTAL])}`);
  return parts.join(" · ");
}
function nodePods(n) {
  const a = link(`?node=${encodeURIComponent(n[N_NAME])}`, String(n[N_PODS]), `only the pods on ${n[N_NAME]}`);
  a.dataset.filterNode = n[N_NAME];
  return a;
}

// --- sorting and filtering ---
function comparator(columns, key, dir, tiebreak) {
  const column = columns.find((c) => c.key === key);
  if (!column) return tiebreak;
  const get = column.sort;
  return (a, b) => {
    const x = get(a);
    const y = get(b);
    if (x < y) return -dir;
    if (x > y) return dir;
    return tiebreak(a, b);
  };
}
const byNamespaceName = (a, b) => (a[NS] < b[NS] ? -1 : a[NS] > b[NS] ? 1 : a[NAME] < b[NAME] ? -1 : a[NAME] > b[NAME] ? 1 : 0);
const byNodeName = (a, b) => (a[N_NAME] < b[N_NAME] ? -1 : a[N_NAME] > b[N_NAME] ? 1 : 0);

// The filtered, sorted rows are kept between cycles when nothing can have moved a row: no pod
// added, removed or changed, no ghost expired, the same filters, and a sort on a column that
// usage does not change. The rows are the store's own arrays, so their usage is current anyway.
const USAGE_SORTS = new Set(["cpu", "cpu_req", "cpu_lim", "memory", "mem_req", "mem_lim", "gpu", "net"]);
let cached = null;
let cachedKey = "";
function invalidate() {
  cached = null;
}

function visiblePods() {
  const key = JSON.stringify([view.q, view.namespace, view.node, view.state, view.sort, view.dir]);
  if (cached && key === cachedKey && !USAGE_SORTS.has(view.sort)) return cached;
  cached = filterAndSort();
  cachedKey = key;
  return cached;
}

function filterAndSort() {
  const q = view.q.toLowerCase();
  const rows = [];
  const test = (row) => {
    if (view.namespace && row[NS] !== view.namespace) return false;
    if (view.node && row[NODE] !== view.node) return false;
    if (view.state && row[STATE] !== view.state) return false;
    if (q && !(row[NAME].includes(q) || row[NS].includes(q) || row[NODE].includes(q) || row[STATUS].toLowerCase().includes(q))) return false;
    return true;
  };
  for (const row of store.pods.values()) if (test(row)) rows.push(row);
  for (const [id, ghost] of ghosts) if (!store.pods.has(id) && test(ghost.row)) rows.push(ghost.row);
  rows.sort(comparator(podColumns, view.sort, view.dir, byNamespaceName));
  return rows;
}

// --- the page ---
const elements = {
  health: document.getElementById("health"),
  healthText: document.getElementById("health-text"),
  healthDetail: document.getElementById("health-detail"),
  totals: document.getElementById("totals"),
  updated: document.getElementById("updated"),
  search: document.getElementById("pod-search"),
  namespace: document.getElementById("pod-namespace"),
  node: document.getElementById("pod-node"),
  state: document.getElementById("pod-state"),
  clear: document.getElementById("pod-clear"),
  count: document.getElementById("pod-count"),
  nodeCount: document.getElementById("node-count"),
};

const pods = new VirtualTable(document.getElementById("pods-scroll"), document.getElementById("pods-table"), {
  columns: podColumns,
  rowHeight: 30,
  rowClass: podRowClass,
  sort: { key: view.sort, dir: view.dir },
  onSort: ({ key, dir }) => {
    view.sort = key;
    view.dir = dir;
    saveUrl();
    refreshPods();
  },
});
const nodes = new VirtualTable(document.getElementById("nodes-scroll"), document.getElementById("nodes-table"), {
  columns: nodeColumns,
  rowHeight: 30,
  rowClass: (n) => `row-${n[N_STATE]}${n[N_STATUS] === "Ready" ? "" : " row-notready"}`,
  sort: { key: view.nsort, dir: view.ndir },
  onSort: ({ key, dir }) => {
    view.nsort = key;
    view.ndir = dir;
    saveUrl();
    refreshNodes();
  },
});

function renderHealth() {
  const health = store.health || { status: "unknown", detail: "" };
  elements.health.dataset.status = health.status;
  elements.healthText.textContent = health.status;
  elements.healthDetail.textContent = health.detail || "";
}

function bar(label, value, whole, format) {
  const row = document.createElement("div");
  row.className = "total-row";
  const name = document.createElement("span");
  name.className = "total-label";
  name.textContent = label;
  const meter = document.createElement("span");
  meter.className = "meter";
  const fill = document.createElement("span");
  fill.className = "meter-fill";
  const share = percent(value, whole);
  fill.style.width = `${Math.min(100, share ?? 0)}%`;
  if (share !== null && share > 90) fill.classList.add("high");
  meter.append(fill);
  const text = document.createElement("span");
  text.className = "total-value";
  text.textContent = `${format(value)}${share === null ? "" : ` (${Math.round(share)}%)`}`;
  row.append(name, meter, text);
  return row;
}

function renderTotals() {
  const t = store.totals;
  if (!t) return;
  const cards = [
    ["CPU", "cores", t.cpu, cores, "cpu"],
    ["Memory", "", t.memory, bytes, "memory"],
    ["GPU", "GPUs", t.gpu, (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 10) / 10}`), "gpu"],
  ].map(([title, unit, item, format, key]) => {
    const card = document.createElement("section");
    card.className = "total-card";
    const heading = document.createElement("h3");
    heading.textContent = title;
    const of = document.createElement("p");
    of.className = "muted";
    of.textContent = `of ${format(item.allocatable)} ${unit} allocatable${store.scope === "tenant" ? " in the cluster (your share)" : ""}`;
    card.append(heading, bar("usage", item.usage, item.allocatable, format), bar("requests", item.requests, item.allocatable, format),
      bar("limits", item.limits, item.allocatable, format), of);
    // Requests of pods no node has taken: demand, not held, so apart from the bars (docs/web.md).
    const waiting = t.unscheduled;
    if (waiting && waiting.pods && waiting[key]) {
      const demand = document.createElement("p");
      demand.className = "total-unscheduled";
      demand.textContent = `+ ${format(waiting[key])} ${unit} requested by ${waiting.pods} unscheduled pod${waiting.pods === 1 ? "" : "s"}`;
      card.append(demand);
    }
    return card;
  });
  const states = document.createElement("section");
  states.className = "total-card";
  const heading = document.createElement("h3");
  heading.textContent = "Pods";
  const list = document.createElement("ul");
  list.className = "state-counts";
  for (const state of STATES) {
    const count = t.pods[state] || 0;
    if (!count && state === "succeeded") continue;
    const item = document.createElement("li");
    const a = link(`?state=${state}`, "", `only ${state} pods`);
    a.dataset.filterState = state;
    a.append(stateLabel(state, `${count} ${state}`));
    item.append(a);
    list.append(item);
  }
  states.append(heading, list);
  elements.totals.replaceChildren(...cards, states);
}

function fillSelect(select, values, current, allLabel) {
  const wanted = [allLabel, ...values].join("\u0000");
  if (select.dataset.options !== wanted) {
    const options = [new Option(allLabel, ""), ...values.map((v) => new Option(v, v))];
    select.replaceChildren(...options);
    select.dataset.options = wanted;
  }
  select.value = current;
}

let namespaceCache = null;
function refreshFilters(rescan = true) {
  if (rescan || !namespaceCache) {
    namespaceCache = new Set();
    for (const row of store.pods.values()) namespaceCache.add(row[NS]);
  }
  const namespaces = new Set(namespaceCache);
  if (view.namespace) namespaces.add(view.namespace);
  const nodeNames = store.nodes.map((n) => n[N_NAME]);
  if (view.node && !nodeNames.includes(view.node)) nodeNames.push(view.node);
  fillSelect(elements.namespace, [...namespaces].sort(), view.namespace, "all namespaces");
  fillSelect(elements.node, nodeNames.sort(), view.node, "all nodes");
  fillSelect(elements.state, STATES, view.state, "all states");
  elements.search.value = view.q;
}

function refreshPods() {
  const rows = visiblePods();
  pods.setRows(rows);
  let gone = 0;
  for (const row of rows) if (!store.pods.has(row[ID])) gone += 1;
  elements.count.textContent = `${rows.length - gone} of ${store.pods.size} pods${gone ? ` (+${gone} just removed)` : ""}`;
}

function refreshNodes() {
  const rows = [...store.nodes].sort(comparator(nodeColumns, view.nsort, view.ndir, byNodeName));
  nodes.setRows(rows);
  elements.nodeCount.textContent = `${rows.length} nodes`;
}

function renderUpdated() {
  if (!store.time) {
    elements.updated.textContent = "No collection cycle yet: the tables fill in after the first one.";
    return;
  }
  elements.updated.textContent = `Cycle ${store.seq}, sampled at ${new Date(store.time * 1000).toISOString().slice(11, 19)} UTC`;
}

function renderAll(podsMoved = true) {
  renderHealth();
  renderTotals();
  refreshFilters(podsMoved);
  refreshNodes();
  refreshPods();
  renderUpdated();
}

let expiryTimer = null;
function scheduleExpiry() {
  clearTimeout(expiryTimer);
  let next = Infinity;
  for (const mark of flash.values()) next = Math.min(next, mark.until);
  for (const ghost of ghosts.values()) next = Math.min(next, ghost.until);
  if (next === Infinity) return;
  expiryTimer = setTimeout(() => {
    const t = performance.now();
    for (const [id, mark] of flash) if (mark.until <= t) flash.delete(id);
    for (const [id, ghost] of ghosts) if (ghost.until <= t) ghosts.delete(id);
    invalidate();
    refreshPods();
    scheduleExpiry();
  }, Math.max(50, next - performance.now() + 20));
}

function onChange(_store, change) {
  const started = performance.now();
  if (change.type !== "delta" || change.added.size || change.changed.size || change.removed.size) invalidate();
  if (change.type === "delta") {
    const until = started + FLASH_MS;
    for (const id of change.added) flash.set(id, { kind: "added", until });
    for (const id of change.changed) flash.set(id, { kind: "changed", until });
    for (const row of change.removedRows) ghosts.set(row[ID], { row, until: started + GHOST_MS });
  } else {
    flash.clear();
    ghosts.clear();
  }
  renderAll(change.type !== "delta" || change.added.size > 0 || change.removed.size > 0);
  scheduleExpiry();
  const ms = performance.now() - started;
  document.body.dataset.storeMs = (store.lastApplyMs ?? 0).toFixed(1);
  document.body.dataset.liveSeq = String(store.seq);
  document.body.dataset.applyMs = ms.toFixed(1);
  window.kubemonOverview.lastRenderMs = ms;
  window.kubemonOverview.applied += 1;
}

// --- controls ---
let searchTimer = null;
elements.search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    view.q = elements.search.value.trim();
    saveUrl();
    refreshPods();
  }, 150);
});
for (const [key, element] of [["namespace", elements.namespace], ["node", elements.node], ["state", elements.state]]) {
  element.addEventListener("change", () => {
    view[key] = element.value;
    saveUrl();
    refreshPods();
  });
}
elements.clear.addEventListener("click", () => {
  view.q = view.namespace = view.node = view.state = "";
  saveUrl();
  refreshFilters();
  refreshPods();
});
// Namespace, node and state links filter in place (their href keeps them usable without JS).
document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-filter-namespace], a[data-filter-node], a[data-filter-state]");
  if (!a || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  if (a.dataset.filterNamespace !== undefined) view.namespace = a.dataset.filterNamespace;
  if (a.dataset.filterNode !== undefined) view.node = a.dataset.filterNode;
  if (a.dataset.filterState !== undefined) view.state = a.dataset.filterState;
  saveUrl();
  refreshFilters();
  refreshPods();
  document.getElementById("pods").scrollIntoView({ block: "start" });
});

window.kubemonOverview = { applied: 0, lastRenderMs: null, firstRenderMs: null };
const firstStarted = performance.now();
store = connectLive(initial, { path: config.socket });
store.subscribe(onChange);
renderAll();
window.kubemonOverview.firstRenderMs = performance.now() - firstStarted;
window.kubemonOverview.store = store;
document.body.dataset.liveSeq = String(store.seq ?? 0);
