// The live client (docs/web.md, "Live protocol"): one websocket, ws/live/, kept in a store.
//
// connectLive(initial) takes the view the page embedded, opens the socket (telling the server
// which seq it has, so that no second copy is sent), applies each snapshot or delta to the store
// and calls the subscribers with (store, change). It reconnects with backoff, fills #live-state
// (live / reconnecting / stale since HH:MM:SS) and dispatches "kubemon:cycle" and "kubemon:view"
// on document for pages that only want to redraw (frontend/src/lib/chartlive.js).

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STALE_AFTER_CYCLES = 2.5;

function clock(date) {
  return date.toTimeString().slice(0, 8);
}

export class LiveStore {
  constructor(initial) {
    this.pods = new Map(); // id -> row (kubemon.liveview.POD_COLUMNS)
    this.nodes = [];
    this.totals = null;
    this.health = null;
    this.seq = null;
    this.time = null;
    this.published = null;
    this.every = 15;
    this.scope = "cluster";
    this.podColumns = [];
    this.nodeColumns = [];
    this.subscribers = [];
    if (initial) this.apply(initial);
  }

  subscribe(callback) {
    this.subscribers.push(callback);
    return () => {
      this.subscribers = this.subscribers.filter((fn) => fn !== callback);
    };
  }

  // Applies a message; returns the change, or null when a delta does not fit (the caller resyncs).
  apply(message) {
    if (message.type === "snapshot") {
      const before = this.pods;
      this.pods = new Map();
      for (const row of message.pods) this.pods.set(row[0], row);
      this.podColumns = message.pod_columns;
      this.nodeColumns = message.node_columns;
      this.#common(message);
      const removed = new Set();
      for (const id of before.keys()) if (!this.pods.has(id)) removed.add(id);
      return { type: "snapshot", added: new Set(), changed: new Set(), removed, removedRows: [...removed].map((id) => before.get(id)) };
    }
    if (message.type !== "delta") return null;
    if (this.seq === null || message.base !== this.seq) return null;
    const added = new Set();
    const changed = new Set();
    const removed = new Set();
    const removedRows = [];
    for (const row of message.added) {
      this.pods.set(row[0], row);
      added.add(row[0]);
    }
    for (const row of message.changed) {
      this.pods.set(row[0], row);
      changed.add(row[0]);
    }
    for (const id of message.removed) {
      const row = this.pods.get(id);
      if (row) removedRows.push(row);
      this.pods.delete(id);
      removed.add(id);
    }
    const usage = message.usage;
    // Stride 6: id, cpu, memory, gpu_util, gpu_memory, net (kubemon.liveview.USAGE_COLUMNS).
    for (let i = 0; i < usage.length; i += 6) {
      const row = this.pods.get(usage[i]);
      if (!row) continue;
      row[10] = usage[i + 1];
      row[13] = usage[i + 2];
      row[17] = usage[i + 3];
      row[18] = usage[i + 4];
      row[19] = usage[i + 5];
    }
    this.#common(message);
    return { type: "delta", added, changed, removed, removedRows };
  }

  #common(message) {
    this.nodes = message.nodes;
    this.totals = message.totals;
    this.health = message.health;
    this.seq = message.seq;
    this.time = message.time;
    this.published = message.published;
    this.every = message.every || 15;
    this.scope = message.scope;
  }

  // A view-shaped object for pages that redraw from whole views ("kubemon:view").
  view() {
    const store = this;
    return {
      get pods() {
        return Array.from(store.pods.values());
      },
      pod_columns: store.podColumns,
      nodes: store.nodes,
      node_columns: store.nodeColumns,
      totals: store.totals,
      health: store.health,
      time: store.time,
      seq: store.seq,
      scope: store.scope,
    };
  }
}

class StateBadge {
  constructor(element) {
    this.element = element;
  }

  set(state, text) {
    if (!this.element) return;
    this.element.dataset.state = state;
    this.element.textContent = text;
  }
}

export function connectLive(initial, options = {}) {
  const store = new LiveStore(initial);
  const badge = new StateBadge(document.getElementById("live-state"));
  let socket = null;
  let attempt = 0;
  let lastMessageAt = initial && initial.seq ? new Date() : null;
  let staleTimer = null;
  let retryTimer = null;
  let closedForGood = false;

  function notify(change, message) {
    for (const callback of store.subscribers) {
      try {
        callback(store, change, message);
      } catch (error) {
        console.error("live subscriber failed", error);
      }
    }
    document.dispatchEvent(new CustomEvent("kubemon:cycle", { detail: { seq: store.seq } }));
    document.dispatchEvent(new CustomEvent("kubemon:view", { detail: store.view() }));
  }

  function armStale() {
    clearTimeout(staleTimer);
    staleTimer = setTimeout(() => {
      if (socket && socket.readyState === WebSocket.OPEN) {
        badge.set("stale", `stale since ${lastMessageAt ? clock(lastMessageAt) : "—"}`);
      }
    }, STALE_AFTER_CYCLES * store.every * 1000);
  }

  function url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const seq = store.seq ? `?seq=${store.seq}` : "";
    return `${scheme}//${location.host}${options.path || "/ws/live/"}${seq}`;
  }

  function open() {
    badge.set(attempt ? "reconnecting" : "connecting", attempt ? "reconnecting…" : "connecting…");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      attempt = 0;
      badge.set("live", "live");
      armStale();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      const started = performance.now();
      const change = store.apply(message);
      if (change === null) {
        socket.send(JSON.stringify({ type: "resync" }));
        return;
      }
      store.lastApplyMs = performance.now() - started; // the store only; subscribers time their own drawing
      store.lastReceivedAt = Date.now() / 1000;
      lastMessageAt = new Date();
      badge.set("live", "live");
      armStale();
      notify(change, message);
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(staleTimer);
      if (event.code === 4401) {
        // Logged out (here or in another tab): the pages need a login again.
        closedForGood = true;
        badge.set("off", "logged out");
        if (options.onLoggedOut) options.onLoggedOut();
        else location.assign(`/web/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
        return;
      }
      if (closedForGood) return;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      const since = lastMessageAt ? ` · stale since ${clock(lastMessageAt)}` : "";
      badge.set("reconnecting", `reconnecting…${since}`);
      retryTimer = setTimeout(open, delay);
    });
  }

  // A tab that sleeps (phone, background) may miss its socket's close: reconnect when it wakes.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && socket && socket.readyState === WebSocket.CLOSED && !closedForGood) {
      clearTimeout(retryTimer);
      open();
    }
  });

  open();
  store.close = () => {
    closedForGood = true;
    clearTimeout(retryTimer);
    clearTimeout(staleTimer);
    if (socket) socket.close();
  };
  return store;
}
