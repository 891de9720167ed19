"""contact number index

PostgreSQL: a contact is found by any run of at least three digits of its number
(`messaging/search.py`) through a GIN index of those runs, `ix_contacts_number_substrings`,
instead of a trigram `LIKE '%digits%'`. The trigram index was slow for numbers: every contact
of a country and area shares the trigrams of its prefix (`141`, `415`, ...), and their posting
lists of the whole table were intersected on every search (15 ms at 100 000 contacts on a
quiet machine). Each run is one key here: an equality look-up. The function cuts a number of
at most 20 digits (E.164 has 15) into its runs: at most 171 keys a contact (an 11-digit
number: 45). Other addresses (alphanumeric, WhatsApp user ids) have none.

SQLite keeps `LIKE '%digits%'` (nothing to add).

Revision ID: a004c0a4a004
Revises: a005c0a5a005
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a004c0a4a004"
down_revision: str | None = "a005c0a5a005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# `messaging.search.NUMBER_SUBSTRINGS` calls it: the index serves only a query that does.
_FUNCTION = r"""
CREATE FUNCTION textbridge_number_substrings(address text) RETURNS text[]
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
    op.execute(_FUNCTION)
    op.execute(
        "CREATE INDEX ix_contacts_number_substrings ON contacts "
        "USING gin (textbridge_number_substrings(address))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_contacts_number_substrings")
    op.execute("DROP FUNCTION textbridge_number_substrings(text)")
