"""The contacts' number index (migration b201b201b201): each number's suffixes as the lexemes
of a `tsvector`, searched by prefix. A run of digits is the beginning of a suffix, so it finds
exactly the contacts the index of every run (a004c0a4a004, dropped) found; the previous
release's query, on the old function, still answers (without its index); the migration goes
down and up over existing contacts (PostgreSQL only)."""

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

BEFORE = "a106c6a6a106"
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
FOUND_BY_SUFFIX = (
    "SELECT a, q FROM unnest(CAST(:a AS text[])) AS t(a), unnest(CAST(:q AS text[])) AS u(q)"
    " WHERE textbridge_number_suffixes(a) @@ CAST(q || ':*' AS tsquery)"
)
FOUND_BY_RUN = (  # the previous release's: every run, through the old function
    "SELECT a, q FROM unnest(CAST(:a AS text[])) AS t(a), unnest(CAST(:q AS text[])) AS u(q)"
    " WHERE textbridge_number_substrings(a) @> ARRAY[q]"
)
INSERT = (
    "INSERT INTO contacts (id, address, address_kind, created_at)"
    " VALUES (:id, :address, 'e164', now())"
)


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    with own_postgres_database() as database:
        yield database


def _holds(address: str, q: str) -> bool:
    """The search's meaning: `q` (three digits or more) is in the digits of an all-digit
    address of 3 to 20 digits (a leading `+` aside)."""
    return bool(_NUMBER.match(address)) and q in address.lstrip("+")


def _addresses() -> list[str]:
    rnd = random.Random(11)
    numbers = [f"+1{rnd.randint(2_000_000_000, 9_999_999_999)}" for _ in range(200)]
    numbers += [f"+44{rnd.randint(7_000_000_000, 7_999_999_999)}" for _ in range(60)]
    numbers += [f"+{'5' * rnd.randint(3, 20)}" for _ in range(20)]  # repeated runs
    return numbers + EDGES


def _queries(addresses: list[str]) -> list[str]:
    """Runs of the addresses (of every length, at every place) and some that are in none."""
    rnd = random.Random(12)
    queries = {"555", "5555555555", "123", "0001", "4155550123", "99999999999999999999"}
    for address in addresses:
        digits = address.lstrip("+")
        if len(digits) >= 3 and digits.isdigit():
            start = rnd.randrange(len(digits) - 2)
            queries.add(digits[start : rnd.randint(start + 3, len(digits))])
            queries.add(digits[-4:])
            queries.add(digits)
    queries |= {f"{rnd.randint(0, 10**9)}" for _ in range(50)}
    return sorted(q for q in queries if len(q) >= 3)


def test_a_prefix_of_a_suffix_is_exactly_a_run(database: Database) -> None:
    addresses = _addresses()
    queries = _queries(addresses)
    expected = {(a, q) for a in addresses for q in queries if _holds(a, q)}
    assert len(expected) > 1000
    found = {(a, q) for a, q in database.rows(FOUND_BY_SUFFIX, a=addresses, q=queries)}
    assert found == expected
    # The previous release's function (kept for its query) still means the same.
    assert {(a, q) for a, q in database.rows(FOUND_BY_RUN, a=addresses, q=queries)} == expected


def _indexes(database: Database) -> set[str]:
    rows = database.rows("SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'")
    return {row[0] for row in rows}


def test_the_index_finds_contacts_made_before_and_after(database: Database) -> None:
    """Contacts written before the upgrade (the new index built over them, concurrently) and
    after it are found through the new index; the old index is gone, its function kept; the
    migration goes down (the old index built again) and up."""
    old, new = uuid.uuid4(), uuid.uuid4()
    migrate.downgrade(database.url, BEFORE)
    try:
        assert "ix_contacts_number_substrings" in _indexes(database)
        assert "ix_contacts_number_suffixes" not in _indexes(database)
        database.rows(INSERT, id=old, address="+14155550123")
    finally:
        migrate.upgrade(database.url)
    assert "ix_contacts_number_suffixes" in _indexes(database)
    assert "ix_contacts_number_substrings" not in _indexes(database)
    database.rows(INSERT, id=new, address="+14155559123")

    async def found(q: str) -> list[uuid.UUID]:
        connection = await asyncpg.connect(database.url.replace("+asyncpg", ""))
        try:
            await connection.execute("SET enable_seqscan = off")
            sql = (
                "SELECT id, address FROM contacts WHERE textbridge_number_suffixes(address)"
                " @@ CAST($1 || ':*' AS tsquery)"
            )
            plan = "\n".join(r[0] for r in await connection.fetch("EXPLAIN " + sql, q))
            assert "ix_contacts_number_suffixes" in plan
            return [row[0] for row in sorted(await connection.fetch(sql, q), key=lambda r: r[1])]
        finally:
            await connection.close()

    assert run_sync(found("4155550")) == [old]
    assert run_sync(found("555")) == [old, new]
    assert run_sync(found("59123")) == [new]
    assert run_sync(found("14155559123")) == [new]
    assert run_sync(found("555555")) == []
    # The previous release's query (the old function, which this release keeps) still finds
    # them, by reading every contact.
    previous = (
        "SELECT id FROM contacts"
        " WHERE textbridge_number_substrings(address) @> CAST(ARRAY[:q] AS text[])"
        " ORDER BY address"
    )
    assert [row[0] for row in database.rows(previous, q="555")] == [old, new]


def test_a_number_search_uses_the_index(database: Database) -> None:
    """The list's number search uses the index (not a read of every contact calling the
    function)."""

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
            sql = re.sub(r"%\(q_like\)s", "'%555%'", sql)
            sql = re.sub(r"%\(q_number\)s", "'555'", sql)
            sql = re.sub(r"%\((\w+)\)s", "':*'", sql)  # the constant suffix of the prefix query
            return "\n".join(r[0] for r in await connection.fetch("EXPLAIN " + sql))
        finally:
            await connection.close()

    assert "ix_contacts_number_suffixes" in run_sync(plan())
