"""Both of the applier's paths handle keywords alike: one event at a time
(`service.apply_inbound`, used when a batch fails) and in bulk (`service.apply_in_bulk`): the
same ledger record and the same queued reply, marked so that dispatch lets it through."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from textbridge.compliance import consent
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import service
from textbridge.models import ConsentRecord, Message
from textbridge.providers.base import InboundMessage
from textbridge.realtime.bus import EventBus

from ..support.database import Database, run_sync

US, CONTACT = "+14155550100", "+14155550199"


def stop(text: str = "stop") -> InboundMessage:
    return InboundMessage("plivo", str(uuid.uuid4()), "sms", CONTACT, US, text)


async def apply(url: str, bulk: bool) -> tuple[list[Any], list[Message]]:
    engine = create_engine(url)
    try:
        async with UnitOfWork(create_session_factory(engine), EventBus()) as uow:
            if bulk:
                assert await service.apply_in_bulk(uow, [[stop()], [stop("hello")]]) == [None, None]
            else:
                await service.apply_inbound(uow, stop())
                await service.apply_inbound(uow, stop("hello"))
            await uow.commit()
            records = list(
                await uow.session.execute(
                    select(ConsentRecord.action, ConsentRecord.scope, ConsentRecord.source)
                )
            )
            replies = list(
                await uow.session.scalars(select(Message).where(Message.direction == "outbound"))
            )
            return records, replies
    finally:
        await engine.dispose()


@pytest.mark.parametrize("bulk", [False, True], ids=["one-by-one", "bulk"])
def test_both_paths_record_and_reply(database: Database, tmp_path: Path, bulk: bool) -> None:
    records, replies = run_sync(apply(database.fresh_url(tmp_path), bulk))
    assert [tuple(r) for r in records] == [("opt_out", US, "keyword")]
    (reply,) = replies
    assert (reply.from_address, reply.to_address, reply.status) == (US, CONTACT, "accepted")
    assert consent.is_consent_reply(reply)
