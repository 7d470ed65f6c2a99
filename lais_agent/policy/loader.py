"""Read policy files: the shipped set, with admin files of the same name replacing
them and new names adding to them. Errors name the file, line and field at fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from lais_agent.errors import InvalidConfig
from lais_agent.policy.model import CapabilityPolicy, PolicyDocument, TierSet

_KINDS = ("TierSet", "CapabilityPolicy")
_ADAPTER: TypeAdapter[TierSet | CapabilityPolicy] = TypeAdapter(PolicyDocument)


@dataclass(frozen=True)
class PolicySet:
    tiers: TierSet
    policies: tuple[CapabilityPolicy, ...]
    sources: tuple[str, ...]


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
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


def parse_document(text: str, source: str) -> TierSet | CapabilityPolicy:
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise InvalidConfig(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # pydantic puts the union's tag ("TierSet") first; it is not a YAML key
        loc = [k for k in first["loc"] if isinstance(k, int | str) and k not in _KINDS]
        field = ".".join(str(k) for k in loc)
        line = _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidConfig(
            f"{where}: {field or 'document'}: {first['msg']}{more}",
            hint="see docs/policies.md for the format",
        ) from None


def policy_files(shipped: Path, admin: Path) -> list[Path]:
    files = {p.name: p for p in sorted(shipped.glob("*.yaml"))}
    if admin.is_dir():
        files.update({p.name: p for p in sorted(admin.glob("*.yaml"))})
    return [files[name] for name in sorted(files)]


def load_policies(shipped: Path, admin: Path) -> PolicySet:
    tiers: list[tuple[Path, TierSet]] = []
    policies: list[CapabilityPolicy] = []
    paths = policy_files(shipped, admin)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidConfig(f"{path}: cannot read: {exc.strerror}") from None
        doc = parse_document(text, str(path))
        if isinstance(doc, TierSet):
            tiers.append((path, doc))
        else:
            policies.append(doc)
    if len(tiers) != 1:
        found = ", ".join(str(p) for p, _ in tiers) or "none"
        raise InvalidConfig(
            f"exactly one TierSet document is needed among the policy files; found {found}",
            hint="replace the shipped 00-tiers.yaml by a file of the same name in "
            "/etc/localaistack/policies.d/ instead of adding another",
        )
    seen: dict[str, str] = {}
    for policy in policies:
        for rule in policy.rules:
            if rule.id in seen:
                raise InvalidConfig(f"rule id {rule.id!r} is defined twice")
            seen[rule.id] = rule.id
    known = {t.id for t in tiers[0][1].tiers}
    for policy in policies:
        for rule in policy.rules:
            for tier in rule.match.tiers or ():
                if tier not in known:
                    raise InvalidConfig(
                        f"rule {rule.id!r} matches tier {tier!r}, which no TierSet defines"
                    )
    return PolicySet(tiers[0][1], tuple(policies), tuple(str(p) for p in paths))
