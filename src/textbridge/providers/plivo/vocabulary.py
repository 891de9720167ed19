"""Plivo's words and limits, as data. Source: providers.md sections 1-2 and 6
(https://plivo.com/docs/messaging/api/message/message-status-callbacks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from textbridge.messaging import status
from textbridge.providers.base import Channel, MediaKind

STATUS_MAP: Final[dict[str, str]] = {
    "queued": status.SUBMITTED,
    "sent": status.SENT,
    "delivered": status.DELIVERED,
    "undelivered": status.UNDELIVERED,
    "failed": status.FAILED,
    "rejected": status.REJECTED,
    "read": status.READ,
}

# https://www.plivo.com/docs/sms/api/message#sms-error-codes (subset the simulator produces).
ERROR_CODES: Final[dict[str, str]] = {
    "10": "Invalid message",
    "20": "Network error",
    "30": "Spam detected",
    "40": "Invalid source number",
    "50": "Invalid destination number",
    "200": "Source number blocked",
    "300": "Destination number blocked / unreachable",
    "420": "Message expired",
    "900": "Insufficient credit",
    "1000": "Unknown error",
    # WhatsApp: Plivo reports its own codes, not Meta's. Reported (providers.md, "Findings after
    # the first release", 3): 340 for a template that is not approved or free-form text outside
    # the 24-hour window, 350 for template parameters that do not match. Plivo's error-code page
    # (https://plivo.com/docs/messaging/troubleshooting/error-codes) as we could read it lists
    # the SMS codes only, so these two are [reported, unconfirmed by a page we could read].
    "340": "WhatsApp template not approved, or free-form message outside the 24-hour window",
    "350": "WhatsApp template parameters do not match the template",
}

SUCCESS_ERROR_CODE: Final = "000"

# Account API limit: 300 requests per 5 s for non-call APIs (Plivo account-limits docs).
API_REQUESTS_PER_SECOND: Final = 60.0
SMS_MAX_GSM_CHARACTERS: Final = 1600
SMS_MAX_UCS2_CHARACTERS: Final = 737

# --- Channels and text limits -------------------------------------------------------------
# https://www.plivo.com/docs/messaging/api/messages ("type": sms, mms, whatsapp; "text": SMS max
# 1,600 GSM characters or 737 Unicode characters, WhatsApp free-form max 4,096 characters).
CHANNELS: Final[frozenset[Channel]] = frozenset({"sms", "mms", "whatsapp"})
# Counted in characters (code points), as Plivo documents and as our simulator enforces; an MMS
# body is held to the same limits (support article below: "up to 1,600 characters").
TEXT_LIMITS: Final[dict[str, int]] = {
    "GSM-7": SMS_MAX_GSM_CHARACTERS,
    "UCS-2": SMS_MAX_UCS2_CHARACTERS,
}
WHATSAPP_MAX_TEXT: Final = 4096
# Meta: a media caption holds at most 1,024 characters
# (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#media-object).
WHATSAPP_MAX_CAPTION: Final = 1024

MB: Final = 1_000_000  # decimal megabytes: the stricter reading of "5 MB"

# --- MMS media ------------------------------------------------------------------------------
# https://support.plivo.com/hc/en-us/articles/360041855032 : up to 10 attachments, at most 2 MB
# each, body text plus all attachments under 5 MB; JPEG, PNG and GIF are the formats Plivo adapts
# to the handset. Plivo "accepts several additional formats" without adapting them; the outbound
# list of its MMS FAQ (https://support.plivo.com/hc/en-us/sections/360008302871-MMS) could not be
# read, so the video and audio types below are the common ones from its inbound list
# [unconfirmed for outbound]. An MMS has no per-media caption: its text is the body.
MMS_MAX_MEDIA: Final = 10
MMS_MAX_MEDIA_BYTES: Final = 2 * MB
MMS_MAX_TOTAL_BYTES: Final = 5 * MB  # exclusive: the total must stay under it
MMS_MEDIA_KINDS: Final[frozenset[MediaKind]] = frozenset({"image", "video", "audio"})
MMS_MEDIA_TYPES: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "video/mp4",
        "video/3gpp",
        "audio/mpeg",
        "audio/mp3",
        "audio/mp4",
        "audio/amr",
        "audio/3gpp",
    }
)


# --- WhatsApp media -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MediaRule:
    types: frozenset[str]
    max_bytes: int
    caption: bool


# Plivo sends one media URL per WhatsApp message ("media_urls": for WhatsApp a single URL) and
# Meta decides what it carries: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
# (audio and stickers take no caption: .../reference/messages#media-object).
WHATSAPP_MAX_MEDIA: Final = 1
WHATSAPP_MEDIA: Final[dict[MediaKind, MediaRule]] = {
    "image": MediaRule(frozenset({"image/jpeg", "image/png"}), 5 * MB, caption=True),
    "video": MediaRule(frozenset({"video/mp4", "video/3gpp"}), 16 * MB, caption=True),
    "audio": MediaRule(
        frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        16 * MB,
        caption=False,
    ),
    "file": MediaRule(
        frozenset(
            {
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            }
        ),
        100 * MB,
        caption=True,
    ),
    # 100 KB static, 500 KB animated; we cannot tell which, so the larger bound applies.
    "sticker": MediaRule(frozenset({"image/webp"}), 500_000, caption=False),
}

# --- WhatsApp rich content ------------------------------------------------------------------
# Plivo: "interactive message object for list buttons, reply buttons, CTA URL"
# (https://www.plivo.com/docs/messaging/api/messages); the type strings are Meta's
# (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages).
WHATSAPP_INTERACTIVE_TYPES: Final = frozenset({"button", "list", "cta_url"})
WHATSAPP_MAX_REPLY_BUTTONS: Final = 3  # Meta: up to three reply buttons
WHATSAPP_MAX_CTA_BUTTONS: Final = 1  # Meta: a CTA URL message has one button
WHATSAPP_MAX_LIST_ROWS: Final = 10  # Meta: up to 10 rows across all sections
# Meta's template components (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates);
# a button component needs its `sub_type` and `index`.
TEMPLATE_COMPONENT_TYPES: Final = frozenset({"header", "body", "button", "footer"})
# SDK `plivo/utils/location.py`: latitude, longitude, name and address are all required strings.
LOCATION_REQUIRED: Final = ("name", "address")
# Meta template parameter types that carry a media object; Plivo's SDK takes them as
# `{"type": "media", "media": "<url>"}` (SDK `plivo/utils/template.py` `Parameter`).
TEMPLATE_MEDIA_TYPES: Final = frozenset({"image", "video", "document"})

# --- Inbound webhook ------------------------------------------------------------------------
# https://plivo.com/docs/messaging/api/message/handling-incoming : `Type` is sms, mms or
# whatsapp; `Text` carries SMS, `Body` carries MMS and WhatsApp text; `Media1..MediaN` (1-based
# per the docs; `Media0` seen in a Plivo WhatsApp integration, so read too); `ContentType`
# (WhatsApp) is text, media, button or unknown; `MimeType` is the type of WhatsApp media.
INBOUND_TYPES: Final[dict[str, Channel]] = {"sms": "sms", "mms": "mms", "whatsapp": "whatsapp"}
# Inbound media kind by the major part of its MIME type; anything else is a file. On WhatsApp an
# image/webp is a sticker (Meta: stickers are WebP, images JPEG or PNG).
INBOUND_MEDIA_KINDS: Final[dict[str, MediaKind]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
}
WHATSAPP_STICKER_TYPE: Final = "image/webp"
# Plivo's `ContentType` -> our `InboundMessage.content_type`.
# Any other value is kept as `unsupported`; a list reply (fields below) becomes `reply`.
INBOUND_CONTENT_TYPES: Final[dict[str, str]] = {
    "text": "text",
    "media": "media",
    "button": "button",
    "location": "location",
    "unknown": "unsupported",
}
# Inbound WhatsApp location fields: unconfirmed by Plivo's docs (what our simulator sends).
LOCATION_FIELDS: Final = ("Latitude", "Longitude", "LocationName", "LocationAddress")
# Field names the handling-incoming page does not confirm. A Plivo WhatsApp integration reads
# `Button.Text`, `Button.Payload` and `Context.MessageUUID` from the parsed body (nested keys), so
# each name is looked up flat, dotted and bracketed (`ButtonPayload`, `Button.Payload`,
# `Button[Payload]`). List replies and the profile name have no source at all: best guesses.
BUTTON_PAYLOAD: Final = ("Button", "Payload")
BUTTON_TEXT: Final = ("Button", "Text")
LIST_ID: Final = ("List", "Id")
LIST_TITLE: Final = ("List", "Title")
CONTEXT_MESSAGE_UUID: Final = ("Context", "MessageUUID")
PROFILE_NAME: Final = ("Profile", "Name")

# Inbound SMS (long codes and toll-free): `optout`, `optin` or `help` when the text matched one
# of Plivo's standard keywords, blank otherwise
# (https://www.plivo.com/docs/sms/api/message/handling-incoming/, "MessageIntent").
MESSAGE_INTENT: Final = "MessageIntent"
