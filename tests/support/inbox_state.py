"""The inbox's state as the API shows it, and the pushed events applied to it: the two halves
of the live-update invariant (after Zulip's): state fetched, plus the events pushed since,
equals a fresh fetch."""

from __future__ import annotations

from typing import Any

import httpx

State = dict[str, dict[str, dict[str, Any]]]


def fetch(api: httpx.Client) -> State:
    conversations = api.get("/api/v1/conversations").json()
    messages = {}
    for conversation in conversations:
        thread = api.get(f"/api/v1/conversations/{conversation['id']}/messages")
        messages.update({message["id"]: message for message in thread.json()})
    return {"conversations": {c["id"]: c for c in conversations}, "messages": messages}


def apply(state: State, event: str, data: dict[str, Any]) -> None:
    if event in ("message.created", "message.status"):
        state["messages"][data["id"]] = data
    elif event == "conversation.updated":
        state["conversations"][data["id"]] = data


def differences(state: State, fresh: State) -> list[tuple[str, str, Any, Any]]:
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
