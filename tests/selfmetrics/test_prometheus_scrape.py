"""A real Prometheus (Debian's ``prometheus``, installed by ``make services``) scrapes ``/metrics``
with the bearer token and answers a query for one of kubemon's series."""

import shutil
import socket
import subprocess
import time

import pytest
import requests
from django.test import override_settings

from kubemon.cluster import save_cycle_report

TOKEN = "prometheus-scrape-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(live_server, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus package is missing: run `make services` (deploy/local/ensure-services.sh)")
    target = live_server.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kubemon
    metrics_path: /metrics
    authorization:
      credentials: {TOKEN}
    static_configs:
      - targets: ["{target}"]
""")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def query(url, expression):
    response = requests.get(f"{url}/api/v1/query", params={"query": expression}, timeout=2)
    response.raise_for_status()
    return response.json()["data"]["result"]


@override_settings(METRICS_TOKEN=TOKEN)
def test_prometheus_scrapes_the_page_with_the_token_and_reads_a_series_back(redis_db, prometheus):
    save_cycle_report(redis_db, "usage", {"name": "usage", "ok": True, "skipped": False, "points": {},
                                          "seconds": {"total": 1.5}, "written": 1234, "spooled": 0, "replayed": 0})
    deadline = time.monotonic() + 30
    result = []
    while time.monotonic() < deadline:
        try:
            result = query(prometheus, 'kubemon_points_written_total{source="usage"}')
        except requests.RequestException:
            result = []  # not listening yet
        if result:
            break
        time.sleep(0.3)
    assert result, "Prometheus never stored kubemon_points_written_total"
    assert float(result[0]["value"][1]) == 1234
    assert result[0]["metric"]["job"] == "kubemon"
    up = query(prometheus, 'up{job="kubemon"}')
    assert float(up[0]["value"][1]) == 1
