"""Liveness and readiness. `/healthz` never touches the database, so that an outage (or a
database that hangs) cannot slow it; `/readyz` asks the database, for at most a few seconds."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from textbridge.api.deps import RuntimeDep

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 2.0
# Checks that timed out, kept referenced while their cancellation unwinds.
_abandoned: set[asyncio.Task[None]] = set()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers within `READY_TIMEOUT_SECONDS`."""
    problem = await _database_problem(runtime.engine)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def _database_problem(engine: AsyncEngine) -> str | None:
    """None when the database answered, else what went wrong (the error's type, or
    `timeout`). Waits on the check without awaiting its clean-up: closing a connection to a
    hung database can itself hang."""
    check = asyncio.create_task(_select_one(engine))
    done, _ = await asyncio.wait({check}, timeout=READY_TIMEOUT_SECONDS)
    if not done:
        check.cancel()
        _abandoned.add(check)
        check.add_done_callback(_forget)
        return "timeout"
    error = check.exception()
    return None if error is None else type(error).__name__


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _forget(task: asyncio.Task[None]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not report it
