"""Downloaded media (when TEXTBRIDGE_MEDIA_DOWNLOAD is on), served to API clients and the inbox."""

from __future__ import annotations

import uuid

import anyio
from fastapi import APIRouter
from fastapi.responses import FileResponse

from textbridge.api.deps import ReadDep, UowDep
from textbridge.api.errors import ApiError
from textbridge.compliance.erasure import ERASED
from textbridge.models import Attachment

router = APIRouter(prefix="/media", tags=["media"])


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
