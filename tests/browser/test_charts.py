"""Charts in Chromium against the real stack: a node page, the sunbursts, a stats page and its CSV."""

import csv
import io
from urllib.parse import parse_qs, urlsplit

import requests

from tests.browser.helpers import coloured_pixels, painted_pixels

SERIES_BLUE = (0x25, 0x63, 0xEB)  # the first line of every uPlot chart (frontend/src/lib/charts.js PALETTE)
# The first three lines' colours: a chart's first line may be sparse (the simulator's temperature
# agents push less often than the 15 s buckets when its manual clock runs ahead) while another
# sensor's line is whole.
SERIES_COLOURS = (SERIES_BLUE, (0xDC, 0x26, 0x26), (0x16, 0xA3, 0x4A))


def test_a_node_page_draws_its_charts_from_the_collected_data(live_stack, page, shoot, log_in):
    log_in("charlie", next_path="/web/nodes/gpu-01/")
    assert page.url.endswith("/web/nodes/gpu-01/")
    for kind in ("cpu", "memory", "gpu_utilization"):
        page.wait_for_selector(f"#chart-{kind}[data-state=drawn] canvas", timeout=20_000)
    shoot(page, "node-gpu-01")
    kinds = page.eval_on_selector_all("figure.chart", "figures => figures.map(f => [f.dataset.kind, f.dataset.state])")
    drawn = {kind for kind, state in kinds if state == "drawn"}
    assert {"cpu", "memory", "temperature"} <= drawn, kinds
    assert any(kind.startswith("gpu") for kind in drawn), kinds
    for kind in drawn:
        # A drawn chart has lines on the canvas, not just axes.
        assert sum(coloured_pixels(page, f"#chart-{kind}", colour) for colour in SERIES_COLOURS) > 50, kind
    # The data behind them is what the collectors wrote: the last hour has samples for the CPU.
    body = page.request.get("/web/data/nodes/gpu-01/series?range=1h").json()
    cpu = body["charts"]["cpu"]["series"][0]["values"]
    assert sum(v is not None for v in cpu) >= 10
    assert page.locator("#node-pods tbody tr").count() > 0

    page.click("input[name=range][value='6h']")
    with page.expect_navigation():
        page.click("form[data-range-form] button[type=submit]")
    assert "range=6h" in page.url
    page.wait_for_selector("#chart-cpu[data-state=drawn] canvas")
    shoot(page, "node-gpu-01-6h")


def test_the_namespace_sunbursts_draw_and_a_segment_opens_its_namespace(live_stack, page, shoot, log_in):
    log_in("charlie", next_path="/web/shares/")
    page.wait_for_selector("[data-share=cpu][data-state=drawn] canvas")
    shoot(page, "shares")
    for key in ("cpu", "memory", "gpu", "net"):
        page.wait_for_selector(f"[data-share={key}][data-state=drawn] canvas")
    for key in ("cpu", "memory", "gpu", "net"):
        assert painted_pixels(page, f"[data-share={key}]") > 2000, key
    listed = page.eval_on_selector_all("[data-share=cpu] [data-list] a", "links => links.map(a => a.textContent)")
    assert listed and "kube-system" not in listed  # excluded by WEB_SHARES_EXCLUDED_NAMESPACES

    # Click the inner ring (namespaces) of the CPU sunburst, just right of its hole.
    box = page.locator("[data-share=cpu] [data-plot] canvas").first.bounding_box()
    radius = min(box["width"], box["height"]) / 2
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 2 + radius * 0.3, box["y"] + box["height"] / 2)
    opened = parse_qs(urlsplit(page.url).query).get("namespace")
    assert urlsplit(page.url).path == "/" and opened, page.url
    namespaces = {p["metadata"]["namespace"] for p in live_stack.simulator.pods()}
    assert opened[0] in namespaces and opened[0] != "kube-system"
    page.wait_for_function("() => Number(document.getElementById('pods-table').dataset.rows) > 0")
    shoot(page, "shares-clicked-namespace")


def test_a_stats_page_downloads_a_csv_that_matches_the_api(live_stack, page, shoot, log_in):
    log_in("alice", next_path="/web/stats/index")
    shoot(page, "stats-index")
    with page.expect_navigation():
        page.click("a[href='/web/stats/cpu/usage_rate']")
    # The legacy path without a namespace shows the user's first namespace (the URL names it).
    page.wait_for_selector("#stats-chart[data-plot] canvas")
    shoot(page, "stats-cpu-usage-rate", full_page=False)  # (the whole page holds 1,000 rows)
    namespace = page.locator("#namespace").input_value()
    assert namespace in ("team-a", "physics")
    assert page.locator("#stats-rows tbody tr").count() > 0
    assert coloured_pixels(page, "#stats-chart", SERIES_BLUE) > 50

    with page.expect_download() as info:
        page.click("a[data-csv-link]")
    download = info.value
    text = open(download.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == page.locator("#stats-rows tbody tr").count()

    # The same question through the API with tenant alpha's credential.
    query = parse_qs(urlsplit(page.locator("a[data-csv-link]").get_attribute("href")).query)
    username, secret = live_stack.api_credentials["alpha"]
    response = requests.post(
        f"{live_stack.url}/api/cpu/usage_rate", headers={"X-USERNAME": username, "X-PASSWORD": secret},
        json={"namespace": namespace, "timeBeginInterval": query["timeBeginInterval"][0],
              "timeEndInterval": query["timeEndInterval"][0], "limit": 1000}, timeout=30)
    assert response.status_code == 200, response.text
    api_rows = response.json()
    assert isinstance(api_rows, list) and api_rows, api_rows
    assert len(rows) == len(api_rows)
    for csv_row, api_row in zip(rows, api_rows, strict=True):
        assert set(csv_row) == set(api_row)
        for key, value in api_row.items():
            expected = "" if value is None else repr(value) if isinstance(value, float) else str(value)
            assert csv_row[key] == expected, (key, csv_row, api_row)

    # A namespace of another tenant is not there to see.
    response = page.goto("/web/stats/cpu/usage_rate/ml-lab")
    assert response.status == 404
