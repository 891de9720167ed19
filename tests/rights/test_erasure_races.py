"""Writes that race an erasure of the same person (PostgreSQL only: on SQLite every
transaction begins IMMEDIATE and holds the write lock, so a send's read and write, an applier's
batch and an erasure run one after the other, never interleaved).

The erasure is held open at its last step (deleting the person's webhook journal entries,
which a test transaction keeps locked), after it has changed their contact, messages and
conversations. A send that read the conversation before the erasure's commit, or an inbound
from the person being applied meanwhile, then waits on a lock; the erasure commits; the write
goes on. Afterwards no plain copy of the person may remain in what the erasure left."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert

from textbridge.models import ConsentRecord

from ..support.held_transaction import held_transaction
from ..support.live import wait_until
from ..support.textbridge import Textbridge
from .people import PLIVO_SMS, Someone, address_hash, found_in_database, inject

pytestmark = pytest.mark.postgresql_only

RITA = Someone("+14155550166", "Rita Racewell", "rr66")
# The test's stand-in for an applier busy with one of the person's journal entries: the
# erasure's last step waits for it.
HOLD_THEIR_JOURNAL = ("SELECT 1 FROM webhook_journal WHERE body LIKE '%' || $1 || '%' FOR UPDATE",)


def _waiting_on_a_lock(textbridge: Textbridge, query: str, *, excluding: str = "") -> int:
    """Sessions of this test's database waiting on a lock while running a statement like
    `query` (and not like `excluding`)."""
    return int(
        textbridge.database.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query ILIKE :query AND query NOT ILIKE :excluding",
            query=query,
            excluding=excluding or "-",
        )
    )


def _erasure_held(textbridge: Textbridge) -> bool:
    return bool(_waiting_on_a_lock(textbridge, "DELETE FROM webhook_journal%"))


def _erase(textbridge: Textbridge, who: Someone) -> httpx.Response:
    with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
        return client.delete(f"/api/v1/contacts/{who.address}", timeout=60)


def _send(textbridge: Textbridge, who: Someone) -> httpx.Response:
    body = {"to": who.address, "text": f"{who.tag} sent during the erasure", "provider": "plivo"}
    with httpx.Client(base_url=textbridge.url, headers=textbridge.api.headers) as client:
        return client.post("/api/v1/messages", json=body, timeout=60)


def _known(textbridge: Textbridge, who: Someone) -> None:
    """A conversation with them (their reply, our send delivered): settled, nothing in flight."""
    response = textbridge.api.post(
        "/api/v1/messages",
        json={"to": who.address, "text": f"{who.tag} first", "provider": "plivo"},
        headers={"Idempotency-Key": "known"},
    )
    assert response.status_code == 202, response.text
    sent = response.json()
    textbridge.wait_for_status(sent["id"], "delivered", timeout=20)
    inject(textbridge, "plivo", **{"from": who.address, "to": PLIVO_SMS, "text": f"{who.tag} in"})
    applied = "SELECT count(*) FROM messages WHERE from_address = :address"
    wait_until(lambda: textbridge.database.scalar(applied, address=who.address) == 1, timeout=20)


@pytest.mark.parametrize("lane", ["driver", "session"])
def test_a_send_read_before_an_erasure_and_written_after_it_is_refused(
    textbridge: Textbridge, lane: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send reads the conversation while the erasure is under way (not committed: no
    opt-out yet), and its write meets the erased person: refused as opted out, nothing kept."""
    _known(textbridge, RITA)
    if lane == "session":  # the unit of work's path (`repository.store_outbound`)
        monkeypatch.setattr(textbridge.runtime, "driver", None)
    with (
        ThreadPoolExecutor(2) as pool,
        held_transaction(textbridge.database.url, HOLD_THEIR_JOURNAL, RITA.digits) as release,
    ):
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(lambda: _erasure_held(textbridge), timeout=30)
        sending = pool.submit(_send, textbridge, RITA)
        wait_until(lambda: _waiting_on_a_lock(textbridge, "%INSERT INTO messages%"), timeout=30)
        release.set()
        erased, sent = erasing.result(), sending.result()
    assert erased.status_code == 200, erased.text
    assert sent.status_code == 409, sent.text
    assert sent.json()["error"]["code"] == "recipient_opted_out"
    assert found_in_database(textbridge.database, RITA) == []


def test_a_send_written_before_an_erasure_commits_is_erased_with_it(
    textbridge: Textbridge,
) -> None:
    """The other order: the send's write holds the person (it waits, with its lock taken, on
    an `Idempotency-Key` another transaction is inserting) when the erasure starts. The
    erasure waits for it, then erases the message with the rest."""
    _known(textbridge, RITA)
    key = "racing-an-erasure"
    # Stored under the caller's id (`api.messages`): the one our key's first send stored.
    caller = textbridge.database.scalar(
        "SELECT id FROM api_keys WHERE id IN (SELECT CAST(split_part(idempotency_key, ':', 1)"
        " AS uuid) FROM messages WHERE idempotency_key IS NOT NULL) LIMIT 1"
    )
    claim_the_key = (
        "INSERT INTO messages (id, conversation_id, direction, channel, provider, from_address,"
        " to_address, content_type, status, attempts, rate_limited, priority, idempotency_key,"
        " created_at, updated_at)"
        " SELECT gen_random_uuid(), id, 'outbound', 'sms', 'plivo', '+1', '+1', 'text',"
        " 'cancelled', 0, 0, 0, $1, now(), now() FROM conversations LIMIT 1",
    )
    # Scheduled: it does not leave before the erasure cancels it (a message that has left
    # brings status callbacks after the erasure, a known limit: README).
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"to": RITA.address, "text": f"{RITA.tag} before", "provider": "plivo", "send_at": later}
    with (
        ThreadPoolExecutor(2) as pool,
        held_transaction(
            textbridge.database.url, claim_the_key, f"{caller}:{key}", roll_back=True
        ) as release,
    ):
        sending = pool.submit(
            textbridge.api.post, "/api/v1/messages", json=body, headers={"Idempotency-Key": key}
        )
        wait_until(lambda: _waiting_on_a_lock(textbridge, "%INSERT INTO messages%"), timeout=30)
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(
            lambda: erasing.done() or _waiting_on_a_lock(textbridge, "%FROM contacts%"),
            timeout=30,
        )
        release.set()  # the held transaction rolls back: the key is free again
        sent, erased = sending.result(), erasing.result()
    assert sent.status_code == 202, sent.text
    assert erased.status_code == 200, erased.text
    assert found_in_database(textbridge.database, RITA) == []
    cancelled = textbridge.message(sent.json()["id"])
    assert (cancelled["status"], cancelled["error_code"]) == ("cancelled", "erased")


def test_an_inbound_applied_during_an_erasure_is_a_new_contact_not_the_erased_one(
    textbridge: Textbridge,
) -> None:
    """A reply from the person being applied while the erasure runs: stored after the erasure
    as a new contact's message (as a person writing again), never in the erased conversation,
    which would tie their number to the pseudonym."""
    _known(textbridge, RITA)
    with (
        ThreadPoolExecutor(1) as pool,
        held_transaction(textbridge.database.url, HOLD_THEIR_JOURNAL, RITA.digits) as release,
    ):
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(lambda: _erasure_held(textbridge), timeout=30)
        inject(textbridge, "plivo", **{"from": RITA.address, "to": PLIVO_SMS, "text": "rr66 again"})
        wait_until(
            lambda: _waiting_on_a_lock(textbridge, "%", excluding="DELETE FROM webhook_journal%"),
            timeout=30,
        )
        release.set()
        assert erasing.result().status_code == 200
    again = "SELECT count(*) FROM messages WHERE body = 'rr66 again'"
    wait_until(lambda: textbridge.database.scalar(again) == 1, timeout=30)
    in_erased = textbridge.database.scalar(
        "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN contacts k ON k.id = c.contact_id WHERE k.address LIKE 'erased:%'"
        " AND (m.body IS NOT NULL OR m.from_address = :address OR m.to_address = :address)",
        address=RITA.address,
    )
    assert in_erased == 0
    owner = textbridge.database.scalar(
        "SELECT k.address FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN contacts k ON k.id = c.contact_id WHERE m.body = 'rr66 again'"
    )
    assert owner == RITA.address


def test_a_campaign_started_during_an_erasure_sends_nothing_to_the_person(
    textbridge: Textbridge,
) -> None:
    """A draft naming the person is started while the erasure runs: the start waits for the
    erasure (which holds the drafts), then finds their staged row gone; nothing of theirs is
    written, the erased conversation's preview included."""
    _known(textbridge, RITA)
    recipients = [{"to": RITA.address, "variables": {"name": RITA.name}}]
    body = {"name": "raced", "text": "Hello {name}", "quiet_hours": False, "provider": "plivo"}
    created = textbridge.api.post("/api/v1/campaigns", json={**body, "recipients": recipients})
    assert created.status_code == 201, created.text
    campaign = created.json()["campaign"]["id"]
    with (
        ThreadPoolExecutor(2) as pool,
        held_transaction(textbridge.database.url, HOLD_THEIR_JOURNAL, RITA.digits) as release,
    ):
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(lambda: _erasure_held(textbridge), timeout=30)
        starting = pool.submit(textbridge.api.post, f"/api/v1/campaigns/{campaign}/start")
        wait_until(
            lambda: (
                starting.done()
                or _waiting_on_a_lock(textbridge, "%", excluding="DELETE FROM webhook_journal%")
            ),
            timeout=30,
        )
        release.set()
        erased, started = erasing.result(), starting.result()
    assert erased.status_code == 200, erased.text
    assert started.status_code == 200, started.text
    assert found_in_database(textbridge.database, RITA) == []
    made = "SELECT count(*) FROM messages WHERE campaign_id = CAST(:id AS uuid)"
    assert textbridge.database.scalar(made, id=campaign) == 0


@pytest.mark.parametrize("how", ["chunk", "created"])
def test_recipients_staged_during_an_erasure_leave_the_person_out(
    textbridge: Textbridge, how: str
) -> None:
    """Recipients naming the person are staged while the erasure runs (a chunk added to a
    draft, or a campaign created with them): the staging waits for the erasure, then finds
    their opt-out and stages nothing of them."""
    _known(textbridge, RITA)
    body = {"name": "staged", "text": "Hello {name}", "quiet_hours": False, "provider": "plivo"}
    chunk = {"recipients": [{"to": RITA.address, "variables": {"name": RITA.name}}]}
    if how == "chunk":
        created = textbridge.api.post("/api/v1/campaigns", json=body)
        assert created.status_code == 201, created.text
        path, payload = f"/api/v1/campaigns/{created.json()['campaign']['id']}/recipients", chunk
    else:
        path, payload = "/api/v1/campaigns", {**body, **chunk}
    with (
        ThreadPoolExecutor(2) as pool,
        held_transaction(textbridge.database.url, HOLD_THEIR_JOURNAL, RITA.digits) as release,
    ):
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(lambda: _erasure_held(textbridge), timeout=30)
        staging = pool.submit(textbridge.api.post, path, json=payload)
        wait_until(
            lambda: (
                staging.done()
                or _waiting_on_a_lock(textbridge, "%", excluding="DELETE FROM webhook_journal%")
            ),
            timeout=30,
        )
        release.set()
        erased, staged = erasing.result(), staging.result()
    assert erased.status_code == 200, erased.text
    assert staged.status_code in (200, 201), staged.text
    assert found_in_database(textbridge.database, RITA) == []
    assert staged.json()["campaign"]["recipients"] == 0


def test_a_first_send_to_a_person_being_erased_is_refused(textbridge: Textbridge) -> None:
    """The person has no contact yet (only a consent record: an opt-in), and a send creates
    their first contact while the erasure runs (held at their consent record): the send's new
    contact waits on the erasure's stand-in for the address, then finds the opt-out."""
    hashed = address_hash(textbridge.database, RITA.address)
    textbridge.database.run(
        insert(ConsentRecord).values(
            address=RITA.address,
            address_hash=hashed,
            action="opt_in",
            scope="*",
            channel="sms",
            source="api",
            kind="express",
            evidence={"note": f"{RITA.tag} said yes"},
        )
    )
    hold_their_consent = ("SELECT 1 FROM consent_records WHERE address = $1 FOR UPDATE",)
    with (
        ThreadPoolExecutor(2) as pool,
        held_transaction(textbridge.database.url, hold_their_consent, RITA.address) as release,
    ):
        erasing = pool.submit(_erase, textbridge, RITA)
        wait_until(lambda: _waiting_on_a_lock(textbridge, "UPDATE consent_records%"), timeout=30)
        sending = pool.submit(_send, textbridge, RITA)
        wait_until(
            lambda: (
                sending.done()
                or _waiting_on_a_lock(textbridge, "%", excluding="UPDATE consent_records%")
            ),
            timeout=30,
        )
        release.set()
        erased, sent = erasing.result(), sending.result()
    assert erased.status_code == 200, erased.text
    assert sent.status_code == 409, sent.text
    assert found_in_database(textbridge.database, RITA) == []
