"""consent ledger, audit log, instance secrets

The consent ledger (every opt-in and opt-out, the only truth about consent), the append-only
audit log (UPDATE and DELETE refused by triggers on both databases), and the installation's own
secrets, with the key of the address hash generated here once per database.

Revision ID: 8a00c0a08a00
Revises: 7a08b1b87a08
Create Date: 2026-11-30 12:30:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import textbridge.db.base

revision: str = "8a00c0a08a00"
down_revision: str | None = "7a08b1b87a08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = textbridge.db.base.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_REFUSE_CHANGES_POSTGRESQL = (
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END $$
    """,
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)
_REFUSE_CHANGES_SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", _ID, sa.Identity(), nullable=False),
        sa.Column("address", sa.String(length=140), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.String(length=140), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.Column("evidence", _JSON, nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(op.f("ix_consent_records_address_hash"), "consent_records", ["address_hash"])
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, sa.Identity(), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("origin", sa.String(length=100), nullable=True),
        sa.Column("detail", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _REFUSE_CHANGES_POSTGRESQL if postgresql else _REFUSE_CHANGES_SQLITE:
        op.execute(statement)
    secrets_table = op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secrets")),
    )
    op.bulk_insert(secrets_table, [{"name": "address_hash_key", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("instance_secrets")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_consent_records_address_hash"), table_name="consent_records")
    op.drop_table("consent_records")
