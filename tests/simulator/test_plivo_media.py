"""The simulator hosts inbound media where Plivo does: /Account/{id}/Message/{uuid}/Media/{id}."""

from __future__ import annotations

import base64
import re

import httpx

from ..support.live import LiveServer
from .harness import AUTH_ID, AUTH_TOKEN, Receiver
from .inbound_support import plivo_inbound

PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 32
MEDIA_PATH = re.compile(rf"^/Account/{AUTH_ID}/Message/([0-9a-f-]{{36}})/Media/([0-9a-f-]{{36}})$")


def test_unhosted_media_is_served_on_plivos_media_path(
    control: httpx.Client, receiver: Receiver, simulator: LiveServer
) -> None:
    medium = {"mime_type": "image/png", "data": base64.b64encode(PNG).decode()}
    params = plivo_inbound(control, receiver, {"type": "mms", "text": "", "media": [medium]})

    url = httpx.URL(params["Media1"])
    match = MEDIA_PATH.match(url.path)
    assert match, url
    assert match.group(1) == params["MessageUUID"]
    assert str(url).startswith(simulator.url)
    served = httpx.get(str(url), auth=(AUTH_ID, AUTH_TOKEN))
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert httpx.get(str(url)).status_code == 401
    assert httpx.get(str(url), auth=(AUTH_ID, "wrong")).status_code == 401


def test_a_given_url_is_passed_through(control: httpx.Client, receiver: Receiver) -> None:
    medium = {"url": "https://example.com/a.png", "mime_type": "image/png"}
    params = plivo_inbound(control, receiver, {"type": "mms", "text": "", "media": [medium]})

    assert params["Media1"] == "https://example.com/a.png"


def test_unknown_media_is_404(simulator: LiveServer) -> None:
    path = f"/Account/{AUTH_ID}/Message/00000000-0000-0000-0000-000000000000/Media/x"
    assert httpx.get(simulator.url + path, auth=(AUTH_ID, AUTH_TOKEN)).status_code == 404
