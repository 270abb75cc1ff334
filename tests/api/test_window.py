"""Date parsing and window splitting, without a server."""

from datetime import UTC, datetime, timedelta

import pytest

from metrics.window import Window, WindowError, format_time, parse_time, to_ns

NOW = datetime(2026, 5, 17, 10, 42, 13, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2017-12-01", datetime(2017, 12, 1, tzinfo=UTC)),
    ("2017-12-01 08:30:00", datetime(2017, 12, 1, 8, 30, tzinfo=UTC)),
    ("2017-12-01T08:30:00Z", datetime(2017, 12, 1, 8, 30, tzinfo=UTC)),
    ("2017-12-01T08:30:00.25Z", datetime(2017, 12, 1, 8, 30, 0, 250000, tzinfo=UTC)),
    ("2017-12-01T10:30:00+02:00", datetime(2017, 12, 1, 8, 30, tzinfo=UTC)),
    ("2017-12-01T08:30:00-01:30", datetime(2017, 12, 1, 10, 0, tzinfo=UTC)),
    ("2017-12-01T08:30:00.123456000Z", datetime(2017, 12, 1, 8, 30, 0, 123456, tzinfo=UTC)),
    (" 2017-12-01 ", datetime(2017, 12, 1, tzinfo=UTC)),
])
def test_it_reads_the_legacy_formats(text, expected):
    assert parse_time(text, "timeBeginInterval") == expected


@pytest.mark.parametrize("text", ["2017-12-1", "17-12-01", "2017-12-01T08:30", "now()", "2017-12-01 08:30:00 UTC",
                                  "2017-12-01T08:30:00+2", "1500-01-01", "2017-12-01T08:30:00.0000000001Z"])
def test_it_refuses_anything_else_naming_the_field(text):
    with pytest.raises(WindowError) as info:
        parse_time(text, "timeEndInterval")
    assert info.value.field == "timeEndInterval"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ("2026-01-01T00:00:00.999999999Z", datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC)),
    ("2026-01-01T02:00:00.0000001+02:00", datetime(2026, 1, 1, 0, 0, 0, 0, tzinfo=UTC)),
    ("1969-12-31T23:59:59.999999999Z", datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
])
def test_it_accepts_nanoseconds_and_truncates_them_to_the_microsecond(text, expected):
    assert parse_time(text, "timeBeginInterval") == expected


def test_a_begin_and_an_end_in_the_same_microsecond_are_refused_as_an_empty_window():
    with pytest.raises(WindowError, match="before timeEndInterval"):
        Window.from_body("2026-01-01T00:00:00.123456100Z", "2026-01-01T00:00:00.123456900Z", now=NOW)


def test_the_defaults_are_the_last_60_minutes():
    assert Window.from_body(None, None, now=NOW) == Window(NOW - timedelta(hours=1), NOW)
    assert Window.from_body("2026-05-17", None, now=NOW).end == NOW
    end_only = Window.from_body(None, "2026-05-17 09:00:00", now=NOW)
    assert end_only.end - end_only.begin == timedelta(hours=1)


def test_a_begin_in_the_future_without_an_end_is_refused():
    with pytest.raises(WindowError, match="future"):
        Window.from_body("2030-01-01", None, now=NOW)


def test_split_keeps_whole_hours_and_edges_that_cover_the_window_once():
    window = Window(datetime(2026, 5, 1, 7, 20, tzinfo=UTC), datetime(2026, 5, 3, 9, 5, tzinfo=UTC))
    whole, edges = window.split(NOW)
    assert whole == Window(datetime(2026, 5, 1, 8, tzinfo=UTC), datetime(2026, 5, 3, 9, tzinfo=UTC))
    assert edges == [Window(window.begin, whole.begin), Window(whole.end, window.end)]


def test_split_stops_at_the_rollup_limit_and_gives_short_windows_to_raw_data():
    window = Window(datetime(2026, 5, 17, 6, tzinfo=UTC), NOW)
    whole, edges = window.split(NOW - timedelta(minutes=10))
    assert whole.end == datetime(2026, 5, 17, 10, tzinfo=UTC)
    assert edges == [Window(whole.end, NOW)]
    short = Window(NOW - timedelta(minutes=59), NOW)
    assert short.split(NOW) == (None, [short])


def test_times_convert_exactly():
    moment = datetime(2017, 12, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert to_ns(moment) == 1512086400_000001000
    assert format_time(moment) == "2017-12-01T00:00:00.000001Z"
    assert format_time(datetime(2017, 12, 1, tzinfo=UTC)) == "2017-12-01T00:00:00Z"


def test_raw_spans_are_cut_into_a_bounded_number_of_contiguous_pieces():
    from metrics.planner import RAW_PIECE
    from metrics.planner import cut as _pieces

    begin = datetime(2026, 1, 1, tzinfo=UTC)
    for minutes, expected in ((20, 1), (70, 2), (600, 4), (10**8, 4)):
        pieces = _pieces(begin, begin + timedelta(minutes=minutes), RAW_PIECE, 4)
        assert len(pieces) == expected
        assert pieces[0][0] == begin and pieces[-1][1] == begin + timedelta(minutes=minutes)
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
