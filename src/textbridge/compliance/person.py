"""One person, as data rights see them: the address they are known by, the forms it takes in
what we store, and the pseudonym their rows keep once they are erased.

A number appears in three forms: E.164 (`+14155550199`, our columns), without the `+` (Plivo's
form parameters, `From=14155550199`) and as Vonage's digits-only `from`; URL-encoded it is
`%2B14155550199`. The digits are inside every one of them, so they are the needle a search
uses; `mentions` then confirms a hit with digit boundaries, so that the digits of a longer
number are not taken for this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from textbridge.compliance.identity import address_hasher
from textbridge.messaging import address

ERASED_KIND = address.ERASED
"""`contacts.address_kind` of an erased contact; its address is `pseudonym`."""
PSEUDONYM_PREFIX = "erased:"
_PHONE_LIKE = re.compile(r"[+0-9][0-9 ()./-]*")


def normalized(raw: str) -> str:
    """The address as our columns hold it, read as a provider's `from` is read
    (`address.of_sender`): a number written any common way becomes E.164 (`+1 415-555-0199`,
    `14155550199` -> `+14155550199`), a short code stays digits, any other address as given."""
    text = raw.strip()
    if _PHONE_LIKE.fullmatch(text):
        text = re.sub(r"[^0-9+]", "", text)
    try:
        return address.of_sender(text, "whatsapp").value
    except address.InvalidAddress:
        return text


@dataclass(frozen=True, slots=True)
class Person:
    address: str
    address_hash: str

    @property
    def pseudonym(self) -> str:
        """What an erased person's rows say instead of their address: derived from the keyed
        hash, so their counts still group by person and match their consent tombstone."""
        return f"{PSEUDONYM_PREFIX}{self.address_hash}"

    @property
    def needle(self) -> str:
        """The substring every stored form of the address contains."""
        digits = self.address.removeprefix("+")
        return digits if digits.isdigit() else self.address

    @property
    def forms(self) -> tuple[str, ...]:
        """The address as it is written in what we store."""
        return tuple(dict.fromkeys((self.address, self.needle)))

    def mentions(self, text: str) -> bool:
        """Whether `text` holds the address (not merely its digits inside a longer number)."""
        needle = re.escape(self.needle)
        if self.needle.isdigit():
            return re.search(rf"(?<![0-9]){needle}(?![0-9])", text) is not None
        return re.search(rf"(?<![A-Za-z0-9.]){needle}(?![A-Za-z0-9])", text) is not None


async def person(db: AsyncSession, raw_address: str) -> Person:
    address = normalized(raw_address)
    hasher = await address_hasher(db)
    return Person(address, hasher(address))
