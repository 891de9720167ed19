"""What the providers should be set up to: our numbers, and the webhook URLs they must call,
all derived from the settings (`TEXTBRIDGE_PUBLIC_URL` and the provider variables)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from textbridge.config import Settings
from textbridge.providers.plivo.account import PlivoAccountApi
from textbridge.providers.vonage.account import VonageAccountApi
from textbridge.runtime import webhook_url

PLIVO_APP_NAME = "textbridge"
"""The Plivo application `configure` makes when our numbers are linked to none."""
PLIVO_MESSAGE_METHOD = "POST"
VONAGE_MESSAGES_VERSION = "v1"
"""The webhook shapes our Vonage parser reads (`providers/vonage/webhooks.py`)."""


@dataclass(frozen=True, slots=True)
class OurNumber:
    channel: str  # sms | whatsapp
    number: str  # digits, as the providers key them

    @property
    def shown(self) -> str:
        return f"+{self.number} ({self.channel})"


def plivo_numbers(settings: Settings) -> list[OurNumber]:
    return _numbers(settings.plivo_sms_from_number, settings.plivo_whatsapp_number)


def vonage_numbers(settings: Settings) -> list[OurNumber]:
    return _numbers(settings.vonage_number, settings.vonage_whatsapp_number)


def plivo_message_url(settings: Settings) -> str:
    return webhook_url(settings.public_url, "plivo", "inbound")


def vonage_webhook_urls(settings: Settings) -> dict[str, str]:
    kinds = ("inbound", "status")
    return {kind: webhook_url(settings.public_url, "vonage", kind) for kind in kinds}


def plivo_api(settings: Settings, client: httpx.AsyncClient) -> PlivoAccountApi | None:
    if settings.plivo_auth_id is None or settings.plivo_auth_token is None:
        return None
    return PlivoAccountApi(
        client,
        settings.plivo_api_base_url,
        settings.plivo_auth_id,
        settings.plivo_auth_token.get_secret_value(),
    )


def vonage_api(settings: Settings, client: httpx.AsyncClient) -> VonageAccountApi | None:
    """None without an API key and secret: Vonage's account APIs accept nothing else."""
    if settings.vonage_api_key is None or settings.vonage_api_secret is None:
        return None
    return VonageAccountApi(
        client,
        settings.vonage_api_base_url,
        settings.vonage_rest_base_url,
        settings.vonage_api_key,
        settings.vonage_api_secret.get_secret_value(),
    )


def _numbers(sms: str | None, whatsapp: str | None) -> list[OurNumber]:
    numbers: list[OurNumber] = []
    for channel, raw in (("sms", sms), ("whatsapp", whatsapp)):
        digits = "".join(character for character in raw or "" if character.isdigit())
        if digits and all(known.number != digits for known in numbers):
            numbers.append(OurNumber(channel, digits))
    return numbers
