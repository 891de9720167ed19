"""The media fetcher's queue on a real database: retries with backoff, giving up, several
downloads at once. The media servers are an httpx.MockTransport; passes are run by hand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from textbridge.db.base import utcnow
from textbridge.media.downloader import MediaDownloader
from textbridge.media.fetcher import MediaFetcher
from textbridge.messaging import service
from textbridge.models import Attachment
from textbridge.providers.base import InboundMessage, Media
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.textbridge import CONTACT, settings_for
from .test_download import public_resolver

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
async def runtime(database: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = settings_for(database.fresh_url(tmp_path), "http://textbridge.test")
    runtime = build_runtime(settings, httpx.MockTransport(lambda _: httpx.Response(500)))
    yield runtime
    await runtime.aclose()


def fetcher(
    runtime: Runtime,
    folder: Path,
    handler: Callable[[httpx.Request], Any],
    *,
    concurrency: int = 4,
    max_attempts: int = 5,
    retry_base_seconds: float = 0.0,
) -> MediaFetcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    downloader = MediaDownloader(client, folder, 1000, resolve=public_resolver)
    return MediaFetcher(
        runtime.sessions,
        downloader,
        runtime.providers,
        concurrency=concurrency,
        max_attempts=max_attempts,
        retry_base_seconds=retry_base_seconds,
    )


async def receive(runtime: Runtime, *urls: str) -> list[uuid.UUID]:
    inbound = InboundMessage(
        provider="plivo",
        provider_message_id=str(uuid.uuid4()),
        channel="mms",
        from_address=CONTACT,
        to_address="+14155550100",
        text="",
        content_type="media",
        media=tuple(Media(url) for url in urls),
    )
    async with runtime.unit_of_work() as uow:
        message = await service.apply_inbound(uow, inbound)
        await uow.commit()
        return [attachment.id for attachment in message.attachments]


async def load(runtime: Runtime, attachment_id: uuid.UUID) -> Attachment:
    async with runtime.sessions() as session:
        attachment = await session.get(Attachment, attachment_id)
        assert attachment is not None
        return attachment


def answers(*statuses: int) -> Handler:
    """Answer each request with the next status, then 200 with the image."""
    queue = list(statuses)

    def handler(_: httpx.Request) -> httpx.Response:
        status = queue.pop(0) if queue else 200
        return httpx.Response(status, content=b"IMAGE" if status == 200 else b"")

    return handler


async def test_transient_failures_are_retried_until_stored(
    runtime: Runtime, tmp_path: Path
) -> None:
    [attachment_id] = await receive(runtime, "https://cdn.example.com/a.png")
    media = fetcher(runtime, tmp_path, answers(503, 504), retry_base_seconds=0)
    for _ in range(3):
        assert await media.fetch_due() == 1
    attachment = await load(runtime, attachment_id)
    assert (attachment.download_state, attachment.download_attempts) == ("stored", 3)
    assert attachment.download_error is None
    assert Path(str(attachment.local_path)).read_bytes() == b"IMAGE"
    assert await media.fetch_due() == 0


async def test_a_retry_waits_for_its_backoff(runtime: Runtime, tmp_path: Path) -> None:
    [attachment_id] = await receive(runtime, "https://cdn.example.com/a.png")
    media = fetcher(runtime, tmp_path, answers(503), retry_base_seconds=3600)
    assert await media.fetch_due() == 1
    assert await media.fetch_due() == 0, "not due again before its backoff"
    attachment = await load(runtime, attachment_id)
    assert attachment.download_state is None
    assert "503" in str(attachment.download_error)
    assert attachment.download_next_at is not None
    assert attachment.download_next_at > utcnow() + timedelta(minutes=5)  # capped at 10


async def test_gives_up_after_the_last_attempt(runtime: Runtime, tmp_path: Path) -> None:
    [attachment_id] = await receive(runtime, "https://cdn.example.com/a.png")
    media = fetcher(
        runtime, tmp_path, answers(500, 500, 500, 500), retry_base_seconds=0, max_attempts=3
    )
    for _ in range(3):
        assert await media.fetch_due() == 1
    assert await media.fetch_due() == 0
    attachment = await load(runtime, attachment_id)
    assert (attachment.download_state, attachment.download_attempts) == ("failed", 3)
    assert "500" in str(attachment.download_error)


async def test_a_permanent_failure_is_not_retried(runtime: Runtime, tmp_path: Path) -> None:
    [attachment_id] = await receive(runtime, "https://cdn.example.com/a.png")
    media = fetcher(runtime, tmp_path, answers(404), retry_base_seconds=0)
    assert await media.fetch_due() == 1
    assert await media.fetch_due() == 0
    attachment = await load(runtime, attachment_id)
    assert (attachment.download_state, attachment.download_attempts) == ("failed", 1)


async def test_an_interrupted_download_is_taken_again_after_its_lease(
    runtime: Runtime, tmp_path: Path
) -> None:
    """A crash leaves the attachment claimed (`download_next_at` one lease ahead): it is due
    again once the lease is over, and fails for good once its attempts are spent."""
    first, spent = await receive(
        runtime, "https://cdn.example.com/a.png", "https://cdn.example.com/b.png"
    )
    expired = utcnow() - timedelta(seconds=1)
    async with runtime.sessions() as session:
        await session.execute(
            update(Attachment)
            .where(Attachment.id == first)
            .values(download_attempts=1, download_next_at=expired)
        )
        await session.execute(
            update(Attachment)
            .where(Attachment.id == spent)
            .values(download_attempts=3, download_next_at=expired)
        )
        await session.commit()
    media = fetcher(runtime, tmp_path, answers(), max_attempts=3)
    assert await media.fetch_due() == 1
    assert (await load(runtime, first)).download_state == "stored"
    assert (await load(runtime, spent)).download_state == "failed"


async def test_several_downloads_run_at_once(runtime: Runtime, tmp_path: Path) -> None:
    """Each response waits until four requests are in flight: one at a time would never end."""
    ids = await receive(runtime, *(f"https://cdn.example.com/{n}.png" for n in range(4)))
    in_flight: list[str] = []
    all_started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight.append(str(request.url))
        if len(in_flight) == 4:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=60)
        return httpx.Response(200, content=b"IMAGE")

    media = fetcher(runtime, tmp_path, handler, concurrency=4)
    assert await media.fetch_due() == 4
    states = [(await load(runtime, attachment_id)).download_state for attachment_id in ids]
    assert states == ["stored"] * 4
