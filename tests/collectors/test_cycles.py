"""Cycle behaviour that needs no cluster: an unreachable API, overlapping runs, the collect command."""

import time
import types

import pytest
import yaml
from django.core.management import CommandError, call_command

from collectors import cycles
from collectors.kube import KubeClient, _at_most_every
from collectors.kubeerrors import KubeUnavailable
from kubemon.cluster import get_health


@pytest.fixture
def dead_api_kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}],
    }))
    return path


def test_an_unreachable_api_fails_fast_with_a_clear_error(dead_api_kubeconfig):
    kube = KubeClient.from_config(str(dead_api_kubeconfig), timeout=2)
    with pytest.raises(KubeUnavailable, match="unreachable"):
        kube.list_pods()


@pytest.mark.django_db
def test_a_cycle_against_an_unreachable_api_reports_and_marks_health_unknown(dead_api_kubeconfig, redis_db, store):
    kube = KubeClient.from_config(str(dead_api_kubeconfig), timeout=2)
    report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    assert not report.ok
    assert "unreachable" in report.error
    assert get_health(redis_db)["status"] == "unknown"


@pytest.mark.django_db
def test_a_cycle_is_skipped_while_the_previous_one_holds_the_lock(dead_api_kubeconfig, redis_db, store):
    kube = KubeClient.from_config(str(dead_api_kubeconfig), timeout=2)
    with cycles.cycle_lock(redis_db, "usage", 30) as acquired:
        assert acquired
        report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    assert report.skipped


def test_a_missing_kubeconfig_is_named():
    with pytest.raises(Exception, match="/nonexistent/kubeconfig"):
        KubeClient.from_config("/nonexistent/kubeconfig")


@pytest.mark.django_db
def test_collect_refuses_an_unknown_cycle_name():
    with pytest.raises(CommandError, match="unknown cycle"):
        call_command("collect", "--once", "--only", "usage,bogus")


def test_the_kubeconfig_token_refresh_runs_at_most_once_a_second_yet_still_runs(dead_api_kubeconfig, monkeypatch):
    import kubernetes.client.configuration as k8s_configuration

    kube = KubeClient.from_config(str(dead_api_kubeconfig), timeout=2)
    configuration = kube.api_client.configuration
    # Each run of the kubeconfig's own hook re-applies the host, which reads the proxy variables.
    runs = []
    real = k8s_configuration.getproxies
    monkeypatch.setattr(k8s_configuration, "getproxies", lambda: runs.append(1) or real())
    configuration.api_key.clear()
    for _ in range(500):  # a cycle's summary requests
        assert configuration.get_api_key_with_prefix("BearerToken") == "Bearer t"
    assert len(runs) == 1
    time.sleep(1.05)
    configuration.get_api_key_with_prefix("BearerToken")
    assert len(runs) == 2


def test_the_throttle_runs_the_first_call_and_again_after_its_interval():
    calls = []
    throttled = _at_most_every(lambda conf: calls.append(conf), 0.2)
    conf = types.SimpleNamespace(refresh_api_key_hook=None)
    conf.refresh_api_key_hook = throttled
    for _ in range(100):
        throttled(conf)
    assert len(calls) == 1
    time.sleep(0.25)
    throttled(conf)
    assert len(calls) == 2


@pytest.mark.django_db
def test_a_rollup_with_influxdb_down_fails_its_report_in_one_line_instead_of_raising(redis_db):
    from kubemon.timeseries import TimeseriesStore
    from kubemon.timeseries.client import InfluxClient

    store = TimeseriesStore(InfluxClient("http://127.0.0.1:9", "kubemon_test", timeout=2), retries=0)
    report = cycles.run_rollup_cycle(store=store, redis=redis_db)
    assert (report.ok, report.failure) == (False, "influxdb")
    assert report.error == "InfluxDB unavailable at http://127.0.0.1:9: connection refused"
