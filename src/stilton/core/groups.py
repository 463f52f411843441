"""Group resolution: which members of a group serve a project (DESIGN.md, "Concepts").

The default is first owner wins: the first member that has a project of that name owns it and
later members' files of that name are hidden, so a private name can never be shadowed from a
public upstream. Rules, matched by exact name or glob in order, change that for some names:
``merge`` combines the members' files, ``only`` routes a name to one member and no other.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from stilton.core.errors import InvalidInput
from stilton.core.model import DistributionFile, ProjectDetail, Release
from stilton.core.names import IndexName, ProjectName, normalize_project_name, parse_index_name
from stilton.core.versions import version_sort_key


class RuleAction(StrEnum):
    MERGE = "merge"
    ONLY = "only"


@dataclass(frozen=True, slots=True)
class GroupRule:
    pattern: str  # a normalized project name or a glob over normalized names
    action: RuleAction
    member: IndexName | None = None  # for ``only``

    def matches(self, name: ProjectName) -> bool:
        return fnmatch.fnmatchcase(name, self.pattern)

    def describe(self) -> str:
        return f"{self.pattern}: only {self.member}" if self.member else f"{self.pattern}: merge"

    def to_mapping(self) -> dict[str, str]:
        values = {"pattern": self.pattern, "action": self.action.value}
        if self.member:
            values["member"] = self.member
        return values


def parse_pattern(raw: str) -> str:
    """A name pattern: normalized like a project name, with ``*``, ``?`` and ``[...]`` kept."""
    raw = raw.strip()
    if not raw:
        raise InvalidInput("A project pattern cannot be empty.")
    if any(c in raw for c in "*?["):
        return raw.lower().replace("_", "-").replace(".", "-")
    return normalize_project_name(raw)


def parse_rule(raw: str) -> GroupRule:
    """``PATTERN=merge`` or ``PATTERN=only:MEMBER`` (the command line's form)."""
    pattern, sep, action = raw.partition("=")
    if not sep:
        raise InvalidInput(f"Rule {raw!r} must look like 'acme-*=only:local' or 'numpy=merge'.")
    kind, _, member = action.strip().partition(":")
    if kind == RuleAction.MERGE.value and not member:
        return GroupRule(parse_pattern(pattern), RuleAction.MERGE)
    if kind == RuleAction.ONLY.value and member:
        member_name = parse_index_name(member.strip(), existing=True)
        return GroupRule(parse_pattern(pattern), RuleAction.ONLY, member_name)
    raise InvalidInput(f"Rule {raw!r}: the action must be 'merge' or 'only:MEMBER'.")


def rule_from_mapping(values: dict[str, Any]) -> GroupRule:
    member = values.get("member")
    return GroupRule(
        str(values["pattern"]),
        RuleAction(values["action"]),
        IndexName(member) if member else None,
    )


def find_rule(rules: Sequence[GroupRule], name: ProjectName) -> GroupRule | None:
    """The first rule that matches the name; exact names before globs."""
    exact = [rule for rule in rules if rule.pattern == name]
    if exact:
        return exact[0]
    return next((rule for rule in rules if rule.matches(name)), None)


@dataclass(frozen=True, slots=True)
class Plan:
    """How a group answers for one project: ask ``members`` in order; with ``merge``, combine
    every member that has it, otherwise the first that has it is the only one served."""

    members: tuple[IndexName, ...]
    merge: bool


def plan_for(name: ProjectName, members: Sequence[IndexName], rules: Sequence[GroupRule]) -> Plan:
    rule = find_rule(rules, name)
    if rule is None:
        return Plan(tuple(members), merge=False)
    if rule.action is RuleAction.ONLY:
        assert rule.member is not None
        return Plan((rule.member,) if rule.member in members else (), merge=False)
    return Plan(tuple(members), merge=True)


def serving_members(plan: Plan, having: Sequence[IndexName]) -> tuple[IndexName, ...]:
    """Of the members that have the project, those whose files the group serves."""
    present = [member for member in plan.members if member in having]
    return tuple(present) if plan.merge else tuple(present[:1])


def combine(group: IndexName, details: Sequence[ProjectDetail]) -> ProjectDetail:
    """One page from the serving members' pages, in member order: a filename present in two
    members is served from the first; every link points at the group."""
    owner = details[0]
    if len(details) == 1:
        return replace(owner, index=group)  # the files as they are (a page may list 15,000)
    files: dict[str, DistributionFile] = {}
    versions: set[str] = set()
    releases: dict[str, Release] = {}
    for detail in details:
        versions.update(detail.versions)
        for version, release in detail.releases.items():
            releases.setdefault(version, release)
        for file in detail.files:
            files.setdefault(file.filename, file)
    return replace(
        owner,
        index=group,
        files=tuple(files.values()),
        versions=tuple(sorted(versions, key=version_sort_key)),
        releases=releases,
        last_serial=max(detail.last_serial for detail in details),
    )
