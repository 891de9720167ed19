"""The inbox tests sign in through the browser, so the session secret must be a real HS256
key: PyJWT warns (an error under this suite's filterwarnings) below 32 bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.database import Database
from ..support.textbridge import Textbridge, running_textbridge

SESSION_SECRET = "inbox-test-session-secret-0123456789abcdef"


@pytest.fixture
def textbridge(database: Database, tmp_path: Path) -> Iterator[Textbridge]:
    with running_textbridge(database, tmp_path, secret_key=SESSION_SECRET) as running:
        yield running
