"""The live-update invariant (after Zulip): take the inbox state, act, apply the pushed events
to the old state; the result must equal a fresh fetch."""

from __future__ import annotations

import queue
from typing import Any

from ..support.inbox_state import State, apply, differences, fetch
from ..support.live import wait_until
from ..support.textbridge import Textbridge, event_stream


def _fetch(textbridge: Textbridge) -> State:
    return fetch(textbridge.api)


def _apply(state: State, event: dict[str, Any]) -> None:
    apply(state, event["event"], event["data"])


def _drain(events: queue.Queue[dict[str, Any]], state: State) -> None:
    while True:
        try:
            _apply(state, events.get(timeout=0.5))
        except queue.Empty:
            return


def _catch_up(events: queue.Queue[dict[str, Any]], state: State, textbridge: Textbridge) -> None:
    """Apply pushed events until they rebuild a fresh fetch (a condition, not a time: on a
    loaded machine the stream may trail the database), then drain whatever else comes."""

    fresh: State = {}

    def rebuilt() -> bool:
        nonlocal fresh
        _drain(events, state)
        fresh = _fetch(textbridge)
        return state == fresh

    try:
        wait_until(rebuilt, timeout=15)
    except BaseException:
        print("DIFF", differences(state, fresh))
        raise
    _drain(events, state)


def test_pushed_events_rebuild_a_fresh_fetch(textbridge: Textbridge) -> None:
    first = textbridge.send(text="first")
    textbridge.wait_for_status(first["id"], "delivered")
    with event_stream(textbridge) as events:
        state = _fetch(textbridge)
        second = textbridge.send(text="second")
        textbridge.inbound("a reply")
        textbridge.send(to="+14155550123", text="another contact")
        textbridge.api.post(f"/api/v1/conversations/{first['conversation_id']}/read")
        textbridge.wait_for_status(second["id"], "delivered")
        wait_until(
            lambda: all(
                m["status"] in ("delivered", "received")
                for m in _fetch(textbridge)["messages"].values()
            ),
            timeout=15,
        )
        _catch_up(events, state, textbridge)
    assert state == _fetch(textbridge)
