"""bounded webhook journal: the URL as text, a refused body's SHA-256

Revision ID: 6a05196e5705
Revises: 6a01a9911e01
Create Date: 2026-11-30 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a05196e5705"
down_revision: str | None = "6a01a9911e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_journal", schema=None) as batch_op:
        batch_op.alter_column(
            "url", existing_type=sa.String(length=2000), type_=sa.Text(), existing_nullable=False
        )
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_journal", schema=None) as batch_op:
        batch_op.drop_column("body_sha256")
        batch_op.alter_column(
            "url", existing_type=sa.Text(), type_=sa.String(length=2000), existing_nullable=False
        )
