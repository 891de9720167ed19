"""A reader of `/api/v1/events` that keeps every field (`ready` and `reset` included) and can
resume from an id, by header or by query parameter, as `EventSource` and other clients do."""

from __future__ import annotations

import json
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from .live import scaled, wait_until


@dataclass(frozen=True)
class Received:
    id: int | None
    event: str
    data: dict[str, Any]


class Stream:
    """One connection to the event stream, read in a thread; `close` cuts it."""

    def __init__(
        self, url: str, api_key: str, last_id: int | None = None, by: str = "header"
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        params = {}
        if last_id is not None and by == "header":
            headers["Last-Event-ID"] = str(last_id)
        elif last_id is not None:
            params["last_event_id"] = str(last_id)
        self.received: queue.Queue[Received] = queue.Queue()
        self.taken: list[Received] = []
        self._opened = threading.Event()
        self._client = httpx.Client(
            base_url=url, headers=headers, timeout=httpx.Timeout(10, read=None)
        )
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._listen, args=(params,), daemon=True)
        self._thread.start()
        assert self._opened.wait(scaled(10)), "the event stream did not open"

    def _listen(self, params: dict[str, str]) -> None:
        fields: dict[str, str] = {}
        try:
            with self._client.stream("GET", "/api/v1/events", params=params) as response:
                self._response = response
                self._opened.set()
                for line in response.iter_lines():
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value.strip()
                        continue
                    if "event" in fields and "data" in fields:
                        shown = int(fields["id"]) if fields.get("id") else None
                        data = json.loads(fields["data"])
                        self.received.put(Received(shown, fields["event"], data))
                    fields = {}
        except httpx.HTTPError:
            return  # cut by the test

    def take(self) -> list[Received]:
        """What arrived since the last call (also kept in `taken`)."""
        new = []
        while True:
            try:
                new.append(self.received.get_nowait())
            except queue.Empty:
                self.taken.extend(new)
                return new

    def wait_for(self, kind: str, timeout: float = 15, **data: object) -> Received:
        def found() -> Received | None:
            self.take()
            for event in self.taken:
                if event.event == kind and all(event.data.get(k) == v for k, v in data.items()):
                    return event
            return None

        return wait_until(found, timeout=timeout, interval=0.02)

    def last_id(self) -> int:
        self.take()
        return max(event.id for event in self.taken if event.id is not None)

    def close(self) -> None:
        if self._thread.is_alive() and self._response is not None:
            network = self._response.extensions["network_stream"]
            network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._client.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
