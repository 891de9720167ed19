"""The `textbridge_messages` gauge comes from the rollup's totals and fresh counts
(`analytics.rollup`), not from a scan of the messages: it must still equal a `GROUP BY` over
them after late changes, before and after the counts are folded, and after an erasure."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from textbridge.analytics import rollup
from textbridge.db.engine import create_engine

from ..analytics.seed import BOB, seed
from ..support.database import run_sync
from ..support.textbridge import Textbridge
from .test_metrics import scrape


def _gauge(textbridge: Textbridge) -> dict[tuple[str, ...], float]:
    return {
        tuple(dict(labels)[k] for k in ("direction", "provider", "channel", "status")): value
        for (name, labels), value in scrape(textbridge).items()
        if name == "textbridge_messages"
    }


def _grouped(textbridge: Textbridge) -> dict[tuple[str, ...], float]:
    rows = textbridge.database.rows(
        "SELECT direction, provider, channel, status, count(*) FROM messages"
        " GROUP BY direction, provider, channel, status"
    )
    return {tuple(row[:4]): float(row[4]) for row in rows}


async def _fold(url: str) -> int:
    engine = create_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            folded = await rollup.compact(session)
            await session.commit()
            return folded
    finally:
        await engine.dispose()


def test_the_messages_gauge_follows_late_changes_folds_and_erasure(
    textbridge: Textbridge,
) -> None:
    seed(textbridge.database)
    textbridge.database.rows(
        "UPDATE messages SET status = 'delivered' WHERE status IN ('sent', 'undelivered')"
    )
    unfolded = _gauge(textbridge)
    assert unfolded == _grouped(textbridge)
    assert unfolded[("outbound", "plivo", "sms", "delivered")] == 7  # 5, a sent, an undelivered

    assert run_sync(_fold(textbridge.database.url)) > 0
    assert _gauge(textbridge) == unfolded

    erased = textbridge.api.delete(f"/api/v1/contacts/{BOB}")
    assert erased.status_code == 200, erased.text
    assert _gauge(textbridge) == _grouped(textbridge) == unfolded
