from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, Identity, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from textbridge.db.base import Base

_FRESH = "fresh"
COVERED = (
    "direction",
    "channel",
    "provider",
    "our_address",
    "status",
    "error_code",
    "price",
    "messages",
)


class HourlyCounts:
    """What the two hourly count tables share: rows written only by the triggers on `messages`
    (+n or -n, `fresh`) and folded by `analytics.rollup.compact`, so the count of a group is
    the sum of its rows (see `analytics/rollup.py`). Each table has an index for the reports
    (`ix_<table>_hour`: the hour, then `REPORTED`) and one for the compactor, which reads the
    fresh rows by hour (`ix_<table>_fresh_hour`, partial).

    `sort_order` keeps the columns where the migrations put them: `id` and `hour` first,
    `fresh` last."""

    __tablename__: str
    REPORTED: ClassVar[tuple[str, ...]]
    """The columns after `hour` in the reports' index (a report reads from it alone)."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True, sort_order=-2
    )
    hour: Mapped[int] = mapped_column(BigInteger, sort_order=-1)
    """Hours since 1970-01-01 00:00 UTC of the messages' `created_at`."""
    fresh: Mapped[bool] = mapped_column(sort_order=1)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:
        return (
            Index(f"ix_{cls.__tablename__}_hour", "hour", *cls.REPORTED),
            Index(
                f"ix_{cls.__tablename__}_fresh_hour",
                "hour",
                postgresql_where=text(_FRESH),
                sqlite_where=text(_FRESH),
            ),
        )


class MessageCount(HourlyCounts, Base):
    """How many messages of one UTC hour (`created_at`) have these dimensions now (a row per
    change, folded into one row per hour and dimensions; `HourlyCounts`). The reports read a
    range of hours from `ix_message_counts_hour` alone (error texts aside)."""

    __tablename__ = "message_counts"
    REPORTED = COVERED

    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    our_address: Mapped[str] = mapped_column(String(140))
    """The sender's `from` for outbound messages, the `to` for inbound ones."""
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(32))
    """Only for failed messages (the failures report)."""
    error_message: Mapped[str | None] = mapped_column(String(500))
    price: Mapped[str | None] = mapped_column(String(20))
    """Only for outbound messages (the cost report)."""
    messages: Mapped[int] = mapped_column(BigInteger)


class MessageTotal(Base):
    """All messages by direction, provider, channel and status (the `/metrics` gauge), moved
    only by `analytics.rollup.compact` with the fresh rows it folds: together with the fresh
    `message_counts` rows, the count of every message."""

    __tablename__ = "message_totals"

    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger)


class DeliveryTimeCount(HourlyCounts, Base):
    """How many outbound messages of one UTC hour (`created_at`), channel, provider and sender
    took a time to delivered in one bucket (`DeliveryTimeBucket`): +1/-1 rows, folded with
    the message counts (`HourlyCounts`)."""

    __tablename__ = "delivery_time_counts"
    REPORTED = ("channel", "provider", "our_address", "bucket", "messages")

    channel: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    our_address: Mapped[str] = mapped_column(String(140))
    """The message's `from` (outbound only)."""
    bucket: Mapped[int] = mapped_column(SmallInteger)
    messages: Mapped[int] = mapped_column(BigInteger)


class MessageBlockCount(Base):
    """The folded counts (`MessageCount`, rows not `fresh`) of the 24 UTC hours from
    `start_hour`, by the same dimensions ('' for none in the texts): a local day of 24 hours
    in one row per dimensions. Each of the 24 blocks an hour falls in gets the fresh rows
    folded: on PostgreSQL by an AFTER DELETE trigger on `message_counts` (migration
    a109c9a9a109), whoever deletes them; on SQLite by `analytics.rollup.compact`."""

    __tablename__ = "message_block_counts"

    start_hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    our_address: Mapped[str] = mapped_column(String(140), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    error_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    error_message: Mapped[str] = mapped_column(String(500), primary_key=True)
    price: Mapped[str] = mapped_column(String(20), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger)


class DeliveryTimeBlockCount(Base):
    """The folded histogram (`DeliveryTimeCount`) of the 24 UTC hours from `start_hour`, as
    `MessageBlockCount` is to the message counts."""

    __tablename__ = "delivery_time_block_counts"

    start_hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    our_address: Mapped[str] = mapped_column(String(140), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    messages: Mapped[int] = mapped_column(BigInteger)


class DeliveryTimeBucket(Base):
    """The histogram's buckets: a time of `lower_ms` milliseconds or more (and less than the
    next bucket's) falls in `bucket`. Filled once by its migration (`DELIVERY_TIME_BOUNDS`)."""

    __tablename__ = "delivery_time_buckets"
    __table_args__ = (Index("ix_delivery_time_buckets_lower_ms", "lower_ms", "bucket"),)

    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    lower_ms: Mapped[int] = mapped_column(BigInteger)


DELIVERY_TIME_BOUNDS = tuple(sorted({0} | {round(2 ** (k / 8)) for k in range(257)}))
"""The buckets' lower bounds (ms), bucket n at index n: each at most 9 % wider than its
lower bound, up to 2 ** 32 ms (49.7 days); longer times fall in the last."""
