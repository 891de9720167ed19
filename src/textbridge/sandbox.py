"""Sandbox mode: with no provider credentials, the built-in simulator plays Plivo and Vonage.

Fresh credentials are made at every start and shared, in process, by textbridge and the
simulator mounted at `/simulator`, so the real wire formats, auth and signatures are used.
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SANDBOX_NUMBERS = {
    ("plivo", "sms"): "+14155550100",
    ("plivo", "whatsapp"): "+14155550101",
    ("vonage", "sms"): "+14155550102",
    ("vonage", "whatsapp"): "+14155550103",
}
SANDBOX_WABA_ID = "sandbox-waba"


@dataclass(frozen=True, slots=True)
class SandboxCredentials:
    plivo_auth_id: str
    plivo_auth_token: str = field(repr=False)
    vonage_application_id: str
    vonage_private_key_pem: str = field(repr=False)
    vonage_signature_secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> SandboxCredentials:
        alphabet = string.ascii_uppercase + string.digits
        return cls(
            plivo_auth_id="MA" + "".join(secrets.choice(alphabet) for _ in range(18)),
            plivo_auth_token=secrets.token_urlsafe(30),
            vonage_application_id=str(uuid.uuid4()),
            vonage_private_key_pem=_private_key_pem(),
            vonage_signature_secret=secrets.token_urlsafe(32),
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.plivo_auth_token, self.vonage_signature_secret, self.vonage_private_key_pem)


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
