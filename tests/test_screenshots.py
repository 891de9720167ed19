"""The README shows every screenshot in docs/screenshots, each one there is written by a browser
test (so a test run renews it), and every screenshot a browser test writes is kept there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "screenshots"
BROWSER_TESTS = ROOT / "tests" / "web"
# A path built in a test (`... / "docs" / "screenshots" / "name.png"`), or test_inbox_delivery's
# `screenshot(page, "name")` helper.
WRITTEN = (
    re.compile(r'"docs" / "screenshots" / "([a-z0-9-]+)\.png"'),
    re.compile(r'screenshot\(page, "([a-z0-9-]+)"\)'),
)


def _shown_by_the_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return set(re.findall(r"\]\(docs/screenshots/([a-z0-9-]+)\.png\)", readme))


def _written_by_browser_tests() -> set[str]:
    names: set[str] = set()
    for test in BROWSER_TESTS.glob("test_*.py"):
        text = test.read_text()
        for pattern in WRITTEN:
            names.update(pattern.findall(text))
    return names


def test_every_screenshot_is_written_by_a_test_and_shown_by_the_readme() -> None:
    kept = {png.stem for png in FOLDER.glob("*.png")}
    written = _written_by_browser_tests()
    assert len(kept) >= 12
    assert kept == written, {"kept, written by no test": kept - written, "not kept": written - kept}
    assert _shown_by_the_readme() == kept, kept ^ _shown_by_the_readme()
