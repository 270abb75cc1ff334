"""The node lights' delivery in the raspberry-pi overlay (kubectl kustomize, as test_manifests.py
renders it): the BlinkStick reaches the node-lights pod through the device plugin, with least
privilege on both sides, and the agents on the nodes reach web by a host name web answers to."""

import json
import re
from urllib.parse import urlsplit

from django.http.request import validate_host

from tests.deploy.test_manifests import ROOT, _by_name, _containers, render

UDEV_RULE = ROOT / "deploy" / "agents" / "udev" / "90-kubemon-blinkstick.rules"
PLUGDEV_GID = 46  # Debian's and Raspberry Pi OS's plugdev, the udev rule's group


def _objects():
    return render("overlays/raspberry-pi")


def _plugin():
    return _by_name(_objects(), "DaemonSet", "blinkstick-device-plugin")


def _plugin_device():
    """The resource the plugin advertises and the USB ids it looks for."""
    args = _containers(_plugin()["spec"]["template"]["spec"])[0]["args"]
    options = dict(zip(args[::2], args[1::2], strict=True))
    device = json.loads(options["--device"])
    usb = [spec for group in device["groups"] for spec in group["usb"]]
    return f"{options['--domain']}/{device['name']}", usb, options["--plugin-directory"]


def test_the_device_plugin_advertises_the_stick_the_udev_rule_names_as_the_resource_the_lights_ask_for():
    resource, usb, _ = _plugin_device()
    rule = next(line for line in UDEV_RULE.read_text().splitlines() if line and not line.startswith("#"))
    vendor = re.search(r'ATTR\{idVendor\}=="([0-9a-f]{4})"', rule).group(1)
    product = re.search(r'ATTR\{idProduct\}=="([0-9a-f]{4})"', rule).group(1)
    assert usb == [{"vendor": vendor, "product": product}] == [{"vendor": "20a0", "product": "41e5"}]
    assert 'GROUP="plugdev"' in rule and 'MODE="0660"' in rule
    lights = _by_name(_objects(), "DaemonSet", "node-lights")["spec"]["template"]["spec"]
    assert lights["containers"][0]["resources"]["limits"][resource] == "1"
    # the kubelet hands the pod the device node with the host's owner and mode: plugdev may open it
    assert lights["securityContext"]["supplementalGroups"] == [PLUGDEV_GID]
    # both run on the same nodes, the ones with a light
    plugin = _plugin()["spec"]["template"]["spec"]
    assert plugin["nodeSelector"] == lights["nodeSelector"] == {"kubemon.io/node-light": "true"}
    assert plugin["tolerations"] == lights["tolerations"]


def test_the_node_lights_pod_is_restricted_without_host_access_or_kubernetes_credentials():
    objects = _objects()
    lights = _by_name(objects, "DaemonSet", "node-lights")
    assert lights["metadata"]["namespace"] == "kubemon"
    namespace = _by_name(objects, "Namespace", "kubemon")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    spec = lights["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False  # it asks kubemon, never the API server
    assert [sorted(v) for v in spec["volumes"]] == [["name", "secret"]]  # the token only: no hostPath, no /dev
    container = spec["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert spec["securityContext"]["runAsUser"] != 0 and spec["securityContext"]["runAsNonRoot"] is True


def test_the_device_plugin_is_root_only_for_its_socket_and_otherwise_unprivileged_in_its_own_namespace():
    objects = _objects()
    plugin = _plugin()
    namespace = plugin["metadata"]["namespace"]
    assert namespace == "kubemon-node-devices"
    labels = _by_name(objects, "Namespace", namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"  # a hostPath needs it, nothing more
    spec = plugin["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    _, _, directory = _plugin_device()
    assert spec["volumes"] == [{"name": "device-plugins",
                                "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"}}]
    container = spec["containers"][0]
    assert container["volumeMounts"] == [{"name": "device-plugins", "mountPath": directory}]
    security = container["securityContext"]
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and security["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["memory"]
    # nothing else in the overlay leaves the restricted namespace
    elsewhere = {(o["kind"], o["metadata"]["name"]) for o in objects
                 if o["metadata"].get("namespace") not in (None, "kubemon")}
    assert elsewhere == {("DaemonSet", "blinkstick-device-plugin")}


def test_the_agents_on_the_nodes_call_web_by_a_host_that_web_answers_to():
    objects = _objects()
    config = _by_name(objects, "ConfigMap", "kubemon-config")["data"]
    allowed = config["ALLOWED_HOSTS"].split(",")
    base = _by_name(render("base"), "ConfigMap", "kubemon-config")["data"]["ALLOWED_HOSTS"].split(",")
    assert allowed[:len(base)] == base  # the base's hosts kept, the agents' added
    service = _by_name(objects, "Service", "web")
    urls = {}
    for name in ("temperature-agent", "node-lights"):
        env = {v["name"]: v.get("value") for v in _by_name(objects, "DaemonSet", name)
               ["spec"]["template"]["spec"]["containers"][0]["env"]}
        urls[name] = urlsplit(env["KUBEMON_URL"])
    for name, url in urls.items():
        assert url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc", name
        assert url.port in [p["port"] for p in service["spec"]["ports"]], name
        # Django's own check of the Host header (and of the websocket's Origin, the same URL)
        assert validate_host(url.hostname, allowed), (name, url.hostname, allowed)
    assert not validate_host("web.kubemon.svc", base)  # what the agents met before: 400 Bad Request


def test_the_image_the_node_lights_run_has_the_agent_and_the_usb_library_it_loads():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    build, runtime = text.split("FROM ${PYTHON_IMAGE} AS build\n", 1)[1].split("\nFROM ${PYTHON_IMAGE}\n", 1)
    assert re.search(r'pip install "/tmp/fanhost\[lights\]"', build)  # pyusb and websockets into the venv
    apt = re.search(r"apt-get install -y --no-install-recommends ([^\\\n]+)", runtime).group(1).split()
    assert "libusb-1.0-0" in apt  # pyusb is only the binding: without it no BlinkStick is found
    objects = _objects()
    web = _by_name(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert web.startswith("ghcr.io/kubemon/kubemon:")
    for name in ("node-lights", "temperature-agent"):  # not a bare "kubemon" that no registry has
        assert _by_name(objects, "DaemonSet", name)["spec"]["template"]["spec"]["containers"][0]["image"] == web
    lights = _by_name(objects, "DaemonSet", "node-lights")["spec"]["template"]["spec"]["containers"][0]
    assert lights["command"] == ["python", "-m", "fanhost.nodelight"]
