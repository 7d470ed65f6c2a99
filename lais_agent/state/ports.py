"""Port choice for a module's declared ports. Pure: what is taken is a parameter.

Each port a manifest declares gets its default unless that is taken (by another module, by
an earlier port of the same request, or by whatever else the caller knows listens on the
host), else the lowest free port of ``FREE_RANGE``. A port the caller insists on
(``exact``, e.g. a ``port`` setting the user chose) is that port or an error, never
another. Ports are taken per protocol: tcp/8080 and udp/8080 are different sockets. The
state database holds the same rule as a UNIQUE constraint, so two modules never share a
port even if a caller skips this function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lais_agent.errors import Busy, InvalidArgs

Protocol = Literal["tcp", "udp"]

# Where ports are found when a default is taken: below Linux's ephemeral range
# (net.ipv4.ip_local_port_range starts at 32768), so the kernel never hands one of them
# to an outgoing connection, and above the 8000-9999 band where services' defaults sit.
FREE_RANGE = range(30000, 32768)


@dataclass(frozen=True)
class PortRequest:
    name: str  # the manifest's port name, e.g. "http"
    default: int | None  # the manifest's port, or None for "any free one"
    protocol: Protocol = "tcp"
    exact: bool = False  # the default or an error, never another port


@dataclass(frozen=True)
class PortBinding:
    name: str
    port: int
    protocol: Protocol


class PortTaken(Busy):
    """A port asked for exactly is in use, or no port of the range is free."""

    code = "port-taken"


def pick_ports(
    module: str,
    requests: Sequence[PortRequest],
    taken: Iterable[tuple[int, str]],
    free_range: range = FREE_RANGE,
    owners: dict[tuple[int, str], str] | None = None,
) -> tuple[PortBinding, ...]:
    """One binding per request, in order, none of them in ``taken`` (pairs of port and
    protocol) nor shared with another. ``owners`` names who holds a taken port, for the
    error text."""
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise InvalidArgs(f"module {module} declares a port name twice: {names}")
    used = set(taken)
    owners = owners or {}
    chosen: list[PortBinding] = []
    for request in requests:
        if request.default is not None and not 1 <= request.default <= 65535:
            raise InvalidArgs(f"port {request.default} of {module} is not in 1-65535")
        port = request.default
        if port is None or (port, request.protocol) in used:
            if request.exact and port is not None:
                holder = owners.get((port, request.protocol))
                raise PortTaken(
                    f"{request.protocol} port {port} for {module} ({request.name}) is in use"
                    + (f" by {holder}" if holder else ""),
                    hint="choose another port, or leave it unset to get a free one",
                )
            port = next((p for p in free_range if (p, request.protocol) not in used), None)
            if port is None:
                raise PortTaken(
                    f"no free {request.protocol} port for {module} ({request.name}) in "
                    f"{free_range.start}-{free_range.stop - 1}",
                    hint="uninstall a module you no longer need, or set the port by hand",
                )
        used.add((port, request.protocol))
        chosen.append(PortBinding(request.name, port, request.protocol))
    return tuple(chosen)
