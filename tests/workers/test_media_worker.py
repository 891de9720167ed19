"""Inbound media across processes (PostgreSQL): an MMS journaled by a `serve --no-workers` is
applied, fetched and stored by a separate `textbridge worker` (its media fetcher), and the
`serve` then serves the stored copy (both share `TEXTBRIDGE_MEDIA_DIR`, as they must). The
media server is on this machine, so the worker's SSRF guard is told to let 127.0.0.1 through
(`TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS`); tests/media covers the fetcher's rules in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..support.database import own_postgres_database
from ..support.live import LiveServer, wait_until
from ..support.processes import free_port
from ..support.textbridge import CONTACT, SANDBOX_NUMBER
from .deployment import deployment

IMAGE = b"\x89PNG\r\n\x1a\n" + b"0" * 64


class MediaHost:
    """Serves one PNG and counts the requests for it."""

    def __init__(self) -> None:
        self.requests = 0
        self.app = Starlette(routes=[Route("/photo.png", self.photo)])

    async def photo(self, _request: Request) -> Response:
        self.requests += 1
        return Response(IMAGE, media_type="image/png")


@pytest.mark.timeout(300)
def test_inbound_media_journaled_by_serve_is_fetched_by_a_worker_process(tmp_path: Path) -> None:
    host = MediaHost()
    media_dir = tmp_path / "media"
    settings = {
        "TEXTBRIDGE_MEDIA_DOWNLOAD": "true",
        "TEXTBRIDGE_MEDIA_DIR": str(media_dir),
        "TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    with (
        own_postgres_database() as database,
        LiveServer(host.app) as media,
        deployment(tmp_path, database.url, **settings) as running,
    ):
        port = free_port()
        inbound = f"http://127.0.0.1:{port}/webhooks/plivo/inbound"
        running.start_simulator(wait=False, message_url=inbound)
        front = running.serve("--no-workers", wait=False, port=port)
        running.wait_ready()
        mms = {
            "from": CONTACT,
            "to": SANDBOX_NUMBER,
            "type": "mms",
            "text": "a photo",
            "media": [{"url": f"{media.url}/photo.png", "mime_type": "image/png"}],
        }
        with running.control() as control:
            injected = control.post("/plivo/inbound", json=mms)
        assert injected.status_code == 200, injected.text
        assert injected.json()["status_code"] == 200, injected.text
        # Journaled, and nothing more: a `serve --no-workers` neither applies nor fetches.
        journaled = "SELECT state FROM webhook_journal WHERE kind = 'inbound'"
        assert database.rows(journaled) == [("pending",)]
        assert host.requests == 0
        running.worker("worker", front.url)
        with front.api() as api:
            photo = wait_until(lambda: _stored_media(api), timeout=30, interval=0.1)
            served = api.get(str(photo["local_url"]))
        assert database.rows(journaled) == [("applied",)]
    assert photo["download_state"] == "stored", photo
    assert photo["size"] == len(IMAGE)
    assert served.status_code == 200
    assert served.content == IMAGE
    assert host.requests == 1
    assert [path.read_bytes() for path in media_dir.rglob("*") if path.is_file()] == [IMAGE]


def _stored_media(api: httpx.Client) -> dict[str, Any] | None:
    """The inbound message's one attachment once the fetcher has settled it, else None."""
    conversations = api.get("/api/v1/conversations").json()
    if not conversations:
        return None
    messages = api.get(f"/api/v1/conversations/{conversations[0]['id']}/messages").json()
    [message] = messages
    [item] = message["media"]
    return item if item["download_state"] else None
