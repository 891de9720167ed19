"""The simulator: a fake Plivo Message API with signed callbacks and fault injection.

``create_simulator_app(SimulatorConfig(...))`` returns a standalone FastAPI app; see ``app.py``
for mounting it under another app, and ``control.py`` for the test-facing control API.
"""

from textbridge.simulator.app import create_simulator_app
from textbridge.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_simulator_app"]
