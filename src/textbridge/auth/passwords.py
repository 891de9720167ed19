"""Inbox passwords: argon2id (argon2-cffi, RFC 9106's low-memory profile, its default).

Hashing costs tens of milliseconds of CPU and 64 MiB: `verify_soon` and `hash_soon` run it in
a thread (argon2 releases the GIL), never on the event loop, and at most `AT_ONCE` at a time,
so that a burst of sign-ins can neither stall the API nor exhaust memory."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this only bounds the work a request can ask for

T = TypeVar("T")
AT_ONCE = 2
_turns = threading.BoundedSemaphore(AT_ONCE)  # a thread's, so any event loop may wait on it


@cache
def _decoy() -> str:
    """A user that does not exist is checked against this, so that an unknown name takes as
    long to refuse as a wrong password (no telling names apart by the time taken)."""
    return _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user), the same work and False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _decoy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def problem(password: str) -> str | None:
    """Why this password cannot be set, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def _in_turn(work: Callable[[], T]) -> T:
    with _turns:
        return work()


async def verify_soon(password_hash: str | None, password: str) -> bool:
    """`verify`, in a thread, waiting its turn."""
    return await asyncio.to_thread(_in_turn, lambda: verify(password_hash, password))


async def hash_soon(password: str) -> str:
    """`hash_password`, in a thread, waiting its turn."""
    return await asyncio.to_thread(_in_turn, lambda: hash_password(password))
