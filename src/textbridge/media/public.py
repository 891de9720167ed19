"""The public route of uploaded media: the provider fetches it with no API key, the URL's
unguessable, expiring name being the credential (`uploads`)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from textbridge.api.errors import ApiError
from textbridge.media import uploads
from textbridge.runtime import Runtime

router = APIRouter(tags=["media"], include_in_schema=False)


# HEAD too: a provider may ask for the type and length before it fetches.
@router.api_route(
    uploads.PUBLIC_PREFIX + "{name}", methods=["GET", "HEAD"], response_class=FileResponse
)
async def public_media(name: str, request: Request) -> FileResponse:
    runtime: Runtime = request.app.state.runtime
    found = await anyio.to_thread.run_sync(uploads.find, runtime.settings.media_dir, name)
    if found is None:
        # One answer for unknown, expired and malformed names: nothing to learn by probing.
        raise ApiError(404, "not_found", "no such media, or it has expired")
    path, mime = found
    return FileResponse(
        path,
        media_type=mime,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )
