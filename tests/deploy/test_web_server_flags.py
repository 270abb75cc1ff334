"""The web role's uvicorn command (deploy/entrypoint.py), without starting it: what the live view's
fan-out depends on."""

import importlib.util
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "entrypoint.py"


def _web_command(monkeypatch):
    spec = importlib.util.spec_from_file_location("kubemon_entrypoint_under_test", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = []
    monkeypatch.setattr(module, "_exec", started.append)
    monkeypatch.delenv("KUBEMON_MIGRATE", raising=False)
    module.web()
    (args,) = started
    return args


def test_the_web_server_sends_the_live_deltas_without_compressing_them_once_per_socket(monkeypatch):
    args = _web_command(monkeypatch)
    assert args[:3] == ["-m", "uvicorn", "kubemon.asgi:application"]
    # uvicorn offers permessage-deflate unless told not to: a zlib pass per socket and message
    flag = args.index("--ws-per-message-deflate")
    assert args[flag + 1] == "false"
