// The chart pages' start of the live client: the view the page embedded (json_script "live-view")
// handed to connectLive (frontend/src/lib/live.js), whose store calls the page's subscribers once
// per collection cycle.
import { connectLive } from "./live.js";

export function startLive(elementId = "live-view") {
  const element = document.getElementById(elementId);
  const initial = element ? JSON.parse(element.textContent) : null;
  return connectLive(initial && initial.seq ? initial : null);
}
