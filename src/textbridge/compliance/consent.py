"""The consent ledger: recording opt-ins and opt-outs, and deriving a person's current state.

The state is never stored: it is the latest ledger record that applies, read every time.
Records are ALWAYS looked up by `address_hash` (`compliance.identity`), never by `address`:
erasure clears `address` and `evidence`, and an opt-out must outlive it.

Which record applies to a send from sender S: the latest (by `recorded_at`, then id) among
the records of scope S and of scope `*` (all our senders), an implied opt-in past its
`expires_at` left out (CASL: an expired implied consent is no consent, and an opt-out it had
lifted holds again). So STOPALL then START to S opts in to S alone; STOP to S then an opt-in to
`*` (an API call, an import) opts in everywhere.

The only enforcement is of opt-outs: an address with no record at all may be sent to (a
transactional message needs no marketing consent; requiring an opt-in is a later setting).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.audit import log
from textbridge.compliance import keywords
from textbridge.compliance.identity import address_hasher
from textbridge.compliance.person import PSEUDONYM_PREFIX
from textbridge.db.base import utcnow
from textbridge.messaging import address, status
from textbridge.messaging.errors import RecipientOptedOut
from textbridge.messaging.text import excerpt
from textbridge.models import Campaign, ConsentRecord, Message
from textbridge.models.consent_record import ALL_SENDERS

OPT_IN: Final = "opt_in"
OPT_OUT: Final = "opt_out"
ACTIONS: Final = (OPT_IN, OPT_OUT)
CHANNELS: Final = ("sms", "mms", "whatsapp")
SOURCES: Final = ("keyword", "api", "import", "inbox", "provider")
KINDS: Final = ("express", "implied")
ERROR_CODE: Final = "recipient_opted_out"
"""The error code of a send refused (API: 409) or skipped (dispatch) for an opt-out."""

State = Literal["opted_in", "opted_out", "none"]

PROVIDER_OPT_OUT_CODES: Final[dict[tuple[str, str], str]] = {
    # "Source number blocked by STOP from destination number": Plivo blocks every later send
    # from that number (https://plivo.com/docs/messaging/troubleshooting/error-codes; support
    # article 17000089602, "Can I reply to customers who have opted out?").
    ("plivo", "200"): "Plivo: the recipient sent STOP to this number",
    # "Number barred - The number you are trying to submit to is blacklisted and may not
    # receive messages" (https://developer.vonage.com/en/api-errors/messages).
    ("vonage", "1050"): "Vonage: the number is barred",
}
"""A send failing with one of these records an opt-out of every sender (scope `*`): the
provider or the carrier blocks the number, and no sender of ours should try again."""

_SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._&-]{0,10}")
"""An alphanumeric sender ID: at most 11 characters (the GSM limit of an originator)."""
_CHUNK = 500  # addresses per IN list (SQLite binds at most 32 766 values)


class ConsentError(ValueError):
    """A consent change that cannot be recorded; `field` names what is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Change:
    """One opt-in or opt-out to record."""

    address: str
    action: str
    source: str
    scope: str = ALL_SENDERS
    channel: str | None = None
    kind: str = "express"
    expires_at: datetime | None = None
    evidence: dict[str, Any] | None = None
    actor: str | None = None
    recorded_at: datetime | None = None
    """When it was given, if not now (an import from another system keeps its dates)."""

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.action not in ACTIONS:
            found.append(("action", f"must be one of {', '.join(ACTIONS)}"))
        if self.source not in SOURCES:
            found.append(("source", f"must be one of {', '.join(SOURCES)}"))
        if self.kind not in KINDS:
            found.append(("kind", f"must be one of {', '.join(KINDS)}"))
        if self.kind == "implied" and self.action == OPT_OUT:
            found.append(("kind", "an opt-out is always express"))
        if not self.scope or len(self.scope) > 140:
            found.append(("scope", "a sender address or *"))
        if self.channel not in (None, *CHANNELS):
            found.append(("channel", f"must be one of {', '.join(CHANNELS)}"))
        for name, moment in (("expires_at", self.expires_at), ("recorded_at", self.recorded_at)):
            if moment is not None and moment.tzinfo is None:
                found.append((name, "needs a UTC offset"))
        if self.recorded_at and self.recorded_at.tzinfo and self.recorded_at > utcnow():
            found.append(("recorded_at", "must not be in the future"))
        return found


@dataclass(frozen=True, slots=True)
class Entry:
    """A ledger record as the state is derived from it (no address, no evidence)."""

    id: int
    scope: str
    action: str
    kind: str
    expires_at: datetime | None
    recorded_at: datetime

    def counts(self, now: datetime) -> bool:
        """False for an implied opt-in past its expiry: no consent, as if never given."""
        return self.expires_at is None or self.expires_at > now


def decide(entries: Iterable[Entry], scope: str, now: datetime) -> State:
    """The state for sends from `scope` (a sender address, or `*` for the all-senders record
    alone), from one address's records."""
    applicable = [e for e in entries if e.scope in (scope, ALL_SENDERS) and e.counts(now)]
    if not applicable:
        return "none"
    latest = max(applicable, key=lambda e: (e.recorded_at, e.id))
    return "opted_out" if latest.action == OPT_OUT else "opted_in"


async def record(db: AsyncSession, change: Change) -> ConsentRecord:
    """Add `change` to the ledger (flushed; the caller commits). An implied opt-in without an
    expiry gets the configured one (`TEXTBRIDGE_CONSENT_IMPLIED_DAYS`, CASL's two years)."""
    problems = change.problems()
    if problems:
        field, message = problems[0]
        raise ConsentError(f"{field}: {message}", field)
    hasher = await address_hasher(db)
    now = change.recorded_at or utcnow()
    expires_at = change.expires_at
    if change.kind == "implied" and expires_at is None:
        expires_at = now + timedelta(days=keywords.active().implied_days)
    row = ConsentRecord(
        address=change.address,
        address_hash=hasher(change.address),
        action=change.action,
        scope=_scope(change.scope),
        channel=change.channel,
        source=change.source,
        kind=change.kind,
        expires_at=expires_at if change.action == OPT_IN else None,
        evidence=change.evidence,
        actor=change.actor[:200] if change.actor else None,
        recorded_at=now,
    )
    db.add(row)
    await db.flush()
    return row


def _scope(scope: str) -> str:
    """`*`, or a sender address written as `senders.address` holds it (`+` on a number)."""
    if scope == ALL_SENDERS:
        return scope
    try:
        found = address.of_sender(scope, "sms")
    except address.InvalidAddress as exc:
        raise ConsentError(f"scope: {exc}", "scope") from None
    if found.kind == address.ALPHANUMERIC and not _SENDER_ID.fullmatch(found.value):
        raise ConsentError("scope: a sender address (a number or a sender ID) or *", "scope")
    return found.value


async def entries_by_hash(db: AsyncSession, hashes: Iterable[str]) -> dict[str, list[Entry]]:
    """Every record of these address hashes, by hash: one query per 500 addresses."""
    wanted = sorted(set(hashes))
    found: dict[str, list[Entry]] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(
            ConsentRecord.address_hash,
            ConsentRecord.id,
            ConsentRecord.scope,
            ConsentRecord.action,
            ConsentRecord.kind,
            ConsentRecord.expires_at,
            ConsentRecord.recorded_at,
        ).where(ConsentRecord.address_hash.in_(wanted[start : start + _CHUNK]))
        for row in await db.execute(query):
            entry = Entry(row.id, row.scope, row.action, row.kind, row.expires_at, row.recorded_at)
            found.setdefault(row.address_hash, []).append(entry)
    return found


async def state(db: AsyncSession, address: str, scope: str) -> State:
    hasher = await address_hasher(db)
    entries = await entries_by_hash(db, [hasher(address)])
    return decide(entries.get(hasher(address), []), scope, utcnow())


async def opted_out(db: AsyncSession, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Of these (recipient address, sender address) pairs, the ones whose recipient has opted
    out of that sender (or of all). One query for all of them (per 500 recipients)."""
    pairs = set(pairs)
    if not pairs:
        return set()
    hasher = await address_hasher(db)
    hashed = {to: hasher(to) for to, _ in pairs}
    entries = await entries_by_hash(db, hashed.values())
    if not entries:
        return set()
    now = utcnow()
    return {
        (to, sender)
        for to, sender in pairs
        if decide(entries.get(hashed[to], []), sender, now) == "opted_out"
    }


def contact_address(raw: str) -> str:
    """A person's address as the ledger keys it: E.164 (`+` optional) or a WhatsApp
    business-scoped user id. `ConsentError` for anything that cannot receive a message."""
    try:
        found = address.of_sender(raw, "whatsapp")
    except address.InvalidAddress as exc:
        raise ConsentError(str(exc), "address") from None
    if found.kind not in (address.E164, address.WHATSAPP_BSUID):
        raise ConsentError(f"{excerpt(raw)} is not a phone number or a WhatsApp user id", "address")
    return found.value


# ------------------------------------------------------------------------ enforcement hooks


CONSENT_REPLY: Final = "consent_reply"
"""The `messages.payload` key that marks a keyword's confirmation: the one message an
opted-out address still gets (the API cannot set it)."""


def is_consent_reply(message: Message) -> bool:
    return isinstance(message.payload, dict) and CONSENT_REPLY in message.payload


async def refuse_if_opted_out(db: AsyncSession, message: Message) -> None:
    """Raise `RecipientOptedOut` (409) when `message` goes to an address that opted out of
    its sender: `messaging.outbound` asks this of every send before it writes anything."""
    pair = (message.to_address, message.from_address)
    if not is_consent_reply(message) and pair in await opted_out(db, [pair]):
        raise refusal(message.from_address)


def refusal(from_address: str) -> RecipientOptedOut:
    """The 409 of a send to a recipient who opted out of `from_address`."""
    return RecipientOptedOut(
        f"the recipient opted out of messages from {from_address}; "
        "a send is possible again once they opt in (START)",
        field="to",
    )


async def split_opted_out(
    db: AsyncSession, messages: Sequence[Message]
) -> tuple[list[Message], list[Message]]:
    """The dispatcher's claim, in one query for the batch: (the messages that may go on, the
    ones whose recipient opted out after they were accepted: a campaign, a scheduled message).
    The latter are changed to `cancelled` with `recipient_opted_out`; the caller writes them
    with their history, as it writes the rest of its claim."""
    # An erased person's message (a retry of one in flight, a resend of an unknown one) names
    # their pseudonym, which no ledger record hashes to: never sent either.
    erased = [m for m in messages if m.to_address.startswith(PSEUDONYM_PREFIX)]
    candidates = [m for m in messages if not is_consent_reply(m) and m not in erased]
    blocked = await opted_out(db, {(m.to_address, m.from_address) for m in candidates})
    if not blocked and not erased:
        return list(messages), []
    skipped = erased + [m for m in candidates if (m.to_address, m.from_address) in blocked]
    for message in skipped:
        message.status = status.CANCELLED
        message.error_code = ERROR_CODE
        message.error_message = "not sent: the recipient opted out of this sender"
        message.next_attempt_at = None
        message.lease_expires_at = None
    gone = {m.id for m in skipped}
    return [m for m in messages if m.id not in gone], skipped


async def note_provider_opt_outs(db: AsyncSession, messages: Iterable[Message]) -> None:
    """A send that failed with a provider's opt-out or block code (`PROVIDER_OPT_OUT_CODES`)
    records an opt-out of every sender (source `provider`), unless one already holds."""
    hits = {
        m.to_address: m
        for m in messages
        if m.status in status.FAILURES
        and (m.provider, m.error_code or "") in PROVIDER_OPT_OUT_CODES
        # A keyword's confirmation refused by Plivo (sent more than 5 minutes after the STOP,
        # or a second one) says only what the ledger already holds for that sender.
        and not is_consent_reply(m)
    }
    if not hits:
        return
    held = await opted_out(db, {(to, ALL_SENDERS) for to in hits})
    for to, message in hits.items():
        if (to, ALL_SENDERS) in held:
            continue
        await record(db, _provider_opt_out(message))


def _provider_opt_out(message: Message) -> Change:
    code = message.error_code or ""
    return Change(
        address=message.to_address,
        action=OPT_OUT,
        source="provider",
        scope=ALL_SENDERS,
        channel=message.channel,
        evidence={
            "message_id": str(message.id),
            "provider": message.provider,
            "error_code": code,
            "reason": PROVIDER_OPT_OUT_CODES[(message.provider, code)],
        },
        actor=f"provider:{message.provider}",
    )


async def opted_out_of(db: AsyncSession, sender: str, addresses: Iterable[str]) -> set[str]:
    """Of these recipient addresses (a campaign's, being staged), the ones that opted out of
    `sender` (or of all)."""
    return {to for to, _ in await opted_out(db, {(to, sender) for to in addresses})}


async def campaign_opted_out(db: AsyncSession, campaign: Campaign) -> tuple[int, int]:
    """How many of a campaign's recipients an opt-out left out: when staged, and at dispatch
    (messages `cancelled` with `recipient_opted_out`); the second is also in its cancelled."""
    query = select(func.count()).where(
        Message.campaign_id == campaign.id, Message.error_code == ERROR_CODE
    )
    at_dispatch = int(await db.scalar(query) or 0)
    return campaign.opted_out, at_dispatch


async def audit(db: AsyncSession, change: Change, actor: str, origin: str | None) -> None:
    """The audit entry of a consent change made by a person (API, inbox, import), in the
    change's transaction: the address as its keyed hash, never the number."""
    hasher = await address_hasher(db)
    await log.record(
        db,
        actor=actor,
        action="consent.changed",
        target=f"address:{hasher(change.address)}",
        origin=origin,
        detail={
            "action": change.action,
            "scope": change.scope,
            "source": change.source,
            "kind": change.kind,
        },
    )


# ------------------------------------------------------------------------ reading the ledger


async def ledger_of(db: AsyncSession, address: str) -> list[ConsentRecord]:
    """Every record of `address`, oldest first (erased ones included: found by hash)."""
    hasher = await address_hasher(db)
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.address_hash == hasher(address))
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    )
    return list(await db.scalars(query))


def states_of(records: Sequence[ConsentRecord], now: datetime) -> dict[str, State]:
    """The current state in each scope the records name (and `*`)."""
    entries = [Entry(r.id, r.scope, r.action, r.kind, r.expires_at, r.recorded_at) for r in records]
    scopes = {ALL_SENDERS, *(e.scope for e in entries)}
    return {scope: decide(entries, scope, now) for scope in sorted(scopes)}
