"""Cheaper reads, same answers: several metrics in one question, the daily tiers' spans cached
whole, and a window's end edge left unread when the running sums show nothing past it."""

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from billing.access import AccessScope
from collectors.rollup import audit_rollup, reroll_late_hours, rollup_window
from collectors.tiers import fill_namespace_tier, fill_pod_tier
from kubemon.redis import get_redis
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.hours import floor_day, floor_hour
from kubemon.timeseries.schema import NAMESPACE_DAILY_POLICY, POD_DAILY_POLICY
from metrics import daycache
from metrics.allocation import _CONTAINER_READS
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, aggregate_many
from metrics.window import Window
from tests.metrics.test_open_hour import collect
from tests.support.base import BaseTestCase, assert_same_aggregates, container_series, hours_ago, uses_store, write

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())
GROUPINGS = (("namespace",), ("namespace", "pod_name"), ("namespace", "node_name"))
# The allocation's container gauges, a counter and a rate (read by statements of their own).
MANY = [metric for _, metric, _, _ in _CONTAINER_READS] + [METRICS["memory/page_faults"],
                                                           METRICS["memory/page_faults_rate"]]


@contextmanager
def statements():
    """The InfluxQL statements sent meanwhile (the real client, watched)."""
    sent = []
    original = InfluxClient.query_all

    def watched(client, statement, *args, **kwargs):
        sent.append(statement)
        return original(client, statement, *args, **kwargs)

    with mock.patch.object(InfluxClient, "query_all", watched):
        yield sent


def usage(start, count):
    """Three pods on two nodes, a sample a minute, usage changing every sample."""
    points = container_series("alpha-dev", "web-1", "app", start, count, interval=60,
                              cpu=lambda i: 100 + (i * 7) % 90, memory=lambda i: 2**27 + (i * 4099) % 2**20)
    points += container_series("alpha-dev", "web-2", "app", start, count, interval=60, node="node-2",
                               cpu=lambda i: 5 + i % 3)
    points += container_series("beta-web", "front-1", "app", start + timedelta(minutes=95), count - 95,
                               interval=60, cpu=lambda i: 400 - i % 17, memory=lambda i: 2**28 - i * 1024)
    write(points)


@uses_store
class TieredReadTests(BaseTestCase):
    """Two and a bit days of data: whole final UTC days come from the daily tiers."""

    def setUp(self):
        super().setUp()
        self.start = hours_ago(54)
        usage(self.start, 53 * 60)
        rollup_window(self.start, self.start + timedelta(hours=53))
        now = datetime.now(UTC)
        fill_namespace_tier(get_redis(), now)
        fill_pod_tier(get_redis(), now)
        self.window = Window(self.start + timedelta(minutes=20, seconds=7),
                             self.start + timedelta(hours=51, minutes=41))

    def test_many_metrics_in_one_question_give_each_the_raw_answer(self):
        for group_tags in GROUPINGS:
            many = aggregate_many(MANY, self.window, group_tags, EVERYTHING)
            for metric, answer in zip(MANY, many, strict=True):
                raw = aggregate(metric, self.window, group_tags, EVERYTHING, use_rollup=False)
                assert_same_aggregates(self, answer, raw, (metric.name, group_tags))

    def test_a_question_of_many_metrics_reads_each_piece_of_the_window_once(self):
        daycache.clear()
        with statements() as alone:
            for metric in MANY:
                aggregate(metric, self.window, ("namespace",), EVERYTHING)
        daycache.clear()
        with statements() as together:
            aggregate_many(MANY, self.window, ("namespace",), EVERYTHING)
        # The eight gauges share every statement; the counter and the rate keep their own.
        self.assertLess(len(together), len(alone) / 3, (len(together), len(alone)))

    def test_the_daily_tiers_span_is_read_once_then_taken_from_the_cache(self):
        for group_tags, policy in ((("namespace",), NAMESPACE_DAILY_POLICY), (("namespace", "pod_name"),
                                                                                POD_DAILY_POLICY)):
            metric = METRICS["memory/working_set"]
            daycache.clear()
            with statements() as first:
                cold = aggregate(metric, self.window, group_tags, EVERYTHING)
            with statements() as second:
                warm = aggregate(metric, self.window, group_tags, EVERYTHING)
            self.assertTrue(any(f'"{policy}".' in s for s in first), policy)
            self.assertFalse(any(f'"{policy}".' in s for s in second), policy)
            assert_same_aggregates(self, warm, cold, policy)
            raw = aggregate(metric, self.window, group_tags, EVERYTHING, use_rollup=False)
            assert_same_aggregates(self, warm, raw, policy)

    def test_late_data_in_a_cached_span_is_answered_after_its_reroll(self):
        metric = METRICS["cpu/usage_rate"]
        pods = ("namespace", "pod_name")
        before = {tags: aggregate(metric, self.window, tags, EVERYTHING) for tags in (("namespace",), pods)}
        # The window's first whole UTC day is final and in both daily tiers: late data lands in it.
        late_start = floor_day(self.window.begin) + timedelta(days=1, hours=10)
        write(container_series("alpha-dev", "web-1", "late", late_start + timedelta(minutes=5), 40, interval=60,
                               cpu=900.0))
        self.assertIn(late_start, audit_rollup(days=4))
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            raw = aggregate(metric, self.window, group_tags, EVERYTHING, use_rollup=False)
            assert_same_aggregates(self, aggregate(metric, self.window, group_tags, EVERYTHING), raw, "late")
        reroll_late_hours()
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            raw = aggregate(metric, self.window, group_tags, EVERYTHING, use_rollup=False)
            assert_same_aggregates(self, aggregate(metric, self.window, group_tags, EVERYTHING), raw, "re-rolled")
            key = ("alpha-dev", "web-1")[: len(group_tags)]
            self.assertGreater(raw[key].integral, before[group_tags][key].integral)


    def test_a_final_windows_ragged_hours_and_edges_are_read_once_until_late_data(self):
        window = Window(self.start + timedelta(minutes=20, seconds=7), self.start + timedelta(hours=40, minutes=13))
        metric = METRICS["cpu/usage_rate"]
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            daycache.clear()
            with statements() as first:
                cold = aggregate(metric, window, group_tags, EVERYTHING)
            with statements() as second:
                warm = aggregate(metric, window, group_tags, EVERYTHING)
            self.assertEqual(len(_edges(first)), 2, group_tags)
            # Left: the rollup's newest hour and the raw minutes before the first whole hour.
            rollup_reads = [s for s in second if '"raw".' not in s and "last(" not in s]
            self.assertEqual((_edges(second), rollup_reads), ([], []), group_tags)
            assert_same_aggregates(self, warm, cold, group_tags)
            assert_same_aggregates(self, warm, aggregate(metric, window, group_tags, EVERYTHING, use_rollup=False),
                                   group_tags)
        # Late samples in the window's first hours and past its end (the end edge shares the first
        # one out): answered as raw data is.
        write(container_series("alpha-dev", "web-1", "late", self.start + timedelta(hours=2), 40, interval=60,
                               cpu=700.0))
        write(container_series("beta-web", "front-1", "late", window.end + timedelta(seconds=5), 2, interval=15,
                               cpu=900.0))
        audit_rollup(days=4)
        reroll_late_hours()
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            raw = aggregate(metric, window, group_tags, EVERYTHING, use_rollup=False)
            assert_same_aggregates(self, aggregate(metric, window, group_tags, EVERYTHING), raw, "late")


def _edges(sent):
    """The window-edge statements among ``sent`` (they alone select ``"interval"``)."""
    return [s for s in sent if 'AS "interval"' in s]


@uses_store
class EndEdgeTests(BaseTestCase):
    """Up to now, with the usage cycles' running sums: nothing can lie past the window's end."""

    def setUp(self):
        super().setUp()
        self.now = datetime.now(UTC).replace(microsecond=0)
        if self.now.minute == 0 or (self.now.minute == 59 and self.now.second > 20):
            # The window must end in an hour with samples, its edge's reach inside that hour.
            time.sleep((61 - self.now.second) + (60 if self.now.minute == 59 else 0))
            self.now = datetime.now(UTC).replace(microsecond=0)
        self.start = floor_hour(self.now) - timedelta(minutes=70)
        count = int((self.now - timedelta(seconds=20) - self.start).total_seconds() // 15)
        points = container_series("alpha-dev", "web-1", "app", self.start, count, cpu=lambda i: 100 + (i * 7) % 90)
        points += container_series("beta-web", "front-1", "app", self.start + timedelta(minutes=3), count - 12,
                                   cpu=lambda i: 400 - i % 17)
        collect(points, get_redis())

    def test_the_end_edge_is_not_read_when_the_running_sums_hold_every_sample_before_it(self):
        window = Window(self.start + timedelta(minutes=7, seconds=3), self.now + timedelta(seconds=1))
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            with statements() as sent:
                fast = aggregate(METRICS["cpu/usage_rate"], window, group_tags, EVERYTHING)
            with statements() as slow_sent:
                slow = aggregate(METRICS["cpu/usage_rate"], window, group_tags, EVERYTHING, use_rollup=False)
            self.assertEqual(len(_edges(sent)), 1, group_tags)  # the begin edge only
            self.assertEqual(len(_edges(slow_sent)), 2, group_tags)
            assert_same_aggregates(self, fast, slow, group_tags)

    def test_a_window_ending_before_the_last_sample_still_reads_its_end_edge(self):
        window = Window(self.start + timedelta(minutes=7, seconds=3), self.now - timedelta(minutes=2, seconds=7))
        with statements() as sent:
            fast = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING)
        self.assertEqual(len(_edges(sent)), 2)
        slow = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING, use_rollup=False)
        assert_same_aggregates(self, fast, slow, "before the last sample")

    def test_the_last_rolled_up_hours_come_from_the_running_sums_too(self):
        hour = floor_hour(self.now)
        rollup_window(self.start, hour)
        settled_now = max(self.now, hour + timedelta(minutes=11))  # the hour before is settled
        window = Window(self.start + timedelta(minutes=7, seconds=3), self.now + timedelta(seconds=1))
        for group_tags in (("namespace",), ("namespace", "pod_name")):
            with statements() as sent:
                fast = aggregate(METRICS["cpu/usage_rate"], window, group_tags, EVERYTHING, now=settled_now)
            rollup_reads = [s for s in sent if '"raw".' not in s and "last(" not in s]
            self.assertEqual(rollup_reads, [], group_tags)
            slow = aggregate(METRICS["cpu/usage_rate"], window, group_tags, EVERYTHING, use_rollup=False)
            assert_same_aggregates(self, fast, slow, group_tags)
