"""The keyed hash of a person's address: what the consent ledger and the audit log keep when
they must name a person without holding their number in plain.

HMAC-SHA256 with a key this installation generated for itself (`instance_secrets`,
`address_hash_key`, made by the migration that created the ledger). Phone numbers are few enough
to try them all, so a plain hash would hide nothing; a keyed one can only be matched by someone
who holds the key. The key sits in the same database: whoever has a whole copy of the database
can match numbers (see docs/DESIGN-NOTES.md, "Consent ledger and erasure foundations")."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.models import InstanceSecret

KEY_NAME = "address_hash_key"
KEY_SQL = f"SELECT value FROM instance_secrets WHERE name = '{KEY_NAME}'"  # noqa: S608
"""The key, for a caller on the driver (`db/driver.py`)."""


class AddressHasher:
    """Hashes addresses with this installation's key; the same address always gives the same
    hex digest (64 characters)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, address: str) -> str:
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never show the key
        return "AddressHasher(<key>)"


_loaded: dict[str, AddressHasher] = {}


async def address_hasher(db: AsyncSession) -> AddressHasher:
    """This database's hasher (read once per process and database)."""
    url = str(db.get_bind().engine.url)
    hasher = _loaded.get(url)
    if hasher is None:
        key = await db.scalar(select(InstanceSecret.value).where(InstanceSecret.name == KEY_NAME))
        if key is None:
            raise RuntimeError("the address hash key is missing: run `textbridge db upgrade`")
        hasher = _loaded[url] = AddressHasher(bytes.fromhex(key))
    return hasher
