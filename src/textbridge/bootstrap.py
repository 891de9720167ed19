"""Start-up data: the bootstrap API key and the senders named in the configuration."""

from __future__ import annotations

from dataclasses import dataclass

from textbridge.auth import keys
from textbridge.config import Settings
from textbridge.db.uow import UnitOfWork
from textbridge.messaging import repository
from textbridge.messaging.phone import to_e164
from textbridge.runtime import SANDBOX_PLIVO_NUMBER, Runtime


class BootstrapError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    created_dev_key: str | None


async def bootstrap(runtime: Runtime) -> BootstrapResult:
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
    settings = runtime.settings
    if runtime.sandbox is not None:
        number = settings.plivo_sms_from_number or SANDBOX_PLIVO_NUMBER
        return [("plivo", "sms", _number(number, "PLIVO_SMS_FROM_NUMBER"))]
    if settings.plivo_sms_from_number:
        number = _number(settings.plivo_sms_from_number, "PLIVO_SMS_FROM_NUMBER")
        return [("plivo", "sms", number)]
    return []


def _number(raw: str, setting: str) -> str:
    try:
        return to_e164(raw if raw.startswith("+") else f"+{raw}")
    except ValueError as exc:
        raise BootstrapError(f"{setting}: {exc}") from None
