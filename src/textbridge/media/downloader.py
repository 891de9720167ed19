"""Download one media URL to local storage, within a size cap, a deadline, and only from
public addresses.

    DownloadFailed            the media could not be stored; `transient` says whether trying
                              again later may succeed (timeouts, connection errors, 5xx, 429)
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urljoin, urlsplit

import anyio
import httpx

from textbridge.media.guard import (
    AddressPolicy,
    RefusedAddress,
    Resolver,
    Unresolvable,
    check_url,
    is_public,
    system_resolver,
)

MAX_REDIRECTS = 3
DEFAULT_DEADLINE_SECONDS = 120.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class DownloadFailed(Exception):
    """The media could not be stored: too large, refused, the server failed, or too slow."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class StoredMedia:
    path: Path
    size: int
    mime_type: str | None


class MediaDownloader:
    """`client` should come from `guard.guarded_client` (checked at connect); `resolve` and
    `allowed` drive the early check made before each request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        folder: Path,
        max_bytes: int,
        resolve: Resolver = system_resolver,
        *,
        allowed: AddressPolicy = is_public,
        deadline: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        self._client = client
        self._folder = folder
        self._max_bytes = max_bytes
        self._resolve = resolve
        self._allowed = allowed
        self._deadline = deadline

    @property
    def deadline(self) -> float:
        return self._deadline

    async def aclose(self) -> None:
        await self._client.aclose()

    async def download(
        self, url: str, name_hint: str | None = None, headers: dict[str, str] | None = None
    ) -> StoredMedia:
        """`headers` (the provider's credentials) go to the first URL's host only, and never
        over http when that URL was https. The whole download, redirects included, must end
        within the deadline."""
        try:
            with anyio.fail_after(self._deadline):
                return await self._follow(url, name_hint, headers)
        except TimeoutError:
            raise DownloadFailed(f"not done within {self._deadline:g} s", transient=True) from None
        except httpx.TransportError as exc:
            raise DownloadFailed(f"network error ({type(exc).__name__})", transient=True) from None
        except RefusedAddress as exc:
            raise DownloadFailed(str(exc), transient=isinstance(exc, Unresolvable)) from None

    async def _follow(
        self, url: str, name_hint: str | None, headers: dict[str, str] | None
    ) -> StoredMedia:
        first = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(url, self._resolve, self._allowed)
            sent = headers if _credentials_may_go_to(urlsplit(url), first) else None
            async with self._client.stream(
                "GET", url, headers=sent, follow_redirects=False
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                _check_status(response)
                return await self._store(response, url, name_hint)
        raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")

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
            # Shielded: when the deadline cancelled us, an unshielded await would be cancelled too.
            with anyio.CancelScope(shield=True):
                await path.unlink(missing_ok=True)
            raise
        return StoredMedia(Path(path), size, mime)


def _credentials_may_go_to(target: SplitResult, first: SplitResult) -> bool:
    downgraded = first.scheme == "https" and target.scheme != "https"
    return target.hostname == first.hostname and not downgraded


def _check_status(response: httpx.Response) -> None:
    if response.status_code == 200:
        return
    transient = response.status_code >= 500 or response.status_code in _TRANSIENT_STATUSES
    raise DownloadFailed(f"the media server answered {response.status_code}", transient=transient)


def _file_name(url: str, hint: str | None, mime: str | None) -> str:
    base = _UNSAFE.sub("_", hint or Path(urlsplit(url).path).name or "media").strip("._")[:80]
    if "." not in base and mime:
        base += mimetypes.guess_extension(mime) or ""
    return f"{uuid.uuid4().hex[:12]}-{base or 'media'}"
