"""The legacy import's pure parts: intervals from the spacing, the GPU agent's passes, labels,
malformed rows, the progress bar (no services)."""

import io

import pytest

from collectors.legacy.catalogue import SOURCES
from collectors.legacy.progress import Progress
from collectors.legacy.samples import MalformedRow, Spacing, gather, parse_labels, usual_spacing
from collectors.legacy.writer import (
    allocation_lines,
    allocation_points,
    hourly_lines,
    hourly_points,
    raw_lines,
    raw_points,
)
from kubemon.timeseries import to_line

CPU, GPU = SOURCES["cpu/usage_rate"], SOURCES["gpu/usage"]
TAGS = {"namespace_name": "alpha-dev", "pod_name": "web-1", "container_name": "app", "nodename": "node-1",
        "labels": "app:web,tenant:alpha"}
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # an hour start, in ms


def test_a_sample_stands_for_the_spacing_since_the_previous_one_up_to_the_cap():
    spacing = Spacing(60)
    rows = [[T0, 1], [T0 + 60_000, 1], [T0 + 240_000, 1], [T0 + 900_000, 1]]
    got = [(interval, gap) for _, _, interval, gap in spacing.intervals("k", rows)]
    # first: the usual spacing; a missed scrape's three minutes (two beyond one spacing are a gap);
    # after more than the cap (a pod gone, then one of the same name): the usual spacing again.
    assert got == [(60.0, 0.0), (60.0, 0.0), (180.0, 120.0), (60.0, 0.0)]
    # The next chunk goes on from the last sample.
    assert spacing.intervals("k", [[T0 + 960_000, 1]])[0][2] == 60.0


def test_series_not_seen_within_the_cap_are_forgotten():
    spacing = Spacing(60)
    spacing.intervals("old", [[T0, 1]])
    spacing.intervals("new", [[T0 + 3_400_000, 1]])
    spacing.forget_before(T0 + 3_600_000)
    assert set(spacing.last) == {"new"}


def test_the_gpu_agents_rows_of_one_pass_are_one_sample_within_an_hour():
    gpu_tags = {"namespace_name": "ml", "pod_name": "train-0", "container_name": "tf", "nodename": "gpu-1",
                "gpu_index": "0", "gpu_uuid": "GPU-1", "gpu_name": "K80"}
    rows = [[T0 + 1000, 4000], [T0 + 1003, 700], [T0 + 6500, 4001], [T0 + 3_599_800, 10], [T0 + 3_600_100, 20]]
    gathered = gather(GPU, [(gpu_tags, rows)])
    assert list(gathered.series.values()) == [[[T0 + 1000, 4700], [T0 + 6500, 4001], [T0 + 3_599_800, 10],
                                               [T0 + 3_600_100, 20]]]


def test_heapster_labels_give_each_namespace_its_tenant_values():
    assert parse_labels("app:web,tenant:alpha,url:http://x") == {"app": "web", "tenant": "alpha", "url": "http://x"}
    gathered = gather(CPU, [(TAGS, [[T0, 5]])], label="tenant")
    assert dict(gathered.label_values["alpha-dev"]) == {"alpha": 1}


@pytest.mark.parametrize("tags, rows, why", [
    ({**TAGS, "pod_name": ""}, [[T0, 5]], "no pod_name tag"),
    (TAGS, [[T0, "oops"]], "is not a non-negative number"),
    (TAGS, [[T0, None]], "is not a non-negative number"),
    (TAGS, [[T0, -3]], "is not a non-negative number"),
])
def test_a_malformed_row_is_refused_with_where_it_is(tags, rows, why):
    with pytest.raises(MalformedRow, match=why):
        gather(CPU, [(tags, rows)])
    assert gather(CPU, [(tags, rows)], skip_malformed=True).malformed == 1


def test_the_usual_spacing_is_the_median_spacing_of_the_first_rows():
    rows = [[T0 + i * 60_000, 1] for i in range(10)] + [[T0 + 10 * 60_000 + 30_000, 1]]
    assert usual_spacing(gather(CPU, [(TAGS, rows)]), default=15.0) == 60.0
    assert usual_spacing(gather(CPU, [(TAGS, rows[:1])]), default=15.0) == 15.0


def test_a_cpu_sample_becomes_nanocores_with_its_integral_and_core_seconds():
    key = ("alpha-dev", "web-1", "app", "node-1")
    [point] = raw_points(CPU, key, [(T0, 250, 60.0, 0.0)])
    assert point.tags == {"namespace": "alpha-dev", "pod_name": "web-1", "container_name": "app", "node_name": "node-1"}
    # On the hour, its minute lies wholly before it: its heads are the whole sample (heads.py).
    assert point.fields == {"cpu_usage_nanocores": 250_000_000, "cpu_usage_nanocores_integral": 15e9,
                            "cpu_core_seconds": 15.0, "interval_seconds": 60.0,
                            "cpu_usage_nanocores_integral_head": 15e9, "cpu_core_seconds_head": 15.0}
    [later] = raw_points(CPU, key, [(T0 + 40_000, 250, 60.0, 0.0)])
    assert "cpu_core_seconds_head" not in later.fields  # 40 s into its hour: past the edges' reach
    [hour] = hourly_points(CPU, key, [(T0, 250, 60.0, 0.0), (T0 + 60_000, 350, 60.0, 0.0)])
    assert hour.timestamp == T0
    assert hour.fields["cpu_usage_nanocores_samples"] == 2
    assert hour.fields["cpu_usage_nanocores_max"] == 350e6
    assert hour.fields["cpu_core_seconds"] == pytest.approx(36.0)


def to_lines(points):
    return [to_line(*point) for point in points]


def test_the_lines_written_are_the_points_as_the_store_would_serialize_them():
    key = ("alpha-dev", "web 1,x", "app", "node-1")  # a tag that needs escaping
    samples = [(T0, 250, 60.0, 0.0), (T0 + 60_000, 333, 60.0, 0.0), (T0 + 300_000, 7, 240.0, 180.0),
               (T0 + 3_600_000, 1, 60.0, 0.0)]
    memory = SOURCES["memory/working_set"]
    for source in (CPU, memory):
        assert raw_lines(source, key, samples) == to_lines(raw_points(source, key, samples))
        assert hourly_lines(source, key, samples) == to_lines(hourly_points(source, key, samples))
    requests = {T0: 300, T0 + 300_000: 100}
    for hourly in (False, True):
        args = ("cpu_allocated_core_seconds", CPU, key, samples, requests, (1e-9, 1e-3), hourly)
        assert allocation_lines(*args) == to_lines(allocation_points(*args))
    assert len(raw_lines(CPU, key, samples)) == 4 and len(hourly_lines(CPU, key, samples)) == 2


def test_rows_of_several_legacy_series_of_one_pod_are_merged_in_time_order_and_the_last_wins():
    later = {**TAGS, "labels": "app:web,tenant:beta"}  # the same container under other labels
    gathered = gather(CPU, [(TAGS, [[T0, 1], [T0 + 120_000, 3]]), (later, [[T0 + 60_000, 2], [T0 + 120_000, 4]])])
    [rows] = gathered.series.values()
    assert rows == [[T0, 1], [T0 + 60_000, 2], [T0 + 120_000, 4]]
    assert gathered.rows == 4


def test_the_progress_bar_shows_the_share_the_rate_and_the_time_left():
    stream = io.StringIO()
    progress = Progress(100, stream=stream, enabled=True, every=0)
    progress.advance(25, 1000, "cpu/usage_rate")
    text = stream.getvalue()
    assert " 25.0% [######------------------] cpu/usage_rate" in text
    assert "points/s" in text and "ETA 0:00:0" in text
    quiet = io.StringIO()
    Progress(100, stream=quiet).advance(50, 10, "x")  # a StringIO is not a terminal
    assert quiet.getvalue() == ""
