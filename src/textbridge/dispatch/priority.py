"""Which waiting message leaves first: the lower `messages.priority`, then the earlier due.

A person in a live conversation waits for the answer; a campaign's recipients do not. So a
reply passes campaign traffic queued on the same sender.
"""

from __future__ import annotations

from typing import Final

CONVERSATION: Final = 0  # API and inbox sends
CAMPAIGN: Final = 100
