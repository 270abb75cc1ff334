"""With PROMETHEUS_MULTIPROC_DIR, one scrape sums the web server's worker processes."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from kubemon.selfmetrics import render

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import django
django.setup()
from kubemon.selfmetrics import AUTH_FAILURES, HTTP_SECONDS
AUTH_FAILURES.labels("api").inc({n})
HTTP_SECONDS.labels("api/allocation", "GET", "200").observe(0.02)
"""


def test_one_scrape_sums_the_counters_of_every_worker_process(tmp_path, redis_db):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", PROMETHEUS_MULTIPROC_DIR=str(directory))
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", CHILD.format(n=n)], cwd=ROOT, env=env, check=True, timeout=60)
    found = {}
    for family in text_string_to_metric_families(render(redis_db, None, str(directory)).decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert found[("kubemon_auth_failures_total", (("surface", "api"),))] == 5
    count = ("kubemon_http_request_duration_seconds_count",
             (("method", "GET"), ("route", "api/allocation"), ("status", "200")))
    assert found[count] == 2
