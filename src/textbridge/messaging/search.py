"""The conversation list's search, filters and keyset pages.

`q` matches a conversation when its contact's name holds it; when its address holds it, or,
for a `q` written like a number, when its digits are in the contact's number (any notation:
`+1 415 555 0199`, `(415) 555-0199`, `07700 900123`; leading zeros, a trunk or international
prefix, are dropped; on PostgreSQL through `ix_contacts_number_suffixes`, an index of each
number's suffixes, migration `b201b201b201`: a run of digits begins a suffix); or when one of
its messages holds every word of it (each word as a prefix). The message text index is
PostgreSQL's full text search (`ix_messages_body_search`) or SQLite's FTS5 (`messages_fts`),
both built by the migration `9a03c0a39a03`, both following every change of `messages.body` by
themselves: an erased or purged text leaves the index in the same transaction (see
docs/DESIGN-NOTES.md).

A page is ordered by (last_message_at, id), newest first; its cursor is those two values of
its last item. A conversation that moves to the top while a client pages (a new message) is
not seen again further down, and none is skipped: the order of the others does not change.

A search with words is ordered by when it matched, newest first: a conversation found by its
contact (name or number) at its `last_message_at`, any other at the time of its newest message
holding the words; the cursor is that time and the id. PostgreSQL finds the matches newest
month first (`_windows`, the months of the partitions of `messages`) and stops once the page is
full, so a common word reads the matches of a month or two, not those of every month.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from textbridge.compliance.person import ERASED_KIND
from textbridge.db.base import utcnow
from textbridge.db.driver import DriverPool
from textbridge.messaging import address, status
from textbridge.models import ConsentRecord, Contact, Conversation, Message, Sender
from textbridge.models.consent_record import ALL_SENDERS
from textbridge.whatsapp.window import WINDOW

MAX_QUERY_LENGTH: Final = 200
MAX_WORDS: Final = 8
MIN_NUMBER_DIGITS: Final = 3
UNMODELLED: Final = frozenset(
    {
        "ix_messages_body_search",
        "ix_contacts_name_trgm",
        "ix_contacts_address_trgm",
        "ix_contacts_number_substrings",
        "ix_contacts_number_suffixes",
        "messages_fts",
    }
)
"""Built by the migration, not the models (a GIN expression index, FTS5 and its shadow
tables): the models-match-migrations test leaves these names (and `messages_fts_*`) aside."""

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"[\d\s()+.\-/]+")
_LIKE_SPECIALS = re.compile(r"([\\%_])")
_CURSOR = re.compile(r"c1\.([A-Za-z0-9_-]+)")


class SearchError(ValueError):
    """A value of the list's query that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the (last_message_at, id) of its last conversation; in a search with
    words, the time it matched (`matched_at`) instead of `last_message_at`."""

    last_message_at: datetime
    conversation_id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.last_message_at.astimezone(UTC).isoformat()}|{self.conversation_id.hex}"
        return "c1." + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        found = _CURSOR.fullmatch(token)
        if found is None:
            raise SearchError("before", "not a cursor from X-Next-Cursor nor an ISO 8601 time")
        try:
            padded = found.group(1) + "=" * (-len(found.group(1)) % 4)
            moment, conversation = base64.urlsafe_b64decode(padded).decode().split("|")
            at = datetime.fromisoformat(moment)
            if at.tzinfo is None:
                raise ValueError("no offset")
            return cls(at.astimezone(UTC), uuid.UUID(hex=conversation))
        except (ValueError, OverflowError):  # OverflowError: a time beyond year 1 or 9999 in UTC
            raise SearchError("before", "a damaged cursor") from None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What the client asked of `GET /api/v1/conversations`."""

    limit: int = 50
    q: str | None = None
    channel: Literal["sms", "whatsapp"] | None = None
    provider: Literal["plivo", "vonage"] | None = None
    unread: bool | None = None
    opted_out: bool | None = None
    window_open: bool | None = None
    failed: bool | None = None
    before: datetime | Cursor | None = None


def check_query_text(q: str | None) -> str | None:
    """The search text, stripped; `SearchError` for a NUL or an over-long one."""
    if q is None:
        return None
    if "\x00" in q:
        raise SearchError("q", "must not contain a NUL character")
    if len(q) > MAX_QUERY_LENGTH:
        raise SearchError("q", f"at most {MAX_QUERY_LENGTH} characters")
    return q.strip() or None


def parse_before(value: str | None) -> datetime | Cursor | None:
    """A cursor (`c1.…`, from `X-Next-Cursor`), or, as before cursors, an ISO 8601 time."""
    if value is None or value == "":
        return None
    if value.startswith("c1."):
        return Cursor.decode(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SearchError(
            "before", "not a cursor from X-Next-Cursor nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise SearchError("before", "an ISO 8601 time needs its offset, e.g. Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise SearchError("before", "out of range once converted to UTC") from None


# The inbox's reads on PostgreSQL run on a small asyncpg pool of their own (no ORM, no BEGIN
# round trip: the profile of `bench/inbox_scale.py` found four fifths of a list request's time
# in SQLAlchemy's session, ORM loading and its transaction start, the query itself under a
# millisecond). Its sessions plan each statement for its own values: asyncpg prepares every
# statement, and the generic plan PostgreSQL keeps after five runs has no words to estimate
# with (found at 1M messages: a plan walking every conversation, computing every message's
# tsvector, seconds per search). No JIT: compiling a plan costs more than these reads.
READS_SETTINGS: Final = {"application_name": "textbridge-inbox-reads"}
# Not in the startup packet: PgBouncer (session mode, which DEPLOY.md allows) refuses these there.
READS_SETUP: Final = "SET plan_cache_mode = force_custom_plan; SET jit = off"
READS_CONNECTIONS: Final = 4


def inbox_reads_pool(database_url: str) -> DriverPool:
    return DriverPool(database_url, READS_CONNECTIONS, READS_SETTINGS, READS_SETUP)


LIST_COLUMNS: Final = (
    Conversation.id,
    Conversation.channel,
    Conversation.last_message_at,
    Conversation.last_inbound_at,
    Conversation.last_message_preview,
    Conversation.unread_count,
    Contact.address.label("contact_address"),
    Contact.address_kind.label("contact_address_kind"),
    Contact.name.label("contact_name"),
    Sender.address.label("sender_address"),
    Sender.provider,
)
"""What a list item (`ConversationOut.of_row`) is made of: columns, not ORM objects."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """What decides the list statement's SQL (the values are its parameters): one statement
    per shape, compiled once (PostgreSQL) and prepared once per connection."""

    channel: bool
    provider: bool
    unread: bool | None
    opted_out: bool | None
    window_open: bool | None
    failed: bool | None
    searched: bool
    words: bool
    digits: bool
    before: Literal["", "time", "cursor"]
    since: bool = False
    """A search's window starts at `window_from` (else at the first message)."""
    until: bool = False
    """A search's window ends before `window_to` (else it has no end)."""

    @classmethod
    def of(cls, wanted: ListQuery) -> _Shape:
        q = wanted.q
        before: Literal["", "time", "cursor"] = (
            ""
            if wanted.before is None
            else "time"
            if isinstance(wanted.before, datetime)
            else "cursor"
        )
        return cls(
            wanted.channel is not None,
            wanted.provider is not None,
            wanted.unread,
            wanted.opted_out,
            wanted.window_open,
            wanted.failed,
            q is not None,
            q is not None and bool(_WORD.search(q)),
            q is not None and _number_digits(q) is not None,
            before,
        )


async def list_page(
    db: AsyncSession | None, reads: DriverPool | None, wanted: ListQuery
) -> list[dict[str, Any]]:
    """The page's rows (`LIST_COLUMNS` by name, and `matched_at` in a search with words): on
    `reads` (PostgreSQL) when given, else on the session (SQLite)."""
    if reads is not None:
        return await reads.read(lambda connection: read_page(connection, wanted))
    assert db is not None, "a session, or the reads pool"
    # SQLite: one window, every message (FTS5 finds a word's messages in one index, and a
    # database SQLite suits is small); the same statement, so the same order and pages.
    shape, values = _Shape.of(wanted), _values(wanted, utcnow())
    statement = _statement(shape, db.get_bind().dialect.name)
    result = await db.execute(statement, values)
    return [dict(row) for row in result.mappings()]


async def read_page(connection: asyncpg.Connection, wanted: ListQuery) -> list[dict[str, Any]]:
    """The page on one asyncpg connection (PostgreSQL; also the bench's ceiling)."""
    now = utcnow()
    shape, values = _Shape.of(wanted), _values(wanted, now)
    if not shape.words:
        return await _fetch(connection, shape, values)
    # A number's digits are rarely in a text: its matches are read at once, in one statement
    # (windows would cost a statement's planning over the older months to learn there is none).
    windows: list[tuple[datetime | None, datetime | None]] = [(None, None)]
    if not shape.digits:
        windows = list(_windows(wanted, now))
    return await _search(connection, shape, values, windows)


async def _fetch(
    connection: asyncpg.Connection, shape: _Shape, values: dict[str, Any]
) -> list[dict[str, Any]]:
    sql, names, constants = _driver_statement(shape)
    arguments = [(constants | values)[name] for name in names]
    return [dict(row.items()) for row in await connection.fetch(sql, *arguments)]


async def _search(
    connection: asyncpg.Connection,
    shape: _Shape,
    values: dict[str, Any],
    windows: list[tuple[datetime | None, datetime | None]],
) -> list[dict[str, Any]]:
    """A search with words, one window of time after another, newest first, until the page
    is full. Each window's statement finds exactly the conversations whose match time is in
    it, so the page is the windows' rows in turn. They share one snapshot (REPEATABLE READ):
    with one each, a conversation whose newest match was erased or purged between two would
    come again in an older window, be skipped as seen, and leave that window's page short by
    one while rows past its LIMIT were never read (a gap no later page fills)."""
    if len(windows) == 1:
        return await _windows_in_turn(connection, shape, values, windows)
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        return await _windows_in_turn(connection, shape, values, windows)


async def _windows_in_turn(
    connection: asyncpg.Connection,
    shape: _Shape,
    values: dict[str, Any],
    windows: list[tuple[datetime | None, datetime | None]],
) -> list[dict[str, Any]]:
    page: list[dict[str, Any]] = []
    seen: set[uuid.UUID] = set()
    for since, until in windows:
        window = dataclasses.replace(shape, since=since is not None, until=until is not None)
        wanted = values | {
            "limit": values["limit"] - len(page),
            "window_from": since,
            "window_to": until,
        }
        rows = await _fetch(connection, window, wanted)
        # Below the window, only conversations found by their contact come back: theirs are
        # the page's last rows when no older message holds the words (the search ends here).
        older = since is not None and bool(rows[0]["older"])
        for row in rows:
            if row["id"] is None or row["id"] in seen:
                continue
            if older and row["matched_at"] < since:
                break
            seen.add(row["id"])
            page.append({name: value for name, value in row.items() if name != "older"})
        if len(page) >= values["limit"] or not older:
            break
    return page


MONTHS_BACK: Final = (1, 3, 11)
"""A search's windows start this many months before the month of the page's top (now, or the
cursor's time), on a month's first instant (where a partition starts); the last has no start.
The first holds the month before too, so that a common word fills a page in one statement
whatever the day of the month (under load a statement's round trip and planning cost more than
reading a month's matches at 1M). A window's statement reads the matches from its start on (the
newer ones again: a conversation with a newer match belongs to an earlier window); a word rare
lately ends in the last, having read its newest matches up to four times and every match once."""


def _windows(wanted: ListQuery, now: datetime) -> Iterator[tuple[datetime | None, datetime | None]]:
    """The (from, to) of each window, newest first: every time is in exactly one."""
    top = now if wanted.before is None else _before_time(wanted.before)
    until: datetime | None = None
    for back in MONTHS_BACK:
        since = _months_earlier(top, back)
        if since is None:  # before year 1
            break
        yield since, until
        until = since
    yield None, until


def _before_time(before: datetime | Cursor) -> datetime:
    return before.astimezone(UTC) if isinstance(before, datetime) else before.last_message_at


def _months_earlier(moment: datetime, count: int) -> datetime | None:
    """The first instant (UTC) of the month `count` months before `moment`'s."""
    index = moment.year * 12 + moment.month - 1 - count
    return None if index < 12 else datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def next_cursor(page: list[dict[str, Any]], limit: int) -> str | None:
    """The cursor of the page after this one; None when this one is not full (the end)."""
    if len(page) < limit:
        return None
    last = page[-1]
    at = last["matched_at"] if "matched_at" in last else last["last_message_at"]
    return None if at is None else Cursor(at, last["id"]).encode()


@functools.cache
def _driver_statement(shape: _Shape) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The shape's SQL for asyncpg, its parameters' names in order, and the values of those
    that are constants of the statement (e.g. the failure statuses) rather than `_values`."""
    compiled = _statement(shape, "postgresql").compile(
        dialect=asyncpg_dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    names = tuple(compiled.positiontup or ())
    constants = {name: compiled.params[name] for name in names if name not in _PARAMETERS}
    return compiled.string, names, constants


_PARAMETERS: Final = frozenset(
    {"limit", "channel", "provider", "window_start", "now", "q_like", "q_number", "q_digits",
     "q_ts", "q_fts", "before_at", "cursor_at", "cursor_id", "window_from", "window_to"}
)  # fmt: skip
"""The names `_values` gives a value (any other parameter of a statement is a constant)."""


def _param(name: str, type_: Any) -> BindParameter[Any]:
    """One of `_PARAMETERS`; its value is given at each execution (not required when compiled,
    so that `_driver_statement` can render the statement's constant IN lists)."""
    return bindparam(name, type_=type_, required=False)


def _values(wanted: ListQuery, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "limit": wanted.limit,
        "channel": wanted.channel,
        "provider": wanted.provider,
        "window_start": now - WINDOW,
        "now": now,
    }
    if wanted.q is not None:
        values["q_like"] = "%" + _LIKE_SPECIALS.sub(r"\\\1", wanted.q) + "%"
        digits = _number_digits(wanted.q)
        values["q_number"] = digits
        values["q_digits"] = f"%{digits}%"
        words = _WORD.findall(wanted.q)[:MAX_WORDS]
        values["q_ts"] = " & ".join(f"'{word.lower()}':*" for word in words)
        values["q_fts"] = " ".join(f'"{word}"*' for word in words)
    if isinstance(wanted.before, datetime):
        values["before_at"] = wanted.before
    elif wanted.before is not None:
        values["cursor_at"] = wanted.before.last_message_at
        values["cursor_id"] = wanted.before.conversation_id
    return values


def _statement(shape: _Shape, dialect: str) -> Select[Any]:
    if shape.words:
        return _searched(shape, dialect)
    columns: tuple[Any, ...] = LIST_COLUMNS
    query: Select[Any] = (
        select(*columns)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Sender, Sender.id == Conversation.sender_id)
        .where(Conversation.last_message_at.is_not(None), *_filters(shape))
    )
    if shape.searched:  # by the contact only (no words: e.g. `+`)
        # Materialized: the matches are found first, through their indexes, then ordered.
        # Inlined, PostgreSQL may walk the list in order testing each conversation until a
        # page is full.
        hits = _matches(shape, dialect).cte("hits").prefix_with("MATERIALIZED")
        query = query.where(Conversation.id.in_(select(hits.c.id)))
    query = _page(query, shape.before, Conversation.last_message_at)
    order = (Conversation.last_message_at.desc(), Conversation.id.desc())
    return query.order_by(*order).limit(_param("limit", Integer))


def _searched(shape: _Shape, dialect: str) -> Select[Any]:
    """A search with words, over one window of time (`since`, `until`): the conversations
    whose match time (`matched_at`) is in it, by that time, newest first; after them, those
    found by their contact alone with a match time before the window, and in every row (one
    row at least, its `id` None when the page is empty) whether any message before the window
    holds the words (`older`). A conversation whose contact matches is at its
    `last_message_at`, any other at its newest message holding the words. Every CTE is
    materialized: found through its own index, then joined (inlined, PostgreSQL may walk the
    list in order testing each conversation's messages)."""
    at_type = Message.created_at.type
    since, until = _param("window_from", at_type), _param("window_to", at_type)
    by_contact = (
        select(Conversation.id, Conversation.last_message_at.label("at"))
        .where(Conversation.contact_id.in_(_contacts_like(shape, dialect)))
        .cte("contact_hits")
        .prefix_with("MATERIALIZED")
    )
    # The newest match of each conversation with one since the window's start; those whose
    # newest is after its end belong to a later window (they come first), so are left out.
    texts = select(
        Message.conversation_id.label("id"), func.max(Message.created_at).label("at")
    ).where(_text_matches(dialect))
    if shape.since:
        texts = texts.where(Message.created_at >= since)
    texts = texts.group_by(Message.conversation_id)
    if shape.until:
        texts = texts.having(func.max(Message.created_at) < until)
    by_text = texts.cte("text_hits").prefix_with("MATERIALIZED")
    contact_keys = select(by_contact.c.id, by_contact.c.at)
    if shape.until:
        contact_keys = contact_keys.where(by_contact.c.at < until)
    text_keys = select(by_text.c.id, by_text.c.at).where(
        by_text.c.id.not_in(select(by_contact.c.id))
    )
    keyed = union_all(contact_keys, text_keys).subquery("keyed")
    columns: tuple[Any, ...] = (*LIST_COLUMNS, keyed.c.at.label("matched_at"))
    query: Select[Any] = (
        select(*columns)
        .select_from(keyed)
        .join(Conversation, Conversation.id == keyed.c.id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Sender, Sender.id == Conversation.sender_id)
        .where(Conversation.last_message_at.is_not(None), *_filters(shape))
    )
    query = _page(query, shape.before, keyed.c.at)
    order = (keyed.c.at.desc(), Conversation.id.desc())
    query = query.order_by(*order).limit(_param("limit", Integer))
    if not shape.since:
        return query
    # Materialized, so planned for all its rows (the index, not a walk of the messages by
    # time testing each), and read lazily: EXISTS stops at the first row.
    older = (
        select(Message.conversation_id)
        .where(_text_matches(dialect), Message.created_at < since)
        .cte("older_hits")
        .prefix_with("MATERIALIZED")
    )
    flag = select(exists(select(older.c.conversation_id)).label("older")).subquery("window")
    page = query.subquery("page").lateral()
    return (
        select(flag.c.older, *page.c)
        .select_from(flag.outerjoin(page, true()))
        .order_by(page.c.matched_at.desc(), page.c.id.desc())
    )


def _page(query: Select[Any], before: Literal["", "time", "cursor"], key: Any) -> Select[Any]:
    at_type = Conversation.last_message_at.type
    if before == "time":
        return query.where(key < _param("before_at", at_type))
    if before == "cursor":
        moment = _param("cursor_at", at_type)
        conversation = _param("cursor_id", Conversation.id.type)
        keys = tuple_(key, Conversation.id)
        return query.where(keys < tuple_(moment, conversation))
    return query


def _filters(shape: _Shape) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if shape.channel:
        found.append(Conversation.channel == _param("channel", String))
    if shape.provider:
        by_provider = select(Sender.id).where(Sender.provider == _param("provider", String))
        found.append(Conversation.sender_id.in_(by_provider))
    if shape.unread is not None:
        found.append(_is(shape.unread, Conversation.unread_count > 0))
    if shape.window_open is not None:
        found.append(_window(shape.window_open))
    if shape.failed is not None:
        failed = select(Message.conversation_id).where(Message.status.in_(status.FAILURES))
        found.append(_is(shape.failed, Conversation.id.in_(failed)))
    if shape.opted_out is not None:
        found.append(_is(shape.opted_out, Conversation.id.in_(_opted_out())))
    return found


def _is(wanted: bool, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return condition if wanted else ~condition


def _window(wanted_open: bool) -> ColumnElement[bool]:
    """WhatsApp conversations only, either way: SMS has no window to be open or closed."""
    start = _param("window_start", Conversation.last_inbound_at.type)
    is_open = Conversation.last_inbound_at > start
    closed = or_(Conversation.last_inbound_at.is_(None), ~is_open)
    return and_(Conversation.channel == "whatsapp", is_open if wanted_open else closed)


def _opted_out() -> Select[Any]:
    """Conversations whose contact opted out of their sender (or of all): the latest record
    that counts is an opt-out, as `compliance.consent.decide` judges it. An erased contact
    always is (erasure leaves an opt-out under the address hash, not the address)."""
    latest = (
        select(ConsentRecord.action)
        .where(
            ConsentRecord.address == Contact.address,
            ConsentRecord.scope.in_([Sender.address, ALL_SENDERS]),
            or_(
                ConsentRecord.expires_at.is_(None),
                ConsentRecord.expires_at > _param("now", ConsentRecord.expires_at.type),
            ),
        )
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    ever_out = select(ConsentRecord.address).where(ConsentRecord.action == "opt_out")
    return (
        select(Conversation.id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Sender, Sender.id == Conversation.sender_id)
        .where(
            or_(
                Contact.address_kind == ERASED_KIND,
                and_(Contact.address.in_(ever_out), latest == "opt_out"),
            )
        )
    )


def _matches(shape: _Shape, dialect: str) -> Any:
    """A search without words (`_searched` has the words): by the contact alone."""
    return select(Conversation.id.label("id")).where(
        Conversation.contact_id.in_(_contacts_like(shape, dialect))
    )


def _contacts_like(shape: _Shape, dialect: str) -> Select[Any]:
    """By name, and by address: a number (q written like one) by its digits, any notation;
    anything else as written."""
    pattern = _param("q_like", String)
    matching: list[ColumnElement[bool]] = [Contact.name.ilike(pattern, escape="\\")]
    if not shape.digits:
        matching.append(Contact.address.ilike(pattern, escape="\\"))
    elif dialect == "postgresql":  # `ix_contacts_number_suffixes` (b201b201b201)
        # The digits begin one of the number's suffixes: a prefix query (`4155550123:*`).
        suffixes = func.textbridge_number_suffixes(Contact.address, type_=TSVECTOR)
        prefix = cast(_param("q_number", Text).concat(":*"), TSQUERY)
        matching.append(suffixes.op("@@")(prefix))
    else:  # the numbers the index would hold: all digits, after a `+`
        numbers = Contact.address_kind.in_([address.E164, address.SHORT_CODE])
        matching.append(and_(numbers, Contact.address.like(_param("q_digits", String))))
    return select(Contact.id).where(Contact.address_kind != ERASED_KIND, or_(*matching))


def _number_digits(q: str) -> str | None:
    """The digits of a number as typed, less leading zeros (`0` of a national number,
    `00` of an international one); None when `q` is not written like a number."""
    if _NUMBER.fullmatch(q) is None:
        return None
    digits = re.sub(r"\D", "", q).lstrip("0")
    return digits if len(digits) >= MIN_NUMBER_DIGITS else None


MESSAGE_VECTOR: Final = "to_tsvector('simple'::regconfig, left(coalesce(messages.body, ''), 20000))"
"""The expression `ix_messages_body_search` indexes (PostgreSQL): a query must repeat it."""


def _text_matches(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # Each word is \w+, so it needs no quoting beyond the quotes: a prefix match of all.
        tsquery = _param("q_ts", String)
        query = func.to_tsquery(literal_column("'simple'::regconfig"), tsquery)
        return literal_column(MESSAGE_VECTOR).op("@@")(query)
    fts = text("messages.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q_fts)")
    return fts  # type: ignore[return-value]


async def forget_deleted_text(db: AsyncSession) -> None:
    """After bodies were erased or purged: on SQLite, FTS5 keeps a deleted row's words in
    its older index segments (marked deleted) until they merge; `optimize` merges them all
    now, so the words are gone from the file too (with `secure_delete`). PostgreSQL's index
    drops them when VACUUM reclaims the old row versions, as it does for the table itself."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')"))
