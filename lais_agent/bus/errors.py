"""LaisError -> D-Bus error replies, in one decorator used by every method.

LaisError subclasses keep their message. Any other exception is a bug: it is
logged with its traceback and the caller gets ``...Error.Failed`` without
details (no paths, no exception text).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from dbus_fast import DBusError

from lais_agent.errors import Failed, LaisError, error_text

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

INTERNAL_ERROR_TEXT = "internal error in lais-agent; details are in `journalctl -u lais-agent`"


def as_dbus_error(exc: LaisError) -> DBusError:
    return DBusError(exc.dbus_name(), error_text(exc))


def _translated(exc: Exception, where: str) -> DBusError:
    if isinstance(exc, DBusError):
        return exc
    if isinstance(exc, LaisError):
        return as_dbus_error(exc)
    logger.error("%s failed", where, exc_info=exc)
    return DBusError(Failed.dbus_name(), INTERNAL_ERROR_TEXT)


def translate_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """For ``async def`` members."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure must become a D-Bus error
            raise _translated(exc, fn.__qualname__) from None

    return wrapper


def translate_errors_sync(fn: Callable[P, R]) -> Callable[P, R]:
    """For plain ``def`` members: they answer without a task, for the hot read paths."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure must become a D-Bus error
            raise _translated(exc, fn.__qualname__) from None

    return wrapper
