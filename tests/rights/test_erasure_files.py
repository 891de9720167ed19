"""Stored files at erasure: one that cannot be deleted is recorded and retried, never left
silently; one still downloading when its person is erased is deleted when it lands."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import httpx

from textbridge.compliance.retention import ContentPurger
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.media.downloader import MediaDownloader, StoredMedia
from textbridge.media.guard import is_public

from ..media.test_download import public_resolver
from ..support.database import Database, run_sync
from ..support.live import wait_until
from ..support.textbridge import Textbridge, running_textbridge
from .people import PLIVO_SMS, VONAGE_WHATSAPP, ZELDA, inject


def _attachment(textbridge: Textbridge) -> tuple[str | None, str | None]:
    rows = textbridge.database.rows("SELECT local_path, download_state FROM attachments")
    return (rows[0][0], rows[0][1]) if rows else (None, None)


async def _purge_once(url: str) -> int:
    engine = create_engine(url)
    try:
        return await ContentPurger(create_session_factory(engine), None).purge_once()
    finally:
        await engine.dispose()


def test_a_file_that_cannot_be_deleted_is_recorded_and_retried(textbridge: Textbridge) -> None:
    inject(
        textbridge,
        "plivo",
        **{"from": ZELDA.address, "to": PLIVO_SMS, "type": "mms", "text": f"{ZELDA.tag} pic"},
        media=[{"mime_type": "image/png"}],
    )
    stored = wait_until(lambda: (a := _attachment(textbridge))[1] == "stored" and a, timeout=10)
    path = Path(str(stored[0]))
    path.unlink()
    path.mkdir()  # unlink() now fails (EISDIR), as a file on a read-only mount would

    response = textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}")

    assert response.status_code == 200, response.text
    assert (response.json()["files_deleted"], response.json()["files_failed"]) == (0, 1)
    assert _attachment(textbridge) == (str(path), "erased")  # recorded, not forgotten
    path.rmdir()
    path.write_bytes(b"still here")  # whatever stopped the deletion is gone
    assert run_sync(_purge_once(textbridge.settings.database_url)) == 1
    assert not path.exists()
    assert _attachment(textbridge) == (None, "erased")


def test_an_erased_file_that_is_still_on_disk_is_never_served(textbridge: Textbridge) -> None:
    inject(
        textbridge,
        "plivo",
        **{"from": ZELDA.address, "to": PLIVO_SMS, "type": "mms", "text": f"{ZELDA.tag} pic"},
        media=[{"mime_type": "image/png"}],
    )
    stored = wait_until(lambda: (a := _attachment(textbridge))[1] == "stored" and a, timeout=10)
    [attachment_id] = textbridge.database.rows("SELECT id FROM attachments")[0]
    path = Path(str(stored[0]))
    path.unlink()
    path.mkdir()  # the deletion fails (EISDIR) ...
    assert textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}").status_code == 200
    path.rmdir()
    path.write_bytes(b"her picture")  # ... and the file is there until the purger's retry

    response = textbridge.api.get(f"/api/v1/media/{attachment_id}")

    assert response.status_code == 404, response.text


class _SlowDownloads(MediaDownloader):
    """Holds every download until `release`; records each file it stored."""

    def __init__(self, folder: Path) -> None:
        super().__init__(
            httpx.AsyncClient(transport=httpx.MockTransport(self._serve)),
            folder,
            10_000,
            resolve=public_resolver,
            allowed=is_public,
        )
        self.started = threading.Event()
        self.release = threading.Event()
        self.stored: list[Path] = []

    async def _serve(self, request: httpx.Request) -> httpx.Response:
        self.started.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return httpx.Response(200, content=b"\x89PNG" + request.url.path.encode())

    async def download(
        self, url: str, name_hint: str | None = None, headers: dict[str, str] | None = None
    ) -> StoredMedia:
        stored = await super().download(url, name_hint, headers)
        self.stored.append(stored.path)
        return stored


def test_a_download_that_lands_after_the_erasure_is_deleted(
    database: Database, tmp_path: Path
) -> None:
    downloads = _SlowDownloads(tmp_path / "media")
    with running_textbridge(
        database, tmp_path, downloader=downloads, media_download=True
    ) as textbridge:
        image = {"url": f"https://api-us.nexmo.com/v3/media/{ZELDA.tag}", "caption": "x"}
        inject(
            textbridge,
            "vonage",
            channel="whatsapp",
            to=VONAGE_WHATSAPP,
            image=image,
            **{"from": ZELDA.address},
        )
        assert downloads.started.wait(10)

        response = textbridge.api.delete(f"/api/v1/contacts/{ZELDA.address}")
        assert response.status_code == 200, response.text
        downloads.release.set()

        path = wait_until(lambda: downloads.stored and downloads.stored[0], timeout=10)
        wait_until(lambda: not path.exists(), timeout=10)
        assert _attachment(textbridge) == (None, "erased")
        assert os.listdir(tmp_path / "media") == []
