"""Keywords in inbound messages: record the opt-out or opt-in, then confirm it.

Called by `messaging.service` for the inbound messages it has just stored (one call per batch;
nothing is queried when none of them is a keyword). For each keyword:

- STOP family: an opt-out (source `keyword`, evidence the inbound message), of the sender the
  message was sent to, or of every sender for STOPALL (or with `stop_scope="all"`);
- START family: an opt-in of that sender; YES only where the address is opted out there;
- HELP family: no change to consent;

and then the reply for the family, from the same sender (the sender's own text, else the
configured one; an empty text sends nothing). The reply is marked (`consent.CONSENT_REPLY`)
so that dispatch lets it through: it is the one message an opted-out address still gets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from textbridge.compliance import consent, keywords
from textbridge.compliance.keywords import Match
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.dispatch import priority
from textbridge.messaging import address, status
from textbridge.messaging import service as messaging
from textbridge.messaging.content import SENDER_CHANNEL
from textbridge.messaging.encoding import analyze
from textbridge.messaging.schemas import MessageOut
from textbridge.models import Conversation, Message, MessageEvent, Sender
from textbridge.models.consent_record import ALL_SENDERS
from textbridge.providers.base import InboundMessage

EVIDENCE_WORD_LENGTH = 40


@dataclass(frozen=True, slots=True)
class Arrival:
    """An inbound message just stored: the event, our message id, its conversation."""

    inbound: InboundMessage
    message_id: uuid.UUID
    conversation: Conversation


async def on_inbound(uow: UnitOfWork, arrivals: Sequence[Arrival]) -> None:
    policy = keywords.active()
    for arrival in arrivals:
        match = policy.match(arrival.inbound)
        if match is not None:
            await _handle(uow, policy, arrival, match)


async def _handle(
    uow: UnitOfWork, policy: keywords.KeywordPolicy, arrival: Arrival, match: Match
) -> None:
    inbound = arrival.inbound
    contact = address.of_sender(inbound.from_address, inbound.channel).value
    scope = ALL_SENDERS if match.all_senders else inbound.to_address
    if match.after_opt_out_only and not await _opted_out(uow, contact, inbound.to_address):
        return  # a plain "yes" in a conversation
    if match.family != "help":
        await consent.record(uow.session, _change(arrival, match, contact, scope))
    sender = await uow.session.get(Sender, arrival.conversation.sender_id)
    assert sender is not None
    text = _reply_text(policy, sender, match)
    if text:
        await _reply(uow, arrival, sender, contact, text, match)


async def _opted_out(uow: UnitOfWork, contact: str, sender: str) -> bool:
    return await consent.state(uow.session, contact, sender) == "opted_out"


def _change(arrival: Arrival, match: Match, contact: str, scope: str) -> consent.Change:
    inbound = arrival.inbound
    evidence: dict[str, str] = {
        "message_id": str(arrival.message_id),
        "provider": inbound.provider,
        "provider_message_id": inbound.provider_message_id,
        "keyword": match.word[:EVIDENCE_WORD_LENGTH],
        "matched_by": match.by,
        "language": match.language,
    }
    return consent.Change(
        address=contact,
        action=consent.OPT_OUT if match.family == "stop" else consent.OPT_IN,
        source="keyword",
        scope=scope,
        channel=inbound.channel,
        evidence=evidence,
        actor="contact",
    )


def _reply_text(policy: keywords.KeywordPolicy, sender: Sender, match: Match) -> str:
    own: str | None = getattr(sender, f"reply_{match.family}")
    return own if own is not None else policy.reply(match)


async def _reply(
    uow: UnitOfWork, arrival: Arrival, sender: Sender, to: str, text: str, match: Match
) -> None:
    channel = SENDER_CHANNEL[arrival.inbound.channel]
    encoding = analyze(text) if channel == "sms" else None
    now = utcnow()
    message = Message(
        id=uuid.uuid4(),
        conversation_id=arrival.conversation.id,
        direction="outbound",
        channel=channel,
        provider=sender.provider,
        from_address=sender.address,
        to_address=to,
        body=text,
        content_type="text",
        payload={consent.CONSENT_REPLY: match.family},
        status=status.ACCEPTED,
        encoding=encoding.encoding if encoding else None,
        segments=encoding.segments if encoding else None,
        attempts=0,
        priority=priority.CONVERSATION,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        attachments=[],
    )
    uow.session.add(message)
    uow.session.add(
        MessageEvent(
            id=uuid.uuid4(),
            message_id=message.id,
            dedup_key=f"textbridge:{message.id}:{message.status}:0",
            source="textbridge",
            status=message.status,
            occurred_at=now,
            received_at=now,
        )
    )
    await uow.session.flush()
    messaging.touch(arrival.conversation, message, inbound=False)
    uow.emit("message.created", MessageOut.of(message).event_data())
