"""What the browser tests ask of a page and of the simulator, in one place."""

import time

# Waiting reasons kubectl shows for a container in trouble (DESIGN §5: such a pod is "failed").
ERROR_REASONS = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "RunContainerError",
                 "CreateContainerConfigError", "CreateContainerError", "InvalidImageName"}


def simulator_state(pod):
    """The DESIGN §5 state of a pod object as the simulator serves it: the test's own reading of
    the source, independent of the collectors' code."""
    if pod["metadata"].get("deletionTimestamp"):
        return "deleting"
    phase = pod["status"].get("phase")
    if phase == "Failed":
        return "failed"
    for status in pod["status"].get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ERROR_REASONS:
            return "failed"
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Running":
        return "running"
    return "pending"


def pods_by_name(simulator):
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in simulator.pods()}


def applied_cycles(page):
    """How many live messages the overview has applied (its own counter, 0 before the first)."""
    return page.evaluate("() => (window.kubemonOverview && window.kubemonOverview.applied) || 0")


def cycle_and_wait(stack, page, seconds=15, timeout=10.0):
    """One collection cycle, then wait until the overview has applied it; returns the seconds from
    the end of the usage cycle (its snapshot published) to the page having applied the update."""
    before = applied_cycles(page)
    published = stack.cycle(seconds)
    page.wait_for_function("n => window.kubemonOverview && window.kubemonOverview.applied > n", arg=before,
                           timeout=timeout * 1000)
    return time.time() - published


def visible_pod_rows(page):
    """The pods table's rendered rows as dicts of their cells, with the row's class and its badge
    ("changed", "new", "removed"; taken out of the name cell)."""
    return page.evaluate("""() => {
        const heads = [...document.querySelectorAll('#pods-table thead th')].map(th => th.textContent.trim());
        return [...document.querySelectorAll('#pods-table tbody tr:not(.spacer)')].map(tr => {
            const row = {class: tr.className, badge: ''};
            [...tr.cells].forEach((td, i) => {
                const cell = td.cloneNode(true);
                for (const badge of cell.querySelectorAll('.row-badge')) {
                    row.badge = badge.textContent.trim();
                    badge.remove();
                }
                row[heads[i]] = cell.textContent.trim();
            });
            return row;
        });
    }""")


def visible_node_rows(page):
    return page.evaluate("""() => {
        const heads = [...document.querySelectorAll('#nodes-table thead th')].map(th => th.textContent.trim());
        return [...document.querySelectorAll('#nodes-table tbody tr:not(.spacer)')].map(tr => {
            const row = {class: tr.className};
            [...tr.cells].forEach((td, i) => { row[heads[i]] = td.textContent.trim(); });
            return row;
        });
    }""")


def store_namespaces(page):
    """Every namespace in the overview's live store: what the websocket and the embedded view gave it."""
    return set(page.evaluate("""() => {
        const store = window.kubemonOverview.store;
        const ns = store.podColumns ? store.podColumns.indexOf('namespace') : 1;
        return [...store.pods.values()].map(row => row[ns]);
    }"""))


def coloured_pixels(page, selector, colour, tolerance=40):
    """How many pixels of the canvases under ``selector`` are close to ``colour`` (r, g, b): a
    chart that drew its line or segments has hundreds; an empty canvas none."""
    return page.evaluate("""([selector, colour, tolerance]) => {
        let count = 0;
        for (const canvas of document.querySelectorAll(selector + ' canvas')) {
            if (!canvas.width || !canvas.height) continue;
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] > 0 && Math.abs(data[i] - colour[0]) < tolerance
                    && Math.abs(data[i + 1] - colour[1]) < tolerance && Math.abs(data[i + 2] - colour[2]) < tolerance) {
                    count += 1;
                }
            }
        }
        return count;
    }""", [selector, list(colour), tolerance])


def painted_pixels(page, selector):
    """Pixels of the canvases under ``selector`` that are neither transparent nor the background."""
    return page.evaluate("""(selector) => {
        let count = 0;
        for (const canvas of document.querySelectorAll(selector + ' canvas')) {
            if (!canvas.width || !canvas.height) continue;
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 0; i < data.length; i += 4) {
                const white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
                if (data[i + 3] > 0 && !white) count += 1;
            }
        }
        return count;
    }""", selector)
