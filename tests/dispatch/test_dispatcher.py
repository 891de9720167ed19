"""The dispatcher against Plivo's answers (httpx.MockTransport) on a real database."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from textbridge.bootstrap import bootstrap
from textbridge.db.base import utcnow
from textbridge.dispatch.dispatcher import Dispatcher
from textbridge.dispatch.policy import MAX_ATTEMPTS
from textbridge.messaging import outbound, service, status
from textbridge.models import Message
from textbridge.providers.base import MAX_RETRY_AFTER_SECONDS, StatusUpdate
from textbridge.runtime import Runtime, build_runtime

from ..support.database import Database
from ..support.textbridge import settings_for

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakePlivo:
    answers: list[Handler] = field(default_factory=list)
    calls: list[httpx.Request] = field(default_factory=list)
    answered: list[tuple[httpx.Request, int]] = field(default_factory=list)
    """Each request with the status it was answered, in the order the answers left."""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers.pop(0) if self.answers else accepted
        response = answer(request)
        if inspect.isawaitable(response):
            response = await response
        self.answered.append((request, response.status_code))
        return response


def accepted(_: httpx.Request) -> httpx.Response:
    return httpx.Response(
        202,
        json={"api_id": "a", "message": "message(s) queued", "message_uuid": [str(uuid.uuid4())]},
    )


def plivo_error(code: int, text: str, **headers: str) -> Handler:
    return lambda _: httpx.Response(code, json={"api_id": "a", "error": text}, headers=headers)


def raises(error: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return handler


@pytest.fixture
async def plivo(database: Database, tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakePlivo]]:
    fake = FakePlivo()
    settings = settings_for(database.fresh_url(tmp_path), "http://textbridge.test")
    runtime = build_runtime(settings, httpx.MockTransport(fake))
    await bootstrap(runtime)
    yield runtime, fake
    await runtime.aclose()


async def _queue(runtime: Runtime, to: str = "+14155550199") -> uuid.UUID:
    async with runtime.unit_of_work() as uow:
        request = outbound.SendRequest(to=to, text="hello")
        message = await outbound.send(uow, request, None, runtime.providers)
        await uow.commit()
        return message.id


async def _load(runtime: Runtime, message_id: uuid.UUID) -> Message:
    async with runtime.sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def _make_due(runtime: Runtime, message_id: uuid.UUID) -> None:
    async with runtime.sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        message.next_attempt_at = utcnow()
        await session.commit()


async def test_accepted_send_is_submitted(plivo: tuple[Runtime, FakePlivo]) -> None:
    runtime, fake = plivo
    message_id = await _queue(runtime)
    assert await runtime.dispatcher.dispatch_due() == 1
    message = await _load(runtime, message_id)
    assert message.status == status.SUBMITTED
    assert message.provider_message_id
    request = fake.calls[0]
    assert request.url.path.endswith("/Message/")
    assert request.headers["authorization"].startswith("Basic ")
    body = httpx.Response(200, content=request.content).json()
    assert body["dst"] == "14155550199"
    assert body["url"] == f"http://textbridge.test/webhooks/plivo/status?ref={message_id}"


@pytest.mark.parametrize(("code", "error_code"), [(400, "400"), (401, "401"), (404, "404")])
async def test_refusals_fail_without_retry(
    plivo: tuple[Runtime, FakePlivo], code: int, error_code: str
) -> None:
    runtime, fake = plivo
    fake.answers.append(plivo_error(code, "invalid dst"))
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.error_code) == (status.FAILED, error_code)
    assert "invalid dst" in (message.error_message or "")
    assert await runtime.dispatcher.dispatch_due() == 0
    assert len(fake.calls) == 1


async def test_rate_limit_is_retried_after_retry_after(plivo: tuple[Runtime, FakePlivo]) -> None:
    runtime, fake = plivo
    fake.answers.append(plivo_error(429, "too many requests", **{"Retry-After": "30"}))
    message_id = await _queue(runtime)
    before = utcnow()
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert message.status == status.ACCEPTED
    assert message.next_attempt_at is not None
    assert message.next_attempt_at >= before + timedelta(seconds=30)
    assert await runtime.dispatcher.dispatch_due() == 0  # not due yet
    await _make_due(runtime, message_id)
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.attempts) == (status.SUBMITTED, 2)


@pytest.mark.parametrize(
    "failure",
    [plivo_error(503, "down"), raises(httpx.ConnectError), raises(httpx.ConnectTimeout)],
)
async def test_unavailable_is_retried_then_fails(
    plivo: tuple[Runtime, FakePlivo], failure: Handler
) -> None:
    runtime, fake = plivo
    fake.answers.extend([failure] * MAX_ATTEMPTS)
    message_id = await _queue(runtime)
    for _ in range(MAX_ATTEMPTS):
        await _make_due(runtime, message_id)
        await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.attempts) == (status.FAILED, MAX_ATTEMPTS)
    assert len(fake.calls) == MAX_ATTEMPTS


@pytest.mark.parametrize(
    "failure",
    [
        raises(httpx.ReadTimeout),
        raises(httpx.RemoteProtocolError),
        plivo_error(500, "oops"),
        plivo_error(502, "bad gateway"),
        plivo_error(504, "gateway timeout"),
    ],
)
async def test_uncertain_outcome_is_unknown_and_never_resent(
    plivo: tuple[Runtime, FakePlivo], failure: Handler
) -> None:
    runtime, fake = plivo
    fake.answers.append(failure)
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert message.status == status.UNKNOWN
    assert len(fake.calls) == 1


async def test_an_expired_lease_becomes_unknown_on_any_pass(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """A process died mid-send and another (or the same, restarted within the lease) runs on:
    its next ordinary pass recovers the lease, not only a start-up."""
    runtime, fake = plivo
    message_id = await _queue(runtime)
    async with runtime.unit_of_work() as uow:
        message = await uow.session.get(Message, message_id)
        assert message is not None
        await service.set_status(
            uow, message, status.SENDING, lease_expires_at=utcnow() - timedelta(seconds=1)
        )
        await uow.commit()
    assert await runtime.dispatcher.dispatch_due() == 0
    message = await _load(runtime, message_id)
    assert (message.status, message.lease_expires_at) == (status.UNKNOWN, None)
    assert fake.calls == []


@pytest.mark.parametrize("retry_after", ["1e300", "inf", "99999999999"])
async def test_a_huge_retry_after_is_bounded(
    plivo: tuple[Runtime, FakePlivo], retry_after: str
) -> None:
    runtime, fake = plivo
    fake.answers.append(plivo_error(429, "slow down", **{"Retry-After": retry_after}))
    message_id = await _queue(runtime)
    before = utcnow()
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert message.status == status.ACCEPTED
    assert message.next_attempt_at is not None
    wait = message.next_attempt_at - before
    assert timedelta(seconds=MAX_RETRY_AFTER_SECONDS) <= wait
    assert wait <= timedelta(seconds=MAX_RETRY_AFTER_SECONDS + 60)


async def test_a_failure_while_recording_stays_with_its_message(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """The provider answers the same id for two messages: recording the second breaks a
    unique constraint. The first is submitted; the second becomes `unknown` (the provider has
    it), and the pass goes on."""
    runtime, fake = plivo
    same_id = str(uuid.uuid4())
    fake.answers.extend([_accepted_as(same_id)] * 2)
    first, second = await _queue(runtime), await _queue(runtime, "+14155550198")
    assert await runtime.dispatcher.dispatch_due() == 2
    messages = [await _load(runtime, message_id) for message_id in (first, second)]
    assert sorted(message.status for message in messages) == [status.SUBMITTED, status.UNKNOWN]
    unknown = next(message for message in messages if message.status == status.UNKNOWN)
    assert unknown.lease_expires_at is None
    assert same_id in (unknown.error_message or "")
    assert await runtime.dispatcher.dispatch_due() == 0
    assert len(fake.calls) == 2


async def test_a_failure_before_the_call_is_retried_then_failed(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    """A stored message that cannot even be turned into a request (here a payload an older
    version could have written) is retried with backoff, alone; its batch goes on."""
    runtime, fake = plivo
    broken, fine = await _queue(runtime), await _queue(runtime, "+14155550198")
    async with runtime.sessions() as session:
        message = await session.get(Message, broken)
        assert message is not None
        message.payload = {"location": {"lat": 1}}
        await session.commit()
    assert await runtime.dispatcher.dispatch_due() == 2
    assert (await _load(runtime, fine)).status == status.SUBMITTED
    message = await _load(runtime, broken)
    assert (message.status, message.attempts) == (status.ACCEPTED, 1)
    assert message.next_attempt_at is not None
    assert message.next_attempt_at > utcnow()
    assert "before the provider call" in (message.error_message or "")
    for _ in range(MAX_ATTEMPTS - 1):
        await _make_due(runtime, broken)
        await runtime.dispatcher.dispatch_due()
    assert (await _load(runtime, broken)).status == status.FAILED
    assert len(fake.calls) == 1


async def test_a_provider_call_is_bounded_by_the_lease(plivo: tuple[Runtime, FakePlivo]) -> None:
    """A live dispatcher records its own outcome before its lease can expire."""
    runtime, fake = plivo

    async def never_answers(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    fake.answers.append(never_answers)  # type: ignore[arg-type]
    dispatcher = Dispatcher(
        runtime.sessions,
        runtime.bus,
        runtime.providers,
        lambda message: f"http://textbridge.test/webhooks/plivo/status?ref={message.id}",
        lease=timedelta(seconds=2),
    )
    message_id = await _queue(runtime)
    await asyncio.wait_for(dispatcher.dispatch_due(), timeout=30)
    message = await _load(runtime, message_id)
    assert (message.status, message.lease_expires_at) == (status.UNKNOWN, None)
    assert "no answer within 1 s" in (message.error_message or "")


def _accepted_as(provider_id: str) -> Handler:
    body = {"api_id": "a", "message": "message(s) queued", "message_uuid": [provider_id]}
    return lambda _: httpx.Response(202, json=body)


async def test_a_callback_before_the_answer_is_kept(plivo: tuple[Runtime, FakePlivo]) -> None:
    """The provider calls back (naming our message by its reference) before it answers the
    send: the callback's status stands, and the send's answer only adds what is missing."""
    runtime, fake = plivo
    provider_id = str(uuid.uuid4())

    async def calls_back_first(request: httpx.Request) -> httpx.Response:
        reference = _ref_of(request)
        async with runtime.unit_of_work() as uow:
            update = StatusUpdate("plivo", provider_id, "sent", client_ref=reference)
            assert await service.apply_status(uow, update, status.SENT)
            await uow.commit()
        return httpx.Response(202, json={"message_uuid": [provider_id]})

    fake.answers.append(calls_back_first)  # type: ignore[arg-type]
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    message = await _load(runtime, message_id)
    assert (message.status, message.provider_message_id) == (status.SENT, provider_id)
    assert message.lease_expires_at is None


def _ref_of(request: httpx.Request) -> str:
    callback = httpx.URL(httpx.Response(200, content=request.content).json()["url"])
    return str(callback.params["ref"])


async def test_an_unknown_outcome_is_settled_by_a_later_callback(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    runtime, fake = plivo
    fake.answers.append(raises(httpx.ReadTimeout))
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    assert (await _load(runtime, message_id)).status == status.UNKNOWN
    async with runtime.unit_of_work() as uow:
        update = StatusUpdate("plivo", "pv-123", "delivered", client_ref=str(message_id))
        assert await service.apply_status(uow, update, status.DELIVERED)
        await uow.commit()
    message = await _load(runtime, message_id)
    assert (message.status, message.provider_message_id) == (status.DELIVERED, "pv-123")
    assert len(fake.calls) == 1


async def test_a_reference_to_another_send_is_not_trusted(
    plivo: tuple[Runtime, FakePlivo],
) -> None:
    runtime, _ = plivo
    message_id = await _queue(runtime)
    await runtime.dispatcher.dispatch_due()
    async with runtime.unit_of_work() as uow:
        update = StatusUpdate("plivo", "someone-else", "delivered", client_ref=str(message_id))
        with pytest.raises(service.UnknownMessage):
            await service.apply_status(uow, update, status.DELIVERED)
    assert (await _load(runtime, message_id)).status == status.SUBMITTED
