"""Phone numbers: everything we store is E.164, validated with `phonenumbers`."""

from __future__ import annotations

import functools

import phonenumbers

from textbridge.messaging.text import excerpt

NUMBERS_KEPT = 4096


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str) -> str:
    """`+14155550100` for any valid international form; InvalidPhoneNumber otherwise."""
    return e164_and_country(raw)[0]


@functools.lru_cache(maxsize=NUMBERS_KEPT)
def e164_and_country(raw: str) -> tuple[str, str | None]:
    """`to_e164` and the number's country (ISO 3166 alpha-2) from one parse: bulk paths
    (campaigns) validate many numbers, and parsing is most of the cost. The answers for the
    last `NUMBERS_KEPT` numbers are kept (a refusal is not): an application sends to the same
    people again and again, and the parse was most of the API send's number check."""
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            f"{excerpt(raw)} is not in international format (E.164, e.g. +14155550100)"
        )
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"{excerpt(raw)} is not a phone number") from None
    # `is_valid_number` is exactly this pair; its region is the one we return, so it is
    # looked up once (for the 25 regions of +1 that lookup matches the number's patterns).
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):
        raise InvalidPhoneNumber(f"{excerpt(raw)} is not a valid phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, region


def country_of(e164: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
