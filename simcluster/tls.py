"""TLS material for the simulated kubelets: a certificate authority and one serving certificate.

Made with the ``openssl`` command line (Debian ships it with ``ca-certificates``), so the simulator
still needs no Python package beyond orjson. EC P-256 keys take milliseconds to make. One serving
certificate covers every simulated kubelet: they all listen on 127.0.0.1 (on their own ports), the
address a client checks the certificate against, as a real kubelet's serving certificate names its
node's addresses. A process makes its material once (``shared``) and removes it at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache


class TlsError(RuntimeError):
    """The TLS material could not be made (no ``openssl``, or it failed)."""


@dataclass
class Authority:
    directory: str
    ca_cert: str
    ca_key: str

    def ca_pem(self) -> bytes:
        with open(self.ca_cert, "rb") as f:
            return f.read()


def _openssl(*args: str, cwd: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise TlsError("the simulated kubelets need the openssl command (Debian package openssl)")
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()[:500]}")


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def make_authority(directory: str | None = None, name: str = "simcluster-ca") -> Authority:
    """A self-signed CA in ``directory`` (a new temporary one by default)."""
    directory = directory or tempfile.mkdtemp(prefix="simcluster-tls-")
    os.makedirs(directory, exist_ok=True)
    _openssl(
        "req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    return Authority(directory, os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key"))


def make_serving_cert(ca: Authority, names: list[str], ips: list[str], stem: str = "kubelet") -> tuple[str, str]:
    """``(cert, key)`` paths of a server certificate signed by ``ca`` for ``names`` and ``ips``."""
    d = ca.directory
    alt = ",".join([f"IP:{ip}" for ip in ips] + [f"DNS:{n}" for n in names])
    with open(os.path.join(d, f"{stem}.ext"), "w") as f:
        f.write(
            f"subjectAltName={alt}\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n"
        )
    _openssl("req", *_EC, "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", "/O=system:nodes/CN=system:node",
             cwd=d)
    _openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", ca.ca_cert, "-CAkey", ca.ca_key, "-CAcreateserial",
             "-days", "3650", "-extfile", f"{stem}.ext", "-out", f"{stem}.crt", cwd=d)
    return os.path.join(d, f"{stem}.crt"), os.path.join(d, f"{stem}.key")


@dataclass
class KubeletTls:
    ca: Authority
    cert: str
    key: str


@cache
def shared() -> KubeletTls:
    """This process's kubelet CA and serving certificate, made on first use."""
    ca = make_authority()
    atexit.register(shutil.rmtree, ca.directory, True)
    cert, key = make_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    return KubeletTls(ca, cert, key)
