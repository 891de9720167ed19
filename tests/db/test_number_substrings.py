"""The contacts' number index function (migration a106c6a6a106, a PL/pgSQL loop) gives the same
keys as the SQL definition it replaced (a004c0a4a004), so the index built by either still
answers every search; the migration goes down and up (PostgreSQL only)."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.dialects import postgresql

from textbridge.db import migrate
from textbridge.messaging import search

from ..support.database import Database, own_postgres_database, run_sync

BEFORE = "a109c9a9a109"
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
EDGES = [
    "+123",
    "123",
    "12",
    "+12",
    "+",
    "",
    "abc",
    "+1415555",
    "1111111",
    "+0001000",
    "00441234567890123456",  # 20 digits
    "+123456789012345678901",  # 21 digits: none
    "+44 7700 900123",
    "wa:4155550123",
    "SHOP",
]


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


def _expected(address: str) -> set[str]:
    """What a004c0a4a004 defined: every run of three digits or more of an all-digit address of
    3 to 20 digits (a leading `+` aside)."""
    if not _NUMBER.match(address):
        return set()
    digits = address.lstrip("+")
    return {
        digits[start : start + width]
        for start in range(len(digits) - 2)
        for width in range(3, len(digits) - start + 1)
    }


def _addresses() -> list[str]:
    rnd = random.Random(11)
    numbers = [f"+1{rnd.randint(2_000_000_000, 9_999_999_999)}" for _ in range(300)]
    numbers += [f"+44{rnd.randint(7_000_000_000, 7_999_999_999)}" for _ in range(100)]
    numbers += [f"+{'5' * rnd.randint(3, 20)}" for _ in range(20)]  # repeated runs
    return numbers + EDGES


def _runs(database: Database, addresses: list[str]) -> dict[str, list[str]]:
    rows = database.rows(
        "SELECT a, textbridge_number_substrings(a) FROM unnest(CAST(:a AS text[])) AS t(a)",
        a=addresses,
    )
    return {address: list(runs) for address, runs in rows}


def _language(database: Database) -> str:
    return str(
        database.scalar(
            "SELECT l.lanname FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang"
            " WHERE p.proname = 'textbridge_number_substrings'"
        )
    )


def test_the_same_runs_as_the_sql_definition(database: Database) -> None:
    addresses = _addresses()
    assert _language(database) == "plpgsql"
    runs = _runs(database, addresses)
    assert {a: set(r) for a, r in runs.items()} == {a: _expected(a) for a in addresses}
    migrate.downgrade(database.url, BEFORE)
    try:
        assert _language(database) == "sql"
        before = _runs(database, addresses)
    finally:
        migrate.upgrade(database.url)
    assert {a: set(r) for a, r in before.items()} == {a: set(r) for a, r in runs.items()}
    assert all(r == sorted(set(r)) for r in before.values())  # the old one sorted, deduplicated
    assert _language(database) == "plpgsql"


def test_the_index_finds_contacts_made_before_and_after(database: Database) -> None:
    """A contact indexed by the old function and one by the new are found alike (`@>`, as
    `messaging.search` asks it)."""
    old, new = uuid.uuid4(), uuid.uuid4()
    insert = (
        "INSERT INTO contacts (id, address, address_kind, created_at)"
        " VALUES (:id, :address, 'e164', now())"
    )
    migrate.downgrade(database.url, BEFORE)
    try:
        database.rows(insert, id=old, address="+14155550123")
    finally:
        migrate.upgrade(database.url)
    database.rows(insert, id=new, address="+14155559123")
    found = (
        "SELECT id FROM contacts"
        " WHERE textbridge_number_substrings(address) @> CAST(ARRAY[:q] AS text[])"
        " ORDER BY address"
    )
    assert [row[0] for row in database.rows(found, q="4155550")] == [old]
    assert [row[0] for row in database.rows(found, q="555")] == [old, new]
    assert [row[0] for row in database.rows(found, q="59123")] == [new]
    assert database.rows(found, q="555555") == []


def test_a_number_search_uses_the_index(database: Database) -> None:
    """The list's number search uses the index (not a read of every contact calling the
    function), with the function replaced under the index."""

    async def plan() -> str:
        connection = await asyncpg.connect(database.url.replace("+asyncpg", ""))
        try:
            await connection.execute("SET enable_seqscan = off")
            query = search._contacts_like(
                search._Shape(
                    channel=False,
                    provider=False,
                    unread=None,
                    opted_out=None,
                    window_open=None,
                    failed=None,
                    searched=True,
                    words=False,
                    digits=True,
                    before="",
                ),
                "postgresql",
            )
            sql = str(query.compile(dialect=postgresql.dialect()))
            sql = re.sub(r"%\((\w+)\)s", "'555'", sql)
            return "\n".join(r[0] for r in await connection.fetch("EXPLAIN " + sql))
        finally:
            await connection.close()

    assert "ix_contacts_number_substrings" in run_sync(plan())
