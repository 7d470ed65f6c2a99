"""Who is calling: set by the gate for the duration of one authorized call.

dbus-fast's service methods cannot see their message. The gate knows the
sender and its uid once it has authorized a call; it sets this context
variable around the re-dispatch, and asyncio copies it into the task that runs
an ``async def`` method. Methods that record who did something read it here.
"""

from __future__ import annotations

import pwd
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    sender: str
    uid: int

    @property
    def user(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"


CURRENT_CALLER: ContextVar[Caller | None] = ContextVar("lais_caller", default=None)


def current_caller() -> Caller:
    caller = CURRENT_CALLER.get()
    if caller is None:  # a method that records its caller was reached without the gate
        raise RuntimeError("no caller context: this method must be dispatched by the gate")
    return caller
