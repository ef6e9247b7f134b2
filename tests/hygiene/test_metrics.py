"""Every metric checked exactly against numbers computed by hand from known timestamps.

The same tests run on PostgreSQL (the suite's database) and, through
``test_the_same_selectors_give_the_same_numbers_on_sqlite``, on SQLite in a subprocess.
"""

import os
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine

from hygiene import metrics
from hygiene.metrics import FilterError, MetricFilters, filters_from
from hygiene.models import Finding, Secret, SecretSighting, Source
from incidents.models import Incident, IncidentSecret, Playbook, Step
from tests.sqlite_run import assert_module_passes_on_sqlite

NOW = datetime(2025, 3, 31, tzinfo=UTC)  # a Monday
T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday, four weeks earlier
H = timedelta(hours=1)
D = timedelta(days=1)
ALL = MetricFilters()  # no date range, no filters
ON_SQLITE = os.environ.get("LEAKLINE_METRICS_SQLITE") == "1"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def make_incident(playbook, *, opened_at, severity, team, status="open", steps=(), **fields):
    """steps: (action, due after opening, completed after opening | None | "skip")."""
    incident = Incident.objects.create(
        title="leak",
        playbook=playbook,
        severity=severity,
        team=team,
        status=status,
        opened_at=opened_at,
        **fields,
    )
    for position, (action, due, done) in enumerate(steps, start=1):
        Step.objects.create(
            incident=incident,
            position=position,
            action=action,
            title=action,
            deadline=due,
            started_at=opened_at,
            due_at=opened_at + due,
            due_soon_at=opened_at + due * 0.75,
            completed_at=opened_at + done if isinstance(done, timedelta) else None,
            skipped_at=opened_at + H if done == "skip" else None,
        )
    return incident


def make_secret(fingerprint, secret_type, *, seen, reused=False, team=None, exposed=None):
    secret = Secret.objects.create(
        fingerprint=fingerprint,
        secret_type=secret_type,
        reused=reused,
        team=team,
        first_seen_at=seen,
        exposed_since=exposed or seen,
    )
    SecretSighting.objects.create(secret=secret, last_seen_at=seen)
    return secret


def make_finding(key, *, source, secret, seen, status="open", resolution="", closed=None, **kw):
    return Finding.objects.create(
        source=source,
        secret=secret,
        location_key=key,
        rule=kw.pop("rule", "aws-access-token"),
        secret_type=secret.secret_type,
        status=status,
        resolution=resolution,
        resolved_at=closed,
        first_seen_at=seen,  # and last seen then: no sighting since
        **kw,
    )


@pytest.fixture
def world(db, team, other_team, source):
    """Six incidents (A-F) and eight findings; the expected numbers are worked out in each
    test. Step tuples: (action, due after opening, done after opening)."""
    playbook = Playbook.objects.create(slug="generic", name="Generic")
    truffle = Source.objects.create(slug="trufflehog", name="TruffleHog", kind="scanner")
    s_b = make_secret(
        "b" * 64, "aws-access-key", seen=T0 - 2 * D, reused=True, team=team, exposed=T0 - D
    )
    s_x = make_secret("x" * 64, "api-key", seen=NOW - 30 * D, team=team)
    s_y = make_secret("y" * 64, "api-key", seen=NOW - 20 * D, reused=True, team=other_team)
    a = make_incident(
        playbook,
        opened_at=T0,
        severity="critical",
        team=team,
        status="remediated",
        exposed_since=T0 - 30 * D,
        remediated_at=T0 + 10 * H,
        steps=[("revoke", 4 * H, 2 * H), ("rotate", 8 * H, 10 * H), ("notify", 24 * H, 1 * H)],
    )
    b = make_incident(
        playbook,
        opened_at=T0 + D,
        severity="high",
        team=team,
        status="contained",
        steps=[("revoke", 4 * H, 6 * H), ("rotate", 24 * H, 20 * H), ("notify", 24 * H, None)],
    )
    IncidentSecret.objects.create(incident=b, secret=s_b)
    c = make_incident(
        playbook,
        opened_at=T0 + 2 * D,
        severity="critical",
        team=other_team,
        status="closed",
        exposed_since=T0 + 2 * D - 365 * D,
        remediated_at=T0 + 2 * D + 48 * H,
        closed_at=T0 + 2 * D + 50 * H,
        steps=[
            ("revoke", 4 * H, 4 * H),
            ("rotate", 8 * H, "skip"),
            ("notify", 24 * H, timedelta(minutes=30)),
        ],
    )
    d = make_incident(
        playbook,
        opened_at=NOW - 2 * H,
        severity="high",
        team=team,
        steps=[("revoke", 4 * H, None)],
    )
    e = make_incident(
        playbook,
        opened_at=T0 + 4 * D,
        severity="low",
        team=team,
        status="closed",
        exposed_since=T0 + 4 * D - H,
        contained_at=T0 + 4 * D + H,
        remediated_at=T0 + 4 * D + 100 * H,
        closed_at=T0 + 4 * D + 101 * H,
        steps=[("notify", 24 * H, 30 * H)],
    )
    f = make_incident(
        playbook,
        opened_at=T0 + 5 * D,
        severity="medium",
        team=team,
        status="closed",
        closed_at=T0 + 5 * D + 72 * H,
        steps=[("revoke", 8 * H, None)],
    )
    make_finding("f1", source=source, secret=s_x, seen=NOW - 12 * H, team=team)
    make_finding("f2", source=source, secret=s_x, seen=NOW - D, status="triaged", team=team)
    make_finding("f3", source=source, secret=s_y, seen=NOW - 10 * D, team=other_team)
    make_finding("f4", source=source, secret=s_y, seen=NOW - 45 * D, team=other_team)
    make_finding("f5", source=truffle, secret=s_b, seen=NOW - 200 * D, team=team)
    make_finding(
        "f6",
        source=source,
        secret=s_x,
        seen=NOW - 3 * D,
        status="resolved",
        resolution="fixed",
        closed=NOW - 2 * D,
    )
    make_finding(
        "f7",
        source=source,
        secret=s_x,
        seen=NOW - 5 * D,
        status="dismissed",
        resolution="false_positive",
        closed=NOW - 4 * D,
        rule="generic-api-key",
    )
    make_finding(
        "f8",
        source=source,
        secret=s_x,
        seen=NOW - 5 * D,
        status="dismissed",
        resolution="used_in_tests",
        closed=NOW - D,
        rule="generic-api-key",
    )
    return SimpleNamespace(a=a, b=b, c=c, d=d, e=e, f=f, truffle=truffle, team=team)


def kinds(result):
    return {k["kind"]: k for k in result["kinds"]}


# --- time to revoke / rotate / notify / remediate -------------------------------------------


def test_time_to_each_step_has_exact_percentiles(world, frozen):
    result = metrics.time_to_remediate(ALL)
    by = kinds(result)
    assert result["incidents"] == 6
    # revoke: A 2 h, B 6 h, C 4 h (E has no revoke step) → 7200, 14400, 21600 s.
    # p50: rank 0.5·2 = 1 → 14400. p90: rank 1.8 → 14400 + 0.8·7200 = 20160.
    assert by["revoke"] | {"histogram": None} == {
        "kind": "revoke",
        "n": 3,
        "mean": 14400.0,
        "p50": 14400.0,
        "p90": 20160.0,
        "min": 7200.0,
        "max": 21600.0,
        "histogram": None,
    }
    # 7200 s in "1-4 h", 14400 and 21600 in "4-24 h" (bins include their lower bound).
    assert by["revoke"]["histogram"] == [0, 1, 2, 0, 0, 0, 0, 0]
    # rotate: A 10 h, B 20 h (C skipped) → p50 = 54000, p90 = 36000 + 0.9·36000 = 68400.
    assert (by["rotate"]["n"], by["rotate"]["p50"], by["rotate"]["p90"]) == (2, 54000.0, 68400.0)
    # notify: A 1 h, C 30 min, E 30 h → 1800, 3600, 108000.
    # p50 = 3600; p90: rank 1.8 → 3600 + 0.8·104400 = 87120.
    assert (by["notify"]["n"], by["notify"]["p50"], by["notify"]["p90"]) == (3, 3600.0, 87120.0)
    assert by["notify"]["mean"] == 37800.0
    # remediate: A 10 h, C 48 h, E 100 h → 36000, 172800, 360000;
    # p90: rank 1.8 → 172800 + 0.8·187200 = 322560; mean 189600.
    assert by["remediate"] | {"histogram": None} == {
        "kind": "remediate",
        "n": 3,
        "mean": 189600.0,
        "p50": 172800.0,
        "p90": 322560.0,
        "min": 36000.0,
        "max": 360000.0,
        "histogram": None,
    }
    assert by["remediate"]["histogram"] == [0, 0, 1, 1, 1, 0, 0, 0]


def test_time_to_counts_the_first_completed_step_of_an_action(world, frozen):
    # A second revoke step for A, done later, changes nothing; one done earlier wins.
    Step.objects.create(
        incident=world.a,
        position=9,
        action="revoke",
        title="revoke sessions",
        deadline=4 * H,
        started_at=T0,
        due_at=T0 + 4 * H,
        due_soon_at=T0 + 3 * H,
        completed_at=T0 + 3 * H,
    )
    assert kinds(metrics.time_to_remediate(ALL))["revoke"]["min"] == 7200.0
    Step.objects.filter(incident=world.a, position=9).update(completed_at=T0 + H / 2)
    assert kinds(metrics.time_to_remediate(ALL))["revoke"]["min"] == 1800.0


def test_percentile_of_a_single_value_is_that_value(world, frozen):
    only_c = MetricFilters(team="platform", team_id=world.c.team_id)
    by = kinds(metrics.time_to_remediate(only_c))
    assert (by["revoke"]["n"], by["revoke"]["p50"], by["revoke"]["p90"]) == (1, 14400.0, 14400.0)
    assert by["rotate"] == {**by["rotate"], "n": 0, "p50": None}


def test_durations_round_halves_up_on_both_databases(world, frozen):
    from hygiene.models import Team

    halves = Team.objects.create(name="Halves", slug="halves")
    make_incident(
        Playbook.objects.get(slug="generic"),
        opened_at=T0,
        severity="low",
        team=halves,
        steps=[
            ("revoke", 4 * H, timedelta(seconds=2.5)),
            ("rotate", 4 * H, timedelta(seconds=3.5)),
        ],
    )
    by = kinds(metrics.time_to_remediate(MetricFilters(team="halves", team_id=halves.pk)))
    assert (by["revoke"]["min"], by["rotate"]["min"]) == (3.0, 4.0)  # not 2 (half to even)


# --- exposure window -------------------------------------------------------------------------


def test_an_exposure_recorded_after_the_revocation_is_a_window_of_zero(world, frozen):
    from hygiene.models import Team

    late = Team.objects.create(name="Late", slug="late")
    make_incident(
        Playbook.objects.get(slug="generic"),
        opened_at=T0,
        severity="low",
        team=late,
        exposed_since=T0 + 10 * H,  # after the revoke, 2 h in
        steps=[("revoke", 4 * H, 2 * H)],
    )
    result = metrics.exposure(MetricFilters(team="late", team_id=late.pk), now=NOW)
    assert (result["revoked"]["n"], result["revoked"]["min"]) == (1, 0.0)


def test_exposure_runs_from_first_exposure_to_revocation(world, frozen):
    result = metrics.exposure(ALL)
    # A: exposed 30 d before opening, revoked 2 h after → 2599200 s.
    # B: no incident exposed_since → its secret's (T0 - 1 d, 2 d before B opened); revoked 6 h
    # after opening → 194400.
    # C: exposed a year before, revoked at 4 h → 31550400.
    # E: no revoke step; contained 1 h after opening, exposed 1 h before → 7200.
    # Sorted: 7200, 194400, 2599200, 31550400. p50 = (194400 + 2599200) / 2 = 1396800.
    # p90: rank 2.7 → 2599200 + 0.7·28951200 = 22865040.
    assert result["revoked"] == {
        "n": 4,
        "mean": 8587800.0,
        "p50": 1396800.0,
        "p90": 22865040.0,
        "min": 7200.0,
        "max": 31550400.0,
    }
    # 2 h → "1-4 h", 2.25 d → "1-3 d", 30.1 d → "30-365 d", 365.2 d → "> 1 y".
    assert result["histogram"] == [0, 1, 0, 1, 0, 0, 1, 1]
    # D (2 h old) and F (opened 26 d ago, closed unrevoked) are still exposed; F the longest.
    assert result["unrevoked"] == 2
    assert result["longest_unrevoked"] == (NOW - (T0 + 5 * D)).total_seconds()


# --- SLA attainment ----------------------------------------------------------------------------


def test_sla_attainment_per_action_and_severity(world, frozen):
    result = metrics.sla(ALL)
    actions = {a["action"]: a for a in result["actions"]}
    # revoke: A, C on time (C exactly at due_at), B late, D not yet due, F's incident closed.
    assert actions["revoke"] == {
        "action": "revoke",
        "total": 5,
        "on_time": 2,
        "late": 1,
        "overdue": 0,
        "pending": 2,
        "skipped": 0,
        "on_time_share": 0.6667,
        "overdue_share": 0.0,
    }
    # rotate: B on time, A late, C skipped (left out of the shares).
    assert (actions["rotate"]["on_time_share"], actions["rotate"]["skipped"]) == (0.5, 1)
    # notify: A, C on time, E late, B overdue now.
    assert actions["notify"] == {
        "action": "notify",
        "total": 4,
        "on_time": 2,
        "late": 1,
        "overdue": 1,
        "pending": 0,
        "skipped": 0,
        "on_time_share": 0.5,
        "overdue_share": 0.25,
    }
    assert result["overall"] == {
        "total": 12,
        "on_time": 5,
        "late": 3,
        "overdue": 1,
        "pending": 2,
        "skipped": 1,
        "on_time_share": 0.5556,
        "overdue_share": 0.1111,
    }
    cells = {(c["action"], c["severity"]): c for c in result["cells"]}
    assert cells[("revoke", "critical")]["on_time_share"] == 1.0
    assert cells[("revoke", "high")]["on_time_share"] == 0.0
    assert cells[("revoke", "high")]["pending"] == 1
    assert cells[("notify", "high")]["overdue_share"] == 1.0
    assert [c["action"] for c in result["cells"]][:3] == ["revoke", "revoke", "revoke"]


def test_sla_a_paused_incident_stops_its_clock(world, frozen):
    # B paused before its notify step fell due: not overdue now, still pending.
    Incident.objects.filter(pk=world.b.pk).update(paused_at=T0 + D + 2 * H)
    notify = {a["action"]: a for a in metrics.sla(ALL)["actions"]}["notify"]
    assert (notify["overdue"], notify["pending"]) == (0, 1)


def test_sla_overdue_moves_with_time(world):
    # B's notify step falls due 24 h after B opened (T0 + 1 d): overdue from that instant.
    assert metrics.sla(ALL, now=T0 + D + 23 * H)["overall"]["overdue"] == 0
    assert metrics.sla(ALL, now=T0 + D + 24 * H)["overall"]["overdue"] == 1


# --- Kaplan-Meier ------------------------------------------------------------------------------


def test_survival_curve_counts_open_incidents_as_censored(world, frozen):
    result = metrics.survival(ALL)
    # Hours to remediation: A 10, C 48, E 100 (events). Censored: D at 2 (open, 2 h old),
    # F at 72 (closed unremediated), B at 648 (open for 27 d).
    # S(10) = 5/6·… : at risk 5 → 1 - 1/5 = 0.8; S(48) = 0.8·(1 - 1/4) = 0.6;
    # S(100) = 0.6·(1 - 1/2) = 0.3.
    assert result["points"] == [
        {"hours": 2, "at_risk": 6, "events": 0, "censored": 1, "survival": 1.0},
        {"hours": 10, "at_risk": 5, "events": 1, "censored": 0, "survival": 0.8},
        {"hours": 48, "at_risk": 4, "events": 1, "censored": 0, "survival": 0.6},
        {"hours": 72, "at_risk": 3, "events": 0, "censored": 1, "survival": 0.6},
        {"hours": 100, "at_risk": 2, "events": 1, "censored": 0, "survival": 0.3},
        {"hours": 648, "at_risk": 1, "events": 0, "censored": 1, "survival": 0.3},
    ]
    assert result["median_hours"] == 100
    assert result["incidents"] == 6


def test_survival_ties_an_event_and_a_censoring_in_the_same_hour(world, frozen):
    # F censored at 72 h; make C's remediation fall in hour 72 too: censored stay at risk.
    Incident.objects.filter(pk=world.c.pk).update(remediated_at=world.c.opened_at + 72.5 * H)
    points = {p["hours"]: p for p in metrics.survival(ALL)["points"]}
    # at risk at 72: C, F, E, B = 4; one event → S = 0.8·(1 - 1/4) = 0.6.
    assert points[72] == {"hours": 72, "at_risk": 4, "events": 1, "censored": 1, "survival": 0.6}
    assert points[100]["survival"] == 0.3


# --- backlog -----------------------------------------------------------------------------------


def test_backlog_by_age_bucket(world, frozen):
    result = metrics.backlog(ALL)
    assert result["buckets"] == ["< 1 d", "1-7 d", "7-30 d", "30-90 d", "> 90 d"]
    # Open/triaged findings: 12 h, exactly 1 d (lower bound → 1-7 d), 10 d, 45 d, 200 d.
    assert result["findings"] == [1, 1, 1, 1, 1]
    # Open incidents (not closed): D 2 h, B 27 d, A 28 d.
    assert result["incidents"] == [1, 0, 2, 0, 0]


def test_backlog_ages_as_time_passes(world):
    with time_machine.travel(NOW + 70 * D, tick=False):
        result = metrics.backlog(ALL)
    assert result["findings"] == [0, 0, 0, 3, 2]
    assert result["incidents"] == [0, 0, 0, 1, 2]


def test_backlog_ignores_the_date_range_but_not_the_team(world, frozen):
    narrow = filters_from({"since": "2025-03-30", "until": "2025-03-30", "team": "payments"})
    result = metrics.backlog(narrow)
    assert result["findings"] == [1, 1, 0, 0, 1]
    assert result["incidents"] == [1, 0, 2, 0, 0]


# --- trend, breakdowns, reuse, noise ----------------------------------------------------------


def test_trend_opened_and_resolved_per_week(world, frozen):
    weeks = {w["week"]: w for w in metrics.trend(ALL)["weeks"]}
    # Every week from the first event's to this one (31 March), quiet ones as zeros.
    assert list(weeks) == [(date(2024, 9, 9) + n * 7 * D).isoformat() for n in range(30)]
    assert weeks["2024-09-16"] == {"week": "2024-09-16", **dict.fromkeys(metrics.TREND_KEYS, 0)}
    assert weeks["2025-03-03"] == {
        "week": "2025-03-03",
        "incidents_opened": 5,
        "incidents_remediated": 2,
        "findings_opened": 0,
        "findings_closed": 0,
    }
    assert weeks["2025-03-10"]["incidents_remediated"] == 1  # E, 100 h after 7 March
    assert weeks["2025-03-24"] == {
        "week": "2025-03-24",
        "incidents_opened": 1,
        "incidents_remediated": 0,
        "findings_opened": 5,
        "findings_closed": 3,
    }
    assert weeks["2024-09-09"]["findings_opened"] == 1


def test_trend_filters_each_series_on_its_own_date(world, frozen):
    # 10 March onwards: E's remediation counts though E was opened the week before.
    result = metrics.trend(MetricFilters(since=date(2025, 3, 10)))
    weeks = {w["week"]: w for w in result["weeks"]}
    assert "2025-03-03" not in weeks
    assert weeks["2025-03-10"]["incidents_remediated"] == 1


def test_trend_has_every_week_of_a_filtered_range_with_zeros(world, frozen):
    # Payments' high incidents from 1 January: the chart starts on 1 January's week and runs
    # to 31 March's, with zeros for weeks with nothing (not only the weeks with events).
    params = {"since": "2025-01-01", "until": "2025-03-31", "team": "payments"}
    weeks = metrics.trend(filters_from({**params, "severity": "high"}))["weeks"]
    assert [w["week"] for w in weeks] == [
        (date(2024, 12, 30) + n * 7 * D).isoformat() for n in range(14)
    ]
    assert weeks[0] == {"week": "2024-12-30", **dict.fromkeys(metrics.TREND_KEYS, 0)}
    # No To: up to this week; no data at all still gives the range's weeks.
    weeks = metrics.trend(filters_from({"since": "2025-03-10", "secret_type": "jwt"}))["weeks"]
    assert [w["week"] for w in weeks] == ["2025-03-10", "2025-03-17", "2025-03-24", "2025-03-31"]
    assert not any(w[k] for w in weeks for k in metrics.TREND_KEYS)
    # All time with nothing at all: no weeks.
    assert metrics.trend(filters_from({"since": "", "secret_type": "jwt"}))["weeks"] == []
    # A range of centuries: its last ten years of weeks (53,744 weeks before, for 1970-2999).
    for narrowed in ({}, {"team": "payments"}):
        params = {"since": "1970-01-01", "until": "2999-12-31", **narrowed}
        weeks = metrics.trend(filters_from(params))["weeks"]
        assert len(weeks) == metrics.TREND_WEEKS + 1
        assert weeks[-1]["week"] == "2999-12-30"


def test_trend_of_a_team_or_source_counts_only_its_findings(world, frozen):
    # Narrowed, the findings are grouped per week (all findings: counted per week range).
    def findings(**params):
        weeks = metrics.trend(filters_from({"since": "", **params}))["weeks"]
        return {
            w["week"]: (w["findings_opened"], w["findings_closed"])
            for w in weeks
            if w["findings_opened"] or w["findings_closed"]
        }

    assert findings(team="payments") == {"2024-09-09": (1, 0), "2025-03-24": (2, 0)}  # f5; f1 f2
    assert findings(team="platform") == {"2025-02-10": (1, 0), "2025-03-17": (1, 0)}  # f4; f3
    assert findings(source="trufflehog") == {"2024-09-09": (1, 0)}
    assert findings(source="gitleaks-ci") == {
        "2025-02-10": (1, 0),
        "2025-03-17": (1, 0),
        "2025-03-24": (5, 3),  # f1 f2 f6 f7 f8; closed f6 f7 f8
    }
    # From 27 March: opened f1 f2 f6; closed f6 (29th), f7 (27th), f8 (30th).
    assert findings(source="gitleaks-ci", since="2025-03-27") == {"2025-03-24": (3, 3)}
    assert findings(severity="critical") == {}


def test_findings_per_source_and_type(world, frozen):
    rows = metrics.findings_breakdown(ALL)["rows"]
    assert rows == [
        {
            "source": "gitleaks-ci",
            "source_name": "gitleaks in CI",
            "secret_type": "api-key",
            "findings": 7,
        },
        {
            "source": "trufflehog",
            "source_name": "TruffleHog",
            "secret_type": "aws-access-key",
            "findings": 1,
        },
    ]


def test_reused_secrets(world, frozen):
    result = metrics.reused_secrets(ALL)
    assert (result["secrets"], result["reused"]) == (3, 2)
    assert result["rows"] == [
        {"secret_type": "api-key", "secrets": 2, "reused": 1, "reused_share": 0.5},
        {"secret_type": "aws-access-key", "secrets": 1, "reused": 1, "reused_share": 1.0},
    ]


def test_noise_is_the_false_positive_share_of_closed_findings(world, frozen):
    result = metrics.noise(ALL)
    # gitleaks-ci: 7 findings, 3 closed (fixed, false positive, used in tests), 1 FP.
    assert result["sources"][0] == {
        "source": "gitleaks-ci",
        "findings": 7,
        "closed": 3,
        "false_positives": 1,
        "fp_share": 0.3333,
    }
    assert result["sources"][1]["fp_share"] is None  # trufflehog: nothing closed yet
    assert result["rules"][0] == {
        "source": "gitleaks-ci",
        "rule": "generic-api-key",
        "findings": 2,
        "closed": 2,
        "false_positives": 1,
        "fp_share": 0.5,
    }


# --- filters ---------------------------------------------------------------------------------


def test_filters_narrow_every_incident_metric(world, frozen):
    def revoke_n(**params):
        return kinds(metrics.time_to_remediate(filters_from(params)))["revoke"]["n"]

    assert revoke_n(since="", until="") == 3
    assert revoke_n(since="2025-03-04", until="2025-03-05") == 2  # B, C
    assert revoke_n(since="", team="platform") == 1  # C
    assert revoke_n(since="", severity="high") == 1  # B (D not revoked)
    assert revoke_n(since="", secret_type="aws-access-key") == 1  # B, through its secret
    assert revoke_n(since="", source="trufflehog") == 1  # B: trufflehog reported its secret
    assert revoke_n(since="", source="gitleaks-ci") == 0
    # Narrowed by a range holding every incident (their steps joined to them) or not narrowed
    # at all (all steps grouped first): the same distributions.
    wide = filters_from({"since": "2000-01-01", "until": "2025-12-31"})
    assert metrics.time_to_remediate(wide) == metrics.time_to_remediate(ALL)
    assert metrics.exposure(wide, now=NOW) == metrics.exposure(ALL, now=NOW)


def test_filters_narrow_findings(world, frozen):
    noise = metrics.noise(filters_from({"since": "", "source": "trufflehog"}))
    assert [r["source"] for r in noise["sources"]] == ["trufflehog"]
    rows = metrics.findings_breakdown(filters_from({"since": "2025-03-25", "until": ""}))["rows"]
    assert rows[0]["findings"] == 5  # f1, f2, f6, f7, f8


def test_default_range_is_the_last_90_days(db):
    f = filters_from({}, today=date(2025, 3, 31))
    assert (f.since, f.until) == (date(2025, 1, 1), None)
    assert filters_from({"since": ""}).since is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since: expected a date"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "since: must not be after until"),
        ({"severity": "urgent"}, "severity: one of"),
        ({"secret_type": "nope"}, "secret_type: unknown"),
        ({"team": "nobody"}, "team: no team"),
        ({"source": "nowhere"}, "source: no source"),
    ],
)
def test_bad_filters_say_what_is_wrong(db, params, message):
    with pytest.raises(FilterError, match=message):
        filters_from(params)


def test_empty_database_gives_empty_metrics(db, frozen):
    assert kinds(metrics.time_to_remediate(ALL))["revoke"]["p50"] is None
    assert metrics.exposure(ALL)["revoked"]["n"] == 0
    assert metrics.sla(ALL)["overall"]["on_time_share"] is None
    assert metrics.survival(ALL) == {"incidents": 0, "median_hours": None, "points": []}
    assert metrics.backlog(ALL)["findings"] == [0, 0, 0, 0, 0]


def test_headline_and_manager_dashboard(world, frozen, manager):
    head = metrics.headline(MetricFilters())
    assert head["revoke_p50"] == 14400.0
    assert head["sla_on_time"] == 0.5556
    assert head["exposure_p50"] == 1396800.0
    assert head["findings"]["open"] == 5
    assert head["incidents"]["open"] == 3
    context = metrics.manager_dashboard(manager)
    assert context["backlog"]["findings"] == [1, 1, 1, 1, 1]


# --- the same on SQLite -----------------------------------------------------------------------


def test_the_database_is_the_one_this_run_is_for(db):
    from django.db import connection

    assert connection.vendor == ("sqlite" if ON_SQLITE else connection.vendor)


def test_the_same_selectors_give_the_same_numbers_on_sqlite(tmp_path):
    """Runs this module's tests against an SQLite database in a subprocess (the backend is
    chosen when settings load): percentiles take the ROW_NUMBER() path there. Inside that run
    this test is deselected (-k), not skipped."""
    if ON_SQLITE:
        raise AssertionError("the SQLite run must deselect this test")
    assert_module_passes_on_sqlite(
        __file__, tmp_path, flag="LEAKLINE_METRICS_SQLITE", deselect="on_sqlite"
    )


def test_an_end_without_a_start_is_the_ninety_days_ending_there():
    """The page and the API read ``until`` alone alike: the default range ends there (it was
    all time up to it for the API); ``since=`` (empty) still means no lower bound."""
    today = date(2026, 5, 1)
    assert (filters_from({}, today=today).since, filters_from({}, today=today).until) == (
        date(2026, 2, 1),
        None,
    )
    ended = filters_from({"until": "2026-03-31"}, today=today)
    assert (ended.since, ended.until) == (date(2026, 1, 1), date(2026, 3, 31))
    assert filters_from({"since": "", "until": "2026-03-31"}, today=today).since is None
