"""Start-up data: the bootstrap API key and the senders named in the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from textbridge.auth import keys
from textbridge.config import Settings
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import repository
from textbridge.messaging.phone import to_e164
from textbridge.runtime import Runtime
from textbridge.sandbox import SANDBOX_NUMBERS


class BootstrapError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    created_dev_key: str | None


async def bootstrap(runtime: Runtime) -> BootstrapResult:
    """Idempotent, and safe when several processes start at once on one database: the one
    that loses a race to insert the same row (a unique key) tries again and finds it."""
    for _ in range(STARTING_TOGETHER_TRIES - 1):
        try:
            return await _bootstrap_once(runtime)
        except IntegrityError:
            continue  # another process inserted the same row first: look again
    return await _bootstrap_once(runtime)


STARTING_TOGETHER_TRIES = 3


async def _bootstrap_once(runtime: Runtime) -> BootstrapResult:
    async with runtime.unit_of_work() as uow:
        dev_key = await _ensure_api_key(uow, runtime.settings)
        for provider, channel, address in _configured_senders(runtime):
            await repository.get_or_create_sender(uow.session, provider, channel, address)
        await uow.commit()
    return BootstrapResult(created_dev_key=dev_key)


async def _ensure_api_key(uow: UnitOfWork, settings: Settings) -> str | None:
    if settings.api_key is not None:
        await keys.add_key(uow.session, settings.api_key.get_secret_value(), "TEXTBRIDGE_API_KEY")
        return None
    if await keys.count_active(uow.session) > 0:
        return None
    if settings.env == "production":
        raise BootstrapError("TEXTBRIDGE_API_KEY: no API key exists; set one to bootstrap")
    key = keys.new_key()
    await keys.add_key(uow.session, key, "development key")
    return key


def _configured_senders(runtime: Runtime) -> list[tuple[str, str, str]]:
    """(provider, channel, E.164 number) for every number the configuration names."""
    settings = runtime.settings
    sandbox = runtime.sandbox is not None
    named = [
        ("plivo", "sms", "PLIVO_SMS_FROM_NUMBER", settings.plivo_sms_from_number),
        ("plivo", "whatsapp", "PLIVO_WHATSAPP_NUMBER", settings.plivo_whatsapp_number),
        ("vonage", "sms", "VONAGE_NUMBER", settings.vonage_number),
        ("vonage", "whatsapp", "VONAGE_WHATSAPP_NUMBER", settings.vonage_whatsapp_number),
    ]
    senders = []
    for provider, channel, setting, value in named:
        number = value or (SANDBOX_NUMBERS[(provider, channel)] if sandbox else None)
        if number and provider in runtime.providers:
            senders.append((provider, channel, _number(number, setting)))
    return senders


def _number(raw: str, setting: str) -> str:
    try:
        return to_e164(raw if raw.startswith("+") else f"+{raw}")
    except ValueError as exc:
        raise BootstrapError(f"{setting}: {exc}") from None
