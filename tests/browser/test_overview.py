"""The overview in Chromium: the simulator's nodes and pods, a pod failing live, tenant isolation."""

import json

from tests.browser.conftest import TENANTS, login
from tests.browser.helpers import (
    applied_cycles,
    cycle_and_wait,
    pods_by_name,
    simulator_state,
    store_namespaces,
    visible_node_rows,
    visible_pod_rows,
)


def _wait_live(page):
    page.wait_for_function("() => document.getElementById('live-state').dataset.state === 'live'")


def test_the_overview_shows_the_simulators_nodes_and_pods(live_stack, page, shoot, log_in):
    log_in("charlie")  # staff: the whole cluster
    _wait_live(page)
    nodes = {n["metadata"]["name"] for n in live_stack.simulator.get("/api/v1/nodes")["items"]}
    pods = pods_by_name(live_stack.simulator)

    assert page.locator("#health-text").inner_text() == "OK"
    node_rows = visible_node_rows(page)
    assert {row["Name"] for row in node_rows} == nodes
    assert {row["Status"] for row in node_rows} == {"Ready"}
    assert next(row for row in node_rows if row["Name"] == "cp-1")["Roles"] == "control-plane"
    assert page.locator("#pods-table").get_attribute("data-rows") == str(len(pods))
    assert page.locator("#pod-count").inner_text().endswith(f"{len(pods)} pods")
    shoot(page, "overview")

    # A running pod of the simulator, found with the search box, as kubectl would show it.
    # (Names are unique within a namespace only: the namespace filter, and a name that no other
    # pod's name contains.)
    (namespace, name), pod = next(
        (key, p) for key, p in sorted(pods.items())
        if simulator_state(p) == "running" and p["spec"].get("nodeName")
        and not any(key[1] in other and other != key[1] for ns, other in pods if ns == key[0]))
    page.select_option("#pod-namespace", namespace)
    page.fill("#pod-search", name)
    page.wait_for_function("() => document.getElementById('pods-table').dataset.rows === '1'")
    (row,) = visible_pod_rows(page)
    containers = pod["status"]["containerStatuses"]
    assert (row["Namespace"], row["Name"], row["Node"]) == (namespace, name, pod["spec"]["nodeName"])
    assert row["Status"] == "Running"
    assert row["Ready"] == f"{sum(c['ready'] for c in containers)}/{len(pod['spec']['containers'])}"
    assert "row-running" in row["class"]
    assert f"q={name}" in page.url and f"namespace={namespace}" in page.url  # in the URL: it can be bookmarked
    shoot(page, "overview-search")
    page.reload()
    page.wait_for_function("() => document.getElementById('pods-table').dataset.rows === '1'")
    assert visible_pod_rows(page)[0]["Name"] == name

    # A crash-looping pod shows kubectl's reason, in the failed colour.
    page.goto("/?q=worker-broken")
    broken = visible_pod_rows(page)
    assert broken, "the scenario has a crash-looping worker-broken pod"
    for row in broken:
        pod = pods[(row["Namespace"], row["Name"])]
        expected = simulator_state(pod)
        assert f"row-{expected}" in row["class"], (row, expected)
        if expected == "failed":
            assert row["Status"] == "CrashLoopBackOff"


def test_a_pod_the_simulator_fails_turns_red_in_the_open_page_without_a_reload(live_stack, page, shoot, log_in):
    log_in("charlie", next_path="/")
    pods = pods_by_name(live_stack.simulator)
    (namespace, name), _ = next((key, p) for key, p in sorted(pods.items()) if key[1].startswith("worker-broken"))
    page.goto(f"/?q={name}")
    _wait_live(page)
    page.evaluate("() => { window.openedOnce = true; }")  # gone if the page were reloaded
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    def row_class():
        rows = visible_pod_rows(page)
        assert len(rows) == 1 and rows[0]["Name"] == name, rows
        return rows[0]["class"], rows[0]["Status"]

    # Advance until the simulator has it running, then until it crashes again: the page follows.
    latencies, seen = [], []
    for wanted in ("running", "failed"):
        for _ in range(30):  # the back-off is at most 300 s: 20 cycles of 15 s
            latencies.append(cycle_and_wait(live_stack, page))
            state = simulator_state(pods_by_name(live_stack.simulator)[(namespace, name)])
            css, status = row_class()
            seen.append((state, css, status))
            assert f"row-{state}" in css, seen
            if state == wanted:
                break
        else:
            raise AssertionError(f"{namespace}/{name} never became {wanted}: {seen}")
        if wanted == "running":
            shoot(page, "pod-running")
    css, status = row_class()
    assert "row-failed" in css and status in ("CrashLoopBackOff", "Error"), (css, status)
    assert "row-changed" in css  # highlighted for a moment: it changed in this cycle
    assert visible_pod_rows(page)[0]["badge"] == "changed"
    colour = page.evaluate("() => getComputedStyle(document.querySelector('#pods-table tbody tr:not(.spacer)'))"
                           ".backgroundColor")
    failed_bg = page.evaluate("""() => {
        const probe = document.createElement('div');
        probe.style.background = 'var(--state-failed-bg)';
        document.body.append(probe);
        const colour = getComputedStyle(probe).backgroundColor;
        probe.remove();
        return colour;
    }""")
    assert colour == failed_bg and colour != "rgba(0, 0, 0, 0)", (colour, failed_bg)
    shoot(page, "pod-failed")
    assert page.evaluate("() => window.openedOnce") is True
    assert navigations == []
    # The Done-when bar is 1 s from the end of a cycle to the page; under a loaded CI machine the
    # test allows 3 s (bench/bench_browser.py measures it properly).
    assert max(latencies) < 3.0, latencies
    print(f"cycle end -> page applied: max {max(latencies) * 1000:.0f} ms over {len(latencies)} cycles")


def test_tenant_a_never_sees_tenant_b_pods(live_stack, chromium, shoot):
    alpha = set(TENANTS["alpha"]["namespaces"])
    beta = set(TENANTS["beta"]["namespaces"])
    pods = pods_by_name(live_stack.simulator)
    beta_pods = {name for (namespace, name) in pods if namespace in beta}
    assert beta_pods, "the scenario gives tenant beta pods"

    pages = {}
    frames = {"alice": [], "bob": []}
    for username in ("alice", "bob"):
        context = chromium.new_context(base_url=live_stack.url, viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.on("websocket", lambda ws, who=username: ws.on("framereceived", lambda payload: frames[who].append(
            payload if isinstance(payload, str) else payload.decode())))
        login(page, live_stack.people[username])
        _wait_live(page)
        pages[username] = page
    try:
        # A cycle or two of live deltas reach both pages.
        for _ in range(2):
            before = {who: applied_cycles(p) for who, p in pages.items()}
            live_stack.cycle()
            for who, p in pages.items():
                p.wait_for_function("n => window.kubemonOverview.applied > n", arg=before[who], timeout=10_000)

        alice = pages["alice"]
        assert store_namespaces(alice) <= alpha and store_namespaces(alice)
        assert store_namespaces(pages["bob"]) <= beta and store_namespaces(pages["bob"])
        rows = visible_pod_rows(alice)
        assert rows and {row["Namespace"] for row in rows} <= alpha
        alice_pods = [key for key in pods_by_name(live_stack.simulator) if key[0] in alpha]
        assert alice.locator("#pods-table").get_attribute("data-rows") == str(len(alice_pods))
        html = alice.content()
        assert not any(name in html for name in beta_pods)
        assert frames["alice"], "alice's page received live messages"
        for text in frames["alice"]:
            message = json.loads(text)
            for row in message.get("pods", []) + message.get("added", []) + message.get("changed", []):
                assert row[1] in alpha, row
            assert not any(namespace in text for namespace in beta), text[:200]
        # A node that runs none of alice's pods is not hers to open.
        nodes_of_alpha = {p["spec"].get("nodeName") for (namespace, _), p in pods.items() if namespace in alpha}
        foreign = sorted({n["metadata"]["name"] for n in live_stack.simulator.get("/api/v1/nodes")["items"]}
                         - nodes_of_alpha)
        assert foreign, "some node runs none of alpha's pods (the control plane at least)"
        response = alice.goto(f"/web/nodes/{foreign[0]}/")
        assert response.status == 404
        alice.goto("/?namespace=ml-lab")
        assert alice.locator("#pods-table").get_attribute("data-rows") == "0"
        shoot(alice, "alice-foreign-namespace")
        alice.goto("/")
        _wait_live(alice)
        shoot(alice, "alice-overview")
        shoot(pages["bob"], "bob-overview")
    finally:
        for page in pages.values():
            page.context.close()
