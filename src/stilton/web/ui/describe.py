"""An index described in words for people: what it is, who may use it, what its policy hides.
Never a credential: an upstream is shown by its URL with any user information removed."""

from __future__ import annotations

from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.permissions import ANONYMOUS, AUTHENTICATED, Acl, Action
from stilton.core.policies import Policy, UnknownUploadTime
from stilton.core.upstream import UpstreamConfig, redact_url
from stilton.storage.catalog import IndexRecord


def summary_of(record: IndexRecord) -> str:
    """One line: what the index holds."""
    config = IndexConfig.from_mapping(record.config)
    if record.kind is IndexKind.HOSTED:
        return "Packages uploaded here."
    if record.kind is IndexKind.PROXY and config.upstream is not None:
        return f"A cache of {upstream_url(config.upstream)}."
    members = ", then ".join(config.members)
    return f"A group: {members}; the first member that has a project owns its name."


def upstream_url(upstream: UpstreamConfig) -> str:
    return redact_url(upstream.url)


def _principals(names: tuple[str, ...]) -> str:
    words: list[str] = []
    for name in dict.fromkeys(names):
        if name == ANONYMOUS:
            words.append("anyone")
        elif name == AUTHENTICATED:
            words.append("any signed-in user or token")
        else:
            kind, _, who = name.partition(":")
            words.append(f"{kind} {who}")
    return ", ".join(words) if words else "administrators only"


def access_of(acl: Acl) -> list[str]:
    return [
        f"Read: {_principals(acl.granted(Action.READ))}.",
        f"Upload: {_principals(acl.granted(Action.UPLOAD))}.",
    ]


def policy_of(policy: Policy) -> list[str]:
    """The policy in sentences; empty when the index has none."""
    lines = []
    if policy.allow_projects:
        lines.append(f"Only these projects are offered: {', '.join(policy.allow_projects)}.")
    if policy.deny_projects:
        lines.append(f"These projects are never offered: {', '.join(policy.deny_projects)}.")
    for rule in policy.deny_files:
        parts = [f"project {rule.project}"]
        if rule.versions:
            parts.append(f"versions {rule.versions}")
        if rule.platform:
            parts.append(f"platform {rule.platform}")
        if rule.packagetype:
            parts.append(f"{rule.packagetype.value} files")
        if rule.yanked is not None:
            parts.append("yanked files" if rule.yanked else "files not yanked")
        lines.append(f"Files hidden: {', '.join(parts)}.")
    if policy.cooldown is not None:
        days = policy.cooldown.total_seconds() / 86400
        exempt = f" (except {', '.join(policy.cooldown_exempt)})" if policy.cooldown_exempt else ""
        lines.append(f"Files are offered {days:g} days after their upload{exempt}.")
    if policy.cutoff is not None:
        lines.append(f"Nothing uploaded after {policy.cutoff:%Y-%m-%d %H:%M} UTC is offered.")
    if policy.unknown_upload_time is UnknownUploadTime.HIDE and lines:
        lines.append("Files whose upload time is unknown are hidden.")
    return lines
