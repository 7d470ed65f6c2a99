"""``yaml.load`` with a safe loader, about twice as fast for plain documents.

PyYAML's C loader parses in C but builds a Python node for every value and then
constructs objects from the nodes in Python; for the catalog (a thousand small
documents) that is most of the load time. This builds the objects straight from
the C parser's events, resolving each plain scalar exactly as PyYAML does (its
implicit resolvers, looked up by first character, and its constructors).

Anything unusual (anchors, aliases, merge keys, ``=``, explicit tags, complex
keys, several documents) and any error falls back to ``yaml.load`` itself, so the
result, or the error, is always PyYAML's (tests/unit/test_yamlload.py checks it
against PyYAML with hypothesis).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"  # "=": PyYAML turns it into a string only as a key
_NO_KEY = object()


class _Unusual(Exception):
    """The document uses a feature this fast path leaves to PyYAML."""


def load(text: str) -> Any:
    loader = LOADER(text)
    try:
        try:
            return _build(loader)
        except _Unusual:
            pass
        except Exception:  # noqa: BLE001, S110 - let PyYAML find (and order) the errors
            pass
    finally:
        loader.dispose()
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader


def _scalar(loader: Any, event: events.ScalarEvent) -> Any:
    if event.tag not in (None, "!"):
        raise _Unusual
    value = event.value
    if not event.implicit[0]:  # quoted or block literal: a string
        return value
    if value and value[0] not in loader.yaml_implicit_resolvers:
        return value  # no implicit type starts with this character
    tag = loader.resolve(yaml.ScalarNode, value, (True, False))
    if tag == _STR:
        return value
    if tag in (_MERGE, _VALUE):
        raise _Unusual
    return loader.construct_object(yaml.ScalarNode(tag, value), deep=True)


def _build(loader: Any) -> Any:
    get = loader.get_event
    get()  # StreamStart
    if isinstance(get(), events.StreamEndEvent):
        return None  # an empty stream
    stack: list[list[Any]] = []  # [container, key waiting for its value]
    root: Any = None
    while True:
        event = get()
        kind = type(event)
        if kind is events.ScalarEvent:
            if event.anchor is not None:
                raise _Unusual
            value = _scalar(loader, event)
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise _Unusual
            stack.append([{} if kind is events.MappingStartEvent else [], _NO_KEY])
            continue
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            value = stack.pop()[0]
        elif kind is events.DocumentEndEvent:
            if not isinstance(get(), events.StreamEndEvent):
                raise _Unusual  # several documents: PyYAML says what is wrong
            return root
        else:  # aliases
            raise _Unusual
        if not stack:
            root = value
            continue
        top = stack[-1]
        container = top[0]
        if type(container) is list:
            container.append(value)
        elif top[1] is _NO_KEY:
            if isinstance(value, dict | list):
                raise _Unusual  # a complex key
            top[1] = value
        else:
            container[top[1]] = value  # a repeated key keeps the last value, as in PyYAML
            top[1] = _NO_KEY
