"""live events: writers marked by a lock before they take an id, and the events in their NOTIFY

Two statement triggers on `live_events` (PostgreSQL; see `realtime/relay.py`):

- `live_events_writer`, BEFORE INSERT: the inserting transaction takes a shared advisory lock
  (`realtime.relay.WRITER_LOCK`), before the statement takes any event id from the sequence,
  and holds it to its end. A relay that finds an id missing notes the transactions holding the
  lock: once they have all ended, an id still missing will never come (its transaction rolled
  back) and is skipped at once, instead of after a timer.
- `live_events_notify`, AFTER INSERT: NOTIFYs `textbridge_events` with the inserted events
  (`[[id, type, data], ...]`), or, when that is too long for a notification, with the last
  id alone. Every process's relay publishes the events from the payload without reading the
  table. The writers no longer NOTIFY themselves.

Revision ID: a005c0a5a005
Revises: a009c0a9a009
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a005c0a5a005"
down_revision: str | None = "a009c0a9a009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The two keys of `realtime.relay.WRITER_LOCK`. Shared: writers never wait for each other.
_WRITER = """
CREATE FUNCTION live_events_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1952608868, 1);
    RETURN NULL;
END
$$
"""

# A notification's payload must stay under 8000 bytes.
_NOTIFY = """
CREATE FUNCTION live_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
    last_id bigint;
BEGIN
    SELECT json_agg(json_build_array(e.id, e.type, e.data) ORDER BY e.id)::text, max(e.id)
    INTO payload, last_id
    FROM new_events AS e;
    IF last_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF octet_length(payload) > 7900 THEN
        payload := last_id::text;
    END IF;
    PERFORM pg_notify('textbridge_events', payload);
    RETURN NULL;
END
$$
"""

_TRIGGERS = (
    """
    CREATE TRIGGER live_events_writer
        BEFORE INSERT ON live_events
        FOR EACH STATEMENT EXECUTE FUNCTION live_events_writer()
    """,
    """
    CREATE TRIGGER live_events_notify
        AFTER INSERT ON live_events
        REFERENCING NEW TABLE AS new_events
        FOR EACH STATEMENT EXECUTE FUNCTION live_events_notify()
    """,
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_WRITER)
    op.execute(_NOTIFY)
    for trigger in _TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("live_events_notify", "live_events_writer"):
        op.execute(f"DROP TRIGGER {name} ON live_events")
        op.execute(f"DROP FUNCTION {name}()")
