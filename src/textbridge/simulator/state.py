"""In-memory state of the simulator: messages, destination fates, fault switches, the clock
offset, WhatsApp windows and templates."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from textbridge.simulator.accounts import Accounts
from textbridge.simulator.plivo.vocabulary import (
    DEFAULT_ERROR_CODES,
    NUMBER_PUNCTUATION,
    CallbackMethod,
    MessageType,
    Outcome,
)
from textbridge.simulator.templates import TemplateStore
from textbridge.simulator.vonage.vocabulary import DEFAULT_ERROR_CODES as VONAGE_DEFAULT_CODES
from textbridge.simulator.whatsapp import ConversationWindows

Direction = Literal["inbound", "outbound"]
Provider = Literal["plivo", "vonage"]
PROVIDERS: tuple[Provider, ...] = ("plivo", "vonage")

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
    """How messages to one destination end.

    ``provider`` None: the fate applies to both providers, ``error_code`` being Plivo's (Vonage
    then reports its own default code). Otherwise only that provider's messages use it.
    """

    outcome: Outcome = "delivered"
    error_code: str | None = None
    provider: Provider | None = None

    @classmethod
    def of(
        cls, outcome: Outcome, error_code: str | None = None, provider: Provider | None = None
    ) -> NumberFate:
        """A fate whose failure carries ``error_code`` or the outcome's default code."""
        if outcome == "delivered":
            return cls(outcome, provider=provider)
        defaults = VONAGE_DEFAULT_CODES if provider == "vonage" else DEFAULT_ERROR_CODES
        return cls(outcome, error_code or defaults[outcome], provider)

    def view(self) -> dict[str, str | None]:
        """The fate as the control API shows it (``provider`` only when set)."""
        shown: dict[str, str | None] = {"outcome": self.outcome, "error_code": self.error_code}
        if self.provider is not None:
            shown["provider"] = self.provider
        return shown


MAX_SEND_LOG = 1_000_000


@dataclass
class SendFault:
    """The next ``count`` send API calls answer ``status``."""

    status: int
    count: int


TAKEN_BY_DEFAULT: frozenset[int] = frozenset({500, 504})
"""Random faults answered after the message was stored (and its callbacks started): what makes
a 5xx ambiguous. A 502 (a proxy that never reached the API), a 503 and a 429 take nothing."""


@dataclass
class RandomSendFaults:
    """Each send call answers one of ``rates`` (status -> probability) at random; 429 and
    503 carry ``Retry-After: retry_after_seconds``."""

    rates: dict[int, float]
    retry_after_seconds: float = 1.0
    taken: frozenset[int] = TAKEN_BY_DEFAULT
    rng: random.Random = field(default_factory=random.Random)

    def draw(self) -> int | None:
        roll = self.rng.random()
        for status, rate in sorted(self.rates.items()):
            if roll < rate:
                return status
            roll -= rate
        return None


@dataclass(frozen=True)
class SendAttempt:
    """One call of a send API, as answered: ``reference`` is our caller's reference to its
    message (Plivo: the ``ref`` of the callback URL; Vonage: ``client_ref``), ``at`` the
    simulator's real time (epoch seconds) when the call arrived."""

    at: float
    provider: str
    reference: str | None
    status: int
    taken: bool
    retry_after: float | None


@dataclass
class Faults:
    """Fault switches; see the control API."""

    callback_delay_seconds: float
    duplicate_callbacks: bool = False
    shuffle_callbacks: bool = False
    lost_callbacks: float = 0.0
    """The share of status callbacks never sent (a receipt lost on the way; the message's
    status still moves on): 1.0 sends none."""
    fail_next_sends: SendFault | None = None
    send_delay_seconds: float = 0.0
    """A slow provider: a send is stored (and its callbacks start) at once, answered after."""
    random_sends: RandomSendFaults | None = None
    record_sends: bool = False
    """Keep every send call in ``SimulatorState.send_log`` (``GET /control/sends``)."""


@dataclass
class StoredMessage:
    """One message the simulator has seen, in either direction."""

    message_uuid: str
    direction: Direction
    message_type: MessageType  # Plivo's `type`; Vonage's `channel`
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
    provider: Provider = "plivo"
    content_type: str | None = None  # Vonage `message_type`, or the Plivo WhatsApp content kind
    client_ref: str | None = None
    received_at: float = field(default_factory=time.monotonic)
    """When the simulator took it, on its own monotonic clock (seconds; only differences
    mean anything): one clock for every sender process, to check rate limits against."""

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
    now: datetime | None = None,
) -> StoredMessage:
    """A fresh message with a new UUID, priced at ``rate`` per unit, created at ``now``."""
    now = now or utc_now()
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


@dataclass(frozen=True)
class HostedMedia:
    """A medium the simulator serves as the provider's media host would."""

    mime_type: str
    data: bytes


@dataclass
class SimulatorState:
    """Everything the simulator remembers; ``reset`` returns to a fresh start."""

    default_callback_delay: float
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    numbers: dict[str, NumberFate] = field(default_factory=dict)  # fates for both providers
    provider_numbers: dict[Provider, dict[str, NumberFate]] = field(
        default_factory=lambda: {provider: {} for provider in PROVIDERS}
    )
    clock_offset: timedelta = timedelta(0)
    windows: ConversationWindows = field(default_factory=ConversationWindows)
    templates: TemplateStore = field(default_factory=TemplateStore)
    media: dict[tuple[str, str], HostedMedia] = field(default_factory=dict)
    """Hosted inbound media by (message_uuid, media_id) (see ``plivo.media``)."""
    faults: Faults = field(init=False)
    send_log: list[SendAttempt] = field(default_factory=list)
    """Every send call while ``faults.record_sends`` is on (cleared by a reset)."""
    accounts: Accounts = field(default_factory=Accounts)
    """Numbers and applications (kept by a reset: they are the account's set-up)."""

    def __post_init__(self) -> None:
        self.reset_faults()

    def reset_faults(self) -> None:
        self.faults = Faults(callback_delay_seconds=self.default_callback_delay)

    def reset(self) -> None:
        self.messages.clear()
        self.numbers.clear()
        for fates in self.provider_numbers.values():
            fates.clear()
        self.clock_offset = timedelta(0)
        self.windows.clear()
        self.media.clear()
        self.templates.reset()
        self.reset_faults()
        self.send_log.clear()

    def now(self) -> datetime:
        """The simulator's notion of now: the real time shifted by ``clock_offset``."""
        return utc_now() + self.clock_offset

    def add(self, message: StoredMessage) -> None:
        self.messages[message.message_uuid] = message

    def fates(self, provider: Provider | None) -> dict[str, NumberFate]:
        """The fates set for ``provider`` only, or (None) for both providers."""
        return self.numbers if provider is None else self.provider_numbers[provider]

    def fate_for(self, number: str, provider: Provider = "plivo") -> NumberFate:
        """The provider's own fate for ``number``, else the shared one, else delivered."""
        key = number_key(number)
        return self.provider_numbers[provider].get(key) or self.numbers.get(key, NumberFate())

    def record_inbound(self, message: StoredMessage) -> None:
        """Keep ``message`` and, for WhatsApp, open the recipient's 24-hour window."""
        self.add(message)
        if message.message_type == "whatsapp":
            self.windows.record_inbound(
                message.to_number, message.from_number, message.message_time
            )

    async def answer_delay(self) -> None:
        """Hold a send's answer for ``send_delay_seconds`` (the message is already taken)."""
        if self.faults.send_delay_seconds > 0:
            await asyncio.sleep(self.faults.send_delay_seconds)

    def draw_send_fault(self) -> int | None:
        """The status a random fault answers this call with, if one is armed and drawn."""
        faults = self.faults.random_sends
        return faults.draw() if faults is not None else None

    def fault_takes(self, fault: int | None) -> bool:
        """Whether a call answered ``fault`` stores the message first (no fault: it does)."""
        faults = self.faults.random_sends
        return fault is None or (faults is not None and fault in faults.taken)

    def log_send(
        self, provider: str, reference: str | None, status: int, taken: bool, at: float
    ) -> float | None:
        """Keep the call in ``send_log`` when recording; returns the Retry-After it gets."""
        faults = self.faults.random_sends
        retry_after = None
        if faults is not None and status in (429, 503):
            retry_after = faults.retry_after_seconds
        if self.faults.record_sends and len(self.send_log) < MAX_SEND_LOG:
            self.send_log.append(SendAttempt(at, provider, reference, status, taken, retry_after))
        return retry_after

    def take_send_fault(self) -> int | None:
        """The status the current send call must fail with, if a fault is armed (uses one)."""
        fault = self.faults.fail_next_sends
        if fault is None or fault.count <= 0:
            return None
        fault.count -= 1
        if fault.count == 0:
            self.faults.fail_next_sends = None
        return fault.status
