"""Campaign enqueue: a 100 000-recipient CSV through `textbridge campaign send` into a
`textbridge serve` on PostgreSQL, until every message is stored, due and visible through the API.

    cd /work/wt/enqueue && uv run python bench/campaign_enqueue.py [--recipients 100000]
        [--rounds 3] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--profile DIR] [--without-bytecode-cache]

The recipients file has `--recipients` distinct valid US numbers with a `name` column used by
the text (`Hello {name}, ...`), plus 1% invalid rows and 1% duplicates, shuffled. Per round:

1. ceiling: a fresh migrated database `textbridge_bench_enqueue_ceiling`; one asyncpg
   connection reads the same CSV and COPYs the rows any enqueue must write for the inbox to
   show them (a contact, a conversation and a message per valid recipient, numbers taken as
   written: no validation, no rendering, no deduplication beyond a set) in one transaction.
2. textbridge: a fresh migrated database `textbridge_bench_enqueue`, `textbridge serve`
   (sandbox), and `textbridge campaign send FILE --text ... --no-wait` as a separate process:
   it streams the file in chunks to the API (validation, deduplication, rendering, segments,
   price, contacts, staging by COPY), then starts the campaign (conversations created or
   touched, then one INSERT ... SELECT into messages). The time is from launching the CLI
   until it exits, when the campaign is `running` and `GET /api/v1/campaigns/{id}` counts
   every message; the bench checks that count, that none is cancelled (each is `accepted` or
   further on, or `held`: quiet hours are on by default, and each message's leave time is
   decided in the same statement), and that the file's invalid rows and duplicates were
   reported as such.

Peak memory: the serve process's `VmHWM` (its peak resident set since it started, so it
includes its start-up), and the CLI's own peak resident set (`ru_maxrss`, measured inside it).
CPU: serve's during the run, the CLI's whole life (start-up included), and that of serve's
PostgreSQL connections (its pool lives through the run). The processes cache their bytecode
as an installed textbridge has it (`--without-bytecode-cache` makes every process compile
every module it imports, as the figures before 2026-11-30 13:00 did: the sandbox's
PYTHONDONTWRITEBYTECODE was passed on and the checkout had no cache; the CLI: 3 s of CPU).
`--profile DIR` records py-spy's collapsed stacks of serve (idle included) and of the CLI;
such a round's figures are not comparable.
The ratio is ceiling time / textbridge time from the same round; the result is the median over
rounds. The sandbox dispatcher starts sending as soon as the campaign starts; that is left on,
as in real use, and it only competes for the CPU after the measured moment.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from harness import free_port

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "tb_bench_campaigns_0123456789abcdefghij"
TEXT = "Hello {name}, our spring sale starts tomorrow at 9. Reply STOP to opt out."
AREAS = (212, 213, 305, 310, 312, 404, 415, 503, 617, 646, 702, 713, 206, 303, 512, 602, 614)
SANDBOX_SMS_NUMBER = "+14155550100"
CLI_PEAK = (
    "import resource, sys\n"
    "from textbridge.cli import app\n"
    "try:\n"
    "    app(sys.argv[2:], prog_name='textbridge')\n"
    "finally:\n"
    "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    cpu = usage.ru_utime + usage.ru_stime\n"
    "    open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {cpu}')\n"
)


def write_recipients(path: Path, count: int) -> int:
    """`count` distinct valid numbers, 1% invalid rows, 1% duplicates; returns the row count."""
    rnd = random.Random(7)
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(f"+1{rnd.choice(AREAS)}{rnd.randint(200, 999)}{rnd.randint(0, 9999):04d}")
    ordered = sorted(numbers)
    rows = [(number, f"Person {index}") for index, number in enumerate(ordered)]
    rows += [(f"555-{index:04d}", "Invalid") for index in range(count // 100)]
    rows += [(rnd.choice(ordered), "Again") for _ in range(count // 100)]
    rnd.shuffle(rows)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "name"])
        writer.writerows(rows)
    return len(rows)


def environment(**extra: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEXTBRIDGE_", "PLIVO_", "VONAGE_"))
    }
    return {**keep, "NO_COLOR": "1", **extra}


async def recreate(admin_url: str, name: str) -> str:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {name}")
    finally:
        await connection.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run(
        [sys.executable, "-m", "textbridge", "db", "upgrade"],
        env=environment(TEXTBRIDGE_DATABASE_URL=url),
        check=True,
        capture_output=True,
    )
    return url


async def ceiling(url: str, path: Path) -> float:
    """The same rows as the enqueue writes for the inbox, by bare COPY in one transaction."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    sender = uuid.uuid4()
    now = datetime.now(UTC)
    await connection.execute(
        "INSERT INTO senders (id, provider, channel, address, created_at)"
        " VALUES ($1, 'plivo', 'sms', $2, $3)",
        sender,
        SANDBOX_SMS_NUMBER,
        now,
    )
    started = time.perf_counter()
    contacts, conversations, messages = [], [], []
    with path.open(newline="") as lines:
        reader = csv.reader(lines)
        next(reader)
        seen: set[str] = set()
        for number, name in reader:
            if not number.startswith("+") or number in seen:
                continue
            seen.add(number)
            contact, conversation = uuid.uuid4(), uuid.uuid4()
            contacts.append((contact, number, "e164", now))
            conversations.append((conversation, contact, sender, "sms", 0, now))
            body = TEXT.replace("{name}", name)
            messages.append(
                (
                    uuid.uuid4(),
                    conversation,
                    "outbound",
                    "sms",
                    "plivo",
                    SANDBOX_SMS_NUMBER,
                    number,
                    body,
                    "text",
                    "accepted",
                    0,
                    now,
                    now,
                    now,
                )
            )
    async with connection.transaction():
        await connection.copy_records_to_table(
            "contacts", records=contacts, columns=["id", "address", "address_kind", "created_at"]
        )
        await connection.copy_records_to_table(
            "conversations",
            records=conversations,
            columns=["id", "contact_id", "sender_id", "channel", "unread_count", "created_at"],
        )
        await connection.copy_records_to_table(
            "messages",
            records=messages,
            columns=[
                "id",
                "conversation_id",
                "direction",
                "channel",
                "provider",
                "from_address",
                "to_address",
                "body",
                "content_type",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ],
        )
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


def vm_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database: str) -> float:
    """CPU time of the PostgreSQL backends connected to `database` (serve's pooled
    connections live through the run; a connection closed meanwhile is not counted)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            if command.startswith(b"postgres: ") and f" {database} ".encode() in command:
                total += cpu_seconds(int(entry.name))
        except OSError:
            continue
    return total


def py_spy(output: Path, *target: str) -> list[str]:
    """py-spy recording `target` (a command, or `--pid N`) into a collapsed-stack file."""
    return [
        "uvx",
        "py-spy",
        "record",
        "--format",
        "raw",
        "--rate",
        "50",
        "-o",
        str(output),
        *target,
    ]


def textbridge_round(
    url: str, path: Path, expected: int, folder: Path, profile: Path | None = None
) -> dict[str, float]:
    port = free_port()
    log = (folder / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "textbridge", "serve", "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment(
            TEXTBRIDGE_DATABASE_URL=url,
            TEXTBRIDGE_API_KEY=API_KEY,
            TEXTBRIDGE_LOG_LEVEL="warning",
            TEXTBRIDGE_API_RATE_PER_SECOND="0",
        ),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, serve)
        database = url.rsplit("/", 1)[1]
        cpu_before = cpu_seconds(serve.pid)
        postgres_before = postgres_cpu_seconds(database)
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                py_spy(profile / "serve.txt", "--idle", "--pid", str(serve.pid)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        peak_file = folder / "cli-peak"
        command = [
            sys.executable,
            "-c",
            CLI_PEAK,
            str(peak_file),
            "campaign",
            "send",
            str(path),
            "--text",
            TEXT,
            "--no-wait",
            "--url",
            base,
            "--api-key",
            API_KEY,
        ]
        if profile is not None:
            command = py_spy(profile / "cli.txt", "--", *command)
        started = time.perf_counter()
        lines, returncode, stderr = _run_timed(command, folder)
        ended = time.perf_counter()
        elapsed = ended - started
        if returncode != 0:
            output = "".join(line for _, line in lines)
            raise SystemExit(f"campaign send failed:\n{output}\n{stderr}")
        serve_cpu = cpu_seconds(serve.pid) - cpu_before
        postgres_cpu = postgres_cpu_seconds(database) - postgres_before
        serve_peak = vm_peak_mb(serve.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        _check(base, expected)
        return {
            "seconds": elapsed,
            "serve_peak_mb": serve_peak,
            "cli_peak_mb": int(peak_file.read_text().split()[0]) / 1024,
            "cli_cpu_s": float(peak_file.read_text().split()[1]),
            "serve_cpu_s": serve_cpu,
            "postgres_cpu_s": postgres_cpu,
            "start_s": _start_seconds(lines, ended),
        }
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        log.close()


def _run_timed(command: list[str], folder: Path) -> tuple[list[tuple[float, str]], int, str]:
    """Run the CLI, noting when each line of its output appears (unbuffered)."""
    env = {**environment(), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile("w+") as errors:
        cli = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        assert cli.stdout is not None
        lines = [(time.perf_counter(), line) for line in cli.stdout]
        returncode = cli.wait()
        errors.seek(0)
        return lines, returncode, errors.read()


def _start_seconds(lines: list[tuple[float, str]], ended: float) -> float:
    """From the last line of the preview (printed on stdout once the upload is done) until
    the CLI exits: mostly the start's own request (the INSERT ... SELECT into messages and
    the conversations' update); `--no-wait` leaves as soon as it is answered."""
    return ended - lines[-1][0] if lines else float("nan")


def _wait_ready(base: str, serve: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise SystemExit("serve exited; see serve.log")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def _check(base: str, expected: int) -> None:
    """Every message stored and counted by the API, none cancelled, and the file's invalid
    rows and duplicates (1% each) reported as such."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    campaigns = httpx.get(f"{base}/api/v1/campaigns", headers=headers, timeout=60).json()
    current = httpx.get(
        f"{base}/api/v1/campaigns/{campaigns[0]['campaign']['id']}", headers=headers, timeout=60
    ).json()
    progress, campaign = current["progress"], current["campaign"]
    total, state = progress["total"], campaign["state"]
    if total != expected or progress["cancelled"] or state not in ("running", "completed"):
        raise SystemExit(
            f"expected {expected} messages of a running campaign, found {total} ({state})"
        )
    skipped = (campaign["invalid"], campaign["duplicates"])
    if skipped != (expected // 100, expected // 100):
        raise SystemExit(f"expected {expected // 100} invalid and duplicate rows: {skipped}")


def bytecode(compile_each_time: bool, folder: Path) -> None:
    """An installed textbridge has its modules compiled: let the processes cache bytecode
    (the sandbox sets PYTHONDONTWRITEBYTECODE). Or, to compare with the earlier figures, make
    them compile every module each time: no writing, and an empty cache folder to read."""
    if compile_each_time:
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        os.environ["PYTHONPYCACHEPREFIX"] = str(folder / "no-bytecode")
    else:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--without-bytecode-cache",
        action="store_true",
        help="Compile every module in every process (as the figures before 2026-11-30 13:00)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="A folder for py-spy profiles (collapsed stacks) of serve and the CLI; the "
        "figures of a profiled round are not comparable",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textbridge-campaign-bench-") as temp:
        folder = Path(temp)
        bytecode(args.without_bytecode_cache, folder)
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
        path = folder / "recipients.csv"
        rows = write_recipients(path, args.recipients)
        print(
            f"{path.name}: {rows} rows, {args.recipients} distinct valid numbers, "
            f"{path.stat().st_size / 1e6:.1f} MB"
        )
        ratios = []
        for round_number in range(1, args.rounds + 1):
            ceiling_url = asyncio.run(recreate(args.admin_url, "textbridge_bench_enqueue_ceiling"))
            floor = asyncio.run(ceiling(ceiling_url, path))
            url = asyncio.run(recreate(args.admin_url, "textbridge_bench_enqueue"))
            measured = textbridge_round(url, path, args.recipients, folder, args.profile)
            ratio = floor / measured["seconds"]
            ratios.append(ratio)
            print(
                f"round {round_number}: ceiling {floor:.2f} s, "
                f"textbridge {measured['seconds']:.2f} s "
                f"(ratio {ratio:.3f}); peak RSS serve {measured['serve_peak_mb']:.0f} MB, "
                f"CLI {measured['cli_peak_mb']:.0f} MB; CPU serve {measured['serve_cpu_s']:.1f} s, "
                f"CLI {measured['cli_cpu_s']:.1f} s, "
                f"serve's PostgreSQL connections {measured['postgres_cpu_s']:.1f} s; "
                f"start request {measured['start_s']:.1f} s",
                flush=True,
            )
        print(f"median ratio textbridge/ceiling: {statistics.median(ratios):.3f}")
        print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
