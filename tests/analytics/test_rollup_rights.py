"""Erasure and retention keep the counts (they are not personal data) and leave nothing of
the person in them; a delivery report for a day long closed moves that day's figures; the
counts after all that equal a count of the messages themselves (`Query(direct=True)`)."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from textbridge.analytics import query as reports
from textbridge.analytics import rollup
from textbridge.analytics.window import window
from textbridge.compliance.retention import ContentPurger
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine
from textbridge.models import Message

from ..support.database import Database, run_sync
from ..support.textbridge import Textbridge, running_textbridge
from .seed import BOB, PLIVO_SMS, at, seed

PARIS = {"from": "2026-03-28", "to": "2026-03-30", "tz": "Europe/Paris"}
COUNTED = ("messages", "delivery", "cost")
BUILDS = {
    "messages": reports.messages_per_day,
    "delivery": reports.delivery_per_day,
    "failures": reports.failures_by_reason,
    "cost": reports.cost_per_day,
}


def report(textbridge: Textbridge, name: str) -> dict[str, Any]:
    response = textbridge.api.get(f"/api/v1/analytics/{name}", params=PARIS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _failed_to_bob_naming_him(textbridge: Textbridge) -> None:
    conversation = textbridge.database.scalar(
        "SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id"
        " WHERE c.address = :bob AND v.channel = 'sms'",
        bob=BOB,
    )
    textbridge.database.run(
        insert(Message).values(
            id=uuid.uuid4(),
            conversation_id=uuid.UUID(str(conversation)),
            direction="outbound",
            channel="sms",
            provider="plivo",
            from_address=PLIVO_SMS,
            to_address=BOB,
            status="undelivered",
            error_code="1050",
            error_message=f"{BOB} is blocked",
            attempts=1,
            created_at=at("2026-03-29 09:00:00"),
            updated_at=at("2026-03-29 09:00:00"),
        )
    )


COUNT_TABLES = ("message_counts", "message_block_counts")
"""The hourly counts and the 24-hour blocks (`analytics.rollup`)."""


def _counts_naming(textbridge: Textbridge, digits: str, table: str) -> list[Any]:
    return textbridge.database.rows(
        f"SELECT * FROM {table} WHERE error_message LIKE :digits OR our_address LIKE :digits",
        digits=f"%{digits}%",
    )


async def _both_ways(url: str) -> list[tuple[Any, Any]]:
    """Each report from the counts and from the messages."""
    engine = create_engine(url)
    days = window(date(2026, 3, 28), date(2026, 3, 30), "Europe/Paris", utcnow())
    try:
        async with async_sessionmaker(engine)() as session:
            found = []
            for build in BUILDS.values():
                counted = await build(reports.Query(session, days, reports.Filters()))
                direct = await build(reports.Query(session, days, reports.Filters(), True))
                found.append((counted, direct))
            return found
    finally:
        await engine.dispose()


async def _purge_content(url: str) -> None:
    engine = create_engine(url)
    try:
        await ContentPurger(async_sessionmaker(engine), retention_days=1).purge_once()
    finally:
        await engine.dispose()


async def _compact(url: str) -> None:
    engine = create_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            await rollup.compact(session)
            await session.commit()
    finally:
        await engine.dispose()


def test_erasure_and_retention_keep_the_counts_and_forget_the_person(
    textbridge: Textbridge,
) -> None:
    seed(textbridge.database)
    _failed_to_bob_naming_him(textbridge)
    run_sync(_compact(textbridge.database.url))
    before = {name: report(textbridge, name) for name in (*COUNTED, "failures")}
    for table in COUNT_TABLES:
        assert _counts_naming(textbridge, BOB[1:], table)  # the scan can fail

    run_sync(_purge_content(textbridge.database.url))
    assert textbridge.database.scalar("SELECT count(*) FROM messages WHERE body IS NOT NULL") == 0
    erased = textbridge.api.delete(f"/api/v1/contacts/{BOB}")

    assert erased.status_code == 200, erased.text
    assert erased.json()["messages"] >= 3
    for name in COUNTED:
        assert report(textbridge, name) == before[name]
    failures = report(textbridge, "failures")
    assert [(r["error_code"], r["messages"]) for r in failures["rows"]] == [
        (r["error_code"], r["messages"]) for r in before["failures"]["rows"]
    ]
    assert "blocked" in str(before["failures"])
    assert BOB not in str(failures)
    for table in COUNT_TABLES:
        assert _counts_naming(textbridge, BOB[1:], table) == []
    for counted, direct in run_sync(_both_ways(textbridge.database.url)):
        assert counted == direct


def test_a_late_delivery_report_moves_a_closed_days_figures(textbridge: Textbridge) -> None:
    seed(textbridge.database)
    run_sync(_compact(textbridge.database.url))
    before = report(textbridge, "delivery")["rows"]
    failed_on_28th = textbridge.database.scalar(
        "SELECT id FROM messages WHERE status = 'failed' AND error_code = '30'"
    )

    # Months later, the provider says it was delivered after all (status only moves up
    # through the applier; here the row is changed as the applier's one UPDATE would).
    textbridge.database.run(
        text("UPDATE messages SET status = 'delivered' WHERE id = :id").bindparams(
            id=failed_on_28th
        )
    )

    after = {row["day"]: row for row in report(textbridge, "delivery")["rows"]}
    old = {row["day"]: row for row in before}
    assert (old["2026-03-28"]["delivered"], old["2026-03-28"]["failed"]) == (2, 1)
    assert (after["2026-03-28"]["delivered"], after["2026-03-28"]["failed"]) == (3, 0)
    assert {d: r for d, r in after.items() if d != "2026-03-28"} == {
        d: r for d, r in old.items() if d != "2026-03-28"
    }
    for counted, direct in run_sync(_both_ways(textbridge.database.url)):
        assert counted == direct


def test_rows_are_folded_and_the_totals_follow(database: Database, tmp_path: Path) -> None:
    # no workers: the background compactor would fold the seeded counts before the first check
    with running_textbridge(database, tmp_path, workers=False) as textbridge:
        _fold_and_compare(textbridge)


def _fold_and_compare(textbridge: Textbridge) -> None:
    seed(textbridge.database)
    fresh = "SELECT count(*) FROM message_counts WHERE fresh"
    assert textbridge.database.scalar(fresh) > 0
    totals_before = run_sync(_totals(textbridge.database.url))

    run_sync(_compact(textbridge.database.url))

    assert textbridge.database.scalar(fresh) == 0
    assert run_sync(_totals(textbridge.database.url)) == totals_before
    grouped = textbridge.database.rows(
        "SELECT direction, provider, channel, status, count(*) FROM messages"
        " GROUP BY direction, provider, channel, status"
    )
    assert totals_before == {tuple(row[:4]): row[4] for row in grouped}
    assert totals_before[("inbound", "plivo", "sms", "received")] == 2


async def _totals(url: str) -> dict[tuple[str, str, str, str], int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await rollup.message_totals(connection)
    finally:
        await engine.dispose()
