// ECharts bar charts of the billing pages (web/templates/web/billing/): the statement's cost per
// day (stacked by resource) and the cost breakdown's rows. Tree-shaken: only the bar chart, the
// grid, the legend and the tooltip (richText: the HTML tooltip writes style="" attributes, which
// the CSP blocks; docs/web.md).
import * as echarts from "echarts/core";
import { BarChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

// The first is the blue of every chart's first series (lib/charts.js), which the browser tests look for.
export const RESOURCE_COLOURS = { cpu: "#2563eb", memory: "#16a34a", gpu: "#d97706", storage: "#7c3aed" };
export const RESOURCE_NAMES = { cpu: "CPU", memory: "Memory", gpu: "GPU", storage: "Storage" };

export function money(value, currency) {
  const number = Number(value);
  return `${number.toFixed(2)}${currency ? ` ${currency}` : ""}`;
}

function mount(holder) {
  const chart = echarts.init(holder, null, { renderer: "canvas" });
  new ResizeObserver(() => chart.resize()).observe(holder);
  return chart;
}

const AXIS = { axisLabel: { color: "#5b6270" }, splitLine: { lineStyle: { color: "rgba(128,128,128,0.2)" } } };

// days: ["2026-12-01", ...]; series: [{name: resource, values: ["1.20", ...]}] (decimal strings).
export function drawDailyCosts(holder, days, series, currency) {
  const chart = mount(holder);
  const shown = series.filter((line) => line.values.some((v) => Number(v) !== 0));
  chart.setOption({
    animation: false,
    color: shown.map((line) => RESOURCE_COLOURS[line.name] || "#6b7280"),
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => money(v, currency) },
    legend: { top: 0 },
    grid: { left: 60, right: 16, top: 36, bottom: 40 },
    xAxis: { type: "category", data: days.map((day) => day.slice(5)), ...AXIS },
    // The currency is in the caption: an axis name would sit under the legend on a phone.
    yAxis: { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v) => money(v) } },
    series: shown.map((line) => ({
      type: "bar", stack: "cost", name: RESOURCE_NAMES[line.name] || line.name,
      data: line.values.map(Number), barMaxWidth: 28,
    })),
  });
  return shown.length > 0;
}

// rows: [{key, label, total, href}], dearest first; a click on a bar with an href opens it.
// Returns {chart, barCentre(n)}.
export function drawCostRows(holder, rows, currency) {
  const shown = rows.slice(0, 30).reverse(); // dearest at the top of a horizontal bar chart
  holder.style.height = `${Math.max(160, 28 * shown.length + 60)}px`;
  const chart = mount(holder);
  chart.setOption({
    animation: false,
    color: [RESOURCE_COLOURS.cpu],
    tooltip: { trigger: "item", renderMode: "richText", formatter: (info) => `${info.name}: ${money(info.value, currency)}` },
    grid: { left: 16, right: 24, top: 12, bottom: 30, containLabel: true },
    xAxis: { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v) => money(v) } },
    yAxis: { type: "category", data: shown.map((row) => row.label), axisLabel: { color: "#5b6270" } },
    series: [{
      type: "bar", data: shown.map((row) => ({ value: row.total, href: row.href })), barMaxWidth: 22,
      cursor: "pointer",
    }],
  });
  chart.on("click", (event) => {
    if (event.data && event.data.href) window.location.assign(event.data.href);
  });
  return {
    chart,
    // The middle of the bar of the n-th dearest row (0: the dearest), in pixels of the chart.
    barCentre(n) {
      const index = shown.length - 1 - n;
      return chart.convertToPixel({ seriesIndex: 0 }, [shown[index].total / 2, index]);
    },
  };
}
