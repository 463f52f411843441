"""The dependency closure of a mirror's requirements, as it is discovered.

Requirements arrive from the mirror's selection and from the core metadata of every file the
selection takes; each applies when its PEP 508 marker holds on some target environment with
the extras asked of its project. A project's files are chosen again whenever a new requirement
(or a new extra) on it turns up; nothing is ever unchosen within a run, so the walk ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from stilton.core.names import ProjectName, normalize_project_name
from stilton.mirror.targets import Targets


@dataclass(frozen=True, slots=True)
class Need:
    """A requirement on a project and where it came from (for messages)."""

    requirement: Requirement
    via: str


@dataclass
class Closure:
    targets: Targets
    with_deps: bool
    needs: dict[ProjectName, list[Need]] = field(default_factory=dict)
    extras: dict[ProjectName, set[str]] = field(default_factory=dict)
    # The requirements in each processed file's metadata, by project, to walk again when the
    # project is asked for a new extra.
    requires: dict[ProjectName, dict[str, list[Requirement]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add_root(self, requirement: Requirement) -> set[ProjectName]:
        if not self.targets.wants(requirement.marker, ()):
            return set()  # e.g. "pywin32; sys_platform == 'win32'" with no Windows target
        return self._need(requirement, f"the mirror's requirement {str(requirement)!r}")

    def _need(self, requirement: Requirement, via: str) -> set[ProjectName]:
        """Record a requirement; the projects whose files must be chosen (again)."""
        project = normalize_project_name(requirement.name)
        needs = self.needs.setdefault(project, [])
        text = str(requirement)
        if any(str(n.requirement) == text and n.via == via for n in needs):
            return set()
        first = not needs
        new_specifier = all(
            str(n.requirement.specifier) != str(requirement.specifier) for n in needs
        )
        needs.append(Need(requirement, via))
        changed = {project} if first or new_specifier else set()
        known = self.extras.setdefault(project, set())
        if set(requirement.extras) - known:
            known.update(requirement.extras)
            # Files of the project walked already may have requirements only these extras
            # bring in: walk them again.
            for filename, requirements in list(self.requires.get(project, {}).items()):
                changed |= self._follow(project, filename, requirements)
        return changed

    def requirements_of(self, project: ProjectName) -> list[Requirement]:
        return [need.requirement for need in self.needs.get(project, [])]

    def who_needs(self, project: ProjectName) -> str:
        vias = sorted({need.via for need in self.needs.get(project, [])})
        return "; ".join(vias[:3]) + (f" and {len(vias) - 3} more" if len(vias) > 3 else "")

    def add_file(
        self, project: ProjectName, filename: str, requires_dist: Iterable[str]
    ) -> set[ProjectName]:
        """A chosen file's metadata: the projects whose files must be chosen (again)."""
        requirements: list[Requirement] = []
        for text in requires_dist:
            try:
                requirements.append(Requirement(text))
            except InvalidRequirement as exc:
                self.problems.append(f"{filename} has an unreadable Requires-Dist {text!r}: {exc}")
        self.requires.setdefault(project, {})[filename] = requirements
        if not self.with_deps:
            return set()
        return self._follow(project, filename, requirements)

    def _follow(
        self, project: ProjectName, filename: str, requirements: list[Requirement]
    ) -> set[ProjectName]:
        if not self.with_deps:
            return set()
        changed: set[ProjectName] = set()
        extras = self.extras.get(project, set())
        for requirement in requirements:
            if self.targets.wants(requirement.marker, extras):
                changed |= self._need(requirement, filename)
        return changed
