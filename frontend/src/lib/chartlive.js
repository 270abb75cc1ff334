// The chart pages' hook into the live client: a callback per collection cycle, or per whole view.
// (Wired to frontend/src/lib/live.js's subscribers when that client lands.)
export function onCycle(callback) {
  document.addEventListener("kubemon:cycle", () => callback());
}

export function onView(callback) {
  document.addEventListener("kubemon:view", (event) => callback(event.detail));
}
