"""The data-rights tests' textbridge: inbound media downloaded to the test's own folder, from
a media server whose bytes name each file's owner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from textbridge.media.downloader import MediaDownloader
from textbridge.media.guard import is_public

from ..media.test_download import public_resolver
from ..support.database import Database
from ..support.textbridge import Textbridge, running_textbridge
from .people import media_server


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    downloader = MediaDownloader(
        httpx.AsyncClient(transport=httpx.MockTransport(media_server)),
        tmp_path / "media",
        10_000,
        resolve=public_resolver,
        allowed=lambda address: address == "127.0.0.1" or is_public(address),
    )
    with running_textbridge(
        database, tmp_path, downloader=downloader, media_download=True, media_dir=tmp_path / "media"
    ) as running:
        yield running
