"""Template definitions and their parameters.

A definition is Meta's: components `HEADER` (format TEXT with `{{..}}` placeholders, or IMAGE,
VIDEO, DOCUMENT needing a media URL), `BODY` (text with placeholders), `FOOTER`, `BUTTONS`
(a URL button may end in `{{1}}`). Placeholders are positional (`{{1}}`) or named
(`{{customer_name}}`). Sending resolves the given parameters into Meta's send-time components,
which every provider accepts in the same shape (providers translate where they differ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSONObject = dict[str, Any]
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
STATUSES = ("PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED")


class TemplateError(ValueError):
    """A template definition or a set of parameters that cannot be used; `field` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Parameter:
    """One value a template needs: `name` is `1`, `customer_name`, `header` or `button_0`."""

    name: str
    component: str
    named: bool


def parameters_of(components: list[JSONObject]) -> list[Parameter]:
    found: list[Parameter] = []
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER" and str(component.get("format", "TEXT")).upper() in MEDIA_FORMATS:
            found.append(Parameter("header", "header", named=False))
        elif kind in ("HEADER", "BODY"):
            found += _placeholders(str(component.get("text", "")), kind.lower())
        elif kind == "BUTTONS":
            found += _button_parameters(component.get("buttons", []))
    return found


def _placeholders(text: str, component: str) -> list[Parameter]:
    return [
        Parameter(name, component, named=not name.isdigit()) for name in PLACEHOLDER.findall(text)
    ]


def _button_parameters(buttons: list[JSONObject]) -> list[Parameter]:
    return [
        Parameter(f"button_{index}", "button", named=False)
        for index, button in enumerate(buttons)
        if str(button.get("type", "")).upper() == "URL"
        and PLACEHOLDER.search(button.get("url", ""))
    ]


def validate_definition(components: list[JSONObject]) -> None:
    """Refuse a definition we could not fill in later."""
    kinds = [str(component.get("type", "")).upper() for component in components]
    if "BODY" not in kinds:
        raise TemplateError("a template needs a BODY component", "components")
    names = [parameter.name for parameter in parameters_of(components)]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise TemplateError(f"placeholder used twice: {sorted(duplicates)}", "components")


def normalize_values(values: dict[str, str] | list[str] | None) -> dict[str, str]:
    if values is None:
        return {}
    if isinstance(values, list):
        return {str(index): value for index, value in enumerate(values, start=1)}
    return dict(values)


def resolve(components: list[JSONObject], values: dict[str, str]) -> tuple[JSONObject, ...]:
    """Meta send-time components for these values; TemplateError names a missing or extra one."""
    wanted = parameters_of(components)
    names = {parameter.name for parameter in wanted}
    for name in values:
        if name not in names:
            raise TemplateError(f"the template has no parameter {name!r}", _field(name))
    for parameter in wanted:
        if not str(values.get(parameter.name, "")).strip():
            message = f"missing template parameter {parameter.name!r}"
            raise TemplateError(message, _field(parameter.name))
    return tuple(_send_components(components, wanted, values))


def _field(name: str) -> str:
    return f"template.parameters.{name}"


def _send_components(
    components: list[JSONObject], wanted: list[Parameter], values: dict[str, str]
) -> list[JSONObject]:
    sent: list[JSONObject] = []
    header = [p for p in wanted if p.component == "header"]
    if header:
        sent.append(
            {"type": "header", "parameters": [_header_value(components, p, values) for p in header]}
        )
    body = [p for p in wanted if p.component == "body"]
    if body:
        sent.append({"type": "body", "parameters": [_text(p, values) for p in body]})
    for parameter in (p for p in wanted if p.component == "button"):
        index = int(parameter.name.split("_", 1)[1])
        sent.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": index,
                "parameters": [{"type": "text", "text": values[parameter.name]}],
            }
        )
    return sent


def _text(parameter: Parameter, values: dict[str, str]) -> JSONObject:
    value: JSONObject = {"type": "text", "text": values[parameter.name]}
    if parameter.named:
        value["parameter_name"] = parameter.name
    return value


def _header_value(
    components: list[JSONObject], parameter: Parameter, values: dict[str, str]
) -> JSONObject:
    if parameter.name != "header":
        return _text(parameter, values)
    header = next(c for c in components if str(c.get("type", "")).upper() == "HEADER")
    kind = MEDIA_FORMATS[str(header.get("format")).upper()]
    return {"type": kind, kind: {"link": values["header"]}}
