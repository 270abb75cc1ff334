"""The overview in Chromium at 1,000 and 10,000 pods, against the real stack.

    set -a; source .run/env; set +a
    .venv/bin/python bench/bench_browser.py [--pods 1000,10000] [--cycles 5] [--json results.json]

For each size: a throw-away InfluxDB, a simulated cluster on a manual clock (``--pods`` pods on
pods/20 nodes, 4 of them with GPUs), kubemon's ASGI application under uvicorn (one worker) on a
migrated SQLite database and the Redis database ``BENCH_REDIS_DB`` (default 14, flushed before
and after), the collectors run in this process as the beat would (tests/browser/stack.py), and
Debian's chromium driven by Playwright, logged in as a staff user through the login form.

- (a) cycle end -> update applied: the simulated clock moves 15 s, the inventory (every other
  cycle), usage, GPU and temperature cycles run; from the end of the usage cycle (its snapshot
  published) to the page having applied the delta to its store and tables
  (``store.lastReceivedAt``, the browser's wall clock after its subscribers ran: one machine,
  one clock). ``--cycles`` cycles per size; p50 and max.
- (c) the overview with that many pods: time to first render (navigation start to
  DOMContentLoaded, which follows the page's module script that renders the embedded view, and
  that script's own render time), the time the page spends applying one cycle's delta (store
  and tables, ``store.lastApplyMs``), and the JS heap after a garbage collection (CDP
  ``Runtime.getHeapUsage``) once the cycles are applied.
"""

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAFF, PASSWORD = "bench-browser", "bench browser password"


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", default="1000,10000", help="cluster sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--cycles", type=int, default=5, help="measured cycles per size (default 5)")
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "14")))
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON here")
    return parser.parse_args()


def setup_django(workdir, redis_db, influx_url):
    redis_url = re.sub(r"/\d+$", "", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")) + f"/{redis_db}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "kubemon.settings", "SECRET_KEY": "kubemon-bench-browser-not-for-production",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "REDIS_URL": redis_url, "INFLUXDB_URL": influx_url,
        "INFLUXDB_DATABASE": "kubemon_bench_browser", "INFLUXDB_TIMEOUT": "120",
        "CHANNELS_PREFIX": "kubemon-bench-browser", "LOG_LEVEL": "ERROR",
    })
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username=STAFF, defaults={"is_staff": True})
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    from django.db import connections

    connections.close_all()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(size, args, workdir, influx_url):
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store, reset_store
    from tests.browser.stack import AsgiServer, Collector, Simulator, free_port, launch_chromium, server_env

    redis = get_redis()
    redis.flushdb()
    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database()
    port = free_port()
    nodes = max(5, size // 20)
    simulator = Simulator(workdir / f"sim-{size}", int(time.time()) - 3600, push_to=f"http://127.0.0.1:{port}",
                          seed=7, nodes=nodes, pods=size, gpu_nodes=4, jetson_nodes=0)
    env = server_env(settings_module="kubemon.settings", database=f"sqlite:///{settings.DATABASES['default']['NAME']}",
                     redis_url=settings.REDIS_URL, influxdb_url=influx_url,
                     influxdb_database=settings.INFLUXDB_DATABASE,
                     channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                     kubeconfig=simulator.kubeconfig, secret_key=settings.SECRET_KEY, debug=True,
                     extra={"ALLOWED_HOSTS": "127.0.0.1,localhost"})
    server = AsgiServer(env, workdir / f"asgi-{size}.log", port=port)
    result = {"pods": size, "nodes": nodes}
    try:
        server.start()
        collector = Collector(simulator, store, redis)
        for _ in range(2):  # rates need two samples
            collector.cycle(15)
        result["usage_cycle_s"] = round(collector.seconds["usage"][-1], 3)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(base_url=server.url, viewport={"width": 1366, "height": 900})
            page.set_default_timeout(120_000)
            page.goto("/web/login/")
            page.fill("input[name=username]", STAFF)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
            # (c) first render: a fresh navigation to the overview.
            page.goto("/")
            page.wait_for_function("() => window.kubemonOverview && window.kubemonOverview.firstRenderMs !== null")
            first = page.evaluate("""() => {
                const nav = performance.getEntriesByType('navigation')[0];
                return {dom_content_loaded_ms: nav.domContentLoadedEventEnd, response_end_ms: nav.responseEnd,
                        script_render_ms: window.kubemonOverview.firstRenderMs,
                        rows: Number(document.getElementById('pods-table').dataset.rows),
                        rendered: Number(document.getElementById('pods-table').dataset.rendered),
                        html_bytes: nav.transferSize};
            }""")
            result["first_render"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in first.items()}
            page.wait_for_function("() => document.getElementById('live-state').dataset.state === 'live'")
            latencies, from_publish, apply_ms = [], [], []
            for _ in range(args.cycles):
                before = page.evaluate("() => window.kubemonOverview.applied")
                ended = collector.cycle(15)
                page.wait_for_function("n => window.kubemonOverview.applied > n", arg=before)
                received, published, spent = page.evaluate(
                    "() => { const s = window.kubemonOverview.store; "
                    "return [s.lastReceivedAt, s.published, s.lastApplyMs]; }")
                latencies.append(received - ended)
                from_publish.append(received - published)
                apply_ms.append(spent)
            result["cycle_to_applied_ms"] = {"p50": round(statistics.median(latencies) * 1000),
                                             "max": round(max(latencies) * 1000),
                                             "all": [round(x * 1000) for x in latencies]}
            # The usage cycle goes on a little after it published (it saves its state): from the
            # view's own "published" stamp the same path is longer by that much.
            result["published_to_applied_ms"] = {"p50": round(statistics.median(from_publish) * 1000),
                                                 "max": round(max(from_publish) * 1000)}
            result["apply_ms"] = {"p50": round(statistics.median(apply_ms), 1), "max": round(max(apply_ms), 1)}
            result["usage_cycle_s"] = round(statistics.median(collector.seconds["usage"][2:]), 3)
            cdp = page.context.new_cdp_session(page)
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")
            result["js_heap_mb"] = round(heap["usedSize"] / 2**20, 1)
            result["rows"] = page.evaluate("() => Number(document.getElementById('pods-table').dataset.rows)")
            page.screenshot(path=str(ROOT / "bench" / "results" / f"overview-{size}-pods.png"))
            browser.close()
    finally:
        server.stop()
        simulator.stop()
        redis.flushdb()
    return result


def main():
    args = arguments()
    from deploy.local.influxdb_server import InfluxServer

    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubemon-bench-browser-") as tmp:
        workdir = Path(tmp)
        influx = InfluxServer(data_dir=workdir / "influxdb").start()
        try:
            setup_django(workdir, args.redis_db, influx.url)
            results = []
            for size in (int(s) for s in args.pods.split(",")):
                started = time.perf_counter()
                result = measure(size, args, workdir, influx.url)
                result["wall_s"] = round(time.perf_counter() - started, 1)
                results.append(result)
                print(json.dumps(result), flush=True)
        finally:
            influx.cleanup()
    print()
    print("| pods | first render (DOMContentLoaded) | its script | cycle end -> applied p50 / max | publish -> applied "
          "p50 / max | apply one delta p50 / max | JS heap |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['pods']:,} | {r['first_render']['dom_content_loaded_ms']:.0f} ms | "
              f"{r['first_render']['script_render_ms']:.0f} ms | {r['cycle_to_applied_ms']['p50']} / "
              f"{r['cycle_to_applied_ms']['max']} ms | {r['published_to_applied_ms']['p50']} / "
              f"{r['published_to_applied_ms']['max']} ms | {r['apply_ms']['p50']} / {r['apply_ms']['max']} ms | "
              f"{r['js_heap_mb']} MB |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
