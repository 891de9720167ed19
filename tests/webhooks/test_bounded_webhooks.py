"""Webhooks against hostile sizes and bytes, over real HTTP on both databases: a body over the
limit is refused before it is read (413), a refused webhook keeps an excerpt and a SHA-256,
and no input makes a 5xx."""

from __future__ import annotations

import hashlib
import select
import socket
import uuid
from collections.abc import Iterable
from urllib.parse import urlencode

from textbridge.providers.plivo import signature

from ..support.live import wait_until
from ..support.textbridge import CONTACT, SANDBOX_NUMBER, Textbridge

LIMIT = 1_000_000  # TEXTBRIDGE_WEBHOOK_MAX_BODY_BYTES's default
FORM = "application/x-www-form-urlencoded"


def _exchange(textbridge: Textbridge, head: str, chunks: Iterable[bytes]) -> tuple[bytes, int]:
    """Send a raw request head, then body chunks until the server answers; return the answer
    and how many body bytes were sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", textbridge.server.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(chunk)
            except OSError:  # it answered and closed the connection
                break
            sent += len(chunk)
        return _read_answer(sock), sent


def _read_answer(sock: socket.socket) -> bytes:
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        answer += data
    return answer


def _head(path: str, *lines: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *lines, "", ""])


def test_a_content_length_over_the_limit_is_refused_before_any_byte_is_read(
    textbridge: Textbridge,
) -> None:
    head = _head("/webhooks/plivo/inbound", f"Content-Type: {FORM}", f"Content-Length: {LIMIT + 1}")
    answer, sent = _exchange(textbridge, head, [])
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"body_too_large"' in answer
    assert b"1000000 bytes" in answer
    assert sent == 0
    assert textbridge.database.scalar("SELECT count(*) FROM webhook_journal") == 0


def test_a_chunked_body_is_cut_off_once_past_the_limit(textbridge: Textbridge) -> None:
    head = _head(
        "/webhooks/vonage/inbound", "Content-Type: application/json", "Transfer-Encoding: chunked"
    )
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    endless = (chunk for _ in range(1000))  # 64 MB, far more than the socket buffers hold
    answer, sent = _exchange(textbridge, head, endless)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 32 * LIMIT  # the rest was never read
    assert textbridge.database.scalar("SELECT count(*) FROM webhook_journal") == 0


def test_a_body_at_the_limit_is_read(textbridge: Textbridge) -> None:
    response = textbridge.api.post(
        "/webhooks/plivo/inbound", content=b"a" * LIMIT, headers={"content-type": FORM}
    )
    assert response.status_code == 403  # read whole, then refused for its missing signature


def test_a_refused_webhook_keeps_an_excerpt_and_the_sha256_not_the_body(
    textbridge: Textbridge,
) -> None:
    body = ("From=14155550199&Text=" + "forged " * 100_000).encode()
    response = textbridge.api.post(
        f"/webhooks/plivo/inbound?{'q' * 20_000}",
        content=body,
        headers={"content-type": FORM, "x-padding": "p" * 30_000},
    )
    assert response.status_code == 403
    stored_body, url, digest = textbridge.database.rows(
        "SELECT body, url, body_sha256 FROM webhook_journal WHERE state = 'refused'"
    )[0]
    assert stored_body == body[:1024].decode()
    assert len(url) <= 1024
    assert digest == hashlib.sha256(body).hexdigest()
    headers = textbridge.database.scalar("SELECT headers FROM webhook_journal")
    assert len(str(headers)) < 2000


def test_headers_over_64_kib_are_refused(textbridge: Textbridge) -> None:
    headers = {f"x-padding-{n}": "p" * 10_000 for n in range(7)}
    response = textbridge.api.post("/webhooks/plivo/inbound", content=b"A=1", headers=headers)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    assert textbridge.database.scalar("SELECT count(*) FROM webhook_journal") == 0


def test_a_refused_webhook_with_a_nul_byte_is_journaled(textbridge: Textbridge) -> None:
    response = textbridge.api.post(
        "/webhooks/plivo/inbound", content=b"Text=a\x00b\xff", headers={"content-type": FORM}
    )
    assert response.status_code == 403
    assert textbridge.database.scalar("SELECT body FROM webhook_journal") == "Text=a\ufffdb\ufffd"


def _plivo_inbound(text: str) -> list[tuple[str, str]]:
    return [
        ("From", CONTACT.lstrip("+")),
        ("To", SANDBOX_NUMBER.lstrip("+")),
        ("Type", "sms"),
        ("MessageUUID", str(uuid.uuid4())),
        ("Text", text),
    ]


def _signed_get(textbridge: Textbridge, params: list[tuple[str, str]]) -> int:
    assert textbridge.runtime.sandbox is not None
    token = textbridge.runtime.sandbox.plivo_auth_token
    path = f"/webhooks/plivo/inbound?{urlencode(params)}"
    headers = signature.signed_headers(token, "GET", f"{textbridge.url}{path}", params)
    return textbridge.api.get(path, headers=headers).status_code


def test_a_signed_get_callback_with_a_long_query_is_journaled_whole(
    textbridge: Textbridge,
) -> None:
    text = "ж" * 1000  # 1000 characters, 6000 in the percent-encoded query
    assert _signed_get(textbridge, _plivo_inbound(text)) == 200
    assert len(textbridge.database.scalar("SELECT url FROM webhook_journal")) > 6000
    wait_until(lambda: textbridge.database.scalar("SELECT body FROM messages") == text, timeout=30)


def test_a_signed_form_body_with_a_raw_nul_byte_is_journaled(textbridge: Textbridge) -> None:
    assert textbridge.runtime.sandbox is not None
    token = textbridge.runtime.sandbox.plivo_auth_token
    params = _plivo_inbound("a\x00b")
    path = "/webhooks/plivo/inbound"
    headers = signature.signed_headers(token, "POST", f"{textbridge.url}{path}", params)
    body = "&".join(f"{key}={value}" for key, value in params).encode()  # the NUL raw
    response = textbridge.api.post(path, content=body, headers={**headers, "content-type": FORM})
    assert response.status_code == 200
    assert "a\ufffdb" in textbridge.database.scalar("SELECT body FROM webhook_journal")
