import itertools
from datetime import timedelta

import pytest
import time_machine
from django.http import QueryDict
from django.utils import timezone

from hygiene.filters import (
    BadCursor,
    bounded_count,
    capped_count,
    csv_rows,
    decode_cursor,
    encode_cursor,
    page_findings,
    page_secret_groups,
    parse_filter,
    secret_groups,
)
from hygiene.fingerprints import reference_hash
from hygiene.models import Finding, FindingSighting, Secret, SecretReference, SecretSighting, Source

NOW = timezone.now().replace(microsecond=0)
_seq = itertools.count(1)


def make_secret(**kw) -> Secret:
    n = next(_seq)
    defaults = dict(
        fingerprint=f"{n:064x}",
        secret_type="aws-access-key",
        preview=f"AKIA…{n:04d}",
        severity="high",
        first_seen_at=NOW - timedelta(days=3),
        exposed_since=NOW - timedelta(days=30),
        finding_count=1,
    )
    last_seen = kw.pop("last_seen_at", NOW - timedelta(hours=n))
    defaults.update(kw)
    secret = Secret.objects.create(**defaults)
    SecretSighting.objects.create(secret=secret, last_seen_at=last_seen)
    return secret


def make_finding(source, secret=None, **kw) -> Finding:
    n = next(_seq)
    if secret is None and kw.get("category") != "posture":
        secret = make_secret()
    defaults = dict(
        secret=secret,
        source=source,
        location_key=f"{n:064x}",
        rule="aws-access-token",
        secret_type=secret.secret_type if secret else "key-rotation",
        severity="high",
        repo="acme/payments-api",
        path=f"config/settings{n}.py",
        line=n,
        first_seen_at=NOW - timedelta(hours=n),
    )
    last_seen = kw.pop("last_seen_at", NOW - timedelta(minutes=n))
    defaults.update(kw)
    finding = Finding.objects.create(**defaults)
    FindingSighting.objects.create(finding=finding, last_seen_at=last_seen)
    return finding


def q(s: str) -> QueryDict:
    return QueryDict(s)


@pytest.fixture
def world(db, source, team, other_team):
    other = Source.objects.create(slug="trufflehog", name="trufflehog", kind="scanner")
    crit = make_secret(severity="critical", reused=True, place_count=2)
    f = {
        "crit_new": make_finding(
            source, crit, severity="critical", team=team, first_seen_at=NOW - timedelta(hours=2)
        ),
        "crit_old": make_finding(
            other,
            crit,
            severity="critical",
            repo="acme/web",
            first_seen_at=NOW - timedelta(days=40),
            validity="valid",
        ),
        "high_dismissed": make_finding(
            source,
            severity="high",
            status="dismissed",
            resolution="false_positive",
            team=other_team,
        ),
        "low_tests": make_finding(
            source, severity="low", path="tests/fixtures/keys.py", rule="generic-api-key"
        ),
        "posture": make_finding(
            other,
            category="posture",
            secret=None,
            severity="medium",
            resource="arn:aws:iam::1:user/ci",
            repo="",
            path="",
        ),
    }
    return f


def ids(qs):
    return {f.pk for f in qs}


def apply(data, user=None):
    ff = parse_filter(q(data), user=user)
    return ff, ff.apply(Finding.objects.all())


def test_it_filters_by_status_severity_and_age(world):
    ff, qs = apply("status=open&severity=critical&age=7d")
    assert ff.notes == []
    assert ids(qs) == {world["crit_new"].pk}


def test_it_filters_by_type_category_source_team_repo_validity_reused(world, team):
    assert ids(apply("category=posture")[1]) == {world["posture"].pk}
    assert ids(apply("source=trufflehog")[1]) == {world["crit_old"].pk, world["posture"].pk}
    assert ids(apply(f"team={team.slug}")[1]) == {world["crit_new"].pk}
    assert world["crit_new"].pk not in ids(apply("team=none")[1])
    assert ids(apply("repo=acme/web")[1]) == {world["crit_old"].pk}
    assert ids(apply("validity=valid")[1]) == {world["crit_old"].pk}
    assert ids(apply("reused=1")[1]) == {world["crit_new"].pk, world["crit_old"].pk}
    assert ids(apply("type=aws-access-key&status=dismissed")[1]) == {world["high_dismissed"].pk}


def test_it_filters_findings_no_longer_reported(world):
    Finding.objects.filter(pk=world["low_tests"].pk).update(missing_since=NOW)
    ff, qs = apply("missing=1")
    assert ids(qs) == {world["low_tests"].pk}
    assert ff.querystring() == "missing=1"
    assert world["low_tests"].pk not in ids(apply("missing=0")[1])
    assert len(ids(apply("missing=0")[1])) == len(world) - 1
    ff, _ = apply("missing=perhaps")
    assert ff.missing is None and ff.notes == ["Ignored missing “perhaps”: use 1 or 0."]


def test_a_repository_is_found_by_its_url_or_by_its_path(world, source):
    # Scanners store a repository as its URL (TruffleHog, GitHub) or as org/repo (gitleaks's
    # link): the filter's "org/repo" finds both, a URL only itself.
    https = make_finding(source, repo="https://github.com/Acme/Payments-API.git")
    other_host = make_finding(source, repo="https://gitlab.example.com/acme/payments-api/")
    lookalike = make_finding(source, repo="https://github.com/acme/payments-api-v2")
    plain = {world["crit_new"].pk, world["high_dismissed"].pk, world["low_tests"].pk}
    by_path = ids(apply("repo=acme/payments-api")[1])
    assert by_path == plain | {https.pk, other_host.pk}
    assert lookalike.pk not in by_path
    assert ids(apply("repo=payments-api")[1]) == plain | {https.pk, other_host.pk}
    url = "https://github.com/Acme/Payments-API.git"
    assert ids(apply(f"repo={url}")[1]) == {https.pk}
    assert ids(apply("repo=acme/nothing-here")[1]) == set()


def test_a_secrets_findings_and_a_bad_secret_number(world):
    crit = world["crit_new"].secret_id
    ff, qs = apply(f"secret={crit}&status=open")
    assert ids(qs) == {world["crit_new"].pk, world["crit_old"].pk}
    assert ("secret", str(crit)) in ff.params()
    assert (
        "secret" not in ff.querystring_without_secret
        and "status=open" in ff.querystring_without_secret
    )
    ff, qs = apply("secret=abc")
    assert ff.secret is None and ff.notes == ["Ignored secret “abc”: a secret's number."]


def test_search_finds_a_secrets_findings_by_its_key_id_or_arn(world):
    # An "exposed key" notice names the key id: the secret that has it as a reference (kept as
    # a keyed hash) and all its findings, in any case; part of one matches no reference.
    crit = world["crit_new"].secret
    for kind, value in (
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE"),
        ("arn", "arn:aws:iam::123456789012:user/ci-deploy"),
    ):
        SecretReference.objects.create(
            secret=crit, kind=kind, display=value[:8], value_hash=reference_hash(kind, value)
        )
    both = {world["crit_new"].pk, world["crit_old"].pk}
    assert ids(apply("q=akiaiosfodnn7example")[1]) == both
    assert ids(apply("q=arn:aws:iam::123456789012:user/ci-deploy")[1]) == both
    assert ids(apply("q=AKIAIOSFODNN7EXAMPLE&source=trufflehog")[1]) == {world["crit_old"].pk}
    assert ids(apply("q=AKIAIOSFODNN7")[1]) == set()


def test_it_searches_repo_path_and_rule_case_insensitively(world):
    assert ids(apply("q=TESTS/fixtures")[1]) == {world["low_tests"].pk}
    assert ids(apply("q=generic-API")[1]) == {world["low_tests"].pk}
    assert ids(apply("q=acme/web")[1]) == {world["crit_old"].pk}


def test_search_takes_wildcards_literally_and_combines_with_filters(world, source):
    literal = make_finding(source, path="docs/100%_done.md", repo="acme/docs")
    assert ids(apply("q=100%25_")[1]) == {literal.pk}  # "%" and "_" match only themselves
    assert ids(apply("q=%25")[1]) == {literal.pk}
    assert ids(apply("q=_done")[1]) == {literal.pk}
    assert ids(apply("q=acme&severity=low")[1]) == {
        f.pk for f in Finding.objects.filter(severity="low", repo__icontains="acme")
    }


def test_search_finds_findings_however_they_were_written(world, source):
    # Search reads the distinct values of repo/path/rule (hygiene.search_terms on
    # PostgreSQL); every way of writing findings must keep them complete: bulk inserts,
    # several findings per statement, values that repeat.
    Finding.objects.bulk_create(
        [
            Finding(
                secret=make_secret(),
                source=source,
                location_key=f"bulk-{i}",
                rule="zebra-token",
                secret_type="api-key",
                repo=f"acme/bulk-{i % 2}",
                path=f"deploy/values-{i}.yaml",
                first_seen_at=NOW,
            )
            for i in range(4)
        ]
    )
    assert len(ids(apply("q=ZEBRA")[1])) == 4
    assert len(ids(apply("q=acme/bulk-1")[1])) == 2
    assert len(ids(apply("q=values-3.yaml")[1])) == 1
    assert ids(apply("q=no-such-thing")[1]) == set()
    # An auditor's finding is found by its resource (an ARN: its user, its account).
    posture = Finding.objects.create(
        source=source,
        location_key="posture-1",
        category="posture",
        rule="iam_rotate_access_key_90_days",
        secret_type="key-rotation",
        resource="arn:aws:iam::123456789012:user/deploy-bot",
        account="123456789012",
        first_seen_at=NOW,
    )
    assert ids(apply("q=DEPLOY-BOT")[1]) == {posture.pk}
    assert posture.pk in ids(apply("q=123456789012")[1])


def test_it_filters_first_and_last_seen_dates(world):
    old_day = (NOW - timedelta(days=40)).date().isoformat()
    assert ids(apply(f"first_from={old_day}&first_to={old_day}")[1]) == {world["crit_old"].pk}
    future = (NOW + timedelta(days=2)).date().isoformat()
    assert ids(apply(f"last_from={future}")[1]) == set()


def test_it_ignores_bad_values_with_a_note(world):
    ff, qs = apply(
        "severity=critical,bogus&status=nope&age=forever&first_from=yesterday"
        "&sort=random&source=ghost&team=ghosts&reused=maybe"
    )
    assert ff.severity == ["critical"]
    assert ff.status == [] and ff.age == "" and ff.first_from is None and ff.sort == "newest"
    assert len(ff.notes) == 8
    assert any("bogus" in n for n in ff.notes)
    assert ids(qs) == {world["crit_new"].pk, world["crit_old"].pk}


def test_the_url_round_trips(world, team):
    ff = parse_filter(
        q(
            f"status=open&status=triaged&severity=critical&team={team.slug}"
            "&q=key&sort=severity&reused=0&pending=1&first_from=2026-01-02"
        )
    )
    again = parse_filter(q(ff.querystring()))
    assert again.params() == ff.params()
    assert "cursor=abc" in ff.querystring(cursor="abc")


def test_assignee_me_and_none(world, lead):
    Finding.objects.filter(pk=world["crit_new"].pk).update(assignee=lead)
    assert ids(apply("assignee=me", user=lead)[1]) == {world["crit_new"].pk}
    assert world["crit_new"].pk not in ids(apply("assignee=none", user=lead)[1])


@pytest.mark.parametrize("sort", ["newest", "oldest", "last_seen", "severity"])
def test_keyset_pages_walk_every_row_once_in_order(db, source, sort):
    sevs = ["critical", "high", "medium", "low", "info"]
    same_time = NOW - timedelta(hours=5)
    for i in range(23):
        # Ties on the sort key are broken by id.
        make_finding(
            source,
            severity=sevs[i % 5],
            first_seen_at=same_time if i % 3 == 0 else NOW - timedelta(minutes=i),
        )
    qs = Finding.objects.all()
    seen, pages, cursor = [], [], None
    while True:
        page = page_findings(qs, sort=sort, cursor=cursor, size=5)
        assert (page.prev_cursor is None) == (not pages)  # none on the first page only
        seen.extend(page.items)
        pages.append([f.pk for f in page.items])
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == 23 and len({f.pk for f in seen}) == 23
    # Previous page, from the last page back to the first: the same pages in reverse, and
    # each one's Next page leads to the page it was reached from.
    back, cursor = [], page.prev_cursor
    while cursor:
        previous = page_findings(qs, sort=sort, cursor=cursor, size=5)
        back.append([f.pk for f in previous.items])
        forward = page_findings(qs, sort=sort, cursor=previous.next_cursor, size=5)
        assert [f.pk for f in forward.items] == pages[len(pages) - len(back)]
        cursor = previous.prev_cursor
    assert back == pages[-2::-1]
    key = {
        "newest": lambda f: (-f.first_seen_at.timestamp(), -f.pk),
        "oldest": lambda f: (f.first_seen_at.timestamp(), f.pk),
        "last_seen": lambda f: (-f.last_seen_at.timestamp(), -f.pk),
        "severity": lambda f: (sevs.index(f.severity), -f.first_seen_at.timestamp(), -f.pk),
    }[sort]
    assert seen == sorted(seen, key=key)


def test_a_broken_or_foreign_cursor_is_refused(db):
    with pytest.raises(BadCursor):
        decode_cursor("not-base64!!", "newest")
    with pytest.raises(BadCursor):
        decode_cursor(encode_cursor(["oldest", NOW.isoformat(), 1]), "newest")
    with pytest.raises(BadCursor):
        decode_cursor(encode_cursor(["newest", "not a date", 1]), "newest")
    with pytest.raises(BadCursor):
        decode_cursor(encode_cursor(["severity", "ultra", NOW.isoformat(), 1]), "severity")


def test_counts_are_capped(db, source):
    for _ in range(4):
        make_finding(source)
    assert capped_count(Finding.objects.all(), cap=3) == (3, False)
    assert capped_count(Finding.objects.all(), cap=10) == (4, True)


def test_grouped_view_counts_occurrences_under_the_filter(world):
    _, qs = apply("status=open")
    groups = list(secret_groups(qs).order_by("-sighting__last_seen_at"))
    by_id = {s.pk: s.occurrences for s in groups}
    crit = world["crit_new"].secret_id
    assert by_id[crit] == 2
    assert world["high_dismissed"].secret_id not in by_id  # only dismissed findings
    _, only_new = apply("status=open&age=7d")
    assert {s.pk: s.occurrences for s in secret_groups(only_new)}[crit] == 1


def test_the_grouped_count_is_of_the_secrets_its_pages_list(db, source):
    """The pages read the secrets' sightings (newest seen first): a secret without one (made
    by hand, never imported) is neither listed nor counted, so the count and the pages agree."""
    listed = make_secret()
    make_finding(source, listed)
    unsighted = make_secret()
    make_finding(source, unsighted)
    SecretSighting.objects.filter(secret=unsighted).delete()
    groups = secret_groups(Finding.objects.all())
    page = page_secret_groups(groups)
    assert [s.pk for s in page.items] == [listed.pk]
    assert bounded_count(groups).n == 1


def test_grouped_pages_walk_every_secret(db, source):
    for _ in range(7):
        s = make_secret()
        make_finding(source, s)
        make_finding(source, s)
    seen, cursor, pages = [], None, []
    while True:
        page = page_secret_groups(secret_groups(Finding.objects.all()), cursor=cursor, size=3)
        seen.extend(page.items)
        pages.append([s.pk for s in page.items])
        cursor = page.next_cursor
        if not cursor:
            break
    assert len({s.pk for s in seen}) == 7
    assert all(s.occurrences == 2 for s in seen)
    groups = secret_groups(Finding.objects.all())
    back = page_secret_groups(groups, cursor=page.prev_cursor, size=3)
    assert [s.pk for s in back.items] == pages[-2]
    first = page_secret_groups(groups, cursor=back.prev_cursor, size=3)
    assert [s.pk for s in first.items] == pages[0] and first.prev_cursor is None


def test_paging_back_past_rows_that_are_gone_opens_the_first_page(db, source):
    findings = [make_finding(source, first_seen_at=NOW - timedelta(minutes=i)) for i in range(8)]
    qs = Finding.objects.all()
    page2 = page_findings(qs, sort="newest", cursor=None, size=3)
    page2 = page_findings(qs, sort="newest", cursor=page2.next_cursor, size=3)
    Finding.objects.filter(pk__in=[f.pk for f in findings[:3]]).delete()
    back = page_findings(qs, sort="newest", cursor=page2.prev_cursor, size=3)
    assert [f.pk for f in back.items] == [f.pk for f in findings[3:6]]
    assert back.prev_cursor is None


def test_csv_has_a_header_and_defuses_formulas(db, source):
    make_finding(source, rule='=HYPERLINK("http://evil")', path="a,b.py")
    rows = list(csv_rows(Finding.objects.all()))
    assert rows[0].startswith("id,severity,status")
    assert "'=HYPERLINK" in rows[1]
    assert '"a,b.py"' in rows[1]


def test_age_is_relative_to_now(db, source):
    f = make_finding(source, first_seen_at=NOW - timedelta(hours=20))
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        assert ids(apply("age=24h")[1]) == {f.pk}
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        assert ids(apply("age=24h")[1]) == set()
        assert ids(apply("age=older-30d")[1]) == set()


def test_a_slow_count_falls_back_to_the_planner_estimate(db, source):
    from django.db import connection

    from hygiene.filters import bounded_count

    for _ in range(3):
        make_finding(source)
    assert str(bounded_count(Finding.objects.all())) == "3"
    assert str(bounded_count(Finding.objects.all(), cap=2)) == "2+"
    slow = Finding.objects.extra(where=["pg_sleep(0.2) IS NOT NULL"])
    count = bounded_count(slow, budget_ms=20)
    assert count.estimated and str(count).startswith("≈")
    # The time budget doesn't outlive the count.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    assert Finding.objects.extra(where=["pg_sleep(0.05) IS NOT NULL"]).count() == 3


def test_a_search_matching_many_values_gives_the_same_findings(world, source, monkeypatch):
    # Past INLINE_TERMS matching values the search reads them in a subquery instead of
    # passing them as constants; the findings must be the same either way.
    from hygiene import search_terms

    for i in range(3):
        make_finding(source, path=f"charts/values-{i}.yaml")
    inline = ids(apply("q=.yaml")[1]) | ids(apply("q=acme")[1])
    monkeypatch.setattr(search_terms, "INLINE_TERMS", 1)
    assert ids(apply("q=.yaml")[1]) | ids(apply("q=acme")[1]) == inline
    assert len(ids(apply("q=.yaml")[1])) == 3
    assert ids(apply("q=acme")[1]) == {
        f.pk for f in Finding.objects.all() if "acme" in f"{f.repo}\n{f.path}\n{f.rule}".lower()
    }


@pytest.mark.parametrize("sort", ["newest", "oldest", "severity", "last_seen"])
def test_a_search_past_the_inlined_terms_pages_like_icontains(world, source, monkeypatch, sort):
    # More matching terms than are passed as constants (a monorepo's paths matching an
    # ordinary word): every page, in every order and with other filters, holds exactly what
    # icontains finds, and each row is tested with a hash probe per column (a hashed SubPlan),
    # not compared with every matching term (seconds a page past ~10,000 of them).
    from django.db import connection
    from django.db.models import Q

    from hygiene import search_terms

    sevs, statuses = ["critical", "high", "low"], ["open", "triaged", "resolved", "open"]
    for i in range(14):
        make_finding(
            source,
            path=f"svc{i}/App-CONFIG{i}.yaml",
            severity=sevs[i % 3],
            status=statuses[i % 4],
            first_seen_at=NOW - timedelta(hours=i % 5),  # ties: broken by id
        )
    make_finding(source, path="svc/readme.md", rule="config-rule", severity="critical")
    monkeypatch.setattr(search_terms, "INLINE_TERMS", 2)
    for filters in ("", "status=open", "severity=critical&status=open,triaged"):
        qs = apply(f"q=Config&{filters}&sort={sort}")[1]
        walked, cursor = [], None
        while True:
            page = page_findings(qs, sort=sort, cursor=cursor, size=4)
            walked.extend(f.pk for f in page.items)
            if not (cursor := page.next_cursor):
                break
        contains = Q()
        for column in ("repo", "path", "rule", "resource"):
            contains |= Q(**{f"{column}__icontains": "config"})
        expected = set(apply(filters)[1].filter(contains).values_list("pk", flat=True))
        assert len(walked) == len(set(walked)) and set(walked) == expected, filters
        assert len(expected) >= 3
    sql, params = apply("q=config")[1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count("hashed SubPlan") == 4, plan


def test_a_repository_named_by_a_common_name_is_found_past_the_inlined_terms(
    world, source, monkeypatch
):
    # More matching terms than are passed as constants (paths ending with the name too): the
    # query takes every match as a subquery, and the repository is still found.
    monkeypatch.setattr("hygiene.search_terms.INLINE_TERMS", 3)
    wanted = make_finding(source, repo="https://github.com/acme/api")
    for n in range(5):
        make_finding(source, path=f"svc{n}/api")
    assert wanted.pk in ids(apply("repo=api")[1])
    assert ids(apply("repo=/")[1]) == set()  # a slash alone names no repository
