"""The ceiling for bench/webhook_ingest.py: a bare ASGI app, one asyncpg INSERT per request.

No framework, no signature check (Plivo's signature headers and Vonage's `Authorization` JWT
are stored, not verified), no parsing beyond reading the body: it writes one row of the same
shape as textbridge's (provider and kind taken from the path `/webhooks/{provider}/{kind}`,
into the `webhook_journal` table of its own freshly migrated database, so same columns,
unique key and indexes) through an asyncpg pool, with ON CONFLICT DO NOTHING, and answers
200 once the INSERT (autocommit) returned. It is served by `uvicorn.run` with the same
arguments as `textbridge serve` (uvicorn picks uvloop and httptools when installed, as it
does for serve).

Run: CEILING_DATABASE_URL=postgresql://... python bench/ceiling_app.py --port 8101
A GET answers 200 without touching the database (readiness checks).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

import asyncpg
import uvicorn

INSERT = (
    "INSERT INTO webhook_journal "
    "(provider, kind, dedup_key, method, url, headers, body, state, attempts, received_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8) "
    "ON CONFLICT (dedup_key) DO NOTHING"
)
OK_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"0")],
}
OK_BODY = {"type": "http.response.body", "body": b""}

_pool: asyncpg.Pool | None = None


async def _lifespan(receive: Any, send: Any) -> None:
    global _pool
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            dsn = os.environ["CEILING_DATABASE_URL"]
            # Same size as textbridge's SQLAlchemy pool (30 by default); CEILING_POOL_SIZE
            # matches a smaller one (bench/fleet.py).
            size = int(os.environ.get("CEILING_POOL_SIZE", "30"))
            _pool = await asyncpg.create_pool(dsn, min_size=min(20, size), max_size=size)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        body = b"".join(chunks)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        path: str = scope["path"]
        # /webhooks/{provider}/{kind}
        provider, kind = path.rsplit("/", 2)[-2:]
        assert _pool is not None
        await _pool.execute(
            INSERT,
            provider,
            kind,
            hashlib.sha256(body).hexdigest(),
            "POST",
            path,
            json.dumps(headers),
            body.decode("utf-8", "replace"),
            datetime.now(UTC),
        )
    await send(OK_START)
    await send(OK_BODY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    # The arguments `textbridge serve` gives uvicorn.run (cli.py), nothing else.
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, proxy_headers=True)


if __name__ == "__main__":
    main()
