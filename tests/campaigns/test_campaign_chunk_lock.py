"""What a chunk of recipients does before it waits for its campaign (PostgreSQL only: on
SQLite every transaction holds the database's write lock from its first write). Chunks of
one campaign are staged one at a time, under the campaign's row lock; the consent read and
the creation of the chunk's contacts come before that lock, so that they run while another
chunk of the same campaign is being staged."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import Textbridge

pytestmark = pytest.mark.postgresql_only

HOLD_THE_CAMPAIGN = ("SELECT 1 FROM campaigns WHERE id = CAST($1 AS uuid) FOR UPDATE",)
# The backend of a request waiting for the campaign's lock, and whether its transaction has
# written to contacts already (a row-exclusive lock on the table, taken by its INSERT).
WAITING_CHUNK = """
SELECT a.pid, EXISTS (
    SELECT 1 FROM pg_locks AS l
    WHERE l.pid = a.pid AND l.relation = 'contacts'::regclass AND l.mode = 'RowExclusiveLock'
)
FROM pg_stat_activity AS a
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
  AND a.query ILIKE 'SELECT campaigns.%FOR NO KEY UPDATE'
"""


def test_a_chunk_creates_its_contacts_before_it_waits_for_the_campaign(
    textbridge: Textbridge,
) -> None:
    body = {"name": "locked", "text": "Hello {name}", "quiet_hours": False}
    created = textbridge.api.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]["id"]
    people = [{"to": f"+1415555{300 + i:04d}", "variables": {"name": f"P{i}"}} for i in range(3)]
    with (
        ThreadPoolExecutor(1) as pool,
        held_transaction(textbridge.database.url, HOLD_THE_CAMPAIGN, campaign) as release,
    ):
        staging = pool.submit(
            textbridge.api.post,
            f"/api/v1/campaigns/{campaign}/recipients",
            json={"recipients": people},
        )
        waiting = wait_until(
            lambda: textbridge.database.rows(WAITING_CHUNK) or staging.done(), timeout=30
        )
        assert not staging.done(), staging.result().text
        [(_, wrote_contacts)] = waiting
        assert wrote_contacts
        # Not visible before the chunk commits: it may still find the campaign started.
        count = "SELECT count(*) FROM contacts WHERE address LIKE '+1415555030%'"
        assert textbridge.database.scalar(count) == 0
        release.set()
        staged = staging.result()
    assert staged.status_code == 200, staged.text
    assert (staged.json()["accepted"], staged.json()["campaign"]["recipients"]) == (3, 3)
    assert textbridge.database.scalar(count) == 3
