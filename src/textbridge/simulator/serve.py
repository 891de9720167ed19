"""Running the simulator on its own, over plain HTTP or TLS.

``serve_simulator(config, host, port, tls_dir)`` blocks serving ``create_simulator_app(config)``
with uvicorn. With ``tls_dir`` it serves https with the certificate from
``tls.ensure_tls_files(tls_dir)`` (made on first use, for 127.0.0.1, ::1, localhost and
``host``); clients trust ``tls_dir / "ca.pem"``. This is what the official Vonage SDK needs:
``HttpClientOptions(api_host=f"127.0.0.1:{port}")`` plus ``REQUESTS_CA_BUNDLE=<tls_dir>/ca.pem``.

A CLI flag for ``textbridge simulator`` would be ``--tls-dir PATH`` (env
``TEXTBRIDGE_SIMULATOR_TLS_DIR``), passed straight through as ``tls_dir``.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from textbridge.simulator.app import create_simulator_app
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.tls import DEFAULT_HOSTS, TlsFiles, ensure_tls_files

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names, not a bind)


def tls_files_for(host: str, tls_dir: Path) -> TlsFiles:
    """The TLS files for serving on ``host`` (a wildcard bind adds no name)."""
    hosts = DEFAULT_HOSTS if host in _WILDCARDS or host in DEFAULT_HOSTS else (*DEFAULT_HOSTS, host)
    return ensure_tls_files(tls_dir, hosts)


def uvicorn_config(
    config: SimulatorConfig,
    host: str,
    port: int,
    tls_dir: Path | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn settings ``serve_simulator`` runs with."""
    files = tls_files_for(host, tls_dir) if tls_dir is not None else None
    return uvicorn.Config(
        create_simulator_app(config),
        host=host,
        port=port,
        ssl_certfile=files.cert if files else None,
        ssl_keyfile=files.key if files else None,
        timeout_graceful_shutdown=5,
        log_level=log_level.lower(),
    )


def serve_simulator(
    config: SimulatorConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_dir: Path | None = None,
    log_level: str = "info",
) -> None:
    """Serve the simulator until interrupted; https when ``tls_dir`` is given."""
    uvicorn.Server(uvicorn_config(config, host, port, tls_dir, log_level)).run()
