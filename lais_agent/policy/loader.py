"""Read policy files: the shipped set, with admin files of the same name replacing
them and new names adding to them. Errors name the file, line and field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter

from lais_agent.documents import parse
from lais_agent.errors import InvalidConfig
from lais_agent.policy.model import CapabilityPolicy, PolicyDocument, TierSet

_KINDS = ("TierSet", "CapabilityPolicy")
_ADAPTER: TypeAdapter[TierSet | CapabilityPolicy] = TypeAdapter(PolicyDocument)


@dataclass(frozen=True)
class PolicySet:
    tiers: TierSet
    policies: tuple[CapabilityPolicy, ...]
    sources: tuple[str, ...]


def parse_document(text: str, source: str) -> TierSet | CapabilityPolicy:
    return parse(text, source, _ADAPTER, tags=_KINDS, hint="see docs/policies.md for the format")


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
