"""The review of `unknown` messages (see `dispatch/review.py`): list them, resend or close one.

Listing needs the `read` scope; resending and closing need the `admin` scope: both are an operator's
decision, taken after checking the provider's own records (a resend may deliver a duplicate).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from textbridge.api.deps import AdminDep, ReadDep, RuntimeDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.auth.principal import Principal
from textbridge.dispatch import review
from textbridge.messaging import search
from textbridge.messaging.schemas import MessageOut
from textbridge.models import Message

router = APIRouter(prefix="/messages", tags=["review"])


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: review.Resolution = Field(
        description="`sent`: the provider has it (status `sent`); `not_sent`: it never left "
        "(status `failed`, error code `closed_unsent`)."
    )
    note: str | None = Field(default=None, max_length=500)


After = Annotated[
    str | None,
    Query(
        max_length=200,
        description="The `X-Next-Cursor` of the previous page; or, as before, an ISO 8601 time "
        "with its offset (the last item's `updated_at`: messages sharing that time are skipped)",
    ),
]


@router.get("", response_model=list[MessageOut])
async def list_messages_to_review(
    request: Request,
    response: Response,
    uow: UowDep,
    _: ReadDep,
    status: Annotated[Literal["unknown"], Query(description="Only `unknown` for now.")],
    limit: Annotated[int, Query(ge=1, le=review.REVIEW_LIMIT)] = 100,
    after: After = None,
) -> list[MessageOut]:
    """Messages whose dispatch outcome is unknown, oldest first (by `updated_at`, then `id`).
    The next page is at the `after` given in `X-Next-Cursor` (and in `Link: <...>;
    rel="next"`), absent on the last."""
    try:
        cursor = search.parse_before(after)
    except search.SearchError as exc:
        raise ApiError(422, "validation_error", f"after: {exc}", "after") from None
    messages = await review.unknown_messages(uow, limit, cursor)
    following = review.next_cursor(messages, limit)
    if following is not None:
        response.headers["X-Next-Cursor"] = following
        next_url = request.url.include_query_params(after=following)
        response.headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    return [MessageOut.of(message) for message in messages]


@router.post("/{message_id}/resend", response_model=MessageOut)
async def resend_message(
    message_id: uuid.UUID, uow: UowDep, runtime: RuntimeDep, key: AdminDep
) -> MessageOut:
    """Put an `unknown` message back to `accepted` for one more attempt."""
    max_attempts = runtime.settings.dispatch_max_attempts
    message = await _reviewed(review.resend(uow, message_id, reviewer(key), max_attempts))
    await uow.commit()
    runtime.dispatcher.wake()
    return MessageOut.of(message)


@router.post("/{message_id}/close", response_model=MessageOut)
async def close_message(
    message_id: uuid.UUID, body: CloseIn, uow: UowDep, key: AdminDep
) -> MessageOut:
    """Settle an `unknown` message as `sent` or as not sent (`failed`)."""
    closing = review.close(uow, message_id, body.resolution, reviewer(key), body.note)
    message = await _reviewed(closing)
    await uow.commit()
    return MessageOut.of(message)


def reviewer(caller: Principal) -> str:
    return caller.label


async def _reviewed(action: Awaitable[Message]) -> Message:
    try:
        return await action
    except review.MessageNotFound as error:
        raise ApiError(404, "not_found", str(error), "message_id") from None
    except review.NotUnknown as error:
        raise ApiError(409, "not_unknown", str(error), "message_id") from None
