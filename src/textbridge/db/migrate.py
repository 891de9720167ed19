"""Run Alembic migrations programmatically (used by `textbridge db upgrade`, `serve` and tests)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "textbridge.db:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(slug)s"
    )
    return config


def upgrade(database_url: str, revision: str = "head") -> str | None:
    """Bring the database to `revision`. Runs its own event loop: call it from a thread.

    To head, a database at a revision this code does not know was migrated by a newer release:
    it is left as it is and its revision returned (Alembic would stop on it). During a rolling
    upgrade a node of the previous release restarting runs `db upgrade` first (the systemd
    units require it); migrations are backward compatible for one version, so it may run on."""
    config = alembic_config(database_url)
    if revision == "head":
        current = asyncio.run(_revision(database_url))
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            return current
    command.upgrade(config, revision)
    return None


async def _revision(database_url: str) -> str | None:
    from textbridge.db.engine import create_engine

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
