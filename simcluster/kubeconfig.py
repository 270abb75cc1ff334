"""A kubeconfig for the simulated cluster, so ``KUBECONFIG=PATH`` points any client at it."""

from __future__ import annotations

import os
import tempfile

# the API server accepts any bearer token; the simulated kubelets accept only this one
TOKEN = "simcluster-token"  # noqa: S105 - a fixed dummy, not a secret


def render(server_url: str) -> str:
    # YAML written by hand: the layout is fixed and this keeps the simulator free of a YAML library
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: simcluster\n"
        "  cluster:\n"
        f"    server: {server_url}\n"
        "contexts:\n"
        "- name: simcluster\n"
        "  context:\n"
        "    cluster: simcluster\n"
        "    user: simcluster-admin\n"
        "    namespace: default\n"
        "current-context: simcluster\n"
        "preferences: {}\n"
        "users:\n"
        "- name: simcluster-admin\n"
        "  user:\n"
        f"    token: {TOKEN}\n"
    )


def write(path: str, server_url: str) -> None:
    write_file(path, render(server_url).encode())


def write_file(path: str, content: bytes) -> None:
    """Write atomically (readers never see half a file) with owner-only permissions."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".simcluster-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
