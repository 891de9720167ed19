"""The opt-out check the dispatcher adds to every claim (`consent.opted_out` for a batch of
50 recipients), against a one-row primary-key lookup on the same connection, with a ledger of
`--ledger` opt-outs (random recipients: about half of them are in it).

    cd /work/wt/consent && uv run python bench/consent_check.py --url URL [--ledger 100000]

URL: an empty, migrated database (`textbridge db upgrade`), e.g.
`sqlite+aiosqlite:////tmp/consent-bench/b.db` or
`postgresql+asyncpg://postgres@127.0.0.1:5432/consent_bench`. The ledger is inserted first
(the addresses' keyed hashes, no plain numbers), then 300 checks are timed after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from sqlalchemy import func, insert, select

from textbridge.compliance import consent
from textbridge.compliance.identity import address_hasher
from textbridge.db.base import utcnow
from textbridge.db.engine import create_engine, create_session_factory
from textbridge.models import ConsentRecord

ROUNDS = 300
BATCH = 50
SENDER = "+14155550100"


async def fill(url: str, size: int) -> None:
    engine = create_engine(url)
    async with create_session_factory(engine)() as db:
        have = int(await db.scalar(select(func.count()).select_from(ConsentRecord)) or 0)
        hasher = await address_hasher(db)
        rows = [
            {
                "address_hash": hasher(f"+1415{i:07d}"),
                "action": "opt_out",
                "scope": "*",
                "source": "import",
                "kind": "express",
                "recorded_at": utcnow(),
            }
            for i in range(have, size)
        ]
        for start in range(0, len(rows), 5000):
            await db.execute(insert(ConsentRecord), rows[start : start + 5000])
        await db.commit()
    await engine.dispose()


async def measure(url: str, size: int) -> tuple[float, float]:
    engine = create_engine(url)
    async with create_session_factory(engine)() as db:
        batches = [
            {(f"+1415{random.randrange(2 * size):07d}", SENDER) for _ in range(BATCH)}
            for _ in range(ROUNDS)
        ]
        await consent.opted_out(db, batches[0])
        started = time.perf_counter()
        for pairs in batches:
            await consent.opted_out(db, pairs)
        check = (time.perf_counter() - started) / ROUNDS
        started = time.perf_counter()
        for _ in batches:
            await db.execute(select(ConsentRecord.id).where(ConsentRecord.id == -1))
        floor = (time.perf_counter() - started) / ROUNDS
    await engine.dispose()
    return check, floor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ledger", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(fill(args.url, args.ledger))
    check, floor = asyncio.run(measure(args.url, args.ledger))
    print(
        f"ledger {args.ledger}, batch {BATCH}: check {check * 1000:.2f} ms, "
        f"one-row lookup {floor * 1000:.2f} ms, ratio {check / floor:.1f}"
    )


if __name__ == "__main__":
    main()
