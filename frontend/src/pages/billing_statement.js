// A statement's page (web/templates/web/billing/statement.html): its cost per day, from
// /web/data/billing/statements/<id>/daily, as bars stacked by resource.
import { drawDailyCosts } from "../lib/billingcharts.js";

const page = JSON.parse(document.getElementById("billing-statement").textContent);
const figure = document.getElementById("daily-chart");
const status = figure.querySelector("[data-status]");

async function load() {
  try {
    const response = await fetch(page.dailyUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = `Could not load the daily costs: ${body.message || response.status}`;
      figure.dataset.state = "error";
      return;
    }
    const plot = figure.querySelector("[data-plot]");
    const drawn = drawDailyCosts(plot, body.days, body.series, body.currency || page.currency);
    figure.querySelector("[data-empty]").hidden = drawn;
    plot.hidden = !drawn;
    const total = body.totals.reduce((sum, value) => sum + Number(value), 0);
    status.textContent = `${body.days.length} days, ${total.toFixed(2)} ${body.currency} in all.`;
    figure.dataset.state = drawn ? "drawn" : "empty";
  } catch (error) {
    status.textContent = `Could not load the daily costs: ${error.message}`;
    figure.dataset.state = "error";
  }
}

load();
