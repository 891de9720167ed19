"""Settings of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from textbridge.simulator.plivo.vocabulary import AUTH_ID_LENGTH, AUTH_ID_PREFIXES


def is_plivo_auth_id(value: str) -> bool:
    """True for IDs shaped like Plivo's (the SDK refuses any other): ``MA``/``SA`` + 18 chars."""
    return len(value) == AUTH_ID_LENGTH and value.startswith(AUTH_ID_PREFIXES)


@dataclass
class SimulatorConfig:
    """What the fake Plivo account (and, optionally, the fake Vonage account) look like.

    ``plivo_message_url`` plays the Plivo Application's ``message_url``: where injected inbound
    messages are posted. ``callback_delay_seconds`` is the base gap between status callbacks.
    ``plivo_waba_id`` is the WhatsApp Business Account the template API serves.

    Vonage (every field optional; the Vonage routes exist only when some Vonage auth is set):

    - JWT auth: ``vonage_application_id`` plus the application's ``vonage_public_key_pem``, or
      ``vonage_private_key_pem`` (the public key is derived from it);
    - Basic auth: ``vonage_api_key`` plus ``vonage_api_secret``;
    - ``vonage_signature_secret`` signs the webhooks (unsigned when not set);
    - ``vonage_inbound_url`` / ``vonage_status_url``: the application's inbound and status
      webhooks (a message's own ``webhook_url`` wins over ``vonage_status_url``).

    ``plivo_numbers`` and ``vonage_numbers`` are the numbers on each account, linked at start to
    the application that sends to those URLs (see ``accounts``): the account API serves them,
    and an inbound message to one of them goes where its application says.
    """

    plivo_auth_id: str
    plivo_auth_token: str = field(repr=False)
    plivo_message_url: str | None
    callback_delay_seconds: float = 0.05
    plivo_waba_id: str | None = None
    vonage_application_id: str | None = None
    vonage_public_key_pem: str | None = None
    vonage_private_key_pem: str | None = field(default=None, repr=False)
    vonage_api_key: str | None = None
    vonage_api_secret: str | None = field(default=None, repr=False)
    vonage_signature_secret: str | None = field(default=None, repr=False)
    vonage_inbound_url: str | None = None
    vonage_status_url: str | None = None
    plivo_numbers: tuple[str, ...] = ()
    vonage_numbers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not is_plivo_auth_id(self.plivo_auth_id):
            raise ValueError("plivo_auth_id must be 20 characters starting with MA or SA")
        if not self.plivo_auth_token:
            raise ValueError("plivo_auth_token must not be empty")
        if self.callback_delay_seconds < 0:
            raise ValueError("callback_delay_seconds must not be negative")
        if self.vonage_application_id and self.vonage_public_key_pem is None:
            self.vonage_public_key_pem = _derived_public_key(self.vonage_private_key_pem)

    @property
    def vonage_jwt(self) -> bool:
        """JWT (application) auth is configured."""
        return bool(self.vonage_application_id and self.vonage_public_key_pem)

    @property
    def vonage_basic(self) -> bool:
        """Basic (``api_key:api_secret``) auth is configured."""
        return bool(self.vonage_api_key and self.vonage_api_secret)

    @property
    def vonage_enabled(self) -> bool:
        """Some Vonage auth is configured, so the Vonage routes exist."""
        return self.vonage_jwt or self.vonage_basic


def _derived_public_key(private_key_pem: str | None) -> str:
    if not private_key_pem:
        raise ValueError(
            "vonage_application_id needs vonage_public_key_pem or vonage_private_key_pem"
        )
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()
