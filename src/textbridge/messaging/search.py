"""The conversation list's search, filters and keyset pages.

`q` matches a conversation when its contact's name or address holds it, when its digits are
in the contact's number (any notation: `+1 415 555 0199`, `(415) 555-0199`, `07700 900123`;
leading zeros, a trunk or international prefix, are dropped), or when one of its messages
holds every word of it (each word as a prefix). The message text index is PostgreSQL's full
text search (`ix_messages_body_search`) or SQLite's FTS5 (`messages_fts`), both built by the
migration `9a03c0a39a03`, both following every change of `messages.body` by themselves: an
erased or purged text leaves the index in the same transaction (see docs/DESIGN-NOTES.md).

A page is ordered by (last_message_at, id), newest first; its cursor is those two values of
its last item. A conversation that moves to the top while a client pages (a new message) is
not seen again further down, and none is skipped: the order of the others does not change.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.compliance.person import ERASED_KIND
from textbridge.db.base import utcnow
from textbridge.messaging import status
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
    """Where a page ends: the (last_message_at, id) of its last conversation."""

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


async def list_conversations(db: AsyncSession, wanted: ListQuery) -> list[Conversation]:
    dialect = db.get_bind().dialect.name
    query = select(Conversation).where(Conversation.last_message_at.is_not(None))
    query = query.where(*_filters(wanted, utcnow()))
    if wanted.q is not None:
        # Materialized: the matches are found first, through their indexes, then ordered.
        # Inlined, PostgreSQL may walk the list in order testing each conversation's messages
        # (computing their tsvectors) until a page is full: seconds for a rare word at 1M.
        hits = _matches(wanted.q, dialect).cte("hits").prefix_with("MATERIALIZED")
        query = query.where(Conversation.id.in_(select(hits.c.id)))
        if dialect == "postgresql":
            await db.execute(text(_CUSTOM_PLAN))
    query = _page(query, wanted.before)
    order = (Conversation.last_message_at.desc(), Conversation.id.desc())
    return list((await db.scalars(query.order_by(*order).limit(wanted.limit))).all())


def next_cursor(page: list[Conversation], limit: int) -> str | None:
    """The cursor of the page after this one; None when this one is not full (the end)."""
    if len(page) < limit or page[-1].last_message_at is None:
        return None
    return Cursor(page[-1].last_message_at, page[-1].id).encode()


def _page(query: Select[Any], before: datetime | Cursor | None) -> Select[Any]:
    if before is None:
        return query
    if isinstance(before, datetime):
        return query.where(Conversation.last_message_at < before)
    moment = bindparam("cursor_at", before.last_message_at, type_=Conversation.last_message_at.type)
    conversation = bindparam("cursor_id", before.conversation_id, type_=Conversation.id.type)
    keys = tuple_(Conversation.last_message_at, Conversation.id)
    return query.where(keys < tuple_(moment, conversation))


def _filters(wanted: ListQuery, now: datetime) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.channel is not None:
        found.append(Conversation.channel == wanted.channel)
    if wanted.provider is not None:
        by_provider = select(Sender.id).where(Sender.provider == wanted.provider)
        found.append(Conversation.sender_id.in_(by_provider))
    if wanted.unread is not None:
        found.append(_is(wanted.unread, Conversation.unread_count > 0))
    if wanted.window_open is not None:
        found.append(_window(wanted.window_open, now))
    if wanted.failed is not None:
        failed = select(Message.conversation_id).where(Message.status.in_(status.FAILURES))
        found.append(_is(wanted.failed, Conversation.id.in_(failed)))
    if wanted.opted_out is not None:
        found.append(_is(wanted.opted_out, Conversation.id.in_(_opted_out(now))))
    return found


def _is(wanted: bool, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return condition if wanted else ~condition


def _window(wanted_open: bool, now: datetime) -> ColumnElement[bool]:
    """WhatsApp conversations only, either way: SMS has no window to be open or closed."""
    is_open = Conversation.last_inbound_at > now - WINDOW
    closed = or_(Conversation.last_inbound_at.is_(None), ~is_open)
    return and_(Conversation.channel == "whatsapp", is_open if wanted_open else closed)


def _opted_out(now: datetime) -> Select[Any]:
    """Conversations whose contact opted out of their sender (or of all): the latest record
    that counts is an opt-out, as `compliance.consent.decide` judges it. An erased contact
    always is (erasure leaves an opt-out under the address hash, not the address)."""
    latest = (
        select(ConsentRecord.action)
        .where(
            ConsentRecord.address == Contact.address,
            ConsentRecord.scope.in_([Sender.address, ALL_SENDERS]),
            or_(ConsentRecord.expires_at.is_(None), ConsentRecord.expires_at > now),
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


def _matches(q: str, dialect: str) -> Any:
    by_contact = select(Conversation.id.label("id")).where(
        Conversation.contact_id.in_(_contacts_like(q))
    )
    words = _WORD.findall(q)[:MAX_WORDS]
    if not words:
        return by_contact
    by_text = select(Message.conversation_id).where(_text_matches(words, dialect))
    return union(by_contact, by_text)


def _contacts_like(q: str) -> Select[Any]:
    pattern = "%" + _LIKE_SPECIALS.sub(r"\\\1", q) + "%"
    matching = [
        Contact.name.ilike(pattern, escape="\\"),
        Contact.address.ilike(pattern, escape="\\"),
    ]
    digits = _number_digits(q)
    if digits is not None:
        matching.append(Contact.address.like(f"%{digits}%"))
    return select(Contact.id).where(Contact.address_kind != ERASED_KIND, or_(*matching))


def _number_digits(q: str) -> str | None:
    """The digits of a number as typed, less leading zeros (`0` of a national number,
    `00` of an international one); None when `q` is not written like a number."""
    if _NUMBER.fullmatch(q) is None:
        return None
    digits = re.sub(r"\D", "", q).lstrip("0")
    return digits if len(digits) >= MIN_NUMBER_DIGITS else None


# asyncpg prepares every statement; after five runs PostgreSQL may keep a generic plan, made
# without the words, which guesses the text and LIKE matches badly: found at 1M messages, a
# plan walking every conversation and computing every message's tsvector, seconds per search.
# A search is planned for its own words (in its transaction only).
_CUSTOM_PLAN: Final = "SET LOCAL plan_cache_mode = force_custom_plan"

MESSAGE_VECTOR: Final = "to_tsvector('simple'::regconfig, left(coalesce(messages.body, ''), 20000))"
"""The expression `ix_messages_body_search` indexes (PostgreSQL): a query must repeat it."""


def _text_matches(words: list[str], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # Each word is \w+, so it needs no quoting beyond the quotes: a prefix match of all.
        tsquery = " & ".join(f"'{word.lower()}':*" for word in words)
        query = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("q_ts", tsquery))
        return literal_column(MESSAGE_VECTOR).op("@@")(query)
    match = " ".join(f'"{word}"*' for word in words)
    fts = text("messages.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q_fts)")
    return fts.bindparams(q_fts=match)  # type: ignore[return-value]


async def forget_deleted_text(db: AsyncSession) -> None:
    """After bodies were erased or purged: on SQLite, FTS5 keeps a deleted row's words in
    its older index segments (marked deleted) until they merge; `optimize` merges them all
    now, so the words are gone from the file too (with `secure_delete`). PostgreSQL's index
    drops them when VACUUM reclaims the old row versions, as it does for the table itself."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')"))
