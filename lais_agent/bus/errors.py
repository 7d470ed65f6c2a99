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

from lais_agent.errors import Failed, LaisError

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

INTERNAL_ERROR_TEXT = "internal error in lais-agent; details are in `journalctl -u lais-agent`"


def as_dbus_error(exc: LaisError) -> DBusError:
    text = exc.message if exc.hint is None else f"{exc.message} ({exc.hint})"
    return DBusError(exc.dbus_name(), text)


def translate_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DBusError:
            raise
        except LaisError as exc:
            raise as_dbus_error(exc) from None
        except Exception:
            logger.exception("%s failed", fn.__qualname__)
            raise DBusError(Failed.dbus_name(), INTERNAL_ERROR_TEXT) from None

    return wrapper
