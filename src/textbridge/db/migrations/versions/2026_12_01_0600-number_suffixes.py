"""contacts: the number index holds each number's suffixes, not every run of its digits

PostgreSQL only. `ix_contacts_number_substrings` (a004c0a4a004) held every run of three
digits or more of a number: 45 keys for an 11-digit one, compared in the database's
collation; it was most of the cost of writing a contact (a 100 000-recipient campaign's
contacts spent tens of seconds in it; docs/DESIGN-NOTES.md, "Campaign enqueue: the number
index's write cost"). A run of digits is the beginning of a suffix, so the same searches are
answered from the suffixes alone: `ix_contacts_number_suffixes` is a GIN index of
`textbridge_number_suffixes(address)`, a `tsvector` whose lexemes are the suffixes of three
digits or more of an all-digit address (9 for an 11-digit number), and a search asks for a
prefix of one (`@@ '4155550123:*'`), which GIN answers from a range of its keys. Lexemes
compare byte by byte (no collation), and they carry no positions.

Rolling upgrade: the new index is built `CONCURRENTLY` (writes to contacts go on meanwhile;
on a large table this is the long part, and it waits for transactions already using the
table), then the old index is dropped `CONCURRENTLY`. The old function,
`textbridge_number_substrings`, stays (the previous release's query calls it); it goes in a
later release. Between the drop and the restart of the last node of the previous release,
that release's number search reads every contact instead of its index: correct, slower
(DESIGN-NOTES says how much). Keeping the old index for a release would have kept its whole
write cost for that release.

A failed concurrent build leaves an invalid index: the upgrade drops it and builds again.

Revision ID: b201b201b201
Revises: a106c6a6a106
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b201b201b201"
down_revision: str | None = "a106c6a6a106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every suffix of three digits or more of an all-digit address of 3 to 20 digits (less a
# leading `+`), as lexemes (`array_to_tsvector` takes them as they are: no parser, no
# positions). Other addresses have none.
FUNCTION = r"""
CREATE OR REPLACE FUNCTION textbridge_number_suffixes(address text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    digits text;
    suffixes text[] := '{}';
BEGIN
    IF address !~ '^\+?[0-9]{3,20}$' THEN
        RETURN ''::tsvector;
    END IF;
    digits := ltrim(address, '+');
    FOR start IN 1 .. length(digits) - 2 LOOP
        suffixes := array_append(suffixes, substr(digits, start));
    END LOOP;
    RETURN array_to_tsvector(suffixes);
END $$
"""

NEW = "ix_contacts_number_suffixes"
OLD = "ix_contacts_number_substrings"
NEW_INDEX = (
    f"CREATE INDEX CONCURRENTLY {NEW} ON contacts USING gin (textbridge_number_suffixes(address))"
)
OLD_INDEX = (
    f"CREATE INDEX CONCURRENTLY {OLD} ON contacts USING gin (textbridge_number_substrings(address))"
)


def _build(name: str, create: str) -> None:
    """Build an index concurrently, unless it is there and valid (an earlier try that failed
    left it invalid: dropped first)."""
    valid = op.get_bind().scalar(
        sa.text(
            "SELECT i.indisvalid FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": name},
    )
    if valid:
        return
    if valid is not None:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")
    op.execute(create)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    # CONCURRENTLY cannot run in a transaction: the migrations before this one commit here.
    with op.get_context().autocommit_block():
        _build(NEW, NEW_INDEX)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        _build(OLD, OLD_INDEX)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NEW}")
    op.execute("DROP FUNCTION textbridge_number_suffixes(text)")
