"""The GPU exporter and node-exporter pages, read with prometheus_client like the collectors will."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

# the label set of dcgm-exporter in Kubernetes mode (samples/dcgm-exporter-h100-pod-labels-excerpt.txt)
DCGM_LABELS = {"gpu", "UUID", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
POD_LABELS = {"container", "namespace", "pod"}


def families(sim, path: str) -> dict:
    status, body = sim.get(path)
    assert status == 200
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def test_dcgm_page_has_one_series_per_gpu_with_pod_attribution(sim):
    sim.advance(60)
    fams = families(sim, "/gpu/gpu-01/metrics")
    assert {
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_POWER_USAGE",
    } <= set(fams)
    util = fams["DCGM_FI_DEV_GPU_UTIL"].samples
    assert [s.labels["gpu"] for s in util] == ["0", "1", "2", "3"]
    pods = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p
        for p in sim.json("/api/v1/pods?fieldSelector=spec.nodeName%3Dgpu-01")["items"]
    }
    attributed = 0
    for s in util:
        keys = set(s.labels)
        assert keys in (DCGM_LABELS, DCGM_LABELS | POD_LABELS), keys
        assert s.labels["Hostname"] == "gpu-01" and s.labels["UUID"].startswith("GPU-")
        assert s.labels["device"] == f"nvidia{s.labels['gpu']}"
        if "pod" in s.labels:
            pod = pods[(s.labels["namespace"], s.labels["pod"])]
            spec = {c["name"]: c for c in pod["spec"]["containers"]}
            assert "nvidia.com/gpu" in spec[s.labels["container"]]["resources"]["limits"]
            assert 0 <= s.value <= 100
            attributed += 1
        else:
            assert s.value == 0  # an idle GPU
    assert attributed >= 2
    used = {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_USED"].samples}
    free = {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_FREE"].samples}
    assert all(used[g] + free[g] <= 40960 for g in used)  # MiB of an A100 40GB
    for s in fams["DCGM_FI_DEV_GPU_TEMP"].samples:
        assert 20 < s.value < 100
    for s in fams["DCGM_FI_DEV_POWER_USAGE"].samples:
        assert 0 < s.value <= 400


def test_jetson_page_reports_gpu_use_temperatures_and_milliwatts(sim):
    sim.advance(60)
    fams = families(sim, "/gpu/jetson-01/metrics")
    (gpu,) = fams["gpu_usage_gpu"].samples
    assert 0 <= gpu.value <= 100 and "pod" not in gpu.labels  # the Jetson exporter cannot attribute
    temps = {s.labels["temperature"]: s.value for s in fams["gpu_temperatures"].samples}
    assert {"cpu", "gpu"} <= set(temps) and all(20 < t < 100 for t in temps.values())
    power = {s.labels["power"]: s.value for s in fams["gpu_usage_power"].samples}
    assert power["gpu"] > 1000  # milliwatts
    node = sim.json("/api/v1/nodes/jetson-01")
    assert node["metadata"]["annotations"]["kubemon.io/gpu-exporter-kind"] == "jetson"
    state = {n["name"]: n for n in sim.json("/sim/state")["nodes"]}
    assert abs(temps["cpu"] - state["jetson-01"]["temperature_celsius"]) < 0.01


def test_gpu_pages_show_the_step_the_summary_shows(sim):
    sim.advance(37)  # mid-step: both describe the last completed boundary
    summary = sim.json("/api/v1/nodes/gpu-01/proxy/stats/summary")
    ran = {(p["podRef"]["namespace"], p["podRef"]["name"]) for p in summary["pods"] if p["containers"]}
    util = families(sim, "/gpu/gpu-01/metrics")["DCGM_FI_DEV_GPU_UTIL"].samples
    assert {(s.labels["namespace"], s.labels["pod"]) for s in util if "pod" in s.labels} <= ran


def test_node_exporter_page_has_the_thermal_zone(sim):
    fams = families(sim, "/node-exporter/node-01/metrics")
    (zone,) = fams["node_thermal_zone_temp"].samples
    assert zone.labels == {"type": "cpu-thermal", "zone": "0"}
    (hwmon,) = fams["node_hwmon_temp_celsius"].samples
    assert hwmon.value == zone.value and 20 < zone.value < 100
