"""The webhook journal: every request as received, deduplicated by a unique key.

Signature nonces (`webhook_nonces`) are claimed in the same transaction as the journal rows
they came with, so a nonce is burnt exactly when its request is durably journaled: a request
that failed to commit can be retried with the same nonce, and one that was committed cannot
be replayed (a redelivery of the very same request is answered as a duplicate).

States: `pending` (to apply; `apply_after` and `attempts` carry its backoff), `applied`,
`refused` (failed verification, never applied), `invalid` (verified but unreadable),
`orphaned` (a status about a message never found), `dead` (applying failed on every try, or
its provider is not configured), `unverified` (an unsigned callback kept for an admin). Only
`applied` and `refused` entries are ever deleted (retention); an admin can replay the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

import structlog
from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.sql.dml import Insert

from textbridge.db.base import utcnow
from textbridge.logging import scrub
from textbridge.models import WebhookJournalEntry, WebhookNonce
from textbridge.providers.base import ReplayNonce
from textbridge.webhooks.states import APPLIED as APPLIED
from textbridge.webhooks.states import DEAD as DEAD
from textbridge.webhooks.states import INVALID as INVALID
from textbridge.webhooks.states import ORPHANED as ORPHANED
from textbridge.webhooks.states import PENDING as PENDING
from textbridge.webhooks.states import REFUSED as REFUSED
from textbridge.webhooks.states import REPLAYABLE as REPLAYABLE
from textbridge.webhooks.states import STATES as STATES
from textbridge.webhooks.states import UNVERIFIED as UNVERIFIED

log = structlog.get_logger(__name__)

ERROR_LENGTH: int = WebhookJournalEntry.error.property.columns[0].type.length
_REASON_LENGTH = 200

NONCE_WINDOW = timedelta(days=2)
"""How long a seen nonce is refused: longer than any provider's retries (Plivo, Vonage: 24 h)."""

# A refused request is anyone's: keep enough to recognise it, not what it carried.
REFUSED_EXCERPT_BYTES = 1024
REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})
REDACTED_PREFIXES = ("x-plivo-signature",)
_TABLE: Table = WebhookJournalEntry.__table__  # type: ignore[assignment]
_NONCES: Table = WebhookNonce.__table__  # type: ignore[assignment]


class NonceReplayed(Exception):
    """A verified webhook whose signature nonce another request, with other content, used."""


def webhook_params(
    method: str, content_type: str, body: bytes | str, query: str
) -> list[tuple[str, str]]:
    """A webhook's parameters: the form body of a form POST, else the query string. Ingest
    reads a request with it, and the applier reads the same request back from the journal."""
    if method != "POST" or not content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(query, keep_blank_values=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return parse_qsl(text, keep_blank_values=True)


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as journaled: credentials and signatures (a V2 signature alone would let a
    reader of the journal, or of a backup of it, forge callbacks) are replaced."""
    return {name: "[redacted]" if _secret(name) else value for name, value in headers.items()}


def _secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in REDACTED_HEADERS or lowered.startswith(REDACTED_PREFIXES)


def stored_text(raw: bytes) -> str:
    """A body as the journal keeps it: UTF-8, with undecodable bytes and NUL (which
    PostgreSQL refuses in text) replaced by U+FFFD."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def refused_excerpt(url: str, headers: Mapping[str, str], raw_body: bytes) -> dict[str, Any]:
    """The columns a refused request keeps: the start of its URL, of each header (already
    redacted) and of its body, and the SHA-256 of the whole body (to match it against a
    provider's or an attacker's copy)."""
    return {
        "url": url[:REFUSED_EXCERPT_BYTES],
        "headers": {name: value[:REFUSED_EXCERPT_BYTES] for name, value in headers.items()},
        "body": stored_text(raw_body[:REFUSED_EXCERPT_BYTES]),
        "body_sha256": hashlib.sha256(raw_body).hexdigest(),
    }


def _insert(dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        return postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])
    return sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["dedup_key"])


# Built once: the statements are constant (rows are bound parameters), so SQLAlchemy's
# compiled cache and the driver's prepared statements are reused across requests.
_INSERTS = {name: _insert(name) for name in ("postgresql", "sqlite")}
_INSERTS_RETURNING_KEY = {
    name: statement.returning(_TABLE.c.dedup_key) for name, statement in _INSERTS.items()
}


async def record(connection: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert one journal row; False when its dedup key is already there (a redelivery)."""
    result = await connection.execute(_INSERTS[_dialect(connection)], row)
    return bool(result.rowcount)


async def record_many(connection: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert keyed journal rows (all with the same columns) in one multi-row INSERT ...
    ON CONFLICT DO NOTHING; returns the dedup keys that were stored (new)."""
    statement = _INSERTS_RETURNING_KEY[_dialect(connection)]
    result = await connection.execute(statement, list(rows))
    return {key for key in result.scalars() if key is not None}


def _dialect(connection: AsyncConnection) -> str:
    return "postgresql" if connection.dialect.name == "postgresql" else "sqlite"


def _nonce_insert(dialect_name: str) -> Insert:
    keys = ["provider", "nonce"]
    statement: Insert
    if dialect_name == "postgresql":
        statement = postgresql.insert(_NONCES).on_conflict_do_nothing(index_elements=keys)
    else:
        statement = sqlite.insert(_NONCES).on_conflict_do_nothing(index_elements=keys)
    return statement.returning(_NONCES.c.provider, _NONCES.c.nonce)


_NONCE_INSERTS = {name: _nonce_insert(name) for name in ("postgresql", "sqlite")}

Claim = Literal["fresh", "redelivery", "replay"]


def nonce_row(provider: str, nonce: ReplayNonce) -> dict[str, Any]:
    return {"provider": provider, "nonce": nonce.value, "digest": nonce.digest, "seen_at": utcnow()}


async def claim_nonces(
    connection: AsyncConnection, nonces: Sequence[dict[str, Any] | None]
) -> list[Claim]:
    """Record the nonces (None: a request without one) and say, for each, whether it is new
    (`fresh`, also for None), the same request again (`redelivery`: same digest) or a
    `replay` (another digest). Within one call the first request with a nonce owns it."""
    wanted = [row for row in nonces if row is not None]
    if not wanted:
        return ["fresh"] * len(nonces)
    result = await connection.execute(_NONCE_INSERTS[_dialect(connection)], wanted)
    inserted = {(provider, nonce) for provider, nonce in result.all()}
    owners = await _stored_digests(connection, wanted, inserted)
    claims: list[Claim] = []
    for row in nonces:
        if row is None:
            claims.append("fresh")
            continue
        key = (row["provider"], row["nonce"])
        if key in inserted:
            inserted.discard(key)
            owners[key] = row["digest"]
            claims.append("fresh")
        else:
            claims.append("redelivery" if owners.get(key) == row["digest"] else "replay")
    return claims


async def _stored_digests(
    connection: AsyncConnection, wanted: list[dict[str, Any]], inserted: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The digests already stored for the nonces that were not new."""
    taken = {(row["provider"], row["nonce"]) for row in wanted} - inserted
    if not taken:
        return {}
    query = select(_NONCES.c.provider, _NONCES.c.nonce, _NONCES.c.digest).where(
        _NONCES.c.nonce.in_([nonce for _, nonce in taken])
    )
    rows = await connection.execute(query)
    return {(p, n): digest for p, n, digest in rows.all() if (p, n) in taken}


async def purge_nonces(session: AsyncSession) -> int:
    """Forget nonces older than the window (caller commits); returns how many."""
    result = await session.execute(
        delete(_NONCES).where(_NONCES.c.seen_at < utcnow() - NONCE_WINDOW)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count_in_state(connection: AsyncConnection, state: str) -> int:
    query = select(func.count()).select_from(_TABLE).where(_TABLE.c.state == state)
    return int(await connection.scalar(query) or 0)


_Waiting = tuple[dict[str, Any], dict[str, Any] | None, asyncio.Future[bool]]


class JournalWriter:
    """Group commit for keyed journal rows (the hot path of every accepted webhook).

    Each request hands its row to `record` and waits. One task at a time takes every row
    waiting and writes them in one transaction (`record_many`); every request is answered
    once that transaction has committed, so a 200 still means "durably journaled". While
    it commits, new rows queue up for the next batch: no timer, no added latency when idle.
    The task keeps one connection while there is work (its prepared statements stay warm)
    and returns it to the pool when nothing waits. A duplicate key inside one batch is stored
    once, and only its first request is told it was new. If a batch fails, its rows are
    written again one by one, so that only a request whose own row fails gets the error.
    A row may come with its signature nonce (`nonce_row`), claimed in the same transaction
    (`claim_nonces`): a redelivery is a duplicate, a replay raises `NonceReplayed`.
    """

    MAX_BATCH = 500

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, row: dict[str, Any], nonce: dict[str, Any] | None = None) -> bool:
        """Journal a row with a dedup key; False when the key was already there (or `nonce`
        was already used by this very request); `NonceReplayed` when it was used by another."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, nonce, future))
        if self._task is None:
            self._task = asyncio.create_task(self._write_waiting(), name="journal-writer")
        return await future

    def _take(self) -> list[_Waiting]:
        batch = self._waiting[: self.MAX_BATCH]
        del self._waiting[: self.MAX_BATCH]
        return batch

    async def _write_waiting(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                batch = self._take()
                try:
                    async with self._engine.connect() as connection:
                        at_once = connection.dialect.name == "postgresql"
                        if at_once:  # one statement, which commits on its own
                            await connection.execution_options(isolation_level="AUTOCOMMIT")
                        while batch:
                            if at_once:
                                outcomes = await _write_batch_at_once(connection, batch)
                            else:
                                async with connection.begin():
                                    outcomes = await _write_batch(connection, batch)
                            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                                _settle(future, outcome)
                            batch = self._take()
                except Exception:
                    # Each row alone, on a fresh (pre-pinged) connection: only a request whose
                    # own row fails gets the error.
                    await self._write_one_by_one(batch)
                    batch = []
        finally:
            self._task = None
            # Only when cancelled mid-batch: no request may wait forever.
            for _, _, future in batch + self._waiting:
                if not future.done():
                    future.set_exception(RuntimeError("journal writer stopped"))
            self._waiting.clear()

    async def _write_one_by_one(self, batch: list[_Waiting]) -> None:
        for item in batch:
            try:
                async with self._engine.begin() as connection:
                    (outcome,) = await _write_batch(connection, [item])
            except Exception as exc:
                _settle(item[2], exc)
            else:
                _settle(item[2], outcome)


async def _write_batch(
    connection: AsyncConnection, batch: Sequence[_Waiting]
) -> list[bool | Exception]:
    """Claim the batch's nonces and insert the rows whose nonce is fresh; per request: new
    (True), duplicate (False) or the refusal to raise. Settle only after the commit."""
    claims = await claim_nonces(connection, [nonce for _, nonce, _ in batch])
    rows = [row for (row, _, _), claim in zip(batch, claims, strict=True) if claim == "fresh"]
    stored = await record_many(connection, rows) if rows else set()
    outcomes: list[bool | Exception] = []
    for (row, _, _), claim in zip(batch, claims, strict=True):
        if claim == "replay":
            outcomes.append(NonceReplayed(f"{row['provider']} signature nonce already used"))
        elif claim == "redelivery":
            outcomes.append(False)
        else:
            key = row["dedup_key"]
            outcomes.append(key in stored)
            stored.discard(key)  # a second request with this key in the batch is a duplicate
    return outcomes


# `_write_batch` as one statement (PostgreSQL), run in autocommit: one round trip instead of
# four (BEGIN, the nonces, the rows, COMMIT), still all or nothing. A row is inserted when it
# has no nonce or is the first of the batch with a nonce the statement claimed; the answer
# says, per row in batch order, whether it owns its nonce, the digest already stored for a
# nonce it does not own (as of the statement's snapshot), and whether its key was stored.
_JOURNAL_COLUMNS = (
    "provider",
    "kind",
    "dedup_key",
    "method",
    "url",
    "headers",
    "body",
    "state",
    "attempts",
    "received_at",
)
_COLUMN_TYPES = {"headers": "text", "attempts": "integer", "received_at": "timestamptz"}
_NONCE_TYPES = {"nonce_provider": "varchar", "nonce": "varchar", "digest": "varchar"}
_ARRAYS = {**_NONCE_TYPES, "seen_at": "timestamptz"} | {
    name: _COLUMN_TYPES.get(name, "varchar") for name in _JOURNAL_COLUMNS
}
_WRITE_AT_ONCE = text(
    f"""
    WITH incoming AS (
        SELECT * FROM unnest({", ".join(f"CAST(:{n} AS {t}[])" for n, t in _ARRAYS.items())})
            WITH ORDINALITY AS r({", ".join(_ARRAYS)}, n)
    ), claimed AS (
        INSERT INTO webhook_nonces (provider, nonce, digest, seen_at)
        SELECT nonce_provider, nonce, digest, seen_at FROM incoming
        WHERE nonce IS NOT NULL
        ORDER BY n
        ON CONFLICT (provider, nonce) DO NOTHING
        RETURNING provider, nonce
    ), owners AS (
        SELECT min(i.n) AS n
        FROM incoming AS i
        JOIN claimed AS c ON c.provider = i.nonce_provider AND c.nonce = i.nonce
        GROUP BY i.nonce_provider, i.nonce
    ), stored AS (
        INSERT INTO webhook_journal ({", ".join(_JOURNAL_COLUMNS)})
        SELECT {", ".join(_JOURNAL_COLUMNS).replace("headers", "CAST(headers AS jsonb)")}
        FROM incoming
        WHERE nonce IS NULL OR n IN (SELECT n FROM owners)
        ORDER BY n
        ON CONFLICT (dedup_key) DO NOTHING
        RETURNING dedup_key
    )
    SELECT i.nonce IS NULL OR i.n IN (SELECT n FROM owners),
           w.digest,
           i.dedup_key IN (SELECT dedup_key FROM stored)
    FROM incoming AS i
    LEFT JOIN webhook_nonces AS w ON w.provider = i.nonce_provider AND w.nonce = i.nonce
    ORDER BY i.n
    """  # noqa: S608 (only our own column names and types are formatted in)
)


def _at_once_params(batch: Sequence[_Waiting]) -> dict[str, list[Any]]:
    params: dict[str, list[Any]] = {name: [] for name in _ARRAYS}
    for row, nonce, _ in batch:
        params["nonce_provider"].append(nonce["provider"] if nonce else None)
        params["nonce"].append(nonce["nonce"] if nonce else None)
        params["digest"].append(nonce["digest"] if nonce else None)
        params["seen_at"].append(nonce["seen_at"] if nonce else None)
        for name in _JOURNAL_COLUMNS:
            params[name].append(json.dumps(row[name]) if name == "headers" else row[name])
    return params


async def _write_batch_at_once(
    connection: AsyncConnection, batch: Sequence[_Waiting]
) -> list[bool | Exception]:
    """`_write_batch` in one statement (the connection in autocommit)."""
    answers = (await connection.execute(_WRITE_AT_ONCE, _at_once_params(batch))).all()
    nonces = [nonce for _, nonce, _ in batch]
    # A nonce's digest: its owner's in the batch, else the stored one.
    owners = {
        (nonce["provider"], nonce["nonce"]): nonce["digest"]
        for nonce, (owns, _, _) in zip(nonces, answers, strict=True)
        if nonce is not None and owns
    }
    unknown = []
    for nonce, (_, stored_digest, _) in zip(nonces, answers, strict=True):
        if nonce is None or (nonce["provider"], nonce["nonce"]) in owners:
            continue
        if stored_digest is not None:
            owners[(nonce["provider"], nonce["nonce"])] = stored_digest
        else:  # committed by another transaction after the snapshot (the insert waited)
            unknown.append(nonce)
    if unknown:
        owners |= await _stored_digests(connection, unknown, set())
    outcomes: list[bool | Exception] = []
    new_keys = set()
    for (row, nonce, _), (owns, _, stored) in zip(batch, answers, strict=True):
        key = row["dedup_key"]
        if nonce is None or owns:
            outcomes.append(bool(stored) and key not in new_keys)
            new_keys.add(key)  # a second request with this key in the batch is a duplicate
        elif owners.get((nonce["provider"], nonce["nonce"])) == nonce["digest"]:
            outcomes.append(False)  # a redelivery
        else:
            outcomes.append(NonceReplayed(f"{row['provider']} signature nonce already used"))
    return outcomes


def _settle(future: asyncio.Future[bool], outcome: bool | Exception) -> None:
    if future.done():  # the request went away (cancelled); its row is written all the same
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def claim_due(session: AsyncSession, limit: int) -> list[WebhookJournalEntry]:
    """The due entries (oldest first), locked, and already marked `applied`: the claim and
    the mark of a successful apply are one statement (one round trip fewer per batch). An
    entry that is not applied after all is marked otherwise (`mark`, `postpone`) before the
    commit; a batch that fails rolls the mark back with everything else."""
    params = {"now": utcnow(), "limit": limit}
    entries = await session.scalars(_CLAIM_DUE, params)
    return sorted(entries, key=lambda entry: entry.id)


# Built once (bound parameters): its cache key is computed once, not on every claim.
_DUE = (
    select(WebhookJournalEntry.id)
    .where(
        WebhookJournalEntry.state == PENDING,
        (WebhookJournalEntry.apply_after.is_(None))
        | (WebhookJournalEntry.apply_after <= bindparam("now")),
    )
    .order_by(WebhookJournalEntry.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM_DUE = (
    update(WebhookJournalEntry)
    .where(WebhookJournalEntry.id.in_(_DUE.scalar_subquery()))
    .values(state=APPLIED, error=None, processed_at=bindparam("now"))
    .returning(WebhookJournalEntry)
    .execution_options(synchronize_session=False)
)


async def next_due_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(WebhookJournalEntry.apply_after)
        .where(WebhookJournalEntry.state == PENDING)
        .order_by(WebhookJournalEntry.apply_after)
        .limit(1)
    )


def mark(entry: WebhookJournalEntry, state: str, error: str | None = None) -> None:
    entry.state = state
    entry.error = storable(error)[:ERROR_LENGTH] if error else None
    entry.processed_at = utcnow()


def postpone(entry: WebhookJournalEntry, delay: timedelta, error: str) -> None:
    entry.state, entry.processed_at = PENDING, None  # it may have been claimed as applied
    entry.attempts += 1
    entry.apply_after = utcnow() + delay
    entry.error = storable(error)[:ERROR_LENGTH]


def describe_failure(exc: BaseException) -> str:
    """Why applying failed, short and safe to store and log: the exception's type and the
    start of its message's first line. For a database error, the driver's own message: never
    SQLAlchemy's, which quotes the statement and its parameters (message texts)."""
    cause: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        # The driver's exception; asyncpg's comes wrapped in SQLAlchemy's adapter.
        cause = exc.orig.__cause__ or exc.orig
    lines = str(cause).strip().splitlines()
    reason = type(cause).__name__ + (f": {lines[0][:_REASON_LENGTH]}" if lines else "")
    return storable(scrub(reason))


def storable(text: str) -> str:
    """`text` without what a database refuses in a string: NUL (PostgreSQL) and lone
    surrogates (both), written as escapes instead."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


async def reset_for_retry(session: AsyncSession) -> None:
    """Used by operators and tests: make every postponed entry due now."""
    await session.execute(
        update(WebhookJournalEntry)
        .where(WebhookJournalEntry.state == PENDING)
        .values(apply_after=None)
    )


class NotReplayable(ValueError):
    """The entry's state cannot be replayed (only `REPLAYABLE` ones can)."""


async def list_entries(
    session: AsyncSession, state: str | None, limit: int, before_id: int | None = None
) -> list[WebhookJournalEntry]:
    """The newest entries first, without their bodies and headers (`before_id` pages on)."""
    query = (
        select(WebhookJournalEntry)
        .options(defer(WebhookJournalEntry.body), defer(WebhookJournalEntry.headers))
        .order_by(WebhookJournalEntry.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(WebhookJournalEntry.state == state)
    if before_id is not None:
        query = query.where(WebhookJournalEntry.id < before_id)
    return list(await session.scalars(query))


async def replay_entry(session: AsyncSession, entry_id: int) -> WebhookJournalEntry | None:
    """Make one parked entry pending again, with its attempts reset; None if there is none."""
    entry = await session.get(WebhookJournalEntry, entry_id, with_for_update=True)
    if entry is None:
        return None
    _check_replayable(entry.state)
    entry.state, entry.attempts, entry.apply_after = PENDING, 0, None
    entry.error, entry.processed_at = None, None
    await session.flush()
    return entry


async def replay_state(session: AsyncSession, state: str) -> int:
    """Make every entry in `state` pending again; returns how many."""
    _check_replayable(state)
    result = await session.execute(
        update(WebhookJournalEntry)
        .where(WebhookJournalEntry.state == state)
        .values(state=PENDING, attempts=0, apply_after=None, error=None, processed_at=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _check_replayable(state: str) -> None:
    if state not in REPLAYABLE:
        raise NotReplayable(
            f"{state} entries cannot be replayed; replayable: {', '.join(REPLAYABLE)}"
        )


async def purge(session: AsyncSession, state: str, received_before: datetime, limit: int) -> int:
    """Delete at most `limit` entries in `state` received before the given moment."""
    oldest = (
        select(WebhookJournalEntry.id)
        .where(
            WebhookJournalEntry.state == state,
            WebhookJournalEntry.received_at < received_before,
        )
        .order_by(WebhookJournalEntry.id)
        .limit(limit)
    )
    result = await session.execute(
        delete(WebhookJournalEntry)
        .where(WebhookJournalEntry.id.in_(oldest.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
