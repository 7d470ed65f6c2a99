"""The one error vocabulary of LocalAIStack.

Every failure a person or a program may need to act on is a ``LaisError``
subclass with a stable kebab-case ``code``, a D-Bus error name under
``org.localaistack.Agent1.Error.`` and a laisctl exit code. The agent turns
them into D-Bus errors; laisctl turns D-Bus errors back into them and exits
with ``exit_code``. Any other exception is a bug: callers see ``Failed`` with no
details, the details go to the log.

This module is imported by laisctl on its start-up path: stdlib only.
"""

from __future__ import annotations

from typing import ClassVar

from lais_agent.names import ERROR_PREFIX

# laisctl exit codes (documented in docs/laisctl.md). 2 is click's usage error.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_NOT_AUTHORIZED = 4
EXIT_UNAVAILABLE = 5
EXIT_BUSY = 6
EXIT_TIMEOUT = 7
EXIT_INVALID_CONFIG = 8
EXIT_WRONG_STATE = 9


class LaisError(Exception):
    """Base class: an error with a stable code, D-Bus name and exit code."""

    code: ClassVar[str] = "failed"
    dbus_suffix: ClassVar[str] = "Failed"
    exit_code: ClassVar[int] = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @classmethod
    def dbus_name(cls) -> str:
        return f"{ERROR_PREFIX}.{cls.dbus_suffix}"

    def __str__(self) -> str:
        return self.message


class Failed(LaisError):
    """Something went wrong inside the agent; the journal has the details."""


class InvalidArgs(LaisError):
    code = "invalid-args"
    dbus_suffix = "InvalidArgs"
    exit_code = EXIT_USAGE


class NotFound(LaisError):
    code = "not-found"
    dbus_suffix = "NotFound"
    exit_code = EXIT_NOT_FOUND


class NotAuthorized(LaisError):
    code = "not-authorized"
    dbus_suffix = "NotAuthorized"
    exit_code = EXIT_NOT_AUTHORIZED


class Unavailable(LaisError):
    """The agent (or a service it needs) cannot be reached."""

    code = "unavailable"
    dbus_suffix = "Unavailable"
    exit_code = EXIT_UNAVAILABLE


class Busy(LaisError):
    code = "busy"
    dbus_suffix = "Busy"
    exit_code = EXIT_BUSY


class TimedOut(LaisError):
    code = "timed-out"
    dbus_suffix = "TimedOut"
    exit_code = EXIT_TIMEOUT


class InvalidConfig(LaisError):
    """A configuration, policy or manifest file is invalid; the message names file and line."""

    code = "invalid-config"
    dbus_suffix = "InvalidConfig"
    exit_code = EXIT_INVALID_CONFIG


class IllegalTransition(LaisError):
    """A module cannot go from the state it is in to the one asked for (stop a module that
    is not running, uninstall a running one). Nothing was changed; the message names the
    module and both states, the hint what to do first."""

    code = "illegal-transition"
    dbus_suffix = "IllegalTransition"
    exit_code = EXIT_WRONG_STATE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        module: str | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.module = module
        self.from_state = from_state
        self.to_state = to_state


# How a hint travels in a D-Bus error's text: after the message, on a line of its own,
# so busctl shows both and laisctl can print the hint as its "hint:" line.
HINT_SEPARATOR = "\nhint: "


def error_text(error: LaisError) -> str:
    return error.message if error.hint is None else error.message + HINT_SEPARATOR + error.hint


ERROR_TYPES: tuple[type[LaisError], ...] = (
    Failed,
    InvalidArgs,
    NotFound,
    NotAuthorized,
    Unavailable,
    Busy,
    TimedOut,
    InvalidConfig,
    IllegalTransition,
)

_BY_DBUS_NAME = {cls.dbus_name(): cls for cls in ERROR_TYPES}


def from_dbus_name(name: str | None, message: str) -> LaisError:
    """The LaisError for a D-Bus error name of ours (``Failed`` for any other name), with
    the hint split off the text again."""
    cls = _BY_DBUS_NAME.get(name or "", Failed)
    text, sep, hint = message.partition(HINT_SEPARATOR)
    return cls(text, hint=hint if sep else None)
