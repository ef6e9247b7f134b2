import re
from fnmatch import fnmatchcase

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import given
from hypothesis import strategies as st

from hygiene.models import Finding, OwnershipRule
from hygiene.ownership import Rule, glob_to_regex, ownership_team_for, rule_matches
from hygiene.services import triage
from incidents.models import TimelineEvent
from tests.hygiene.test_filters import make_finding

RULES = [
    Rule(team_id=1, repo_pattern="acme/payments-*", path_pattern="services/*"),
    Rule(team_id=2, repo_pattern="acme/payments-*"),
    Rule(team_id=3, resource_pattern="arn:aws:iam::123456789012:*"),
    Rule(team_id=4, repo_pattern="acme/*", enabled=False),
]


@pytest.mark.parametrize(
    ("repo", "path", "resource", "team"),
    [
        ("acme/payments-api", "services/billing.py", "", 1),  # first match wins
        ("acme/payments-api", "README.md", "", 2),
        ("", "", "arn:aws:iam::123456789012:user/ci", 3),
        ("acme/web", "services/x.py", "", None),  # the disabled rule is skipped
        ("", "", "", None),
        (None, None, None, None),
    ],
)
def test_first_enabled_matching_rule_wins(repo, path, resource, team):
    assert ownership_team_for(repo, path, resource, RULES) == team


def test_a_rule_without_patterns_matches_nothing():
    assert not rule_matches(Rule(team_id=1), repo="anything")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("acme/*", "acme/x/y", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("[!x]y", "ay", True),
        ("[!x]y", "xy", False),
        ("file[0-9].py", "file7.py", True),
        ("a.b", "axb", False),
        ("(x)+", "(x)+", True),
        ("[", "[", True),
        ("^a$", "^a$", True),
    ],
)
def test_glob_to_regex_means_fnmatch(pattern, value, expected):
    assert fnmatchcase(value, pattern) is expected
    assert bool(re.match(glob_to_regex(pattern), value, re.S)) is expected


@given(
    st.text(alphabet="ab*?[]!-./x^$()+", max_size=8),
    st.text(alphabet="ab./x-^$()+[]!", max_size=8),
)
def test_glob_to_regex_agrees_with_fnmatch_on_anything(pattern, value):
    assert bool(re.match(glob_to_regex(pattern), value, re.S)) == fnmatchcase(value, pattern)


@pytest.fixture
def rules(db, team, other_team):
    OwnershipRule.objects.create(position=10, team=team, repo_pattern="acme/payments-*")
    OwnershipRule.objects.create(position=20, team=other_team, resource_pattern="arn:aws:*")
    OwnershipRule.objects.create(position=30, team=other_team, path_pattern="*.tf")


def test_preview_lists_what_would_change_and_apply_does_it(rules, source, team, other_team, lead):
    to_team = make_finding(source, repo="acme/payments-api")
    already = make_finding(source, repo="acme/payments-web", team=team)
    posture = make_finding(
        source, category="posture", secret=None, repo="", path="", resource="arn:aws:s3:::bucket"
    )
    closed = make_finding(source, repo="acme/payments-api", status="dismissed")
    untouched = make_finding(source, repo="acme/web", path="main.py", team=other_team)
    preview = triage.ownership_preview()
    assert preview.total == 2
    assert {(f.pk, new.pk) for f, _old, new in preview.rows} == {
        (to_team.pk, team.pk),
        (posture.pk, other_team.pk),
    }
    assert dict((t.pk, n) for t, n in preview.by_team) == {team.pk: 1, other_team.pk: 1}

    result = triage.ownership_apply(by=lead)
    assert result.changed == 2
    teams = dict(Finding.objects.values_list("pk", "team_id"))
    assert teams[to_team.pk] == team.pk
    assert teams[posture.pk] == other_team.pk
    assert teams[already.pk] == team.pk
    assert teams[closed.pk] is None  # closed findings keep their history
    assert teams[untouched.pk] == other_team.pk  # no rule matches: keeps its team
    assert TimelineEvent.objects.filter(kind="finding.owner_rule").count() == 2
    assert triage.ownership_preview().total == 0


def test_sql_matching_agrees_with_the_python_matcher(rules, source):
    findings = [
        make_finding(source, repo=repo, path=path)
        for repo, path in [
            ("acme/payments-x", "a.py"),
            ("other", "infra/main.tf"),
            ("acme/payments", "x.tf"),
            ("ACME/payments-x", "b.py"),
        ]
    ]
    rule_list = list(OwnershipRule.objects.all())
    expected = {f.pk: ownership_team_for(f.repo, f.path, f.resource, rule_list) for f in findings}
    changes = {f.pk: new.pk for f, _old, new in triage.ownership_preview().rows}
    assert changes == {pk: t for pk, t in expected.items() if t is not None}


def test_preview_of_unsaved_rules(db, source, team):
    f = make_finding(source, path="deploy/prod.env")
    preview = triage.ownership_preview(rules=[Rule(team_id=team.pk, path_pattern="deploy/*")])
    assert [row[0].pk for row in preview.rows] == [f.pk]


def test_rules_reorder_and_delete(rules, lead):
    first, second, third = OwnershipRule.objects.order_by("position")
    triage.ownership_rule_move(by=lead, rule=third, direction="up")
    assert list(OwnershipRule.objects.order_by("position")) == [first, third, second]
    triage.ownership_rule_delete(by=lead, rule=first)
    assert OwnershipRule.objects.count() == 2


@pytest.mark.parametrize("who", ["engineer", "manager", "outsider"])
def test_only_leads_change_ownership(rules, request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        triage.ownership_apply(by=user)


TRICKY = [
    "[?-/]",
    "[!-/]x",
    "[]a]",
    "[!]a]",
    "[z-a]",
    "a[-]b",
    "[a-]",
    "[\\]",
    "x[!]",
    "*.[ch]",
    "a*b*c",
    "[^a]",
    "(x)+$",
    "a\\b",
    "[a-c-e]",
]
VALUES = [
    "",
    "a",
    "-",
    "/",
    ".",
    "]",
    "^",
    "z",
    "ab",
    "a-b",
    "x.c",
    "abc",
    "(x)+$",
    "a\\b",
    "\\",
    "d",
    "e",
    "b",
]


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", TRICKY)
def test_postgres_regex_agrees_with_fnmatch(pattern):
    from django.db import connection

    regex = glob_to_regex(pattern)
    with connection.cursor() as cursor:
        for value in VALUES:
            cursor.execute("SELECT %s ~ %s", [value, regex])
            assert cursor.fetchone()[0] == fnmatchcase(value, pattern), (pattern, value, regex)
