"""Port choice, the pure part: defaults, free ports, exact requests, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lais_agent.errors import Busy, InvalidArgs
from lais_agent.state.ports import FREE_RANGE, PortBinding, PortRequest, PortTaken, pick_ports


def test_the_free_range_is_below_the_kernels_ephemeral_ports() -> None:
    assert FREE_RANGE.start >= 10000
    assert FREE_RANGE.stop <= 32768


def test_defaults_when_free() -> None:
    assert pick_ports("m", [PortRequest("http", 8080), PortRequest("dns", 53, "udp")], []) == (
        PortBinding("http", 8080, "tcp"),
        PortBinding("dns", 53, "udp"),
    )


def test_a_taken_default_gets_the_lowest_free_port() -> None:
    taken = [(8080, "tcp"), (30000, "tcp")]
    assert pick_ports("m", [PortRequest("http", 8080)], taken) == (
        PortBinding("http", 30001, "tcp"),
    )
    # another protocol is another socket
    assert pick_ports("m", [PortRequest("http", 8080, "udp")], taken) == (
        PortBinding("http", 8080, "udp"),
    )


def test_no_default_gets_a_free_port_and_requests_do_not_collide() -> None:
    chosen = pick_ports(
        "m", [PortRequest("a", None), PortRequest("b", 30000), PortRequest("c", 8080)], []
    )
    assert chosen == (
        PortBinding("a", 30000, "tcp"),
        PortBinding("b", 30001, "tcp"),
        PortBinding("c", 8080, "tcp"),
    )


def test_an_exact_port_is_that_port_or_an_error() -> None:
    assert pick_ports("m", [PortRequest("http", 9000, exact=True)], [(8080, "tcp")]) == (
        PortBinding("http", 9000, "tcp"),
    )
    with pytest.raises(PortTaken) as caught:
        pick_ports(
            "m",
            [PortRequest("http", 8080, exact=True)],
            [(8080, "tcp")],
            owners={(8080, "tcp"): "a"},
        )
    assert str(caught.value) == "tcp port 8080 for m (http) is in use by a"
    assert isinstance(caught.value, Busy)
    assert caught.value.hint == "choose another port, or leave it unset to get a free one"
    with pytest.raises(PortTaken, match=r"^tcp port 8080 for m \(http\) is in use$"):
        pick_ports("m", [PortRequest("http", 8080, exact=True)], [(8080, "tcp")])


def test_a_full_range_is_an_error() -> None:
    with pytest.raises(PortTaken, match=r"no free tcp port for m \(http\) in 5000-5001"):
        pick_ports(
            "m",
            [PortRequest("http", 80)],
            [(80, "tcp"), (5000, "tcp"), (5001, "tcp")],
            free_range=range(5000, 5002),
        )


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_default_outside_the_port_numbers_is_refused(port: int) -> None:
    with pytest.raises(InvalidArgs, match=f"port {port} of m"):
        pick_ports("m", [PortRequest("http", port)], [])


def test_a_port_name_twice_is_refused() -> None:
    with pytest.raises(InvalidArgs, match="declares a port name twice"):
        pick_ports("m", [PortRequest("http", 1), PortRequest("http", 2)], [])


@given(
    requests=st.lists(
        st.builds(
            PortRequest,
            name=st.uuids().map(str),
            default=st.one_of(st.none(), st.integers(1, 12)),
            protocol=st.sampled_from(["tcp", "udp"]),
        ),
        max_size=12,
    ),
    taken=st.sets(st.tuples(st.integers(1, 12), st.sampled_from(["tcp", "udp"]))),
)
def test_chosen_ports_are_never_taken_nor_shared(
    requests: list[PortRequest], taken: set[tuple[int, str]]
) -> None:
    # 39 ports, at most 12 taken per protocol, 12 requests: never exhausted
    chosen = pick_ports("m", requests, taken, free_range=range(1, 40))
    pairs = [(b.port, b.protocol) for b in chosen]
    assert len(pairs) == len(set(pairs))
    assert not set(pairs) & taken
    for i, (request, binding) in enumerate(zip(requests, chosen, strict=True)):
        assert binding.name == request.name
        wanted = (request.default, request.protocol)
        if request.default is not None and wanted not in taken and wanted not in pairs[:i]:
            assert binding.port == request.default
