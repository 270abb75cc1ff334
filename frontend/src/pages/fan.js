// The fan panel (web/fan.py): polls /web/fan/data, redraws the state, one uPlot chart per node
// with the fan's on periods as shaded bands and the thresholds as dashed lines, and switches the
// fan through POST /k8s/fan/on|off|auto (the session's CSRF token in X-CSRFToken).
import uPlot from "uplot";

const page = JSON.parse(document.getElementById("fan-page").textContent);
let status = JSON.parse(document.getElementById("fan-status").textContent);
const charts = new Map();
let busy = false;

const $ = (selector) => document.querySelector(selector);
// Every time on the panel is UTC, as the rest of the portal gives times (its status lines, the
// charts' legends, the range forms) and as the rule's reason says the override's end: the
// table of changes, the charts' time axes and the override line alike, whatever the browser's zone.
const clock = (seconds, length = 8) => new Date(seconds * 1000).toISOString().slice(11, 11 + length);
const utcDate = (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC");

// The time axis' labels: HH:MM, with seconds when the ticks are closer than a minute. The labels
// drawn are kept on the figure (data-ticks), as its bands are.
function timeTicks(u, ticks) {
  const labels = ticks.map((t) => clock(t, ticks.every((x) => x % 60 === 0) ? 5 : 8));
  u.root.parentElement.dataset.ticks = labels.join(" ");
  return labels;
}
const csrf = () => $("[data-fan-form] input[name=csrfmiddlewaretoken]").value;

function showStatus(s) {
  status = s;
  const state = $("[data-fan-state]");
  const running = s.isRunning === true ? "on" : s.isRunning === false ? "off" : "unknown";
  state.dataset.running = running;
  state.textContent = running.toUpperCase();
  $("[data-fan-mode]").textContent = s.isAutoMode ? "auto" : s.isEnabled ? "manual" : "disabled";
  $("[data-fan-speed]").textContent = s.speed === null || s.speed === undefined ? "—" : `${Math.round(s.speed * 100)} %`;
  const host = s.host || {};
  $("[data-fan-host]").textContent = host.ok ? (host.failsafe ? `fail-safe: ${host.reason}` : "ok") : host.ok === false ? "error" : "—";
  // During an override the rule's reason is the override itself: one line says it, not two.
  const o = s.override;
  const reason = $("[data-fan-reason]");
  reason.hidden = Boolean(o);
  reason.textContent = o ? "" : s.reason || s.message || "";
  const override = $("[data-fan-override]");
  override.hidden = !o;
  // as the page's first render and the rule's reason give it (web/fan.py override_until)
  const until = o && o.until ? ` until ${clock(o.until, 5)} UTC, then auto mode again` : "";
  override.textContent = o ? `Manual ${o.running ? "on" : "off"} by ${o.by}${until}` : "";
  const error = $("[data-fan-error]");
  const problems = [host.ok === false ? s.message : "", s.warning || ""].filter(Boolean);
  error.hidden = problems.length === 0;
  error.textContent = problems.join(" ");
  const alert = $("[data-fan-alert]");
  alert.hidden = !s.alert;
  alert.textContent = s.alert || "";
  for (const button of document.querySelectorAll("[data-fan-action]")) {
    const action = button.dataset.fanAction;
    button.disabled = busy || !s.isEnabled || (action === "auto" && (s.isAutoMode || s.maxTemperature === null));
  }
}

function bandsPlugin(getBands, thresholds) {
  return {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = "rgba(30, 99, 198, 0.14)";
        for (const [start, end] of getBands()) {
          const x0 = Math.max(u.valToPos(start, "x", true), u.bbox.left);
          const x1 = Math.min(u.valToPos(end, "x", true), u.bbox.left + u.bbox.width);
          if (x1 > x0) ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
        }
        ctx.restore();
      },
      draw: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1;
        for (const [value, colour] of thresholds()) {
          if (value === null || value === undefined) continue;
          const y = u.valToPos(value, "y", true);
          if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
          ctx.strokeStyle = colour;
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
        }
        ctx.restore();
      },
    },
  };
}

function drawCharts(doc) {
  const box = $("[data-fan-charts]");
  const nodes = Object.keys(doc.temperatures.nodes);
  $("[data-fan-empty]")?.remove();
  if (nodes.length === 0 && !box.querySelector(".fan-empty")) {
    box.insertAdjacentHTML("beforeend", '<p class="muted fan-empty">No temperatures in this range.</p>');
  }
  const all = nodes.flatMap((n) => doc.temperatures.nodes[n]).filter((v) => v !== null);
  const top = Math.max(...all, status.maxTemperature || 0) + 2;
  const bottom = Math.min(...all, status.minTemperature || 100) - 2;
  for (const node of nodes) {
    const data = [doc.temperatures.times, doc.temperatures.nodes[node]];
    let entry = charts.get(node);
    if (!entry) {
      const figure = document.createElement("figure");
      figure.className = "fan-chart";
      figure.dataset.node = node;
      figure.innerHTML = `<figcaption>${node.replace(/[<>&]/g, "")}</figcaption>`;
      box.appendChild(figure);
      entry = { bands: doc.bands };
      // The figure's own width: the grid gives each node a column of the panel.
      entry.plot = new uPlot({
        width: Math.max(figure.clientWidth, 240), height: 180,
        tzDate: utcDate,
        scales: { x: { time: true }, y: { range: () => [bottom, top] } },
        series: [{}, { label: "°C", stroke: "#c62828", width: 2, spanGaps: false }],
        axes: [{ values: timeTicks }, { values: (u, ticks) => ticks.map((t) => `${t} °C`), size: 56 }],
        legend: { show: false },
        plugins: [bandsPlugin(() => entry.bands, () => [[status.maxTemperature, "#c62828"], [status.minTemperature, "#1e63c6"]])],
      }, data, figure);
      charts.set(node, entry);
    } else {
      entry.bands = doc.bands;
      entry.plot.setData(data);
    }
    entry.plot.root.parentElement.dataset.bands = String(doc.bands.length);
  }
}

function drawChanges(doc) {
  const body = $("[data-fan-changes]");
  body.replaceChildren(...doc.changes.slice().reverse().map((c) => {
    const row = document.createElement("tr");
    for (const text of [clock(c.time), c.running ? "on" : "off",
      `${Math.round(c.speed * 100)} %`, c.mode, c.reason]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    return row;
  }));
}

async function refresh() {
  try {
    const response = await fetch(`${page.data_url}?range=${encodeURIComponent(page.range)}`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const doc = await response.json();
    showStatus(doc.status);
    drawCharts(doc);
    drawChanges(doc);
    document.body.dataset.fanLoaded = "true";
  } catch (error) {
    const box = $("[data-fan-error]");
    box.hidden = false;
    box.textContent = `The panel cannot reach kubemon: ${error.message}`;
  }
}

async function act(action) {
  busy = true;
  showStatus(status);
  try {
    const response = await fetch(`/k8s/fan/${action}`, { method: "POST", headers: { "X-CSRFToken": csrf(), Accept: "application/json" } });
    const doc = await response.json();
    showStatus(doc);
    if (!response.ok) {
      const box = $("[data-fan-error]");
      box.hidden = false;
      box.textContent = doc.message;
    }
  } finally {
    busy = false;
    showStatus(status);
    refresh();
  }
}

for (const button of document.querySelectorAll("[data-fan-action]")) {
  button.addEventListener("click", () => act(button.dataset.fanAction));
}
const live = document.getElementById("live-state");
if (live) {
  live.dataset.state = "live";
  live.textContent = `every ${page.every} s`;
}
showStatus(status);
refresh();
setInterval(refresh, page.every * 1000);
