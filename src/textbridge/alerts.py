"""What the database says about the service's health, read in one short transaction: the
figures behind `/metrics`' database gauges and the alert conditions (`GET /api/v1/alerts`).

An alert is a figure over its threshold, computed now: nothing is stored, so an alert clears
by itself when the condition does (the receipt arrives, the backlog drains, the refusals age
out of the window), whichever process is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from textbridge.analytics import rollup
from textbridge.config import Settings
from textbridge.db.base import utcnow
from textbridge.messaging import status
from textbridge.models import Message, WebhookJournalEntry
from textbridge.webhooks import journal

# Stored, not yet answered by the provider: waiting in our queue, or being sent.
WAITING = (status.ACCEPTED, status.SCHEDULED, status.HELD, status.SENDING)
# Handed to the provider, no final report yet.
AWAITING_RECEIPT = (status.SUBMITTED, status.SENT)
# Some carriers never confirm delivery: a message still `sent` a day later is not news, and
# counting it for ever would keep the alert firing for ever.
RECEIPT_LOOKBACK = timedelta(hours=24)

NO_RECEIPT = "messages_without_receipt"
REFUSED_SIGNATURES = "refused_webhook_signatures"
JOURNAL_BACKLOG = "journal_backlog"


@dataclass(frozen=True)
class Thresholds:
    no_receipt_minutes: int
    refused_window_minutes: int
    refused_signatures: int
    journal_backlog: int

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            settings.alert_no_receipt_minutes,
            settings.alert_refused_window_minutes,
            settings.alert_refused_signatures,
            settings.alert_journal_backlog,
        )


@dataclass(frozen=True)
class Health:
    # (direction, provider, channel, status) -> count
    messages: dict[tuple[str, str, str, str], int]
    journal: dict[str, int]
    without_receipt: int
    refused_recently: int


@dataclass(frozen=True)
class Alert:
    name: str
    value: int
    threshold: int
    summary: str

    @property
    def firing(self) -> bool:
        return self.value >= self.threshold


async def read_health(engine: AsyncEngine, thresholds: Thresholds) -> Health:
    now = utcnow()
    async with engine.connect() as connection:
        return Health(
            messages=await _messages(connection),
            journal=await _journal(connection),
            without_receipt=await _without_receipt(connection, now, thresholds),
            refused_recently=await _refused_since(
                connection, now - timedelta(minutes=thresholds.refused_window_minutes)
            ),
        )


def alerts(health: Health, thresholds: Thresholds) -> list[Alert]:
    """Every condition with its value; `firing` says which are over their threshold."""
    return [
        Alert(
            NO_RECEIPT,
            health.without_receipt,
            1,
            f"{health.without_receipt} message(s) sent with no delivery receipt after "
            f"{thresholds.no_receipt_minutes} min",
        ),
        Alert(
            REFUSED_SIGNATURES,
            health.refused_recently,
            thresholds.refused_signatures,
            f"{health.refused_recently} webhook(s) refused for their signature in the last "
            f"{thresholds.refused_window_minutes} min",
        ),
        Alert(
            JOURNAL_BACKLOG,
            backlog(health),
            thresholds.journal_backlog,
            f"{backlog(health)} webhook(s) waiting to be applied",
        ),
    ]


def backlog(health: Health) -> int:
    return health.journal.get(journal.PENDING, 0)


async def _messages(connection: AsyncConnection) -> dict[tuple[str, str, str, str], int]:
    # From the totals the rollup keeps (a few dozen rows), not a scan of the messages.
    return await rollup.message_totals(connection)


async def _journal(connection: AsyncConnection) -> dict[str, int]:
    j = WebhookJournalEntry.__table__.c
    rows = await connection.execute(select(j.state, func.count()).group_by(j.state))
    return {row[0]: int(row[1]) for row in rows}


async def _without_receipt(
    connection: AsyncConnection, now: datetime, thresholds: Thresholds
) -> int:
    before = now - timedelta(minutes=thresholds.no_receipt_minutes)
    return int(await connection.scalar(without_receipt_query(before)) or 0)


def without_receipt_query(before: datetime) -> Select[Any]:
    """Messages still waiting for a receipt whose last change is older than `before` (and
    younger than the lookback)."""
    m = Message.__table__.c
    return (
        select(func.count())
        .select_from(Message.__table__)
        .where(
            # Literals, not parameters: a generic plan (asyncpg prepares every statement, and
            # PostgreSQL reuses a plan made without the values after five runs) can then
            # match the partial index `ix_messages_awaiting_receipt`, whose condition is this
            # list; with parameters it read every message of the lookback (84 to 255 ms at 1 M).
            m.status.in_(
                bindparam("awaiting", AWAITING_RECEIPT, expanding=True, literal_execute=True)
            ),
            m.updated_at < before,
            m.updated_at >= before - RECEIPT_LOOKBACK,
        )
    )


async def _refused_since(connection: AsyncConnection, since: datetime) -> int:
    j = WebhookJournalEntry.__table__.c
    query = (
        select(func.count())
        .select_from(WebhookJournalEntry.__table__)
        .where(j.state == journal.REFUSED, j.received_at >= since)
    )
    return int(await connection.scalar(query) or 0)
