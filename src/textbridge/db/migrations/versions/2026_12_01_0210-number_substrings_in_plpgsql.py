"""contacts: the number index's function as a PL/pgSQL loop

`textbridge_number_substrings(address)` (migration a004c0a4a004) feeds the GIN index
`ix_contacts_number_substrings`: PostgreSQL evaluates it for every contact written. As a SQL
function over two `generate_series` with `array_agg(DISTINCT ...)` it cannot be inlined, so
each call started an executor, a sort and an aggregate: 0.3 to 0.45 ms a number on the shared
machine, 60% of the backend's time inserting contacts (`perf`), the largest single cost of a
100 000-recipient campaign's enqueue (docs/DESIGN-NOTES.md, "Campaign enqueue: the contacts'
number index"). The same runs built by a PL/pgSQL loop cost about a fifth.

The loop does not sort or de-duplicate its array: a number with a repeated run of digits
(`+1415555...`) lists it twice. A GIN index keeps each distinct key of a row once (it sorts
and de-duplicates what the function returns), and the search only asks `runs @> ARRAY[q]`,
which neither order nor repeats change: the index holds the same keys, and every query finds
what it found (tests/db/test_number_substrings.py).

The index is not rebuilt: it holds the same keys, so the function is replaced under it with
no lock on `contacts`, and the previous release's queries use it as before (a rolling upgrade).
Rebuilding it with its keys in the "C" collation would save another quarter of a contact's
insert (each key comparison goes through `strcoll` in the database's collation), but a query
must then say `COLLATE "C"` to use it, which the previous release's does not: that needs a
second index built `CONCURRENTLY` and the first dropped a release later (DESIGN-NOTES).

PostgreSQL only (SQLite has neither the function nor the index).

Revision ID: a106c6a6a106
Revises: a109c9a9a109
Create Date: 2026-12-01 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a106c6a6a106"
down_revision: str | None = "a109c9a9a109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every substring of three digits or more of an all-digit address of 3 to 20 digits (less a
# leading `+`), as a004c0a4a004's; `array_append` on a PL/pgSQL variable appends in place.
LOOP = r"""
CREATE OR REPLACE FUNCTION textbridge_number_substrings(address text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    digits text;
    size integer;
    runs text[] := '{}';
BEGIN
    IF address !~ '^\+?[0-9]{3,20}$' THEN
        RETURN runs;
    END IF;
    digits := ltrim(address, '+');
    size := length(digits);
    FOR start IN 1 .. size - 2 LOOP
        FOR width IN 3 .. size - start + 1 LOOP
            runs := array_append(runs, substr(digits, start, width));
        END LOOP;
    END LOOP;
    RETURN runs;
END $$
"""

# a004c0a4a004's definition, restored on downgrade.
SQL = r"""
CREATE OR REPLACE FUNCTION textbridge_number_substrings(address text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(d.digits, i, n)), '{}')
    FROM (SELECT ltrim(address, '+') AS digits
          WHERE address ~ '^\+?[0-9]{3,20}$') AS d,
         generate_series(1, length(d.digits) - 2) AS i,
         generate_series(3, length(d.digits) - i + 1) AS n
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(LOOP)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(SQL)
