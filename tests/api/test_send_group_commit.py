"""Group commit of the driver lane's writes (`db/driver.GroupWriter`, PostgreSQL only): sends
waiting together are stored in one transaction, each answered only once it is committed, and
a write PostgreSQL refuses fails alone.

To put chosen sends in one batch, the test holds a row lock on one conversation: two sends to
it take both write slots and wait on the lock, so the sends that follow queue up, and go out
together once the lock is released."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from textbridge.db.driver import WRITES_IN_FLIGHT, Combined, DriverPool, GroupWriter, _Call
from textbridge.messaging import outbound, repository
from textbridge.realtime.listener import asyncpg_dsn

from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

pytestmark = pytest.mark.postgresql_only

SEND = "/api/v1/messages"
OTHERS = [f"+1415555020{index}" for index in range(6)]


@contextmanager
def _conversation_locked(url: str, recipient: str) -> Iterator[None]:
    """A transaction holding the row lock of `recipient`'s conversation, until the block ends."""
    lock = (
        "SELECT 1 FROM conversations AS c JOIN contacts AS k ON k.id = c.contact_id"
        " WHERE k.address = $1 FOR UPDATE"
    )
    with held_transaction(url, (lock,), recipient):
        yield


def _writer(textbridge: Textbridge) -> GroupWriter:
    driver = textbridge.runtime.driver
    assert driver is not None
    return driver.group_writer(repository.STORE_OUTBOUND_SQL, outbound.STORE_BATCH)


def _post(textbridge: Textbridge, body: dict[str, Any], key: str) -> httpx.Response:
    with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
        return client.post(SEND, json=body, headers={"Idempotency-Key": key}, timeout=60)


def _in_one_batch(
    textbridge: Textbridge, requests: list[tuple[dict[str, Any], str]], reaching_the_writer: int
) -> list[httpx.Response]:
    """Post `requests` at once while both write slots are taken, so that those that reach the
    writer wait there together; check none is answered before its batch is committed."""
    writer = _writer(textbridge)
    with ThreadPoolExecutor(len(requests) + WRITES_IN_FLIGHT) as pool:
        with _conversation_locked(textbridge.database.url, CONTACT):
            blockers = [
                pool.submit(_post, textbridge, {"to": CONTACT, "text": "blocked"}, f"b{n}")
                for n in range(WRITES_IN_FLIGHT)
            ]
            wait_until(lambda: writer.in_flight == WRITES_IN_FLIGHT, timeout=30)
            answers = [pool.submit(_post, textbridge, body, key) for body, key in requests]
            wait_until(lambda: writer.waiting == reaching_the_writer, timeout=30)
            waiting: list[Future[httpx.Response]] = [*blockers, *answers]
            answered = [a.result() for a in answers if a.done()]
            assert all(a.status_code != 202 for a in answered), [a.text for a in answered]
            assert not any(b.done() for b in blockers)
            assert writer.in_flight == WRITES_IN_FLIGHT
        assert [b.result().status_code for b in blockers] == [202] * WRITES_IN_FLIGHT
        assert writer.largest_batch >= reaching_the_writer
        return [answer.result() for answer in waiting[WRITES_IN_FLIGHT:]]


def _first_messages(textbridge: Textbridge, *recipients: str) -> str:
    """The sender's number; later sends find the conversation: the driver lane."""
    return [textbridge.send(to=to, text="first") for to in recipients][-1]["from"]


def test_sends_waiting_together_are_stored_together_and_answered_after_the_commit(
    textbridge: Textbridge,
) -> None:
    _first_messages(textbridge, CONTACT, *OTHERS)
    requests = [({"to": to, "text": f"batched {to}"}, f"k-{to}") for to in OTHERS]
    answers = _in_one_batch(textbridge, requests, reaching_the_writer=len(OTHERS))
    assert [a.status_code for a in answers] == [202] * len(OTHERS), [a.text for a in answers]
    for answer, to in zip(answers, OTHERS, strict=True):
        assert textbridge.message(answer.json()["id"])["text"] == f"batched {to}"
    assert _writer(textbridge).combined_batches == 1  # the batch was one statement
    stored = 1 + len(OTHERS) + WRITES_IN_FLIGHT + len(OTHERS)  # firsts, blockers, batch
    assert textbridge.database.scalar("SELECT count(*) FROM messages") == stored
    created = "SELECT count(*) FROM live_events WHERE type = 'message.created'"
    assert textbridge.database.scalar(created) == stored


def test_one_key_twice_in_a_batch_stores_one_message_and_the_others_are_stored(
    textbridge: Textbridge,
) -> None:
    """The second write of a key is a unique violation: the batch is refused as a whole,
    written again one by one, and the loser answers as a retry does (the stored message, or
    409 for another body)."""
    _first_messages(textbridge, CONTACT, *OTHERS[:4])
    same = {"to": OTHERS[0], "text": "same body"}
    requests = [
        (same, "twice"),
        ({"to": OTHERS[1], "text": "alone"}, "alone"),
        (same, "twice"),
        ({"to": OTHERS[2], "text": "one body"}, "other-bodies"),
        ({"to": OTHERS[3], "text": "another body"}, "other-bodies"),
    ]
    answers = _in_one_batch(textbridge, requests, reaching_the_writer=len(requests))
    codes = [a.status_code for a in answers]
    assert codes[:3] == [202] * 3, [a.text for a in answers]
    assert answers[0].json()["id"] == answers[2].json()["id"]
    assert sorted(codes[3:]) == [202, 409], [a.text for a in answers]
    bodies = textbridge.database.rows(
        "SELECT body FROM messages WHERE body <> 'first' AND body <> 'blocked' ORDER BY body"
    )
    stored = [row[0] for row in bodies]
    assert stored.count("same body") == 1
    assert "alone" in stored
    assert len(stored) == 3  # same body, alone, and one of the two other bodies


def test_an_opt_out_and_bad_input_are_refused_before_the_batch(textbridge: Textbridge) -> None:
    sender = _first_messages(textbridge, CONTACT, *OTHERS[:2])
    opt_out = {"action": "opt_out", "scope": sender}
    recorded = textbridge.api.post(f"/api/v1/contacts/{OTHERS[0]}/consent", json=opt_out)
    assert recorded.status_code == 201, recorded.text
    requests = [
        ({"to": OTHERS[0], "text": "to the opted out"}, "stopped"),
        ({"to": OTHERS[1], "text": "nul \x00 inside"}, "nul"),
        ({"to": OTHERS[1], "text": "fine"}, "fine"),
    ]
    answers = _in_one_batch(textbridge, requests, reaching_the_writer=1)
    assert [a.status_code for a in answers] == [409, 422, 202], [a.text for a in answers]
    assert answers[0].json()["error"]["code"] == "recipient_opted_out"
    to_the_opted_out = "SELECT count(*) FROM messages WHERE to_address = :to"
    assert textbridge.database.scalar(to_the_opted_out, to=OTHERS[0]) == 1  # "first" only


async def test_a_write_postgresql_refuses_fails_alone_in_its_batch(
    textbridge: Textbridge,
) -> None:
    """Directly on the writer (a NUL cannot pass the API's validation): a NUL and a taken
    unique key in one batch fail with their own errors; the other writes are stored."""
    dsn = asyncpg_dsn(textbridge.database.url)
    setup = await asyncpg.connect(dsn)
    await setup.execute("CREATE TABLE group_writer_probe (key text PRIMARY KEY, value text)")
    driver = DriverPool(textbridge.database.url, 4)
    writer = driver.group_writer("INSERT INTO group_writer_probe VALUES ($1, $2)")
    try:
        async with setup.transaction():
            await setup.execute("LOCK TABLE group_writer_probe")
            blockers = [asyncio.create_task(writer.execute((f"b{n}", "x"))) for n in range(2)]
            await _until(lambda: writer.in_flight == WRITES_IN_FLIGHT)
            rows = [("a", "ok"), ("nul", "x\x00y"), ("b", "ok"), ("a", "again"), ("c", "ok")]
            writes = [asyncio.create_task(writer.execute(row)) for row in rows]
            await _until(lambda: writer.waiting == len(rows))
        await asyncio.gather(*blockers)
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        assert writer.largest_batch == len(rows)
        assert [outcomes[n] for n in (0, 2, 4)] == [None] * 3
        assert isinstance(outcomes[1], asyncpg.CharacterNotInRepertoireError)
        assert isinstance(outcomes[3], asyncpg.UniqueViolationError)
        stored = await setup.fetch("SELECT key, value FROM group_writer_probe ORDER BY key")
        assert [tuple(row) for row in stored] == [
            ("a", "ok"),
            ("b", "ok"),
            ("b0", "x"),
            ("b1", "x"),
            ("c", "ok"),
        ]
    finally:
        await driver.aclose()
        await setup.execute("DROP TABLE group_writer_probe")
        await setup.close()


async def _until(condition: Any) -> None:
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.01)


def test_a_batch_in_one_statement_stores_sends_to_one_conversation_in_turn(
    textbridge: Textbridge,
) -> None:
    """A batch is one statement (`repository.STORE_OUTBOUND_BATCH_SQL`) per round of distinct
    conversations: two sends to one person go in two rounds of one transaction, each with its
    events and the conversation showing the later; an MMS keeps its attachments."""
    _first_messages(textbridge, CONTACT, *OTHERS[:2])
    media = [{"url": "https://example.com/a.png"}, {"url": "https://example.com/b.jpg"}]
    requests = [
        ({"to": OTHERS[0], "text": "one"}, "one"),
        ({"to": OTHERS[1], "channel": "mms", "text": "pictures", "media": media}, "mms"),
        ({"to": OTHERS[0], "text": "two"}, "two"),
    ]
    answers = _in_one_batch(textbridge, requests, reaching_the_writer=len(requests))
    assert [a.status_code for a in answers] == [202] * len(requests), [a.text for a in answers]
    database = textbridge.database
    for answer in answers:
        data = database.scalar(
            "SELECT count(*) FROM live_events WHERE type = 'message.created'"
            " AND data ->> 'id' = :id",
            id=answer.json()["id"],
        )
        assert data == 1
    last = database.rows(
        "SELECT c.last_message_preview, c.last_message_at = max(m.created_at)"
        " FROM conversations c JOIN contacts k ON k.id = c.contact_id"
        " JOIN messages m ON m.conversation_id = c.id"
        " WHERE k.address = :to GROUP BY c.id",
        to=OTHERS[0],
    )
    latest = max(answers[0], answers[2], key=lambda a: a.json()["created_at"]).json()["text"]
    assert [tuple(row) for row in last] == [(latest, True)]
    stored = "SELECT count(*) FROM attachments WHERE message_id = CAST(:id AS uuid)"
    assert database.scalar(stored, id=answers[1].json()["id"]) == len(media)
    updates = "SELECT count(*) FROM live_events WHERE type = 'conversation.updated'"
    assert database.scalar(updates) == 3 + WRITES_IN_FLIGHT + len(requests)
    assert _writer(textbridge).combined_batches == 1


def test_a_send_queued_before_an_erasure_never_lands_in_the_erased_conversation(
    textbridge: Textbridge,
) -> None:
    """A send read before an erasure and written after it, once the person has written START
    (a new contact with the same number): the write checks the conversation's own contact,
    not any contact with the address, so it is refused there and `send` decides again: the
    message goes to the new contact's conversation, never into the erased one."""
    _first_messages(textbridge, CONTACT, OTHERS[0])
    writer, database = _writer(textbridge), textbridge.database
    of_them = (
        "SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id"
        " WHERE k.address = :address"
    )
    erased_conversation = database.scalar(of_them, address=OTHERS[0])
    with ThreadPoolExecutor(1 + WRITES_IN_FLIGHT) as pool:
        with _conversation_locked(database.url, CONTACT):
            for n in range(WRITES_IN_FLIGHT):
                pool.submit(_post, textbridge, {"to": CONTACT, "text": "blocked"}, f"b{n}")
            wait_until(lambda: writer.in_flight == WRITES_IN_FLIGHT, timeout=30)
            stale = pool.submit(_post, textbridge, {"to": OTHERS[0], "text": "stale"}, "stale")
            wait_until(lambda: writer.waiting == 1, timeout=30)
            erased = textbridge.api.delete(f"/api/v1/contacts/{OTHERS[0]}")
            assert erased.status_code == 200, erased.text
            # An erasure opts the person out; they write START: a new contact, opted in.
            textbridge.inbound("START", sender=OTHERS[0])
            again = "SELECT count(*) FROM messages WHERE body = 'START'"
            wait_until(lambda: database.scalar(again) == 1, timeout=30)
        answer = stale.result()
    assert answer.status_code == 202, answer.text
    assert answer.json()["conversation_id"] != str(erased_conversation)
    assert answer.json()["conversation_id"] == str(database.scalar(of_them, address=OTHERS[0]))
    in_erased = "SELECT count(*) FROM messages WHERE conversation_id = :id AND body = 'stale'"
    assert database.scalar(in_erased, id=erased_conversation) == 0


async def test_a_combined_batch_puts_each_key_in_a_later_round_than_its_previous_call() -> None:
    combined = Combined("", lambda batch: [], lambda args: args[0])
    loop = asyncio.get_running_loop()
    batch = [_Call((key,), loop.create_future()) for key in "abaca"]
    assert combined.rounds(batch) == [[0, 1, 3], [2], [4]]
