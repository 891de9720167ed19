"""Property: any order and any duplication of a message's status callbacks ends in the same
final status, with one event row per distinct event (real database, real services)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import outbound, service, status
from textbridge.messaging.outbound import SendRequest
from textbridge.models import Message, MessageEvent, Sender
from textbridge.providers.base import Provider, StatusUpdate
from textbridge.providers.plivo import PlivoProvider
from textbridge.providers.plivo.vocabulary import STATUS_MAP
from textbridge.realtime.bus import EventBus

from ..support.database import Database

PLIVO_EVENTS = [
    ("queued", None),
    ("sent", None),
    ("delivered", None),
    ("undelivered", "300"),
    ("failed", "200"),
    ("rejected", "40"),
    ("read", None),
]

event_sets = st.lists(st.sampled_from(PLIVO_EVENTS), min_size=1, max_size=7, unique=True)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[tuple[str, str | None]], list[int]]:
    """A set of distinct events, and an arrival order with duplicates (indexes into it)."""
    events = draw(event_sets)
    extra = draw(st.lists(st.integers(0, len(events) - 1), max_size=8))
    order = draw(st.permutations(list(range(len(events))) + extra))
    return events, order


def _expected(events: list[tuple[str, str | None]]) -> str:
    ours = [STATUS_MAP[name] for name, _ in events] + [status.SUBMITTED]
    return max(ours, key=lambda s: status.RANKS[s])


async def _submitted_message(uow: UnitOfWork, providers: dict[str, Provider]) -> Message:
    message = await outbound.send(uow, SendRequest(to="+14155550199", text="hi"), None, providers)
    message.status = status.SUBMITTED
    message.provider_message_id = str(uuid.uuid4())
    await uow.commit()
    return message


async def _apply_all(
    database_url: str, events: list[tuple[str, str | None]], order: list[int]
) -> tuple[str, int]:
    engine = create_engine(database_url)
    uow = UnitOfWork(create_session_factory(engine), EventBus())
    plivo = PlivoProvider("MAXXXXXXXXXXXXXXXXXX", ["token"], "http://unused", httpx.AsyncClient())
    try:
        async with uow:
            if await uow.session.scalar(select(Sender)) is None:
                uow.session.add(Sender(provider="plivo", channel="sms", address="+14155550100"))
                await uow.commit()
            message = await _submitted_message(uow, {"plivo": plivo})
            for index in order:
                name, error = events[index]
                update = StatusUpdate("plivo", message.provider_message_id or "", name, error)
                await service.apply_status(uow, update, STATUS_MAP[name])
                await uow.commit()
            await uow.session.refresh(message)
            provider_events = await uow.session.scalar(
                select(func.count())
                .select_from(MessageEvent)
                .where(MessageEvent.message_id == message.id, MessageEvent.source == "plivo")
            )
            return message.status, int(provider_events or 0)
    finally:
        await plivo.aclose()
        await engine.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(deliveries())
def test_any_order_and_duplication_ends_in_the_same_status(
    database: Database,
    tmp_path: Path,
    delivery: tuple[list[tuple[str, str | None]], list[int]],
) -> None:
    events, order = delivery
    # A fresh database per example: a failure with a provider's block code (Plivo 200) records
    # an opt-out, which would refuse the next example's send to the same number.
    url = database.fresh_url(tmp_path)
    final, stored = asyncio.run(_apply_all(url, events, order))
    assert final == _expected(events)
    assert stored == len(events)
