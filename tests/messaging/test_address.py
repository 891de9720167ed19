"""How a sender's or recipient's address is read (no database: pure rules)."""

from __future__ import annotations

import pytest

from textbridge.messaging import address
from textbridge.messaging.phone import InvalidPhoneNumber
from textbridge.messaging.text import clean, clean_json, excerpt, problem


@pytest.mark.parametrize(
    ("raw", "channel", "kind", "value"),
    [
        ("14155550199", "sms", "e164", "+14155550199"),
        ("+447700900001", "sms", "e164", "+447700900001"),
        ("6834002", "sms", "e164", "+6834002"),  # Niue: a whole number in 7 digits
        ("72345", "sms", "short_code", "72345"),
        ("+72345", "sms", "short_code", "72345"),
        ("12345678", "sms", "short_code", "12345678"),
        ("AMAZON", "sms", "alphanumeric", "AMAZON"),
        ("Amazon Prime Video", "sms", "alphanumeric", "Amazon Prime Video"),
        ("US.13491208655302741918", "whatsapp", "whatsapp_bsuid", "US.13491208655302741918"),
        (
            "US.ENT.13491208655302741918",
            "whatsapp",
            "whatsapp_bsuid",
            "US.ENT.13491208655302741918",
        ),
        ("US.13491208655302741918", "sms", "alphanumeric", "US.13491208655302741918"),
    ],
)
def test_a_sender_address_is_read_with_its_kind(
    raw: str, channel: str, kind: str, value: str
) -> None:
    assert address.of_sender(raw, channel) == address.Address(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["", "  ", "A" * 141, "1" * 16, "AB\x07C"])
def test_a_sender_address_that_cannot_be_stored_is_refused(raw: str) -> None:
    with pytest.raises(address.InvalidAddress):
        address.of_sender(raw, "sms")


def test_recipients_are_strict_for_numbers_and_explain_the_others() -> None:
    with pytest.raises(InvalidPhoneNumber):
        address.of_recipient("4155550100", "sms")
    phone = address.of_recipient("+14155550199", "sms")
    assert address.refusal(phone, "sms", "plivo") is None
    sender_id = address.of_recipient("AMAZON", "sms")
    assert "alphanumeric sender ID" in (address.refusal(sender_id, "sms", None) or "")
    short_code = address.of_recipient("72345", "sms")
    assert "short code" in (address.refusal(short_code, "sms", None) or "")
    bsuid = address.of_recipient("US.13491208655302741918", "whatsapp")
    assert address.refusal(bsuid, "whatsapp", None) is None
    assert address.refusal(bsuid, "whatsapp", "vonage") is None
    assert "only Vonage" in (address.refusal(bsuid, "whatsapp", "plivo") or "")


def test_text_is_cleaned_checked_and_quoted() -> None:
    assert clean("a\x00b\ud800c\ud83d\ude00") == "ab\ufffdc\U0001f600"
    assert clean("plain") == "plain"
    assert clean_json({"k\x00": ["\udfff", float("nan"), 1]}) == {"k": ["\ufffd", "nan", 1]}
    unchanged = {"k": "v"}
    assert clean_json(unchanged) is unchanged
    assert problem("ok") is None
    assert "NUL" in (problem("a\x00") or "")
    assert "surrogate" in (problem("\ud800") or "")
    assert excerpt("x" * 30) == repr("x" * 20) + "…"
    assert excerpt("a\x00") == "'a\\x00'"
