"""Phone numbers: everything we store is E.164, validated with `phonenumbers`."""

from __future__ import annotations

import phonenumbers

from textbridge.messaging.text import excerpt


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str) -> str:
    """`+14155550100` for any valid international form; InvalidPhoneNumber otherwise."""
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            f"{excerpt(raw)} is not in international format (E.164, e.g. +14155550100)"
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"{excerpt(raw)} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"{excerpt(raw)} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_of(e164: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
