"""How data rights read an address, and how they recognise it in stored text."""

from __future__ import annotations

import pytest

from textbridge.compliance.person import Person, normalized


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("+14155550177", "+14155550177"),
        ("14155550177", "+14155550177"),
        (" +1 (415) 555-0177 ", "+14155550177"),
        ("72345", "72345"),  # a short code keeps its form
        ("US.13491208655302741918", "US.13491208655302741918"),
        ("HSBC", "HSBC"),
    ],
)
def test_an_address_is_read_as_it_is_stored(written: str, stored: str) -> None:
    assert normalized(written) == stored


def test_the_number_is_recognised_in_every_form_and_only_as_itself() -> None:
    who = Person("+14155550177", "0" * 64)
    assert who.forms == ("+14155550177", "14155550177")
    stored = ("From=14155550177&", '{"from": "14155550177"}', "To=%2B14155550177", "+14155550177")
    for text in stored:
        assert who.mentions(text), text
    for text in ("141555501770", "914155550177", "From=14155550178"):
        assert not who.mentions(text), text
    assert who.pseudonym == "erased:" + "0" * 64
