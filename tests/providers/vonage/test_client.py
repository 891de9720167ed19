"""Sending through httpx.MockTransport: auth headers, the body, and every error mapping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import jwt
import pytest
from vonage_http_client.auth import Auth
from vonage_jwt import JwtClient

from textbridge.providers.base import (
    SendAuthFailed,
    SendError,
    SendOutcomeUnknown,
    SendRateLimited,
    SendRejected,
    SendUnavailable,
)
from textbridge.providers.vonage import VonageCredentials, VonageProvider
from textbridge.providers.vonage.body import request_body
from textbridge.providers.vonage.vocabulary import (
    JWT_LIFETIME_SECONDS,
    JWT_RENEW_BEFORE_EXPIRY_SECONDS,
)

from .support import API_KEY, API_SECRET, APPLICATION_ID, FakeClock, message

UUID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers with `response` and keeps every request."""

    def __init__(self, response: httpx.Response | Exception | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response or httpx.Response(202, json={"message_uuid": UUID})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def http(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        yield client


@pytest.fixture
def jwt_provider(http: httpx.AsyncClient, private_pem: str, clock: FakeClock) -> VonageProvider:
    credentials = VonageCredentials(application_id=APPLICATION_ID, private_key_pem=private_pem)
    return VonageProvider(
        http, credentials, signature_secret=None, api_base_url="https://api.test", clock=clock
    )


@pytest.fixture
def basic_provider(http: httpx.AsyncClient) -> VonageProvider:
    credentials = VonageCredentials(api_key=API_KEY, api_secret=API_SECRET)
    return VonageProvider(
        http, credentials, signature_secret=None, api_base_url="https://api.test/"
    )


def bearer(request: httpx.Request) -> str:
    scheme, token = request.headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    return token


# --- success and auth ------------------------------------------------------------------------


async def test_send_posts_the_body_and_returns_the_uuid(
    jwt_provider: VonageProvider, recorder: Recorder
) -> None:
    sms = message("sms")
    result = await jwt_provider.send(sms)
    assert result.provider_message_id == UUID
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.test/v1/messages"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == request_body(sms)


async def test_jwt_is_rs256_with_the_sdk_claims(
    jwt_provider: VonageProvider,
    recorder: Recorder,
    public_pem: bytes,
    private_pem: str,
    clock: FakeClock,
) -> None:
    await jwt_provider.send(message())
    token = bearer(recorder.requests[0])
    claims = jwt.decode(token, public_pem, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["application_id"] == APPLICATION_ID
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] == claims["iat"] + 900
    assert len(claims["jti"]) == 36
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    # The same shape as the SDK's own token.
    sdk_token = JwtClient(APPLICATION_ID, private_pem).generate_application_jwt().decode()
    sdk_claims = jwt.decode(sdk_token, public_pem, algorithms=["RS256"])
    assert set(sdk_claims) == set(claims)
    assert jwt.get_unverified_header(sdk_token) == jwt.get_unverified_header(token)


async def test_jwt_is_reused_then_reminted_before_expiry(
    jwt_provider: VonageProvider, recorder: Recorder, public_pem: bytes, clock: FakeClock
) -> None:
    await jwt_provider.send(message())
    clock.now += JWT_LIFETIME_SECONDS - JWT_RENEW_BEFORE_EXPIRY_SECONDS - 1
    await jwt_provider.send(message())
    clock.now += 1
    await jwt_provider.send(message())
    first, second, third = (bearer(r) for r in recorder.requests)
    assert first == second != third
    renewed = jwt.decode(third, public_pem, algorithms=["RS256"], options={"verify_exp": False})
    assert renewed["iat"] == int(clock.now)


async def test_basic_auth_without_an_application(
    basic_provider: VonageProvider, recorder: Recorder
) -> None:
    await basic_provider.send(message())
    (request,) = recorder.requests
    assert str(request.url) == "https://api.test/v1/messages"
    expected = Auth(api_key=API_KEY, api_secret=API_SECRET).create_basic_auth_string()
    assert request.headers["authorization"] == expected


async def test_jwt_wins_when_both_are_configured(
    http: httpx.AsyncClient, recorder: Recorder, private_pem: str
) -> None:
    credentials = VonageCredentials(APPLICATION_ID, private_pem, API_KEY, API_SECRET)
    provider = VonageProvider(http, credentials, signature_secret=None)
    await provider.send(message())
    assert recorder.requests[0].headers["authorization"].startswith("Bearer ")
    assert str(recorder.requests[0].url) == "https://api.nexmo.com/v1/messages"


async def test_a_message_that_fails_check_is_never_sent(
    jwt_provider: VonageProvider, recorder: Recorder
) -> None:
    with pytest.raises(SendRejected, match="text"):
        await jwt_provider.send(message("sms", text="x" * 3201))
    assert recorder.requests == []


async def test_aclose_closes_the_client(
    jwt_provider: VonageProvider, http: httpx.AsyncClient
) -> None:
    await jwt_provider.aclose()
    assert http.is_closed
    await jwt_provider.aclose()


# --- answers mapped to the error taxonomy ----------------------------------------------------


def problem(
    status: int, code: str | None, title: str, detail: str, **extra: object
) -> httpx.Response:
    body: dict[str, object] = {"title": title, "detail": detail, "instance": "bf0ca0bf927b"}
    if code is not None:
        body["type"] = f"https://developer.vonage.com/api-errors/messages#{code}"
    return httpx.Response(
        status,
        content=json.dumps({**body, **extra}).encode(),
        headers={"content-type": "application/problem+json"},
    )


@pytest.mark.parametrize(
    ("response", "error", "code", "words"),
    [
        (
            problem(401, None, "Unauthorized", "You did not provide correct credentials."),
            SendAuthFailed,
            "401",
            ["401", "Unauthorized", "correct credentials"],
        ),
        (
            problem(403, "1010", "Forbidden", "Application not provisioned for WhatsApp"),
            SendAuthFailed,
            "1010",
            ["Forbidden", "not provisioned"],
        ),
        (
            httpx.Response(
                402,
                json={
                    "type": "https://developer.vonage.com/api-errors/#low-balance",
                    "title": "Low balance",
                    "detail": "This request could not be performed due to your balance being low.",
                },
            ),
            SendRejected,
            "402",
            ["Low balance", "balance being low"],
        ),
        (
            problem(404, "1080", "Not found", "The requested resource does not exist"),
            SendRejected,
            "1080",
            ["Not found"],
        ),
        (
            problem(
                422,
                "1150",
                "Invalid params",
                "The value of one or more parameters is invalid.",
                invalid_parameters=[
                    {"name": "to", "reason": "Invalid number"},
                    {"name": "text", "reason": "Too long"},
                ],
            ),
            SendRejected,
            "1150",
            ["Invalid params", "one or more parameters", "to, text"],
        ),
        (
            problem(400, "1120", "Invalid sender", "The `from` parameter is invalid."),
            SendRejected,
            "1120",
            ["Invalid sender", "`from` parameter"],
        ),
        (
            problem(500, None, "Internal Error", "Something went wrong."),
            SendOutcomeUnknown,
            "500",
            ["500", "Internal Error"],
        ),
        (
            httpx.Response(502, text="<html>Bad gateway</html>"),
            SendOutcomeUnknown,
            "502",
            ["Bad Gateway"],
        ),
        (
            httpx.Response(503, json={"title": "Service Unavailable"}),
            SendUnavailable,
            "503",
            ["Service Unavailable"],
        ),
    ],
    ids=["401", "403", "402", "404", "422", "400", "500", "502-html", "503"],
)
async def test_error_answers(
    jwt_provider: VonageProvider,
    recorder: Recorder,
    response: httpx.Response,
    error: type[SendError],
    code: str,
    words: list[str],
) -> None:
    recorder.response = response
    with pytest.raises(error) as raised:
        await jwt_provider.send(message())
    assert type(raised.value) is error
    assert raised.value.provider_code == code
    for word in words:
        assert word in str(raised.value)
    assert raised.value.retryable is (error is SendUnavailable)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5", "X-RateLimit-Reset": "99"}, 1.5),
        ({"X-RateLimit-Reset": "3"}, 3.0),
        ({"X-RateLimit-Reset": str(1_790_000_012)}, 12.0),
        ({"X-RateLimit-Reset": str(1_789_999_000)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
async def test_rate_limited(
    jwt_provider: VonageProvider,
    recorder: Recorder,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    recorder.response = httpx.Response(
        429,
        json={"type": "https://developer.vonage.com/api-errors/#throttled", "title": "Throttled"},
        headers={"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", **headers},
    )
    with pytest.raises(SendRateLimited) as raised:
        await jwt_provider.send(message())
    assert raised.value.retry_after == retry_after
    assert raised.value.retryable
    assert raised.value.provider_code == "429"
    assert "Throttled" in str(raised.value)


async def test_rate_limited_with_an_http_date(
    jwt_provider: VonageProvider, recorder: Recorder, clock: FakeClock
) -> None:
    when = datetime.fromtimestamp(clock.now + 30, tz=UTC)
    recorder.response = httpx.Response(
        429, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(SendRateLimited) as raised:
        await jwt_provider.send(message())
    assert raised.value.retry_after == 30.0


@pytest.mark.parametrize(
    "body", [{}, {"message_uuid": ""}, {"message_uuid": None}, {"message_uuid": ["x"]}]
)
async def test_accepted_without_a_uuid_is_an_unknown_outcome(
    jwt_provider: VonageProvider, recorder: Recorder, body: dict[str, object]
) -> None:
    recorder.response = httpx.Response(202, json=body)
    with pytest.raises(SendOutcomeUnknown):
        await jwt_provider.send(message())


async def test_accepted_with_a_non_json_body_is_an_unknown_outcome(
    jwt_provider: VonageProvider, recorder: Recorder
) -> None:
    recorder.response = httpx.Response(202, text="Accepted")
    with pytest.raises(SendOutcomeUnknown):
        await jwt_provider.send(message())


# --- transport failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.PoolTimeout("pool exhausted"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_nothing_sent_is_unavailable(
    jwt_provider: VonageProvider, recorder: Recorder, exc: Exception
) -> None:
    recorder.response = exc
    with pytest.raises(SendUnavailable) as raised:
        await jwt_provider.send(message())
    assert raised.value.retryable
    assert type(exc).__name__ in str(raised.value)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("no answer"),
        httpx.WriteTimeout("slow write"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("server hung up"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_maybe_sent_is_an_unknown_outcome(
    jwt_provider: VonageProvider, recorder: Recorder, exc: Exception
) -> None:
    recorder.response = exc
    with pytest.raises(SendOutcomeUnknown) as raised:
        await jwt_provider.send(message())
    assert not raised.value.retryable
