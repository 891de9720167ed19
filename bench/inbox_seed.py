"""A big inbox on PostgreSQL, fast: `seed_inbox()` for any bench that needs one.

    from inbox_seed import seed_inbox
    url = seed_inbox(admin_url, "textbridge_bench_inbox", textbridge_executable)

It makes (or reuses, when it already holds exactly that many messages) a migrated database
with the four sandbox senders, `conversations` contacts (US numbers +1415200xxxx, a first and
a last name from two lists), one conversation each (plivo/vonage x sms/whatsapp in turn), and
`messages` messages spread evenly over them (alternately in and out, one outbound in 97
failed, the rest delivered) and evenly over the twelve months from `BASE` (so a monthly
partition holds a twelfth), each a few words drawn from `WORDS` (8 000 made-up words, so a
word is in about 0.1 % of messages). Everything is written by `INSERT ... SELECT FROM
generate_series` in one transaction, joined to the conversations by their number through a
temporary table (a hash join, not an md5 and an index probe a row: 10 000 000 rows are
routine); a message's words are made from `SYLLABLES` (three subscripts of a 20-element array:
subscripting the 8 000-element `WORDS` array walks it from its start each time, 18 µs a word,
about 1 000 s of a 10 M seed). The indexes of `messages`, its primary key and its foreign keys
are dropped first and made again after the rows: an index builds far faster in one go than row
by row (the random UUIDs of the primary key were most of a 10 M seed's time), and a foreign
key is then checked by one join rather than a look-up a row. The triggers are off while it
writes (`session_replication_role = replica`) and what they would have written is then written
in bulk: `message_counts_inserted`'s own statements, read from the function and run over
`messages` instead of its transition table (`_counts`); `message_keys` stays empty as the
trigger would leave it (no seeded message has an idempotency key or a provider id). A trigger
the seed does not know about stops it (`_known_triggers`). When `messages` is partitioned
(migration a104c4a4a104), the seeded months' partitions are made first by the application's
own `textbridge_ensure_message_partitions`. The final schema is the migrated one (same index,
constraint and trigger names and definitions: `schema_of` compares them).

The seed is background work on a shared machine: its PostgreSQL backend is reniced to 19 and
builds indexes without parallel workers (`_low_priority`); run the seed itself under `nice -n
19` too.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
from harness import database_url, fresh_database, upgrade

BASE = datetime(2025, 12, 1, tzinfo=UTC)
SPREAD_SECONDS = 365 * 24 * 3600  # the messages' times: twelve months from BASE
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
    upgrade_reused: bool = True,
) -> str:
    """The database's URL; seeded unless it already holds `messages` messages (then brought to
    `textbridge`'s schema, unless `upgrade_reused` is False: an older build's serve on it)."""
    url = database_url(admin_url, name)
    if asyncio.run(_holds(url, messages)):
        if upgrade_reused:
            upgrade(url, textbridge)
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
        await _low_priority(connection)
        # Index builds (the full-text GIN index above all) sort in this memory; the messages'
        # join to the conversations (a hash of 100 000 rows, about 20 MB) and the counts' hash
        # aggregate in this one: with the default 4 MB the join went in batches, each a pass
        # over every month (seen at 10 M: half the rows written after 55 minutes).
        await connection.execute("SET maintenance_work_mem = '1GB'")
        await connection.execute("SET work_mem = '256MB'")
        # No trigger fires (nor the foreign keys' checks, dropped anyway below): `_counts`
        # writes what they would have.
        await connection.execute("SET session_replication_role = replica")
        phase = _phases()
        async with connection.transaction():
            await _known_triggers(connection)
            await _partitions(connection)
            constraints = await _drop_constraints(connection, "messages")
            indexes = await _drop_indexes(connection, "messages")
            await _senders(connection)
            await _contacts_and_conversations(connection, conversations)
            phase("contacts and conversations")
            await _messages(connection, messages, conversations)
            phase("messages")
            await _counts(connection)
            phase("message counts")
            await _last_messages(connection, messages, conversations)
            phase("last messages")
            for definition in indexes + constraints:
                await connection.execute(definition)
                phase(definition.split(" USING ")[0].split(" ON ")[0])
        await connection.execute("SET session_replication_role = DEFAULT")
        await connection.execute("VACUUM ANALYZE")
        phase("VACUUM ANALYZE")
    finally:
        await connection.close()


def _phases() -> Callable[[str], None]:
    """Print how long each step took (to stderr): where a big seed's time goes."""
    last = time.monotonic()

    def done(what: str) -> None:
        nonlocal last
        now = time.monotonic()
        print(f"inbox_seed: {what}: {now - last:.1f} s", file=sys.stderr, flush=True)
        last = now

    return done


async def _low_priority(connection: asyncpg.Connection) -> None:
    """Make this connection's backend background work: niced to 19 (when we run on the
    database's machine as root or as its owner; else a warning), index builds in the backend
    alone."""
    await connection.execute("SET max_parallel_maintenance_workers = 0")
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    done = subprocess.run(["renice", "-n", "19", "-p", str(pid)], capture_output=True, text=True)
    if done.returncode != 0:  # another machine's PostgreSQL, or not ours to renice
        print(f"inbox_seed: backend {pid} not reniced: {done.stderr.strip()}", file=sys.stderr)


# The triggers on what the seed writes (messages and its partitions; senders, contacts and
# conversations have none) and why each may be off while it writes. Another one stops the seed:
# decide what it would have written, write it in bulk, and add it here.
KNOWN_TRIGGERS = {
    "message_counts_insert": "written by _counts from the trigger's own function",
    "message_counts_update": "the seed updates no message",
    "message_keys_insert": "fires only for an idempotency key or a provider id: none seeded",
    "message_keys_update": "the seed updates no message",
}


async def _known_triggers(connection: asyncpg.Connection) -> None:
    found = await connection.fetch(
        """
        SELECT DISTINCT tgname FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid IN (
            SELECT 'messages'::regclass UNION ALL SELECT inhrelid FROM pg_inherits
            WHERE inhparent = 'messages'::regclass
            UNION ALL SELECT unnest(ARRAY['senders', 'contacts', 'conversations']::regclass[]))
        """
    )
    unknown = {row["tgname"] for row in found} - set(KNOWN_TRIGGERS)
    if unknown:
        raise RuntimeError(f"inbox_seed: triggers it does not know how to backfill: {unknown}")


async def _counts(connection: asyncpg.Connection) -> None:
    """What `message_counts_insert` would have written for the one INSERT of the messages: its
    function's statements, their transition table `inserted` read as `messages` (every row of
    which that INSERT wrote), run once."""
    source = await connection.fetchval(
        "SELECT prosrc FROM pg_proc WHERE oid = 'message_counts_inserted'::regproc"
    )
    body = source.replace("FROM inserted AS n", "FROM messages AS n")
    if "inserted" in body or body.count("FROM messages AS n") != 2 or "RETURN NULL;" not in body:
        raise RuntimeError("inbox_seed: message_counts_inserted changed; see _counts")
    await connection.execute(f"DO $seed$ {body.replace('RETURN NULL;', '')} $seed$")


async def _partitions(connection: asyncpg.Connection) -> None:
    """The seeded months' partitions, when `messages` is partitioned (else nothing)."""
    partitioned = await connection.fetchval(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = 'messages'::regclass"
    )
    if partitioned:
        await connection.execute(
            "SELECT textbridge_ensure_message_partitions($1::timestamptz, $2::timestamptz)",
            BASE,
            BASE + timedelta(seconds=SPREAD_SECONDS),
        )


async def _drop_constraints(connection: asyncpg.Connection, table: str) -> list[str]:
    """Drop the table's primary key and foreign keys; returns how to make them again."""
    found = await connection.fetch(
        """
        SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conrelid = $1::regclass AND contype IN ('p', 'f') AND conparentid = 0
        ORDER BY contype DESC
        """,
        table,
    )
    for row in found:
        await connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{row["conname"]}"')
    return [
        f'ALTER TABLE {table} ADD CONSTRAINT "{row["conname"]}" {row["definition"]}'
        for row in found
    ]


async def _drop_indexes(connection: asyncpg.Connection, table: str) -> list[str]:
    """Drop the table's indexes that no constraint owns; returns how to make them again."""
    found = await connection.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = $1 AND i.schemaname = current_schema() AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        table,
    )
    for row in found:
        await connection.execute(f'DROP INDEX "{row["indexname"]}"')
    # A partitioned table's index reads `ON ONLY messages`: made again, it covers them all.
    return [row["indexdef"].replace(" ON ONLY ", " ON ") for row in found]


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
    words = _words("m", "$3")
    await connection.execute(
        """
        CREATE TEMPORARY TABLE seeded_conversations ON COMMIT DROP AS
        SELECT i, c.id, c.channel, s.provider, s.address AS ours, t.address AS theirs
        FROM generate_series(1, $1::int) AS i
        JOIN conversations c ON c.id = md5('conversation' || i)::uuid
        JOIN contacts t ON t.id = c.contact_id
        JOIN senders s ON s.id = c.sender_id
        """,
        conversations,
    )
    await connection.execute("ANALYZE seeded_conversations")
    await connection.execute(
        f"""
        INSERT INTO messages (id, conversation_id, direction, channel, provider, from_address,
            to_address, body, status, attempts, created_at, updated_at)
        SELECT md5('message' || m)::uuid, c.id,
               CASE WHEN k % 2 = 0 THEN 'inbound' ELSE 'outbound' END, c.channel, c.provider,
               CASE WHEN k % 2 = 0 THEN c.theirs ELSE c.ours END,
               CASE WHEN k % 2 = 0 THEN c.ours ELSE c.theirs END,
               {words},
               CASE WHEN k % 2 = 0 THEN 'received'
                    WHEN m % 97 = 0 THEN 'failed' ELSE 'delivered' END,
               CASE WHEN k % 2 = 0 THEN 0 ELSE 1 END,
               $4::timestamptz + m * $5::float8 * interval '1 second',
               $4::timestamptz + m * $5::float8 * interval '1 second'
        FROM (SELECT m, 1 + (m - 1) % $2::int AS i, (m - 1) / $2::int AS k
              FROM generate_series(1, $1::int) AS m) AS g
        JOIN seeded_conversations c ON c.i = g.i
        """,
        count,
        conversations,
        list(SYLLABLES),
        BASE,
        SPREAD_SECONDS / (count + 1),
    )


def _words(m: str, syllables: str) -> str:
    """SQL for message `m`'s body: `WORDS_PER_MESSAGE` words of `WORDS` picked by `m`, each
    made from its three syllables (`syllables`, the `SYLLABLES` array: `WORDS` is their
    product, so word w is syllables w / 400, w / 20 % 20 and w % 20)."""
    picks = [
        f"(({m}::bigint * {prime} + {salt}) % {len(WORDS)})::int"
        for prime, salt in zip(
            (7919, 104729, 1299709, 15485863, 32452843, 49979687),
            (11, 23, 37, 41, 53, 67),
            strict=True,
        )
    ]
    n = len(SYLLABLES)
    return " || ' ' || ".join(
        f"({syllables}::text[])[1 + {w} / {n * n}] || ({syllables}::text[])[1 + {w} / {n} % {n}]"
        f" || ({syllables}::text[])[1 + {w} % {n}]"
        for w in picks
    )


async def _last_messages(connection: asyncpg.Connection, count: int, conversations: int) -> None:
    """Each conversation's last message (its highest m), computed as `_messages` made it rather
    than read back: a sort of every message by conversation was minutes at 10 M."""
    await connection.execute(
        f"""
        UPDATE conversations c SET last_message_at = last.created_at,
            last_message_preview = left(last.body, 200),
            last_inbound_at = last.created_at - interval '1 hour'
        FROM (SELECT i, $3::timestamptz + m * $4::float8 * interval '1 second' AS created_at,
                     {_words("m", "$5")} AS body
              FROM (SELECT i, i + (($1::int - i) / $2::int) * $2::int AS m
                    FROM generate_series(1, least($1::int, $2::int)) AS i) AS g) AS last
        WHERE c.id = md5('conversation' || last.i)::uuid
        """,
        count,
        conversations,
        BASE,
        SPREAD_SECONDS / (count + 1),
        list(SYLLABLES),
    )
