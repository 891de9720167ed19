"""Catching up by `Last-Event-ID`: a stream cut and resumed shows what a stream that stayed
connected showed, with no gap and no duplicate; an id too old (or never given out) gets
`reset`. On SQLite (the bus's ring) and PostgreSQL (the `live_events` table). An erasure,
by the API or by another process (the CLI), leaves nothing of the person to replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from textbridge.compliance import erasure
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import LiveEvent
from textbridge.realtime.relay import LiveEventPurger

from ..support.database import run_sync
from ..support.live import wait_until
from ..support.stream import Received, Stream
from ..support.textbridge import API_KEY, CONTACT, Textbridge

SECRET = "my secret diagnosis"
SOMEONE_ELSE = "+14155550123"


def _numbered(events: list[Received]) -> list[tuple[int, str, object]]:
    return [(e.id, e.event, e.data) for e in events if e.id is not None and e.event != "ready"]


def _delivered(stream: Stream, message_id: str) -> None:
    stream.wait_for("message.status", id=message_id, status="delivered")


@pytest.mark.parametrize("by", ["header", "query"])
def test_a_resumed_stream_shows_what_a_connected_one_showed(
    textbridge: Textbridge, by: str
) -> None:
    with Stream(textbridge.url, API_KEY) as steady:
        cut = Stream(textbridge.url, API_KEY)
        ready = cut.wait_for("ready")
        assert ready.id is not None
        first = textbridge.send(text="before the cut")
        _delivered(cut, first["id"])
        resume_from = cut.last_id()
        cut.close()
        second = textbridge.send(text="while away")
        textbridge.inbound("a reply while away")
        _delivered(steady, second["id"])
        with Stream(textbridge.url, API_KEY, resume_from, by=by) as resumed:
            assert resumed.wait_for("ready").id == resume_from
            third = textbridge.send(text="after the return")
            _delivered(resumed, third["id"])
            _delivered(steady, third["id"])
            wait_until(lambda: resumed.last_id() == steady.last_id(), timeout=15)
            assert not [e for e in resumed.taken if e.event == "reset"]
            pieced = _numbered(cut.taken) + _numbered(resumed.taken)
    whole = _numbered(steady.taken)
    assert pieced == whole
    ids = [event[0] for event in whole]
    assert ids == sorted(set(ids))


def test_a_resume_from_the_last_event_replays_nothing(textbridge: Textbridge) -> None:
    with Stream(textbridge.url, API_KEY) as first:
        sent = textbridge.send(text="one")
        _delivered(first, sent["id"])
        last = first.last_id()
    with Stream(textbridge.url, API_KEY, last) as resumed:
        assert resumed.wait_for("ready").id == last
        later = textbridge.send(text="two")
        _delivered(resumed, later["id"])
        assert all(e.id is None or e.id > last for e in resumed.taken if e.event != "ready")
        assert not [e for e in resumed.taken if e.event == "reset"]


def test_an_id_from_before_the_start_or_never_given_out_gets_reset(
    textbridge: Textbridge,
) -> None:
    with Stream(textbridge.url, API_KEY) as stream:
        position = stream.wait_for("ready").id
        assert position is not None
    for unknown in (1, position + 1_000_000):
        with Stream(textbridge.url, API_KEY, unknown) as resumed:
            reset = resumed.wait_for("reset")
            assert reset.id == resumed.wait_for("ready").id >= position
            later = textbridge.send(text=f"after a reset from {unknown}")
            _delivered(resumed, later["id"])  # live goes on after a reset
            position = resumed.last_id()


def test_a_malformed_id_is_refused(textbridge: Textbridge) -> None:
    for bad in ("abc", "1" * 19, "1\x00"):
        answer = textbridge.api.get("/api/v1/events", params={"last_event_id": bad})
        assert answer.status_code == 422, answer.text
    answer = textbridge.api.get("/api/v1/events", headers={"Last-Event-ID": "-5"})
    assert answer.status_code == 422, answer.text


@pytest.mark.postgresql_only
def test_events_purged_since_the_id_get_reset(textbridge: Textbridge) -> None:
    with Stream(textbridge.url, API_KEY) as stream:
        sent = textbridge.send(text="soon purged")
        _delivered(stream, sent["id"])
        last = stream.last_id()
        later = textbridge.send(text="also purged")
        _delivered(stream, later["id"])
    textbridge.database.run(
        update(LiveEvent)
        .where(LiveEvent.id <= last + 1)
        .values(created_at=utcnow() - timedelta(hours=2))
    )
    assert run_sync(_purge(textbridge.settings.database_url)) > 0
    with Stream(textbridge.url, API_KEY, last) as resumed:
        resumed.wait_for("reset")
    with Stream(textbridge.url, API_KEY, last + 1) as resumed:  # the purge stopped after it
        assert resumed.wait_for("ready").id == last + 1
        resumed.wait_for("message.status", id=later["id"], status="delivered")
        assert not [e for e in resumed.taken if e.event == "reset"]


async def _purge(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        return await LiveEventPurger(create_session_factory(engine)).purge_once()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("by", ["api", "another process"])
def test_a_resume_from_before_an_erasure_replays_nothing_of_the_person(
    textbridge: Textbridge, by: str
) -> None:
    with Stream(textbridge.url, API_KEY) as first:
        before = first.wait_for("ready").id
    sent = textbridge.send(text=SECRET)
    textbridge.wait_for_status(sent["id"], "delivered")
    if by == "api":
        erased = textbridge.api.delete(f"/api/v1/contacts/{CONTACT}")
        assert erased.status_code == 200, erased.text
    else:
        run_sync(_erase(textbridge.settings.database_url, CONTACT))
    with Stream(textbridge.url, API_KEY, before) as resumed:
        resumed.wait_for("ready")
        later = textbridge.send(to=SOMEONE_ELSE, text="after the erasure")
        _delivered(resumed, later["id"])  # a replay comes before anything live
        leaked = [e for e in resumed.taken if SECRET in str(e.data) or CONTACT in str(e.data)]
        assert leaked == []
        if textbridge.database.backend == "sqlite":  # the ring cannot lose one event: reset
            resumed.wait_for("reset")


async def _erase(database_url: str, address: str) -> None:
    engine = create_engine(database_url)
    try:
        await erasure.erase(create_session_factory(engine), address, actor="cli:test", origin="cli")
    finally:
        await engine.dispose()
