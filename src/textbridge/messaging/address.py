"""Contact addresses: not every sender is a phone number.

=================  ===========================  ===============================================
kind               example                      stored as
=================  ===========================  ===============================================
``e164``           ``+14155550199``             E.164, normalized (`phone.to_e164` where valid)
``short_code``     ``72345``                    3 to 8 digits as the carrier sent them, no ``+``
``alphanumeric``   ``AMAZON``, ``HSBC``         as sent (GSM allows 11 letters, digits and
                                                spaces; carriers send what they like, so we
                                                accept up to `MAX_LENGTH`)
``whatsapp_bsuid`` ``US.13491208655302741918``  as sent: Meta's business-scoped user id, a
                                                country code, a dot and up to 128 letters or
                                                digits (a parent id has ``.ENT.``), WhatsApp
=================  ===========================  ===============================================

`of_sender` reads the address of whoever wrote to us, as a provider wrote it: leniently, since
a carrier's word is a fact we must keep. `of_recipient` reads an API `to`: strictly for phone
numbers, and it recognizes the other kinds so that `refusal` can say why one cannot be sent to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from textbridge.messaging.phone import country_of, to_e164
from textbridge.messaging.text import excerpt

AddressKind = Literal["e164", "short_code", "alphanumeric", "whatsapp_bsuid", "erased"]
E164: AddressKind = "e164"
SHORT_CODE: AddressKind = "short_code"
ALPHANUMERIC: AddressKind = "alphanumeric"
WHATSAPP_BSUID: AddressKind = "whatsapp_bsuid"
ERASED: AddressKind = "erased"
"""A contact whose data was erased: its address is a pseudonym (`compliance.erasure`)."""

MAX_LENGTH = 140
"""The longest address we store: a parent BSUID is 2 + 1 + 4 + 128 characters."""
MAX_SHORT_CODE_DIGITS = 8
MAX_E164_DIGITS = 15

_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
_NUMERIC = re.compile(r"\+?[0-9]+")

BSUID_PROVIDERS = ("vonage",)
"""Who sends to a BSUID: Vonage's `to` takes one (Messages API); Plivo's `dst` is a number
(it strips `.`), so Plivo cannot."""


class InvalidAddress(ValueError):
    """An address we cannot store or send to; the message says why."""


@dataclass(frozen=True, slots=True)
class Address:
    kind: AddressKind
    value: str

    @property
    def country(self) -> str | None:
        if self.kind == E164:
            return country_of(self.value)
        return self.value[:2] if self.kind == WHATSAPP_BSUID else None


def of_sender(raw: str, channel: str) -> Address:
    """The address a contact wrote from, as a provider gave it (`+` optional on numbers)."""
    text = raw.strip()
    if not text:
        raise InvalidAddress("the sender address is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidAddress(
            f"the sender address {excerpt(text)} is longer than {MAX_LENGTH} characters"
        )
    if not text.isprintable():
        raise InvalidAddress(f"the sender address {excerpt(text)} has control characters")
    if channel == "whatsapp" and _BSUID.fullmatch(text):
        return Address(WHATSAPP_BSUID, text)
    if _NUMERIC.fullmatch(text):
        return _numeric(text.removeprefix("+"))
    return Address(ALPHANUMERIC, text)


def _numeric(digits: str) -> Address:
    # A 7- or 8-digit string may be a whole number of a small country (Niue: +683 4002).
    if len(digits) <= MAX_SHORT_CODE_DIGITS and not _valid_number(digits):
        return Address(SHORT_CODE, digits)
    if len(digits) > MAX_E164_DIGITS:
        raise InvalidAddress(f"{excerpt(digits)} has more digits than an E.164 number (15)")
    # A number phonenumbers does not know (new ranges) is still the carrier's word.
    return Address(E164, f"+{digits}")


def _valid_number(digits: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(f"+{digits}", None))
    except phonenumbers.NumberParseException:
        return False


def of_recipient(raw: str, channel: str) -> Address:
    """An API `to`: an E.164 number (validated, `InvalidPhoneNumber` otherwise), or one of the
    other kinds, recognized so that `refusal` can explain why it cannot receive."""
    text = raw.strip()
    if channel == "whatsapp" and _BSUID.fullmatch(text):
        return Address(WHATSAPP_BSUID, text)
    if text.isdigit() and len(text) <= MAX_SHORT_CODE_DIGITS:
        return Address(SHORT_CODE, text)
    if any(character.isalpha() for character in text) and not text.startswith("+"):
        return Address(ALPHANUMERIC, text)
    return Address(E164, to_e164(text))


def refusal(address: Address, channel: str, provider: str | None) -> str | None:
    """Why a message to `address` cannot be sent on `channel` through `provider`, or None
    (`provider` None: only the reasons that hold whatever the provider)."""
    if address.kind == ERASED:
        return "this contact was erased at their request: their address is no longer known"
    if address.kind == ALPHANUMERIC:
        return (
            f"{excerpt(address.value)} is an alphanumeric sender ID: it can send messages but "
            "cannot receive them"
        )
    if address.kind == SHORT_CODE:
        # Plivo's `dst` and Vonage's `to` are phone numbers in international format; neither
        # documents delivery to a short code, so a reply could only fail at the carrier.
        return (
            f"{address.value} is a short code: Plivo and Vonage deliver only to phone numbers, "
            "so a reply cannot reach it (a phone number is written in E.164, e.g. +14155550100)"
        )
    if address.kind == WHATSAPP_BSUID and (
        channel != "whatsapp" or provider not in (None, *BSUID_PROVIDERS)
    ):
        return (
            f"{excerpt(address.value)} is a WhatsApp business-scoped user id: only Vonage "
            "WhatsApp can send to it"
        )
    return None
