"""webhook subscriptions and deliveries

Outbound webhooks: the customer's endpoints (`webhook_subscriptions`) and one row per event
per endpoint (`webhook_deliveries`), the deliverer's queue and the delivery log. On PostgreSQL
a statement trigger on `live_events` writes the delivery rows in the transaction that wrote
the events (every writer of events goes through that table there), and NOTIFYs the
deliverers; on SQLite the unit of work writes them (`webhooks_out.fanout`).

Revision ID: 9a02c0a29a02
Revises: 8b03c0b38b03
Create Date: 2026-11-30 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import textbridge.db.base

revision: str = "9a02c0a29a02"
down_revision: str | None = "8b03c0b38b03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = textbridge.db.base.UTCDateTime(timezone=True)
_PENDING = "status = 'pending'"

# The payload is the Standard Webhooks shape {type, timestamp, data}; `data` is the live
# event's own, as the SSE stream shows it. `webhooks_out.fanout.payload` builds the same on
# SQLite.
_FAN_OUT = """
CREATE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fanned integer;
BEGIN
    INSERT INTO webhook_deliveries
        (id, subscription_id, event_type, payload, status, attempts, next_attempt_at,
         created_at)
    SELECT gen_random_uuid(), s.id, e.type,
           jsonb_build_object(
               'type', e.type,
               'timestamp', to_char(e.created_at AT TIME ZONE 'UTC',
                                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'data', e.data),
           'pending', 0, now(), now()
    FROM new_events AS e
    JOIN webhook_subscriptions AS s
      ON s.enabled AND position(' ' || e.type || ' ' IN ' ' || s.event_types || ' ') > 0
    ORDER BY e.id;
    GET DIAGNOSTICS fanned = ROW_COUNT;
    IF fanned > 0 THEN
        PERFORM pg_notify('textbridge_hooks', '');
    END IF;
    RETURN NULL;
END
$$
"""

_TRIGGER = """
CREATE TRIGGER live_events_webhook_fan_out
    AFTER INSERT ON live_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_fan_out();
"""


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("delivered_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_webhook_deliveries_subscription",
        "webhook_deliveries",
        ["subscription_id", "created_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FAN_OUT)
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER live_events_webhook_fan_out ON live_events")
        op.execute("DROP FUNCTION webhook_fan_out()")
    op.drop_index("ix_webhook_deliveries_subscription", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
