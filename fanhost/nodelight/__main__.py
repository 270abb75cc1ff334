"""``python -m fanhost.nodelight --kubemon URL --node NAME [--token-file F] [--device blinkstick|file:PATH]``.

The environment gives the same: ``KUBEMON_URL``, ``NODE_NAME`` (or the original's
``NODE_HOSTNAME``, from the downward API's ``spec.nodeName``), ``NODELIGHT_TOKEN`` or
``NODELIGHT_TOKEN_FILE``, ``LIGHT_MODE`` (0, 1, or anything else: both LEDs the bottom colour).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from .agent import Agent
from .device import open_device
from .lights import OFF


def parse(argv=None, environ=os.environ):
    p = argparse.ArgumentParser(prog="python -m fanhost.nodelight", description="kubemon's node light (BlinkStick)")
    p.add_argument("--kubemon", default=environ.get("KUBEMON_URL", ""), help="kubemon's base URL (KUBEMON_URL)")
    p.add_argument("--node", default=environ.get("NODE_NAME") or environ.get("NODE_HOSTNAME", ""),
                   help="this node's name (NODE_NAME or NODE_HOSTNAME)")
    p.add_argument("--token-file", default=environ.get("NODELIGHT_TOKEN_FILE"), help="file with the bearer token")
    p.add_argument("--device", default=environ.get("NODELIGHT_DEVICE", "blinkstick"),
                   help="blinkstick, blinkstick:SERIAL, file:PATH or fake")
    p.add_argument("--light-mode", default=environ.get("LIGHT_MODE", "0"))
    p.add_argument("--unknown-after", type=float, default=60.0, help="seconds without news before 'unknown'")
    p.add_argument("--poll", type=float, default=5.0, help="HTTP fallback period")
    args = p.parse_args(argv)
    if not args.kubemon or not args.node:
        p.error("--kubemon (KUBEMON_URL) and --node (NODE_NAME) are required")
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            args.token = f.read().strip()
    else:
        args.token = environ.get("NODELIGHT_TOKEN", "").strip()
    if not args.token:
        p.error("no token: --token-file, NODELIGHT_TOKEN_FILE or NODELIGHT_TOKEN")
    return args


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="nodelight: %(levelname)s %(message)s", stream=sys.stderr)
    args = parse(argv)
    try:
        device = open_device(args.device)
    except (RuntimeError, ValueError) as exc:
        sys.stderr.write(f"nodelight: {exc}\n")
        return 1
    agent = Agent(args.kubemon, args.node, args.token, device, args.light_mode, args.unknown_after, args.poll)

    def stop(*_):
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.show()  # "unknown" until kubemon speaks
    agent.run()
    for index in range(2):  # a stopped agent leaves no colour that looks current
        device.set(index, OFF)
    device.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
