"""``manage.py importlegacy`` on a generated month of Heapster and GPU-agent history in a second
throw-away InfluxDB: the legacy API's per-pod sums survive the move, levels are not summed twice,
``integral`` is value x spacing, and the tiers and the rollup answer the month like raw data."""

import tempfile
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from billing.access import AccessScope
from collectors.tiers import fill_namespace_tier, fill_pod_tier
from deploy.local.influxdb_server import InfluxServer
from kubemon.redis import get_redis
from kubemon.timeseries import get_store, reset_store
from kubemon.timeseries.schema import NAMESPACE_DAILY_POLICY, POD_DAILY_POLICY
from kubemon.timeseries.tiers import namespace_tier_since, pod_tier_span
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.support.base import BaseTestCase, assert_same_aggregates
from tests.support.heapster import a_month, legacy_rows, legacy_sums, write_history

# A generated month written to a second InfluxDB and imported, several times: `make test-slow`.
pytestmark = pytest.mark.slow

DAY = timedelta(days=1)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# The month: within a 40-day raw retention it is imported raw, then rolled up; with a 16-day one
# its first half goes straight into the hourly rollup.
RECENT = TODAY - 32 * DAY
EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


@pytest.fixture(scope="module")
def legacy():
    """The legacy InfluxDB with a generated month in ``k8s``."""
    server = InfluxServer().start()
    pods, gpu_jobs = a_month(RECENT)
    write_history(server.url, "k8s", pods, gpu_jobs)
    yield server
    server.cleanup()


def import_legacy(url, *args, database="k8s", checkpoint=None):
    """The command's output; a checkpoint file of its own unless one is given."""
    out, err = StringIO(), StringIO()
    if checkpoint is None:
        checkpoint = Path(tempfile.mkdtemp(prefix="importlegacy-")) / "checkpoint.json"
    call_command("importlegacy", "--url", url, "--database", database, "--quiet", "--checkpoint", str(checkpoint),
                 *args, stdout=out, stderr=err)
    return out.getvalue()


def fresh_kubemon():
    """kubemon's database emptied, and tier markers as a running kubemon's rollup task leaves them."""
    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database(*store.retention)
    redis = get_redis()
    redis.flushdb()
    now = datetime.now(UTC)
    fill_namespace_tier(redis, now)
    fill_pod_tier(redis, now)
    return store


def legacy_integrals(url, database, metric, namespace, begin, end, level="pod", cap=300, usual=60.0):
    """Per pod, the sum of value x the spacing since the previous row (the usual spacing for a
    first row and after a gap beyond the cap), from the legacy rows themselves."""
    out = {}
    for pod, rows in legacy_rows(url, database, metric, namespace, begin, end, level).items():
        total, previous = 0.0, None
        for t, value in rows:
            spacing = t - previous if previous is not None and t - previous <= cap else usual
            total += value * spacing
            previous = t
        out[pod] = total
    return out


class ImportedMonth:
    """What both months check: the legacy API's question gives the legacy answer."""

    start = RECENT
    database = "k8s"

    def window(self):
        return {"timeBeginInterval": self.start.strftime("%Y-%m-%d"),
                "timeEndInterval": (self.start + 30 * DAY).strftime("%Y-%m-%d")}

    def rows(self, metric, namespace, who):
        response = self.post_metric(metric, {**self.window(), "agg": "pod-by-namespace", "namespace": namespace},
                                    who=who)
        self.assertEqual(response.status_code, 200, response.content)
        return {row["pod_name"]: row for row in response.json()}

    def test_pod_by_namespace_gives_the_legacy_per_pod_sums_of_the_month(self):
        url, end = self.legacy.url, self.start + 30 * DAY
        for namespace, who in (("alpha-dev", "alpha"), ("alpha-prod", "alpha"), ("beta-web", "beta")):
            expected = legacy_sums(url, self.database, "cpu/usage_rate", namespace, self.start, end)
            self.assertTrue(expected, namespace)
            rows = self.rows("cpu/usage_rate", namespace, who)
            self.assertEqual({pod: row["sum"] for pod, row in rows.items()}, pytest.approx(expected, rel=1e-12))

    def test_the_integral_is_each_value_times_the_spacing_of_its_samples(self):
        url, end = self.legacy.url, self.start + 30 * DAY
        expected = legacy_integrals(url, self.database, "cpu/usage_rate", "alpha-dev", self.start, end)
        rows = self.rows("cpu/usage_rate", "alpha-dev", "alpha")
        self.assertEqual({pod: row["integral"] for pod, row in rows.items()}, pytest.approx(expected, rel=1e-9))
        # web-1 missed two scrapes: the sample after them stands for the three minutes.
        self.assertEqual(rows["web-1"]["samples"], 2 * (2 * 1440 - 1 - 2))

    def test_gpu_memory_of_the_agent_is_imported_in_mb_per_pass(self):
        url, end = self.legacy.url, self.start + 30 * DAY
        expected = legacy_sums(url, self.database, "gpu/usage", "alpha-dev", self.start, end, level=None)
        rows = self.rows("gpu/usage", "alpha-dev", "alpha")
        self.assertEqual(set(rows), {"train-0"})
        self.assertEqual(rows["train-0"]["sum"], pytest.approx(expected["train-0"], rel=1e-12))
        # One pass of the agent is one sample, its two processes' MB summed.
        passes = legacy_rows(url, self.database, "gpu/usage", "alpha-dev", self.start, end, level=None)["train-0"]
        self.assertLess(rows["train-0"]["samples"], len(passes))
        self.assertAlmostEqual(rows["train-0"]["integral"] / (6 * 3600 - 60), 4000 + 24.5 + 700 / 6, delta=3)

    def test_levels_above_the_containers_are_not_summed_again(self):
        url, end = self.legacy.url, self.start + 30 * DAY
        response = self.post_metric("cpu/usage_rate", {**self.window(), "agg": "all-namespace"}, who="global")
        by_ns = {row["namespace_name"]: row["sum"] for row in response.json()}
        self.assertEqual(set(by_ns), {"alpha-dev", "alpha-prod", "beta-web"})
        for namespace, total in by_ns.items():
            pods = legacy_sums(url, self.database, "cpu/usage_rate", namespace, self.start, end)
            self.assertEqual(total, pytest.approx(sum(pods.values()), rel=1e-12))
            everything = legacy_sums(url, self.database, "cpu/usage_rate", namespace, self.start, end, level=None)
            self.assertGreater(sum(everything.values()), total * 1.5)  # what the legacy API answered

    def test_the_tiers_answer_the_month_and_their_markers_reach_its_first_day(self):
        redis = get_redis()
        self.assertLessEqual(namespace_tier_since(redis), self.start)
        self.assertLessEqual(pod_tier_span(redis)[0], self.start)
        window = Window(self.start, self.start + 30 * DAY)
        per_ns = plan(METRICS["cpu/usage_rate"], window, get_store(), group_tags=("namespace",))
        per_pod = plan(METRICS["cpu/usage_rate"], window, get_store(), group_tags=("namespace", "pod_name"))
        self.assertIn(NAMESPACE_DAILY_POLICY, {policy for policy, _ in per_ns})
        self.assertIn(POD_DAILY_POLICY, {policy for policy, _ in per_pod})


@pytest.fixture(scope="class")
def imported_recent(request, influxdb, legacy):
    with override_settings(INFLUXDB_RAW_RETENTION="40d"):
        fresh_kubemon()
        request.cls.legacy = legacy
        request.cls.output = import_legacy(legacy.url)
        yield


@pytest.mark.usefixtures("imported_recent")
class RecentMonthTests(ImportedMonth, BaseTestCase):
    def test_the_month_reads_the_same_from_raw_data_as_from_the_rollup_and_tiers(self):
        window = Window(self.start, self.start + 30 * DAY)
        for name in ("cpu/usage_rate", "memory/working_set", "cpu/request", "cpu/usage", "gpu/usage"):
            for tags in (("namespace",), ("namespace", "pod_name")):
                fast = aggregate(METRICS[name], window, tags, EVERYTHING)
                slow = aggregate(METRICS[name], window, tags, EVERYTHING, use_rollup=False)
                assert_same_aggregates(self, fast, slow, (name, tags))

    def test_it_reports_what_it_left_out_and_why(self):
        self.assertIn("not imported: network/rx_rate: derived by kubemon from network/rx", self.output)
        self.assertIn("not imported: cpu/node_capacity: node-level", self.output)
        self.assertIn("cpu/usage_rate: ", self.output)


@pytest.fixture(scope="class")
def imported_split(request, influxdb, legacy):
    with override_settings(INFLUXDB_RAW_RETENTION="16d"):
        fresh_kubemon()
        request.cls.legacy = legacy
        request.cls.output = import_legacy(legacy.url)
        yield


@pytest.mark.usefixtures("imported_split")
class SplitMonthTests(ImportedMonth, BaseTestCase):
    """The month's first half is past the raw retention: written straight into the hourly rollup."""

    def test_hours_past_the_raw_retention_hold_no_raw_points(self):
        store = get_store()
        raw_from = self.start + 30 * DAY - 14 * DAY  # (about: the cut is a day inside the 16-day retention)
        series = store.query('SELECT count("cpu_usage_nanocores") FROM "raw"."kubernetes_pod_container" '
                             "WHERE time < $t", params={"t": int(raw_from.timestamp()) * 10**9})
        self.assertEqual(series, [])
        hourly = store.query('SELECT sum("cpu_usage_nanocores_samples") FROM "hourly"."kubernetes_pod_container" '
                             "WHERE time < $t", params={"t": int(raw_from.timestamp()) * 10**9})
        self.assertGreater(hourly[0]["values"][0][1], 2 * 2 * 1440 - 10)
        self.assertIn("kubemon keeps this metric raw only", self.output)


def rollup_points(store, measurement, before):
    """``{(tags, hour): {field: value}}`` of the hourly rollup before ``before``."""
    series = store.query(f'SELECT * FROM "hourly"."{measurement}" WHERE time < $t GROUP BY *',
                         params={"t": int(before.timestamp()) * 10**9}, epoch="s")
    out = {}
    for s in series:
        tags = tuple(sorted((k, v) for k, v in s["tags"].items() if v))
        for values in s["values"]:
            row = dict(zip(s["columns"], values, strict=True))
            out[(tags, row.pop("time"))] = {k: v for k, v in row.items() if v is not None}
    return out


@pytest.fixture(scope="class")
def imported_both_ways(request, influxdb, legacy):
    """The same measurements imported with a 16-day raw retention (their first half straight into
    the hourly rollup) and with a 40-day one (all raw, then rolled up by collectors.rollup)."""
    subset = ["--measurement", "cpu/usage_rate", "--measurement", "cpu/request", "--measurement", "gpu/usage"]
    cut = (datetime.now(UTC) - 15 * DAY).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    request.cls.points = {}
    for retention in ("16d", "40d"):
        with override_settings(INFLUXDB_RAW_RETENTION=retention):
            store = fresh_kubemon()
            import_legacy(legacy.url, *subset)
            request.cls.points[retention] = {m: rollup_points(store, m, cut)
                                             for m in ("kubernetes_pod_container", "gpu")}
    yield


@pytest.mark.usefixtures("imported_both_ways")
class HourlyStraightTests(BaseTestCase):
    def test_hours_written_straight_into_the_rollup_equal_the_rollup_of_the_same_samples(self):
        for measurement in ("kubernetes_pod_container", "gpu"):
            straight, rolled = self.points["16d"][measurement], self.points["40d"][measurement]
            self.assertGreater(len(straight), 100 if measurement != "gpu" else 5)
            self.assertEqual(set(straight), set(rolled), measurement)
            for key, fields in straight.items():
                self.assertEqual(fields, pytest.approx(rolled[key], rel=1e-12), (measurement, key))


SUBSET = ("--measurement", "cpu/usage_rate", "--measurement", "gpu/usage", "--measurement", "network/rx")
POLICIES = ("raw", "hourly", "namespace_hourly", "namespace_daily", "pod_daily")


def point_counts(store):
    """``{(policy, measurement, column): count}`` of every stored field value."""
    counts = {}
    for policy in POLICIES:
        for measurement in ("kubernetes_pod_container", "gpu", "kubernetes_pod_network"):
            for s in store.query(f'SELECT count(*) FROM "{policy}"."{measurement}"'):
                for column, value in zip(s["columns"][1:], s["values"][0][1:], strict=True):
                    counts[(policy, measurement, column)] = value
    return counts


def interrupting(original, at):
    """A stand-in for ``Importer._write``: the ``at``-th call writes half its points, then Ctrl-C."""
    calls = []

    def write(importer, job, points, policy, start):
        calls.append(job.name)
        if len(calls) == at:
            original(importer, job, points[: len(points) // 2], policy, start)
            raise KeyboardInterrupt
        return original(importer, job, points, policy, start)

    return write


@pytest.fixture(scope="class")
def imported_once(request, influxdb, legacy):
    with override_settings(INFLUXDB_RAW_RETENTION="16d"):
        store = fresh_kubemon()
        checkpoint = Path(tempfile.mkdtemp(prefix="importlegacy-")) / "checkpoint.json"
        import_legacy(legacy.url, *SUBSET, checkpoint=checkpoint)
        request.cls.legacy = legacy
        request.cls.checkpoint = checkpoint
        request.cls.once = point_counts(store)
        request.cls.once_hourly = rollup_points(store, "kubernetes_pod_container", TODAY)
        yield


@pytest.mark.usefixtures("imported_once")
class ResumeTests(BaseTestCase):
    def test_running_the_finished_import_again_writes_nothing_and_a_restart_the_same_points(self):
        again = import_legacy(self.legacy.url, *SUBSET, checkpoint=self.checkpoint)
        self.assertIn("is finished; --restart imports it again", again)
        with override_settings(INFLUXDB_RAW_RETENTION="16d"):
            import_legacy(self.legacy.url, *SUBSET, "--restart", checkpoint=self.checkpoint)
            store = get_store()
            self.assertEqual(point_counts(store), self.once)
            hourly = rollup_points(store, "kubernetes_pod_container", TODAY)
        self.assertEqual(set(hourly), set(self.once_hourly))
        for key, fields in hourly.items():
            self.assertEqual(fields, pytest.approx(self.once_hourly[key], rel=1e-12), key)

    def test_an_interrupted_import_run_again_ends_with_the_point_counts_of_one_run(self):
        from unittest import mock

        from django.core.management.base import CommandError

        from collectors.legacy import finish
        from collectors.legacy.importer import Importer

        checkpoint = Path(tempfile.mkdtemp(prefix="importlegacy-")) / "checkpoint.json"
        with override_settings(INFLUXDB_RAW_RETENTION="16d"):
            store = fresh_kubemon()
            for at in (3, 9):  # in the first measurement, then in another (a resumed run's third write)
                with mock.patch.object(Importer, "_write", interrupting(Importer._write, at)):
                    with self.assertRaises(CommandError) as caught:
                        import_legacy(self.legacy.url, *SUBSET, checkpoint=checkpoint)
                self.assertEqual(caught.exception.returncode, 130)
                self.assertIn("run the same command again to resume", str(caught.exception))
            # ... and once during the rollup of the raw hours.
            rolled = []

            def rollup_then_interrupt(*args, **kwargs):
                if rolled:
                    raise KeyboardInterrupt
                rolled.append(args)
                return original(*args, **kwargs)

            original = finish.rollup_window
            with mock.patch.object(finish, "rollup_window", rollup_then_interrupt):
                with self.assertRaises(CommandError):
                    import_legacy(self.legacy.url, *SUBSET, checkpoint=checkpoint)
            self.assertEqual(len(rolled), 1)
            import_legacy(self.legacy.url, *SUBSET, checkpoint=checkpoint)
            self.assertEqual(point_counts(store), self.once)
            self.assertEqual(store.backlog.pending(), [])
            # The same values too: a resumed measurement re-reads the minutes before it for the spacing.
            hourly = rollup_points(store, "kubernetes_pod_container", TODAY)
        self.assertEqual(set(hourly), set(self.once_hourly))
        for key, fields in hourly.items():
            self.assertEqual(fields, pytest.approx(self.once_hourly[key], rel=1e-12), key)
        expected = legacy_sums(self.legacy.url, "k8s", "cpu/usage_rate", "alpha-dev", RECENT, RECENT + 30 * DAY)
        response = self.post_metric("cpu/usage_rate", {"timeBeginInterval": RECENT.strftime("%Y-%m-%d"),
                                                       "timeEndInterval": (RECENT + 30 * DAY).strftime("%Y-%m-%d"),
                                                       "agg": "pod-by-namespace", "namespace": "alpha-dev"})
        self.assertEqual({r["pod_name"]: r["sum"] for r in response.json()}, pytest.approx(expected, rel=1e-12))


@pytest.mark.slow
@pytest.mark.usefixtures("imported_once")
class SignalTests(BaseTestCase):
    def test_ctrl_c_on_the_command_exits_130_and_the_next_run_finishes_the_same_import(self):
        import json
        import os
        import signal
        import subprocess
        import sys
        import time

        from django.conf import settings

        checkpoint = Path(tempfile.mkdtemp(prefix="importlegacy-")) / "checkpoint.json"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "KUBEMON_TEST_INFLUXDB_URL":
               settings.INFLUXDB_URL, "INFLUXDB_RAW_RETENTION": "16d"}
        command = [sys.executable, "manage.py", "importlegacy", "--url", self.legacy.url, "--quiet",
                   "--checkpoint", str(checkpoint), *SUBSET]
        with override_settings(INFLUXDB_RAW_RETENTION="16d"):
            store = fresh_kubemon()
            child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if checkpoint.exists() and json.loads(checkpoint.read_text())["jobs"].get("cpu/usage_rate", {}).get(
                        "done_until"):
                    break
                time.sleep(0.005)  # the import is a few seconds: signal it as soon as a chunk is whole
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=60)
            self.assertEqual(child.returncode, 130, err)
            self.assertIn("interrupted: what is done is in the checkpoint", err)
            self.assertFalse(json.loads(checkpoint.read_text())["finished"])
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(point_counts(store), self.once)
