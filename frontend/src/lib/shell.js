// Behaviour of the header shared by every page (web/templates/web/base.html).

// The nav collapses behind a button on narrow screens; the button says whether it is open.
function initNavToggle(root) {
  const button = root.querySelector("[data-nav-toggle]");
  const nav = root.getElementById("site-nav");
  if (!button || !nav) return;
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
  });
}

// The user menu is a <details>: close it on Escape and when clicking elsewhere.
function initMenus(root) {
  const menus = [...root.querySelectorAll("details[data-menu]")];
  root.addEventListener("click", (event) => {
    for (const menu of menus) if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary")?.focus();
      }
    }
  });
}

// Choosing a tenant submits its form at once; the submit button stays for keyboards without JS.
function initTenantSwitcher(root) {
  for (const select of root.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form?.requestSubmit());
    const button = select.form?.querySelector("[data-autosubmit-fallback]");
    if (button) button.hidden = true;
  }
}

// #live-state says "connecting" until a live client (frontend/src/lib/live.js) takes it over. On
// a page without one it would say so forever: if, a few seconds after load, nothing has touched
// the element and no client has claimed it (data-client), it says "not live" instead.
export const LIVE_STATE_GRACE_MS = 4000;

function initLiveStateFallback(root) {
  const element = root.getElementById("live-state");
  if (!element) return;
  let touched = false;
  const observer = new MutationObserver(() => { touched = true; });
  observer.observe(element, { attributes: true, childList: true, characterData: true, subtree: true });
  setTimeout(() => {
    observer.disconnect();
    if (touched || element.dataset.client || element.dataset.state !== "connecting") return;
    element.dataset.state = "off";
    element.textContent = "not live";
    element.title = "This page does not update by itself";
  }, LIVE_STATE_GRACE_MS);
}

export function initShell(root) {
  initNavToggle(root);
  initMenus(root);
  initTenantSwitcher(root);
  initLiveStateFallback(root);
}
