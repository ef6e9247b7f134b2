"""Hygiene metrics, computed in SQL (definitions: docs/metrics.md).

Every selector takes a ``MetricFilters`` and runs one or a few aggregate queries; no selector
loads incidents or findings into Python. Durations are whole seconds. Percentiles use
percentile_cont's definition (linear interpolation between the two nearest ranks): PostgreSQL
runs percentile_cont itself, SQLite an equivalent ROW_NUMBER() query, and the tests check both
against hand-computed numbers.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncWeek
from django.utils import timezone

from hygiene.models import Finding, FindingStatus, Resolution, Secret, Source, Team
from hygiene.taxonomy import SecretType, Severity
from incidents.models import Incident, IncidentSecret, IncidentStatus, Step, StepAction

DEFAULT_DAYS = 90
MAX_RANGE_DAYS = 3660
TIME_TO_KINDS = ("revoke", "rotate", "notify", "remediate")
SLA_ACTIONS = [a.value for a in StepAction]
SEVERITIES = [s.value for s in Severity]
HOUR = 3600
DAY = 86400
# Histogram bins for durations: (label, upper bound in seconds, exclusive); the last is open.
DURATION_BINS = [
    ("< 1 h", HOUR),
    ("1-4 h", 4 * HOUR),
    ("4-24 h", DAY),
    ("1-3 d", 3 * DAY),
    ("3-7 d", 7 * DAY),
    ("7-30 d", 30 * DAY),
    ("30-365 d", 365 * DAY),
    ("> 1 y", None),
]
AGE_BUCKETS = [("< 1 d", 1), ("1-7 d", 7), ("7-30 d", 30), ("30-90 d", 90), ("> 90 d", None)]
TABLE_LIMIT = 50


class FilterError(ValueError):
    """A filter value that can't be used; the message says which and why."""


@dataclass(frozen=True)
class MetricFilters:
    """Date range (inclusive days, UTC), team, severity, secret type and source. ``team`` and
    ``source`` are slugs; their ids are resolved once by ``filters_from``."""

    since: date | None = None
    until: date | None = None
    team: str = ""
    severity: str = ""
    secret_type: str = ""
    source: str = ""
    team_id: int | None = field(default=None, compare=False)
    source_id: int | None = field(default=None, compare=False)

    @property
    def start(self) -> datetime | None:
        return _day_start(self.since) if self.since else None

    @property
    def end(self) -> datetime | None:
        """Exclusive end: midnight after ``until``."""
        return _day_start(self.until + timedelta(days=1)) if self.until else None

    def as_params(self) -> dict[str, str]:
        """The filters as URL/query parameters (what ``filters_from`` reads back)."""
        return {
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "team": self.team,
            "severity": self.severity,
            "secret_type": self.secret_type,
            "source": self.source,
        }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _parse_date(name: str, value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FilterError(
            f"{name}: expected a date like 2025-01-31, got {str(value)[:40]!r}"
        ) from None


def filters_from(params: Mapping, *, today: date | None = None) -> MetricFilters:
    """Filters from query parameters. Without ``since`` and ``until`` the range is the last
    90 days (today included); an empty ``since=`` means no lower bound."""
    today = today or timezone.localdate()
    since = _parse_date("since", params.get("since"))
    until = _parse_date("until", params.get("until"))
    if "since" not in params and "until" not in params:
        since = today - timedelta(days=DEFAULT_DAYS - 1)
    if since and until and since > until:
        raise FilterError("since: must not be after until")
    severity = (params.get("severity") or "").strip()
    if severity and severity not in SEVERITIES:
        raise FilterError(f"severity: one of {', '.join(SEVERITIES)}")
    secret_type = (params.get("secret_type") or "").strip()
    if secret_type and secret_type not in SecretType.values:
        raise FilterError(f"secret_type: unknown secret type {secret_type[:40]!r}")
    team = (params.get("team") or "").strip()
    team_id = None
    if team:
        team_id = Team.objects.filter(slug=team).values_list("id", flat=True).first()
        if team_id is None:
            raise FilterError(f"team: no team {team[:40]!r}")
    source = (params.get("source") or "").strip()
    source_id = None
    if source:
        source_id = Source.objects.filter(slug=source).values_list("id", flat=True).first()
        if source_id is None:
            raise FilterError(f"source: no source {source[:40]!r}")
    return MetricFilters(
        since=since,
        until=until,
        team=team,
        severity=severity,
        secret_type=secret_type,
        source=source,
        team_id=team_id,
        source_id=source_id,
    )


def default_filters() -> MetricFilters:
    return filters_from({})


# ---------------------------------------------------------------------------------------------
# Filtered querysets (the one definition of what each filter means)


def incidents_filtered(f: MetricFilters, *, dates: bool = True) -> QuerySet[Incident]:
    """Incidents opened in the date range, of the team and severity, handling a secret of the
    type, or a secret that the source reported."""
    qs = Incident.objects.all()
    if dates and f.start:
        qs = qs.filter(opened_at__gte=f.start)
    if dates and f.end:
        qs = qs.filter(opened_at__lt=f.end)
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.secret_type:
        qs = qs.filter(
            Exists(
                IncidentSecret.objects.filter(
                    incident_id=OuterRef("pk"), secret__secret_type=f.secret_type
                )
            )
        )
    if f.source_id:
        qs = qs.filter(
            Exists(
                Finding.objects.filter(
                    source_id=f.source_id,
                    secret_id__in=IncidentSecret.objects.filter(
                        incident_id=OuterRef(OuterRef("pk"))
                    ).values("secret_id"),
                )
            )
        )
    return qs


def findings_filtered(f: MetricFilters, *, date_field: str | None = "first_seen_at") -> QuerySet:
    qs = Finding.objects.all()
    if date_field and f.start:
        qs = qs.filter(**{f"{date_field}__gte": f.start})
    if date_field and f.end:
        qs = qs.filter(**{f"{date_field}__lt": f.end})
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.secret_type:
        qs = qs.filter(secret_type=f.secret_type)
    if f.source_id:
        qs = qs.filter(source_id=f.source_id)
    return qs


def secrets_filtered(f: MetricFilters) -> QuerySet[Secret]:
    qs = Secret.objects.all()
    if f.start:
        qs = qs.filter(first_seen_at__gte=f.start)
    if f.end:
        qs = qs.filter(first_seen_at__lt=f.end)
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.secret_type:
        qs = qs.filter(secret_type=f.secret_type)
    if f.source_id:
        qs = qs.filter(
            Exists(Finding.objects.filter(secret_id=OuterRef("pk"), source_id=f.source_id))
        )
    return qs


# ---------------------------------------------------------------------------------------------
# Portable SQL pieces


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _secs(later: str, earlier: str) -> str:
    """Whole seconds from ``earlier`` to ``later`` (SQL expressions)."""
    if _is_postgres():
        return f"ROUND(EXTRACT(EPOCH FROM ({later}) - ({earlier})))::float8"
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0)"


def _dt(value: datetime):
    """A datetime as a raw-SQL parameter (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def _incident_where(f: MetricFilters, *, dates: bool = True) -> tuple[str, list]:
    """SQL condition on incidents aliased ``i`` for the filters, and its parameters. Plain
    columns are compared directly (index-friendly); type and source go through the ORM's
    EXISTS subqueries so that both paths share one definition."""
    clauses, params = [], []
    if dates and f.start:
        clauses.append("i.opened_at >= %s")
        params.append(_dt(f.start))
    if dates and f.end:
        clauses.append("i.opened_at < %s")
        params.append(_dt(f.end))
    if f.team_id:
        clauses.append("i.team_id = %s")
        params.append(f.team_id)
    if f.severity:
        clauses.append("i.severity = %s")
        params.append(f.severity)
    if f.secret_type or f.source_id:
        narrow = replace(f, since=None, until=None, team_id=None, severity="")
        sub, sub_params = incidents_filtered(narrow).order_by().values("pk").query.sql_with_params()
        clauses.append(f"i.id IN ({sub})")
        params.extend(sub_params)
    return " AND ".join(clauses) or "1 = 1", params


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _summaries(cte: str, params: list) -> dict[str, dict]:
    """n, mean, p50, p90, min, max of ``d(grp, x)`` per ``grp``; ``cte`` defines ``d``."""
    if _is_postgres():
        sql = f"""{cte}
            SELECT grp, COUNT(*), AVG(x),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY x), MIN(x), MAX(x)
            FROM d GROUP BY grp"""
    else:
        # percentile_cont(p): rank h = p·(n-1) (0-based); x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]).
        def pick(p: str) -> str:
            lo = f"CAST((n - 1) * {p} AS INTEGER)"
            return (
                f"MAX(CASE WHEN rn = {lo} THEN x END) AS lo{p[2:]}, "
                f"MAX(CASE WHEN rn = MIN({lo} + 1, n - 1) THEN x END) AS hi{p[2:]}, "
                f"MAX((n - 1) * {p} - {lo}) AS fr{p[2:]}"
            )

        sql = f"""{cte},
            r AS (SELECT grp, x, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY x) - 1 AS rn,
                         COUNT(*) OVER (PARTITION BY grp) AS n FROM d),
            a AS (SELECT grp, COUNT(*) AS n, AVG(x) AS mean, MIN(x) AS mn, MAX(x) AS mx,
                         {pick("0.5")}, {pick("0.9")} FROM r GROUP BY grp)
            SELECT grp, n, mean, lo5 + fr5 * (hi5 - lo5), lo9 + fr9 * (hi9 - lo9), mn, mx FROM a"""
    out = {}
    for grp, n, mean, p50, p90, mn, mx in _fetch(sql, params):
        out[grp] = {
            "n": int(n),
            "mean": _round(mean),
            "p50": _round(p50),
            "p90": _round(p90),
            "min": _round(mn),
            "max": _round(mx),
        }
    return out


def _histogram(cte: str, params: list) -> dict[str, list[int]]:
    """Counts of ``d(grp, x)`` per grp in DURATION_BINS."""
    cases = " ".join(
        f"WHEN x < {upper} THEN {i}" for i, (_, upper) in enumerate(DURATION_BINS) if upper
    )
    sql = f"""{cte}
        SELECT grp, CASE {cases} ELSE {len(DURATION_BINS) - 1} END AS b, COUNT(*)
        FROM d GROUP BY grp, b"""
    out: dict[str, list[int]] = {}
    for grp, b, n in _fetch(sql, params):
        out.setdefault(grp, [0] * len(DURATION_BINS))[int(b)] = int(n)
    return out


def _round(value, places: int = 2):
    return None if value is None else round(float(value), places)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


# ---------------------------------------------------------------------------------------------
# Metrics


INCIDENT = Incident._meta.db_table
STEP = Step._meta.db_table
LINK = IncidentSecret._meta.db_table
SECRET = Secret._meta.db_table
EMPTY_SUMMARY = {"n": 0, "mean": None, "p50": None, "p90": None, "min": None, "max": None}


def time_to_remediate(f: MetricFilters) -> dict:
    """Per incident opened in range: seconds from opening (detection) to the first completed
    revoke, rotate and notify step, and to remediation. Summaries and histograms per kind."""
    where, params = _incident_where(f)
    cte = f"""WITH inc AS (SELECT i.id, i.opened_at, i.remediated_at FROM {INCIDENT} i
                       WHERE {where}),
        firsts AS (SELECT st.incident_id, st.action, MIN(st.completed_at) AS done_at
                   FROM {STEP} st JOIN inc ON inc.id = st.incident_id
                   WHERE st.action IN ('revoke', 'rotate', 'notify')
                     AND st.completed_at IS NOT NULL
                   GROUP BY st.incident_id, st.action),
        d AS (SELECT fs.action AS grp, {_secs("fs.done_at", "inc.opened_at")} AS x
              FROM firsts fs JOIN inc ON inc.id = fs.incident_id
              UNION ALL
              SELECT 'remediate', {_secs("inc.remediated_at", "inc.opened_at")}
              FROM inc WHERE inc.remediated_at IS NOT NULL)"""
    summaries = _summaries(cte, params)
    histograms = _histogram(cte, params)
    incidents = _fetch(f"SELECT COUNT(*) FROM {INCIDENT} i WHERE {where}", params)[0][0]
    return {
        "incidents": int(incidents),
        "bins": [label for label, _ in DURATION_BINS],
        "kinds": [
            {
                "kind": kind,
                **summaries.get(kind, EMPTY_SUMMARY),
                "histogram": histograms.get(kind, [0] * len(DURATION_BINS)),
            }
            for kind in TIME_TO_KINDS
        ],
    }


def exposure(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Per incident opened in range: seconds from first exposure (the incident's exposed_since,
    else its secrets' earliest exposed_since, else its opening) to revocation (the first
    completed revoke step, else contained_at). Unrevoked incidents are reported apart."""
    where, params = _incident_where(f)
    cte = f"""WITH inc AS (SELECT i.id, i.exposed_since, i.opened_at, i.contained_at
                       FROM {INCIDENT} i WHERE {where}),
        rv AS (SELECT st.incident_id, MIN(st.completed_at) AS at
               FROM {STEP} st JOIN inc ON inc.id = st.incident_id
               WHERE st.action = 'revoke' AND st.completed_at IS NOT NULL
               GROUP BY st.incident_id),
        ex AS (SELECT x.incident_id, MIN(s.exposed_since) AS at
               FROM {LINK} x JOIN inc ON inc.id = x.incident_id
               JOIN {SECRET} s ON s.id = x.secret_id
               GROUP BY x.incident_id),
        w AS (SELECT COALESCE(inc.exposed_since, ex.at, inc.opened_at) AS start_at,
                     COALESCE(rv.at, inc.contained_at) AS revoked_at
              FROM inc LEFT JOIN rv ON rv.incident_id = inc.id
              LEFT JOIN ex ON ex.incident_id = inc.id),
        d AS (SELECT 'exposure' AS grp, {_secs("revoked_at", "start_at")} AS x
              FROM w WHERE revoked_at IS NOT NULL)"""
    summary = _summaries(cte, params).get("exposure", EMPTY_SUMMARY)
    histogram = _histogram(cte, params).get("exposure", [0] * len(DURATION_BINS))
    ongoing, longest = _fetch(
        f"""{cte} SELECT COUNT(*), MAX({_secs("%s", "start_at")})
            FROM w WHERE revoked_at IS NULL""",
        [*params, _dt(_now(now))],
    )[0]
    return {
        "bins": [label for label, _ in DURATION_BINS],
        "revoked": summary,
        "histogram": histogram,
        "unrevoked": int(ongoing),
        "longest_unrevoked": _round(longest),
    }


SLA_KEYS = ("skipped", "on_time", "late", "overdue", "total")


def sla(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Steps of incidents opened in range, per action and incident severity: done on time
    (completed_at <= due_at), done late, overdue now (open, due_at passed, incident not closed;
    a paused incident's clock stops at paused_at), pending and skipped. Shares are over the
    steps whose outcome is known: on time + late + overdue."""
    where, params = _incident_where(f)
    sql = f"""SELECT st.action, i.severity,
            SUM(CASE WHEN st.skipped_at IS NOT NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN st.skipped_at IS NULL AND st.completed_at <= st.due_at
                THEN 1 ELSE 0 END),
            SUM(CASE WHEN st.skipped_at IS NULL AND st.completed_at > st.due_at
                THEN 1 ELSE 0 END),
            SUM(CASE WHEN st.skipped_at IS NULL AND st.completed_at IS NULL
                      AND i.status <> 'closed' AND COALESCE(i.paused_at, %s) >= st.due_at
                THEN 1 ELSE 0 END),
            COUNT(*)
        FROM {STEP} st JOIN {INCIDENT} i ON i.id = st.incident_id
        WHERE {where}
        GROUP BY st.action, i.severity"""
    rows = _fetch(sql, [_dt(_now(now)), *params])
    order = {a: n for n, a in enumerate(SLA_ACTIONS)}
    sev_order = {s: n for n, s in enumerate(SEVERITIES)}
    per_action: dict[str, dict] = {}
    overall = dict.fromkeys(SLA_KEYS, 0)
    cells = []
    for action, severity, *numbers in rows:
        counts = dict(zip(SLA_KEYS, map(int, numbers), strict=True))
        cells.append({"action": action, "severity": severity, **_sla_counts(**counts)})
        agg = per_action.setdefault(action, dict.fromkeys(SLA_KEYS, 0))
        for key in SLA_KEYS:
            agg[key] += counts[key]
            overall[key] += counts[key]
    cells.sort(key=lambda c: (order.get(c["action"], 99), sev_order.get(c["severity"], 99)))
    actions = [
        {"action": a, **_sla_counts(**per_action[a])}
        for a in sorted(per_action, key=lambda a: order.get(a, 99))
    ]
    return {"overall": _sla_counts(**overall), "actions": actions, "cells": cells}


def _sla_counts(*, skipped, on_time, late, overdue, total) -> dict:
    decided = on_time + late + overdue
    return {
        "total": total,
        "on_time": on_time,
        "late": late,
        "overdue": overdue,
        "pending": total - skipped - decided,
        "skipped": skipped,
        "on_time_share": round(on_time / decided, 4) if decided else None,
        "overdue_share": round(overdue / decided, 4) if decided else None,
    }


def survival(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Kaplan-Meier estimate of the share of incidents (opened in range) not yet remediated
    t hours after opening. Remediation is the event; an incident not remediated is censored at
    now, or at closed_at if it was closed without remediation. Durations are floored to whole
    hours; events and censorings are counted per hour in SQL, and the running product runs in
    Python over those aggregated rows (one per distinct hour)."""
    where, params = _incident_where(f)
    x = (
        f"CASE WHEN i.remediated_at IS NOT NULL THEN {_secs('i.remediated_at', 'i.opened_at')}"
        f" ELSE {_secs('COALESCE(i.closed_at, %s)', 'i.opened_at')} END"
    )
    hours = f"FLOOR(({x}) / 3600.0)" if _is_postgres() else f"CAST(({x}) / 3600 AS INTEGER)"
    sql = f"""SELECT t, SUM(ev), COUNT(*) - SUM(ev) FROM (
            SELECT {hours} AS t,
                   CASE WHEN i.remediated_at IS NOT NULL THEN 1 ELSE 0 END AS ev
            FROM {INCIDENT} i WHERE {where}) k
        GROUP BY t ORDER BY t"""
    rows = _fetch(sql, [_dt(_now(now)), *params])
    at_risk = total = sum(int(r[1]) + int(r[2]) for r in rows)
    s = 1.0
    points = []
    median = None
    for t, events, censored in rows:
        events, censored = int(events), int(censored)
        if events:
            s *= 1 - events / at_risk
        points.append(
            {
                "hours": int(t),
                "at_risk": at_risk,
                "events": events,
                "censored": censored,
                "survival": round(s, 6),
            }
        )
        if median is None and s <= 0.5:
            median = int(t)
        at_risk -= events + censored
    return {"incidents": total, "median_hours": median, "points": points}


def _age_bucket(field_name: str, now: datetime) -> Case:
    whens = [
        When(**{f"{field_name}__gt": now - timedelta(days=days)}, then=Value(n))
        for n, (_, days) in enumerate(AGE_BUCKETS)
        if days is not None
    ]
    return Case(*whens, default=Value(len(AGE_BUCKETS) - 1), output_field=IntegerField())


def backlog(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Open findings (open or triaged) and open incidents (not closed) now, by age (time since
    first seen / opened); a bucket includes its lower bound. The date range does not apply:
    the backlog is a snapshot of now. Team, severity, secret type and source do."""
    now = _now(now)
    findings = (
        findings_filtered(f, date_field=None)
        .filter(status__in=[FindingStatus.OPEN, FindingStatus.TRIAGED])
        .annotate(bucket=_age_bucket("first_seen_at", now))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    incidents = (
        incidents_filtered(f, dates=False)
        .exclude(status=IncidentStatus.CLOSED)
        .annotate(bucket=_age_bucket("opened_at", now))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    out = {"buckets": [label for label, _ in AGE_BUCKETS]}
    for key, qs in (("findings", findings), ("incidents", incidents)):
        counts = [0] * len(AGE_BUCKETS)
        for row in qs:
            counts[row["bucket"]] = row["n"]
        out[key] = counts
    return out


def _weekly(qs: QuerySet, field_name: str) -> dict[date, int]:
    rows = (
        qs.annotate(week=TruncWeek(field_name))
        .values("week")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    return {_as_date(r["week"]): r["n"] for r in rows}


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def trend(f: MetricFilters) -> dict:
    """Per ISO week (starting Monday, UTC): incidents opened (opened_at) and remediated
    (remediated_at); findings opened (first_seen_at) and closed (resolved_at, resolved or
    dismissed). Each series is filtered on its own date."""
    incidents = incidents_filtered(replace(f, since=None, until=None))
    opened = _weekly(_in_range(incidents, "opened_at", f), "opened_at")
    remediated = _weekly(
        _in_range(incidents.filter(remediated_at__isnull=False), "remediated_at", f),
        "remediated_at",
    )
    findings = findings_filtered(f, date_field=None)
    f_opened = _weekly(_in_range(findings, "first_seen_at", f), "first_seen_at")
    f_closed = _weekly(
        _in_range(
            findings.filter(
                status__in=[FindingStatus.RESOLVED, FindingStatus.DISMISSED],
                resolved_at__isnull=False,
            ),
            "resolved_at",
            f,
        ),
        "resolved_at",
    )
    weeks = sorted(set(opened) | set(remediated) | set(f_opened) | set(f_closed))
    return {
        "weeks": [
            {
                "week": w.isoformat(),
                "incidents_opened": opened.get(w, 0),
                "incidents_remediated": remediated.get(w, 0),
                "findings_opened": f_opened.get(w, 0),
                "findings_closed": f_closed.get(w, 0),
            }
            for w in weeks
        ]
    }


def _in_range(qs: QuerySet, field_name: str, f: MetricFilters) -> QuerySet:
    if f.start:
        qs = qs.filter(**{f"{field_name}__gte": f.start})
    if f.end:
        qs = qs.filter(**{f"{field_name}__lt": f.end})
    return qs


def findings_breakdown(f: MetricFilters) -> dict:
    """Findings first seen in range per source and secret type (the largest groups first)."""
    rows = (
        findings_filtered(f)
        .values("source__slug", "source__name", "secret_type")
        .annotate(n=Count("id"))
        .order_by("-n", "source__slug", "secret_type")[: TABLE_LIMIT * 4]
    )
    return {
        "rows": [
            {
                "source": r["source__slug"],
                "source_name": r["source__name"],
                "secret_type": r["secret_type"],
                "findings": r["n"],
            }
            for r in rows
        ]
    }


def reused_secrets(f: MetricFilters) -> dict:
    """Secrets first seen in range, per type: how many, and how many were seen in two or more
    places (``reused``)."""
    rows = (
        secrets_filtered(f)
        .values("secret_type")
        .annotate(n=Count("id"), reused=Count("id", filter=Q(reused=True)))
        .order_by("-reused", "-n", "secret_type")
    )
    out = [
        {
            "secret_type": r["secret_type"],
            "secrets": r["n"],
            "reused": r["reused"],
            "reused_share": round(r["reused"] / r["n"], 4) if r["n"] else None,
        }
        for r in rows
    ]
    return {
        "secrets": sum(r["secrets"] for r in out),
        "reused": sum(r["reused"] for r in out),
        "rows": out,
    }


def noise(f: MetricFilters) -> dict:
    """False-positive share of findings first seen in range, per source and per (source, rule):
    dismissed as false_positive ÷ closed (resolved or dismissed); open findings are undecided
    and left out of the share. Rules: the TABLE_LIMIT with most false positives."""
    closed = Q(status__in=[FindingStatus.RESOLVED, FindingStatus.DISMISSED])
    fp = Q(status=FindingStatus.DISMISSED, resolution=Resolution.FALSE_POSITIVE)
    base = findings_filtered(f)

    def rows(*keys):
        return (
            base.values(*keys)
            .annotate(
                total=Count("id"),
                closed=Count("id", filter=closed),
                false_positives=Count("id", filter=fp),
            )
            .order_by("-false_positives", "-total", *keys)
        )

    def shape(r):
        return {
            "source": r["source__slug"],
            **({"rule": r["rule"]} if "rule" in r else {}),
            "findings": r["total"],
            "closed": r["closed"],
            "false_positives": r["false_positives"],
            "fp_share": round(r["false_positives"] / r["closed"], 4) if r["closed"] else None,
        }

    return {
        "sources": [shape(r) for r in rows("source__slug")[:TABLE_LIMIT]],
        "rules": [shape(r) for r in rows("source__slug", "rule")[:TABLE_LIMIT]],
    }


def headline(f: MetricFilters | None = None, *, now: datetime | None = None) -> dict:
    """The manager's numbers: p50 time to revoke, SLA attainment, open backlog, p50 exposure."""
    f = f or default_filters()
    findings = Finding.objects.aggregate(
        open=Count("id", filter=Q(status__in=[FindingStatus.OPEN, FindingStatus.TRIAGED])),
    )
    incidents = Incident.objects.aggregate(
        open=Count("id", filter=~Q(status=IncidentStatus.CLOSED)), total=Count("id")
    )
    times = {k["kind"]: k for k in time_to_remediate(f)["kinds"]}
    return {
        "filters": f,
        "findings": findings,
        "incidents": incidents,
        "revoke_p50": times["revoke"]["p50"],
        "remediate_p50": times["remediate"]["p50"],
        "sla_on_time": sla(f, now=now)["overall"]["on_time_share"],
        "exposure_p50": exposure(f, now=now)["revoked"]["p50"],
    }


def manager_dashboard(user) -> dict:
    """The manager's landing page: headline numbers (last 90 days) and two small charts."""
    from hygiene import charts

    f = default_filters()
    head = headline(f)
    figures = {
        "backlog": charts.backlog_ages(result := backlog(f)),
        "trend": charts.trend_lines(trend(f), prefix="incidents", title="Incidents per week"),
    }
    for figure in figures.values():
        figure["layout"].pop("title")  # the page's headings name them
    return {
        "filters": f,
        "headline": head,
        "display": {
            "revoke_p50": charts.human(head["revoke_p50"]),
            "sla_on_time": charts.percent(head["sla_on_time"]),
            "exposure_p50": charts.human(head["exposure_p50"]),
        },
        "backlog": result,
        "figures": figures,
    }


# The tables behind the charts, by the name used in ?export= and the API.
TABLES = {
    "time-to-remediate": time_to_remediate,
    "exposure": exposure,
    "sla": sla,
    "survival": survival,
    "backlog": backlog,
    "trend": trend,
    "findings": findings_breakdown,
    "reused": reused_secrets,
    "noise": noise,
}
