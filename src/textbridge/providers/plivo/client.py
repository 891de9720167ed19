"""Send through Plivo's Message API with one pooled async httpx client per process."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import httpx

from textbridge.providers import transport
from textbridge.providers.base import (
    OutboundMessage,
    SendAuthFailed,
    SendError,
    SendOutcomeUnknown,
    SendRateLimited,
    SendRejected,
    SendResult,
)
from textbridge.providers.plivo import whatsapp
from textbridge.providers.shapes import note_unknown_shape


# Plivo expects a number without the leading "+".
def plivo_number(e164: str) -> str:
    return e164.lstrip("+")


def message_request_body(message: OutboundMessage) -> dict[str, Any]:
    """The JSON body of `POST .../Message/`, field for field what the plivo SDK sends (minus
    its defaults `log` and `trackable`). `check()` has already refused what Plivo cannot carry."""
    return {
        "src": plivo_number(message.from_address),
        "dst": plivo_number(message.to_address),
        **_content(message),
        "type": message.channel,
        "url": message.status_callback_url,
        "method": "POST",
    }


def _content(message: OutboundMessage) -> dict[str, Any]:
    if message.channel == "sms":
        return {"text": message.text}
    if message.channel == "mms":
        return {"media_urls": [media.url for media in message.media], **_text(message.text)}
    return _whatsapp_content(message)


def _whatsapp_content(message: OutboundMessage) -> dict[str, Any]:
    if message.template is not None:
        return {"template": whatsapp.template_object(message.template)}
    if message.interactive is not None:
        return {"interactive": whatsapp.interactive_object(message.interactive)}
    if message.location is not None:
        return {"location": whatsapp.location_object(message.location)}
    if message.media:
        # One media per WhatsApp message; `text` is its caption.
        media = message.media[0]
        return {"media_urls": [media.url], **_text(message.text or media.caption)}
    return {"text": message.text}


def _text(text: str | None) -> dict[str, Any]:
    return {"text": text} if text else {}


MEDIA_BASE_URL = "https://media.plivo.com"
"""Where Plivo serves message media: `/Account/{auth_id}/Message/{message_uuid}/Media/{media_id}`
(plivo-python `tests/resources/fixtures/messageListMediaResponse.json`), and uploaded media at
`/Account/{auth_id}/Media/{media_id}` (https://www.plivo.com/docs/messaging/api/media)."""


class PlivoMessageClient:
    def __init__(
        self,
        auth_id: str,
        auth_token: str,
        base_url: str,
        client: httpx.AsyncClient,
        media_base_url: str = MEDIA_BASE_URL,
    ):
        self._url = f"{base_url}/{auth_id}/Message/"
        media = urlsplit(media_base_url)
        self._media_origin = (media.scheme, media.netloc.lower())
        self._media_path = f"{media.path.rstrip('/')}/Account/{auth_id}/"
        self._auth = httpx.BasicAuth(auth_id, auth_token)
        self._client = client
        credentials = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode("ascii")
        self.authorization = f"Basic {credentials}"

    def is_media_url(self, url: str) -> bool:
        """Our account's media on Plivo's media host (`MEDIA_BASE_URL`), which takes Basic
        auth; nothing else gets credentials: not another host, scheme, port or account."""
        try:
            parts = urlsplit(url)
            origin = (parts.scheme, parts.netloc.lower())
        except ValueError:
            return False
        segments = parts.path.split("/")
        plain = not {".", ".."} & set(segments) and "" not in segments[1:-1]
        return (
            origin == self._media_origin
            and parts.path.startswith(self._media_path)
            and plain
            and "%" not in parts.path
            and not parts.username
        )

    async def send(self, message: OutboundMessage) -> SendResult:
        response = await transport.post(
            self._client, "Plivo", self._url, json=message_request_body(message), auth=self._auth
        )
        return _result(response)


def _result(response: httpx.Response) -> SendResult:
    if response.status_code in (200, 201, 202):
        uuid = _first_uuid(_json(response).get("message_uuid"))
        if not uuid:
            raise SendOutcomeUnknown("Plivo accepted the request but returned no message_uuid")
        return SendResult(provider_message_id=uuid)
    raise _error(response)


def _first_uuid(value: object) -> str | None:
    """Plivo documents `message_uuid` as a list (one per destination); a string is read whole,
    not as its first character (https://docs.plivo.com/docs/messaging/api/response)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None:
        note_unknown_shape("plivo", "send answer message_uuid", [type(value).__name__])
    return None


def _error(response: httpx.Response) -> SendError:
    code = response.status_code
    detail = str(_json(response).get("error") or response.reason_phrase)
    if code == 429:
        retry_after = transport.retry_after(response.headers.get("retry-after"))
        return SendRateLimited(f"Plivo rate limit: {detail}", retry_after=retry_after)
    if code == 401:
        return SendAuthFailed(f"Plivo refused our credentials: {detail}", provider_code="401")
    if code >= 500:
        retry_after = transport.retry_after(response.headers.get("retry-after"))
        return transport.server_error("Plivo", code, detail, str(code), retry_after)
    return SendRejected(f"Plivo refused the message: {detail}", provider_code=str(code))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
