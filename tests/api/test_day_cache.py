"""Finished days' rollup aggregates are cached in Redis; the answers stay those of the raw data."""

from datetime import timedelta

import pytest

from billing.access import AccessScope
from collectors.rollup import rollup_window
from kubemon.redis import get_redis
from metrics import daycache
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate
from metrics.window import Window
from tests.support.base import BaseTestCase, container_series, hourly_container_point, hours_ago, uses_store, write

CPU = METRICS["cpu/usage_rate"]
EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())


def day_start(days_ago):
    return hours_ago(24 * days_ago).replace(hour=0)


@uses_store
class DayCacheTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.first_day = day_start(8)
        points = []
        for h in range(24 * 4):
            hour = self.first_day + timedelta(hours=h)
            points.append(hourly_container_point("alpha-dev", "a-1", "app", hour, 240, 15, cpu=100.0, memory=2**20))
            points.append(hourly_container_point("beta-web", "b-1", "app", hour, 240, 15, cpu=10.0 + h, memory=2**20))
        write(points, policy="hourly")
        self.window = Window(self.first_day + timedelta(hours=5), self.first_day + timedelta(days=3, hours=7))

    def cached_keys(self):
        return get_redis().keys(daycache.PREFIX + "*")

    def test_a_second_query_reads_finished_days_from_the_cache(self):
        first = aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        self.assertEqual(len(self.cached_keys()), 2)  # the two whole days inside the window
        # Change the stored data of a cached day: the cache, not InfluxDB, answers for that day.
        write([hourly_container_point("alpha-dev", "a-1", "app", self.first_day + timedelta(days=1, hours=3), 240, 15,
                                      cpu=999.0, memory=2**20)], policy="hourly")
        second = aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        self.assertEqual(first, second)
        self.assertEqual(daycache.clear(), 2)
        third = aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        self.assertGreater(third[("alpha-dev",)].integral, first[("alpha-dev",)].integral)

    def test_a_window_of_cached_days_only_needs_no_statement(self):
        days = Window(self.first_day + timedelta(days=1), self.first_day + timedelta(days=3))
        first = aggregate(CPU, days, ("namespace",), EVERYTHING)
        for parallelism in (1, 4):
            with self.settings(API_QUERY_PARALLELISM=parallelism):
                self.assertEqual(aggregate(CPU, days, ("namespace",), EVERYTHING), first)

    def test_the_numbers_are_those_of_the_data(self):
        for _ in range(2):  # cold, then warm
            result = aggregate(CPU, self.window, ("namespace", "pod_name"), EVERYTHING)
            alpha = result[("alpha-dev", "a-1")]
            hours = (self.window.end - self.window.begin) / timedelta(hours=1)
            self.assertAlmostEqual(alpha.integral, 100.0 * 3600 * hours)
            self.assertEqual(alpha.samples, int(240 * hours))
            beta = result[("beta-web", "b-1")]
            self.assertEqual(beta.max, 10.0 + 24 * 3 + 6)  # the last hour inside the window

    def test_each_selection_and_grouping_has_its_own_entries(self):
        tenant = aggregate(CPU, self.window, ("namespace",), Selection.for_scope(AccessScope.for_credential(
            self.alpha_credential)))
        everyone = aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        by_pod = aggregate(CPU, self.window, ("namespace", "pod_name"), EVERYTHING)
        self.assertEqual(set(tenant), {("alpha-dev",)})
        self.assertEqual(set(everyone), {("alpha-dev",), ("beta-web",)})
        self.assertEqual(set(by_pod), {("alpha-dev", "a-1"), ("beta-web", "b-1")})
        self.assertEqual(len(self.cached_keys()), 6)

    def test_the_management_command_clears_the_cache(self):
        import io

        from django.core.management import call_command

        aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        out = io.StringIO()
        call_command("clearquerycache", stdout=out)
        self.assertIn("forgot 2 cached day(s)", out.getvalue())
        self.assertEqual(self.cached_keys(), [])

    def test_days_not_yet_final_are_not_cached(self):
        recent = Window(day_start(1), hours_ago(0))
        aggregate(CPU, recent, ("namespace",), EVERYTHING)
        self.assertEqual(self.cached_keys(), [])

    def test_with_the_cache_off_nothing_is_stored(self):
        with self.settings(API_DAY_CACHE_SECONDS=0):
            aggregate(CPU, self.window, ("namespace",), EVERYTHING)
        self.assertEqual(self.cached_keys(), [])


@uses_store
class DayCacheEquivalenceTests(BaseTestCase):
    def test_cold_warm_and_raw_answers_agree(self):
        start = day_start(5) - timedelta(hours=3)
        count = (2 * 24 + 6) * 120  # 2 days and 6 hours of 30 s samples
        write(container_series("alpha-dev", "a-1", "app", start, count, interval=30, cpu=lambda i: 50 + i % 37)
              + container_series("alpha-prod", "p-1", "app", start, count, interval=30, cpu=lambda i: 5 + i % 11))
        rollup_window(start, start + timedelta(seconds=30 * count))
        window = Window(start + timedelta(minutes=13), start + timedelta(seconds=30 * count - 700))
        cold = aggregate(CPU, window, ("namespace",), EVERYTHING)
        self.assertTrue(get_redis().keys(daycache.PREFIX + "*"))
        warm = aggregate(CPU, window, ("namespace",), EVERYTHING)
        raw = aggregate(CPU, window, ("namespace",), EVERYTHING, use_rollup=False)
        daycache.clear()
        with self.settings(API_QUERY_PARALLELISM=1):  # every statement in one request, in turn
            serial = aggregate(CPU, window, ("namespace",), EVERYTHING)
        self.assertEqual(set(cold), set(raw))
        for key, expected in raw.items():
            for result in (cold, warm, serial):
                self.assertEqual(result[key].samples, expected.samples)
                self.assertEqual(result[key].max, expected.max)
                self.assertEqual(result[key].integral, pytest.approx(expected.integral, rel=1e-9))
                self.assertEqual(result[key].sum, pytest.approx(expected.sum, rel=1e-9))


@uses_store
class WarmTests(BaseTestCase):
    def test_warming_makes_the_clients_first_month_query_read_the_cache(self):
        import io

        from django.core.management import call_command

        first_day = day_start(6)
        write([hourly_container_point(ns, f"{ns}-1", "app", first_day + timedelta(hours=h), 240, 15, cpu=100.0,
                                      memory=2**20)
               for h in range(24 * 3) for ns in ("alpha-dev", "beta-web")], policy="hourly")
        out = io.StringIO()
        call_command("warmquerycache", "--days", "10", "--metrics", "cpu/usage_rate", stdout=out)
        self.assertIn("warmed", out.getvalue())
        before = len(get_redis().keys(daycache.PREFIX + "*"))
        self.assertGreater(before, 0)
        body = {"agg": "all-namespace", "timeBeginInterval": first_day.strftime("%Y-%m-%d"),
                "timeEndInterval": (first_day + timedelta(days=3)).strftime("%Y-%m-%d")}
        rows = self.post_metric("cpu/usage_rate", body, who="alpha").json()
        self.assertEqual([(r["namespace_name"], r["mean"]) for r in rows], [("alpha-dev", 100.0)])
        rows = self.post_metric("cpu/usage_rate", {**body, "agg": "pod-by-namespace", "namespace": "alpha-dev"}).json()
        self.assertEqual(rows[0]["samples"], 240 * 24 * 3)
        # The client's queries found every day already cached: nothing new was stored.
        self.assertEqual(len(get_redis().keys(daycache.PREFIX + "*")), before)

    def test_it_refuses_unknown_metrics_and_silly_spans(self):
        from django.core.management import call_command
        from django.core.management.base import CommandError

        with self.assertRaisesMessage(CommandError, "unknown metric(s): nope"):
            call_command("warmquerycache", "--metrics", "nope")
        with self.assertRaisesMessage(CommandError, "--days"):
            call_command("warmquerycache", "--days", "0")
