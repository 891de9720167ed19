"""Verified API keys are kept in process for a short TTL; revocation still holds within it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from textbridge.auth import keys
from textbridge.models import ApiKey

from ..support.database import Database
from ..support.live import scaled, wait_until
from ..support.textbridge import API_KEY, Textbridge, running_textbridge

OTHER_KEY = "tb_other_key_0123456789abcdefghijklmnop"


def _status(client: httpx.Client) -> int:
    return client.get("/api/v1/conversations").status_code


def _revoke(textbridge: Textbridge, key: str) -> None:
    textbridge.database.rows(
        "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE key_hash = :hash",
        hash=keys.hash_key(key),
    )


def test_a_revoked_key_is_refused_within_the_ttl(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path, api_key_cache_seconds=1.0) as textbridge:
        assert _status(textbridge.api) == 200  # verified, now kept
        _revoke(textbridge, API_KEY)  # as `keys revoke` does, from another process
        revoked_at = time.monotonic()
        wait_until(lambda: _status(textbridge.api) == 401, timeout=1.5)
        assert time.monotonic() - revoked_at < scaled(1.5)


def test_without_the_cache_revocation_is_immediate(database: Database, tmp_path: Path) -> None:
    with running_textbridge(database, tmp_path, api_key_cache_seconds=0) as textbridge:
        assert _status(textbridge.api) == 200
        _revoke(textbridge, API_KEY)
        assert _status(textbridge.api) == 401


def test_a_new_key_works_at_once_after_a_refusal(textbridge: Textbridge) -> None:
    """Refusals are not kept: a key created by `keys create` elsewhere is accepted at once."""
    headers = {"Authorization": f"Bearer {OTHER_KEY}"}
    with httpx.Client(base_url=textbridge.url, headers=headers, timeout=10) as other:
        assert _status(other) == 401
        row = {"name": "other", "prefix": OTHER_KEY[:8], "key_hash": keys.hash_key(OTHER_KEY)}
        textbridge.database.run(insert(ApiKey).values(**row, scopes="send read"))
        assert _status(other) == 200


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_ttl_seconds() -> None:
    clock = Clock()
    cache = keys.VerifiedKeys(ttl=3.0, clock=clock)
    row = ApiKey(name="k", prefix="tb_k", key_hash=keys.hash_key("tb_k"))
    cache.put("tb_k", row)
    clock.now += 2.99
    assert cache.get("tb_k") is row
    clock.now += 0.01
    assert cache.get("tb_k") is None
    assert cache.get("tb_unknown") is None


def test_a_zero_ttl_keeps_nothing() -> None:
    cache = keys.VerifiedKeys(ttl=0)
    cache.put("tb_k", ApiKey(name="k", prefix="tb_k", key_hash=keys.hash_key("tb_k")))
    assert cache.get("tb_k") is None
