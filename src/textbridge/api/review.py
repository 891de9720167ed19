"""The review of `unknown` messages (see `dispatch/review.py`): list them, resend or close one.

Listing needs the `read` scope; resending and closing need the `admin` scope: both are an operator's
decision, taken after checking the provider's own records (a resend may deliver a duplicate).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from textbridge.api.deps import AdminDep, ReadDep, RuntimeDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.auth.principal import Principal
from textbridge.dispatch import review
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


@router.get("", response_model=list[MessageOut])
async def list_messages_to_review(
    uow: UowDep,
    _: ReadDep,
    status: Annotated[Literal["unknown"], Query(description="Only `unknown` for now.")],
    limit: Annotated[int, Query(ge=1, le=review.REVIEW_LIMIT)] = 100,
    after: Annotated[datetime | None, Query(description="`updated_at` of the last seen")] = None,
) -> list[MessageOut]:
    """Messages whose dispatch outcome is unknown, oldest first."""
    messages = await review.unknown_messages(uow, limit, after)
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
