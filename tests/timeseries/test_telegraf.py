"""Data written by Telegraf's kubernetes input beside kubemon's: every point is accepted.

Telegraf writes the kubelet's numbers as integers (its structs are Go int64, and its InfluxDB
output writes them with an ``i``). InfluxDB fixes a field's type per shard by whichever point
comes first, so kubemon writes the shared fields as integers too, coerces a field to the type a
shard already has, and keeps what InfluxDB still refuses in a dead-letter list.
"""

import time
from datetime import UTC, datetime

import pytest

from collectors.rollup import rollup_window
from kubemon.timeseries import Point
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.schema import INTEGRAL_FIELDS
from tests.support.base import container_fields


def other_writer(store):
    """Telegraf, or an older kubemon: a client of its own that writes line protocol as given."""
    return InfluxClient(store.url, store.database)


NOW = int(time.time()) // 3600 * 3600 - 3600
TAGS = {"namespace": "team-a", "pod_name": "web-1", "container_name": "app", "node_name": "node-1"}


def telegraf_line(pod, stamp):
    """A kubernetes_pod_container line exactly as Telegraf 1.x writes it (fields from the kubelet summary)."""
    return (f"kubernetes_pod_container,container_name=app,namespace=team-a,node_name=node-1,pod_name={pod} "
            "cpu_usage_nanocores=250000000i,cpu_usage_core_nanoseconds=9000000000i,memory_usage_bytes=134217728i,"
            "memory_working_set_bytes=120000000i,memory_rss_bytes=100000000i,memory_page_faults=1200i,"
            "memory_major_page_faults=3i,rootfs_available_bytes=900000000i,rootfs_capacity_bytes=1000000000i,"
            "rootfs_used_bytes=4096i,logsfs_available_bytes=900000000i,logsfs_capacity_bytes=1000000000i,"
            f"logsfs_used_bytes=2048i {stamp}")


def kubemon_points(pod, start, count):
    return [Point("kubernetes_pod_container", {**TAGS, "pod_name": pod}, container_fields(200.0, 2**27), start + i * 15)
            for i in range(count)]


def test_kubemon_points_are_accepted_in_a_shard_that_telegraf_wrote_first(store):
    other_writer(store).write_body("\n".join(telegraf_line("tg-1", NOW + i * 10) for i in range(6)))
    report = store.write(kubemon_points("web-1", NOW, 40))
    assert (report.written, report.rejected) == (40, 0)
    assert store.query('SELECT count("memory_usage_bytes") FROM "kubernetes_pod_container"')[0]["values"][0][1] == 46


def test_telegraf_points_are_accepted_in_a_shard_that_kubemon_wrote_first(store):
    assert store.write(kubemon_points("web-1", NOW, 40)).rejected == 0
    other_writer(store).write_body("\n".join(telegraf_line("tg-1", NOW + i * 10) for i in range(6)))
    assert store.query('SELECT count("cpu_usage_nanocores") FROM "kubernetes_pod_container"')[0]["values"][0][1] == 46


def test_a_field_a_shard_already_has_as_float_is_written_as_float(store):
    # An older kubemon wrote memory_usage_bytes as a float into today's shard.
    other_writer(store).write_body(f"kubernetes_pod_container,namespace=team-a,pod_name=old "
                                   f"memory_usage_bytes=1.5 {NOW}")
    report = store.write(kubemon_points("web-1", NOW, 40))
    assert (report.written, report.rejected) == (40, 0)
    assert store.query('SELECT count("memory_usage_bytes") FROM "kubernetes_pod_container"')[0]["values"][0][1] == 41


def test_a_point_influxdb_still_refuses_is_kept_in_the_dead_letter_list_with_the_field(store):
    other_writer(store).write_body(f"kubernetes_pod_container,namespace=team-a,pod_name=odd "
                                   f'memory_rss_bytes="n/a" {NOW}')
    report = store.write(kubemon_points("web-1", NOW, 5))
    assert report.rejected == 5
    letters = store.dead_letter_entries()
    assert len(letters) == 1
    assert 'field "memory_rss_bytes"' in letters[0]["error"] and "type conflict" in letters[0]["error"]
    assert len(letters[0]["lines"]) == 5 and all("pod_name=web-1" in line for line in letters[0]["lines"])


def test_the_rollup_writes_floats_whatever_type_the_raw_fields_have(store):
    other_writer(store).write_body("\n".join(telegraf_line("tg-1", NOW + i * 10) for i in range(6)))
    store.write(kubemon_points("web-1", NOW, 40))
    rollup_window(datetime.fromtimestamp(NOW, UTC),
                  datetime.fromtimestamp(NOW + 3600, UTC), store=store)
    keys = dict(store.query('SHOW FIELD KEYS FROM "hourly"."kubernetes_pod_container"')[0]["values"])
    for name in INTEGRAL_FIELDS["kubernetes_pod_container"]:
        assert keys[name + "_sum"] == "float" and keys[name + "_max"] == "float", name


@pytest.mark.parametrize("value", [134217728, 134217728.0, 134217728.4])
def test_the_shared_fields_are_written_as_integers_as_telegraf_writes_them(value):
    from kubemon.timeseries import to_line

    line = to_line("kubernetes_pod_container", TAGS, {"memory_usage_bytes": value, "cpu_core_seconds": 3}, 1)
    assert "memory_usage_bytes=134217728i" in line and "cpu_core_seconds=3 " in line


@pytest.mark.django_db
def test_dead_letters_are_listed_and_replayed_once_the_cause_is_gone(store):
    from io import StringIO

    from django.core.management import call_command

    other_writer(store).write_body(f"kubernetes_pod_container,namespace=team-a,pod_name=odd "
                                   f'memory_rss_bytes="n/a" {NOW}')
    store.write(kubemon_points("web-1", NOW, 5))
    out = StringIO()
    call_command("deadletters", stdout=out)
    assert "5 lines" in out.getvalue() and 'field "memory_rss_bytes"' in out.getvalue()
    store.query('DROP MEASUREMENT "kubernetes_pod_container"')  # the conflicting field is gone
    call_command("deadletters", "--replay", stdout=out)
    assert "replayed 5 lines; 0 refused" in out.getvalue()
    assert store.dead_letter_entries() == []
    assert store.query('SELECT count("memory_rss_bytes") FROM "kubernetes_pod_container"')[0]["values"][0][1] == 5
