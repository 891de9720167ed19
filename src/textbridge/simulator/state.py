"""In-memory state of the simulator: messages, destination fates and fault switches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from textbridge.simulator.vocabulary import (
    DEFAULT_ERROR_CODES,
    NUMBER_PUNCTUATION,
    CallbackMethod,
    MessageType,
    Outcome,
)

Direction = Literal["inbound", "outbound"]

_PUNCTUATION_TABLE = str.maketrans("", "", NUMBER_PUNCTUATION)


def number_key(raw: str) -> str:
    """A number as Plivo stores it: ``+ - . ( ) /`` and spaces removed."""
    return raw.translate(_PUNCTUATION_TABLE)


def utc_now() -> datetime:
    return datetime.now(UTC)


def callback_time(moment: datetime) -> str:
    """Timestamp format of Plivo callbacks: ``YYYY-mm-dd HH:MM:SS.ffffff`` (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def api_time(moment: datetime | None) -> str | None:
    """Timestamp format of Plivo's message object, e.g. ``2024-08-21 18:28:49.244057+00:00``."""
    return None if moment is None else moment.astimezone(UTC).isoformat(sep=" ")


@dataclass
class NumberFate:
    """How messages to one destination end."""

    outcome: Outcome = "delivered"
    error_code: str | None = None

    @classmethod
    def of(cls, outcome: Outcome, error_code: str | None = None) -> NumberFate:
        """A fate whose failure carries ``error_code`` or the outcome's default code."""
        if outcome == "delivered":
            return cls(outcome)
        return cls(outcome, error_code or DEFAULT_ERROR_CODES[outcome])


@dataclass
class SendFault:
    """The next ``count`` send API calls answer ``status``."""

    status: int
    count: int


@dataclass
class Faults:
    """Fault switches; see the control API."""

    callback_delay_seconds: float
    duplicate_callbacks: bool = False
    shuffle_callbacks: bool = False
    fail_next_sends: SendFault | None = None


@dataclass
class StoredMessage:
    """One message the simulator has seen, in either direction."""

    message_uuid: str
    direction: Direction
    message_type: MessageType
    from_number: str
    to_number: str
    text: str
    units: int
    total_rate: str
    total_amount: str
    message_time: datetime
    state: str
    updated_time: datetime
    media_urls: tuple[str, ...] = ()
    callback_url: str | None = None
    callback_method: CallbackMethod = "POST"
    sent_time: datetime | None = None
    error_code: str | None = None
    history: list[str] = field(default_factory=list)

    def advance(self, status: str, moment: datetime, error_code: str | None = None) -> None:
        """Record a status reached at ``moment``."""
        self.state, self.updated_time = status, moment
        self.history.append(status)
        if status == "sent":
            self.sent_time = moment
        if error_code is not None:
            self.error_code = error_code


def new_message(
    direction: Direction,
    message_type: MessageType,
    from_number: str,
    to_number: str,
    text: str,
    units: int,
    rate: str,
    initial_state: str,
) -> StoredMessage:
    """A fresh message with a new UUID, priced at ``rate`` per unit."""
    now = utc_now()
    return StoredMessage(
        message_uuid=str(uuid.uuid4()),
        direction=direction,
        message_type=message_type,
        from_number=from_number,
        to_number=to_number,
        text=text,
        units=units,
        total_rate=rate,
        total_amount=f"{Decimal(rate) * units:.5f}",
        message_time=now,
        state=initial_state,
        updated_time=now,
    )


@dataclass
class SimulatorState:
    """Everything the simulator remembers; ``reset`` returns to a fresh start."""

    default_callback_delay: float
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    numbers: dict[str, NumberFate] = field(default_factory=dict)
    faults: Faults = field(init=False)

    def __post_init__(self) -> None:
        self.reset_faults()

    def reset_faults(self) -> None:
        self.faults = Faults(callback_delay_seconds=self.default_callback_delay)

    def reset(self) -> None:
        self.messages.clear()
        self.numbers.clear()
        self.reset_faults()

    def add(self, message: StoredMessage) -> None:
        self.messages[message.message_uuid] = message

    def fate_for(self, number: str) -> NumberFate:
        return self.numbers.get(number_key(number), NumberFate())

    def take_send_fault(self) -> int | None:
        """The status the current send call must fail with, if a fault is armed (uses one)."""
        fault = self.faults.fail_next_sends
        if fault is None or fault.count <= 0:
            return None
        fault.count -= 1
        if fault.count == 0:
            self.faults.fail_next_sends = None
        return fault.status
