"""CPU per request of the provider HTTP client: httpx's own transport against
`providers.pool.keep_sockets` (the stream that keeps its socket), alternating.

    uv run python bench/provider_client_cpu.py [--requests 3000] [--concurrency 16] [--rounds 3]

A `textbridge simulator` runs in its own process; this process posts Plivo sends to it, 16 at
once (the dispatcher's default concurrency), on asyncio's loop (a worker's), and prints its own
CPU time per request (`time.process_time`) for each transport. Both sides run on the same
machine in the same minutes: compare within a round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import httpx
from harness import free_port, stop, textbridge_binary

from textbridge.providers.pool import keep_sockets

AUTH_ID, AUTH_TOKEN = "MABENCHCLIENTXXXXXXX", "bench-client-token-0123456789"  # throwaway


async def post_all(url: str, requests: int, concurrency: int, pooled: bool) -> tuple[float, float]:
    """(requests per second, CPU ms per request) for one client posting `requests` sends."""
    limits = httpx.Limits(max_connections=100)
    client = httpx.AsyncClient(auth=httpx.BasicAuth(AUTH_ID, AUTH_TOKEN), limits=limits)
    async with keep_sockets(client) if pooled else client:
        queue = iter(range(requests))

        async def one_client() -> None:
            for index in queue:
                body = {"src": "14155550100", "dst": f"1415555{index % 10_000:04d}", "text": "b"}
                response = await client.post(url, json=body)
                assert response.status_code == 202, response.text

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return requests / wall, 1000 * cpu / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "PLIVO_AUTH_ID": AUTH_ID, "PLIVO_AUTH_TOKEN": AUTH_TOKEN}
    command = [textbridge_binary(), "simulator", "--port", str(port)]
    simulator = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _answers(f"{base}/control/faults"):
            if time.monotonic() > deadline:
                sys.exit("the simulator did not start")
            time.sleep(0.2)
        url = f"{base}/v1/Account/{AUTH_ID}/Message/"
        for round_ in range(1, args.rounds + 1):
            for name, pooled in (("httpx's transport", False), ("keep_sockets", True)):
                rate, cpu = asyncio.run(post_all(url, args.requests, args.concurrency, pooled))
                print(f"round {round_}, {name}: {rate:.0f}/s, client {cpu:.2f} ms CPU per request")
    finally:
        stop(simulator)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
