"""Window edges on whole hours from the rollup's heads: the raw edge read's answer, without the raw read."""

from datetime import UTC, datetime, timedelta

from billing.access import AccessScope
from collectors.rollup import audit_rollup, reroll_late_hours, rollup_recent, rollup_window
from collectors.tiers import fill_namespace_tier, fill_pod_tier
from kubemon import keys
from kubemon.redis import get_redis
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.heads import add_heads, heads_since, set_heads_since
from kubemon.timeseries.schema import CONTAINER, NAMESPACE_POLICY
from metrics import daycache
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, aggregate_many
from metrics.window import Window
from tests.metrics.test_batched_reads import MANY, statements
from tests.support.base import BaseTestCase, assert_same_aggregates, container_series, hours_ago, uses_store, write

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())
GROUPINGS = (("namespace",), ("namespace", "pod_name"), ("namespace", "node_name"))
METRICS_READ = [*MANY, METRICS["cpu/usage_rate"], METRICS["memory/working_set"]]


def raw_edge_reads(sent):
    """The statements that read samples at a window's edge from raw data."""
    return [s for s in sent if '"interval_seconds" AS "interval"' in s]


class AddHeadsTests(BaseTestCase):
    def test_it_gives_the_part_of_the_interval_before_the_hour(self):
        fields = add_heads(CONTAINER, {"interval_seconds": 15.0, "cpu_core_seconds": 1.5,
                                       "memory_usage_bytes_integral": 300.0}, 7200 + 5, reach=30)
        self.assertAlmostEqual(fields["cpu_core_seconds_head"], 1.0)  # 10 of its 15 s were before 02:00
        self.assertAlmostEqual(fields["memory_usage_bytes_integral_head"], 200.0)

    def test_a_sample_on_the_hour_stands_wholly_for_the_hour_before(self):
        fields = add_heads(CONTAINER, {"interval_seconds": 15.0, "cpu_core_seconds": 1.5}, 7200, reach=30)
        self.assertAlmostEqual(fields["cpu_core_seconds_head"], 1.5)

    def test_it_leaves_samples_that_do_not_straddle_or_lie_beyond_the_reach(self):
        inside = add_heads(CONTAINER, {"interval_seconds": 15.0, "cpu_core_seconds": 1.5}, 7200 + 20, reach=30)
        far = add_heads(CONTAINER, {"interval_seconds": 60.0, "cpu_core_seconds": 6.0}, 7200 + 45, reach=30)
        foreign = add_heads(CONTAINER, {"cpu_usage_nanocores": 5}, 7200 + 1, reach=30)
        self.assertNotIn("cpu_core_seconds_head", inside)
        self.assertNotIn("cpu_core_seconds_head", far)
        self.assertEqual(foreign, {"cpu_usage_nanocores": 5})


def mixed_usage(start, hours):
    """Pods whose samples straddle the hours in every way: 15 s from :07, 10 s from :03, 60 s
    from :20 (within the reach), 60 s from :45 (beyond it), and one that ends mid-window."""
    n = hours * 3600
    points = container_series("alpha-dev", "web-1", "app", start + timedelta(seconds=7), n // 15, interval=15,
                              cpu=lambda i: 100 + (i * 7) % 90, memory=lambda i: 2**27 + (i * 4099) % 2**20)
    points += container_series("alpha-dev", "web-2", "app", start + timedelta(seconds=3), n // 10, interval=10,
                               node="node-2", cpu=lambda i: 5 + i % 3)
    points += container_series("beta-web", "front-1", "app", start + timedelta(seconds=20), n // 60, interval=60,
                               cpu=lambda i: 400 - i % 17, memory=lambda i: 2**28 - i * 1024)
    points += container_series("beta-web", "batch-1", "app", start + timedelta(seconds=45), n // 60 - 90, interval=60,
                               node="node-2", cpu=250.0)
    write(points)


@uses_store
class HeadEdgeTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.start = hours_ago(7)
        mixed_usage(self.start, 6)
        rollup_window(self.start, self.start + timedelta(hours=6))
        now = datetime.now(UTC)
        fill_namespace_tier(get_redis(), now)
        fill_pod_tier(get_redis(), now)
        set_heads_since(get_redis(), self.start)
        daycache.clear()

    def answers(self, window, group_tags, use_rollup=True):
        return aggregate_many(METRICS_READ, window, group_tags, EVERYTHING, use_rollup=use_rollup)

    def assert_raw_answers(self, window, label):
        for group_tags in GROUPINGS:
            fast = self.answers(window, group_tags)
            slow = self.answers(window, group_tags, use_rollup=False)
            for metric, a, b in zip(METRICS_READ, fast, slow, strict=True):
                if b:
                    assert_same_aggregates(self, a, b, (label, metric.name, group_tags))

    def test_whole_hour_edges_read_no_raw_data_and_give_the_raw_answer(self):
        window = Window(self.start + timedelta(hours=1), self.start + timedelta(hours=5))
        for group_tags in GROUPINGS:
            daycache.clear()
            with statements() as sent:
                self.answers(window, group_tags)
            self.assertEqual(raw_edge_reads(sent), [], group_tags)
        self.assert_raw_answers(window, "whole hours")

    def test_the_heads_matter(self):
        # Without them the month's first sample would count for the hour before it: not the same answer.
        window = Window(self.start + timedelta(hours=1), self.start + timedelta(hours=5))
        metric = METRICS["cpu/usage_rate"]
        with_heads = aggregate(metric, window, ("namespace",), EVERYTHING)
        get_redis().delete(keys.EDGE_HEADS_SINCE)
        daycache.clear()
        with statements() as sent:
            without = aggregate(metric, window, ("namespace",), EVERYTHING)
        self.assertEqual(len(raw_edge_reads(sent)), 2)  # no marker: both edges read raw, as before
        assert_same_aggregates(self, with_heads, without, "marker")
        self.assertNotAlmostEqual(with_heads[("alpha-dev",)].integral,
                                  sum(p.fields["cpu_core_seconds"] for p in self.samples_in(window)) * 1000, 3)

    def samples_in(self, window):
        """The container samples whose time lies in ``window`` (what a read without edges would sum)."""
        series = get_store().query(
            'SELECT "cpu_core_seconds" FROM "raw"."kubernetes_pod_container" WHERE "namespace" = $ns '
            "AND time >= $b AND time < $e", params={"ns": "alpha-dev", "b": int(window.begin.timestamp()) * 10**9,
                                                    "e": int(window.end.timestamp()) * 10**9})
        return [Point(CONTAINER, {}, {"cpu_core_seconds": row[1]}, row[0]) for row in series[0]["values"]]

    def test_ragged_edges_and_hours_before_the_marker_are_read_raw(self):
        set_heads_since(get_redis(), self.start + timedelta(hours=2))
        cases = {
            "before the marker": Window(self.start + timedelta(hours=1), self.start + timedelta(hours=5)),
            "ragged": Window(self.start + timedelta(hours=2, minutes=13, seconds=4),
                             self.start + timedelta(hours=4, minutes=59)),
        }
        for label, window in cases.items():
            daycache.clear()
            with statements() as sent:
                self.answers(window, ("namespace",))
            self.assertEqual(len(raw_edge_reads(sent)), 1 if label == "before the marker" else 2, label)
            self.assert_raw_answers(window, label)

    def test_late_data_at_an_edge_is_read_raw_until_its_hour_is_rolled_again(self):
        edge = self.start + timedelta(hours=3)
        window = Window(self.start + timedelta(hours=1), edge)
        # A new container whose first samples straddle the window's end.
        write(container_series("alpha-dev", "web-1", "late", edge - timedelta(seconds=50), 8, interval=15,
                               cpu=900.0))
        self.assertIn(edge, audit_rollup(days=1))
        daycache.clear()
        with statements() as sent:
            self.answers(window, ("namespace",))
        self.assertEqual(len(raw_edge_reads(sent)), 1)
        self.assert_raw_answers(window, "late")
        reroll_late_hours()
        daycache.clear()
        with statements() as sent:
            self.answers(window, ("namespace",))
        self.assertEqual(raw_edge_reads(sent), [])
        self.assert_raw_answers(window, "re-rolled")

    def test_a_namespace_tier_rebuilt_from_scratch_keeps_the_heads(self):
        window = Window(self.start + timedelta(hours=1), self.start + timedelta(hours=5))
        before = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING)
        store = get_store()
        store.client.query(f'DROP RETENTION POLICY "{NAMESPACE_POLICY}" ON "{store.database}"', method="POST")
        store.ensure_database()
        get_redis().delete(keys.NAMESPACE_TIER_SINCE, keys.NAMESPACE_TIER_FILLED)
        now = datetime.now(UTC)
        rollup_window(now - timedelta(hours=3), now)  # the next rollup run, then the filling of older hours
        fill_namespace_tier(get_redis(), now)
        daycache.clear()
        with statements() as sent:
            after = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING)
        self.assertTrue(any(f'"{NAMESPACE_POLICY}".' in s for s in sent))
        self.assertEqual(raw_edge_reads(sent), [])
        assert_same_aggregates(self, after, before, "rebuilt")

    def test_the_rollup_task_sets_the_marker_two_hours_ahead_once(self):
        get_redis().delete(keys.EDGE_HEADS_SINCE)
        now = datetime(2026, 12, 1, 10, 17, tzinfo=UTC)
        rollup_recent(now=now)
        self.assertEqual(heads_since(get_redis()), datetime(2026, 12, 1, 12, tzinfo=UTC))
        rollup_recent(now=now + timedelta(hours=5))
        self.assertEqual(heads_since(get_redis()), datetime(2026, 12, 1, 12, tzinfo=UTC))


class HeadEdgePlanTests(BaseTestCase):
    """``planner.head_edges``: which edges the heads answer, decided without I/O."""

    H = datetime(2026, 11, 3, 10, tzinfo=UTC)

    def plan(self, window, pieces, since=None, late=(), namespace_since=None, watermark=None):
        from metrics.planner import head_edges

        settled = self.H + timedelta(hours=8)
        return head_edges(window, pieces, since or self.H - timedelta(days=1), settled, watermark or settled, late,
                          namespace_since)

    def test_whole_hour_edges_of_rollup_pieces_are_answered_by_heads(self):
        window = Window(self.H, self.H + timedelta(hours=3))
        self.assertEqual(self.plan(window, [("hourly", window)]), {-1: "hourly", 1: "hourly"})
        self.assertEqual(self.plan(window, [("namespace_hourly", window)], namespace_since=self.H),
                         {-1: "namespace_hourly", 1: "namespace_hourly"})

    def test_ragged_raw_late_and_unmarked_edges_are_not(self):
        window = Window(self.H + timedelta(minutes=20), self.H + timedelta(hours=3, seconds=1))
        self.assertEqual(self.plan(window, [("raw", window)]), {})
        whole = Window(self.H, self.H + timedelta(hours=3))
        self.assertEqual(self.plan(whole, [("raw", Window(self.H, self.H + timedelta(hours=1))),
                                           ("hourly", Window(self.H + timedelta(hours=1), whole.end))],
                                   late=[whole.end]), {})
        self.assertEqual(self.plan(whole, [("hourly", whole)], since=self.H + timedelta(hours=1)), {1: "hourly"})
        from metrics.planner import head_edges

        self.assertEqual(head_edges(whole, [("hourly", whole)], None, self.H + timedelta(hours=8), None), {})

    def test_an_end_edge_waits_for_its_hour_to_settle_under_the_watermark(self):
        whole = Window(self.H, self.H + timedelta(hours=3))
        self.assertEqual(self.plan(whole, [("hourly", whole)], watermark=whole.end), {-1: "hourly"})
