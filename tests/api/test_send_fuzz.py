"""A small fuzz of the API's main write endpoint: whatever the body, `POST /messages` answers
202, 409 or 422, never a 5xx. Over real HTTP, on both databases."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..support.live import wait_until
from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge

PLIVO_WHATSAPP = "+14155550101"

# NUL and lone surrogates in `text` are the text normalization's part of the issue; every
# other field gets any character.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_ANY_TEXT = st.text(max_size=3000) | st.sampled_from(["", "\x00", "\ud800", "a" * 2001])
_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | _ANY_TEXT
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
_URL = st.sampled_from(["https://example.com/a.jpg", "http://e.com/b.pdf"]) | st.builds(
    lambda path: f"https://example.com/{path}.png", _ANY_TEXT
)
_MEDIA = st.fixed_dictionaries(
    {"url": _URL | _JSON},
    optional={"caption": _ANY_TEXT, "filename": _ANY_TEXT, "mime_type": _ANY_TEXT | _JSON},
)
_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "to": st.sampled_from([CONTACT, "+447700900123", SANDBOX_NUMBER]) | _ANY_TEXT | _JSON,
    "text": _TEXT | _JSON,
    "from": st.sampled_from([SANDBOX_NUMBER, PLIVO_WHATSAPP]) | _ANY_TEXT,
    "channel": st.sampled_from(["sms", "mms", "whatsapp"]) | _ANY_TEXT,
    "provider": st.sampled_from(["plivo", "vonage"]) | _ANY_TEXT,
    "media": _MEDIA | st.lists(_MEDIA, max_size=12) | _JSON,
    "template": st.fixed_dictionaries(
        {"name": _ANY_TEXT},
        optional={"language": _ANY_TEXT, "parameters": _JSON},
    ),
    "interactive": st.fixed_dictionaries(
        {"type": st.sampled_from(["button", "list", "cta_url"]), "body": _JSON, "action": _JSON}
    )
    | _JSON,
    "location": st.fixed_dictionaries(
        {"latitude": _SCALAR, "longitude": _SCALAR}, optional={"name": _ANY_TEXT}
    ),
    "extra": _JSON,
}
_BODIES = st.fixed_dictionaries({}, optional=_FIELDS) | _JSON


def open_whatsapp_window(textbridge: Textbridge) -> None:
    """The contact writes to our Plivo WhatsApp number (once per app)."""
    query = "SELECT count(*) FROM conversations WHERE channel = 'whatsapp'"
    if textbridge.database.scalar(query):
        return
    inbound = {"from": CONTACT, "to": PLIVO_WHATSAPP, "text": "hi", "type": "whatsapp"}
    response = textbridge.simulator.post("/control/plivo/inbound", json=inbound)
    assert response.status_code == 200, response.text
    wait_until(lambda: textbridge.database.scalar(query), timeout=30)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_BODIES, key=st.none() | st.sampled_from(["k1", "k2"]))
def test_no_body_makes_a_5xx(textbridge: Textbridge, body: Any, key: str | None) -> None:
    open_whatsapp_window(textbridge)  # so that WhatsApp content reaches the database
    headers = {"content-type": "application/json", **({"Idempotency-Key": key} if key else {})}
    # ASCII JSON: a lone surrogate travels as its escape, as any client could send it.
    content = json.dumps(body).encode()
    response = textbridge.api.post("/api/v1/messages", content=content, headers=headers)
    assert response.status_code in (202, 409, 422), (body, response.text)
