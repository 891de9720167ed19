"""The address hash: keyed per installation, stable, and never the number itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from textbridge.compliance.identity import AddressHasher, address_hasher
from textbridge.db import migrate

from ..support.database import Database, run_sync


async def _hash_in(url: str, address: str) -> str:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as db:
            return (await address_hasher(db))(address)
    finally:
        await engine.dispose()


async def test_the_hash_is_stable_and_does_not_show_the_number(
    database: Database, tmp_path: Path
) -> None:
    url = database.fresh_url(tmp_path)
    first = await _hash_in(url, "+14155550123")
    assert first == await _hash_in(url, "+14155550123")
    assert first != await _hash_in(url, "+14155550124")
    assert len(first) == 64
    assert "4155550123" not in first


def test_each_installation_has_its_own_key(tmp_path: Path) -> None:
    urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("one", "two")]
    for url in urls:
        migrate.upgrade(url)

    hashes = {run_sync(_hash_in(url, "+14155550123")) for url in urls}
    assert len(hashes) == 2


def test_the_hasher_never_shows_its_key() -> None:
    assert "00" not in repr(AddressHasher(bytes(32)))
