"""Download one media URL to local storage, within a size cap and only from public addresses."""

from __future__ import annotations

import mimetypes
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from textbridge.media.guard import RefusedAddress, Resolver, check_url, is_public, system_resolver

MAX_REDIRECTS = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DownloadFailed(Exception):
    """The media could not be stored: too large, refused, or the server failed."""


@dataclass(frozen=True, slots=True)
class StoredMedia:
    path: Path
    size: int
    mime_type: str | None


class MediaDownloader:
    def __init__(
        self,
        client: httpx.AsyncClient,
        folder: Path,
        max_bytes: int,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._client = client
        self._folder = folder
        self._max_bytes = max_bytes
        self._resolve = resolve

    async def download(
        self, url: str, name_hint: str | None = None, headers: dict[str, str] | None = None
    ) -> StoredMedia:
        """`headers` (the provider's credentials) go to the first URL's host only: a redirect
        elsewhere is followed without them."""
        host = urlsplit(url).hostname
        for _ in range(MAX_REDIRECTS + 1):
            await self._check(url)
            sent = headers if urlsplit(url).hostname == host else None
            async with self._client.stream(
                "GET", url, headers=sent, follow_redirects=False
            ) as response:
                _check_peer(response)
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise DownloadFailed(f"the media server answered {response.status_code}")
                return await self._store(response, url, name_hint)
        raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")

    async def _check(self, url: str) -> None:
        try:
            await check_url(url, self._resolve)
        except RefusedAddress as exc:
            raise DownloadFailed(str(exc)) from None

    async def _store(self, response: httpx.Response, url: str, hint: str | None) -> StoredMedia:
        declared = int(response.headers.get("content-length") or 0)
        if declared > self._max_bytes:
            raise DownloadFailed(f"{declared} bytes is over the {self._max_bytes}-byte cap")
        mime = response.headers.get("content-type", "").split(";")[0].strip() or None
        path = anyio.Path(self._folder / _file_name(url, hint, mime))
        await path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        try:
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise DownloadFailed(f"over the {self._max_bytes}-byte cap")
                    await out.write(chunk)
        except BaseException:
            await path.unlink(missing_ok=True)
            raise
        return StoredMedia(Path(path), size, mime)


def _check_peer(response: httpx.Response) -> None:
    """The address we actually connected to must be public too (DNS can change its answer)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer is not None and not is_public(str(peer[0])):
        raise DownloadFailed(f"connected to a non-public address {peer[0]}")


def _file_name(url: str, hint: str | None, mime: str | None) -> str:
    base = _UNSAFE.sub("_", hint or Path(urlsplit(url).path).name or "media").strip("._")[:80]
    if "." not in base and mime:
        base += mimetypes.guess_extension(mime) or ""
    return f"{uuid.uuid4().hex[:12]}-{base or 'media'}"
