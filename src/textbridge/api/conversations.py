from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from textbridge.api.deps import ApiKeyDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.messaging import repository
from textbridge.messaging.schemas import ConversationOut, MessageOut
from textbridge.models import Conversation

router = APIRouter(prefix="/conversations", tags=["conversations"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("", response_model=list[ConversationOut])
async def list_conversations(
    uow: UowDep, _: ApiKeyDep, limit: Limit = 50, before: datetime | None = None
) -> list[ConversationOut]:
    """Most recently active first; page with `before` = the last item's `last_message_at`."""
    conversations = await repository.list_conversations(uow.session, limit, before)
    return [ConversationOut.of(conversation) for conversation in conversations]


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: uuid.UUID, uow: UowDep, _: ApiKeyDep
) -> ConversationOut:
    return ConversationOut.of(await _conversation(uow, conversation_id))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
async def conversation_messages(
    conversation_id: uuid.UUID,
    uow: UowDep,
    _: ApiKeyDep,
    limit: Limit = 100,
    before: datetime | None = None,
) -> list[MessageOut]:
    """Oldest first within the page; page backwards with `before` = the first item's time."""
    await _conversation(uow, conversation_id)
    messages = await repository.messages_of(uow.session, conversation_id, limit, before)
    return [MessageOut.of(message) for message in messages]


@router.post("/{conversation_id}/read", response_model=ConversationOut)
async def mark_read(conversation_id: uuid.UUID, uow: UowDep, _: ApiKeyDep) -> ConversationOut:
    conversation = await _conversation(uow, conversation_id)
    conversation.unread_count = 0
    out = ConversationOut.of(conversation)
    uow.emit("conversation.updated", out.event_data())
    await uow.commit()
    return out


async def _conversation(uow: UowDep, conversation_id: uuid.UUID) -> Conversation:
    conversation = await uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"no conversation {conversation_id}", "conversation_id")
    return conversation
