from pathlib import Path

import pytest

from collectors.gpu import Exporter, attribute_by_requests, exporters_from_nodes, parse_dcgm, parse_jetson
from collectors.podspec import ContainerSpec, PodInfo

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_it_reads_the_t4_block_of_a_real_dcgm_scrape():
    gpus = parse_dcgm((SAMPLES / "dcgm-exporter-metrics.txt").read_text(), default_time=1000)
    t4 = gpus[("424773df46e0", "0", "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e")]
    assert t4["tags"]["model_name"] == "Tesla T4"
    assert t4["fields"]["temperature_celsius"] == 25.0
    assert t4["time"] == 1000
    assert "utilization_percent" in t4["fields"]
    assert t4["fields"]["memory_total_bytes"] >= t4["fields"]["memory_used_bytes"]


def test_it_attributes_gpus_to_pods_and_separates_mig_instances():
    text = (SAMPLES / "dcgm-exporter-h100-mig-pod-labels-excerpt.txt").read_text().replace(
        "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP")
    gpus = parse_dcgm(text, default_time=1)
    by_gpu = {key[1]: entry for key, entry in gpus.items()}
    assert {"0/mig-1", "0/mig-2", "1"} <= set(by_gpu)
    assert by_gpu["1"]["tags"]["pod_name"] == "ollama-76f687f4cd-xcvvp"
    assert by_gpu["1"]["tags"]["container_name"] == "ollama"
    assert by_gpu["0/mig-1"]["tags"]["pod_name"] == ""


def test_it_converts_framebuffer_mib_to_bytes_and_uses_exposition_timestamps():
    text = (
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-1",modelName="A100",Hostname="gpu-1",namespace="ml",pod="p",'
        'container="c"} 2048 1700000000000\n'
        'DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-1",modelName="A100",Hostname="gpu-1"} 1024 1700000000000\n'
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-1",modelName="A100",Hostname="gpu-1"} 250.5 1700000000000\n'
    )
    entry = parse_dcgm(text, default_time=5)[("gpu-1", "0", "GPU-1")]
    assert entry["fields"]["memory_used_bytes"] == 2048 * 2**20
    assert entry["fields"]["memory_total_bytes"] == 3072 * 2**20
    assert entry["fields"]["power_watts"] == 250.5
    assert entry["time"] == 1700000000
    assert entry["tags"]["namespace"] == "ml"


def test_it_reads_a_jetson_page_with_power_in_milliwatts():
    text = (
        '# TYPE gpu_usage_gpu gauge\ngpu_usage_gpu 42.0\n'
        '# TYPE gpu_temperatures gauge\ngpu_temperatures{temperature="gpu"} 51.5\n'
        'gpu_temperatures{temperature="cpu"} 49.0\n'
        '# TYPE gpu_usage_power gauge\ngpu_usage_power{power="gpu"} 3200\n'
    )
    (entry,) = parse_jetson(text, 7, "jetson-1").values()
    assert entry["fields"] == {"utilization_percent": 42.0, "temperature_celsius": 51.5, "power_watts": 3.2}
    assert entry["tags"]["node_name"] == "jetson-1"


def test_it_finds_exporters_in_node_annotations_and_settings():
    nodes = [{"metadata": {"name": "gpu-1", "annotations": {"kubemon.io/gpu-exporter-url": "http://x/metrics",
                                                            "kubemon.io/gpu-exporter-kind": "jetson"}}},
             {"metadata": {"name": "cpu-1"}}]
    found = exporters_from_nodes(nodes, ["http://dcgm:9400/metrics", "jetson=http://j:9998/metrics"])
    assert found == [Exporter("http://x/metrics", "jetson", "gpu-1"), Exporter("http://dcgm:9400/metrics", "dcgm"),
                     Exporter("http://j:9998/metrics", "jetson")]


def test_garbage_text_is_an_error_not_a_crash():
    with pytest.raises(ValueError):
        parse_dcgm('DCGM_FI_DEV_GPU_UTIL{gpu="0" 12\n', 1)


def _pod(name, node, gpus, phase="Running", containers=("main",)):
    specs = {c: ContainerSpec(requests_gpu=gpus if i == 0 else 0) for i, c in enumerate(containers)}
    return PodInfo("ml", name, "uid-" + name, node, phase, "running", "", "", "", "", specs)


def _index(*pods):
    return {(p.namespace, p.name): p for p in pods}


JETSON_PAGE = '# TYPE gpu_usage_gpu gauge\ngpu_usage_gpu 42.0\n'


def test_a_jetson_gpu_goes_to_the_one_running_pod_on_its_node_that_requests_a_gpu():
    gpus = parse_jetson(JETSON_PAGE, 7, "jetson-1")
    pods = _index(_pod("infer", "jetson-1", 1, containers=("infer", "sidecar")), _pod("web", "jetson-1", 0),
                  _pod("done", "jetson-1", 1, phase="Succeeded"), _pod("elsewhere", "jetson-2", 1))
    attribute_by_requests(gpus, pods)
    (entry,) = gpus.values()
    assert (entry["tags"]["namespace"], entry["tags"]["pod_name"], entry["tags"]["container_name"]) == (
        "ml", "infer", "infer")


def test_a_jetson_gpu_shared_by_two_pods_stays_unattributed():
    gpus = parse_jetson(JETSON_PAGE, 7, "jetson-1")
    attribute_by_requests(gpus, _index(_pod("a", "jetson-1", 1), _pod("b", "jetson-1", 1)))
    assert next(iter(gpus.values()))["tags"]["pod_name"] == ""


def test_dcgm_without_pod_labels_gives_the_node_to_a_pod_that_requests_all_its_gpus():
    text = (SAMPLES / "dcgm-exporter-metrics.txt").read_text()
    gpus = parse_dcgm(text, default_time=1, node="gpu-1")
    assert len(gpus) == 2
    attribute_by_requests(gpus, _index(_pod("train", "gpu-1", 2)))
    assert {entry["tags"]["pod_name"] for entry in gpus.values()} == {"train"}
    # One GPU of two requested: which one is not known, so neither is attributed.
    gpus = parse_dcgm(text, default_time=1, node="gpu-1")
    attribute_by_requests(gpus, _index(_pod("small", "gpu-1", 1)))
    assert {entry["tags"]["pod_name"] for entry in gpus.values()} == {""}


def test_an_unlabelled_gpu_beside_labelled_ones_stays_idle():
    text = (SAMPLES / "dcgm-exporter-h100-mig-pod-labels-excerpt.txt").read_text().replace(
        "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_GPU_TEMP")
    gpus = parse_dcgm(text, default_time=1, node="h100")
    attribute_by_requests(gpus, _index(_pod("other", "h100", len(gpus))))
    assert "other" not in {entry["tags"]["pod_name"] for entry in gpus.values()}
