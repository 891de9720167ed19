"""Media uploaded through the API, stored on disk and served to the provider from our own
public URL.

The provider fetches the file without our API key, so the URL itself is the credential: its
name is 192 random bits plus its expiry (`<expires, hex><token>.<ext>`). Whoever does not hold
the URL cannot find the file, and nobody can stretch its life: the expiry is part of the name
on disk, so an edited expiry names no file. No table is needed: the name says everything the
public route must know (whether it expired, and, by its extension, the type to serve).

The type is sniffed from the content, never taken from the client; each channel's limits are
the providers' documented ones (`providers.plivo.vocabulary`: Plivo's MMS limits, and Meta's
per-kind WhatsApp limits that both Plivo and Vonage pass on).

    UploadRefused   the file is empty, too large, of a type the channel cannot carry, or named
                    with a NUL; `status` is the HTTP status to answer with
"""

from __future__ import annotations

import re
import secrets
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import urlsplit

import anyio

from textbridge.messaging.content import media_kind
from textbridge.polling import PollingLoop
from textbridge.providers.plivo import vocabulary as v

UPLOAD_FOLDER: Final = "uploads"
PUBLIC_PREFIX: Final = "/media/u/"
DEFAULT_TTL_SECONDS: Final = 30 * 24 * 3600
MAX_FILENAME: Final = 255
SNIFF_BYTES: Final = 64
CHUNK: Final = 1 << 16
MAX_UPLOAD_BYTES: Final = max(rule.max_bytes for rule in v.WHATSAPP_MEDIA.values())
"""The largest file any channel takes (a WhatsApp document); the request body limit for an
upload is this plus room for the multipart framing."""

EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/ogg": "ogg",
    "audio/amr": "amr",
    "audio/aac": "aac",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
MIME_OF_EXTENSION: Final = {ext: mime for mime, ext in EXTENSIONS.items()}
_PUBLIC_NAME = re.compile(r"^([0-9a-f]{8})([A-Za-z0-9_-]{32})\.([a-z0-9]{2,5})$")
_OOXML = {
    "word/": "wordprocessingml.document",
    "xl/": "spreadsheetml.sheet",
    "ppt/": "presentationml.presentation",
}
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."


class UploadRefused(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True, slots=True)
class Upload:
    name: str  # the public file name: token, expiry and extension
    mime_type: str
    size: int
    filename: str | None
    expires_at: int  # Unix seconds


def store(
    source: BinaryIO, filename: str | None, channel: str, folder: Path, ttl_seconds: int
) -> Upload:
    """Check `source` against the channel's limits and copy it under `folder/uploads`."""
    _check_filename(filename)
    head = source.read(SNIFF_BYTES)
    if not head:
        raise UploadRefused(422, "empty_file", "the file is empty")
    mime = sniff(head, source)
    limit = _limit(channel, mime)
    expires = int(time.time()) + ttl_seconds
    name = f"{expires:08x}{secrets.token_urlsafe(24)}.{EXTENSIONS[mime]}"
    target = folder / UPLOAD_FOLDER / name
    target.parent.mkdir(parents=True, exist_ok=True)
    size = _copy(head, source, target, limit)
    return Upload(name, mime, size, filename, expires)


def _check_filename(filename: str | None) -> None:
    if filename is None:
        return
    if "\x00" in filename:
        raise UploadRefused(422, "invalid_filename", "the file name holds a NUL character")
    if len(filename) > MAX_FILENAME:
        raise UploadRefused(
            422, "invalid_filename", f"the file name is over {MAX_FILENAME} characters"
        )


def _copy(head: bytes, source: BinaryIO, target: Path, limit: int) -> int:
    size = 0
    try:
        with target.open("xb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(413, "file_too_large", f"the file is over {limit} bytes")
                out.write(chunk)
                chunk = source.read(CHUNK)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return size


def _limit(channel: str, mime: str) -> int:
    if channel in ("sms", "mms"):
        if mime not in v.MMS_MEDIA_TYPES:
            raise _wrong_type(mime, "an MMS", sorted(v.MMS_MEDIA_TYPES))
        return v.MMS_MAX_MEDIA_BYTES
    kind = media_kind(mime, "")
    rule = v.WHATSAPP_MEDIA.get(kind)
    if rule is None or mime not in rule.types:
        allowed = sorted(t for r in v.WHATSAPP_MEDIA.values() for t in r.types)
        raise _wrong_type(mime, "a WhatsApp message", allowed)
    return rule.max_bytes


def _wrong_type(mime: str, carrier: str, allowed: list[str]) -> UploadRefused:
    known = sorted(set(allowed) & set(EXTENSIONS))
    return UploadRefused(
        415, "unsupported_media_type", f"{mime} cannot go in {carrier}: {', '.join(known)}"
    )


def sniff(head: bytes, source: BinaryIO) -> str:
    """The type the bytes say, whatever the client said; UploadRefused (415) if unknown."""
    found = _by_signature(head) or _ooxml(head, source) or _plain_text(head, source)
    if found is None:
        raise UploadRefused(415, "unsupported_media_type", "the file's type is not recognised")
    return found


def _by_signature(head: bytes) -> str | None:
    signatures = (
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"OggS", "audio/ogg"),
        (b"#!AMR", "audio/amr"),
        (b"ID3", "audio/mpeg"),
    )
    for magic, mime in signatures:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS: sync word, layer 0
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    return None


def _ooxml(head: bytes, source: BinaryIO) -> str | None:
    if not head.startswith(b"PK\x03\x04"):
        return None
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        source.seek(len(head))
    for folder, suffix in _OOXML.items():
        if any(name.startswith(folder) for name in names):
            return _OOXML_PREFIX + suffix
    return None


def _plain_text(head: bytes, source: BinaryIO) -> str | None:
    sample = head + source.read(4096)
    source.seek(len(head))
    if b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not only a character cut at the sample's end
            return None
    return "text/plain"


def public_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}{PUBLIC_PREFIX}{name}"


def name_in(url: str) -> str | None:
    """The upload name an attachment URL leads to when it is one of our public upload URLs.
    By path, not by host: `TEXTBRIDGE_PUBLIC_URL` may have changed since (or differ in the
    CLI); a name of 192 random bits found in our folder is ours."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    if not path.startswith(PUBLIC_PREFIX):
        return None
    name = path[len(PUBLIC_PREFIX) :]
    return name if _PUBLIC_NAME.match(name) else None


def delete(folder: Path, names: Iterable[str]) -> int:
    """Delete these uploads (erased or purged content); returns how many files went."""
    removed = 0
    for name in names:
        if _PUBLIC_NAME.match(name) is None:
            continue
        path = folder / UPLOAD_FOLDER / name
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def refusal(url: str, public_url: str, folder: Path, leaves_at: float) -> str | None:
    """Why a media URL under our own public upload prefix cannot be sent (the provider would
    fetch a 404): it names no upload of ours, or the upload expires before the message leaves
    (`leaves_at`, Unix seconds). None: sendable, or not one of our URLs."""
    prefix = public_url.rstrip("/") + PUBLIC_PREFIX
    if not url.startswith(prefix):
        return None
    name = url[len(prefix) :]
    if find(folder, name) is None:
        return "this upload does not exist or has expired; upload the file again"
    if find(folder, name, now=leaves_at) is None:
        return "this upload expires before the message is to leave (send_at); upload it again"
    return None


def find(folder: Path, name: str, now: float | None = None) -> tuple[Path, str] | None:
    """The stored file a public name leads to and its type, or None when the name is not one
    of ours, has expired, or names no file."""
    match = _PUBLIC_NAME.match(name)
    if match is None or match.group(3) not in MIME_OF_EXTENSION:
        return None
    if int(match.group(1), 16) <= (time.time() if now is None else now):
        return None
    path = folder / UPLOAD_FOLDER / name
    if not path.is_file():
        return None
    return path, MIME_OF_EXTENSION[match.group(3)]


def purge_expired(folder: Path, limit: int, now: float | None = None) -> int:
    """Delete up to `limit` uploads whose expiry has passed; returns how many went. A name
    that is not one of ours is left alone."""
    moment = time.time() if now is None else now
    removed = 0
    uploads = folder / UPLOAD_FOLDER
    if not uploads.is_dir():
        return 0
    for path in uploads.iterdir():
        match = _PUBLIC_NAME.match(path.name)
        if match is None or int(match.group(1), 16) > moment:
            continue
        path.unlink(missing_ok=True)
        removed += 1
        if removed >= limit:
            break
    return removed


class UploadPurger:
    """Deletes expired uploads every `every` seconds, in the process that stores them (the
    files live on its disk)."""

    BATCH: Final = 1000

    def __init__(self, folder: Path, every: float = 3600.0) -> None:
        self._folder = folder
        self._loop = PollingLoop("upload-purge", batch=self.BATCH, idle_seconds=every)

    async def run(self) -> None:
        await self._loop.run(self.purge_once)

    async def purge_once(self) -> int:
        return await anyio.to_thread.run_sync(purge_expired, self._folder, self.BATCH)
