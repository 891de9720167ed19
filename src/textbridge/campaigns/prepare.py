"""One recipient, checked and made ready to send: its address normalized, its text rendered
(or its template resolved), its segments counted and priced. A row that cannot be sent is an
`Invalid` with the reason; it never stops the rows after it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from textbridge.campaigns.prices import PriceTable
from textbridge.campaigns.recipients import RecipientRow
from textbridge.campaigns.render import MissingVariable, render
from textbridge.messaging import address
from textbridge.messaging.encoding import EncodingInfo, analyze
from textbridge.messaging.outbound import MAX_SMS_CHARACTERS
from textbridge.messaging.phone import InvalidPhoneNumber, e164_and_country
from textbridge.messaging.text import excerpt, problem
from textbridge.providers.base import JSONObject, Template
from textbridge.whatsapp import templates
from textbridge.whatsapp.templates import TemplateError


@dataclass(frozen=True, slots=True)
class TemplatePlan:
    name: str
    language: str
    components: list[JSONObject]
    shared: dict[str, str]  # parameters the same for every recipient
    wanted: frozenset[str]  # the template's parameter names


@dataclass(frozen=True, slots=True)
class Plan:
    """What every recipient of one campaign shares."""

    channel: str
    provider: str
    text: str | None
    template: TemplatePlan | None
    prices: PriceTable


@dataclass(frozen=True, slots=True)
class Ready:
    row: int
    to: str
    country: str | None
    body: str | None
    payload: dict[str, Any] | None
    encoding: str | None
    segments: int
    price_micros: int | None


@dataclass(frozen=True, slots=True)
class Invalid:
    row: int
    value: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "value": self.value, "reason": self.reason}


def prepare(plan: Plan, recipient: RecipientRow) -> Ready | Invalid:
    try:
        to, country = _address(recipient.to, plan.channel, plan.provider)
        _check_storable(recipient.variables)
        if plan.template is not None:
            body, payload = None, _template_payload(plan.template, recipient.variables)
            encoding = None
        else:
            body, encoding = _text(plan, recipient.variables)
            payload = None
    except _Refused as refused:
        return Invalid(recipient.row, excerpt(recipient.to), str(refused))
    segments = encoding.segments if encoding else 1
    unit = plan.prices.micros(plan.provider, plan.channel, country)
    return Ready(
        row=recipient.row,
        to=to,
        country=country,
        body=body,
        payload=payload,
        encoding=encoding.encoding if encoding else None,
        segments=segments,
        price_micros=None if unit is None else unit * segments,
    )


class _Refused(ValueError):
    pass


def _address(raw: str, channel: str, provider: str) -> tuple[str, str | None]:
    if not raw.strip():
        raise _Refused("no address")
    if problem(raw) is not None:
        raise _Refused(f"the address {problem(raw)}")
    try:
        e164, country = e164_and_country(raw)
    except InvalidPhoneNumber as exc:
        raise _Refused(_why_not(raw, channel, provider) or str(exc)) from None
    # A non-geographic number's region is "001": no country to price it by.
    return e164, country if country and len(country) == 2 else None


def _why_not(raw: str, channel: str, provider: str) -> str | None:
    """The reason an address that is not an E.164 number cannot receive, when it is of a
    kind we recognize (a short code, a sender ID)."""
    try:
        recognized = address.of_recipient(raw, channel)
    except InvalidPhoneNumber:
        return None
    return address.refusal(recognized, channel, provider)


def _check_storable(variables: Mapping[str, str]) -> None:
    for name, value in variables.items():
        reason = problem(name) or problem(value)
        if reason is not None:
            raise _Refused(f"variable {excerpt(name)} {reason}")


def _text(plan: Plan, variables: Mapping[str, str]) -> tuple[str, EncodingInfo | None]:
    """The recipient's text, and on SMS its encoding and segments."""
    assert plan.text is not None
    try:
        body = render(plan.text, variables)
    except MissingVariable as missing:
        raise _Refused(f"no value for {{{missing.name}}}") from None
    if not body.strip():
        raise _Refused("the text is empty for this recipient")
    if plan.channel != "sms":
        return body, None
    info = _analyze(body)
    limit = MAX_SMS_CHARACTERS[info.encoding]
    if info.characters > limit:
        raise _Refused(f"the text has {info.characters} characters; {limit} at most")
    return body, info


# Once per distinct text: a campaign without per-recipient variables (or with few distinct
# values) has one text for thousands of recipients.
_analyze = lru_cache(maxsize=1024)(analyze)


def _template_payload(plan: TemplatePlan, variables: Mapping[str, str]) -> dict[str, Any]:
    own = {name: value for name, value in variables.items() if name in plan.wanted}
    try:
        components = templates.resolve(plan.components, {**plan.shared, **own})
    except TemplateError as exc:
        raise _Refused(str(exc)) from None
    template = Template(name=plan.name, language=plan.language, components=components)
    return {"template": asdict(template)}
