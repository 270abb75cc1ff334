"""The hours not settled yet are answered from the usage cycle's running sums with the raw numbers."""

import time
from datetime import UTC, datetime, timedelta
from itertools import groupby

import orjson
import pytest

from billing.access import AccessScope
from kubemon import keys
from kubemon.openhour import OpenHourSums, break_open_hours
from kubemon.redis import get_redis
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import RAW_POLICY
from metrics import openedge
from metrics.catalogue import METRICS
from metrics.engine import Selection, aggregate, plan
from metrics.window import Window
from tests.api.test_rollup import ROLLUP_METRICS
from tests.support.base import BaseTestCase, container_series, epoch, uses_store

EVERYTHING = Selection.for_scope(AccessScope.all_namespaces())
CONTAINER_METRICS = [name for name in ROLLUP_METRICS if METRICS[name].measurement == "kubernetes_pod_container"]


def collect(points, redis, collecting_before=True):
    """What the usage cycles do: write the points and save each cycle's running sums; the first
    cycle follows another 15 s before it unless ``collecting_before`` is False."""
    get_store().write(points)
    previous = None
    for slot, batch in groupby(sorted(points, key=lambda p: p.timestamp), key=lambda p: p.timestamp):
        sums = OpenHourSums()
        sums.add(list(batch))
        pipe = redis.pipeline(transaction=True)
        if previous is None and collecting_before:
            previous = slot - 15
        sums.save(redis, pipe, slot, previous, usual=15)
        pipe.execute()
        previous = slot


@uses_store
class OpenHourTests(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.redis = get_redis()
        self.now = datetime.now(UTC).replace(microsecond=0)
        if self.now.minute == 0:
            # The current hour has no sample yet in its first seconds: start a minute into it.
            time.sleep(61 - self.now.second)
            self.now = datetime.now(UTC).replace(microsecond=0)
        elif self.now.minute == 59 and self.now.second >= 30:
            # The hour would turn between these samples and the reads (which take "now" again).
            time.sleep(121 - self.now.second)
            self.now = datetime.now(UTC).replace(microsecond=0)
        start = self.now.replace(minute=0, second=0) - timedelta(minutes=70)
        count = int((self.now - timedelta(seconds=20) - start).total_seconds() // 15)
        self.points = (
            container_series("alpha-dev", "web-1", "app", start, count, cpu=lambda i: 100 + (i * 7) % 90,
                             memory=lambda i: 2**27 + (i * 4099) % 2**20)
            + container_series("alpha-dev", "web-1", "sidecar", start, count, cpu=lambda i: 5 + i % 3)
            + container_series("beta-web", "front-1", "app", start + timedelta(minutes=3), count - 12,
                               cpu=lambda i: 400 - i % 17))
        collect(self.points, self.redis)
        # The portal's "last hour", and "since the previous hour began", both up to now.
        self.windows = [Window(self.now - timedelta(hours=1), self.now),
                        Window(self.now.replace(minute=0, second=0) - timedelta(hours=1), self.now)]

    def assert_same_as_raw(self, names=CONTAINER_METRICS):
        for window in self.windows:
            for name in names:
                for tags in (("namespace",), ("namespace", "pod_name")):
                    fast = aggregate(METRICS[name], window, tags, EVERYTHING)
                    slow = aggregate(METRICS[name], window, tags, EVERYTHING, use_rollup=False)
                    self.assertEqual(set(fast), set(slow), (name, tags))
                    for key, a in fast.items():
                        b = slow[key]
                        self.assertEqual(a.samples, b.samples, (name, key))
                        for attr in ("sum", "integral", "max", "mean"):
                            x, y = getattr(a, attr), getattr(b, attr)
                            self.assertEqual(x, y if y is None else pytest.approx(y, rel=1e-9), (name, key, attr))

    def test_the_open_hours_are_read_from_the_running_sums(self):
        window = self.windows[1]
        pieces = plan(METRICS["cpu/usage_rate"], window, get_store(), group_tags=("namespace",))
        opened, docs = openedge.open_pieces(METRICS["cpu/usage_rate"], pieces, ("namespace",))
        self.assertEqual([policy for policy, _ in opened], [openedge.OPEN_POLICY] * 2)
        self.assertEqual(len(docs), 2)

    def test_totals_per_pod_read_the_open_hours_from_the_running_sums_too(self):
        window = self.windows[1]
        pieces = plan(METRICS["memory/working_set"], window, get_store(), group_tags=("namespace", "pod_name"))
        opened, _ = openedge.open_pieces(METRICS["memory/working_set"], pieces, ("namespace", "pod_name"))
        self.assertEqual([policy for policy, _ in opened], [openedge.OPEN_POLICY] * 2)
        fast = aggregate(METRICS["memory/working_set"], window, ("namespace", "pod_name"), Selection.one("alpha-dev"))
        self.assertEqual(set(fast), {("alpha-dev", "web-1")})

    def test_sums_kept_by_another_version_are_not_used(self):
        for hour in {p.timestamp // 3600 * 3600 for p in self.points}:
            key = f"{keys.OPEN_HOUR}{hour}"
            doc = orjson.loads(self.redis.get(key))
            doc["columns"] = doc["columns"][:-1]
            self.redis.set(key, orjson.dumps(doc))
        pieces, docs = openedge.open_pieces(METRICS["cpu/usage_rate"], [(RAW_POLICY, self.windows[1])],
                                            ("namespace",))
        self.assertEqual(docs, {})
        self.assert_same_as_raw(["cpu/usage_rate"])

    def test_every_container_rollup_metric_gives_the_raw_numbers(self):
        self.assert_same_as_raw()

    def test_a_rerun_over_the_same_samples_adds_nothing(self):
        collect(self.points[-30:], self.redis)
        self.assert_same_as_raw(["cpu/usage_rate", "memory/working_set"])

    def test_broken_sums_are_not_used(self):
        break_open_hours(self.redis, epoch(self.now))
        pieces, docs = openedge.open_pieces(METRICS["cpu/usage_rate"], [(RAW_POLICY, self.windows[1])],
                                            ("namespace",))
        self.assertEqual((pieces, docs), ([(RAW_POLICY, self.windows[1])], {}))
        self.assert_same_as_raw(["cpu/usage_rate"])

    def test_an_hour_whose_sums_reach_past_the_window_end_is_read_raw(self):
        # The previous hour whole, then 30 s of the current one, whose sums reach further (or do not
        # exist yet in its first seconds): read raw whatever the minute the test runs at.
        window = Window(self.windows[1].begin, self.windows[1].begin + timedelta(hours=1, seconds=30))
        pieces, _ = openedge.open_pieces(METRICS["cpu/usage_rate"], [(RAW_POLICY, window)], ("namespace",))
        self.assertEqual([policy for policy, _ in pieces], [openedge.OPEN_POLICY, RAW_POLICY])
        slow = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING, use_rollup=False)
        fast = aggregate(METRICS["cpu/usage_rate"], window, ("namespace",), EVERYTHING)
        for key, a in fast.items():
            self.assertEqual(a.integral, pytest.approx(slow[key].integral, rel=1e-9))

    def test_an_hour_the_cycles_began_in_the_middle_of_is_read_raw(self):
        self.redis.flushdb()
        late_start = self.now.replace(minute=0, second=0) + timedelta(minutes=1)
        collect([p for p in self.points if p.timestamp >= epoch(late_start)], self.redis, collecting_before=False)
        pieces, _ = openedge.open_pieces(METRICS["cpu/usage_rate"], [(RAW_POLICY, self.windows[1])],
                                         ("namespace",))
        self.assertEqual([policy for policy, _ in pieces], [RAW_POLICY])
