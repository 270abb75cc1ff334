"""The planner is pure: given what the reader found, it says what to read (no InfluxDB here)."""

from datetime import UTC, datetime, timedelta

from kubemon.timeseries.schema import HOURLY_POLICY, RAW_POLICY
from metrics import planner
from metrics.window import Window

H = timedelta(hours=1)
T = datetime(2026, 3, 2, tzinfo=UTC)


def _cover(parts):
    return sum((window.end - window.begin for _, window in parts), timedelta())


def test_late_hours_inside_the_rolled_up_span_are_read_raw():
    window = Window(T + timedelta(minutes=10), T + 10 * H)
    parts = planner.pieces(window, settled_until=T + 24 * H, watermark=T + 24 * H, late_hours=[T + 3 * H, T + 4 * H])
    assert parts == [
        (HOURLY_POLICY, Window(T + H, T + 3 * H)),
        (HOURLY_POLICY, Window(T + 5 * H, T + 10 * H)),
        (RAW_POLICY, Window(T + 3 * H, T + 5 * H)),
        (RAW_POLICY, Window(T + timedelta(minutes=10), T + H)),
    ]
    assert _cover(parts) == window.end - window.begin


def test_late_hours_outside_the_window_change_nothing():
    window = Window(T, T + 5 * H)
    assert planner.pieces(window, T + 24 * H, T + 24 * H, late_hours=[T - H, T + 7 * H]) == [(HOURLY_POLICY, window)]


def test_a_window_whose_every_hour_is_late_is_read_raw():
    window = Window(T, T + 2 * H)
    assert planner.pieces(window, T + 24 * H, T + 24 * H, late_hours=[T, T + H]) == [(RAW_POLICY, window)]


def test_without_a_watermark_everything_is_raw():
    window = Window(T, T + 5 * H)
    assert planner.pieces(window, T + 24 * H, None) == [(RAW_POLICY, window)]
