"""Dependency-confusion audit: names a group's hosted members hold that also exist upstream,
and which member the group serves each of them from."""

from __future__ import annotations

from dataclasses import dataclass

from stilton.core.errors import UpstreamError
from stilton.core.groups import find_rule
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, ProjectName
from stilton.indexes.group import GroupIndex


@dataclass(frozen=True, slots=True)
class Collision:
    group: IndexName
    project: ProjectName
    hosted_in: tuple[IndexName, ...]
    upstream_in: tuple[IndexName, ...]  # proxies where the name exists (or could not be checked)
    served_from: IndexName | None
    rule: str | None
    unchecked: tuple[IndexName, ...] = ()  # proxies that could not be asked


async def find_collisions(group: GroupIndex) -> list[Collision]:
    # Members are asked without their policies: the audit is about the names they hold.
    leaves = group.leaves()
    hosted = [m for m in leaves if m.kind is IndexKind.HOSTED]
    proxies = [m for m in leaves if m.kind is IndexKind.PROXY]
    owners: dict[ProjectName, list[IndexName]] = {}
    for member in hosted:
        for project in (await member.list_projects()).projects:
            owners.setdefault(project.name, []).append(member.name)
    collisions = []
    for name, hosted_in in sorted(owners.items()):
        upstream_in, unchecked = [], []
        for proxy in proxies:
            try:
                if await proxy.find_project(name) is not None:
                    upstream_in.append(proxy.name)
            except UpstreamError:
                unchecked.append(proxy.name)
        if not upstream_in and not unchecked:
            continue
        resolved = await group.resolve(name)
        rule = find_rule(group.rules, name)
        collisions.append(
            Collision(
                group=group.name,
                project=name,
                hosted_in=tuple(hosted_in),
                upstream_in=tuple(upstream_in),
                served_from=resolved[0][0].name if resolved else None,
                rule=rule.describe() if rule else None,
                unchecked=tuple(unchecked),
            )
        )
    return collisions
