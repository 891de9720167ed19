"""The simulator's WhatsApp template store, shared by both providers.

A template is keyed by ``(name, language)``. Its components follow Meta's template schema (upper
case ``type``; ``{{1}}`` positional or ``{{name}}`` named placeholders, with ``example`` values),
which is what Plivo's WhatsApp template API relays. Seeded with three templates; tests replace
them with ``PUT /control/templates``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")

TemplateStatus = Literal["PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED"]
TemplateCategory = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
ParameterFormat = Literal["POSITIONAL", "NAMED"]
Component = dict[str, object]

# Quality is only known once Meta has rated a live template.
UNRATED_STATUSES: Final = frozenset({"PENDING", "REJECTED"})


@dataclass(frozen=True)
class TemplateRef:
    """The template a message asks for."""

    name: str
    language: str


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    category: TemplateCategory
    status: TemplateStatus
    template_id: str
    components: tuple[Component, ...] = ()
    parameter_format: ParameterFormat = "POSITIONAL"
    rejected_reason: str = "NONE"
    quality_score: str | None = field(default=None)

    @property
    def ref(self) -> TemplateRef:
        return TemplateRef(self.name, self.language)

    def body_placeholders(self) -> int:
        """How many distinct ``{{...}}`` placeholders the body has (its parameters)."""
        bodies = [c for c in self.components if str(c.get("type", "")).upper() == "BODY"]
        return len({m for body in bodies for m in PLACEHOLDER.findall(str(body.get("text", "")))})

    def summary(self) -> dict[str, object]:
        """The template as Plivo's template list shows it: no components."""
        return {
            "template_id": self.template_id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
        }

    def resource(self, waba_id: str) -> dict[str, object]:
        """The template as Plivo's "Get a Template" returns it: Plivo's documented attributes
        plus Meta's component schema."""
        return {
            "template_id": self.template_id,
            "waba_id": waba_id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "parameter_format": self.parameter_format,
            "quality_score": self._quality(),
            "rejected_reason": self.rejected_reason,
            "components": [dict(component) for component in self.components],
        }

    def _quality(self) -> dict[str, str] | None:
        if self.quality_score is not None:
            return {"score": self.quality_score}
        return None if self.status in UNRATED_STATUSES else {"score": "GREEN"}


def _body(text: str, example: object) -> Component:
    return {"type": "BODY", "text": text, "example": example}


SEED_TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        name="order_update",
        language="en_US",
        category="UTILITY",
        status="APPROVED",
        template_id="1000000000000001",
        components=(
            _body("Your order {{1}} is on its way.", {"body_text": [["A-1042"]]}),
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
        ),
    ),
    Template(
        name="appointment_reminder",
        language="en_US",
        category="UTILITY",
        status="APPROVED",
        template_id="1000000000000002",
        parameter_format="NAMED",
        components=(
            _body(
                "Hi {{customer_name}}, see you at {{time}}.",
                {
                    "body_text_named_params": [
                        {"param_name": "customer_name", "example": "Ann"},
                        {"param_name": "time", "example": "3 pm"},
                    ]
                },
            ),
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Confirm"},
                    {"type": "QUICK_REPLY", "text": "Reschedule"},
                ],
            },
        ),
    ),
    Template(
        name="summer_sale",
        language="en_US",
        category="MARKETING",
        status="PENDING",
        template_id="1000000000000003",
        components=(
            {"type": "HEADER", "format": "TEXT", "text": "Summer sale"},
            _body("{{1}} off everything until Sunday.", {"body_text": [["20%"]]}),
        ),
    ),
)


class TemplateStore:
    """Templates by ``(name, language)``, in insertion order."""

    def __init__(self) -> None:
        self._templates: dict[TemplateRef, Template] = {}
        self.reset()

    def reset(self) -> None:
        self.replace(SEED_TEMPLATES)

    def replace(self, templates: Iterable[Template]) -> None:
        self._templates = {template.ref: template for template in templates}

    def find(self, ref: TemplateRef) -> Template | None:
        return self._templates.get(ref)

    def all(self) -> list[Template]:
        return list(self._templates.values())
