"""Media download: the address guard, the size cap, redirects; the network is a MockTransport
(or, for the guard, a real local server that must be refused)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from textbridge.media.downloader import DownloadFailed, MediaDownloader
from textbridge.media.guard import RefusedAddress, check_url, is_public

from ..support.live import LiveServer

PUBLIC = "93.184.216.34"


async def public_resolver(host: str, port: int) -> list[str]:
    return {"internal.example.com": ["10.1.2.3"]}.get(host, [PUBLIC])


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        (PUBLIC, True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("198.18.0.1", False),  # benchmarking
        ("192.0.2.1", False),  # documentation
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::ffff:8.8.8.8", True),
        ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible: deprecated, refused whatever it embeds
        ("::8.8.8.8", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8, what DNS64 gives an IPv6-only host
        ("64:ff9b:1::808:808", False),  # local-use NAT64: network-specific
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2002:808:808::1", True),
        ("fec0::1", False),  # site-local
        ("fd12:3456::1", False),  # unique-local
        ("ff02::1", False),
        ("ff0e::1", False),  # global-scope multicast
        ("2001:db8::1", False),
        ("fe80::1%eth0", False),
        ("not-an-address", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "https://internal.example.com/a.jpg",
        "http:///nohost",
    ],
)
async def test_urls_that_are_refused(url: str) -> None:
    with pytest.raises(RefusedAddress):
        await check_url(url, public_resolver)


def _downloader(tmp_path: Path, handler: httpx.MockTransport, cap: int = 1000) -> MediaDownloader:
    client = httpx.AsyncClient(transport=handler)
    return MediaDownloader(client, tmp_path, cap, resolve=public_resolver)


async def test_stores_the_file(tmp_path: Path) -> None:
    transport = httpx.MockTransport(
        lambda _: httpx.Response(200, content=b"JPEGDATA", headers={"content-type": "image/jpeg"})
    )
    stored = await _downloader(tmp_path, transport).download("https://cdn.example.com/cat.jpg")
    assert stored.path.read_bytes() == b"JPEGDATA"
    assert (stored.size, stored.mime_type) == (8, "image/jpeg")
    assert stored.path.parent == tmp_path
    assert stored.path.name.endswith("-cat.jpg")


async def test_declared_size_over_the_cap_is_refused(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(DownloadFailed, match="cap"):
        await _downloader(tmp_path, transport).download("https://cdn.example.com/big.bin")
    assert list(tmp_path.iterdir()) == []


async def test_streamed_size_over_the_cap_is_refused_and_removed(tmp_path: Path) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(30):
            yield b"y" * 100

    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=chunks()))
    with pytest.raises(DownloadFailed, match="cap"):
        await _downloader(tmp_path, transport).download("https://cdn.example.com/stream.bin")
    assert list(tmp_path.iterdir()) == []


async def test_a_redirect_to_an_internal_host_is_refused(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example.com":
            return httpx.Response(302, headers={"location": "https://internal.example.com/x"})
        return httpx.Response(200, content=b"secret")

    with pytest.raises(DownloadFailed, match="non-public"):
        await _downloader(tmp_path, httpx.MockTransport(handler)).download(
            "https://cdn.example.com/a.jpg"
        )


@pytest.mark.parametrize(
    ("status", "transient"), [(404, False), (403, False), (429, True), (500, True), (503, True)]
)
async def test_server_errors_fail_clearly(tmp_path: Path, status: int, transient: bool) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status))
    with pytest.raises(DownloadFailed, match=str(status)) as failed:
        await _downloader(tmp_path, transport).download("https://cdn.example.com/gone.jpg")
    assert failed.value.transient is transient


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
async def test_network_errors_are_transient(
    tmp_path: Path, error: type[httpx.TransportError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    with pytest.raises(DownloadFailed, match=error.__name__) as failed:
        await _downloader(tmp_path, httpx.MockTransport(handler)).download(
            "https://cdn.example.com/a.jpg"
        )
    assert failed.value.transient


async def test_a_refused_address_is_not_transient(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200))
    with pytest.raises(DownloadFailed) as failed:
        await _downloader(tmp_path, transport).download("https://internal.example.com/a.jpg")
    assert not failed.value.transient


async def test_a_real_loopback_server_is_refused(tmp_path: Path) -> None:
    from starlette.applications import Starlette

    with LiveServer(Starlette()) as server:
        async with httpx.AsyncClient() as client:
            downloader = MediaDownloader(client, tmp_path, 1000)  # the real resolver
            with pytest.raises(DownloadFailed, match="non-public"):
                await downloader.download(f"{server.url}/a.jpg")
            downloader = MediaDownloader(client, tmp_path, 1000)
            with pytest.raises(DownloadFailed, match="non-public"):
                await downloader.download(f"http://localhost:{server.port}/a.jpg")


async def test_credentials_go_to_the_first_host_only(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "api-us.nexmo.com":
            return httpx.Response(302, headers={"location": "https://cdn.example.com/blob"})
        return httpx.Response(200, content=b"data")

    downloader = _downloader(tmp_path, httpx.MockTransport(handler))
    await downloader.download(
        "https://api-us.nexmo.com/v3/media/1", headers={"Authorization": "Bearer secret"}
    )
    assert seen == [("api-us.nexmo.com", "Bearer secret"), ("cdn.example.com", None)]


async def test_no_credentials_over_plain_http_even_on_the_same_host(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.scheme, request.headers.get("authorization")))
        if request.url.scheme == "https":
            return httpx.Response(302, headers={"location": "http://api-us.nexmo.com/blob"})
        return httpx.Response(200, content=b"data")

    downloader = _downloader(tmp_path, httpx.MockTransport(handler))
    await downloader.download(
        "https://api-us.nexmo.com/v3/media/1", headers={"Authorization": "Bearer secret"}
    )
    assert seen == [("https", "Bearer secret"), ("http", None)]
