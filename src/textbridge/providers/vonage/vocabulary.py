"""Vonage's words and limits, as data.

Sources (see also ``/work/shared/reference/providers.md`` sections 4-6):

- Messages API v1 reference and OpenAPI: https://developer.vonage.com/en/api/messages
- Message status callbacks:
  https://developer.vonage.com/en/messages/concepts/messages-status-callbacks
- MMS availability and message types: https://developer.vonage.com/en/messages/concepts/mms
- WhatsApp media types and sizes (Meta, "Supported media types"):
  https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
- Field limits as enforced by the official SDK models (``vonage-messages`` 1.8.1,
  ``vonage_messages/models/{sms,whatsapp,mms,base_message}.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from textbridge.messaging import status
from textbridge.providers.base import Channel, MediaKind

DEFAULT_API_BASE_URL: Final = "https://api.nexmo.com"
MESSAGES_PATH: Final = "/v1/messages"

# Message status callback `status` -> our status.
STATUS_MAP: Final[dict[str, str]] = {
    "submitted": status.SUBMITTED,
    "delivered": status.DELIVERED,
    "read": status.READ,
    "rejected": status.REJECTED,
    "undeliverable": status.UNDELIVERED,
}

# Account API limit: 30 requests per second per API key (Vonage support article 203993598).
API_REQUESTS_PER_SECOND: Final = 30.0
SANDBOX_MESSAGES_PER_SECOND: Final = 1.0

# JWT for sending (SDK `vonage_jwt/jwt.py`): valid 15 minutes; we re-mint a minute early.
JWT_LIFETIME_SECONDS: Final = 900
JWT_RENEW_BEFORE_EXPIRY_SECONDS: Final = 60

# Signed webhooks: Vonage documents no `iat` tolerance; this is our default window.
SIGNATURE_MAX_AGE_SECONDS: Final = 300
SIGNATURE_ISSUER: Final = "Vonage"

# Text and field limits (Messages API v1; SDK models).
SMS_MAX_TEXT: Final = 3200
WHATSAPP_MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 3000
MAX_CLIENT_REF: Final = 100
AUDIO_URL_LENGTH: Final = (10, 2000)

MB: Final = 1024 * 1024
KB: Final = 1024


@dataclass(frozen=True, slots=True)
class MediaRule:
    """What one media kind may be on one channel: MIME types, size cap, caption allowed."""

    mime_types: frozenset[str]
    max_bytes: int | None
    caption: bool
    doc: str


_META_MEDIA = (
    "https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types"
)
_VONAGE_MMS = "https://developer.vonage.com/en/messages/concepts/mms"

WHATSAPP_DOCUMENT_TYPES: Final = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)

MMS_IMAGE_MAX_BYTES: Final = 2_000_000

MEDIA_RULES: Final[dict[Channel, dict[MediaKind, MediaRule]]] = {
    "whatsapp": {
        "image": MediaRule(frozenset({"image/jpeg", "image/png"}), 5 * MB, True, _META_MEDIA),
        "audio": MediaRule(
            frozenset({"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg"}),
            16 * MB,
            False,
            _META_MEDIA,
        ),
        "video": MediaRule(frozenset({"video/mp4", "video/3gpp"}), 16 * MB, True, _META_MEDIA),
        "file": MediaRule(WHATSAPP_DOCUMENT_TYPES, 100 * MB, True, _META_MEDIA),
        # Static stickers are capped at 100 KB, animated ones at 500 KB.
        "sticker": MediaRule(frozenset({"image/webp"}), 500 * KB, False, _META_MEDIA),
    },
    # Vonage MMS: one image per message (we send no other MMS type); .jpg, .jpeg, .png, .gif,
    # at most 2 MB (read as 2,000,000 bytes, the stricter reading). The MMS page as we could
    # read it names no size; 2 MB is the cap issue 6 reports and the US carriers' usual image
    # cap (e.g. https://docs.aws.amazon.com/sms-voice/latest/userguide/mms-limitations-character.html).
    "mms": {
        "image": MediaRule(
            frozenset({"image/jpeg", "image/png", "image/gif"}),
            MMS_IMAGE_MAX_BYTES,
            True,
            _VONAGE_MMS,
        ),
    },
    "sms": {},
}

# When a media item has no `mime_type`, its URL's extension stands in for it (several MIME
# types may share one extension; the item passes when any of them is allowed).
EXTENSION_MIME_TYPES: Final[dict[str, frozenset[str]]] = {
    ".jpg": frozenset({"image/jpeg"}),
    ".jpeg": frozenset({"image/jpeg"}),
    ".png": frozenset({"image/png"}),
    ".gif": frozenset({"image/gif"}),
    ".webp": frozenset({"image/webp"}),
    ".bmp": frozenset({"image/bmp"}),
    ".heic": frozenset({"image/heic"}),
    ".aac": frozenset({"audio/aac"}),
    ".amr": frozenset({"audio/amr"}),
    ".mp3": frozenset({"audio/mpeg"}),
    ".m4a": frozenset({"audio/mp4"}),
    ".ogg": frozenset({"audio/ogg"}),
    ".opus": frozenset({"audio/ogg"}),
    ".wav": frozenset({"audio/wav"}),
    ".mp4": frozenset({"video/mp4", "audio/mp4"}),
    ".3gp": frozenset({"video/3gpp"}),
    ".mov": frozenset({"video/quicktime"}),
    ".webm": frozenset({"video/webm"}),
    ".pdf": frozenset({"application/pdf"}),
    ".txt": frozenset({"text/plain"}),
    ".doc": frozenset({"application/msword"}),
    ".docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    ".xls": frozenset({"application/vnd.ms-excel"}),
    ".xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
    ".ppt": frozenset({"application/vnd.ms-powerpoint"}),
    ".pptx": frozenset(
        {"application/vnd.openxmlformats-officedocument.presentationml.presentation"}
    ),
    ".zip": frozenset({"application/zip"}),
}

# Spellings seen in the wild for the MIME types above (we check, Vonage never sees them).
MIME_ALIASES: Final[dict[str, str]] = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "video/3gp": "video/3gpp",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/opus": "audio/ogg",
}

# Most media items one message carries, per channel (WhatsApp and MMS image: one).
MAX_MEDIA_ITEMS: Final[dict[Channel, int]] = {"sms": 0, "mms": 1, "whatsapp": 1}

# Vonage sends MMS to the US and Canada only (see _VONAGE_MMS).
MMS_REGIONS: Final = frozenset({"US", "CA"})

# Inbound `message_type`s that carry one media object, and the media kind we give it.
INBOUND_MEDIA_KINDS: Final[dict[str, MediaKind]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "file": "file",
    "sticker": "sticker",
    "vcard": "file",
}

# Inbound `channel` values we accept (the Messages API also has messenger, viber_service, rcs).
INBOUND_CHANNELS: Final[dict[str, Channel]] = {
    "sms": "sms",
    "mms": "mms",
    "whatsapp": "whatsapp",
}


# Inbound media lives on Vonage's own API hosts and needs our credentials
# (https://developer.vonage.com/en/messages/concepts/inbound-media, e.g.
# https://api-us.nexmo.com/v3/media/<id>). Credentials go to these hosts only, over https.
MEDIA_HOST_PATTERN = re.compile(r"^api(-[a-z0-9]+)?\.(nexmo|vonage)\.com$")


def is_media_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(MEDIA_HOST_PATTERN.match(parts.hostname or ""))
