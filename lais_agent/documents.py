"""YAML documents validated against typed models, with errors a person can act on:
``FILE:LINE: field.path: what is wrong``. Used for policies and module manifests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from lais_agent import yamlload
from lais_agent.errors import InvalidConfig

T = TypeVar("T")
# libyaml's C loader when PyYAML has it (Debian's python3-yaml does): ~10x faster
_LOADER: Any = yamlload.LOADER


def line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse(
    text: str, source: str, adapter: TypeAdapter[T], *, tags: Sequence[str] = (), hint: str
) -> T:
    """Validate one YAML document; ``tags`` are union tags pydantic puts in locations."""
    return parse_with_data(text, source, adapter, tags=tags, hint=hint)[0]


MAX_TEXT = 1024 * 1024  # characters in one document
MAX_VALUES = 100_000  # values in one document once aliases are expanded


def _count_values(data: Any, source: str, hint: str) -> None:
    """Refuse documents that aliases blow up (a few KiB of anchors can stand for GiB)."""
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise InvalidConfig(
                f"{source}: more than {MAX_VALUES:,} values once its aliases are expanded",
                hint=hint,
            )
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_with_data(
    text: str, source: str, adapter: TypeAdapter[T], *, tags: Sequence[str] = (), hint: str
) -> tuple[T, Any]:
    """``parse``, and the plain data the model was validated from (signatures cover it)."""
    if len(text) > MAX_TEXT:
        raise InvalidConfig(f"{source}: larger than {MAX_TEXT:,} characters", hint=hint)
    try:
        data: Any = yamlload.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise InvalidConfig(
            f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}", hint=hint
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date like 2001-13-45
        raise InvalidConfig(f"{source}: a value cannot be read: {exc}", hint=hint) from None
    _count_values(data, source, hint)
    try:
        return adapter.validate_python(data), data
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [k for k in first["loc"] if isinstance(k, int | str) and k not in tags]
        field = ".".join(str(k) for k in loc)
        line = line_of(yaml.compose(text, Loader=_LOADER), loc)  # parsed again only to locate
        where = f"{source}:{line}" if line else source
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidConfig(
            f"{where}: {field or 'document'}: {first['msg']}{more}", hint=hint
        ) from None
