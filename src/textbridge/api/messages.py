from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep, bearer_caller
from textbridge.api.errors import ApiError
from textbridge.api.schemas import PreviewIn, PreviewOut, SendMessageIn
from textbridge.auth.principal import Principal
from textbridge.campaigns import prices
from textbridge.config import Settings
from textbridge.media import uploads
from textbridge.messaging import outbound, phone, repository
from textbridge.messaging.encoding import analyze
from textbridge.messaging.errors import MessagingError
from textbridge.messaging.schemas import MessageDetailOut, MessageOut
from textbridge.messaging.smart_encoding import REPLACEMENTS, gsm_lookalike
from textbridge.models import Message
from textbridge.providers.base import Location
from textbridge.runtime import Runtime

router = APIRouter(prefix="/messages", tags=["messages"])

IDEMPOTENCY_KEY_MAX_LENGTH = 255
IdempotencyKey = Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)]


def scoped_key(caller: Principal, idempotency_key: str | None) -> str | None:
    """An `Idempotency-Key` is the caller's own: two keys' equal values never meet."""
    return f"{caller.id}:{idempotency_key}" if idempotency_key else None


class _SendRoute(APIRoute):
    """The send route, with a fast lane in front of FastAPI's request handling.

    A request with a bearer key, a JSON body that validates and a valid `Idempotency-Key` (what
    an application sends, every time) is parsed, answered and serialized here, without
    dependency solving, the response model's second validation or a thread hop; it runs the
    same `_accept` as the route function. Anything else (an inbox session cookie, a body or
    header that does not validate) goes to FastAPI's handler of the very same route, so every
    401 and 422 is FastAPI's own, field paths included. The route stays an `APIRoute`: the
    OpenAPI document shows it with its request and response schemas."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()

        async def handle(request: Request) -> Response:
            fast = await _fast_send(request)
            return fast if fast is not None else await standard(request)

        return handle


async def send_message(
    body: SendMessageIn,
    runtime: RuntimeDep,
    caller: SendDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Store a message and answer at once; the dispatcher sends it. Retries with the same
    `Idempotency-Key` and body return the same message."""
    return _answer(await _accept(runtime, caller, body, idempotency_key))


router.add_api_route(
    "",
    send_message,
    methods=["POST"],
    status_code=202,
    response_model=MessageOut,
    route_class_override=_SendRoute,
)


async def _fast_send(request: Request) -> Response | None:
    """The answer of `send_message` for an application's well-formed request, or None when
    FastAPI's handler must take it (see `_SendRoute`)."""
    headers = request.headers
    token = _bearer_token(headers.get("authorization"))
    idempotency_key = headers.get("idempotency-key")
    content_type = headers.get("content-type", "")
    if (
        token is None
        or (idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX_LENGTH)
        or content_type.partition(";")[0].strip().lower() != "application/json"
    ):
        return None
    try:
        body = SendMessageIn.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError is a ValueError
        return None  # FastAPI's handler answers it (a nesting too deep: its 4xx)
    runtime: Runtime = request.app.state.runtime
    request.state.web_session = None
    caller = await bearer_caller(runtime, token, "send")
    return _answer(await _accept(runtime, caller, body, idempotency_key))


def _answer(message: outbound.Accepted) -> Response:
    """The 202 with the message (`MessageOut`, as the route's response model documents)."""
    return Response(
        message.json,
        status_code=202,
        headers={"Location": f"/api/v1/messages/{message.id}"},
        media_type="application/json",
    )


def _bearer_token(authorization: str | None) -> str | None:
    """What `HTTPBearer` accepts: `Bearer <credentials>`, the scheme in any case."""
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


async def _accept(
    runtime: Runtime, caller: Principal, body: SendMessageIn, idempotency_key: str | None
) -> outbound.Accepted:
    request = _send_request(body, runtime.settings.quiet_hours)
    await _check_uploads(runtime.settings, request)
    message = await _store(runtime, request, scoped_key(caller, idempotency_key))
    runtime.dispatcher.wake()
    return message


async def _check_uploads(settings: Settings, request: outbound.SendRequest) -> None:
    """Our own upload URLs must still be served when the provider fetches them."""
    leaves = request.send_at.timestamp() if request.send_at is not None else time.time()
    for item in request.media:
        if uploads.PUBLIC_PREFIX not in item.url:
            continue
        reason = await anyio.to_thread.run_sync(
            uploads.refusal, item.url, settings.public_url, settings.media_dir, leaves
        )
        if reason is not None:
            raise MessagingError(reason, field="media")


async def _store(
    runtime: Runtime, request: outbound.SendRequest, key: str | None
) -> outbound.Accepted:
    if runtime.driver is not None:  # PostgreSQL: the common case on the driver, if it is one
        sent = await outbound.send_direct(runtime.driver, request, key, runtime.providers)
        if sent is not None:
            return sent
    async with runtime.unit_of_work() as uow:
        message = await outbound.send(uow, request, key, runtime.providers)
        await uow.commit()
    return outbound.Accepted.of(MessageOut.of(message))


def _send_request(body: SendMessageIn, default_quiet_hours: str) -> outbound.SendRequest:
    template = body.template
    location = body.location
    return outbound.SendRequest(
        to=body.to,
        text=body.text,
        channel=body.channel,
        from_=body.from_,
        provider=body.provider,
        media=tuple(
            outbound.MediaRequest(str(m.url), m.caption, m.filename, m.mime_type)
            for m in body.media_list()
        ),
        template=outbound.TemplateRequest(template.name, template.language, template.parameters)
        if template
        else None,
        interactive=body.interactive.model_dump(exclude_none=True) if body.interactive else None,
        location=Location(**location.model_dump()) if location else None,
        send_at=body.send_at,
        quiet_hours=body.quiet_hours_window(default_quiet_hours),
    )


@router.post("/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, runtime: RuntimeDep, _: ReadDep) -> PreviewOut:
    """Encoding, segments, the characters that forced UCS-2 (and those with a GSM-7
    look-alike), and the message's cost from the price table, before sending."""
    info = analyze(body.text)
    lookalike = gsm_lookalike(body.text)
    country = _country(body.to)
    table = prices.load(runtime.settings.price_table)
    units = info.segments if body.channel == "sms" else 1
    provider, unit = _cheapest(table, body.provider, body.channel, country)
    return PreviewOut(
        encoding=info.encoding,
        segments=info.segments,
        characters=info.characters,
        units=info.units,
        ucs2_characters=list(info.ucs2_characters),
        replaceable_characters=[c for c in info.ucs2_characters if c in REPLACEMENTS],
        lookalike_text=lookalike if lookalike != body.text else None,
        lookalike_segments=analyze(lookalike).segments if lookalike != body.text else None,
        country=country,
        provider=provider,
        unit_price=prices.money(unit) if unit is not None else None,
        cost=prices.money(unit * units) if unit is not None else None,
        currency=prices.CURRENCY,
    )


def _country(to: str | None) -> str | None:
    if not to:
        return None
    try:
        return phone.e164_and_country(to)[1]
    except phone.InvalidPhoneNumber as error:
        raise ApiError(422, "invalid_number", str(error), "to") from None


def _cheapest(
    table: prices.PriceTable, provider: str | None, channel: str, country: str | None
) -> tuple[str | None, int | None]:
    """The provider's price, or (none named) the cheaper provider's."""
    candidates = [provider] if provider else ["plivo", "vonage"]
    priced = [(table.micros(name, channel, country), name) for name in candidates]
    known = sorted((micros, name) for micros, name in priced if micros is not None)
    return (known[0][1], known[0][0]) if known else (provider, None)


@router.get("/{message_id}", response_model=MessageDetailOut)
async def get_message(message_id: uuid.UUID, uow: UowDep, _: ReadDep) -> MessageDetailOut:
    message = await uow.session.get(Message, message_id)
    if message is None:
        raise ApiError(404, "not_found", f"no message {message_id}", "message_id")
    events = await repository.events_of(uow.session, message_id)
    return MessageDetailOut.with_history(message, list(events))
