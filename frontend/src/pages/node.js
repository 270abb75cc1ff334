// The node page (web/templates/web/node.html): charts from /web/data/nodes/<name>/series, redrawn
// after each collection cycle when the range ends now (1 h, 6 h).
import { drawChart, formatBytes, formatValue } from "../lib/charts.js";
import { startLive } from "../lib/chartlive.js";
import { initRangeForm } from "../lib/rangeform.js";

const page = JSON.parse(document.getElementById("node-page").textContent);
const status = document.getElementById("chart-status");
const handles = new Map();
const TIER_NAMES = { raw: "raw samples", hourly: "the hourly rollup" };

function dataUrl() {
  const params = new URLSearchParams();
  if (page.range === "custom") {
    params.set("start", page.start);
    params.set("end", page.end);
  } else {
    params.set("range", page.range);
  }
  return `${page.dataUrl}?${params}`;
}

function note(kind, chart, body) {
  const alloc = body.allocatable;
  if (!alloc) return "";
  if (kind === "cpu" && alloc.cpu_cores != null) return `allocatable ${formatValue(alloc.cpu_cores, "cores")}`;
  if (kind === "memory" && alloc.memory_bytes != null) return `allocatable ${formatValue(alloc.memory_bytes, "bytes")}`;
  return "";
}

function show(body) {
  const xRange = [Date.parse(body.start) / 1000, Date.parse(body.end) / 1000];
  const tiers = new Set();
  for (const figure of document.querySelectorAll("figure.chart")) {
    const kind = figure.dataset.kind;
    const chart = body.charts[kind];
    if (!chart) continue;
    chart.tiers.forEach((tier) => tiers.add(tier));
    const data = { times: body.times, series: chart.series, unit: chart.unit };
    figure.querySelector("[data-note]").textContent = note(kind, chart, body);
    const handle = handles.get(kind);
    if (handle) handle.update(data);
    else handles.set(kind, drawChart(figure, data, { xRange }));
  }
  const read = [...tiers].map((tier) => TIER_NAMES[tier] || tier).join(" and ") || "no data";
  const at = new Date(body.generated).toISOString().slice(11, 19);
  status.textContent = `One point per ${body.step} s, from ${read}; updated ${at} UTC.`;
}

let loading = null;
async function load() {
  if (loading) return loading;
  loading = (async () => {
    try {
      const response = await fetch(dataUrl(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) {
        status.textContent = `Could not load the charts: ${body.message || response.status}`;
        return;
      }
      if (page.range !== "custom") {
        // A relative range moves with now: keep the window the data was read for.
        page.start = body.start;
        page.end = body.end;
      }
      show(body);
    } catch (error) {
      status.textContent = `Could not load the charts: ${error.message}`;
    } finally {
      loading = null;
    }
  })();
  return loading;
}

initRangeForm();
load();

// The pods table follows the live view; rows that changed this cycle are highlighted a moment.
function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function renderPods(store, change) {
  const body = document.querySelector("#node-pods tbody");
  if (!body) return;
  const col = Object.fromEntries(store.podColumns.map((name, index) => [name, index]));
  const rows = Array.from(store.pods.values()).filter((row) => row[col.node] === page.node);
  rows.sort((a, b) => (a[col.namespace] + "/" + a[col.name]).localeCompare(b[col.namespace] + "/" + b[col.name]));
  const fresh = new Set([...(change?.added || []), ...(change?.changed || [])]);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.className = `row-${row[col.state]}${fresh.has(row[col.id]) ? " row-changed" : ""}`;
    const ns = document.createElement("td");
    const link = document.createElement("a");
    link.href = `/?namespace=${encodeURIComponent(row[col.namespace])}`;
    link.textContent = row[col.namespace];
    ns.append(link);
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `state state-${row[col.state]}`;
    badge.textContent = row[col.status];
    status.append(badge);
    tr.append(ns, cell(row[col.name], "mono"), status, cell(`${row[col.ready]}/${row[col.containers]}`, "num"),
      cell(String(row[col.restarts]), "num"), cell(row[col.cpu] == null ? "—" : String(Math.round(row[col.cpu])), "num"),
      cell(row[col.memory] == null ? "—" : formatBytes(row[col.memory]), "num"), cell(String(row[col.gpus] || 0), "num"));
    return tr;
  }));
  const count = document.getElementById("pods-count");
  if (count) count.textContent = `(${rows.length})`;
}

const store = startLive();
store.subscribe((current, change) => {
  renderPods(current, change);
  // The last hour (and 6 h) follow each collection cycle: new points at the right edge.
  if (page.live) load();
});
