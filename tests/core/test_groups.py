"""Group resolution in the pure core: rule parsing and matching, plans, the members served,
and a Hypothesis property that no earlier owner's name is ever shadowed without a merge rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stilton.core.errors import InvalidInput
from stilton.core.filenames import PackageType
from stilton.core.groups import (
    GroupRule,
    Plan,
    RuleAction,
    combine,
    find_rule,
    parse_rule,
    plan_for,
    serving_members,
)
from stilton.core.model import Digests, DistributionFile, ProjectDetail
from stilton.core.names import IndexName, ProjectName

LOCAL, PYPI, EXTRA = IndexName("local"), IndexName("pypi"), IndexName("extra")
MEMBERS = (LOCAL, PYPI, EXTRA)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme-*=only:local", GroupRule("acme-*", RuleAction.ONLY, LOCAL)),
        ("Acme_Utils=only:pypi", GroupRule("acme-utils", RuleAction.ONLY, PYPI)),
        ("numpy=merge", GroupRule("numpy", RuleAction.MERGE)),
        ("torch*=merge", GroupRule("torch*", RuleAction.MERGE)),
    ],
)
def test_parse_rule(raw: str, expected: GroupRule) -> None:
    assert parse_rule(raw) == expected


@pytest.mark.parametrize("raw", ["acme", "acme=", "acme=only", "acme=only:", "acme=drop", "=merge"])
def test_parse_rule_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rule(raw)


RULES = (
    GroupRule("acme-*", RuleAction.ONLY, LOCAL),
    GroupRule("acme-public", RuleAction.ONLY, PYPI),
    GroupRule("numpy", RuleAction.MERGE),
)

PLANS = [
    ("requests", Plan(MEMBERS, merge=False)),
    ("acme-utils", Plan((LOCAL,), merge=False)),
    ("acme-public", Plan((PYPI,), merge=False)),  # an exact name beats a glob
    ("numpy", Plan(MEMBERS, merge=True)),
]


@pytest.mark.parametrize(("name", "plan"), PLANS)
def test_plan_for(name: str, plan: Plan) -> None:
    assert plan_for(ProjectName(name), MEMBERS, RULES) == plan


def test_only_rule_for_a_missing_member_serves_nothing() -> None:
    rules = [GroupRule("x", RuleAction.ONLY, IndexName("gone"))]
    assert plan_for(ProjectName("x"), MEMBERS, rules).members == ()


@pytest.mark.parametrize(
    ("plan", "having", "served"),
    [
        (Plan(MEMBERS, False), (PYPI, LOCAL), (LOCAL,)),
        (Plan(MEMBERS, False), (EXTRA,), (EXTRA,)),
        (Plan(MEMBERS, False), (), ()),
        (Plan(MEMBERS, True), (EXTRA, LOCAL), (LOCAL, EXTRA)),
        (Plan((PYPI,), False), (LOCAL, PYPI), (PYPI,)),
    ],
)
def test_serving_members(
    plan: Plan, having: tuple[IndexName, ...], served: tuple[IndexName, ...]
) -> None:
    assert serving_members(plan, having) == served


def test_find_rule_prefers_exact_names() -> None:
    rule = find_rule(RULES, ProjectName("acme-public"))
    assert rule is not None
    assert rule.member == PYPI


def _file(index: IndexName, project: str, version: str) -> DistributionFile:
    filename = f"{project.replace('-', '_')}-{version}-py3-none-any.whl"
    return DistributionFile(
        filename=filename,
        version=version,
        packagetype=PackageType.WHEEL,
        python_version="py3",
        size=1,
        digests=Digests(f"{index}-{filename}"),
        upload_time=datetime(2024, 1, 1, tzinfo=UTC),
    )


def _detail(index: IndexName, project: str, versions: list[str]) -> ProjectDetail:
    return ProjectDetail(
        index=index,
        name=ProjectName(project),
        display_name=project,
        files=tuple(_file(index, project, v) for v in versions),
        versions=tuple(versions),
    )


NAMES = st.sampled_from(["acme-utils", "acme-core", "requests", "numpy"])
CONTENT = st.dictionaries(
    st.sampled_from(MEMBERS),
    st.dictionaries(
        NAMES, st.lists(st.sampled_from(["1.0", "2.0", "99.0"]), min_size=1, unique=True)
    ),
)
RULE_SETS = st.lists(
    st.one_of(
        st.builds(
            GroupRule, st.sampled_from(["acme-*", "numpy", "requests"]), st.just(RuleAction.MERGE)
        ),
        st.builds(
            GroupRule,
            st.sampled_from(["acme-*", "numpy", "requests"]),
            st.just(RuleAction.ONLY),
            st.sampled_from(MEMBERS),
        ),
    ),
    max_size=3,
)


@given(content=CONTENT, rules=RULE_SETS, name=NAMES)
def test_no_earlier_owner_is_ever_shadowed(
    content: dict[IndexName, dict[str, list[str]]], rules: list[GroupRule], name: str
) -> None:
    project = ProjectName(name)
    plan = plan_for(project, MEMBERS, rules)
    having = [m for m in MEMBERS if name in content.get(m, {})]
    served = serving_members(plan, having)
    if not served:
        return
    page = combine(IndexName("main"), [_detail(m, name, content[m][name]) for m in served])
    sources = {file.digests.sha256.split("-")[0] for file in page.files}
    owners = [m for m in plan.members if m in having]
    rule = find_rule(rules, project)
    if rule is None or rule.action is not RuleAction.MERGE:
        # Only the first member (of those the plan allows) that has the name is served.
        assert sources == {owners[0]}
    if rule is not None and rule.action is RuleAction.ONLY:
        assert sources <= {rule.member}
    assert page.index == "main"  # every link points at the group
    first = owners[0]
    assert {f.filename for f in _detail(first, name, content[first][name]).files} <= {
        f.filename for f in page.files
    }, "the first owner's files are always all served"
