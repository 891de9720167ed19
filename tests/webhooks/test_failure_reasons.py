"""What the applier stores and logs about a failure: short, storable, without the SQL, its
parameters or a secret; and a backoff that doubles, jitters and stops growing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from textbridge.logging import register_secret
from textbridge.webhooks.applier import RetryPolicy
from textbridge.webhooks.journal import describe_failure, storable


def test_a_database_error_is_described_by_the_driver_without_sql_or_parameters() -> None:
    driver = ValueError('null value in column "phone" violates not-null constraint')
    error = IntegrityError("INSERT INTO contacts (phone) VALUES ($1)", ("secret text",), driver)
    reason = describe_failure(error)
    assert reason == 'ValueError: null value in column "phone" violates not-null constraint'


def test_a_reason_is_one_short_storable_line_without_secrets() -> None:
    register_secret("s3cr3t-token-value")
    reason = describe_failure(RuntimeError("bad \x00 \ud800 s3cr3t-token-value " + "x" * 500))
    assert reason.startswith("RuntimeError: bad \\x00 \\ud800 [redacted] ")
    assert len(reason) < 260
    reason.encode("utf-8")  # no lone surrogate left
    assert describe_failure(KeyError()) == "KeyError"
    assert describe_failure(RuntimeError("first line\nsecond line")) == "RuntimeError: first line"
    assert storable("plain") == "plain"


def test_backoff_doubles_with_jitter_up_to_its_ceiling() -> None:
    policy = RetryPolicy(timedelta(seconds=1), timedelta(seconds=10), attempts=10)
    ceilings = [policy.ceiling(n).total_seconds() for n in range(1, 7)]
    assert ceilings == [1, 2, 4, 8, 10, 10]
    for failures in range(1, 7):
        delays = {policy.delay(failures) for _ in range(50)}
        assert all(policy.ceiling(failures) / 2 <= d <= policy.ceiling(failures) for d in delays)
        assert len(delays) > 1  # jittered
