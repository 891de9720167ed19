"""WhatsApp content in the shapes Plivo's Message API takes (as the official SDK sends them).

Our `Template` components and `interactive` objects follow Meta's schema; Plivo's differ in a
few places, taken from the SDK 4.63 classes (`plivo/utils/template.py`, `interactive.py`,
`location.py`), which refuse anything else:

- a template media parameter is `{"type": "media", "media": "<url>"}` (Meta: `{"type": "image",
  "image": {"link": "<url>"}}`), a currency is `{fallback_value, currency_code, amount_1000}`
  (Meta: `code`), a component `index` is a string, and location values are strings;
- an interactive reply button is `{"id", "title"}` (Meta: `{"type": "reply", "reply": {...}}`),
  a list's menu label is the title of the one button (Meta: `action.button`), a CTA URL button
  is `{"title", "cta_url"}` (Meta: `action.parameters.display_text/url`), and a media header is
  `{"type": "media", "media": "<url>"}`.

Objects already in Plivo's shape pass through unchanged; `None` values are dropped.
"""

from __future__ import annotations

from typing import Any

from textbridge.providers.base import JSONObject, Location, Template
from textbridge.providers.plivo.vocabulary import TEMPLATE_MEDIA_TYPES


def template_object(template: Template) -> JSONObject:
    return {
        "name": template.name,
        "language": template.language,
        "components": [_component(component) for component in template.components],
    }


def location_object(location: Location) -> JSONObject:
    return _compact(
        {
            "latitude": str(location.latitude),
            "longitude": str(location.longitude),
            "name": location.name,
            "address": location.address,
        }
    )


def interactive_object(interactive: JSONObject) -> JSONObject:
    converted = dict(interactive)
    if isinstance(interactive.get("header"), dict):
        converted["header"] = _header(interactive["header"])
    if isinstance(interactive.get("action"), dict):
        converted["action"] = _action(interactive["action"])
    return _compact(converted)


def _compact(value: JSONObject) -> JSONObject:
    return {key: item for key, item in value.items() if item is not None}


def _component(component: JSONObject) -> JSONObject:
    converted = dict(component)
    if converted.get("index") is not None:
        converted["index"] = str(converted["index"])
    if isinstance(component.get("parameters"), list):
        converted["parameters"] = [_parameter(p) for p in component["parameters"]]
    return _compact(converted)


def _parameter(parameter: Any) -> Any:
    if not isinstance(parameter, dict):
        return parameter
    kind = parameter.get("type")
    if kind in TEMPLATE_MEDIA_TYPES and isinstance(parameter.get(kind), dict):
        return _compact({**_without(parameter, kind), "type": "media", "media": _link(parameter)})
    converted = dict(parameter)
    if isinstance(parameter.get("currency"), dict):
        converted["currency"] = _currency(parameter["currency"])
    if isinstance(parameter.get("location"), dict):
        converted["location"] = {k: str(v) for k, v in parameter["location"].items()}
    return _compact(converted)


def _without(value: JSONObject, key: str) -> JSONObject:
    return {k: v for k, v in value.items() if k != key}


def _link(parameter: JSONObject) -> Any:
    media = parameter[parameter["type"]]
    return media.get("link") or media.get("url")


def _currency(currency: JSONObject) -> JSONObject:
    converted = _without(currency, "code")
    if "code" in currency:
        converted.setdefault("currency_code", currency["code"])
    return converted


def _header(header: JSONObject) -> JSONObject:
    kind = header.get("type")
    if kind in TEMPLATE_MEDIA_TYPES and isinstance(header.get(kind), dict):
        return {"type": "media", "media": _link(header)}
    return _compact(dict(header))


def _action(action: JSONObject) -> JSONObject:
    converted = dict(action)
    buttons = [_button(button) for button in action.get("buttons") or []]
    if isinstance(action.get("button"), str):  # list: the label of the menu button
        buttons.append({"title": converted.pop("button")})
    if action.get("name") == "cta_url" and isinstance(action.get("parameters"), dict):
        converted.pop("name")
        parameters = converted.pop("parameters")
        cta = {"title": parameters.get("display_text"), "cta_url": parameters.get("url")}
        buttons.append(_compact(cta))
    if buttons:
        converted["buttons"] = buttons
    return converted


def _button(button: Any) -> Any:
    if not isinstance(button, dict):
        return button
    if isinstance(button.get("reply"), dict):  # Meta: {"type": "reply", "reply": {id, title}}
        return _compact({"id": button["reply"].get("id"), "title": button["reply"].get("title")})
    return _compact(button)
