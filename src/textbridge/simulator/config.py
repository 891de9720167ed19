"""Settings of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from textbridge.simulator.vocabulary import AUTH_ID_LENGTH, AUTH_ID_PREFIXES


def is_plivo_auth_id(value: str) -> bool:
    """True for IDs shaped like Plivo's (the SDK refuses any other): ``MA``/``SA`` + 18 chars."""
    return len(value) == AUTH_ID_LENGTH and value.startswith(AUTH_ID_PREFIXES)


@dataclass
class SimulatorConfig:
    """What the fake Plivo account looks like.

    ``plivo_message_url`` plays the Plivo Application's ``message_url``: where injected inbound
    SMS are posted. ``callback_delay_seconds`` is the base gap between status callbacks.
    """

    plivo_auth_id: str
    plivo_auth_token: str = field(repr=False)
    plivo_message_url: str | None
    callback_delay_seconds: float = 0.05

    def __post_init__(self) -> None:
        if not is_plivo_auth_id(self.plivo_auth_id):
            raise ValueError("plivo_auth_id must be 20 characters starting with MA or SA")
        if not self.plivo_auth_token:
            raise ValueError("plivo_auth_token must not be empty")
        if self.callback_delay_seconds < 0:
            raise ValueError("callback_delay_seconds must not be negative")
