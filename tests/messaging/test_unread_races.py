"""`unread_count` when replies to one conversation are applied at the same moment (PostgreSQL
only: on SQLite each transaction holds the write lock from its first statement, so two
appliers never overlap).

The running `serve`'s journal applier and a second applier (its own engine, in a thread, as
another worker process would be) each take a reply of the same conversation while a test
transaction holds the conversation's row; both wait; it commits; both go on. Every reply must
be counted. The same for a mark-read committed while a reply waits."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from textbridge.db.engine import create_engine, create_session_factory
from textbridge.realtime.bus import EventBus
from textbridge.webhooks.applier import JournalApplier

from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import CONTACT, Textbridge

pytestmark = pytest.mark.postgresql_only

THEIR_CONVERSATION = (
    "SELECT c.id FROM conversations AS c JOIN contacts AS k ON k.id = c.contact_id"
    " WHERE k.address = $1"
)
HOLD_THE_CONVERSATION = (f"{THEIR_CONVERSATION} FOR UPDATE OF c",)
# A mark-read in progress (`api.conversations.mark_read` locks the row, then writes 0).
MARK_READ = (
    "UPDATE conversations SET unread_count = 0"
    " WHERE contact_id = (SELECT id FROM contacts WHERE address = $1)",
)


def _unread(textbridge: Textbridge) -> int:
    return int(
        textbridge.database.scalar(
            "SELECT unread_count FROM conversations AS c JOIN contacts AS k"
            " ON k.id = c.contact_id WHERE k.address = :address",
            address=CONTACT,
        )
    )


def _received(textbridge: Textbridge) -> int:
    return int(
        textbridge.database.scalar(
            "SELECT count(*) FROM messages WHERE direction = 'inbound' AND from_address = :a",
            a=CONTACT,
        )
    )


def _appliers_waiting(textbridge: Textbridge) -> int:
    """Sessions of this test's database waiting on a lock (the held transaction waits on
    nothing)."""
    return int(
        textbridge.database.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        )
    )


def _apply_due_elsewhere(textbridge: Textbridge, stop: threading.Event | None = None) -> int:
    """Run another applier's passes (once, or until `stop`) on an engine of its own; returns
    how many entries it looked at."""

    async def run() -> int:
        engine = create_engine(textbridge.settings.database_url)
        applier = JournalApplier(
            create_session_factory(engine), EventBus(durable=True), textbridge.runtime.providers
        )
        seen = 0
        try:
            seen += await applier.apply_due()
            while stop is not None and not stop.is_set():
                looked_at = await applier.apply_due()
                seen += looked_at
                if not looked_at:  # as its polling loop would, between empty passes
                    await asyncio.sleep(0.005)
        finally:
            await engine.dispose()
        return seen

    return asyncio.run(run())


def _first_reply(textbridge: Textbridge) -> None:
    textbridge.inbound("the first reply")
    wait_until(lambda: _unread(textbridge) == 1 if _received(textbridge) else None, timeout=30)


def test_two_appliers_applying_replies_of_one_conversation_count_both(
    textbridge: Textbridge,
) -> None:
    _first_reply(textbridge)
    with (
        ThreadPoolExecutor(1) as pool,
        held_transaction(textbridge.database.url, HOLD_THE_CONVERSATION, CONTACT) as release,
    ):
        textbridge.inbound("taken by the serve's applier")
        wait_until(lambda: _appliers_waiting(textbridge) == 1, timeout=30)
        textbridge.inbound("taken by another applier")
        elsewhere: Future[int] = pool.submit(_apply_due_elsewhere, textbridge)
        wait_until(lambda: _appliers_waiting(textbridge) == 2, timeout=30)
        release.set()
        assert elsewhere.result() == 1
    wait_until(lambda: _received(textbridge) == 3, timeout=30)
    wait_until(lambda: _appliers_waiting(textbridge) == 0, timeout=30)
    assert _unread(textbridge) == 3


def test_a_mark_read_committed_while_a_reply_waits_leaves_that_reply_unread(
    textbridge: Textbridge,
) -> None:
    _first_reply(textbridge)
    with held_transaction(textbridge.database.url, MARK_READ, CONTACT) as release:
        textbridge.inbound("arriving as it is read")
        wait_until(lambda: _appliers_waiting(textbridge) == 1, timeout=30)
        release.set()
    wait_until(lambda: _received(textbridge) == 2, timeout=30)
    wait_until(lambda: _appliers_waiting(textbridge) == 0, timeout=30)
    assert _unread(textbridge) == 1


def test_many_replies_applied_by_three_appliers_are_all_counted(textbridge: Textbridge) -> None:
    """Not an interleaving forced once, but many: the serve's applier and two others apply
    40 replies of one conversation as they arrive."""
    _first_reply(textbridge)
    replies = 40
    stop = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        others = [pool.submit(_apply_due_elsewhere, textbridge, stop) for _ in range(2)]
        try:
            for number in range(replies):
                textbridge.inbound(f"reply {number}")
            wait_until(lambda: _received(textbridge) == replies + 1, timeout=60)
        finally:
            stop.set()
        for other in others:
            other.result()
    assert _unread(textbridge) == replies + 1
