// Time-series charts of the node and stats pages: uPlot over the JSON of metrics/series.py
// ({step, times, series: [{name, values}], unit}). Shared by frontend/src/pages/node.js and stats.js.
import uPlot from "uplot";
import { joinShortGaps } from "./gaps.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// Numbers as a person reads them, in the series' unit.
export function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  switch (unit) {
    case "bytes": return formatBytes(value);
    case "bytes/s": return `${formatBytes(value)}/s`;
    case "cores": return `${trim(value)} cores`;
    case "millicores": return `${trim(value)} m`;
    case "percent": return `${trim(value)} %`;
    case "celsius": return `${trim(value)} °C`;
    case "watts": return `${trim(value)} W`;
    case "fraction": return `${trim(value * 100)} %`;
    case "GPUs": return `${trim(value)} GPU${value === 1 ? "" : "s"}`;
    default: return `${trim(value)} ${unit || ""}`.trim();
  }
}

export function formatBytes(value) {
  let index = 0;
  let scaled = Math.abs(value);
  while (scaled >= 1024 && index < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    index += 1;
  }
  return `${value < 0 ? "-" : ""}${trim(scaled)} ${BYTE_UNITS[index]}`;
}

function trim(value) {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return Number(value.toFixed(digits)).toLocaleString(undefined, { maximumFractionDigits: digits });
}

function hasValues(series) {
  return series.some((line) => line.values.some((v) => v !== null && v !== undefined));
}

// uPlot's data: [times, values of each line]; null values leave gaps (no sample in the bucket),
// except short runs between two samples, which are joined (lib/gaps.js).
function toData(chart) {
  return [chart.times, ...chart.series.map((line) => joinShortGaps(line.values))];
}

function options(chart, width, extra = {}) {
  const unit = chart.unit;
  return {
    width,
    height: extra.height || 220,
    scales: { x: { time: true, range: extra.xRange ? () => extra.xRange : undefined } },
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.2)" } },
      {
        stroke: "currentColor",
        grid: { stroke: "rgba(128,128,128,0.2)" },
        size: 80,
        values: (u, ticks) => ticks.map((t) => formatValue(t, unit)),
      },
    ],
    series: [
      { label: "time (UTC)", value: (u, v) => (v == null ? "—" : new Date(v * 1000).toISOString().replace("T", " ").slice(0, 19)) },
      ...chart.series.map((line, i) => ({
        label: line.name,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        points: { show: chart.times.length < 120 },
        value: (u, v) => formatValue(v, unit),
      })),
    ],
  };
}

// Draws ``chart`` into ``figure`` ([data-plot], [data-empty]); returns a handle whose update()
// redraws new data (the same lines: setData, otherwise a new plot).
export function drawChart(figure, chart, extra = {}) {
  const plot = figure.querySelector("[data-plot]");
  const empty = figure.querySelector("[data-empty]");
  let current = null;
  let names = "";
  const width = () => Math.max(260, plot.clientWidth || figure.clientWidth - 24);

  function render(next) {
    const ok = next && next.series.length > 0 && hasValues(next.series);
    if (empty) empty.hidden = ok;
    plot.hidden = !ok;
    figure.dataset.state = ok ? "drawn" : "empty";
    if (!ok) {
      if (current) current.destroy();
      current = null;
      names = "";
      return;
    }
    const nextNames = next.series.map((line) => line.name).join("\u0000");
    if (current && nextNames === names) {
      current.setData(toData(next));
      return;
    }
    if (current) current.destroy();
    plot.replaceChildren();
    current = new uPlot(options(next, width(), extra), toData(next), plot);
    names = nextNames;
  }

  render(chart);
  const resize = new ResizeObserver(() => {
    if (current) current.setSize({ width: width(), height: current.height });
  });
  resize.observe(figure);
  return { update: render, get plot() { return current; } };
}
