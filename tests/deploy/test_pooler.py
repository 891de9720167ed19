"""A transaction-mode pooler is refused at start-up, with the fix named (`db/pooler.py`),
against a real PgBouncer in transaction mode; the same PgBouncer in session mode, and the
direct connection, are accepted. Supabase's transaction port is refused by its address alone
(the suite never reaches the internet, so that check is tested on the URL)."""

from __future__ import annotations

import asyncio
import subprocess

import asyncpg  # type: ignore[import-untyped]
import pytest

from textbridge.db import pooler
from textbridge.messaging import search

from ..support.database import POSTGRES_URL
from ..support.live import scaled
from ..support.processes import TEXTBRIDGE, environment
from .pgbouncer import pgbouncer

SUPABASE_POOLER = "postgresql://postgres.abcdefghijklmnop:pw@aws-0-eu-central-1.pooler.supabase.com"


def _probe(url: str) -> str | None:
    return asyncio.run(pooler.transaction_pooler(url))


def test_pgbouncer_in_transaction_mode_is_detected() -> None:
    with pgbouncer("transaction") as url:
        reason = _probe(url)
    assert reason is not None
    assert "transaction mode" in reason
    assert "session mode" in reason  # the fix


def test_pgbouncer_in_session_mode_and_the_direct_connection_are_accepted() -> None:
    with pgbouncer("session") as url:
        assert _probe(url) is None
    assert _probe(POSTGRES_URL) is None


def test_supabase_transaction_port_is_refused_by_its_address() -> None:
    reason = pooler.supabase_transaction_port(f"{SUPABASE_POOLER}:6543/postgres")
    assert reason is not None
    assert "db.<project>.supabase.co:5432" in reason
    assert pooler.supabase_transaction_port(f"{SUPABASE_POOLER}:5432/postgres") is None
    assert pooler.supabase_transaction_port("postgresql://u@db.abc.supabase.co:6543/x") is None


@pytest.mark.timeout(300)  # a CLI start-up on a loaded machine
@pytest.mark.parametrize("command", [["db", "upgrade"], ["worker"], ["serve", "--no-workers"]])
def test_every_process_refuses_to_start_through_it(command: list[str]) -> None:
    with pgbouncer("transaction") as url:
        env = environment(
            TEXTBRIDGE_DATABASE_URL=url,
            # `worker` and `serve --no-workers` need provider credentials (not the sandbox).
            PLIVO_AUTH_ID="MAPOOLERTEST01234567",
            PLIVO_AUTH_TOKEN="pooler-test-token",
        )
        done = subprocess.run(
            [*TEXTBRIDGE, *command], env=env, capture_output=True, text=True, timeout=scaled(60)
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "transaction mode" in done.stderr
    assert "session mode" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_inbox_reads_pool_works_through_a_session_mode_pooler() -> None:
    """PgBouncer refuses startup parameters it does not know: the reads pool sets its planner
    options with SQL once connected, so the inbox works behind the pooler DEPLOY.md allows."""

    async def shown(connection: asyncpg.Connection) -> list[str]:
        return [await connection.fetchval(f"SHOW {name}") for name in ("plan_cache_mode", "jit")]

    async def settings_through(url: str) -> list[str]:
        reads = search.inbox_reads_pool(url)
        try:
            return await reads.read(shown)
        finally:
            await reads.aclose()

    with pgbouncer("session") as url:
        assert asyncio.run(settings_through(url)) == ["force_custom_plan", "off"]
