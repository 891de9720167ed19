"""The simulator's TLS material, and serving over https with it."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509

from textbridge.simulator import SimulatorConfig, ensure_tls_files, tls
from textbridge.simulator.serve import uvicorn_config

from ..support.live import wait_until
from .harness import AUTH_ID, AUTH_TOKEN


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def contents(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in ("ca.pem", "cert.pem", "key.pem")}


def test_makes_a_ca_and_a_server_certificate(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls")

    ca, cert = load(files.ca), load(files.cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {"127.0.0.1", "::1", "localhost"}
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert tls.reusable(files)


def test_reuses_valid_files(tmp_path: Path) -> None:
    first = contents(ensure_tls_files(tmp_path).ca.parent)

    assert contents(ensure_tls_files(tmp_path).ca.parent) == first


@pytest.mark.parametrize("broken", ["cert.pem", "ca.pem", "key.pem"])
def test_remakes_unreadable_files(tmp_path: Path, broken: str) -> None:
    ensure_tls_files(tmp_path)
    (tmp_path / broken).write_text("garbage")

    files = ensure_tls_files(tmp_path)

    assert tls.reusable(files)


def test_remakes_when_the_key_does_not_match(tmp_path: Path) -> None:
    ensure_tls_files(tmp_path / "a")
    other = ensure_tls_files(tmp_path / "b")
    (tmp_path / "a" / "key.pem").write_bytes(other.key.read_bytes())
    assert not tls.reusable(tls.TlsFiles.in_folder(tmp_path / "a"))

    assert tls.reusable(ensure_tls_files(tmp_path / "a"))


def test_remakes_for_new_hosts_and_near_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = contents(ensure_tls_files(tmp_path).ca.parent)

    files = ensure_tls_files(tmp_path, (*tls.DEFAULT_HOSTS, "sim.test"))
    assert contents(tmp_path) != before
    assert tls.reusable(files, ["sim.test"])

    again = contents(tmp_path)
    monkeypatch.setattr(tls, "RENEW_MARGIN", timedelta(days=400))
    ensure_tls_files(tmp_path)
    assert contents(tmp_path) != again


def test_serves_https_for_ip_and_localhost(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = SimulatorConfig(AUTH_ID, AUTH_TOKEN, plivo_message_url=None)
    server = uvicorn.Server(uvicorn_config(config, "127.0.0.1", port, tmp_path))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        trust = ssl.create_default_context(cafile=tmp_path / "ca.pem")
        for host in ("127.0.0.1", "localhost"):
            response = httpx.get(f"https://{host}:{port}/control/clock", verify=trust)
            assert response.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/control/clock")  # not trusted by default
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
