"""The inbox users' roles: `admin` (everything) and `agent` (the inbox: read and send). Apart
from `auth.users` and its model, so that `textbridge users --help` names them without loading
the database layer."""

from __future__ import annotations

ROLES = ("admin", "agent")
