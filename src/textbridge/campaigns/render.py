"""Per-recipient text: `{name}` placeholders filled from the recipient's variables.

Deliberately not `str.format`: that would let a campaign text reach attributes and indexes
(`{name.__class__}`); here a placeholder is a plain identifier, `{{` and `}}` are literal
braces, and any other brace is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class MissingVariable(KeyError):
    """A placeholder the recipient has no value for."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def placeholders(text: str) -> list[str]:
    """The placeholder names in `text`, in order of first appearance."""
    names = (match.group(1) for match in _TOKEN.finditer(text) if match.group(1))
    return list(dict.fromkeys(names))


def render(text: str, variables: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # an escaped brace, "{{" or "}}"
            return match.group(0)[0]
        if name not in variables:
            raise MissingVariable(name)
        return variables[name]

    return _TOKEN.sub(substitute, text)
