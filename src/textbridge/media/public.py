"""The public route of uploaded media: the provider fetches it with no API key, the URL's
unguessable, expiring name being the credential (`uploads`).

The file is opened before the answer starts: an erasure or the purger may delete it at any
moment, and a file gone between the look-up and the answer is a 404, never a 500 (an open file
stays readable once unlinked). `no-store`: a cache must not keep what an erasure deletes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from textbridge.api.errors import ApiError
from textbridge.media import uploads
from textbridge.runtime import Runtime

router = APIRouter(tags=["media"], include_in_schema=False)


class OpenFileResponse(Response):
    """An already opened file, sent in chunks and closed at the end (HEAD: headers only)."""

    def __init__(self, file: BinaryIO, media_type: str) -> None:
        self._file = file
        size = os.fstat(file.fileno()).st_size
        super().__init__(
            media_type=media_type,
            headers={
                "content-length": str(size),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            while chunk := await anyio.to_thread.run_sync(self._file.read, uploads.CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            self._file.close()


def _open(folder: Path, name: str) -> tuple[BinaryIO, str] | None:
    found = uploads.find(folder, name)
    if found is None:
        return None
    path, mime = found
    try:
        return path.open("rb"), mime
    except FileNotFoundError:
        return None


# HEAD too: a provider may ask for the type and length before it fetches.
@router.api_route(uploads.PUBLIC_PREFIX + "{name}", methods=["GET", "HEAD"])
async def public_media(name: str, request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    opened = await anyio.to_thread.run_sync(_open, runtime.settings.media_dir, name)
    if opened is None:
        # One answer for unknown, expired and malformed names: nothing to learn by probing.
        raise ApiError(404, "not_found", "no such media, or it has expired")
    file, mime = opened
    return OpenFileResponse(file, mime)
