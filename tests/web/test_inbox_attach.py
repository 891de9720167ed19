"""Attaching a file in the inbox's composer, in a real browser: the file is uploaded
(`POST /api/v1/media`), sent as MMS with our public URL, delivered by the simulator, and the
thread shows the picture loaded from that URL. Writes docs/screenshots/composer-attach.png."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from ..support.database import Database
from ..support.textbridge import CONTACT, Textbridge, running_textbridge
from .helpers import conversation_of, sign_in

SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "composer-attach.png"


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(database, tmp_path, media_dir=tmp_path / "media") as running:
        yield running


def _png(width: int = 48, height: int = 32) -> bytes:
    """A real (decodable) PNG: an orange rectangle."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xf0\xa0\x3c" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_attach_a_file_and_send_it_as_mms(
    textbridge: Textbridge, page: Page, tmp_path: Path
) -> None:
    textbridge.inbound("Can you send me the floor plan?")
    picture = tmp_path / "floor plan.png"
    picture.write_bytes(_png())
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()

    page.get_by_test_id("file-attach").click()  # opens the file chooser ...
    page.get_by_test_id("file-input").set_input_files(str(picture))  # ... which picks this
    help_text = page.get_by_test_id("media-help")
    expect(help_text).to_contain_text("Uploaded floor plan.png (image/png")
    url = page.get_by_test_id("media-url").input_value()
    assert url.startswith(f"{textbridge.url}/media/u/")
    page.get_by_test_id("composer-text").fill("Here it is")
    page.get_by_test_id("composer-send").click()

    sent = page.get_by_test_id("message").filter(has_text="Here it is")
    expect(sent.get_by_test_id("message-status")).to_have_attribute("data-status", "delivered")
    expect(sent.get_by_test_id("attachment")).to_have_attribute("data-state", "loaded")
    outbound = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
    [given] = [m for m in outbound.json() if m["media_urls"]]
    assert given["media_urls"] == [url]
    with httpx.Client(timeout=10) as provider:  # the provider's fetch: no key, no cookie
        assert provider.get(url).content == picture.read_bytes()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_a_file_the_channel_cannot_carry_is_refused_clearly(
    textbridge: Textbridge, page: Page, tmp_path: Path
) -> None:
    textbridge.inbound("Hello")
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    sign_in(page, textbridge)
    conversation_of(page, CONTACT).click()
    page.get_by_test_id("file-input").set_input_files(str(program))
    expect(page.get_by_test_id("composer-error")).to_contain_text("Not attached:")
    expect(page.get_by_test_id("media-draft")).to_be_hidden()
