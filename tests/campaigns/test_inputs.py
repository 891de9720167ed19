"""Recipients files (CSV, JSON, JSON Lines), `{name}` rendering, the price table, and the
per-recipient checks: pure functions, no database."""

from __future__ import annotations

import uuid
from pathlib import Path

import phonenumbers
import pytest

from textbridge.campaigns import prices, recipients
from textbridge.campaigns.prepare import Invalid, Plan, Ready, prepare
from textbridge.campaigns.recipients import RecipientRow
from textbridge.campaigns.render import MissingVariable, placeholders, render
from textbridge.db.base import new_ids
from textbridge.messaging.phone import InvalidPhoneNumber, e164_and_country


def test_csv_rows_stream_with_variables(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("\ufeffName,Phone,City\nAnn,+14155550201,Paris\n\n,  ,\nBob,+14155550202,\n")
    rows = list(recipients.read(path))
    assert rows == [
        RecipientRow(1, "+14155550201", {"Name": "Ann", "City": "Paris"}),
        RecipientRow(4, "+14155550202", {"Name": "Bob", "City": ""}),
    ]


def test_csv_without_an_address_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("name,city\nAnn,Paris\n")
    with pytest.raises(recipients.RecipientsFileError, match="no address column"):
        list(recipients.read(path))


def test_json_array_and_lines(tmp_path: Path) -> None:
    array = tmp_path / "list.json"
    array.write_text(
        '[{"to": "+14155550201", "name": "Ann"},'
        ' {"phone": 14155550202, "variables": {"name": "Bob", "n": 2}}, "oops"]'
    )
    assert list(recipients.read(array)) == [
        RecipientRow(1, "+14155550201", {"name": "Ann"}),
        RecipientRow(2, "14155550202", {"name": "Bob", "n": "2"}),
        RecipientRow(3, "oops", {}),
    ]
    lines = tmp_path / "list.jsonl"
    lines.write_text('{"to": "+14155550201", "name": "Ann"}\n\n{"to": "+14155550202"}\n')
    assert [row.to for row in recipients.read(lines)] == ["+14155550201", "+14155550202"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"to": "+1"}\n{oops\n')
    with pytest.raises(recipients.RecipientsFileError, match="line 2"):
        list(recipients.read(bad))


def test_render_fills_placeholders_and_nothing_else() -> None:
    assert placeholders("Hi {name}, {{literal}} {name} {city}") == ["name", "city"]
    assert render("Hi {name}, {{x}} {0} {a.b}", {"name": "Ann"}) == "Hi Ann, {x} {0} {a.b}"
    with pytest.raises(MissingVariable) as missing:
        render("Hi {name}", {})
    assert missing.value.name == "name"


def test_price_table_from_a_file(tmp_path: Path) -> None:
    table = prices.load(None)
    assert table.micros("plivo", "sms", "US") == 5500
    assert table.micros("plivo", "sms", "ZW") is None
    path = tmp_path / "prices.csv"
    path.write_text(
        "# ours\nprovider,channel,country,price\nplivo,sms,*,0.01\nplivo,sms,us,0.002\n"
    )
    own = prices.load(path)
    assert own.micros("plivo", "sms", "US") == 2000
    assert own.micros("plivo", "sms", "ZW") == 10_000
    path.write_text("provider,channel,country,price\nplivo,sms,US,cheap\n")
    prices.load.cache_clear()
    with pytest.raises(prices.PriceTableError, match="line 2"):
        prices.load(path)
    assert prices.money(5500) == "0.0055"


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ("plivo,sms,GB\n", "line 5: 3 fields; 4 expected (provider,channel,country,price)"),
        (
            "plivo,sms,GB,0.04,extra\n",
            "line 5: 5 fields; 4 expected (provider,channel,country,price)",
        ),
        ("plivo,sms,GB,-1\n", "line 5: '-1' is not a price"),
        ("plivo,sms,GB,\n", "line 5: '' is not a price"),
        ("plivo,sms,GB,NaN\n", "line 5: 'NaN' is not a price"),
        (",sms,GB,0.04\n", "line 5: no provider"),
        ("plivo,sms, ,0.04\n", "line 5: no country"),
        ("\n# later\nplivo,sms,us,0.04\n", "line 7: plivo,sms,US is priced twice"),
    ],
)
def test_a_bad_price_row_names_the_file_and_its_line(tmp_path: Path, rows: str, error: str) -> None:
    """Lines are the file's own, comments and blank lines counted."""
    path = tmp_path / "rates.csv"
    path.write_text("# our rates\n\nprovider,channel,country,price\nplivo,sms,US,0.01\n" + rows)
    with pytest.raises(prices.PriceTableError) as refused:
        prices.load(path)
    assert str(refused.value) == f"{path} {error}"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "the header must be provider,channel,country,price"),
        (b"# only a comment\n", "the header must be provider,channel,country,price"),
        (b"provider,channel,price\n", "the header must be provider,channel,country,price"),
        (b"provider,channel,country,price\nplivo,sms,\xff,1\n", "not UTF-8 text"),
    ],
)
def test_a_bad_price_table_names_the_file(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(content)
    with pytest.raises(prices.PriceTableError) as refused:
        prices.load(path)
    assert str(refused.value) == f"{path}: {error}"


def _plan(text: str = "Hi {name}") -> Plan:
    return Plan("sms", "plivo", text, None, prices.load(None))


@pytest.mark.parametrize(
    ("to", "variables", "reason"),
    [
        ("", {"name": "A"}, "no address"),
        ("+1415", {"name": "A"}, "'+1415' is not a valid phone number"),
        ("HSBC", {"name": "A"}, "'HSBC' is an alphanumeric sender ID"),
        ("+14155550201", {}, "no value for {name}"),
        ("+14155550201", {"name": "\x00"}, "variable 'name' contains a NUL character"),
        ("+14155550201", {"name": "x" * 1700}, "the text has 1703 characters; 1600 at most"),
    ],
)
def test_a_bad_row_is_invalid_with_its_reason(
    to: str, variables: dict[str, str], reason: str
) -> None:
    prepared = prepare(_plan(), RecipientRow(7, to, variables))
    assert isinstance(prepared, Invalid)
    assert prepared.row == 7
    assert prepared.reason.startswith(reason)


def test_a_good_row_is_rendered_counted_and_priced() -> None:
    prepared = prepare(
        _plan("Hi {name} " + "x" * 160), RecipientRow(1, "+447400123456", {"name": "Łukasz"})
    )
    assert isinstance(prepared, Ready)
    assert (prepared.to, prepared.country, prepared.encoding) == ("+447400123456", "GB", "UCS-2")
    assert prepared.segments == 3  # 170 UCS-2 characters: 67 per part
    assert prepared.price_micros == 3 * 40_000


# Pairs that share a prefix but not their validity or region: +1 242 is the Bahamas by its
# leading digits, yet 242-234 is no Bahamian number; 415-155 is no US exchange; +44 7797 is a
# Jersey mobile, +44 7700 900 a reserved range; +1 204 is Canada and +1 205 the US.
NUMBERS = {
    "+12423456789": ("+12423456789", "BS"),
    "+12422345678": None,
    "+14152550100": ("+14152550100", "US"),
    "+14151550100": None,
    "+447797123456": ("+447797123456", "JE"),
    "+447700900123": None,
    "+12042345678": ("+12042345678", "CA"),
    "+1 (205) 234-5678": ("+12052345678", "US"),
    "+3225551234": ("+3225551234", "BE"),
    "+4477009001": None,
}


@pytest.mark.parametrize("raw", list(NUMBERS))
def test_numbers_checked_exactly_as_phonenumbers_does(raw: str) -> None:
    number = phonenumbers.parse(raw, None)
    oracle = (
        (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.region_code_for_number(number),
        )
        if phonenumbers.is_valid_number(number)
        else None
    )
    assert oracle == NUMBERS[raw]
    if oracle is None:
        with pytest.raises(InvalidPhoneNumber, match="is not a valid phone number"):
            e164_and_country(raw)
    else:
        assert e164_and_country(raw) == oracle


def test_rows_sharing_a_text_keep_their_own_counts() -> None:
    plan = Plan("sms", "plivo", "{greeting} and the rest", None, prices.load())
    short, long_ = "Hi", "Hi " + "x" * 200  # 1 segment, 2 segments (GSM-7: 153 per part)
    rows = [
        prepare(plan, RecipientRow(n, f"+1415555{200 + n:04d}", {"greeting": greeting}))
        for n, greeting in enumerate([short, long_, short, long_, "Łukasz"])
    ]
    assert all(isinstance(row, Ready) for row in rows)
    counts = [(r.segments, r.encoding) for r in rows if isinstance(r, Ready)]
    assert counts == [
        (1, "GSM-7"),
        (2, "GSM-7"),
        (1, "GSM-7"),
        (2, "GSM-7"),
        (1, "UCS-2"),
    ]


def test_new_ids_are_distinct_version_4_uuids() -> None:
    ids = new_ids(1000)
    assert len(set(ids)) == 1000
    assert all(isinstance(i, uuid.UUID) for i in ids)
    assert {(i.version, i.variant) for i in ids} == {(4, uuid.RFC_4122)}
    assert {uuid.UUID(str(i)) for i in ids} == set(ids)  # equal, and hashed, as uuid.UUID
    assert new_ids(0) == []
