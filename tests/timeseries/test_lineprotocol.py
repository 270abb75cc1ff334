import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point as ReferencePoint
from influxdb_client.domain.write_precision import WritePrecision

from kubemon.timeseries.lineprotocol import (
    FLOAT_FIELDS,
    INTEGER_FIELDS,
    LineProtocolError,
    escape_key,
    format_fields,
    format_fields_one_by_one,
    to_line,
    to_lines,
)
from kubemon.timeseries.schema import CONTAINER


def test_it_escapes_tag_separators():
    line = to_line("m", {"k": "a b,c=d"}, {"f": 1}, 5)
    assert line == "m,k=a\\ b\\,c\\=d f=1i 5"


def test_it_escapes_measurement_commas_and_spaces_only():
    assert to_line("my m,x", {}, {"f": 1.5}, None) == "my\\ m\\,x f=1.5"


def test_it_writes_each_field_type():
    fields = {"i": 3, "f": 0.25, "t": True, "n": False, "s": 'say "hi" \\ bye'}
    assert format_fields(fields) == 'i=3i,f=0.25,t=true,n=false,s="say \\"hi\\" \\\\ bye"'


def test_it_sorts_tags_and_omits_empty_ones():
    assert to_line("m", {"b": "2", "a": "1", "c": ""}, {"f": 1}, 1) == "m,a=1,b=2 f=1i 1"


def test_it_drops_nan_and_infinite_floats():
    assert format_fields({"a": math.nan, "b": math.inf, "c": 1.0}) == "c=1.0"
    assert to_line("m", {}, {"a": math.nan}, 1) is None


def test_it_refuses_a_newline_in_a_tag_value():
    with pytest.raises(LineProtocolError, match="newline"):
        to_line("m", {"k": "a\nb"}, {"f": 1}, 1)


def test_it_refuses_a_trailing_backslash_in_a_tag_value():
    with pytest.raises(LineProtocolError, match="backslash"):
        escape_key("ends\\")


def test_it_refuses_unsupported_field_types():
    with pytest.raises(LineProtocolError, match="unsupported type"):
        format_fields({"x": object()})


def test_it_serialises_a_list_of_points():
    lines = to_lines([("m", {"a": "x"}, {"v": 1}, 10), ("m", {"a": "y"}, {}, 11)])
    assert lines == ["m,a=x v=1i 10"]


# Text without backslashes and newlines: there our escaping and influxdb-client's agree exactly.
# (For backslashes they differ on purpose: InfluxDB 1.x reads tags back verbatim, see
# test_roundtrip.py, so doubling them as influxdb-client does would corrupt the value.)
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\n\r\t"),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(
    tags=st.dictionaries(safe_text, safe_text, max_size=4),
    ints=st.dictionaries(safe_text, st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=3),
    floats=st.dictionaries(safe_text, st.floats(allow_nan=False, allow_infinity=False), max_size=3),
    strings=st.dictionaries(safe_text, st.text(max_size=20), max_size=2),
    timestamp=st.integers(min_value=0, max_value=2**40),
)
def test_it_matches_influxdb_client_on_generated_points(tags, ints, floats, strings, timestamp):
    # A string for one of the schema's numeric fields is refused on purpose (test_it_refuses_...).
    typed = FLOAT_FIELDS[CONTAINER] | INTEGER_FIELDS[CONTAINER]
    fields = {**ints, **floats, **{key: value for key, value in strings.items() if key not in typed}}
    if not fields:
        return
    tags = {k: v for k, v in tags.items() if v.strip() == v and v}
    reference = ReferencePoint("kubernetes_pod_container")
    for key, value in tags.items():
        reference.tag(key, value)
    for key, value in fields.items():
        reference.field(key, value)
    reference.time(timestamp, WritePrecision.S)
    ours = to_line("kubernetes_pod_container", tags, fields, timestamp)
    expected = reference.to_line_protocol()
    ours_head, ours_fields, ours_time = _parse(ours)
    ref_head, ref_fields, ref_time = _parse(expected)
    assert ours_head == ref_head  # measurement and tags, byte for byte
    assert ours_time == ref_time
    assert ours_fields == ref_fields
    assert len(ours_fields) == len(fields)


def _parse(line):
    """Split a line into (series text, {field key text: value}, timestamp) by the grammar."""
    i = 0
    while line[i] != " ":
        i += 2 if line[i] == "\\" else 1
    head, i = line[:i], i + 1
    fields = {}
    while True:
        start = i
        while line[i] != "=":
            i += 2 if line[i] == "\\" else 1
        key, i = line[start:i], i + 1
        if line[i] == '"':
            start, i = i, i + 1
            while line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
            fields[key] = line[start:i]
        else:
            start = i
            while line[i] not in ", ":
                i += 1
            raw = line[start:i]
            fields[key] = int(raw[:-1]) if raw.endswith("i") else float(raw)
        if line[i] == " ":
            return head, fields, line[i + 1 :]
        i += 1


def test_an_integer_for_a_field_the_schema_types_as_float_is_written_as_a_float():
    line = to_line("kubernetes_pod_container", {"pod_name": "p"},
                   {"interval_seconds": 15, "restarts_total": 2, "cpu_core_seconds": 0.25}, 10)
    assert line == ("kubernetes_pod_container,pod_name=p "
                    "interval_seconds=15,restarts_total=2i,cpu_core_seconds=0.25 10")


def test_a_float_for_a_field_telegraf_writes_as_an_integer_is_written_rounded_as_an_integer():
    line = to_line("kubernetes_pod_container", {"pod_name": "p"},
                   {"memory_usage_bytes": 5591040.6, "cpu_usage_nanocores": 1500000}, 10)
    assert line == "kubernetes_pod_container,pod_name=p memory_usage_bytes=5591041i,cpu_usage_nanocores=1500000i 10"


def test_a_string_or_a_boolean_for_a_float_field_is_refused():
    for value in ("lots", True):
        with pytest.raises(LineProtocolError, match="must be a number"):
            to_line("kubernetes_pod_container", {"pod_name": "p"}, {"memory_usage_bytes": value}, 10)


field_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),  # NaN and infinities included
    st.booleans(),
    st.text(max_size=8),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    measurement=st.sampled_from(["kubernetes_pod_container", "kubernetes_node", "gpu", "anything"]),
    fields=st.dictionaries(
        st.sampled_from(["memory_usage_bytes", "interval_seconds", "restarts_total", "cpu_core_seconds", "phase",
                         "ready", "x%s", "a b"]),
        field_values, max_size=8),
)
def test_the_templated_fields_equal_the_fields_formatted_one_by_one(measurement, fields):
    try:
        expected = format_fields_one_by_one(fields, measurement)
    except LineProtocolError:
        with pytest.raises(LineProtocolError):
            format_fields(fields, measurement)
        return
    assert format_fields(fields, measurement) == expected
    assert format_fields(fields, measurement) == expected  # the second time from the cached template
