"""Dataclass -> ``a{sv}`` conversion: the only place Variants are built.

The D-Bus type of every key follows from the dataclass field's annotation, so a
key keeps its type whatever its value (an empty list is still ``as``):

=====================  ==========
Python annotation      D-Bus type
=====================  ==========
str                    s
int                    x
float                  d
bool                   b
tuple[str, ...]        as
dataclass              a{sv}
tuple[dataclass, ...]  aa{sv}
dict[str, float]       a{sd}
X | None               X; the key is absent when the value is None
=====================  ==========
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from dbus_fast import Variant

_SCALARS: dict[Any, str] = {str: "s", int: "x", float: "d", bool: "b"}


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def signature_of(tp: Any) -> str:
    tp = _strip_optional(tp)
    if tp in _SCALARS:
        return _SCALARS[tp]
    if dataclasses.is_dataclass(tp):
        return "a{sv}"
    if typing.get_origin(tp) is dict:
        key, value = typing.get_args(tp)
        if key is str:
            return "a{s" + signature_of(value) + "}"
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return "a" + signature_of(args[0])
    raise TypeError(f"no D-Bus signature for {tp!r}")


@functools.cache
def _field_signatures(cls: Any) -> tuple[tuple[str, str], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, signature_of(hints[f.name])) for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        # Most values: no dataclass probe (on a str or float, is_dataclass's hasattr
        # raises and formats an AttributeError inside CPython, twice per GetStatus).
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_vardict(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def to_vardict(obj: Any, **extra: Variant) -> dict[str, Variant]:
    """A dataclass instance as ``a{sv}``; ``extra`` adds computed keys."""
    out: dict[str, Variant] = {}
    cls: Any = type(obj)
    for name, sig in _field_signatures(cls):
        value = getattr(obj, name)
        if value is not None:
            out[name] = Variant(sig, _plain(value))
    out.update(extra)
    return out
