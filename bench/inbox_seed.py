"""A big inbox on PostgreSQL, fast: `seed_inbox()` for any bench that needs one.

    from inbox_seed import seed_inbox
    url = seed_inbox(admin_url, "textbridge_bench_inbox", textbridge_executable)

It makes (or reuses, when it already holds exactly that many messages) a migrated database
with the four sandbox senders, `conversations` contacts (US numbers +1415200xxxx, a first and
a last name from two lists), one conversation each (plivo/vonage x sms/whatsapp in turn), and
`messages` messages spread evenly over them (alternately in and out, one outbound in 97
failed, the rest delivered), each a few words drawn from `WORDS` (8 000 made-up words, so a
word is in about 0.1 % of messages). Everything is written by `INSERT ... SELECT FROM
generate_series` in one transaction; the indexes of `messages` (but those of its
constraints) are dropped first and built again after the rows: an index builds far faster in
one go than row by row. The final schema is the migrated one.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import asyncpg
from webhook_ingest import database_url, fresh_database

BASE = datetime(2026, 1, 1, tzinfo=UTC)
SENDERS = (  # the sandbox numbers (textbridge/sandbox.py): bootstrap finds them there
    ("plivo", "sms", "+14155550100"),
    ("vonage", "sms", "+14155550102"),
    ("plivo", "whatsapp", "+14155550101"),
    ("vonage", "whatsapp", "+14155550103"),
)
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po",
             "da", "fe", "gu", "hi", "jo", "ba", "ce", "wu", "xa", "yo")  # fmt: skip
WORDS = ["".join(parts) for parts in itertools.product(SYLLABLES, repeat=3)]
FIRST = ("Anna", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas")
LAST = ("Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva",
        "Tanaka", "Usman", "Varga", "Weber")  # fmt: skip
WORDS_PER_MESSAGE = 6


def number_of(contact: int) -> str:
    """The seeded contact number `contact` (1-based)."""
    return f"+1415{2000000 + contact:07d}"


def seed_inbox(
    admin_url: str,
    name: str,
    textbridge: str,
    *,
    messages: int = 1_000_000,
    conversations: int = 100_000,
) -> str:
    """The database's URL; seeded unless it already holds `messages` messages."""
    url = database_url(admin_url, name)
    if asyncio.run(_holds(url, messages)):
        return url
    url = fresh_database(admin_url, name, textbridge)
    asyncio.run(_seed(url, messages, conversations))
    return url


async def _holds(url: str, messages: int) -> bool:
    try:
        connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    except (asyncpg.InvalidCatalogNameError, OSError):
        return False
    try:
        count = await connection.fetchval("SELECT count(*) FROM messages")
        return bool(count == messages)
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()


async def _seed(url: str, messages: int, conversations: int) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        async with connection.transaction():
            indexes = await _drop_indexes(connection, "messages")
            await _senders(connection)
            await _contacts_and_conversations(connection, conversations)
            await _messages(connection, messages, conversations)
            for definition in indexes:
                await connection.execute(definition)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _drop_indexes(connection: asyncpg.Connection, table: str) -> list[str]:
    """Drop the table's indexes that no constraint owns; returns how to make them again."""
    found = await connection.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = $1 AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        table,
    )
    for row in found:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in found]


async def _senders(connection: asyncpg.Connection) -> None:
    await connection.executemany(
        "INSERT INTO senders (id, provider, channel, address, created_at) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4)",
        [(*sender, BASE) for sender in SENDERS],
    )


async def _contacts_and_conversations(connection: asyncpg.Connection, count: int) -> None:
    await connection.execute(
        """
        INSERT INTO contacts (id, address, address_kind, name, country, created_at)
        SELECT md5('contact' || i)::uuid, '+1415' || (2000000 + i)::text, 'e164',
               ($2::text[])[1 + i % cardinality($2::text[])] || ' '
                 || ($3::text[])[1 + (i / 7) % cardinality($3::text[])],
               'US', $4
        FROM generate_series(1, $1::int) AS i
        """,
        count,
        list(FIRST),
        list(LAST),
        BASE,
    )
    # Times are set from the messages below; unread on one in five.
    await connection.execute(
        """
        INSERT INTO conversations (id, contact_id, sender_id, channel, unread_count, created_at)
        SELECT md5('conversation' || i)::uuid, md5('contact' || i)::uuid, s.id, s.channel,
               CASE WHEN i % 5 = 0 THEN 2 ELSE 0 END, $2
        FROM generate_series(1, $1::int) AS i
        JOIN (SELECT id, channel, row_number() OVER (ORDER BY channel, provider) - 1 AS n
              FROM senders) AS s ON s.n = i % 4
        """,
        count,
        BASE,
    )


async def _messages(connection: asyncpg.Connection, count: int, conversations: int) -> None:
    # Message m belongs to conversation 1 + (m - 1) % conversations and is its k-th (0-based);
    # times grow with m, so a conversation's last message is its highest k.
    words = " || ' ' || ".join(
        f"($3::text[])[1 + ((m::bigint * {prime} + {salt}) % cardinality($3::text[]))]"
        for prime, salt in zip(
            (7919, 104729, 1299709, 15485863, 32452843, 49979687),
            (11, 23, 37, 41, 53, 67),
            strict=True,
        )
    )
    await connection.execute(
        f"""
        INSERT INTO messages (id, conversation_id, direction, channel, provider, from_address,
            to_address, body, status, attempts, created_at, updated_at)
        SELECT md5('message' || m)::uuid, c.id,
               CASE WHEN k % 2 = 0 THEN 'inbound' ELSE 'outbound' END, c.channel, s.provider,
               CASE WHEN k % 2 = 0 THEN t.address ELSE s.address END,
               CASE WHEN k % 2 = 0 THEN s.address ELSE t.address END,
               {words},
               CASE WHEN k % 2 = 0 THEN 'received'
                    WHEN m % 97 = 0 THEN 'failed' ELSE 'delivered' END,
               CASE WHEN k % 2 = 0 THEN 0 ELSE 1 END,
               $4::timestamptz + m * interval '10 seconds',
               $4::timestamptz + m * interval '10 seconds'
        FROM (SELECT m, 1 + (m - 1) % $2::int AS i, (m - 1) / $2::int AS k
              FROM generate_series(1, $1::int) AS m) AS g
        JOIN conversations c ON c.id = md5('conversation' || g.i)::uuid
        JOIN contacts t ON t.id = c.contact_id
        JOIN senders s ON s.id = c.sender_id
        """,
        count,
        conversations,
        WORDS,
        BASE,
    )
    await connection.execute(
        """
        UPDATE conversations c SET last_message_at = last.created_at,
            last_message_preview = left(last.body, 200),
            last_inbound_at = last.created_at - interval '1 hour'
        FROM (SELECT DISTINCT ON (conversation_id) conversation_id, created_at, body
              FROM messages ORDER BY conversation_id, created_at DESC) AS last
        WHERE c.id = last.conversation_id
        """
    )
