"""A search with words: ordered by when it matched, newest first, and paged with no gap and no
duplicate across months, on both databases. On PostgreSQL each message sits in its month's
partition, and the months are where the search's windows begin and end
(`messaging.search._windows`): matches are put on a month's first instant and the one before."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from textbridge.models import Contact, Conversation, Message

from ..support.live import wait_until
from ..support.textbridge import Textbridge

TICK = timedelta(microseconds=1)


def _month(now: datetime, back: int) -> datetime:
    """The first instant of the month `back` months before `now`'s."""
    index = now.year * 12 + now.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    order: list[str]
    """The addresses a search for "mango" finds, in the order it must give them."""
    ids: dict[str, uuid.UUID]


def _seed(textbridge: Textbridge) -> Seeded:
    now = datetime.now(UTC)
    m0, m1, m2, m3, m12, m13 = (_month(now, n) for n in (0, 1, 2, 3, 12, 13))
    # Per sender: (text, when) of each of its messages, and where a "mango" search ranks it.
    plan: dict[str, list[tuple[str, datetime]]] = {
        # Active this minute, but its match is 13 months old: last, not first.
        "+14155557001": [("mango early", m13 + timedelta(days=2)), ("hello lately", now)],
        # On a month's first instant, and an older match in another month: once, at the newer.
        "+14155557002": [("mango at the start", m1), ("mango again", m12 + timedelta(days=3))],
        # The month before's last instant.
        "+14155557003": [("mango just before", m1 - TICK)],
        # A word's beginning, this month.
        "+14155557004": [("mangoes this month", m0 + TICK)],
        # Two at one instant: the id orders them (and a page may end between them).
        "+14155557005": [("mango tie one", m3)],
        "+14155557006": [("mango tie two", m3)],
        # Found by its contact's name ("Mango Fan"): at its last message.
        "+14155557007": [("nothing to see", m2 + timedelta(hours=5))],
        # Not found.
        "+14155557008": [("no fruit", now - timedelta(minutes=3))],
        # Older than every window that has a start: found by the last one.
        "+14155557009": [("mango deep", m13 - timedelta(days=40))],
        # The month before's last instant, twice: its newest match wins.
        "+14155557010": [("mango one", m3 - TICK), ("a mango two", m2 - TICK)],
        "+14155557011": [("mango on the hour", m0)],
    }
    if textbridge.database.backend == "postgresql":  # each past month in its own partition
        # (this month and those ahead are the purger's: it may be making them right now)
        textbridge.database.rows(
            "SELECT textbridge_ensure_message_partitions(:start, :end)",
            start=m13 - timedelta(days=62),
            end=m1,
        )
    total = 0
    for sender, messages in plan.items():
        for text, _ in messages:
            textbridge.inbound(text, sender=sender)
            total += 1
    wait_until(lambda: textbridge.database.scalar("SELECT count(*) FROM messages") == total)
    for messages in plan.values():
        for text, moment in messages:
            textbridge.database.run(
                update(Message).where(Message.body == text).values(created_at=moment)
            )
    latest = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == Conversation.id)
        .scalar_subquery()
    )
    textbridge.database.run(update(Conversation).values(last_message_at=latest))
    textbridge.database.run(
        update(Contact).where(Contact.address == "+14155557007").values(name="Mango Fan")
    )
    rows = textbridge.database.rows(
        "SELECT c.id, t.address FROM conversations c JOIN contacts t ON t.id = c.contact_id"
    )
    ids = {row[1]: row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(row[0]) for row in rows}

    def matched_at(sender: str) -> datetime:
        times = [moment for text, moment in plan[sender] if "mango" in text or sender.endswith("7")]
        return max(times)

    found = [sender for sender in plan if sender != "+14155557008"]
    order = sorted(found, key=lambda s: (matched_at(s), ids[s]), reverse=True)
    return Seeded(order, ids)


def _pages(textbridge: Textbridge, limit: int, **params: Any) -> list[list[str]]:
    pages, before = [], None
    for _ in range(30):
        query = {"q": "mango", "limit": limit, **params} | ({"before": before} if before else {})
        response = textbridge.api.get("/api/v1/conversations", params=query)
        assert response.status_code == 200, response.text
        pages.append([c["contact_address"] for c in response.json()])
        before = response.headers.get("x-next-cursor")
        if before is None:
            return pages
        assert len(pages[-1]) == limit
        assert response.headers["link"].endswith(f'before={before}>; rel="next"')
    raise AssertionError("more pages than conversations")


def test_a_search_is_ordered_by_its_newest_match_and_pages_across_months(
    textbridge: Textbridge,
) -> None:
    seeded = _seed(textbridge)
    assert len(seeded.order) == 10
    # The order itself, spelled out: newest match first, ids breaking the tie.
    tie = sorted(["+14155557005", "+14155557006"], key=lambda s: seeded.ids[s], reverse=True)
    assert seeded.order == [
        "+14155557004",
        "+14155557011",
        "+14155557002",
        "+14155557003",
        "+14155557007",
        "+14155557010",
        *tie,
        "+14155557001",
        "+14155557009",
    ]
    for limit in (1, 2, 3, 4, 10, 50):
        pages = _pages(textbridge, limit)
        assert [address for page in pages for address in page] == seeded.order, limit
    # With a filter: the same order, less what it leaves out.
    everyone = [address for page in _pages(textbridge, 3, unread="true") for address in page]
    assert everyone == seeded.order


def test_a_conversation_that_matches_again_while_a_client_pages_is_not_repeated(
    textbridge: Textbridge,
) -> None:
    seeded = _seed(textbridge)
    first = textbridge.api.get("/api/v1/conversations", params={"q": "mango", "limit": 3})
    assert [c["contact_address"] for c in first.json()] == seeded.order[:3]
    # One further down matches again now: it moves above the cursor, where the live events
    # show it; the others keep their order, so none is skipped.
    moved = seeded.order[-2]
    textbridge.inbound("mango news", sender=moved)
    wait_until(lambda: textbridge.database.scalar("SELECT count(*) FROM messages") == 15)
    rest, before = [], first.headers["x-next-cursor"]
    while before:
        params = {"q": "mango", "limit": 3, "before": before}
        response = textbridge.api.get("/api/v1/conversations", params=params)
        assert response.status_code == 200, response.text
        rest += [c["contact_address"] for c in response.json()]
        before = response.headers.get("x-next-cursor")
    assert rest == [address for address in seeded.order[3:] if address != moved]
    top = textbridge.api.get("/api/v1/conversations", params={"q": "mango", "limit": 1}).json()
    assert [c["contact_address"] for c in top] == [moved]
