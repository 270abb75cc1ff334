// The namespace shares page (web/templates/web/shares.html): one ECharts sunburst per resource,
// namespace -> pod, from the pod rows the page embeds, redrawn after each cycle's live message.
import * as echarts from "echarts/core";
import { SunburstChart } from "echarts/charts";
import { TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { formatValue } from "../lib/charts.js";
import { startLive } from "../lib/chartlive.js";

echarts.use([SunburstChart, TooltipComponent, CanvasRenderer]);

const page = JSON.parse(document.getElementById("shares-page").textContent);
const excluded = new Set(page.excluded);
const HOLDING = new Set(["running", "pending", "deleting", "failed"]);
// A namespace's smaller pods are drawn as one "other" segment: 10,000 slivers help nobody.
const PODS_PER_NAMESPACE = 25;
const status = document.getElementById("shares-status");

function columnIndex(columns) {
  return Object.fromEntries(columns.map((name, index) => [name, index]));
}

// The tree of one resource: [{name: namespace, children: [{name: pod, value}]}], largest first.
export function shareTree(rows, col, column) {
  const byNamespace = new Map();
  for (const row of rows) {
    const namespace = row[col.namespace];
    const value = row[col[column]];
    if (excluded.has(namespace) || !HOLDING.has(row[col.state]) || !value) continue;
    if (!byNamespace.has(namespace)) byNamespace.set(namespace, []);
    byNamespace.get(namespace).push({ name: row[col.name], value, namespace });
  }
  const tree = [];
  for (const [namespace, pods] of byNamespace) {
    pods.sort((a, b) => b.value - a.value);
    const shown = pods.slice(0, PODS_PER_NAMESPACE);
    const rest = pods.slice(PODS_PER_NAMESPACE);
    if (rest.length) {
      shown.push({ name: `${rest.length} other pods`, value: rest.reduce((sum, pod) => sum + pod.value, 0), namespace });
    }
    const value = pods.reduce((sum, pod) => sum + pod.value, 0);
    tree.push({ name: namespace, value, namespace, children: shown });
  }
  tree.sort((a, b) => b.value - a.value);
  return tree;
}

function openNamespace(namespace) {
  window.location.assign(`${page.overview}?namespace=${encodeURIComponent(namespace)}`);
}

const charts = new Map();

function draw(rows, columns) {
  const col = columnIndex(columns);
  let any = false;
  for (const share of page.shares) {
    const figure = document.querySelector(`[data-share="${share.key}"]`);
    const tree = shareTree(rows, col, share.column);
    const total = tree.reduce((sum, ns) => sum + ns.value, 0);
    const empty = tree.length === 0;
    any = any || !empty;
    figure.querySelector("[data-empty]").hidden = !empty;
    figure.querySelector("[data-total]").textContent = empty ? "" : `total ${formatValue(total, share.unit)}`;
    figure.dataset.state = empty ? "empty" : "drawn";
    renderList(figure.querySelector("[data-list]"), tree, share.unit, total);
    const holder = figure.querySelector("[data-plot]");
    holder.hidden = empty;
    let chart = charts.get(share.key);
    if (!chart && !empty) {
      chart = echarts.init(holder, null, { renderer: "canvas" });
      chart.on("click", (event) => event.data?.namespace && openNamespace(event.data.namespace));
      charts.set(share.key, chart);
      new ResizeObserver(() => chart.resize()).observe(holder);
    }
    if (!chart) continue;
    chart.setOption({
      // richText: the HTML tooltip writes style="" attributes, which the CSP blocks (docs/web.md).
      tooltip: {
        renderMode: "richText",
        formatter: (info) => {
          const part = total ? ` (${((100 * info.value) / total).toFixed(1)} %)` : "";
          return `${info.name}: ${formatValue(info.value, share.unit)}${part}`;
        },
      },
      series: [{
        type: "sunburst",
        data: tree,
        radius: ["12%", "95%"],
        sort: null,
        nodeClick: false,
        emphasis: { focus: "ancestor" },
        levels: [{}, { label: { rotate: "tangential", minAngle: 12 } }, { label: { show: false } }],
        animation: false,
      }],
    }, { replaceMerge: ["series"] });
  }
  return any;
}

// The largest namespaces as links: the keyboard's way into the chart, and its text alternative.
function renderList(list, tree, unit, total) {
  const items = tree.slice(0, 8).map((ns) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `${page.overview}?namespace=${encodeURIComponent(ns.namespace)}`;
    link.textContent = ns.namespace;
    const value = document.createElement("span");
    value.className = "muted";
    value.textContent = ` ${formatValue(ns.value, unit)} · ${total ? ((100 * ns.value) / total).toFixed(1) : 0} %`;
    item.append(link, value);
    return item;
  });
  list.replaceChildren(...items);
}

function stamp(time, count) {
  const at = time ? new Date(time * 1000).toISOString().slice(11, 19) : "—";
  status.textContent = `${count} pods, as of ${at} UTC.`;
}

// The live client keeps the view whole from the cycles' snapshots and deltas; each cycle redraws.
const store = startLive();
function redraw() {
  const rows = Array.from(store.pods.values());
  draw(rows, store.podColumns);
  if (store.seq) stamp(store.time, rows.filter((row) => !excluded.has(row[1])).length);
}
redraw();
store.subscribe(redraw);
