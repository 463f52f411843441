"""An index's configuration as stored with it: a proxy's upstream, a group's members and rules,
and the policy any index may have."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stilton.core.groups import GroupRule, rule_from_mapping
from stilton.core.names import IndexName
from stilton.core.permissions import Acl
from stilton.core.policies import Policy
from stilton.core.upstream import UpstreamConfig


@dataclass(frozen=True, slots=True)
class IndexConfig:
    upstream: UpstreamConfig | None = None  # proxies
    members: tuple[IndexName, ...] = ()  # groups, in resolution order
    rules: tuple[GroupRule, ...] = ()  # groups
    policy: Policy = field(default_factory=Policy)
    acl: Acl = field(default_factory=Acl)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> IndexConfig:
        upstream = values.get("upstream")
        return cls(
            upstream=UpstreamConfig.from_mapping(upstream) if upstream else None,
            members=tuple(IndexName(m) for m in values.get("members", ())),
            rules=tuple(rule_from_mapping(r) for r in values.get("rules", ())),
            policy=Policy.from_mapping(values.get("policy") or {}),
            acl=Acl.from_mapping(values.get("permissions")),
        )

    def to_mapping(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.upstream is not None:
            values["upstream"] = self.upstream.to_mapping()
        if self.members:
            values["members"] = list(self.members)
        if self.rules:
            values["rules"] = [rule.to_mapping() for rule in self.rules]
        if not self.policy.is_empty:
            values["policy"] = self.policy.to_mapping()
        if self.acl != Acl():
            values["permissions"] = self.acl.to_mapping()
        return values
