"""A known set of messages, consent records and one campaign around the night Europe/Paris
moves its clocks forward (2026-03-29, 01:00 UTC: from UTC+1 to UTC+2), with every figure the
analytics reports must give for it, worked out by hand in the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from textbridge.models import Campaign, ConsentRecord, Contact, Conversation, Message

from ..support.database import Database

PLIVO_SMS = "+14155550100"
VONAGE_SMS = "+14155550102"
VONAGE_WHATSAPP = "+14155550103"
ANN = "+14155550181"
BOB = "+14155550182"
CAROL = "+14155550183"
CAMPAIGN_ID = uuid.UUID("00000000-0000-4000-8000-00000000ca11")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sender_ids(database: Database) -> dict[str, uuid.UUID]:
    rows = database.rows("SELECT address, id FROM senders")
    return {address: uuid.UUID(str(sender_id)) for address, sender_id in rows}


def seed(database: Database) -> None:
    senders = _sender_ids(database)
    contacts = {address: uuid.uuid4() for address in (ANN, BOB, CAROL)}
    database.run(
        insert(Contact).values(
            [
                {"id": i, "address": a, "created_at": at("2026-03-01 00:00")}
                for a, i in contacts.items()
            ]
        )
    )
    conversations = {
        "ann_sms": _conversation(contacts[ANN], senders[PLIVO_SMS], "sms", "2026-03-30 15:00"),
        "bob_sms": _conversation(contacts[BOB], senders[PLIVO_SMS], "sms", "2026-03-30 10:00"),
        "carol_sms": _conversation(contacts[CAROL], senders[PLIVO_SMS], "sms", None),
        "ann_vonage": _conversation(contacts[ANN], senders[VONAGE_SMS], "sms", None),
        "ann_wa": _conversation(
            contacts[ANN], senders[VONAGE_WHATSAPP], "whatsapp", "2026-03-30 11:00"
        ),
    }
    database.run(insert(Conversation).values(list(conversations.values())))
    database.run(insert(Campaign).values(_campaign(senders[PLIVO_SMS])))
    ids = {name: row["id"] for name, row in conversations.items()}
    database.run(insert(Message).values([_message(ids, *spec) for spec in MESSAGES]))
    database.run(insert(ConsentRecord).values(CONSENT))


def _conversation(
    contact: uuid.UUID, sender: uuid.UUID, channel: str, last_inbound: str | None
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "contact_id": contact,
        "sender_id": sender,
        "channel": channel,
        "last_inbound_at": at(last_inbound) if last_inbound else None,
        "unread_count": 0,
        "created_at": at("2026-03-01 00:00"),
    }


def _campaign(sender: uuid.UUID) -> dict[str, Any]:
    return {
        "id": CAMPAIGN_ID,
        "name": "Spring sale",
        "state": "completed",
        "channel": "sms",
        "provider": "plivo",
        "sender_id": sender,
        "from_address": PLIVO_SMS,
        "recipients": 4,
        "opted_out": 1,
        "invalid_rows": [],
        "created_at": at("2026-03-30 07:00"),
        "started_at": at("2026-03-30 08:00"),
    }


# (created UTC, conversation, direction, status, error code, seconds to delivered, price,
#  in the campaign); Paris local day in the comment.
MESSAGES: list[tuple[str, str, str, str, str | None, int | None, str | None, bool]] = [
    ("2026-03-27 22:59:59", "ann_sms", "outbound", "delivered", None, 5, "0.0050", False),  # 27th
    ("2026-03-27 23:30:00", "ann_sms", "outbound", "delivered", None, 10, "0.0050", False),  # 28th
    ("2026-03-28 12:00:00", "bob_sms", "outbound", "delivered", None, 20, "0.0050", False),  # 28th
    ("2026-03-28 22:59:59", "bob_sms", "outbound", "failed", "30", None, None, False),  # 28th
    ("2026-03-28 23:00:00", "ann_wa", "outbound", "read", None, 40, "0.0100", False),  # 29th
    ("2026-03-29 21:59:59", "ann_vonage", "outbound", "rejected", "6", None, None, False),  # 29th
    ("2026-03-29 22:00:00", "ann_sms", "inbound", "received", None, None, None, False),  # 30th
    ("2026-03-30 10:00:00", "bob_sms", "inbound", "received", None, None, None, False),  # 30th
    ("2026-03-30 11:00:00", "ann_wa", "inbound", "received", None, None, None, False),  # 30th
    ("2026-03-30 12:00:00", "ann_sms", "outbound", "sent", None, None, "0.0050", True),  # 30th
    ("2026-03-30 13:00:00", "bob_sms", "outbound", "delivered", None, 100, "n/a", True),  # 30th
    (
        "2026-03-30 14:00:00",
        "carol_sms",
        "outbound",
        "cancelled",
        "recipient_opted_out",
        None,
        None,
        True,
    ),  # 30th
    ("2026-03-30 21:59:00", "ann_sms", "outbound", "undelivered", "30", None, None, True),  # 30th
    ("2026-03-30 22:00:00", "ann_sms", "outbound", "delivered", None, 7, "0.0050", False),  # 31st
]
REASONS = {"30": "Unknown destination", "6": "Anti-spam rejection", "recipient_opted_out": None}
ADDRESSES = {
    "ann_sms": (ANN, PLIVO_SMS, "plivo", "sms"),
    "bob_sms": (BOB, PLIVO_SMS, "plivo", "sms"),
    "carol_sms": (CAROL, PLIVO_SMS, "plivo", "sms"),
    "ann_vonage": (ANN, VONAGE_SMS, "vonage", "sms"),
    "ann_wa": (ANN, VONAGE_WHATSAPP, "vonage", "whatsapp"),
}


def _message(
    conversations: dict[str, uuid.UUID],
    created: str,
    conversation: str,
    direction: str,
    status: str,
    error_code: str | None,
    seconds: int | None,
    price: str | None,
    in_campaign: bool,
) -> dict[str, Any]:
    contact, ours, provider, channel = ADDRESSES[conversation]
    outbound = direction == "outbound"
    made = at(created)
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversations[conversation],
        "direction": direction,
        "channel": channel,
        "provider": provider,
        "provider_message_id": None if status == "cancelled" else uuid.uuid4().hex,
        "from_address": ours if outbound else contact,
        "to_address": contact if outbound else ours,
        "body": "hello",
        "status": status,
        "error_code": error_code,
        "error_message": REASONS.get(error_code or ""),
        "price": price,
        "campaign_id": CAMPAIGN_ID if in_campaign else None,
        "delivered_at": made + timedelta(seconds=seconds) if seconds is not None else None,
        "created_at": made,
        "updated_at": made,
    }


CONSENT = [
    {
        "address_hash": "a" * 64,
        "action": "opt_out",
        "scope": PLIVO_SMS,
        "channel": "sms",
        "source": "keyword",
        "recorded_at": at("2026-03-28 23:30"),  # Paris, the 29th
    },
    {
        "address_hash": "b" * 64,
        "action": "opt_out",
        "scope": "*",
        "channel": None,
        "source": "api",
        "recorded_at": at("2026-03-29 10:00"),  # the 29th
    },
    {
        "address_hash": "a" * 64,
        "action": "opt_in",
        "scope": PLIVO_SMS,
        "channel": "sms",
        "source": "keyword",
        "recorded_at": at("2026-03-30 09:00"),  # the 30th
    },
    {
        "address_hash": "c" * 64,
        "action": "opt_out",
        "scope": VONAGE_SMS,
        "channel": "sms",
        "source": "keyword",
        "recorded_at": at("2026-03-30 22:30"),  # the 31st: outside
    },
]


def seed_a_fortnight(database: Database, last_day: datetime, per_day: int = 60) -> None:
    """Plausible traffic over the 14 days up to `last_day`, for the dashboard's screenshot:
    deterministic (a seeded generator), several channels, providers, failures and prices."""
    import random

    chooser = random.Random(9)
    senders = _sender_ids(database)
    people = [f"+1415555{n:04d}" for n in range(300, 340)]
    contacts = {address: uuid.uuid4() for address in people}
    database.run(
        insert(Contact).values(
            [
                {"id": i, "address": a, "created_at": at("2026-01-01 00:00")}
                for a, i in contacts.items()
            ]
        )
    )
    lines = [(PLIVO_SMS, "plivo", "sms"), (VONAGE_SMS, "vonage", "sms"),
             (VONAGE_WHATSAPP, "vonage", "whatsapp")]  # fmt: skip
    threads = {}
    for person in people:
        ours, provider, channel = lines[chooser.randrange(3)]
        threads[person] = (_conversation(contacts[person], senders[ours], channel, None), ours,
                           provider, channel)  # fmt: skip
    database.run(insert(Conversation).values([t[0] for t in threads.values()]))
    campaign = {**_campaign(senders[PLIVO_SMS]), "id": uuid.uuid4(), "name": "Winter offers",
                "started_at": last_day - timedelta(days=10), "opted_out": 3}  # fmt: skip
    database.run(insert(Campaign).values(campaign))
    rows = []
    for back in range(14):
        day = last_day.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=back)
        for _ in range(per_day + chooser.randrange(per_day)):
            person = chooser.choice(people)
            conversation, ours, provider, channel = threads[person]
            made = day + timedelta(seconds=chooser.randrange(86_400))
            row = _lively(chooser, conversation["id"], person, ours, provider, channel, made)
            if ours == PLIVO_SMS and row["direction"] == "outbound" and chooser.random() < 0.5:
                row["campaign_id"] = campaign["id"]
            rows.append(row)
    database.run(insert(Message).values(rows))
    staged = sum(1 for row in rows if row["campaign_id"] is not None)
    database.run(update(Campaign).where(Campaign.id == campaign["id"]).values(recipients=staged))
    database.run(
        insert(ConsentRecord).values(
            [
                {"address_hash": f"{n:064d}", "action": "opt_out", "scope": "*", "channel": "sms",
                 "source": chooser.choice(("keyword", "api")),
                 "recorded_at": last_day - timedelta(days=chooser.randrange(14), hours=3)}
                for n in range(12)
            ]
        )
    )  # fmt: skip


def _lively(
    chooser: Any,
    conversation: uuid.UUID,
    person: str,
    ours: str,
    provider: str,
    channel: str,
    made: datetime,
) -> dict[str, Any]:
    outbound = chooser.random() < 0.65
    roll = chooser.random()
    status = "received"
    if outbound:
        status = "delivered" if roll < 0.86 else "undelivered" if roll < 0.95 else "sent"
    error = chooser.choice(("30", "40", "1050")) if status == "undelivered" else None
    seconds = chooser.lognormvariate(2.2, 0.6) if status == "delivered" else None
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversation,
        "direction": "outbound" if outbound else "inbound",
        "channel": channel,
        "provider": provider,
        "provider_message_id": uuid.uuid4().hex,
        "from_address": ours if outbound else person,
        "to_address": person if outbound else ours,
        "body": "hello",
        "status": status,
        "error_code": error,
        "error_message": {
            "30": "Unknown destination",
            "40": "Carrier rejected",
            "1050": "Number barred",
        }.get(error or ""),
        "price": ("0.0050" if provider == "plivo" else "0.0068") if outbound else None,
        "campaign_id": None,
        "delivered_at": made + timedelta(seconds=seconds) if seconds is not None else None,
        "created_at": made,
        "updated_at": made,
    }
