"""The address guard on real sockets: a local origin on 127.0.0.1 stands for an internal host.

A test resolver names the hosts (`rebind.test`, `media.test`) and, where a download must
succeed, a test allowlist lets 127.0.0.1 through; the origin counts what reached it, so a
refusal is proved to happen before any byte is sent. Only loopback is ever contacted.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from textbridge.config import networks
from textbridge.media.downloader import DownloadFailed, MediaDownloader
from textbridge.media.guard import (
    AddressPolicy,
    RefusedAddress,
    Resolver,
    allowing,
    guarded_client,
    is_public,
)
from textbridge.simulator.tls import ensure_tls_files

from .origin import Answer, Origin, header

PUBLIC = "93.184.216.34"  # never contacted: every test connects to loopback or is refused


def loopback_only(address: str) -> bool:
    return address == "127.0.0.1"


def resolver(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


def downloader(
    folder: Path,
    resolve: Resolver,
    allowed: AddressPolicy = is_public,
    verify: ssl.SSLContext | bool = True,
    deadline: float = 30.0,
) -> MediaDownloader:
    client = guarded_client(resolve, allowed, verify)
    return MediaDownloader(client, folder, 1000, resolve, allowed=allowed, deadline=deadline)


async def test_dns_rebinding_is_refused_before_any_byte(tmp_path: Path) -> None:
    """The early check is told a public address, the connection would be to loopback."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        assert host == "rebind.test"
        return next(answers)

    async with Origin() as origin:
        media = downloader(tmp_path, rebinding)
        with pytest.raises(DownloadFailed, match=r"non-public address 127\.0\.0\.1"):
            await media.download(f"http://rebind.test:{origin.port}/a.png")
        await media.aclose()
    assert origin.connections == 0
    assert origin.requests == []


@pytest.mark.parametrize("answer", [["127.0.0.1"], [PUBLIC, "127.0.0.1"], ["::ffff:127.0.0.1"]])
async def test_the_transport_itself_refuses_internal_answers(answer: list[str]) -> None:
    """Even without the downloader's early check, the connection is never opened."""
    async with Origin() as origin, guarded_client(resolver({"rebind.test": answer})) as client:
        with pytest.raises(RefusedAddress):
            await client.get(f"http://rebind.test:{origin.port}/a.png")
        with pytest.raises(RefusedAddress):
            await client.get(f"http://127.0.0.1:{origin.port}/a.png")
    assert origin.connections == 0


async def test_connects_to_the_checked_address_under_the_hosts_name(tmp_path: Path) -> None:
    async with Origin() as origin:
        media = downloader(tmp_path, resolver({"media.test": ["127.0.0.1"]}), allowed=loopback_only)
        stored = await media.download(f"http://media.test:{origin.port}/cat.png")
        await media.aclose()
    assert stored.path.read_bytes() == Answer().body
    assert header(origin.requests[0], "host") == f"media.test:{origin.port}"


async def test_tls_is_verified_against_the_host_name(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls", hosts=("media.test",))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(files.cert, files.key)
    trust = ssl.create_default_context(cafile=str(files.ca))
    names = resolver({"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    async with Origin(tls=server_tls) as origin:
        media = downloader(tmp_path, names, allowed=loopback_only, verify=trust)
        stored = await media.download(f"https://media.test:{origin.port}/cat.png")
        assert stored.size == len(Answer().body)
        # The same address under a name the certificate does not cover: refused by TLS.
        with pytest.raises(DownloadFailed, match="network error"):
            await media.download(f"https://other.test:{origin.port}/cat.png")
        await media.aclose()


async def test_proxy_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Origin() as proxy, Origin() as origin:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        media = downloader(tmp_path, resolver({"media.test": ["127.0.0.1"]}), allowed=loopback_only)
        await media.download(f"http://media.test:{origin.port}/cat.png")
        await media.aclose()
    assert (proxy.connections, origin.connections) == (0, 1)


async def test_one_deadline_for_the_whole_download(tmp_path: Path) -> None:
    """Each byte arrives well within the read timeout; the whole never does."""
    slow = Answer(body=b"x" * 200, trickle_seconds=0.1)
    async with Origin(lambda _: slow) as origin:
        media = downloader(
            tmp_path, resolver({"media.test": ["127.0.0.1"]}), allowed=loopback_only, deadline=1.0
        )
        with pytest.raises(DownloadFailed, match="not done within 1 s") as refused:
            await media.download(f"http://media.test:{origin.port}/slow.bin")
        await media.aclose()
    assert refused.value.transient
    assert list(tmp_path.iterdir()) == []


async def test_https_to_http_redirect_drops_the_credentials(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls", hosts=("media.test",))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(files.cert, files.key)
    trust = ssl.create_default_context(cafile=str(files.ca))
    async with Origin() as plain:
        downgrade = Answer(302, {"location": f"http://media.test:{plain.port}/cat.png"}, b"")
        async with Origin(lambda _: downgrade, tls=server_tls) as secure:
            media = downloader(
                tmp_path / "media",
                resolver({"media.test": ["127.0.0.1"]}),
                allowed=loopback_only,
                verify=trust,
            )
            await media.download(
                f"https://media.test:{secure.port}/cat.png",
                headers={"Authorization": "Bearer secret"},
            )
            await media.aclose()
    assert header(secure.requests[0], "authorization") == "Bearer secret"
    assert header(plain.requests[0], "authorization") is None


def test_allowed_networks_let_their_addresses_through_and_no_others() -> None:
    """`TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS`: an operator's exceptions to the guard, no wider."""
    allowed = allowing(networks("127.0.0.1/32, 10.1.0.0/16"))
    assert [allowed(a) for a in ("127.0.0.1", "10.1.2.3")] == [True, True]
    assert [allowed(a) for a in ("127.0.0.2", "10.2.0.1", "::1")] == [False, False, False]
    assert allowed("93.184.216.34")  # public, as ever
    assert allowing(networks("")) is is_public
