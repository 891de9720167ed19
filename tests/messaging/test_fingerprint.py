"""`SendRequest.fingerprint` is stored as `request_hash` and compared on every retry with the
same Idempotency-Key: it must not change between versions (these digests were computed by
the version before its plain-text shortcut), shortcut or not."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from textbridge.messaging.outbound import MediaRequest, SendRequest

PLAIN = SendRequest(
    to="+14155550100",
    text="hello",
    quiet_hours="08:00-21:00",
    send_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
)
WITH_MEDIA = SendRequest(
    to="+14155550100",
    text="look",
    channel="mms",
    media=(MediaRequest("https://example.com/a.jpg", "cap"),),
)


def test_a_plain_text_request_keeps_its_digest() -> None:
    assert PLAIN.fingerprint() == "d558ee3d2d345140e374cd302ec94852f70e3a18a4366865a285775491688d0d"


def test_a_request_with_media_keeps_its_digest() -> None:
    assert (
        WITH_MEDIA.fingerprint()
        == "0a0d236983d79f6b2323e1173b87554f0c69545dce0ed7db5065b1b520a6f69e"
    )


def test_the_shortcut_gives_what_asdict_gives() -> None:
    assert PLAIN._plain() == asdict(PLAIN)
    assert WITH_MEDIA._plain() == asdict(WITH_MEDIA)


def test_another_body_has_another_digest() -> None:
    assert SendRequest(to="+14155550100", text="hello!").fingerprint() != PLAIN.fingerprint()
