"""Events into delivery rows, in the transaction of the change that caused them.

On PostgreSQL the `live_events` trigger does it (see the migration `webhook_subscriptions`):
every writer of events writes them to that table, some with their own SQL. Elsewhere (SQLite)
events leave through `UnitOfWork.commit` only, which calls `fan_out` before it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.db.base import new_id, utcnow
from textbridge.models import WebhookDelivery, WebhookSubscription
from textbridge.models.webhook_subscription import EVENT_TYPES


def payload(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The body: Standard Webhooks' {type, timestamp, data}; `data` as the event stream has it."""
    return {"type": event_type, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "data": data}


async def fan_out(session: AsyncSession, events: Sequence[tuple[str, dict[str, Any]]]) -> int:
    wanted = [(kind, data) for kind, data in events if kind in EVENT_TYPES]
    if not wanted:
        return 0
    enabled = select(WebhookSubscription.id, WebhookSubscription.event_types).where(
        WebhookSubscription.enabled
    )
    subscriptions = (await session.execute(enabled)).all()
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "subscription_id": subscription_id,
            "event_type": kind,
            "payload": payload(kind, data, now),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for kind, data in wanted
        for subscription_id, types in subscriptions
        if kind in types.split()
    ]
    if rows:
        await session.execute(insert(WebhookDelivery), rows)
    return len(rows)
