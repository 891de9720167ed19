"""The indexes a statement's generic plan reads on PostgreSQL.

asyncpg prepares every statement, and after its fifth run PostgreSQL may plan it without the
values of its parameters (a generic plan). A query whose speed depends on a partial index must
still read that index then: these helpers prepare the compiled statement, force the generic
plan and name the indexes of the plan (each partition's index by its parent's name)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import text


class Executes(Protocol):
    async def execute(self, statement: Any) -> Any: ...


async def generic_plan_indexes(
    connection: Executes, sql: str, values: str, *, switched_off: tuple[str, ...] = ()
) -> set[str]:
    """`sql` prepared (its `$n` parameters given `values`, SQL literals joined by commas),
    planned generically with the planner settings `switched_off` (e.g. `enable_seqscan`)."""
    for setting in switched_off:
        await connection.execute(text(f"SET {setting} = off"))
    await connection.execute(text("SET plan_cache_mode = force_generic_plan"))
    await connection.execute(text(f"PREPARE generic_plan_probe AS {sql}"))
    plan = (
        await connection.execute(
            text(f"EXPLAIN (FORMAT JSON) EXECUTE generic_plan_probe({values})")
        )
    ).scalar_one()
    await connection.execute(text("DEALLOCATE generic_plan_probe"))
    used = {node["Index Name"] for node in _nodes(plan[0]["Plan"]) if "Index Name" in node}
    parents = await connection.execute(
        text(
            "SELECT child.relname, parent.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = inhrelid "
            "JOIN pg_class parent ON parent.oid = inhparent"
        )
    )
    parent_of = {child: parent for child, parent in parents}
    return {parent_of.get(name, name) for name in used}


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(found for child in node.get("Plans", ()) for found in _nodes(child))]
