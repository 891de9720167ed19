"""Liveness and readiness. `/healthz` never touches the database, so that an outage (or a
database that hangs) cannot slow it; `/readyz` asks the database, for at most a few seconds."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from textbridge.api.deps import RuntimeDep
from textbridge.webhooks import journal

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 2.0
# Checks that timed out, kept referenced while their cancellation unwinds.
_abandoned: set[asyncio.Task[int]] = set()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers within `READY_TIMEOUT_SECONDS`; `journal` counts the webhooks
    waiting for a person (`unverified`: unsigned, kept for review; they do not make the service
    unready)."""
    problem, unverified = await _database_check(runtime.engine)
    if problem is not None:
        return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": "ok", "journal": {journal.UNVERIFIED: unverified}}
    )


async def _database_check(engine: AsyncEngine) -> tuple[str | None, int]:
    """(None, unverified count) when the database answered, else (what went wrong: the error's
    type, or `timeout`; 0). Waits on the check without awaiting its clean-up: closing a
    connection to a hung database can itself hang."""
    check = asyncio.create_task(_count_unverified(engine))
    done, _ = await asyncio.wait({check}, timeout=READY_TIMEOUT_SECONDS)
    if not done:
        check.cancel()
        _abandoned.add(check)
        check.add_done_callback(_forget)
        return "timeout", 0
    error = check.exception()
    return (None, check.result()) if error is None else (type(error).__name__, 0)


async def _count_unverified(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await journal.count_in_state(connection, journal.UNVERIFIED)


def _forget(task: asyncio.Task[int]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not report it
