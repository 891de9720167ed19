"""Media: downloaded inbound copies (when TEXTBRIDGE_MEDIA_DOWNLOAD is on), served to API
clients and the inbox; and uploads, to send (`textbridge.media.uploads`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from textbridge.api.deps import ReadDep, RuntimeDep, SendDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.compliance.erasure import ERASED
from textbridge.media import uploads
from textbridge.models import Attachment

router = APIRouter(prefix="/media", tags=["media"])


class UploadOut(BaseModel):
    url: str = Field(
        description="Our public URL the provider fetches it from; give it as media.url"
    )
    mime_type: str = Field(description="Read from the content, not from the client")
    size: int
    filename: str | None
    expires_at: datetime = Field(description="After this the URL answers 404")


@router.post("", status_code=201, response_model=UploadOut)
async def upload_media(
    file: Annotated[UploadFile, File(description="The file")],
    runtime: RuntimeDep,
    _: SendDep,
    channel: Annotated[
        Literal["sms", "mms", "whatsapp"],
        Form(description="The channel it is for: its limits apply (sms means MMS)"),
    ] = "mms",
) -> UploadOut:
    """Store a file to send as media: the answer's `url` goes in a message's `media`."""
    settings = runtime.settings
    try:
        stored = await anyio.to_thread.run_sync(
            uploads.store,
            file.file,
            file.filename,
            channel,
            settings.media_dir,
            settings.media_upload_ttl_seconds,
        )
    except uploads.UploadRefused as exc:
        raise ApiError(exc.status, exc.code, str(exc), "file") from None
    finally:
        await file.close()
    return UploadOut(
        url=uploads.public_url(settings.public_url, stored.name),
        mime_type=stored.mime_type,
        size=stored.size,
        filename=stored.filename,
        expires_at=datetime.fromtimestamp(stored.expires_at, UTC),
    )


@router.get("/{attachment_id}", response_class=FileResponse)
async def get_media(attachment_id: uuid.UUID, uow: UowDep, _: ReadDep) -> FileResponse:
    attachment = await uow.session.get(Attachment, attachment_id)
    # An erased attachment may keep its path until its file is deleted (a failed deletion is
    # retried by the content purger): never served in between.
    erased = attachment is not None and attachment.download_state == ERASED
    if attachment is None or attachment.local_path is None or erased:
        raise ApiError(404, "not_found", "no stored copy of this media", "attachment_id")
    path = anyio.Path(attachment.local_path)
    if not await path.is_file():
        raise ApiError(404, "not_found", "the stored copy is gone", "attachment_id")
    return FileResponse(
        path,
        media_type=attachment.mime_type or "application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment"},
    )
