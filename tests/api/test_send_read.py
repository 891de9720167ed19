"""The API send's read on the driver (`repository.CONVERSATION_FOR_SEND_SQL`, PostgreSQL only)
finds the message an idempotency key already stored, through `message_keys`: a retry is
answered with the original without trying a write that would clash."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg  # type: ignore[import-untyped]
import pytest

from textbridge.messaging import repository
from textbridge.realtime.listener import asyncpg_dsn

from ..support.textbridge import CONTACT, Textbridge

pytestmark = pytest.mark.postgresql_only


async def _read(url: str, stored_key: str | None) -> uuid.UUID | None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await connection.fetchrow(
            repository.CONVERSATION_FOR_SEND_SQL,
            CONTACT,
            stored_key,
            "sms",
            ["plivo", "vonage"],
            None,
            None,
            "no-such-hash",
        )
    finally:
        await connection.close()
    assert row is not None, "the conversation of the first send"
    found: uuid.UUID | None = row[-1]
    return found


def test_the_read_finds_the_message_of_a_stored_key_and_none_for_others(
    textbridge: Textbridge,
) -> None:
    sent = textbridge.api.post(
        "/api/v1/messages", json={"to": CONTACT, "text": "once"}, headers={"Idempotency-Key": "k"}
    )
    assert sent.status_code == 202, sent.text
    message = sent.json()["id"]
    stored_key = textbridge.database.scalar(
        "SELECT idempotency_key FROM messages WHERE id = CAST(:id AS uuid)", id=message
    )
    url = textbridge.database.url
    assert asyncio.run(_read(url, stored_key)) == uuid.UUID(message)
    assert asyncio.run(_read(url, f"{stored_key}-other")) is None
    assert asyncio.run(_read(url, None)) is None
