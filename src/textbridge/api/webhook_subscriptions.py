"""Outbound webhook subscriptions (admin): create (its signing secret shown in that answer
only), list, change, delete, rotate the secret; each one's delivery log, and the replay of a
delivery."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from textbridge.api.deps import AdminDep, RuntimeDep, UowDep, client_address
from textbridge.api.errors import ApiError
from textbridge.api.schemas import storable
from textbridge.audit import log as audit
from textbridge.auth.principal import Principal
from textbridge.db.base import utcnow
from textbridge.db.uow import UnitOfWork
from textbridge.models import WebhookDelivery, WebhookSubscription
from textbridge.runtime import Runtime
from textbridge.webhooks_out import signing
from textbridge.webhooks_out.urls import url_problem

router = APIRouter(prefix="/webhook-subscriptions", tags=["webhooks"])

EventType = Literal["message.created", "message.status", "conversation.updated"]
Url = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000, strip_whitespace=True),
    AfterValidator(storable),
]
Description = Annotated[
    str, StringConstraints(max_length=200, strip_whitespace=True), AfterValidator(storable)
]
DeliveryStatus = Literal["pending", "delivered", "dead"]
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="https only (http to a loopback receiver in sandbox mode).")
    event_types: list[EventType] = Field(min_length=1, max_length=3)
    enabled: bool = True
    description: Description | None = None


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=3)
    enabled: bool | None = None
    description: Description | None = None


class RotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        86400,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="How long deliveries stay signed with the old secret too (0: stop now).",
    )


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[str]
    enabled: bool
    description: str | None
    created_at: datetime
    rotation_overlap_until: datetime | None = Field(
        description="Until then, deliveries carry a second signature, made with the secret "
        "before the last rotation."
    )

    @classmethod
    def of(cls, row: WebhookSubscription) -> SubscriptionOut:
        overlap_until = row.previous_secret_expires_at
        return cls(
            id=row.id,
            url=row.url,
            event_types=row.event_types.split(),
            enabled=row.enabled,
            description=row.description,
            created_at=row.created_at,
            rotation_overlap_until=overlap_until if _in_future(overlap_until) else None,
        )


class CreatedSubscriptionOut(SubscriptionOut):
    secret: str = Field(
        description="The signing secret (`whsec_...`): shown in this answer only, never again."
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=row.id,
            webhook_id=signing.webhook_id(row.id),
            event_type=row.event_type,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            payload=row.payload,
        )


@router.get("", response_model=list[SubscriptionOut])
async def list_subscriptions(uow: UowDep, _: AdminDep) -> list[SubscriptionOut]:
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    return [SubscriptionOut.of(row) for row in await uow.session.scalars(query)]


@router.post("", status_code=201, response_model=CreatedSubscriptionOut)
async def create_subscription(
    body: SubscriptionIn, uow: UowDep, runtime: RuntimeDep, request: Request, caller: AdminDep
) -> CreatedSubscriptionOut:
    _check_url(body.url, runtime)
    row = WebhookSubscription(
        url=body.url,
        event_types=_types_text(body.event_types),
        secret=signing.new_secret(),
        enabled=body.enabled,
        description=body.description,
    )
    uow.session.add(row)
    await uow.session.flush()
    await _audit(uow, caller, request, "webhook_subscription.create", row)
    await uow.commit()
    return CreatedSubscriptionOut(secret=row.secret, **SubscriptionOut.of(row).model_dump())


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(subscription_id: uuid.UUID, uow: UowDep, _: AdminDep) -> SubscriptionOut:
    return SubscriptionOut.of(await _subscription(uow, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionOut)
async def change_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionPatch,
    uow: UowDep,
    runtime: RuntimeDep,
    request: Request,
    caller: AdminDep,
) -> SubscriptionOut:
    row = await _subscription(uow, subscription_id)
    if body.url is not None:
        _check_url(body.url, runtime)
        row.url = body.url
    if body.event_types is not None:
        row.event_types = _types_text(body.event_types)
    if body.enabled is not None:
        row.enabled = body.enabled
    if "description" in body.model_fields_set:
        row.description = body.description
    await _audit(uow, caller, request, "webhook_subscription.update", row)
    await uow.commit()
    if row.enabled and runtime.hooks is not None:
        runtime.hooks.wake()  # what waited while it was disabled
    return SubscriptionOut.of(row)


@router.post("/{subscription_id}/rotate-secret", response_model=CreatedSubscriptionOut)
async def rotate_secret(
    subscription_id: uuid.UUID,
    uow: UowDep,
    request: Request,
    caller: AdminDep,
    body: RotationIn | None = None,
) -> CreatedSubscriptionOut:
    """A new signing secret, shown in this answer only. The old one keeps signing too (a
    second signature in `webhook-signature`) for `overlap_seconds`, so the receiver can switch
    without refusing a delivery; a rotation during an overlap ends the older secret at once."""
    overlap = timedelta(seconds=(body or RotationIn()).overlap_seconds)
    row = await _subscription(uow, subscription_id, for_update=True)
    row.previous_secret = row.secret if overlap else None
    row.previous_secret_expires_at = utcnow() + overlap if overlap else None
    row.secret = signing.new_secret()
    await _audit(uow, caller, request, "webhook_subscription.rotate_secret", row)
    await uow.commit()
    return CreatedSubscriptionOut(secret=row.secret, **SubscriptionOut.of(row).model_dump())


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(
    subscription_id: uuid.UUID, uow: UowDep, request: Request, caller: AdminDep
) -> Response:
    row = await _subscription(uow, subscription_id)
    await _audit(uow, caller, request, "webhook_subscription.delete", row)
    await uow.session.delete(row)
    await uow.commit()
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    subscription_id: uuid.UUID,
    uow: UowDep,
    _: AdminDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryOut]:
    await _subscription(uow, subscription_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return [DeliveryOut.of(row) for row in await uow.session.scalars(query)]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryOut,
)
async def replay_delivery(
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    uow: UowDep,
    runtime: RuntimeDep,
    request: Request,
    caller: AdminDep,
) -> DeliveryOut:
    """Send it again, with the same `webhook-id`, and a fresh set of attempts."""
    row = await uow.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None or row.subscription_id != subscription_id:
        raise ApiError(404, "not_found", f"no delivery {delivery_id} for this subscription")
    if row.status == "pending" and row.attempts > 0 and _leased(row):
        raise ApiError(409, "in_flight", "that delivery is being attempted right now")
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.last_error = None
    row.delivered_at = None
    await audit.record(
        uow.session,
        actor=caller.actor,
        action="webhook_delivery.replay",
        target=str(row.id),
        origin=client_address(request),
        detail={"subscription_id": str(subscription_id)},
    )
    await uow.commit()
    if runtime.hooks is not None:
        runtime.hooks.wake()
    return DeliveryOut.of(row)


def _in_future(moment: datetime | None) -> bool:
    return moment is not None and moment > utcnow()


def _leased(row: WebhookDelivery) -> bool:
    return row.next_attempt_at is not None and row.next_attempt_at > utcnow()


def _types_text(event_types: list[EventType]) -> str:
    return " ".join(sorted(set(event_types)))


def _check_url(url: str, runtime: Runtime) -> None:
    problem = url_problem(url, sandbox=runtime.settings.sandbox)
    if problem is not None:
        raise ApiError(422, "invalid_url", problem, field="url")


async def _subscription(
    uow: UnitOfWork, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    row = await uow.session.get(WebhookSubscription, subscription_id, with_for_update=for_update)
    if row is None:
        raise ApiError(404, "not_found", f"no webhook subscription {subscription_id}")
    return row


async def _audit(
    uow: UnitOfWork, caller: Principal, request: Request, action: str, row: WebhookSubscription
) -> None:
    # The host only: a customer's URL may carry a token in its path or query.
    detail: dict[str, Any] = {
        "host": urlsplit(row.url).hostname,
        "event_types": row.event_types.split(),
        "enabled": row.enabled,
    }
    await audit.record(
        uow.session,
        actor=caller.actor,
        action=action,
        target=str(row.id),
        origin=client_address(request),
        detail=detail,
    )
