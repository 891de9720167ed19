"""With TEXTBRIDGE_MEDIA_DOWNLOAD on, inbound media is stored locally and served by the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from textbridge.media.downloader import MediaDownloader
from textbridge.media.guard import is_public

from ..support.database import Database
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge, running_textbridge
from .test_download import public_resolver

IMAGE = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def media_server(request: httpx.Request) -> httpx.Response:
    # Vonage's media needs our application JWT.
    authorized = request.headers.get("authorization", "").startswith("Bearer ")
    if request.url.host == "api-us.nexmo.com" and not authorized:
        return httpx.Response(401)
    # The sandbox's media.plivo.com (the simulator) needs the Plivo account's Basic auth.
    basic = request.headers.get("authorization", "").startswith("Basic ")
    if "/simulator/Account/" in request.url.path and not basic:
        return httpx.Response(401)
    if request.url.path.endswith("huge.bin"):
        return httpx.Response(200, content=b"x" * 5000)
    return httpx.Response(200, content=IMAGE, headers={"content-type": "image/png"})


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(media_server))
    # The sandbox's media.plivo.com is the simulator on 127.0.0.1; the mock transport opens no
    # socket, so only the guard's early check needs to let that one address through.
    downloader = MediaDownloader(
        client,
        tmp_path / "media",
        1000,
        resolve=public_resolver,
        allowed=lambda address: address == "127.0.0.1" or is_public(address),
    )
    with running_textbridge(
        database, tmp_path, downloader=downloader, media_download=True
    ) as running:
        yield running


def test_inbound_media_is_downloaded_and_served(textbridge: Textbridge) -> None:
    media = [
        {"url": "https://media.example.com/photo.png", "mime_type": "image/png"},
        {"url": "https://media.example.com/huge.bin", "mime_type": "application/pdf"},
    ]
    textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": CONTACT, "to": "+14155550100", "type": "mms", "text": "", "media": media},
    )

    def attachments() -> list[dict[str, object]] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        [message] = textbridge.api.get(f"/api/v1/conversations/{listed[0]['id']}/messages").json()
        items: list[dict[str, object]] = message["media"]
        return items if all(item["download_state"] for item in items) else None

    photo, huge = wait_until(attachments, timeout=10)
    assert photo["download_state"] == "stored"
    assert photo["size"] == len(IMAGE)
    served = textbridge.api.get(str(photo["local_url"]))
    assert served.status_code == 200
    assert served.content == IMAGE
    assert served.headers["content-type"] == "image/png"
    assert huge["download_state"] == "failed"
    assert "cap" in str(huge["download_error"])
    assert huge["local_url"] is None


def test_provider_media_is_fetched_with_the_providers_credentials(textbridge: Textbridge) -> None:
    textbridge.simulator.post(
        "/control/vonage/inbound",
        json={
            "channel": "whatsapp",
            "from": CONTACT,
            "to": "+14155550103",
            "image": {"url": "https://api-us.nexmo.com/v3/media/4a1b", "caption": "receipt"},
        },
    )

    def stored() -> dict[str, object] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        [message] = textbridge.api.get(f"/api/v1/conversations/{listed[0]['id']}/messages").json()
        item: dict[str, object] = message["media"][0]
        return item if item["download_state"] else None

    item = wait_until(stored, timeout=10)
    assert item["download_state"] == "stored", item["download_error"]
    assert textbridge.api.get(str(item["local_url"])).content == IMAGE


def test_plivo_media_is_fetched_from_plivos_media_host_with_credentials(
    textbridge: Textbridge,
) -> None:
    textbridge.simulator.post(
        "/control/plivo/inbound",
        json={
            "from": CONTACT,
            "to": "+14155550100",
            "type": "mms",
            "text": "",
            "media": [{"mime_type": "image/png"}],
        },
    )

    def stored() -> dict[str, object] | None:
        listed = textbridge.api.get("/api/v1/conversations").json()
        if not listed:
            return None
        [message] = textbridge.api.get(f"/api/v1/conversations/{listed[0]['id']}/messages").json()
        item: dict[str, object] = message["media"][0]
        return item if item["download_state"] else None

    item = wait_until(stored, timeout=10)
    assert "/simulator/Account/" in str(item["url"])
    assert item["download_state"] == "stored", item["download_error"]
