"""WhatsApp business rules, for both providers: the 24-hour window and approved templates.

A user's inbound WhatsApp message opens a 24-hour customer-service window for the pair
(our number, the user); each further inbound message restarts it, our own messages do not.
Inside it anything may be sent; outside it only a template. A template must exist in the store
for its language and be APPROVED, wherever the window stands. The simulator learns inbound
times from its own inbound injections and reads "now" from its (shiftable) clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from textbridge.simulator.templates import Template, TemplateRef, TemplateStore

WINDOW: Final = timedelta(hours=24)

BreachReason = Literal["outside_window", "unknown_template", "template_not_approved"]


@dataclass(frozen=True)
class Breach:
    """Why a WhatsApp message may not be sent; providers map it to their own error."""

    reason: BreachReason
    detail: str


class ConversationWindows:
    """Last inbound WhatsApp time per (business number, contact)."""

    def __init__(self) -> None:
        self._last_inbound: dict[tuple[str, str], datetime] = {}

    def record_inbound(self, business: str, contact: str, at: datetime) -> None:
        self._last_inbound[(business, contact)] = at

    def last_inbound(self, business: str, contact: str) -> datetime | None:
        return self._last_inbound.get((business, contact))

    def is_open(self, business: str, contact: str, now: datetime) -> bool:
        last = self.last_inbound(business, contact)
        return last is not None and now - last < WINDOW

    def clear(self) -> None:
        self._last_inbound.clear()


def check_whatsapp(
    windows: ConversationWindows,
    templates: TemplateStore,
    business: str,
    contact: str,
    template: TemplateRef | None,
    now: datetime,
) -> Breach | None:
    """The rule an outbound WhatsApp message breaks, if any (``template`` None: free-form)."""
    if template is not None:
        return _check_template(templates.find(template), template)
    if windows.is_open(business, contact, now):
        return None
    return Breach(
        "outside_window",
        f"no message from {contact} in the last 24 hours: only a template may be sent",
    )


def _check_template(found: Template | None, wanted: TemplateRef) -> Breach | None:
    if found is None:
        return Breach(
            "unknown_template", f"template {wanted.name!r} ({wanted.language}) does not exist"
        )
    if found.status != "APPROVED":
        return Breach(
            "template_not_approved",
            f"template {wanted.name!r} ({wanted.language}) is {found.status}, not APPROVED",
        )
    return None
