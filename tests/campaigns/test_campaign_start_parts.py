"""A large campaign's start on PostgreSQL: its conversations and messages are written by two
connections at once, each for half of the recipients (`campaigns.bulk._in_parts`), and the
start's own transaction commits the campaign's state after them. What must hold: every
recipient gets exactly one message; a part that cannot be written is written by the start
itself; a start cut short after its parts committed can be started again without writing
any message twice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import literal

from textbridge.campaigns import bulk
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import Campaign

from ..support.database import run_sync
from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import Textbridge

pytestmark = pytest.mark.postgresql_only

PEOPLE: list[dict[str, Any]] = [
    {"to": f"+1415555{400 + i:04d}", "variables": {"name": f"P{i}"}} for i in range(12)
]
LATER = (datetime.now(UTC) + timedelta(days=2)).isoformat()  # nothing leaves while we look


@pytest.fixture(autouse=True)
def _patient_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded machine may take more than a second to open a connection: these tests are
    about the parts, not about the start giving them up."""
    monkeypatch.setattr(bulk, "CHECKOUT_SECONDS", 30.0)


def _draft(textbridge: Textbridge, **extra: Any) -> str:
    """A draft of PEOPLE whose staged rows fall in both parts: message ids are random, so
    the test puts the odd rows in the lower half and the even ones in the upper half."""
    body = {"name": "parts", "text": "Hi {name}", "quiet_hours": False, "recipients": PEOPLE}
    created = textbridge.api.post("/api/v1/campaigns", json={**body, **extra})
    assert created.status_code == 201, created.text
    campaign = str(created.json()["campaign"]["id"])
    textbridge.database.rows(
        "UPDATE campaign_recipients SET message_id = CAST("
        " CASE WHEN row % 2 = 1 THEN '0' ELSE '8' END || substr(CAST(message_id AS text), 2)"
        " AS uuid) WHERE campaign_id = CAST(:c AS uuid)",
        c=campaign,
    )
    assert _parts_of(textbridge, campaign) == 2
    return campaign


def _start(textbridge: Textbridge, campaign: str) -> dict[str, Any]:
    started = textbridge.api.post(f"/api/v1/campaigns/{campaign}/start")
    assert started.status_code == 200, started.text
    result: dict[str, Any] = started.json()["campaign"]
    return result


def _messages_by_recipient(textbridge: Textbridge, campaign: str) -> dict[str, list[str]]:
    rows = textbridge.database.rows(
        "SELECT to_address, CAST(id AS text) FROM messages WHERE campaign_id = CAST(:c AS uuid)",
        c=campaign,
    )
    found: dict[str, list[str]] = {}
    for to, message_id in rows:
        found.setdefault(to, []).append(message_id)
    return found


def _transactions_that_wrote(textbridge: Textbridge, campaign: str) -> int:
    query = "SELECT count(DISTINCT xmin::text) FROM messages WHERE campaign_id = CAST(:c AS uuid)"
    return int(textbridge.database.scalar(query, c=campaign))


def _parts_of(textbridge: Textbridge, campaign: str) -> int:
    """How many of the parts hold one of its staged rows at least (the split is by message id:
    the lower half of the id space, the upper half)."""
    query = (
        "SELECT count(DISTINCT message_id >= CAST('80000000-0000-0000-0000-000000000000' AS uuid))"
        " FROM campaign_recipients WHERE campaign_id = CAST(:c AS uuid)"
    )
    return int(textbridge.database.scalar(query, c=campaign))


@pytest.mark.parametrize("size", ["small", "large"])
def test_each_recipient_gets_one_message_written_in_parts_when_large(
    textbridge: Textbridge, size: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if size == "large":
        monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    campaign = _draft(textbridge, send_at=LATER)
    assert _start(textbridge, campaign)["state"] == "running"
    found = _messages_by_recipient(textbridge, campaign)
    assert sorted(found) == sorted(p["to"] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in found.values())
    assert _transactions_that_wrote(textbridge, campaign) == (2 if size == "large" else 1)


def test_a_large_campaign_created_and_started_in_one_request(
    textbridge: Textbridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its recipients and messages are written in one transaction (no parts: a start cut
    short after its parts would leave the caller a campaign it has no id of)."""
    monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    body = {"name": "at once", "text": "Hi {name}", "quiet_hours": False, "send_at": LATER}
    body.update(recipients=PEOPLE, start=True)
    created = textbridge.api.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]
    assert campaign["state"] == "running"
    found = _messages_by_recipient(textbridge, campaign["id"])
    assert sorted(found) == sorted(p["to"] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in found.values())
    assert _transactions_that_wrote(textbridge, campaign["id"]) == 1


@pytest.mark.parametrize("written", ["both parts", "one part"])
def test_a_start_cut_short_after_its_parts_is_started_again_without_doubles(
    textbridge: Textbridge, written: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts (or one of them) committed, the start's own transaction did not (the process
    died between): the campaign is a draft with messages. Started again (in parts too), it
    writes the missing ones and none twice."""
    monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    campaign = _draft(textbridge, send_at=LATER)
    parts = [0, 1] if written == "both parts" else [0]
    run_sync(_parts_only(textbridge.database.url, uuid.UUID(campaign), "scheduled", parts))
    before = _messages_by_recipient(textbridge, campaign)
    assert len(before) == (len(PEOPLE) if written == "both parts" else len(PEOPLE) // 2)
    assert textbridge.api.get(f"/api/v1/campaigns/{campaign}").json()["campaign"]["state"] == (
        "draft"
    )
    assert _start(textbridge, campaign)["state"] == "running"
    after = _messages_by_recipient(textbridge, campaign)
    assert sorted(after) == sorted(p["to"] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in after.values())
    assert {to: after[to] for to in before} == before


def test_a_cut_short_draft_cancelled_after_its_messages_left_reports_them_sent(
    textbridge: Textbridge,
) -> None:
    """The parts' messages are due and leave while the campaign is still a draft; cancelled
    then, its report counts them sent, not skipped."""
    campaign = _draft(textbridge)
    run_sync(_parts_only(textbridge.database.url, uuid.UUID(campaign), "accepted", [0, 1]))
    report = f"/api/v1/campaigns/{campaign}/report"
    wait_until(
        lambda: textbridge.api.get(report).json()["progress"]["delivered"] == len(PEOPLE), 30
    )
    cancelled = textbridge.api.post(f"/api/v1/campaigns/{campaign}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    final = textbridge.api.get(report).json()
    assert final["skipped"]["cancelled"] == 0
    assert final["progress"]["sent"] == len(PEOPLE)


def _part_of(textbridge: Textbridge, campaign: str, to: str) -> int:
    query = (
        "SELECT CAST(message_id >= CAST('80000000-0000-0000-0000-000000000000' AS uuid) AS int)"
        " FROM campaign_recipients WHERE campaign_id = CAST(:c AS uuid) AND to_address = :to"
    )
    return int(textbridge.database.scalar(query, c=campaign, to=to))


async def _parts_only(url: str, campaign_id: uuid.UUID, status: str, parts: list[int]) -> None:
    """A start's parts (those of `parts` that hold a staged row), committed; the start's own
    transaction rolled back."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            now = datetime.now(UTC)
            leaves = literal(campaign.send_at or now)
            for part in parts:
                async with sessions() as apart, apart.begin():
                    statement = bulk._written_together(
                        campaign, now, literal(status), leaves, False, [part]
                    )
                    await apart.execute(statement)
            await session.rollback()
    finally:
        await engine.dispose()


def test_a_part_that_waits_too_long_is_written_by_the_start_itself(
    textbridge: Textbridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One recipient's conversation is locked by another transaction: their part gives up
    after its lock timeout, the other part commits, and the start's own transaction writes
    the first part once the lock is released."""
    monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    monkeypatch.setattr(bulk, "PART_LOCK_TIMEOUT", "200ms")
    held = PEOPLE[0]["to"]
    known = textbridge.send(to=held, text="before the campaign")
    campaign = _draft(textbridge, send_at=LATER)
    _start_while_their_conversation_is_held(textbridge, campaign, held)
    found = _messages_by_recipient(textbridge, campaign)
    assert sorted(found) == sorted(p["to"] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in found.values())
    conversation = textbridge.database.scalar(
        "SELECT CAST(conversation_id AS text) FROM messages WHERE id = CAST(:id AS uuid)",
        id=known["id"],
    )
    kept = textbridge.database.scalar(
        "SELECT CAST(conversation_id AS text) FROM messages WHERE id = CAST(:id AS uuid)",
        id=found[held][0],
    )
    assert kept == conversation


def _start_while_their_conversation_is_held(
    textbridge: Textbridge, campaign: str, held: str
) -> None:
    """Start the campaign while another transaction holds `held`'s conversation, until the
    start's own transaction waits for it: the part that has them gave up, and the start
    writes that part's missing messages. Then let go; the start must succeed."""
    hold = (
        "SELECT 1 FROM conversations AS c JOIN contacts AS k ON k.id = c.contact_id"
        " WHERE k.address = $1 FOR UPDATE",
    )
    with (
        ThreadPoolExecutor(1) as pool,
        held_transaction(textbridge.database.url, hold, held) as release,
    ):
        starting = pool.submit(textbridge.api.post, f"/api/v1/campaigns/{campaign}/start")
        wait_until(lambda: starting.done() or bool(textbridge.database.rows(START_WAITING)), 30)
        assert not starting.done(), starting.result().text
        release.set()
        started = starting.result()
    assert started.status_code == 200, started.text


# The start's own transaction began before its parts: of the sessions holding the erasure
# lock (an advisory lock: the start and its parts), the one that began first.
START_WAITING = """
SELECT a.pid FROM pg_stat_activity AS a
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
  AND a.query ILIKE 'WITH conversation%'
  AND a.xact_start = (
    SELECT min(b.xact_start) FROM pg_stat_activity AS b
    JOIN pg_locks AS l ON l.pid = b.pid AND l.locktype = 'advisory' AND l.granted
    WHERE b.datname = current_database()
  )
"""


def test_a_restart_whose_part_waits_too_long_is_completed_by_the_start(
    textbridge: Textbridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start cut short after one part; started again, the other part's connection gives up
    on a locked conversation: the start finds that part's staged rows without a message and
    writes them, and leaves the first part's messages as they were."""
    monkeypatch.setattr(bulk, "ANALYZED_FROM", 1)
    monkeypatch.setattr(bulk, "PART_LOCK_TIMEOUT", "200ms")
    held = PEOPLE[0]["to"]
    textbridge.send(to=held, text="before the campaign")
    campaign = _draft(textbridge, send_at=LATER)
    other = 1 - _part_of(textbridge, campaign, held)
    run_sync(_parts_only(textbridge.database.url, uuid.UUID(campaign), "scheduled", [other]))
    before = _messages_by_recipient(textbridge, campaign)
    assert held not in before
    _start_while_their_conversation_is_held(textbridge, campaign, held)
    after = _messages_by_recipient(textbridge, campaign)
    assert sorted(after) == sorted(p["to"] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in after.values())
    assert {to: after[to] for to in before} == before
