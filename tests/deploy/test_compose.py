"""deploy/compose.yaml (no container engine here to run it): read for what it promises, as the
manifests are: the six services, non-root and read-only, secrets as files."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_it_runs_web_worker_beat_and_the_three_stores():
    services = COMPOSE["services"]
    assert set(services) == {"web", "worker", "beat", "redis", "influxdb", "postgres"}
    assert [services[role]["command"] for role in ("web", "worker", "beat")] == [["web"], ["worker"], ["beat"]]
    assert services["web"]["image"] == services["worker"]["image"] == services["beat"]["image"]
    assert services["web"]["environment"]["KUBEMON_MIGRATE"] == "true"
    assert services["web"]["environment"]["KUBELET_ACCESS"] == "${KUBELET_ACCESS:-direct}"
    assert all("healthcheck" in services[name] for name in ("redis", "influxdb", "postgres"))


def test_every_service_is_non_root_read_only_and_without_capabilities():
    for name, service in COMPOSE["services"].items():
        assert service["read_only"] is True, name
        assert not service["user"].startswith("0"), name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert not service.get("privileged"), name


def test_secrets_are_files_and_no_secret_is_in_the_environment():
    for name, service in COMPOSE["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if any(word in variable for word in ("PASSWORD", "TOKEN", "SECRET_KEY", "DATABASE_URL")):
                assert variable.endswith("_FILE") and value.startswith("/run/secrets/"), (name, variable)
                assert value.rsplit("/", 1)[-1] in service["secrets"], (name, variable)
    assert all(set(secret) == {"file"} for secret in COMPOSE["secrets"].values())


def test_influxdb_mounts_the_configuration_the_cluster_uses():
    volumes = COMPOSE["services"]["influxdb"]["volumes"]
    assert "./kubernetes/base/influxdb/influxdb.conf:/etc/influxdb/influxdb.conf:ro" in volumes
    assert (ROOT / "deploy" / "kubernetes" / "base" / "influxdb" / "influxdb.conf").exists()
