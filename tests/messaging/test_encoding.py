import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from textbridge.messaging.encoding import (
    GSM7_BASIC_CHARS,
    GSM7_EXTENSION_CHARS,
    EncodingInfo,
    analyze,
)

DIGITS = "1234567890" * 40
EXTENSION_CHARS = sorted(GSM7_EXTENSION_CHARS)


def test_tables_have_expected_sizes() -> None:
    assert len(GSM7_BASIC_CHARS) == 127
    assert len(GSM7_EXTENSION_CHARS) == 10
    assert GSM7_BASIC_CHARS.isdisjoint(GSM7_EXTENSION_CHARS)


def test_empty_message_is_one_gsm7_segment() -> None:
    assert analyze("") == EncodingInfo("GSM-7", 1, 0, 0, ())


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        # Twilio message-segment-calculator vectors.
        (DIGITS[:160], "GSM-7", 1, 160),
        (DIGITS[:161], "GSM-7", 2, 161),
        (DIGITS[:306], "GSM-7", 2, 306),
        (DIGITS[:307], "GSM-7", 3, 307),
        ("😜" + DIGITS[1:69], "UCS-2", 1, 70),
        ("😜" + DIGITS[1:70], "UCS-2", 2, 71),
        ("😜" + DIGITS[1:134], "UCS-2", 3, 135),
        ("Á" * 70, "UCS-2", 1, 70),
        ("Á" * 71, "UCS-2", 2, 71),
        # An emoji forces UCS-2, where ']' is a single code unit.
        ("😀" + "]" * 68, "UCS-2", 1, 70),
        ("😀" + "]" * 69, "UCS-2", 2, 71),
        # CRLF is two characters (two septets).
        ("\r\n", "GSM-7", 1, 2),
        ("\r\n" * 80, "GSM-7", 1, 160),
        ("\r\n" * 80 + "a", "GSM-7", 2, 161),
        ("`", "UCS-2", 1, 1),
    ],
)
def test_vectors(text: str, encoding: str, segments: int, units: int) -> None:
    info = analyze(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)
    assert info.characters == len(text)


@pytest.mark.parametrize("char", EXTENSION_CHARS)
def test_extension_char_at_single_segment_boundary(char: str) -> None:
    assert analyze("a" * 158 + char) == EncodingInfo("GSM-7", 1, 159, 160, ())
    assert analyze("a" * 159 + char) == EncodingInfo("GSM-7", 2, 160, 161, ())


def test_escape_pair_is_not_split_across_segments() -> None:
    # '€' would straddle septets 153/154, so it opens segment 2: 152 | 2 + 151.
    assert analyze("a" * 152 + "€" + "a" * 151).segments == 2
    # One more septet needs a third segment although 306 == 2 * 153.
    info = analyze("a" * 152 + "€" + "a" * 152)
    assert (info.units, info.segments) == (306, 3)


def test_surrogate_pair_is_not_split_across_segments() -> None:
    # The emoji would straddle units 67/68, so it opens segment 2: 66 | 2 + 65.
    assert analyze("a" * 66 + "😀" + "a" * 65).segments == 2
    info = analyze("a" * 66 + "😀" + "a" * 66)
    assert (info.units, info.segments) == (134, 3)


def test_ucs2_characters_are_distinct_in_order_of_first_appearance() -> None:
    info = analyze("`héllo Á😀Á wörld`")
    assert info.ucs2_characters == ("`", "Á", "😀")
    assert info.characters == 17
    assert info.units == 18


GSM_ALPHABET = sorted(GSM7_BASIC_CHARS | GSM7_EXTENSION_CHARS)
TEXTS = st.one_of(
    st.text(st.sampled_from(GSM_ALPHABET), max_size=400),
    st.text(st.one_of(st.sampled_from(GSM_ALPHABET), st.characters()), max_size=200),
)


@given(TEXTS)
def test_properties(text: str) -> None:
    info = analyze(text)
    non_gsm = [c for c in text if c not in GSM7_BASIC_CHARS | GSM7_EXTENSION_CHARS]
    assert info.segments >= 1
    assert info.characters == len(text)
    assert (info.encoding == "UCS-2") == bool(non_gsm)
    assert info.ucs2_characters == tuple(dict.fromkeys(non_gsm))
    single, part = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    assert (info.units <= single) == (info.segments == 1)
    if info.segments > 1:
        # Greedy packing wastes at most one unit per segment (a 2-unit char).
        assert math.ceil(info.units / part) <= info.segments
        assert info.segments <= math.ceil(info.units / (part - 1))
