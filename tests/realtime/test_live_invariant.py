"""The live-update invariant (after Zulip): take the inbox state, act, apply the pushed events
to the old state; the result must equal a fresh fetch."""

from __future__ import annotations

import queue
from typing import Any

from ..support.live import wait_until
from ..support.textbridge import Textbridge, event_stream

State = dict[str, dict[str, dict[str, Any]]]


def _fetch(textbridge: Textbridge) -> State:
    conversations = textbridge.api.get("/api/v1/conversations").json()
    messages = {}
    for conversation in conversations:
        thread = textbridge.api.get(f"/api/v1/conversations/{conversation['id']}/messages")
        messages.update({message["id"]: message for message in thread.json()})
    return {"conversations": {c["id"]: c for c in conversations}, "messages": messages}


def _apply(state: State, event: dict[str, Any]) -> None:
    data = event["data"]
    if event["event"] in ("message.created", "message.status"):
        state["messages"][data["id"]] = data
    elif event["event"] == "conversation.updated":
        state["conversations"][data["id"]] = data


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
        print("DIFF", _differences(state, fresh))
        raise
    _drain(events, state)


def _differences(state: State, fresh: State) -> list[tuple[str, str, Any, Any]]:
    found = []
    for kind in ("conversations", "messages"):
        for key in state[kind].keys() | fresh.get(kind, {}).keys():
            old, new = state[kind].get(key), fresh.get(kind, {}).get(key)
            if old == new:
                continue
            if old is None or new is None:
                found.append((kind, key, old, new))
                continue
            for field in old.keys() | new.keys():
                if old.get(field) != new.get(field):
                    found.append((kind, f"{key}.{field}", old.get(field), new.get(field)))
    return found


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
