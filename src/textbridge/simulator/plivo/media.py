"""Plivo's media host (``media.plivo.com``) as the simulator plays it.

Plivo serves a message's media at
``https://media.plivo.com/Account/{auth_id}/Message/{message_uuid}/Media/{media_id}`` (plivo-python
``tests/resources/fixtures/messageListMediaResponse.json``) with the account's Basic auth. An
injected inbound medium given without a ``url`` is hosted here, at that path under the
simulator's own base URL, and its webhook carries that URL.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from textbridge.simulator.config import SimulatorConfig
from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo.api import authorize
from textbridge.simulator.state import HostedMedia, SimulatorState

PLACEHOLDER = b"textbridge simulator media\n"


def media_path(auth_id: str, message_uuid: str, media_id: str) -> str:
    return f"/Account/{auth_id}/Message/{message_uuid}/Media/{media_id}"


def host_media(
    state: SimulatorState, base_url: str, auth_id: str, message_uuid: str, medium: HostedMedia
) -> str:
    """Keep ``medium`` for ``message_uuid`` and return the URL Plivo would give it."""
    media_id = str(uuid.uuid4())
    state.media[(message_uuid, media_id)] = medium
    return base_url.rstrip("/") + media_path(auth_id, message_uuid, media_id)


def build_media_router(config: SimulatorConfig, state: SimulatorState) -> APIRouter:
    router = APIRouter(tags=["plivo"])

    @router.get("/Account/{auth_id}/Message/{message_uuid}/Media/{media_id}")
    async def get_media(
        auth_id: str, message_uuid: str, media_id: str, request: Request
    ) -> Response:
        authorize(request, auth_id, config)
        found = state.media.get((message_uuid, media_id))
        if found is None:
            raise PlivoApiError(404, "media not found")
        return Response(found.data, media_type=found.mime_type)

    return router
