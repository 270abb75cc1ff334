#!/usr/bin/env python3
"""kubemon's temperature agent: push a node's temperature every 5 s (the standard library only).

The same script runs in the Kubernetes DaemonSet (deploy/kubernetes/overlays/raspberry-pi, in
kubemon's image) and on a host outside the cluster (deploy/agents/kubemon-temperature-agent.service).
It POSTs ``node=<name>&value=<millidegrees>`` (the raw ``thermal_zone0/temp`` integer) to
``<url>/k8s/collect/temperature`` with the token in the ``X-Kubemon-Token`` header, so the token
stays out of URLs and access logs. The legacy ``agent.sh NODE TOKEN`` put the node name in the
path and the token in ``node=``; here each value goes where it belongs, by name:

    temperature_agent.py --url https://kubemon.example.org --node pi-3 --token-file /etc/kubemon/temperature-token

Every option has an environment variable (KUBEMON_URL, NODE_NAME, TEMPERATURE_TOKEN_FILE,
TEMPERATURE_SENSOR, TEMPERATURE_INTERVAL). A failed push is logged and retried next time; the
agent never gives up (the legacy one exited after 20 failures).
"""

import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_SENSOR = "/sys/class/thermal/thermal_zone0/temp"


def read_millidegrees(sensor):
    with open(sensor) as f:
        return int(f.read().strip())


def push(url, token, node, value, timeout=5.0, context=None):
    """POST one reading; returns the HTTP status (raises OSError when the server is unreachable)."""
    body = urllib.parse.urlencode({"node": node, "value": str(value)}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/k8s/collect/temperature", data=body, method="POST",
                                     headers={"X-Kubemon-Token": token,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=env("KUBEMON_URL", ""), help="kubemon's base URL")
    parser.add_argument("--node", default=env("NODE_NAME") or socket.gethostname(), help="this node's name")
    parser.add_argument("--token-file", default=env("TEMPERATURE_TOKEN_FILE", ""),
                        help="file holding the token (kubemon's TEMPERATURE_PUSH_TOKEN)")
    parser.add_argument("--sensor", default=env("TEMPERATURE_SENSOR", DEFAULT_SENSOR))
    parser.add_argument("--interval", type=float, default=float(env("TEMPERATURE_INTERVAL", "5")))
    parser.add_argument("--ca-file", default=env("KUBEMON_CA_FILE", ""), help="CA of kubemon's certificate")
    parser.add_argument("--once", action="store_true", help="push one reading and exit with its outcome")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("--url (or KUBEMON_URL) is required")
    if not args.token_file:
        parser.error("--token-file (or TEMPERATURE_TOKEN_FILE) is required")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        with open(args.token_file) as f:
            token = f.read().strip()
    except OSError as exc:
        sys.exit(f"temperature agent: cannot read the token file {args.token_file}: {exc}")
    context = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    while True:
        started = time.monotonic()
        try:
            status = push(args.url, token, args.node, read_millidegrees(args.sensor), context=context)
            ok = status == 200
            if not ok:
                print(f"temperature agent: kubemon answered {status} for node {args.node}", file=sys.stderr,
                      flush=True)
        except (OSError, ValueError) as exc:
            ok = False
            print(f"temperature agent: {exc}", file=sys.stderr, flush=True)
        if args.once:
            return 0 if ok else 1
        if stopped.wait(max(0.0, args.interval - (time.monotonic() - started))):
            return 0


if __name__ == "__main__":
    sys.exit(main())
