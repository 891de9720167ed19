from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, AwareDatetime, TypeAdapter

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.messaging import repository, search
from textbridge.messaging.schemas import ConversationOut, MessageOut
from textbridge.models import Conversation

router = APIRouter(prefix="/conversations", tags=["conversations"])

Limit = Annotated[int, Query(ge=1, le=200)]


def _in_utc_range(moment: datetime | None) -> datetime | None:
    # 0001-01-01T00:00:00+14:00 parses, but is before year 1 in UTC, where it is compared.
    try:
        return moment.astimezone(UTC) if moment is not None else None
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


Before = Annotated[
    AwareDatetime | None,
    AfterValidator(_in_utc_range),
    Query(description="An ISO 8601 time with its offset, e.g. 2026-11-30T08:00:00Z"),
]


Cursor = Annotated[
    str | None,
    Query(
        alias="before",
        max_length=200,
        description="The `X-Next-Cursor` of the previous page; or, as before, an ISO 8601 time "
        "with its offset (the last item's `last_message_at`; in a search with words, the "
        "time it matched, which only the cursor carries)",
    ),
]
Flag = Annotated[bool | None, Query()]


@router.get("", response_model=list[ConversationOut])
async def list_conversations(
    request: Request,
    runtime: RuntimeDep,
    _: ReadDep,
    limit: Limit = 50,
    before: Cursor = None,
    q: Annotated[
        str | None, Query(description="A number in any notation, a name, or words")
    ] = None,
    channel: Literal["sms", "whatsapp"] | None = None,
    provider: Literal["plivo", "vonage"] | None = None,
    unread: Flag = None,
    opted_out: Flag = None,
    window_open: Flag = None,
    failed: Flag = None,
) -> Response:
    """Most recently active first, filtered; a search with words (`q`) by when it matched,
    newest first (a conversation found by its contact's name or number at its last message,
    any other at its newest message holding the words). The next page is at the `before`
    given in `X-Next-Cursor` (and in `Link: <...>; rel="next"`), absent on the last."""
    try:
        wanted = search.ListQuery(
            limit,
            search.check_query_text(q),
            channel,
            provider,
            unread,
            opted_out,
            window_open,
            failed,
            search.parse_before(before),
        )
    except search.SearchError as exc:
        raise ApiError(422, "validation_error", f"{exc.field}: {exc}", exc.field) from None
    if runtime.reads is not None:
        page = await search.list_page(None, runtime.reads, wanted)
    else:
        async with runtime.unit_of_work() as uow:
            page = await search.list_page(uow.session, None, wanted)
    answer = _json(_CONVERSATIONS, [ConversationOut.of_row(row) for row in page])
    cursor = search.next_cursor(page, limit)
    if cursor is not None:
        answer.headers["X-Next-Cursor"] = cursor
        next_url = request.url.include_query_params(before=cursor)
        answer.headers["Link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
    return answer


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(conversation_id: uuid.UUID, uow: UowDep, _: ReadDep) -> ConversationOut:
    return ConversationOut.of(await _conversation(uow, conversation_id))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
async def conversation_messages(
    conversation_id: uuid.UUID,
    runtime: RuntimeDep,
    _: ReadDep,
    limit: Limit = 100,
    before: Before = None,
) -> Response:
    """Oldest first within the page; page backwards with `before` = the first item's time."""
    if runtime.reads is not None:
        page = await runtime.reads.read(
            lambda connection: repository.thread_page(connection, conversation_id, limit, before)
        )
        if page is None:
            raise _not_found(conversation_id)
        return _json(_MESSAGES, page)
    async with runtime.unit_of_work() as uow:
        await _conversation(uow, conversation_id)
        messages = await repository.messages_of(uow.session, conversation_id, limit, before)
        return _json(_MESSAGES, [MessageOut.of(message) for message in messages])


@router.post("/{conversation_id}/read", response_model=ConversationOut)
async def mark_read(conversation_id: uuid.UUID, uow: UowDep, _: SendDep) -> ConversationOut:
    # Locked: the event shows the row as this transaction leaves it, not as it was before a
    # reply or a send that committed meanwhile (each such writer's event is then before it).
    conversation = await _conversation(uow, conversation_id, lock=True)
    conversation.unread_count = 0
    out = ConversationOut.of(conversation)
    uow.emit("conversation.updated", out.event_data())
    await uow.commit()
    return out


async def _conversation(
    uow: UowDep, conversation_id: uuid.UUID, *, lock: bool = False
) -> Conversation:
    conversation = await uow.session.get(Conversation, conversation_id, with_for_update=lock)
    if conversation is None:
        raise _not_found(conversation_id)
    return conversation


def _not_found(conversation_id: uuid.UUID) -> ApiError:
    return ApiError(404, "not_found", f"no conversation {conversation_id}", "conversation_id")


# The list and the thread answer with their JSON made in one call (pydantic's serializer):
# returned as models, FastAPI would validate each item again against the response model
# before serializing it, a third of these routes' CPU. `response_model` still documents them.
_CONVERSATIONS: Final = TypeAdapter(list[ConversationOut])
_MESSAGES: Final = TypeAdapter(list[MessageOut])


def _json(adapter: TypeAdapter[Any], items: list[Any]) -> Response:
    return Response(adapter.dump_json(items, by_alias=True), media_type="application/json")
