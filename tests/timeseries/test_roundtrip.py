"""Writes hostile values to a real InfluxDB and reads them back."""

import time

import pytest

from kubemon.timeseries import Point, TimeseriesQueryError
from kubemon.timeseries.schema import IdentifierNotAllowed, allowed_identifier, source_identifier

T0 = int(time.time()) - 7200  # inside the raw retention policy

HOSTILE = {
    "space": "a b",
    "comma": "a,b",
    "equals": "a=b",
    "double_quote": 'say "hi"',
    "single_quote": "it's",
    "backslash": "C:\\path\\to",
    "backslash_space": "a\\ b",
    "backslash_comma": "a\\,b",
    "double_backslash": "a\\\\b",
    "tab_and_cr": "a\tb\rc",
    "unicode": "héllo ✓ 日本語 🚀",
    "hash": "#not-a-comment",
    "injection": "' OR 1=1 --",
    "drop": '"; DROP DATABASE x',
}


def _read_back(store, measurement):
    series = store.query(f'SELECT * FROM "{measurement}" GROUP BY *')
    return {s["tags"]["case"]: dict(zip(s["columns"], s["values"][0], strict=True)) | s["tags"] for s in series}


@pytest.mark.django_db
def test_it_reads_every_hostile_tag_and_field_back_byte_identical(store):
    points = [
        Point("roundtrip", {"case": name, "value": value, "key with, = chars": value}, {"text": value, "n": 1}, T0 + i)
        for i, (name, value) in enumerate(HOSTILE.items())
    ]
    report = store.write(points)
    assert report.written == len(HOSTILE) and report.skipped == 0
    rows = _read_back(store, "roundtrip")
    assert set(rows) == set(HOSTILE)
    for name, value in HOSTILE.items():
        assert rows[name]["value"] == value, name
        assert rows[name]["key with, = chars"] == value, name
        assert rows[name]["text"] == value, name


@pytest.mark.django_db
def test_it_reads_a_newline_in_a_string_field_back(store):
    store.write([Point("roundtrip", {"case": "newline"}, {"text": "line 1\nline 2\n"}, T0 + 1)])
    assert _read_back(store, "roundtrip")["newline"]["text"] == "line 1\nline 2\n"


@pytest.mark.django_db
def test_it_skips_only_the_point_line_protocol_cannot_carry(store):
    report = store.write(
        [
            Point("roundtrip", {"case": "bad\nname"}, {"n": 1}, T0 + 1),
            Point("roundtrip", {"case": "good"}, {"n": 2}, T0 + 2),
        ]
    )
    assert report.skipped == 1 and report.written == 1
    assert set(_read_back(store, "roundtrip")) == {"good"}


@pytest.mark.django_db
def test_it_keeps_integer_float_and_boolean_types(store):
    store.write([Point("roundtrip", {"case": "types"}, {"i": 2**53 + 1, "f": 1e-7, "b": True, "z": 1e20}, T0 + 1)])
    row = _read_back(store, "roundtrip")["types"]
    assert row["i"] == 2**53 + 1 and row["f"] == 1e-7 and row["b"] is True and row["z"] == 1e20


@pytest.mark.django_db
def test_an_integer_and_a_float_for_a_typed_field_never_conflict(store):
    # InfluxDB drops points whose field type differs from the stored one. Fields shared with
    # Telegraf are integers as Telegraf writes them; kubemon's own are floats.
    tags = {"namespace": "types", "pod_name": "p", "container_name": "c", "node_name": "n"}
    first = store.write([Point("kubernetes_pod_container", tags, {"memory_usage_bytes": 1.5, "cpu_core_seconds": 1.5},
                               T0 + 1)])
    second = store.write([Point("kubernetes_pod_container", tags, {"memory_usage_bytes": 7, "cpu_core_seconds": 7},
                                T0 + 2)])
    assert (first.written, second.written, second.rejected) == (1, 1, 0)
    keys = store.query('SHOW FIELD KEYS FROM "kubernetes_pod_container"')[0]["values"]
    assert ["memory_usage_bytes", "integer"] in keys and ["cpu_core_seconds", "float"] in keys
    series = store.query('SELECT "memory_usage_bytes", "cpu_core_seconds" FROM "kubernetes_pod_container" '
                         'WHERE "namespace" = $ns', params={"ns": "types"})
    assert [row[1:] for row in series[0]["values"]] == [[2, 1.5], [7, 7]]


@pytest.mark.django_db
@pytest.mark.parametrize("attempt", ["' OR 1=1 --", '"; DROP DATABASE kubemon_test', "x' OR namespace =~ /.*/"])
def test_bound_parameters_make_injection_attempts_match_nothing(store, attempt):
    store.write([Point("kubernetes_pod", {"namespace": "team-a", "pod_name": "p"}, {"containers": 1}, T0 + 1)])
    series = store.query(
        'SELECT * FROM "kubernetes_pod" WHERE "namespace" = $ns', params={"ns": attempt}
    )
    assert series == []
    # The database and its data are still there.
    assert len(store.query('SELECT * FROM "kubernetes_pod"')[0]["values"]) == 1


@pytest.mark.django_db
def test_a_bad_query_raises_with_the_servers_text(store):
    with pytest.raises(TimeseriesQueryError, match="error parsing query"):
        store.query("SELECT FROM WHERE")


def test_identifiers_outside_the_whitelist_are_refused():
    with pytest.raises(IdentifierNotAllowed):
        source_identifier('kubernetes_pod"; DROP DATABASE x; --')
    with pytest.raises(IdentifierNotAllowed):
        allowed_identifier("evil", ("namespace",))
    assert source_identifier("kubernetes_pod", "hourly") == '"hourly"."kubernetes_pod"'


@pytest.mark.django_db
def test_retention_policies_are_created_twice_without_error(store):
    store.ensure_database("30d", "400d")
    store.ensure_database("30d", "400d")
    policies = store.retention_policies()
    assert policies["raw"] == "720h0m0s"
    assert policies["hourly"] == "9600h0m0s"


@pytest.mark.django_db
def test_changed_retention_is_applied_to_existing_policies(store):
    store.ensure_database("7d", "90d")
    assert store.retention_policies()["raw"] == "168h0m0s"


@pytest.mark.django_db
def test_writes_go_to_the_default_raw_policy_and_to_hourly_when_asked(store):
    store.write([Point("roundtrip", {"case": "raw"}, {"n": 1}, T0 + 1)])
    store.write([Point("roundtrip", {"case": "hourly"}, {"n": 1}, T0 + 3600)], policy="hourly")
    raw = store.query('SELECT * FROM "raw"."roundtrip" GROUP BY *')
    hourly = store.query('SELECT * FROM "hourly"."roundtrip" GROUP BY *')
    assert [s["tags"]["case"] for s in raw] == ["raw"]
    assert [s["tags"]["case"] for s in hourly] == ["hourly"]


@pytest.mark.django_db
def test_health_counts_series_and_warns_near_the_limits(store):
    store.write([Point("kubernetes_pod", {"namespace": "a", "pod_name": f"p{i}"}, {"containers": 1}, T0)
                 for i in range(9)])
    assert "warnings" not in store.health()
    store.max_values_per_tag = 10
    health = store.health()
    assert health["pod_names"] == 9
    assert health["series"] >= 9
    assert "over 80 % of max-values-per-tag (10)" in health["warnings"][0]
