"""media downloads

Revision ID: 1ce78bb7c4b7
Revises: e67206a34f79
Create Date: 2026-11-26 20:57:35.223106
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1ce78bb7c4b7"
down_revision: str | None = "e67206a34f79"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("download_state", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("download_error", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("download_error")
        batch_op.drop_column("download_state")
