"""Shape checks of a Plivo WhatsApp send, answered with 400 ``{"api_id", "error"}`` like Plivo.

A WhatsApp message carries one kind of content: free-form ``text``; one ``media_urls`` entry
(``text`` is its caption); a ``template`` (``name``, ``language``, ``components``); an
``interactive`` object (``button`` | ``list`` | ``cta_url``, Meta's names: Plivo does not list
them); or a ``location``. Shapes follow the plivo SDK (``plivo/utils/template.py``,
``interactive.py``, ``location.py``). ``text`` given with a template, interactive or location
is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast

from textbridge.simulator.errors import PlivoApiError
from textbridge.simulator.plivo.vocabulary import WHATSAPP_MAX_MEDIA
from textbridge.simulator.templates import TemplateRef

WhatsappKind = Literal["text", "media", "template", "interactive", "location"]
Structured = Literal["template", "interactive", "location"]
STRUCTURED: Final[tuple[Structured, ...]] = ("template", "interactive", "location")

COMPONENT_TYPES: Final = frozenset({"header", "body", "button", "footer"})
INTERACTIVE_TYPES: Final = ("button", "list", "cta_url")
MAX_REPLY_BUTTONS: Final = 3
MAX_LIST_ROWS: Final = 10

Obj = Mapping[str, object]


@dataclass(frozen=True)
class WhatsappContent:
    """What a valid WhatsApp send carries; ``template`` is set for templates only."""

    kind: WhatsappKind
    template: TemplateRef | None = None
    body_parameters: int = 0
    """How many parameters the template's body component carries."""


def invalid(message: str) -> PlivoApiError:
    return PlivoApiError(400, message)


def whatsapp_content(
    params: Mapping[str, object], text: str | None, media_urls: tuple[str, ...]
) -> WhatsappContent:
    """Check the content of a WhatsApp send and say which kind it is."""
    present = [key for key in STRUCTURED if params.get(key) is not None]
    if len(present) > 1:
        raise invalid(f"only one of {', '.join(STRUCTURED)} may be given")
    if present:
        return _structured(present[0], params[present[0]], media_urls)
    if len(media_urls) > WHATSAPP_MAX_MEDIA:
        raise invalid("media_urls parameter is invalid: WhatsApp takes a single media URL")
    if media_urls:
        return WhatsappContent("media")
    if text:
        return WhatsappContent("text")
    raise invalid("a whatsapp message needs text, media_urls, template, interactive or location")


def _structured(key: Structured, value: object, media_urls: tuple[str, ...]) -> WhatsappContent:
    if media_urls:
        raise invalid(f"media_urls cannot be combined with {key}")
    if key == "template":
        template = _object(value, "template")
        return WhatsappContent("template", _template(template), _body_parameters(template))
    if key == "interactive":
        _interactive(_object(value, "interactive"))
    else:
        _location(_object(value, "location"))
    return WhatsappContent(key)


def _object(value: object, where: str) -> Obj:
    if not isinstance(value, Mapping):
        raise invalid(f"{where} parameter must be an object")
    return cast(Obj, value)


def _objects(value: object, where: str) -> list[Obj]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"{where} must be a list")
    return [_object(item, f"{where}[{index}]") for index, item in enumerate(value)]


def _text(obj: Obj, key: str, where: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"{where}.{key} is required and must be a non-empty string")
    return value


def _template(template: Obj) -> TemplateRef:
    name = cast(str, _text(template, "name", "template"))
    language = cast(str, _text(template, "language", "template"))
    for index, component in enumerate(_objects(template.get("components"), "template.components")):
        _component(component, f"template.components[{index}]")
    return TemplateRef(name, language)


def _body_parameters(template: Obj) -> int:
    components = _objects(template.get("components"), "template.components")
    bodies = [c for c in components if str(c.get("type", "")).lower() == "body"]
    return sum(len(_objects(body.get("parameters"), "parameters")) for body in bodies)


def _component(component: Obj, where: str) -> None:
    kind = cast(str, _text(component, "type", where))
    if kind.lower() not in COMPONENT_TYPES:
        raise invalid(f"{where}.type must be one of {', '.join(sorted(COMPONENT_TYPES))}")
    if kind.lower() == "button":
        _text(component, "sub_type", where)
        if not isinstance(component.get("index"), str | int):
            raise invalid(f"{where}.index is required for a button component")
    for index, parameter in enumerate(_objects(component.get("parameters"), f"{where}.parameters")):
        _text(parameter, "type", f"{where}.parameters[{index}]")


def _interactive(interactive: Obj) -> None:
    kind = interactive.get("type")
    if kind not in INTERACTIVE_TYPES:
        raise invalid(f"interactive.type must be one of {', '.join(INTERACTIVE_TYPES)}")
    _text(_object(interactive.get("body"), "interactive.body"), "text", "interactive.body")
    action = _object(interactive.get("action"), "interactive.action")
    if kind == "list":
        _list_action(action)
    else:
        _button_action(action, cta=kind == "cta_url")


def _button_action(action: Obj, cta: bool) -> None:
    buttons = _objects(action.get("buttons"), "interactive.action.buttons")
    most = 1 if cta else MAX_REPLY_BUTTONS
    if not 1 <= len(buttons) <= most:
        raise invalid(f"interactive.action.buttons must hold 1 to {most} buttons")
    for index, button in enumerate(buttons):
        where = f"interactive.action.buttons[{index}]"
        _text(button, "title", where)
        _text(button, "cta_url" if cta else "id", where)


def _list_action(action: Obj) -> None:
    sections = _objects(action.get("sections"), "interactive.action.sections")
    rows = [row for section in sections for row in _objects(section.get("rows"), "rows")]
    if not sections or not 1 <= len(rows) <= MAX_LIST_ROWS:
        raise invalid(f"interactive.action.sections must hold 1 to {MAX_LIST_ROWS} rows")
    for index, row in enumerate(rows):
        _text(row, "id", f"interactive.action.sections.rows[{index}]")
        _text(row, "title", f"interactive.action.sections.rows[{index}]")


def _location(location: Obj) -> None:
    for key, limit in (("latitude", 90.0), ("longitude", 180.0)):
        value = location.get(key)
        try:
            number = float(cast(str, value))
        except (TypeError, ValueError):
            raise invalid(f"location.{key} is required and must be a number") from None
        if not -limit <= number <= limit:
            raise invalid(f"location.{key} is out of range")
    for key in ("name", "address"):
        if not isinstance(location.get(key), str | None):
            raise invalid(f"location.{key} must be a string")
