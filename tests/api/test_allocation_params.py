"""The allocation API's parameters, read as OpenCost reads them (api/opencost.py; no services)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from api.opencost import MAX_STEPS, ParameterError, parse_aggregate, parse_query, parse_window
from metrics.owners import controller_of

# A Wednesday, 14:37:20 UTC.
NOW = datetime(2026, 11, 18, 14, 37, 20, tzinfo=UTC)


def day(d, h=0, m=0):
    return datetime(2026, 11, d, h, m, tzinfo=UTC)


@pytest.mark.parametrize(("text", "begin", "end"), [
    ("today", day(18), NOW),
    ("yesterday", day(17), day(18)),
    ("week", day(15), NOW),  # since Sunday the 15th
    ("lastweek", day(8), day(15)),
    ("month", day(1), NOW),
    ("lastmonth", datetime(2026, 10, 1, tzinfo=UTC), day(1)),
    ("30m", day(18, 14, 8), NOW),  # the current minute in full and the 29 before it
    ("12h", day(18, 3), NOW),  # the current hour and the 11 before
    ("7d", day(12), NOW),  # today and the six days before
    ("30d", datetime(2026, 10, 20, tzinfo=UTC), NOW),
    ("1w", day(12), NOW),
    ("2h offset 1h", NOW - timedelta(hours=3), NOW - timedelta(hours=1)),
    ("2026-11-01T00:00:00Z,2026-11-03T00:00:00Z", day(1), day(3)),
    ("2026-11-01T01:00:00+01:00,2026-11-02T00:00:00Z", day(1), day(2)),
    ("1793491200,1793577600", day(1), day(2)),
    ("1793491200-1793577600", day(1), day(2)),
])
def test_windows_are_the_ones_opencost_computes_ending_at_now_at_the_latest(text, begin, end):
    window = parse_window(text, now=NOW)
    assert (window.begin, window.end) == (begin, end)


def test_a_window_across_a_year_end_keeps_its_calendar_month():
    window = parse_window("lastmonth", now=datetime(2027, 1, 3, 8, tzinfo=UTC))
    assert (window.begin, window.end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("text", ["", "7x", "lastyear", "0d", "2026-11-03T00:00:00Z,2026-11-01T00:00:00Z",
                                  "2026-11-01,yesterday", "2030-01-01T00:00:00Z,2030-02-01T00:00:00Z",
                                  "99999999999999d", "1" * 200, "today\x00"])
def test_a_bad_window_names_the_parameter(text):
    with pytest.raises(ParameterError) as caught:
        parse_window(text, now=NOW)
    assert caught.value.parameter == "window"
    assert str(caught.value).startswith("window: ")


def test_aggregates_keep_their_order_and_opencost_spelling():
    assert parse_aggregate("namespace,controllerkind, pod") == ("namespace", "controllerKind", "pod")
    assert parse_aggregate("Namespace,namespace") == ("namespace",)
    assert parse_aggregate(None) == ()
    with pytest.raises(ParameterError, match="aggregate: 'label:app' is not supported"):
        parse_aggregate("namespace,label:app")


def query(text, now=NOW):
    return parse_query(QueryDict(text), now=now)


def test_steps_cut_the_window_from_its_start_and_the_last_one_ends_with_it():
    q = query("window=2026-11-01T00:00:00Z,2026-11-03T12:00:00Z&step=1d")
    assert [(s.begin, s.end) for s in q.steps] == [(day(1), day(2)), (day(2), day(3)), (day(3), day(3, 12))]
    whole = query("window=7d")
    assert whole.steps == (whole.window,)


def test_accumulate_makes_one_set_or_sums_steps_per_calendar_unit():
    assert len(query("window=7d&step=1h&accumulate=true").steps) == 1
    assert len(query("window=7d&step=1h&accumulate=false").steps) == 6 * 24 + 15
    months = query("window=2026-09-15T00:00:00Z,2026-11-02T00:00:00Z&step=1h&accumulate=month").steps
    assert [(s.begin.month, s.begin.day, s.end.month, s.end.day) for s in months] == [
        (9, 15, 10, 1), (10, 1, 11, 1), (11, 1, 11, 2)]
    assert len(query("window=lastweek&accumulate=day").steps) == 7


def test_idle_is_off_by_default_and_either_spelling_turns_it_on():
    assert not query("window=1d").include_idle
    assert query("window=1d&includeIdle=true").include_idle
    assert query("window=1d&idle=true").include_idle
    assert query("window=1d&shareIdle=true").share_idle


@pytest.mark.parametrize(("text", "parameter"), [
    ("window=7d&step=0h", "step"),
    ("window=7d&step=10s", "step"),
    ("window=7d&step=banana", "step"),
    ("window=30d&step=1m", "step"),  # 43,200 sets
    ("window=7d&accumulate=sometimes", "accumulate"),
    ("window=7d&includeIdle=maybe", "includeIdle"),
    ("window=7d&idle=2", "idle"),
    ("window=7d&shareIdle=yes please", "shareIdle"),
    ("aggregate=namespace", "window"),
])
def test_every_bad_parameter_is_named(text, parameter):
    with pytest.raises(ParameterError) as caught:
        query(text)
    assert caught.value.parameter == parameter


def test_a_step_count_at_the_limit_is_accepted():
    q = query(f"window=2026-11-01T00:00:00Z,2026-11-01T{MAX_STEPS // 60:02d}:{MAX_STEPS % 60:02d}:00Z&step=1m")
    assert len(q.steps) == MAX_STEPS


@pytest.mark.parametrize(("kind", "name", "expected"), [
    ("ReplicaSet", "web-7d4b9c8f5", ("deployment", "web")),
    ("ReplicaSet", "api-server-5c6d7f8b9d", ("deployment", "api-server")),
    ("ReplicaSet", "standalone", ("replicaset", "standalone")),
    ("ReplicaSet", "odd-AEIOU", ("replicaset", "odd-AEIOU")),
    ("StatefulSet", "db", ("statefulset", "db")),
    ("DaemonSet", "node-agent", ("daemonset", "node-agent")),
    ("Job", "nightly-29380224", ("job", "nightly-29380224")),
    ("Node", "node-1", ("", "")),
    ("", "", ("", "")),
])
def test_controllers_come_from_the_owner_reference_with_replicasets_reported_as_deployments(kind, name, expected):
    assert controller_of(kind, name) == expected
