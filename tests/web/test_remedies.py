"""Every failure code the providers report in a status callback (as far as we know them: the
tables our adapters and the simulator use) and each of our own has its remedy in the inbox
(`static/inbox/delivery.js`, `REMEDIES`), so a failed message says what to do about it, not
only the catch-all. The browser tests (`test_inbox_delivery.py`) show two of them on screen."""

from __future__ import annotations

import re
from pathlib import Path

from textbridge.dispatch.review import CLOSED_UNSENT
from textbridge.messaging.errors import OutsideWhatsAppWindow
from textbridge.providers.plivo.vocabulary import ERROR_CODES as PLIVO_CODES
from textbridge.simulator.vonage.vocabulary import ERROR_DETAILS as VONAGE_CODES

DELIVERY_JS = Path(__file__).resolve().parents[2] / "src/textbridge/web/static/inbox/delivery.js"


def remedy_keys() -> set[str]:
    found = re.search(r"const REMEDIES = \{\n(.*?)\n\};", DELIVERY_JS.read_text(), re.DOTALL)
    assert found, "no REMEDIES table in delivery.js"
    return set(re.findall(r'^\s*"?([a-z_]+(?::\d+)?)"?:', found.group(1), re.MULTILINE))


def test_every_known_failure_code_has_a_remedy() -> None:
    keys = remedy_keys()
    wanted = (
        {f"plivo:{code}" for code in PLIVO_CODES}
        | {f"vonage:{code}" for code in VONAGE_CODES}
        | {CLOSED_UNSENT, OutsideWhatsAppWindow.code}
    )
    assert wanted <= keys, sorted(wanted - keys)
