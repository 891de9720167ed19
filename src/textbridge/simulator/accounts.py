"""The simulated accounts' set-up: our numbers, the applications they are linked to, and
where those applications send webhooks. What `textbridge doctor` reads and `textbridge
providers configure` changes, through the providers' own account APIs (`plivo.account_api`,
`vonage.account_api`).

Tests set the state directly (`app.state.simulator_state.accounts`): an unknown number, a wrong
webhook URL, an unlinked number. Wire shapes are in the API modules, with their sources.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from textbridge.simulator.config import SimulatorConfig

PLIVO_APP_NAME = "textbridge"
"""The name of the Plivo application the simulator starts with (and configure looks for)."""


def digits(number: str) -> str:
    """A number as both providers key it: its digits, no `+`."""
    return "".join(character for character in number if character.isdigit())


def country_of(number: str) -> str:
    """The ISO country of an E.164 number (Vonage's numbers carry it), `US` when unknown."""
    try:
        parsed = phonenumbers.parse(f"+{digits(number)}")
    except phonenumbers.NumberParseException:
        return "US"
    region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return region if region != phonenumbers.UNKNOWN_REGION else "US"


@dataclass
class PlivoApplication:
    app_id: str
    app_name: str
    message_url: str | None = None
    message_method: str = "POST"
    answer_url: str | None = None
    answer_method: str = "POST"


@dataclass
class PlivoNumber:
    number: str
    app_id: str | None = None
    alias: str | None = None


@dataclass
class VonageNumber:
    msisdn: str
    country: str
    app_id: str | None = None


@dataclass
class Accounts:
    """Both accounts' numbers and applications. A Vonage application is kept as the JSON the
    Application API answers (without `_links`), so that a PUT keeps what it does not name."""

    plivo_applications: dict[str, PlivoApplication] = field(default_factory=dict)
    plivo_numbers: dict[str, PlivoNumber] = field(default_factory=dict)
    vonage_applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    vonage_numbers: dict[str, VonageNumber] = field(default_factory=dict)
    plivo_cash_credits: str = "4.88860"
    vonage_balance: float = 29.18202293

    @classmethod
    def seeded(cls, config: SimulatorConfig) -> Accounts:
        """The accounts as a finished dashboard set-up leaves them: one Plivo application
        sending to `plivo_message_url` with `plivo_numbers` linked to it, the Vonage
        application (when configured) with its webhooks and `vonage_numbers` linked."""
        accounts = cls()
        app = PlivoApplication(new_plivo_app_id(), PLIVO_APP_NAME, config.plivo_message_url)
        accounts.plivo_applications[app.app_id] = app
        for number in config.plivo_numbers:
            accounts.plivo_numbers[digits(number)] = PlivoNumber(digits(number), app.app_id)
        application_id = config.vonage_application_id
        if application_id:
            accounts.vonage_applications[application_id] = vonage_application(
                application_id, config
            )
        for number in config.vonage_numbers:
            msisdn = digits(number)
            accounts.vonage_numbers[msisdn] = VonageNumber(
                msisdn, country_of(msisdn), application_id
            )
        return accounts

    def plivo_inbound_url(self, to: str) -> str | None:
        """The `message_url` of the application our number `to` is linked to."""
        number = self.plivo_numbers.get(digits(to))
        app = self.plivo_applications.get(number.app_id or "") if number else None
        return app.message_url if app else None

    def vonage_webhook(self, to: str, kind: str) -> str | None:
        """The `inbound_url` or `status_url` of the application our number `to` is linked to
        (for a status: the number that sent)."""
        number = self.vonage_numbers.get(digits(to))
        application = self.vonage_applications.get(number.app_id or "") if number else None
        if application is None:
            return None
        webhooks = application.get("capabilities", {}).get("messages", {}).get("webhooks", {})
        address = webhooks.get(f"{kind}_url", {}).get("address")
        return str(address) if address else None


def new_plivo_app_id() -> str:
    """Plivo application ids are 17 to 20 digits (`20468599130939380` in the SDK's fixture)."""
    return str(uuid.uuid4().int)[:17]


def vonage_application(application_id: str, config: SimulatorConfig) -> dict[str, Any]:
    """A Messages application as Vonage's Application API v2 answers it (the SDK's
    `get_application.json` fixture, with a `messages` capability as in its
    `create_application_options.json`)."""
    messages: dict[str, Any] = {"version": "v1", "webhooks": {}}
    for kind, address in (
        ("inbound_url", config.vonage_inbound_url),
        ("status_url", config.vonage_status_url),
    ):
        if address:
            messages["webhooks"][kind] = {"address": address, "http_method": "POST"}
    return {
        "id": application_id,
        "name": "textbridge",
        "keys": {"public_key": config.vonage_public_key_pem or ""},
        "privacy": {"improve_ai": False},
        "capabilities": {"messages": messages},
    }


def merged_application(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Vonage's PUT: the body's `name`, `capabilities`, `privacy` and `keys` replace the
    stored ones; a public key left out keeps the stored key (the API never drops it)."""
    merged = copy.deepcopy(stored)
    for key in ("name", "capabilities", "privacy"):
        if key in update:
            merged[key] = copy.deepcopy(update[key])
    public_key = (update.get("keys") or {}).get("public_key")
    if public_key:
        merged["keys"] = {"public_key": public_key}
    return merged
