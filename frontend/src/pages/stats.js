// A stats page (web/templates/web/stats.html): the metric's chart from the data the page embeds.
import { drawChart } from "../lib/charts.js";

const data = document.getElementById("stats-page");
const figure = document.getElementById("stats-chart")?.closest("section");
if (data && figure) {
  const chart = JSON.parse(data.textContent);
  drawChart(figure, {
    times: chart.times,
    unit: chart.unit,
    series: [{ name: chart.metric, values: chart.values }],
  }, { height: 260 });
}
