"""``create_simulator_app``: the fake Plivo Message and WhatsApp template APIs, the fake Vonage
Messages API (when Vonage auth is configured) and the control API, as one ASGI app.

Mounted as a sub-app (``app.mount("/simulator", sim)``) it gets no lifespan of its own from
Starlette; the parent should run ``sim.router.lifespan_context(sim)`` inside its lifespan so that
the HTTP pool is opened and background callbacks are cancelled at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from textbridge.simulator.accounts import Accounts
from textbridge.simulator.callbacks import CallbackDispatcher
from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.control.access import KeyCheck, control_access, no_key_check
from textbridge.simulator.control.api import build_control_router
from textbridge.simulator.control.inbound import build_inbound_router
from textbridge.simulator.control.whatsapp import build_whatsapp_control_router
from textbridge.simulator.errors import (
    PlivoApiError,
    http_error_handler,
    internal_error_handler,
    plivo_error_handler,
    validation_error_handler,
)
from textbridge.simulator.plivo.account_api import build_account_router
from textbridge.simulator.plivo.api import build_plivo_router
from textbridge.simulator.plivo.media import build_media_router
from textbridge.simulator.plivo.template_api import build_template_router
from textbridge.simulator.state import SimulatorState
from textbridge.simulator.vonage.account_api import build_vonage_account_router
from textbridge.simulator.vonage.api import build_vonage_router
from textbridge.simulator.vonage.errors import VonageProblem, vonage_problem_handler


def create_simulator_app(config: SimulatorConfig, key_check: KeyCheck = no_key_check) -> FastAPI:
    """A fresh simulator with its own in-memory state and HTTP pool. Its control routes answer
    loopback clients, and others only when ``key_check`` accepts them (see ``control.access``)."""
    state = SimulatorState(default_callback_delay=config.callback_delay_seconds)
    state.accounts = Accounts.seeded(config)
    callbacks = CallbackDispatcher()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await callbacks.start()
        try:
            yield
        finally:
            await callbacks.aclose()

    app = FastAPI(title="textbridge simulator (Plivo, Vonage)", lifespan=lifespan)
    app.include_router(build_plivo_router(config, state, callbacks))
    app.include_router(build_account_router(config, state))
    app.include_router(build_template_router(config, state))
    app.include_router(build_media_router(config, state))
    if config.vonage_enabled:
        app.include_router(build_vonage_router(config, state, callbacks))
        app.include_router(build_vonage_account_router(config, state))
    guarded = [Depends(control_access(key_check))]
    app.include_router(build_control_router(config, state, callbacks), dependencies=guarded)
    app.include_router(build_inbound_router(config, state, callbacks), dependencies=guarded)
    app.include_router(build_whatsapp_control_router(config, state), dependencies=guarded)
    app.add_exception_handler(PlivoApiError, plivo_error_handler)
    app.add_exception_handler(VonageProblem, vonage_problem_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, internal_error_handler)
    app.state.simulator_state = state
    app.state.simulator_callbacks = callbacks
    return app
