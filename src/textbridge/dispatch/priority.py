"""Which waiting message leaves first: the lower `messages.priority`, then the earlier due.

Individual sends before bulk: every API and inbox send (a reply in a live conversation, but
also a one-time code, a delivery notice, a keyword's confirmation) has someone waiting for it
now; a campaign's recipients do not. So individual sends pass campaign traffic queued on the
same sender (docs/DESIGN-NOTES.md, "A paused message gives up its place").
"""

from __future__ import annotations

from typing import Final

CONVERSATION: Final = 0  # every API and inbox send, and keyword confirmations
CAMPAIGN: Final = 100
