"""The provider contract: what every provider adapter implements, and the normalized values.

A provider turns our `OutboundMessage` into its wire request and its webhooks into normalized
events. It never touches the database, never retries and never sleeps; the dispatcher decides.

Send errors form a closed hierarchy; what each one becomes (submitted, retried, `unknown`,
failed) is decided in one place, `dispatch/policy.py`, whose table lists every case::

    SendError                       the provider did not take the message
    ├── SendRejected                permanent: bad number, bad content, blocked (retryable=False)
    ├── SendAuthFailed              our credentials were refused (retryable=False)
    ├── SendRateLimited             429: try again after `retry_after` seconds, at most an hour
    │                               (retryable=True; does not use up an attempt)
    ├── SendUnavailable             503, or no connection before the request left
    │                               (retryable=True; `retry_after` when the 503 said)
    └── SendOutcomeUnknown          the request may have been taken (read timeout, lost answer,
                                    500/502/504): never resent blindly; the message becomes
                                    `unknown`
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Channel = Literal["sms", "mms", "whatsapp"]
CHANNELS: tuple[Channel, ...] = ("sms", "mms", "whatsapp")
MediaKind = Literal["image", "audio", "video", "file", "sticker"]
WebhookKind = Literal["inbound", "status"]
JSONObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Media:
    """One attachment. `kind` decides how WhatsApp shows it; `caption` is WhatsApp only."""

    url: str
    kind: MediaKind = "image"
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """An approved WhatsApp template, parameters already resolved into Meta-style components
    (`[{"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}, ...]`)."""

    name: str
    language: str
    components: tuple[JSONObject, ...] = ()


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None

    def coordinate_problems(self) -> list[Problem]:
        problems = []
        if not -90 <= self.latitude <= 90:
            problems.append(Problem("location.latitude", "must be between -90 and 90"))
        if not -180 <= self.longitude <= 180:
            problems.append(Problem("location.longitude", "must be between -180 and 180"))
        return problems


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """What a provider needs to send one message. Addresses are E.164 (`+14155550100`), or a
    WhatsApp business-scoped user id (`US.1349...`) for a provider that sends to one.

    Exactly one kind of content leads: a `template`, an `interactive` object (Meta's schema:
    `{"type": "button" | "list", "body": {...}, "action": {...}}`), a `location`, `media`
    (with `text` as the caption on WhatsApp, or the body of an MMS), or plain `text`.
    """

    message_id: str
    channel: Channel
    from_address: str
    to_address: str
    text: str | None
    status_callback_url: str
    media: tuple[Media, ...] = ()
    template: Template | None = None
    interactive: JSONObject | None = None
    location: Location | None = None

    @property
    def content_type(self) -> str:
        if self.template is not None:
            return "template"
        if self.interactive is not None:
            return "interactive"
        if self.location is not None:
            return "location"
        return "media" if self.media else "text"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a provider cannot carry a message; `field` names the request field at fault."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a contact sent us. `content_type`: text, media, button, reply (interactive),
    location, or unsupported; `reply_id` is the id/payload of the button or row chosen."""

    provider: str
    provider_message_id: str
    channel: Channel
    from_address: str
    to_address: str
    text: str
    segments: int | None = None
    content_type: str = "text"
    media: tuple[Media, ...] = ()
    reply_id: str | None = None
    profile_name: str | None = None
    location: Location | None = None
    sent_at: datetime | None = None
    """When the contact sent it, if the provider says (a webhook can arrive late: Vonage
    retries for up to 24 h). The WhatsApp window counts from here."""
    intent: str | None = None
    """The provider's own reading of a standard keyword (Plivo's `MessageIntent`: `optout`,
    `optin`, `help`), when it gives one; `compliance.keywords` decides what it means."""
    keyword: str | None = None
    """The provider's keyword field (Vonage's `sms.keyword`: the first word, upper-cased)."""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    provider: str
    provider_message_id: str
    provider_status: str
    error_code: str | None = None
    error_description: str | None = None
    occurred_at: datetime | None = None
    price: str | None = None
    client_ref: str | None = None
    """Our message id when the callback carries it (Vonage's `client_ref`; the `ref` query
    parameter of Plivo's callback URL): it finds the message even before the provider's id is
    recorded, and settles a dispatch whose outcome was unknown."""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return (
            f"{self.provider}:{self.provider_message_id}:{self.provider_status}:"
            f"{self.error_code or ''}"
        )


WebhookEvent = InboundMessage | StatusUpdate


def journal_key(provider: str, events: Sequence[WebhookEvent]) -> str:
    """The key that makes a redelivered webhook a no-op: a status by message, status and error
    (a repeat with a new timestamp is still a repeat); an inbound message by its id."""
    event = events[0]
    if isinstance(event, StatusUpdate):
        return f"{provider}:status:{event.dedup_key}"
    return f"{provider}:inbound:{event.provider_message_id}"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A webhook as received: `url` is the public URL the provider called (query included)."""

    method: str
    url: str
    headers: Mapping[str, str]
    params: Sequence[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class ReplayNonce:
    """The single-use nonce of a verified webhook's signature, and a digest of what it signed:
    the same nonce with the same digest is a redelivery, with another digest a replay."""

    value: str
    digest: str


class WebhookPayloadError(ValueError):
    """A verified webhook whose content we cannot understand (answered 400, journaled)."""


# A provider's webhook JSON nests four or five levels; anything far deeper is not one, and
# recursive code downstream (flattening, signing, cleaning) must never meet it.
MAX_WEBHOOK_JSON_DEPTH = 32


def load_webhook_json(body: bytes) -> Any:
    """`json.loads`, with every way it can fail (bad syntax, invalid UTF-8, nesting deep
    enough to exhaust the interpreter's stack) and nesting past `MAX_WEBHOOK_JSON_DEPTH`
    raised as `WebhookPayloadError`."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise WebhookPayloadError("body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise WebhookPayloadError(f"body is not valid JSON: {exc}") from None
    if _deeper_than(value, MAX_WEBHOOK_JSON_DEPTH):
        raise WebhookPayloadError(f"body nests deeper than {MAX_WEBHOOK_JSON_DEPTH} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Without recursion: the value may be as deep as the JSON parser allowed."""
    level = [value]
    for _ in range(limit):
        level = [
            item
            for container in level
            if isinstance(container, dict | list)
            for item in (container.values() if isinstance(container, dict) else container)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest wait a provider's `Retry-After` can impose (a bigger one is clamped to it)."""


def bounded_wait(seconds: float | None) -> float | None:
    """A wait a provider asked for, made safe to add to a datetime: negative -> 0, huge or
    infinite -> `MAX_RETRY_AFTER_SECONDS`, NaN -> None (no usable advice)."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class SendError(Exception):
    retryable: bool = False
    held_back: bool = False
    """True when we held the message back ourselves (it never left): like a 429, such a try
    does not use up an attempt."""

    def __init__(
        self, message: str, *, provider_code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.provider_code = provider_code
        self.retry_after = bounded_wait(retry_after)
        """The wait the provider asked for (`Retry-After`), if it did."""


class SendRejected(SendError):
    pass


class SendAuthFailed(SendError):
    pass


class SendRateLimited(SendError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, provider_code="429", retry_after=retry_after)


class SendUnavailable(SendError):
    retryable = True


class SendOutcomeUnknown(SendError):
    pass


class Provider(Protocol):
    """One provider adapter. Implementations live in `providers/<name>/`."""

    name: str
    channels: frozenset[Channel]
    refused_status: int
    """The HTTP status for a webhook that fails verification (Plivo 403, Vonage 401)."""

    def check(self, message: OutboundMessage) -> list[Problem]:
        """Everything in `message` this provider cannot carry (empty when it can), so that the
        API can refuse the request with 422 before anything is stored or sent."""
        ...

    async def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the provider, or raise a `SendError`."""
        ...

    def verify(self, request: WebhookRequest) -> bool:
        """True when the webhook carries a valid signature for this account."""
        ...

    def unsigned(self, request: WebhookRequest) -> bool:
        """True for a request with no signature at all, where the provider documents sending
        such requests (Vonage after an internal error): it is journaled as `unverified` for a
        person to review, never applied on its own, and never refused outright."""
        ...

    def replay_nonce(self, request: WebhookRequest) -> ReplayNonce | None:
        """The nonce of a verified request's signature, when the provider signs one (Plivo):
        ingest refuses a second request with it (see `ReplayNonce`)."""
        ...

    def parse(self, kind: WebhookKind, request: WebhookRequest) -> list[WebhookEvent]:
        """Normalized events in a verified webhook; `WebhookPayloadError` when unreadable."""
        ...

    def media_headers(self, url: str) -> dict[str, str]:
        """Credentials to download inbound media from this provider's own media URLs; empty
        for any other URL, so that a secret never goes to a host a sender chose."""
        ...

    def status_for(self, provider_status: str) -> str | None:
        """Our status for a provider status, or None when the provider status is unknown."""
        ...

    async def aclose(self) -> None: ...
