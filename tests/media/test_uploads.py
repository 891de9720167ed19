"""Media uploads over HTTP on both databases: upload, send an MMS and a WhatsApp image with
it through the simulator, fetch it back from the public URL the provider was given (no API
key); and the refusals: a type the channel cannot carry, too big, empty, a NUL in the name,
an expired or made-up public name. An erasure or the retention purge deletes an upload once
no message points to it any more (one upload may go to many people)."""

from __future__ import annotations

import io
import re
import socket
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from textbridge.compliance.retention import ContentPurger
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.media import public, uploads
from textbridge.models import Attachment, Message

from ..support.database import Database, run_sync
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge, running_textbridge

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 3000
WHATSAPP_PLIVO = "+14155550101"
SOMEONE_ELSE = "+14155550123"


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(database, tmp_path, media_dir=tmp_path / "media") as running:
        yield running


def _upload(
    textbridge: Textbridge, content: bytes, name: str = "photo.bin", **form: str
) -> httpx.Response:
    """A multipart body built by hand: httpx would escape a NUL in the file name as `%00`."""
    boundary = "textbridge-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in form.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return textbridge.api.post("/api/v1/media", content=b"".join(parts), headers=headers)


def _provider_got(textbridge: Textbridge, url: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        sent = textbridge.simulator.get("/control/messages", params={"direction": "outbound"})
        return next((m for m in sent.json() if url in m["media_urls"]), None)

    return wait_until(find, timeout=10)


def _fetch_as_provider(url: str) -> httpx.Response:
    with httpx.Client(timeout=10) as provider:  # no API key: the URL is the credential
        return provider.get(url)


def test_upload_is_sent_as_mms_and_served_from_the_public_url(textbridge: Textbridge) -> None:
    uploaded = _upload(textbridge, JPEG, "holiday.jpg", channel="mms")
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["mime_type"] == "image/jpeg"
    assert body["size"] == len(JPEG)
    assert body["url"].startswith(f"{textbridge.url}/media/u/")
    sent = textbridge.api.post(
        "/api/v1/messages",
        json={"to": CONTACT, "channel": "mms", "text": "Look", "media": {"url": body["url"]}},
    )
    assert sent.status_code == 202, sent.text
    textbridge.wait_for_status(sent.json()["id"], "delivered")
    assert _provider_got(textbridge, body["url"])["provider"] == "plivo"
    with httpx.Client(timeout=10) as provider:
        head = provider.head(body["url"])
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(JPEG))
    assert head.headers["cache-control"] == "no-store"  # an erasure deletes it
    fetched = _fetch_as_provider(body["url"])
    assert fetched.status_code == 200
    assert fetched.content == JPEG
    assert fetched.headers["content-type"] == "image/jpeg"


def test_upload_is_sent_as_a_whatsapp_image(textbridge: Textbridge) -> None:
    inbound = textbridge.simulator.post(
        "/control/plivo/inbound",
        json={"from": CONTACT, "to": WHATSAPP_PLIVO, "text": "hi", "type": "whatsapp"},
    )
    assert inbound.status_code == 200, inbound.text
    wait_until(lambda: textbridge.api.get("/api/v1/conversations").json(), timeout=10)
    # The client says "text/plain": the bytes say PNG, and PNG is what is kept.
    files = {"file": ("logo.png", PNG, "text/plain")}
    uploaded = textbridge.api.post("/api/v1/media", files=files, data={"channel": "whatsapp"})
    assert uploaded.status_code == 201, uploaded.text
    url = uploaded.json()["url"]
    assert uploaded.json()["mime_type"] == "image/png"
    media = {"url": url, "mime_type": "image/png"}
    sent = textbridge.api.post(
        "/api/v1/messages",
        json={"to": CONTACT, "channel": "whatsapp", "text": "Our logo", "media": media},
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["media"][0]["kind"] == "image"
    textbridge.wait_for_status(sent.json()["id"], "delivered")
    assert _provider_got(textbridge, url)["content_type"] in ("media", "image")
    assert _fetch_as_provider(url).content == PNG


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_documents_are_recognised_by_their_content(textbridge: Textbridge) -> None:
    cases = [
        (b"%PDF-1.7\n" + b"x" * 100, "application/pdf"),
        (_docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("Bonjour, voilà le menu\n".encode(), "text/plain"),
    ]
    for content, mime in cases:
        uploaded = _upload(textbridge, content, "menu", channel="whatsapp")
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["mime_type"] == mime


@pytest.mark.parametrize(
    ("content", "name", "channel", "status", "code"),
    [
        (b"%PDF-1.4 not an image", "a.jpg", "mms", 415, "unsupported_media_type"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 50, "setup.exe", "whatsapp", 415, None),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "s.webp", "mms", 415, "unsupported_media_type"),
        (b"", "empty.jpg", "mms", 422, "empty_file"),
        (JPEG, "bad\x00name.jpg", "mms", 422, "invalid_filename"),
        (JPEG, "n" * 300 + ".jpg", "mms", 422, "invalid_filename"),
        (JPEG, "photo.jpg", "fax", 422, None),
    ],
)
def test_bad_uploads_are_clear_4xx(
    textbridge: Textbridge, content: bytes, name: str, channel: str, status: int, code: str | None
) -> None:
    answer = _upload(textbridge, content, name, channel=channel)
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error"]["code"] == code
    assert not list((textbridge.settings.media_dir / "uploads").glob("*")), "nothing is kept"


def test_too_big_for_the_channel(textbridge: Textbridge) -> None:
    over_mms = b"\xff\xd8\xff\xe0" + b"\x00" * (2_000_000)
    answer = _upload(textbridge, over_mms, "big.jpg", channel="mms")
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "file_too_large"
    assert "2000000" in answer.json()["error"]["message"]
    # The same picture fits a WhatsApp image (5 MB).
    assert _upload(textbridge, over_mms, "big.jpg", channel="whatsapp").status_code == 201


def test_over_the_largest_channel_limit_is_refused_before_reading(
    textbridge: Textbridge,
) -> None:
    """Only headers are sent: the declared length alone gets the 413."""
    parts = urlsplit(textbridge.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/v1/media HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: " + textbridge.api.headers["Authorization"].encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: " + str(uploads.MAX_UPLOAD_BYTES * 2).encode() + b"\r\n\r\n"
        )
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_the_public_url_needs_its_exact_name_and_expires(textbridge: Textbridge) -> None:
    url = _upload(textbridge, PNG, "a.png", channel="whatsapp").json()["url"]
    name = url.rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{8}[A-Za-z0-9_-]{32}\.png", name)
    expired = f"{0:08x}{name[8:]}"  # the same token with its expiry changed names no file
    token_changed = name[:8] + ("A" if name[8] != "A" else "B") + name[9:]
    for wrong in (expired, token_changed, name.replace(".png", ".jpg"), "..%2f..%2fetc"):
        assert _fetch_as_provider(f"{textbridge.url}/media/u/{wrong}").status_code == 404
    assert uploads.find(textbridge.settings.media_dir, name) is not None
    expires = int(name[:8], 16)
    assert uploads.find(textbridge.settings.media_dir, name, now=expires) is None


def test_upload_needs_the_send_scope(textbridge: Textbridge) -> None:
    created = textbridge.api.post("/api/v1/keys", json={"name": "reader", "scopes": ["read"]})
    reader = {"Authorization": f"Bearer {created.json()['key']}"}
    files = {"file": ("a.png", PNG, "image/png")}
    with httpx.Client(base_url=textbridge.url, timeout=10) as client:
        assert client.post("/api/v1/media", files=files).status_code == 401
        assert client.post("/api/v1/media", files=files, headers=reader).status_code == 403


def test_expired_uploads_are_purged(tmp_path: Path) -> None:
    """On the files themselves: `store` as the API calls it, then the purge at two moments."""
    folder = tmp_path / "media"
    kept = uploads.store(io.BytesIO(PNG), "a.png", "whatsapp", folder, ttl_seconds=3600)
    old = uploads.store(io.BytesIO(JPEG), "b.jpg", "mms", folder, ttl_seconds=60)
    stranger = folder / uploads.UPLOAD_FOLDER / "notes.txt"
    stranger.write_text("not an upload")
    assert uploads.purge_expired(folder, limit=10, now=old.expires_at - 1) == 0
    assert uploads.purge_expired(folder, limit=10, now=old.expires_at) == 1
    left = sorted(path.name for path in (folder / uploads.UPLOAD_FOLDER).iterdir())
    assert left == sorted([kept.name, "notes.txt"])


def _send_with(textbridge: Textbridge, url: str, to: str = CONTACT) -> str:
    sent = textbridge.api.post(
        "/api/v1/messages",
        json={"to": to, "channel": "mms", "text": "Look", "media": {"url": url}},
    )
    assert sent.status_code == 202, sent.text
    message_id: str = sent.json()["id"]
    textbridge.wait_for_status(message_id, "delivered")
    return message_id


def _stored(textbridge: Textbridge, url: str) -> Path:
    return textbridge.settings.media_dir / uploads.UPLOAD_FOLDER / url.rsplit("/", 1)[1]


def test_an_erasure_deletes_the_uploads_no_one_else_was_sent(textbridge: Textbridge) -> None:
    theirs = _upload(textbridge, JPEG, "scan.jpg", channel="mms").json()["url"]
    shared = _upload(textbridge, PNG, "flyer.png", channel="mms").json()["url"]
    _send_with(textbridge, theirs)
    _send_with(textbridge, shared)
    _send_with(textbridge, shared, to=SOMEONE_ELSE)  # one campaign upload, many recipients
    assert textbridge.api.delete(f"/api/v1/contacts/{CONTACT}").status_code == 200
    assert _fetch_as_provider(theirs).status_code == 404
    assert not _stored(textbridge, theirs).exists()
    assert _fetch_as_provider(shared).status_code == 200
    assert textbridge.api.delete(f"/api/v1/contacts/{SOMEONE_ELSE}").status_code == 200
    assert _fetch_as_provider(shared).status_code == 404


def test_the_retention_purge_deletes_old_uploads(textbridge: Textbridge) -> None:
    url = _upload(textbridge, JPEG, "scan.jpg", channel="mms").json()["url"]
    message_id = _send_with(textbridge, url)
    old = datetime.now(UTC) - timedelta(days=40)
    textbridge.database.run(
        update(Message).where(Message.id == uuid.UUID(message_id)).values(created_at=old)
    )
    textbridge.database.run(
        update(Attachment)
        .where(Attachment.message_id == uuid.UUID(message_id))
        .values(created_at=old)
    )
    run_sync(_purge(textbridge.settings.database_url, textbridge.settings.media_dir))
    assert _fetch_as_provider(url).status_code == 404
    assert not _stored(textbridge, url).exists()


async def _purge(database_url: str, media_dir: Path) -> None:
    engine = create_engine(database_url)
    try:
        purger = ContentPurger(create_session_factory(engine), 30, media_dir)
        while await purger.purge_once():
            pass
    finally:
        await engine.dispose()


def test_a_file_opened_before_its_deletion_is_still_served(tmp_path: Path) -> None:
    """The public route opens the file before answering: a deletion after that (an erasure,
    the purger) cannot turn the answer into an error; one before it is a 404."""
    folder = tmp_path / "media"
    stored = uploads.store(io.BytesIO(JPEG), "a.jpg", "mms", folder, ttl_seconds=60)
    opened = public._open(folder, stored.name)
    assert opened is not None
    uploads.delete(folder, [stored.name])
    with opened[0] as file:
        assert file.read() == JPEG
    assert public._open(folder, stored.name) is None


def test_an_unknown_or_too_short_lived_upload_is_refused_at_send(textbridge: Textbridge) -> None:
    url = _upload(textbridge, JPEG, "scan.jpg", channel="mms").json()["url"]
    name = url.rsplit("/", 1)[1]
    expires = datetime.fromtimestamp(int(name[:8], 16), UTC)
    unknown = url.replace(name, f"{name[:8]}{'A' * 32}.jpg")
    for media_url, send_at in ((unknown, None), (url, expires + timedelta(minutes=1))):
        extra = {"send_at": send_at.isoformat()} if send_at else {}
        refused = textbridge.api.post(
            "/api/v1/messages",
            json={"to": CONTACT, "channel": "mms", "media": {"url": media_url}, **extra},
        )
        assert refused.status_code == 422, refused.text
        assert "upload" in refused.text
    before = {"send_at": (expires - timedelta(days=1)).isoformat()}
    accepted = textbridge.api.post(
        "/api/v1/messages",
        json={"to": CONTACT, "channel": "mms", "media": {"url": url}, **before},
    )
    assert accepted.status_code == 202, accepted.text
