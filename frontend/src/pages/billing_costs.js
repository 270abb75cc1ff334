// The cost breakdown (web/templates/web/billing/costs.html): a bar per tenant, namespace or pod;
// clicking one opens the next level (the table's links do the same without a pointer).
import { drawCostRows } from "../lib/billingcharts.js";
import { initRangeForm } from "../lib/rangeform.js";

const page = JSON.parse(document.getElementById("billing-costs").textContent);
const figure = document.getElementById("costs-chart");

initRangeForm();
if (page.rows.length) {
  const chart = drawCostRows(figure.querySelector("[data-plot]"), page.rows, page.currency);
  figure.dataset.state = "drawn";
  // For the browser tests: where the bar of the n-th dearest row is, in the canvas' pixels.
  window.kubemonCosts = { barCentre: (n) => chart.barCentre(n) };
}
