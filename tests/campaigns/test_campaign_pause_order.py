"""A paused campaign gives up its place in each recipient's order, through the real app over
HTTP on both databases, delivered by the simulator: another campaign from the same sender to
the same person is not held back by it, and the paused message leaves after it on resume."""

from __future__ import annotations

from ..support.live import wait_until
from ..support.textbridge import Textbridge
from .test_campaigns_api import _create, _db_id, _faults, _post, _report

SHARED = "+14155550301"
IN_FLIGHT_SECONDS = 10  # under the dispatcher's 15 s read timeout: the send is answered
RECEIPTS_ON_TIME = 0.05  # the simulator's default gap between status callbacks
ONLY_B = "+14155550302"


def _texts_received_by(textbridge: Textbridge, number: str) -> list[str]:
    sent = textbridge.simulator.get("/control/messages", params={"direction": "outbound"}).json()
    return [m["text"] for m in sent if m["to_number"].lstrip("+") == number.lstrip("+")]


def _completed(textbridge: Textbridge, campaign_id: str, delivered: int) -> bool:
    report = _report(textbridge, campaign_id)
    return bool(
        report["campaign"]["state"] == "completed" and report["progress"]["delivered"] == delivered
    )


def _campaign_message(textbridge: Textbridge, campaign_id: str) -> tuple[str, bool]:
    """The status of the campaign's one message, and whether it has a due time."""
    rows = textbridge.database.rows(
        "SELECT status, next_attempt_at IS NOT NULL FROM messages WHERE campaign_id = :c",
        c=_db_id(textbridge, campaign_id),
    )
    assert len(rows) == 1
    return str(rows[0][0]), bool(rows[0][1])


def test_a_paused_campaign_does_not_hold_back_another_to_the_same_person(
    textbridge: Textbridge,
) -> None:
    # An API message in flight to SHARED (a slow provider) holds campaign A's message to that
    # person back, so that A is paused before its message can leave. The provider answers it
    # and sends its receipts IN_FLIGHT_SECONDS late: until then it stays `sending`. (With the
    # receipts on time, as before, its `delivered` could settle it within a second, while the
    # send was still unanswered: on a loaded CI machine A's message once left before the pause.)
    _faults(
        textbridge,
        send_delay_seconds=IN_FLIGHT_SECONDS,
        callback_delay_seconds=IN_FLIGHT_SECONDS,
    )
    first = str(textbridge.send(to=SHARED, text="first")["id"])
    a = _create(textbridge, name="A", text="from A", recipients=[{"to": SHARED}], start=True)
    a_id = a["campaign"]["id"]
    assert _post(textbridge, a_id, "pause")["state"] == "paused"
    _faults(textbridge, send_delay_seconds=0, callback_delay_seconds=RECEIPTS_ON_TIME)
    assert _campaign_message(textbridge, a_id) == ("accepted", False)
    assert a["campaign"]["from"] == textbridge.message(first)["from"]  # the same pair

    b = _create(
        textbridge,
        name="B",
        text="from B",
        recipients=[{"to": SHARED}, {"to": ONLY_B}],
        start=True,
    )
    b_id = b["campaign"]["id"]
    wait_until(lambda: _completed(textbridge, b_id, delivered=2), timeout=IN_FLIGHT_SECONDS + 10)
    # Answered (its receipts are still IN_FLIGHT_SECONDS apart): it left before B's.
    assert textbridge.message(first)["status"] in {"submitted", "sent", "delivered", "read"}
    assert _texts_received_by(textbridge, SHARED) == ["first", "from B"]
    assert _campaign_message(textbridge, a_id) == ("accepted", False)

    assert _post(textbridge, a_id, "resume")["state"] == "running"
    wait_until(lambda: _completed(textbridge, a_id, delivered=1), timeout=10)
    assert _texts_received_by(textbridge, SHARED) == ["first", "from B", "from A"]
    assert _texts_received_by(textbridge, ONLY_B) == ["from B"]
