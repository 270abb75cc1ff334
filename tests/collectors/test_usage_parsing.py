"""The usage collector's parsing, against real kubelet and metrics-server payloads."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.podspec import ContainerSpec, PodInfo
from collectors.sampling import Sample, SamplingState
from collectors.timeutil import epoch_seconds
from collectors.usage import (
    UsageResult,
    collect_pod_usage,
    container_fields,
    metrics_api_points,
    summary_points,
)
from kubemon.timeseries import TimeseriesStore
from kubemon.timeseries.schema import INTEGRAL_FIELDS, MEASUREMENTS

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _load(name):
    return json.loads((SAMPLES / name).read_text())


def _points_by(result, measurement):
    return [p for p in result.points if p.measurement == measurement]


def _agent(containers):
    return next(p for p in containers if p.tags["pod_name"] == "dd-agent-ntepl" and p.tags["container_name"] == "agent")


def _later(summary, seconds, cpu_seconds=0.0):
    """The same summary ``seconds`` later by its sample times (earlier if negative), every
    container's CPU counter ``cpu_seconds`` further on."""
    def shift(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "time" and isinstance(value, str):
                    node[key] = datetime.fromtimestamp(epoch_seconds(value) + seconds, UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                elif key == "usageCoreNanoSeconds":
                    node[key] = value + int(cpu_seconds * 1e9)
                else:
                    shift(value)
        elif isinstance(node, list):
            for item in node:
                shift(item)
    copy = json.loads(json.dumps(summary))
    shift(copy)
    return copy


def test_it_turns_a_docker_era_summary_into_container_points():
    result = UsageResult()
    summary_points(_load("kubelet-stats-summary.json"), None, SamplingState(), result)
    containers = _points_by(result, "kubernetes_pod_container")
    agent = next(p for p in containers if p.tags["pod_name"] == "dd-agent-ntepl"
                 and p.tags["container_name"] == "agent")
    assert agent.tags == {"namespace": "datadog", "pod_name": "dd-agent-ntepl", "container_name": "agent",
                          "node_name": "gke-lenaic-pool-1-1c8b424c-wnkn"}
    assert agent.timestamp == epoch_seconds("2019-11-20T13:13:11Z")
    assert agent.fields["cpu_usage_nanocores"] == 12477758.0
    assert agent.fields["cpu_usage_core_nanoseconds"] == 2505102601908
    assert agent.fields["memory_working_set_bytes"] == 86441984.0
    assert agent.fields["memory_rss_bytes"] == 80277504.0
    assert agent.fields["memory_page_faults"] == 661023
    assert agent.fields["rootfs_used_bytes"] == 5275648.0
    # First sight of a day-old container: it stands for one nominal period, CPU estimated from its rate.
    assert agent.fields["interval_seconds"] == 15.0
    assert agent.fields["cpu_core_seconds"] == pytest.approx(12477758 / 1e9 * 15)
    assert agent.fields["memory_working_set_bytes_integral"] == 86441984.0 * 15
    assert result.containers == len(containers) == 6


def test_it_writes_network_volume_and_node_points():
    result = UsageResult()
    summary_points(_load("kubelet-stats-summary.json"), None, SamplingState(), result)
    network = {p.tags["pod_name"]: p for p in _points_by(result, "kubernetes_pod_network")}
    assert network["dd-agent-ntepl"].fields["rx_bytes"] == 2529297883
    volumes = [p.tags["volume_name"] for p in _points_by(result, "kubernetes_pod_volume")
               if p.tags["pod_name"] == "dd-agent-ntepl"]
    assert volumes == ["config", "s6-run", "confd", "datadog-token-kj5hr"]
    node = _points_by(result, "kubernetes_node")[0]
    assert node.tags == {"node_name": "gke-lenaic-pool-1-1c8b424c-wnkn"}
    assert node.fields["cpu_usage_nanocores"] == 112148031.0


def test_it_sums_interfaces_when_a_containerd_summary_has_no_pod_totals():
    summary = _load("kubelet-stats-summary-containerd-2023.json")
    result = UsageResult()
    summary_points(summary, None, SamplingState(), result)
    assert len(_points_by(result, "kubernetes_pod_container")) == 5
    node = _points_by(result, "kubernetes_node")[0]
    interfaces = summary["node"]["network"]["interfaces"]
    assert node.fields["network_rx_bytes"] == sum(i["rxBytes"] for i in interfaces)


def test_it_accepts_a_container_with_only_a_working_set():
    fragment = _load("kubelet-stats-summary-podstats-gke-2025-fragment.json")
    result = UsageResult()
    summary_points({"node": {"nodeName": "n1"}, "pods": [fragment]}, None, SamplingState(), result)
    point = _points_by(result, "kubernetes_pod_container")[0]
    assert point.fields["memory_working_set_bytes"] == 76451840.0
    assert "memory_usage_bytes" not in point.fields


def test_it_joins_the_pod_spec_and_charges_max_of_request_and_usage():
    summary = _load("kubelet-stats-summary.json")
    pod = summary["pods"][0]
    info = PodInfo("datadog", "dd-agent-ntepl", pod["podRef"]["uid"], "n", "Running", "running", "Running", "", "",
                   "", {"agent": ContainerSpec(requests_millicpu=500.0, requests_memory=2**30, requests_gpu=1.0)})
    result = UsageResult()
    summary_points(summary, {("datadog", "dd-agent-ntepl"): info}, SamplingState(), result)
    containers = _points_by(result, "kubernetes_pod_container")
    # Pods the API does not list are not charged.
    assert {p.tags["pod_name"] for p in containers} == {"dd-agent-ntepl"}
    agent = next(p for p in containers if p.tags["container_name"] == "agent")
    assert agent.fields["resource_requests_millicpu_units"] == 500.0
    assert agent.fields["resource_requests_gpu_integral"] == 15.0
    assert agent.fields["cpu_allocated_core_seconds"] == pytest.approx(0.5 * 15)  # request above usage
    assert agent.fields["memory_allocated_byte_seconds"] == 2**30 * 15


def test_it_skips_a_pod_whose_uid_differs_from_the_listed_one():
    summary = _load("kubelet-stats-summary.json")
    info = PodInfo("datadog", "dd-agent-ntepl", "another-uid", "n", "Running", "running", "", "", "", "", {})
    result = UsageResult()
    summary_points(summary, {("datadog", "dd-agent-ntepl"): info}, SamplingState(), result)
    assert _points_by(result, "kubernetes_pod_container") == []


def test_one_broken_pod_entry_is_skipped():
    summary = _load("kubelet-stats-summary.json")
    summary["pods"].insert(0, {"podRef": {"name": "broken"}, "containers": [{"cpu": {"time": "nonsense"}}]})
    result = UsageResult()
    summary_points(summary, None, SamplingState(), result)
    assert result.skipped == 1
    assert result.containers == 6


def test_it_falls_back_to_metrics_server_rates():
    items = _load("metrics-k8s-io-pods.json")["items"]
    pods = {(i["metadata"]["namespace"], i["metadata"]["name"]):
            PodInfo(i["metadata"]["namespace"], i["metadata"]["name"], "", "node-a", "Running", "running", "", "", "",
                    "", {}) for i in items}
    result = UsageResult()
    metrics_api_points(items, pods, SamplingState(), result)
    tomcat = next(p for p in result.points if p.tags["pod_name"] == "tomcat-t6q74")
    assert tomcat.fields["cpu_usage_nanocores"] == 259106.0
    assert tomcat.fields["memory_working_set_bytes"] == 650528 * 1024
    assert tomcat.tags["node_name"] == "node-a"
    assert tomcat.timestamp == epoch_seconds("2018-12-06T02:21:43Z")


def test_unset_limits_and_absent_gpu_requests_are_left_out_not_written_as_zero():
    summary = _load("kubelet-stats-summary.json")
    info = PodInfo("datadog", "dd-agent-ntepl", summary["pods"][0]["podRef"]["uid"], "n", "Running", "running",
                   "Running", "", "", "", {"agent": ContainerSpec(requests_millicpu=100.0, limits_memory=2**29)})
    result = UsageResult()
    summary_points(summary, {("datadog", "dd-agent-ntepl"): info}, SamplingState(), result)
    agent = next(p for p in result.points if p.tags.get("container_name") == "agent")
    assert "resource_limits_millicpu_units" not in agent.fields
    assert "resource_requests_gpu" not in agent.fields and "resource_requests_gpu_integral" not in agent.fields
    assert agent.fields["resource_limits_memory_bytes"] == 2**29
    assert agent.fields["resource_requests_millicpu_units"] == 100.0


class _Kubelets:
    """Node summaries as the API proxy returns them: raw bytes, one node answering garbage."""

    def node_summary_raw(self, name):
        if name == "broken":
            return b"<html>502 Bad Gateway</html>"
        return (SAMPLES / "kubelet-stats-summary.json").read_bytes()


def test_a_node_whose_summary_is_not_json_is_skipped_and_the_others_are_kept():
    result = collect_pod_usage(_Kubelets(), SamplingState(), None, ["good", "broken"], workers=2)
    assert result.skipped == 1
    assert result.containers > 0
    assert {p.measurement for p in result.points} >= {"kubernetes_pod_container", "kubernetes_node"}


@pytest.mark.parametrize("odd", ["lots", True, [1], {"bytes": 1}])
def test_a_non_numeric_usage_value_loses_at_most_its_pod_and_is_never_written(odd):
    summary = _load("kubelet-stats-summary.json")
    summary["pods"][0]["containers"][0]["memory"]["usageBytes"] = odd
    result = UsageResult()
    summary_points(summary, None, SamplingState(), result)
    lines = TimeseriesStore(client=None).serialize(result.points)
    container_lines = [line for line in lines if line.startswith("kubernetes_pod_container,")]
    total = sum(len(p["containers"]) for p in summary["pods"])
    assert total - len(summary["pods"][0]["containers"]) <= len(container_lines) < total
    assert not any("memory_usage_bytes=lots" in line or "memory_usage_bytes=true" in line for line in lines)


def test_every_container_gauge_of_the_schema_gets_its_integral_and_nothing_else_is_written():
    summary = _load("kubelet-stats-summary.json")
    container = summary["pods"][0]["containers"][0]
    spec = ContainerSpec(requests_millicpu=250, requests_memory=2**28, limits_millicpu=1500.5, limits_memory=2**30,
                         requests_gpu=1, restarts=3)
    fields = container_fields(container, spec, Sample(15, 0.75), 15)
    integrals = INTEGRAL_FIELDS["kubernetes_pod_container"]
    assert {name for name in integrals if name in fields} == set(integrals)
    for name in integrals:
        assert fields[name + "_integral"] == pytest.approx(fields[name] * 15)
    allowed = set(MEASUREMENTS["kubernetes_pod_container"].fields) | {name + "_integral" for name in integrals}
    assert set(fields) <= allowed
    assert fields["cpu_allocated_core_seconds"] == pytest.approx(max(0.25 * 15, 0.75))


def test_a_kubelet_whose_clock_stepped_back_has_its_samples_written_as_a_new_series():
    """A kubelet restarted with a skewed clock: its next samples are an hour earlier than the last ones."""
    summary = _load("kubelet-stats-summary.json")
    sampling = SamplingState(cap_seconds=30, nominal_seconds=15)
    summary_points(summary, None, sampling, UsageResult())
    stepped_back = UsageResult()
    summary_points(_later(summary, -3600, cpu_seconds=2.0), None, sampling, stepped_back)
    containers = _points_by(stepped_back, "kubernetes_pod_container")
    assert len(containers) == 6
    assert len(_points_by(stepped_back, "kubernetes_pod_network")) == len(summary["pods"])
    assert len(_points_by(stepped_back, "kubernetes_node")) == 1
    # The first sample of the new time line stands for one nominal period, its CPU from the rate.
    for point in stepped_back.points:
        if "interval_seconds" in point.fields:
            assert point.fields["interval_seconds"] == 15.0
    agent = _agent(containers)
    assert agent.fields["cpu_core_seconds"] == pytest.approx(12477758 / 1e9 * 15)
    # After that the series goes on as usual, from the new time line.
    following = UsageResult()
    summary_points(_later(summary, -3600 + 15, cpu_seconds=2.5), None, sampling, following)
    agent = _agent(_points_by(following, "kubernetes_pod_container"))
    assert agent.fields["interval_seconds"] == 15
    assert agent.fields["cpu_core_seconds"] == pytest.approx(0.5)


def test_a_container_restarted_since_the_last_sample_is_charged_from_its_start_time():
    summary = _load("kubelet-stats-summary.json")
    sampling = SamplingState(cap_seconds=30, nominal_seconds=15)
    summary_points(summary, None, sampling, UsageResult())
    restarted = _later(summary, 30)
    pod = next(p for p in restarted["pods"] if p["podRef"]["name"] == "dd-agent-ntepl")
    agent = next(c for c in pod["containers"] if c["name"] == "agent")
    sample_time = epoch_seconds(agent["cpu"]["time"])
    agent["startTime"] = datetime.fromtimestamp(sample_time - 5, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    agent["cpu"]["usageCoreNanoSeconds"] = 400_000_000  # the new instance's own counter
    result = UsageResult()
    summary_points(restarted, None, sampling, result)
    point = _agent(_points_by(result, "kubernetes_pod_container"))
    assert point.fields["interval_seconds"] == 5
    assert point.fields["memory_working_set_bytes_integral"] == agent["memory"]["workingSetBytes"] * 5
    assert point.fields["cpu_core_seconds"] == pytest.approx(0.4)
