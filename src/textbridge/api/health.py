from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from textbridge.api.deps import RuntimeDep
from textbridge.webhooks import journal

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers; `journal` counts the webhooks waiting for a person (`unverified`:
    unsigned, kept for review; they do not make the service unready)."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            unverified = await journal.count_in_state(connection, journal.UNVERIFIED)
    except Exception as exc:
        body: dict[str, object] = {"status": "unavailable", "database": type(exc).__name__}
        return JSONResponse(body, status_code=503)
    return JSONResponse(
        {"status": "ok", "database": "ok", "journal": {journal.UNVERIFIED: unverified}}
    )
