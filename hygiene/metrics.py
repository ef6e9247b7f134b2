"""Hygiene metrics, computed in SQL (definitions: docs/metrics.md).

Every selector takes a ``MetricFilters`` and runs one or a few aggregate queries; no selector
loads incidents or findings into Python. Durations are whole seconds. Percentiles use
percentile_cont's definition (linear interpolation between the two nearest ranks): PostgreSQL
runs percentile_cont itself, SQLite an equivalent ROW_NUMBER() query, and the tests check both
against hand-computed numbers.
"""

import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import wraps

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from hygiene.filters import MAX_YEAR, MIN_YEAR
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
    """A filter value that can't be used; the message says which (the parameter's name, for the
    API) and why. ``field`` is that parameter; ``form_message``, when set, says it in the
    page form's words."""

    def __init__(self, message: str, field: str, form_message: str = ""):
        super().__init__(message)
        self.field = field
        self.form_message = form_message


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

    @property
    def narrows_incidents(self) -> bool:
        return bool(
            self.since
            or self.until
            or self.team
            or self.severity
            or self.secret_type
            or self.source
        )

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
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise FilterError(
            f"{name}: expected a date like 2025-01-31, got {str(value)[:40]!r}", name
        ) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise FilterError(f"{name}: a year from {MIN_YEAR} to {MAX_YEAR}, got {day.year}", name)
    return day


def filters_from(params: Mapping, *, today: date | None = None) -> MetricFilters:
    """Filters from query parameters. Without ``since`` the range is the 90 days ending at
    ``until`` (today when there is none; both included); an empty ``since=`` means no lower
    bound."""
    today = today or timezone.localdate()
    since = _parse_date("since", params.get("since"))
    until = _parse_date("until", params.get("until"))
    if "since" not in params:
        since = (until or today) - timedelta(days=DEFAULT_DAYS - 1)
    if since and until and since > until:
        raise FilterError("since: must not be after until", "since", "From must not be after To")
    severity = (params.get("severity") or "").strip()
    if severity and severity not in SEVERITIES:
        raise FilterError(f"severity: one of {', '.join(SEVERITIES)}", "severity")
    secret_type = (params.get("secret_type") or "").strip()
    if secret_type and secret_type not in SecretType.values:
        raise FilterError(f"secret_type: unknown secret type {secret_type[:40]!r}", "secret_type")
    team = (params.get("team") or "").strip()
    team_id = None
    if team:
        team_id = Team.objects.filter(slug=team).values_list("id", flat=True).first()
        if team_id is None:
            raise FilterError(f"team: no team {team[:40]!r}", "team")
    source = (params.get("source") or "").strip()
    source_id = None
    if source:
        source_id = Source.objects.filter(slug=source).values_list("id", flat=True).first()
        if source_id is None:
            raise FilterError(f"source: no source {source[:40]!r}", "source")
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
        # Through the incident's secrets to their findings (finding_secret_source answers
        # from the index): a doubly correlated IN here was planned as a scan of the source's
        # findings per incident.
        qs = qs.filter(
            Exists(
                IncidentSecret.objects.filter(
                    incident_id=OuterRef("pk"), secret__findings__source_id=f.source_id
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
    """Whole seconds from ``earlier`` to ``later`` (SQL expressions), halves rounded up as
    SQLite's ROUND does for the durations measured here (never negative)."""
    if _is_postgres():
        # date_part is float8 arithmetic (EXTRACT returns numeric, several times slower), and
        # float8's ROUND rounds halves to even: 2.5 s would be 2.
        return f"FLOOR(date_part('epoch', ({later}) - ({earlier})) + 0.5)"
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0)"


def _not_below_zero(expr: str) -> str:
    return f"{'GREATEST' if _is_postgres() else 'MAX'}(0, {expr})"


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
        return cursor.fetchall() if cursor.description else []


@contextmanager
def _tuned():
    """Run a metric's queries in one transaction with PostgreSQL's JIT off (compiling these
    short aggregate queries costs more, 100+ ms each, than running them) and room to sort
    in memory. Re-entrant."""
    if not _is_postgres() or getattr(_state, "tuned", False):
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Sorts for percentiles and hash aggregates stay in memory.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            # The metrics' indexes are read from memory (or SSD): with the default (4, for
            # spinning disks) the planner scans every step rather than probe the few it needs.
            cursor.execute("SET LOCAL random_page_cost = 1.1")
        _state.tuned = True
        try:
            yield
        finally:
            _state.tuned = False


def _metric(fn):
    """A selector runs ``_tuned``."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with _tuned():
            return fn(*args, **kwargs)

    return wrapper


_state = threading.local()
N_BINS = len(DURATION_BINS)
BIN_UPPERS = [upper for _, upper in DURATION_BINS if upper]


def _distribution_sql(cte: str, series: list[tuple[str, str, str]], total: str) -> str:
    """Per series ``(grp, x, condition)`` over the relation ``w`` defined in ``cte``: n, mean,
    p50, p90, min, max and the cumulative counts of x below each bin's upper bound, one row per
    series with values (``_distributions`` turns them into summaries and bins); and the group
    ``total`` whose n counts the rows of w."""
    if _is_postgres():
        # One pass over w: each series is a column, summarised by its own aggregates
        # (percentile_cont sorts only that column's values; no sort of the union by group).
        columns = ", ".join(
            f"CASE WHEN {condition} THEN {x} END AS x{n}"
            for n, (_, x, condition) in enumerate(series)
        )
        selects = []
        for n, (grp, _, _) in enumerate(series):
            x = f"x{n}"
            below = ", ".join(f"COUNT(*) FILTER (WHERE {x} < {u})" for u in BIN_UPPERS)
            selects.append(
                f"'{grp}', COUNT({x}), AVG({x}), "
                f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {x}), "
                f"MIN({x}), MAX({x}), {below}"
            )
        return f"""{cte}, d AS MATERIALIZED (SELECT {columns} FROM w)
            SELECT '{total}', COUNT(*), {", ".join(selects)} FROM d"""

    union = " UNION ALL ".join(
        f"SELECT '{grp}' AS grp, {x} AS x FROM w WHERE {condition}" for grp, x, condition in series
    )

    # percentile_cont(p): rank h = p·(n-1) (0-based); x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋+1] - x[⌊h⌋]).
    def pick(p: str) -> str:
        lo = f"CAST((n - 1) * {p} AS INTEGER)"
        return (
            f"MAX(CASE WHEN rn = {lo} THEN x END) AS lo{p[2:]}, "
            f"MAX(CASE WHEN rn = MIN({lo} + 1, n - 1) THEN x END) AS hi{p[2:]}, "
            f"MAX((n - 1) * {p} - {lo}) AS fr{p[2:]}"
        )

    cums = ", ".join(f"c{i}" for i in range(len(BIN_UPPERS)))
    below_named = ", ".join(
        f"COUNT(*) FILTER (WHERE x < {u}) AS c{i}" for i, u in enumerate(BIN_UPPERS)
    )
    return f"""{cte}, d AS ({union}),
        r AS (SELECT grp, x, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY x) - 1 AS rn,
                     COUNT(*) OVER (PARTITION BY grp) AS n FROM d),
        a AS (SELECT grp, COUNT(*) AS n, AVG(x) AS mean, MIN(x) AS mn, MAX(x) AS mx,
                     {pick("0.5")}, {pick("0.9")}, {below_named} FROM r GROUP BY grp)
        SELECT grp, n, mean, lo5 + fr5 * (hi5 - lo5), lo9 + fr9 * (hi9 - lo9), mn, mx, {cums}
        FROM a
        UNION ALL SELECT '{total}', COUNT(*), {", ".join(["NULL"] * (5 + len(BIN_UPPERS)))}
        FROM w"""


def _distribution_rows(rows) -> list[tuple]:
    """``_distribution_sql``'s result as one tuple per series: PostgreSQL answers one row of
    every series side by side, [p50, p90] as an array; SQLite one row per series."""
    if not _is_postgres():
        return rows
    width = 6 + len(BIN_UPPERS)
    out = []
    for total, n, *row in rows:
        out.append((total, n, *[None] * (5 + len(BIN_UPPERS))))
        for at in range(0, len(row), width):
            grp, n, mean, percentiles, *rest = row[at : at + width]
            out.append((grp, n, mean, *(percentiles or (None, None)), *rest))
    return out


def _distributions(rows) -> dict[str, dict]:
    """``_distribution_sql`` rows → {grp: summary with its histogram}; empty series left out."""
    out = {}
    for grp, n, mean, p50, p90, mn, mx, *below in _distribution_rows(rows):
        n = int(n)
        if not n:
            continue
        cumulative = [int(c or 0) for c in below] + [n]
        out[grp] = {
            "n": n,
            "mean": _round(mean),
            "p50": _round(p50),
            "p90": _round(p90),
            "min": _round(mn),
            "max": _round(mx),
            "histogram": [c - (cumulative[i - 1] if i else 0) for i, c in enumerate(cumulative)],
        }
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
FINDING = Finding._meta.db_table
SOURCE = Source._meta.db_table
EMPTY_SUMMARY = {"n": 0, "mean": None, "p50": None, "p90": None, "min": None, "max": None}
STEP_KINDS = ("revoke", "rotate", "notify")


def _incident_distributions(
    f: MetricFilters, now: datetime | None, *, times: bool, exposures: bool
) -> dict[str, dict]:
    """One statement for the time-from-detection kinds and the exposure window: each incident
    in the filter is read once, its steps aggregated once (first completed revoke, rotate and
    notify), then every distribution is summarised in one pass. Also ``#incidents`` (n = the
    incidents in the filter) and, for exposure, ``unrevoked`` (n, max = longest window)."""
    where, params = _incident_where(f)
    firsts = ", ".join(
        f"MIN(CASE WHEN st.action = '{k}' THEN st.completed_at END) AS {k}_at" for k in STEP_KINDS
    )
    # The secrets' earliest exposure only where the incident has none of its own (a scalar
    # subquery, evaluated only when COALESCE gets that far).
    start = "NULL"
    if exposures:
        start = f"""COALESCE(exposed_since,
            (SELECT MIN(s.exposed_since) FROM {LINK} x JOIN {SECRET} s ON s.id = x.secret_id
             WHERE x.incident_id = per.id), opened_at)"""
    series = []  # (group, seconds, for which incidents)
    if times:
        series += [(k, _secs(f"{k}_at", "opened_at"), f"{k}_at IS NOT NULL") for k in STEP_KINDS]
        series.append(
            ("remediate", _secs("remediated_at", "opened_at"), "remediated_at IS NOT NULL")
        )
    tail_params = []
    if exposures:
        # Never negative: an exposure recorded after the revocation (a commit date from a
        # clock that was off) is a window of 0, as incidents.services.exposure_window says.
        series.append(
            ("exposure", _not_below_zero(_secs("revoked_at", "start_at")), "revoked_at IS NOT NULL")
        )
        series.append(("unrevoked", _not_below_zero(_secs("%s", "start_at")), "revoked_at IS NULL"))
        tail_params.append(_dt(_now(now)))
    kinds = STEP_KINDS if times else ("revoke",)
    columns = "i.id, i.opened_at, i.remediated_at, i.exposed_since, i.contained_at"
    # Each incident with its completed steps of those actions, grouped once per incident.
    done = f"""st.completed_at IS NOT NULL
                 AND st.action IN ({", ".join(f"'{k}'" for k in kinds)})"""
    if f.narrows_incidents:
        # Some incidents: their steps joined to them (index probes), grouped per incident.
        per = f"""SELECT {columns}, {firsts}
               FROM {INCIDENT} i LEFT JOIN {STEP} st ON st.incident_id = i.id AND {done}
               WHERE {where}
               GROUP BY {columns}"""
    else:
        # Every incident: the steps grouped in index order first, then joined (no hashing of
        # every step by incident).
        per = f"""SELECT {columns}, {", ".join(f"{k}_at" for k in STEP_KINDS)}
               FROM {INCIDENT} i LEFT JOIN (
                   SELECT st.incident_id, {firsts} FROM {STEP} st WHERE {done}
                   GROUP BY st.incident_id
               ) st ON st.incident_id = i.id
               WHERE {where}"""
    cte = f"""WITH per AS ({per}),
        w AS (SELECT opened_at, remediated_at, {", ".join(f"{k}_at" for k in kinds)},
                     {start} AS start_at, COALESCE(revoke_at, contained_at) AS revoked_at
              FROM per)"""
    sql = _distribution_sql(cte, series, "#incidents")
    return _distributions(_fetch(sql, [*params, *tail_params]))


def _time_to_result(dists: dict) -> dict:
    return {
        "incidents": dists.get("#incidents", {}).get("n", 0),
        "bins": [label for label, _ in DURATION_BINS],
        "kinds": [
            {
                "kind": kind,
                **{k: v for k, v in dists.get(kind, EMPTY_SUMMARY).items() if k != "histogram"},
                "histogram": dists.get(kind, {}).get("histogram", [0] * N_BINS),
            }
            for kind in TIME_TO_KINDS
        ],
    }


def _exposure_result(dists: dict) -> dict:
    revoked = dists.get("exposure", {})
    unrevoked = dists.get("unrevoked", {})
    return {
        "bins": [label for label, _ in DURATION_BINS],
        "revoked": {k: v for k, v in (revoked or EMPTY_SUMMARY).items() if k != "histogram"},
        "histogram": revoked.get("histogram", [0] * N_BINS),
        "unrevoked": unrevoked.get("n", 0),
        "longest_unrevoked": unrevoked.get("max"),
    }


@_metric
def time_to_remediate(f: MetricFilters) -> dict:
    """Per incident opened in range: seconds from opening (detection) to the first completed
    revoke, rotate and notify step, and to remediation. Summaries and histograms per kind."""
    return _time_to_result(_incident_distributions(f, None, times=True, exposures=False))


@_metric
def exposure(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Per incident opened in range: seconds from first exposure (the incident's exposed_since,
    else its secrets' earliest exposed_since, else its opening) to revocation (the first
    completed revoke step, else contained_at). Unrevoked incidents are reported apart."""
    return _exposure_result(_incident_distributions(f, now, times=False, exposures=True))


SLA_KEYS = ("skipped", "on_time", "late", "overdue", "total")


@_metric
def sla(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Steps of incidents opened in range, per action and incident severity: done on time
    (completed_at <= due_at), done late, overdue now (open, due_at passed, incident not closed;
    a paused incident's clock stops at paused_at), pending and skipped. Shares are over the
    steps whose outcome is known: on time + late + overdue."""
    where, params = _incident_where(f)
    # Steps are read once, grouped by incident and action (a few rows per incident), and only
    # then joined to their incident for its severity, status and pause.
    sql = f"""WITH inc AS (SELECT i.id, i.severity, i.status, i.paused_at
                       FROM {INCIDENT} i WHERE {where})
        SELECT st.action, inc.severity,
            COUNT(*) FILTER (WHERE st.skipped_at IS NOT NULL),
            COUNT(*) FILTER (WHERE st.skipped_at IS NULL AND st.completed_at <= st.due_at),
            COUNT(*) FILTER (WHERE st.skipped_at IS NULL AND st.completed_at > st.due_at),
            COUNT(*) FILTER (WHERE st.skipped_at IS NULL AND st.completed_at IS NULL
                      AND inc.status <> 'closed' AND COALESCE(inc.paused_at, %s) >= st.due_at),
            COUNT(*)
        FROM {STEP} st JOIN inc ON inc.id = st.incident_id
        GROUP BY st.action, inc.severity"""
    # Narrowed to some incidents, a few thousand index probes beat waking parallel workers to
    # scan every step; with no filter at all, every step is read and workers share the scan.
    serial = _is_postgres() and getattr(_state, "tuned", False) and f.narrows_incidents
    if serial:
        _fetch("SET LOCAL max_parallel_workers_per_gather = 0", [])
    rows = _fetch(sql, [*params, _dt(_now(now))])
    if serial:
        _fetch("SET LOCAL max_parallel_workers_per_gather = DEFAULT", [])
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


@_metric
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


def _finding_where(
    f: MetricFilters, alias: str = "fi", *, date_field: str | None = "first_seen_at"
) -> tuple[str, list]:
    """SQL condition on findings aliased ``alias`` (the same meaning as findings_filtered)."""
    clauses, params = [], []
    if date_field and f.start:
        clauses.append(f"{alias}.{date_field} >= %s")
        params.append(_dt(f.start))
    if date_field and f.end:
        clauses.append(f"{alias}.{date_field} < %s")
        params.append(_dt(f.end))
    for column, value in (
        ("team_id", f.team_id),
        ("severity", f.severity),
        ("secret_type", f.secret_type),
        ("source_id", f.source_id),
    ):
        if value:
            clauses.append(f"{alias}.{column} = %s")
            params.append(value)
    return " AND ".join(clauses) or "1 = 1", params


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


OPEN_FINDING = _quoted([FindingStatus.OPEN, FindingStatus.TRIAGED])
CLOSED_FINDING = _quoted([FindingStatus.RESOLVED, FindingStatus.DISMISSED])


@_metric
def backlog(f: MetricFilters, *, now: datetime | None = None) -> dict:
    """Open findings (open or triaged) and open incidents (not closed) now, by age (time since
    first seen / opened); a bucket includes its lower bound. The date range does not apply:
    the backlog is a snapshot of now. Team, severity, secret type and source do.
    One statement: per kind, the count younger than each bucket's upper bound (the buckets
    are their differences), from the open-findings index alone."""
    now = _now(now)
    # Each bucket is a range of first_seen_at / opened_at: (later bound, earlier bound].
    edges = [None] + [now - timedelta(days=days) for _, days in AGE_BUCKETS if days] + [None]
    f_where, f_params = _finding_where(f, date_field=None)
    i_where, i_params = _incident_where(f, dates=False)
    kinds = [
        (
            "findings",
            "fi.first_seen_at",
            f"{FINDING} fi",
            f"fi.status IN ({OPEN_FINDING}) AND {f_where}",
            f_params,
        ),
        (
            "incidents",
            "i.opened_at",
            f"{INCIDENT} i",
            f"i.status <> %s AND {i_where}",
            [IncidentStatus.CLOSED, *i_params],
        ),
    ]
    columns, params = [], []
    for _, column, table, where, where_params in kinds:
        for n in range(len(AGE_BUCKETS)):
            newer, older = edges[n], edges[n + 1]
            clauses, bound_params = [], []
            if newer is not None:
                clauses.append(f"{column} <= %s")
                bound_params.append(_dt(newer))
            if older is not None:
                clauses.append(f"{column} > %s")
                bound_params.append(_dt(older))
            columns.append(
                f"(SELECT COUNT(*) FROM {table} WHERE {where} AND {' AND '.join(clauses)})"
            )
            params += [*where_params, *bound_params]
    counts = [int(c) for c in _fetch(f"SELECT {', '.join(columns)}", params)[0]]
    size = len(AGE_BUCKETS)
    return {
        "buckets": [label for label, _ in AGE_BUCKETS],
        "findings": counts[:size],
        "incidents": counts[size:],
    }


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _week(column: str) -> tuple[str, list]:
    """SQL for the Monday starting ``column``'s week (what TruncWeek writes), and its params."""
    sql, params = connection.ops.datetime_trunc_sql(
        "week", column, (), timezone.get_current_timezone_name()
    )
    return sql, list(params)


def _range(column: str, f: MetricFilters) -> tuple[str, list]:
    clauses, params = [], []
    if f.start:
        clauses.append(f"{column} >= %s")
        params.append(_dt(f.start))
    if f.end:
        clauses.append(f"{column} < %s")
        params.append(_dt(f.end))
    return " AND ".join(clauses) or "1 = 1", params


TREND_KEYS = ("incidents_opened", "incidents_remediated", "findings_opened", "findings_closed")


def _monday(day: date | None) -> str | None:
    return (day - timedelta(days=day.weekday())).isoformat() if day else None


def _weeks_cte(first: date | None, last: date) -> tuple[str, list]:
    """SQL for ``wk(monday[, lo, hi])``: every week from ``first``'s Monday (without it, the
    first in ``b.lo``) to ``last``'s (or ``b.hi``, if later), one row each, so that a week
    without events is there as zeros; ``b`` is the events' first and last weeks (NULL without
    events). PostgreSQL generates them with generate_series and bounds each by its local
    midnights (``lo``, ``hi``, for range counts); SQLite by a recursive CTE (``monday`` only:
    it groups every series by week)."""
    if _is_postgres():
        tz = timezone.get_current_timezone_name()
        # LEAST/GREATEST skip NULLs: no ``first`` and no events → NULL → no weeks.
        return (
            "wk(monday, lo, hi) AS (SELECT d::date, d AT TIME ZONE %s, "
            "(d + interval '7 days') AT TIME ZONE %s FROM b, generate_series("
            "LEAST(CAST(%s AS date), b.lo)::timestamp, "
            "GREATEST(CAST(%s AS date), b.hi)::timestamp, interval '7 days') d)",
            [tz, tz, _monday(first), _monday(last)],
        )
    return (
        "wk(monday) AS (SELECT lo FROM (SELECT COALESCE(date(%s), (SELECT lo FROM b)) AS lo) "
        "WHERE lo IS NOT NULL UNION ALL SELECT date(monday, '+7 days') FROM wk "
        "WHERE monday < (SELECT COALESCE(MAX(hi, date(%s)), date(%s)) FROM b))",
        [_monday(first), _monday(last), _monday(last)],
    )


def _week_date(column: str) -> tuple[str, list]:
    """``_week`` as a date (comparable with ``wk.monday``)."""
    week, params = _week(column)
    return (f"CAST({week} AS DATE)" if _is_postgres() else f"date({week})"), params


@_metric
def trend(f: MetricFilters, *, findings: bool = True, now: datetime | None = None) -> dict:
    """Per ISO week (starting Monday, UTC): incidents opened (opened_at) and remediated
    (remediated_at); findings opened (first_seen_at) and closed (resolved_at, resolved or
    dismissed). Each series is filtered on its own date. Every week of the range is there,
    zeros included (a chart's line would otherwise join straight across quiet weeks): from
    ``since`` (without it, the first event's week) to ``until`` (without it, this week or the
    last event's). One statement: the weeks are generated in SQL around the events' own.

    Incidents (a small table) are grouped by week. Findings of a team, severity, type or source
    are grouped by week too (a team's from finding_team_dates alone; for the others it still
    beats range counts that read every finding of each week to keep a few). All findings are
    counted per week as index range counts (finding_first_seen, finding_closed_at), which costs
    far less per finding than truncating each one's date; on SQLite (development) they are
    grouped by week like the others."""
    today = timezone.localtime(_now(now)).date()
    until = f.until or max(today, f.since or today)
    if f.since and f.since < until - timedelta(weeks=TREND_WEEKS):
        # The last TREND_WEEKS weeks of a longer range: one from 1970 (the filters allow it)
        # was 53,744 weeks of two index counts each, and as many points in the chart.
        f = replace(f, since=until - timedelta(weeks=TREND_WEEKS))
    i_where, i_params = _incident_where(f, dates=False)
    f_where, f_params = _finding_where(f, date_field=None)
    series = [
        ("incidents_opened", "i.opened_at", INCIDENT, i_where, i_params),
        (
            "incidents_remediated",
            "i.remediated_at",
            INCIDENT,
            f"i.remediated_at IS NOT NULL AND {i_where}",
            i_params,
        ),
    ]
    if findings:
        series += [
            ("findings_opened", "fi.first_seen_at", FINDING, f_where, f_params),
            (
                "findings_closed",
                "fi.resolved_at",
                FINDING,
                f"fi.status IN ({CLOSED_FINDING}) AND fi.resolved_at IS NOT NULL AND {f_where}",
                f_params,
            ),
        ]

    def filtered(column, table, where, where_params):
        in_range, range_params = _range(column, f)
        alias = column.split(".")[0]
        return f"FROM {table} {alias} WHERE {where} AND {in_range}", [
            *where_params,
            *range_params,
        ]

    narrowed = bool(f.team_id or f.severity or f.secret_type or f.source_id)
    counted = [] if narrowed or not _is_postgres() else series[2:]
    grouped = [s for s in series if s not in counted]
    parts, params = [], []
    for name, column, *rest in grouped:
        week, week_params = _week_date(column)
        sql, sql_params = filtered(column, *rest)
        parts.append(f"SELECT '{name}' AS name, {week} AS monday, COUNT(*) AS n {sql} GROUP BY 2")
        params += [*week_params, *sql_params]
    # The events' first and last weeks, for a range open at either end: the grouped series'
    # from e, the counted ones' from their index's ends.
    spans = ["SELECT monday FROM e"]
    if f.since is None or f.until is None:
        for _, column, *rest in counted:
            sql, sql_params = filtered(column, *rest)
            for edge in ("MIN", "MAX"):
                week, week_params = _week_date(f"{edge}({column})")
                spans.append(f"SELECT {week} {sql}")
                params += [*week_params, *sql_params]
    weeks_sql, weeks_params = _weeks_cte(f.since, until)
    params += weeks_params
    columns = [
        f"COALESCE(SUM(CASE WHEN name = '{name}' THEN n END), 0) AS {name}" for name, *_ in grouped
    ]
    # All findings: one correlated range count per (series, week).
    selects = [f"COALESCE(g.{name}, 0)" for name, *_ in grouped]
    for _, column, *rest in counted:
        sql, sql_params = filtered(column, *rest)
        selects.append(f"(SELECT COUNT(*) {sql} AND {column} >= wk.lo AND {column} < wk.hi)")
        params += sql_params
    sql = f"""WITH RECURSIVE e AS ({" UNION ALL ".join(parts)}),
        b AS (SELECT MIN(monday) AS lo, MAX(monday) AS hi FROM ({" UNION ALL ".join(spans)}) x),
        {weeks_sql},
        g AS (SELECT monday, {", ".join(columns)} FROM e GROUP BY monday)
        SELECT wk.monday, {", ".join(selects)}
        FROM wk LEFT JOIN g ON g.monday = wk.monday ORDER BY wk.monday"""
    names = [name for name, *_ in grouped + counted]
    weeks = []
    for monday, *counts in _fetch(sql, params):
        row = dict.fromkeys(TREND_KEYS, 0) | {k: int(n) for k, n in zip(names, counts, strict=True)}
        weeks.append({"week": _as_date(monday).isoformat(), **row})
    return {"weeks": weeks}


TREND_WEEKS = 520  # ten years of weeks in the trend at most


def _in_range(qs: QuerySet, field_name: str, f: MetricFilters) -> QuerySet:
    if f.start:
        qs = qs.filter(**{f"{field_name}__gte": f.start})
    if f.end:
        qs = qs.filter(**{f"{field_name}__lt": f.end})
    return qs


def _finding_groups(f: MetricFilters, *, breakdown: bool, rules: bool) -> dict[str, list]:
    """Findings first seen in range, read once and grouped by (source, type, rule) with their
    closed and false-positive counts; from those groups, in the same statement: per source
    and type (``breakdown``), per source and per (source, rule) (``rules``, for noise), each
    ordered and cut to its limit. Rows per part: (source slug, source name, type or rule,
    findings, closed, false positives)."""
    where, params = _finding_where(f)
    keys = ["fi.source_id"]
    keys += ["fi.secret_type"] if breakdown else []
    keys += ["fi.rule"] if rules else []
    cols = ", ".join(keys)
    parts = []
    if breakdown:
        parts.append(
            f"""SELECT * FROM (SELECT 'breakdown' AS part, so.slug, so.name,
                    g.secret_type AS item, SUM(g.n) AS n, 0 AS closed, 0 AS fps
                FROM g JOIN {SOURCE} so ON so.id = g.source_id
                GROUP BY so.slug, so.name, g.secret_type
                ORDER BY n DESC, so.slug, g.secret_type LIMIT {TABLE_LIMIT * 4}) b"""
        )
    if rules:
        parts.append(
            f"""SELECT * FROM (SELECT 'sources' AS part, so.slug, so.name, '' AS item,
                    SUM(g.n) AS n, SUM(g.closed) AS closed,
                    SUM(g.fps) AS fps
                FROM g JOIN {SOURCE} so ON so.id = g.source_id
                GROUP BY so.slug, so.name
                ORDER BY fps DESC, n DESC, so.slug LIMIT {TABLE_LIMIT}) s"""
        )
        parts.append(
            f"""SELECT * FROM (SELECT 'rules' AS part, so.slug, so.name, g.rule AS item,
                    SUM(g.n) AS n, SUM(g.closed) AS closed,
                    SUM(g.fps) AS fps
                FROM g JOIN {SOURCE} so ON so.id = g.source_id
                GROUP BY so.slug, so.name, g.rule
                ORDER BY fps DESC, n DESC, so.slug, g.rule LIMIT {TABLE_LIMIT}) r"""
        )
    positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
    sql = f"""WITH g AS (SELECT {cols}, COUNT(*) AS n,
                COUNT(*) FILTER (WHERE fi.status IN ({CLOSED_FINDING})) AS closed,
                COUNT(*) FILTER (WHERE fi.status = %s AND fi.resolution = %s) AS fps
            FROM {FINDING} fi WHERE {where} GROUP BY {positions})
        {" UNION ALL ".join(parts)}"""
    out: dict[str, list] = {"breakdown": [], "sources": [], "rules": []}
    rows = _fetch(sql, [FindingStatus.DISMISSED, Resolution.FALSE_POSITIVE, *params])
    for part, *row in rows:
        out[part].append(row)
    return out


def _breakdown_result(groups: dict) -> dict:
    return {
        "rows": [
            {"source": slug, "source_name": name, "secret_type": item, "findings": int(n)}
            for slug, name, item, n, _, _ in groups["breakdown"]
        ]
    }


def _noise_result(groups: dict) -> dict:
    def shape(row, rule: bool):
        slug, _, item, n, closed, fps = row
        n, closed, fps = int(n), int(closed), int(fps)
        return {
            "source": slug,
            **({"rule": item} if rule else {}),
            "findings": n,
            "closed": closed,
            "false_positives": fps,
            "fp_share": round(fps / closed, 4) if closed else None,
        }

    return {
        "sources": [shape(r, False) for r in groups["sources"]],
        "rules": [shape(r, True) for r in groups["rules"]],
    }


@_metric
def findings_breakdown(f: MetricFilters) -> dict:
    """Findings first seen in range per source and secret type (the largest groups first)."""
    return _breakdown_result(_finding_groups(f, breakdown=True, rules=False))


@_metric
def reused_secrets(f: MetricFilters) -> dict:
    """Secrets first seen in range, per type: how many, and how many were seen in two or more
    places (``reused``)."""
    where, params = _finding_where(f, "s")
    if f.source_id:  # secrets have no source: the ones that source reported
        where = where.replace(
            "s.source_id = %s",
            f"EXISTS (SELECT 1 FROM {FINDING} fi WHERE fi.secret_id = s.id AND fi.source_id = %s)",
        )
    sql = f"""SELECT s.secret_type, COUNT(*), COUNT(*) FILTER (WHERE s.reused) AS r
        FROM {SECRET} s WHERE {where}
        GROUP BY s.secret_type ORDER BY r DESC, COUNT(*) DESC, s.secret_type"""
    out = [
        {
            "secret_type": secret_type,
            "secrets": int(n),
            "reused": int(reused),
            "reused_share": round(int(reused) / int(n), 4) if n else None,
        }
        for secret_type, n, reused in _fetch(sql, params)
    ]
    return {
        "secrets": sum(r["secrets"] for r in out),
        "reused": sum(r["reused"] for r in out),
        "rows": out,
    }


@_metric
def noise(f: MetricFilters) -> dict:
    """False-positive share of findings first seen in range, per source and per (source, rule):
    dismissed as false_positive ÷ closed (resolved or dismissed); open findings are undecided
    and left out of the share. Rules: the TABLE_LIMIT with most false positives."""
    return _noise_result(_finding_groups(f, breakdown=False, rules=True))


@_metric
def page_results(f: MetricFilters, *, now: datetime | None = None, tables=None) -> dict[str, dict]:
    """The tables named (all by default) at once, with the work they share done once: one
    statement for time-to and exposure, one scan of the findings for breakdown and noise."""
    now = _now(now)
    wanted = set(TABLES if tables is None else tables)
    out = {}
    if wanted & {"time-to-remediate", "exposure"}:
        dists = _incident_distributions(
            f, now, times="time-to-remediate" in wanted, exposures="exposure" in wanted
        )
        if "time-to-remediate" in wanted:
            out["time-to-remediate"] = _time_to_result(dists)
        if "exposure" in wanted:
            out["exposure"] = _exposure_result(dists)
    if wanted & {"findings", "noise"}:
        groups = _finding_groups(f, breakdown="findings" in wanted, rules="noise" in wanted)
        if "findings" in wanted:
            out["findings"] = _breakdown_result(groups)
        if "noise" in wanted:
            out["noise"] = _noise_result(groups)
    for name, selector in (
        ("sla", lambda: sla(f, now=now)),
        ("survival", lambda: survival(f, now=now)),
        ("backlog", lambda: backlog(f, now=now)),
        ("trend", lambda: trend(f)),
        ("reused", lambda: reused_secrets(f)),
    ):
        if name in wanted:
            out[name] = selector()
    return {name: out[name] for name in TABLES if name in out}


@_metric
def headline(
    f: MetricFilters | None = None,
    *,
    now: datetime | None = None,
    open_findings: int | None = None,
) -> dict:
    """The manager's numbers: p50 time to revoke, SLA attainment, open backlog, p50 exposure.
    ``open_findings``: all open findings, when the caller has already counted them."""
    f = f or default_filters()
    if open_findings is None:
        open_findings = Finding.objects.filter(
            status__in=[FindingStatus.OPEN, FindingStatus.TRIAGED]
        ).count()
    findings = {"open": open_findings}
    incidents = Incident.objects.aggregate(
        open=Count("id", filter=~Q(status=IncidentStatus.CLOSED)), total=Count("id")
    )
    dists = _incident_distributions(f, now, times=True, exposures=True)
    times = {k["kind"]: k for k in _time_to_result(dists)["kinds"]}
    return {
        "filters": f,
        "findings": findings,
        "incidents": incidents,
        "revoke_p50": times["revoke"]["p50"],
        "remediate_p50": times["remediate"]["p50"],
        "sla_on_time": sla(f, now=now)["overall"]["on_time_share"],
        "exposure_p50": _exposure_result(dists)["revoked"]["p50"],
    }


@_metric
def manager_dashboard(user) -> dict:
    """The manager's landing page: headline numbers (last 90 days) and two small charts."""
    from hygiene import charts

    f = default_filters()
    result = backlog(f)  # no team/type/... filter: all open findings, as the headline counts
    head = headline(f, open_findings=sum(result["findings"]))
    incidents_trend = trend(f, findings=False)  # the chart shows the incidents' series only
    figures = {
        "backlog": charts.backlog_ages(result),
        "trend": charts.trend_lines(
            incidents_trend, prefix="incidents", title="Incidents per week"
        ),
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
