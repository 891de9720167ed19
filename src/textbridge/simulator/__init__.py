"""The simulator: fake Plivo (Message, WhatsApp template) and Vonage (Messages) APIs with signed
webhooks, fault injection and WhatsApp rules.

``create_simulator_app(SimulatorConfig(...))`` returns a standalone FastAPI app; see ``app.py``
for mounting it under another app, ``control.py`` for the test-facing control API, and
``serve.serve_simulator`` for running it alone (over TLS with ``tls_dir``).
"""

from textbridge.simulator.app import create_simulator_app
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.serve import serve_simulator
from textbridge.simulator.tls import TlsFiles, ensure_tls_files

__all__ = [
    "SimulatorConfig",
    "TlsFiles",
    "create_simulator_app",
    "ensure_tls_files",
    "serve_simulator",
]
