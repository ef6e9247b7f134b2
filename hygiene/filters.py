"""The findings filter: its whole state lives in the URL (shareable, bookmarkable), is parsed
and validated here into a queryset, and is paged with keyset cursors (no OFFSET: page 2,000 costs
what page 1 costs). Unknown values are ignored with a visible note; a broken cursor raises
BadCursor (the API answers 400, a page opens its first page)."""

import base64
import binascii
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db import OperationalError, connection, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone

from hygiene.fingerprints import reference_hash
from hygiene.models import (
    Finding,
    FindingCategory,
    FindingStatus,
    ReferenceKind,
    Secret,
    SecretReference,
    Source,
    Team,
)
from hygiene.models.findings import Validity
from hygiene.search_terms import repo_q, search_q
from hygiene.taxonomy import SecretType, Severity

PAGE_SIZE = 50
COUNT_CAP = 10_000  # counts above this show as "10,000+": exact counts of a million rows cost
COUNT_BUDGET_MS = 60  # ...and a count that takes longer than this shows the planner's estimate
SEVERITY_ORDER = [s.value for s in Severity]  # critical first

AGES = {
    "24h": ("newer", timedelta(hours=24)),
    "7d": ("newer", timedelta(days=7)),
    "30d": ("newer", timedelta(days=30)),
    "older-30d": ("older", timedelta(days=30)),
    "older-90d": ("older", timedelta(days=90)),
}
AGE_LABELS = {
    "24h": "new in the last 24 hours",
    "7d": "new in the last 7 days",
    "30d": "new in the last 30 days",
    "older-30d": "older than 30 days",
    "older-90d": "older than 90 days",
}
SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "severity": "Severity",
    "last_seen": "Last seen",
}
# sort -> (field, descending)
_KEYSET = {
    "newest": ("first_seen_at", True),
    "oldest": ("first_seen_at", False),
    # Inner-joined (page_findings): read from sighting_last_seen backwards.
    "last_seen": ("sighting__last_seen_at", True),
}


class BadCursor(ValueError):
    pass


@dataclass
class FindingFilter:
    status: list[str] = field(default_factory=list)
    severity: list[str] = field(default_factory=list)
    secret_type: list[str] = field(default_factory=list)
    category: str = ""
    source: list[str] = field(default_factory=list)  # slugs
    team: list[str] = field(default_factory=list)  # slugs, or "none" for unowned
    repo: str = ""
    secret: int | None = None  # one secret's findings (its page links here)
    validity: list[str] = field(default_factory=list)
    reused: bool | None = None
    missing: bool | None = None  # no longer reported by its source's full scans (or still)
    age: str = ""
    first_from: date | None = None
    first_to: date | None = None
    last_from: date | None = None
    last_to: date | None = None
    assignee: str = ""  # "" | me | none
    pending: bool = False  # dismissals waiting for a lead
    q: str = ""
    sort: str = "newest"
    notes: list[str] = field(default_factory=list)

    # -- the URL ---------------------------------------------------------------------------

    def params(self) -> list[tuple[str, str]]:
        """Canonical query parameters (no cursor): for links, forms and the bulk selection."""
        out: list[tuple[str, str]] = []
        for key, values in (
            ("status", self.status),
            ("severity", self.severity),
            ("type", self.secret_type),
            ("source", self.source),
            ("team", self.team),
            ("validity", self.validity),
        ):
            out.extend((key, v) for v in values)
        for key, value in (
            ("category", self.category),
            ("repo", self.repo),
            ("age", self.age),
            ("assignee", self.assignee),
            ("q", self.q),
        ):
            if value:
                out.append((key, value))
        if self.reused is not None:
            out.append(("reused", "1" if self.reused else "0"))
        if self.missing is not None:
            out.append(("missing", "1" if self.missing else "0"))
        if self.secret is not None:
            out.append(("secret", str(self.secret)))
        if self.pending:
            out.append(("pending", "1"))
        for key in ("first_from", "first_to", "last_from", "last_to"):
            value = getattr(self, key)
            if value:
                out.append((key, value.isoformat()))
        if self.sort != "newest":
            out.append(("sort", self.sort))
        return out

    def querystring(self, **extra) -> str:
        params = [(k, v) for k, v in self.params() if k not in extra]
        params.extend((k, v) for k, v in extra.items() if v not in (None, ""))
        return urlencode(params)

    @property
    def querystring_without_secret(self) -> str:
        return self.querystring(secret=None)

    @property
    def is_empty(self) -> bool:
        return not [p for p in self.params() if p[0] != "sort"]

    # -- the queryset ----------------------------------------------------------------------

    def apply(self, qs: QuerySet[Finding]) -> QuerySet[Finding]:
        if self.status:
            qs = qs.filter(status__in=self.status)
        if self.severity:
            qs = qs.filter(severity__in=self.severity)
        if self.secret_type:
            qs = qs.filter(secret_type__in=self.secret_type)
        if self.category:
            qs = qs.filter(category=self.category)
        if self.source:
            qs = qs.filter(source__slug__in=self.source)
        if self.team:
            slugs = [t for t in self.team if t != "none"]
            q = Q(team__slug__in=slugs) if slugs else Q(pk__in=[])
            if "none" in self.team:
                q |= Q(team__isnull=True)
            qs = qs.filter(q)
        if self.repo:
            qs = qs.filter(repo_q(self.repo, connection))
        if self.secret is not None:
            qs = qs.filter(secret_id=self.secret)
        if self.validity:
            qs = qs.filter(validity__in=self.validity)
        if self.reused is not None:
            qs = qs.filter(secret__reused=self.reused)
        if self.missing is not None:
            qs = qs.filter(missing_since__isnull=not self.missing)
        now = timezone.now()
        if self.age:
            direction, delta = AGES[self.age]
            if direction == "newer":
                qs = qs.filter(first_seen_at__gte=now - delta)
            else:
                qs = qs.filter(first_seen_at__lt=now - delta)
        for key, column in (("first", "first_seen_at"), ("last", "sighting__last_seen_at")):
            start, end = getattr(self, f"{key}_from"), getattr(self, f"{key}_to")
            if start:
                qs = qs.filter(**{f"{column}__gte": _day_start(start)})
            if end:
                qs = qs.filter(**{f"{column}__lt": _day_start(end + timedelta(days=1))})
        if self.assignee == "none":
            qs = qs.filter(assignee__isnull=True)
        elif self.assignee == "me" and self._user is not None:
            qs = qs.filter(assignee_id=self._user.pk)
        if self.pending:
            qs = qs.exclude(proposed_resolution="").filter(status__in=["open", "triaged"])
        if self.q:
            search = search_q(self.q, connection)
            known = _secrets_named_by(self.q)
            qs = qs.filter(search | Q(secret_id__in=known) if known else search)
        return qs

    _user = None


def _secrets_named_by(text: str) -> list[int]:
    """The secrets one of whose identifiers (an AWS access key id, an ARN, a Vault path...) is
    ``text``, whole: references are kept as keyed hashes, so only an exact identifier matches
    (the key id an "exposed key" notice gives finds its secret and all of its findings)."""
    if len(text) < 4 or " " in text:
        return []
    shown = text.replace("...", "…")
    if "…" in shown:
        # A secret's preview or a key id as the pages show them (AKIA…ZAM2): what a reader
        # copies from a page or a notification. A scan of the secrets, only for such text.
        previews = Secret.objects.filter(preview=shown).values_list("pk", flat=True)[:1000]
        labels = SecretReference.objects.filter(display=shown).values_list("secret_id", flat=True)
        return list({*previews, *labels[:1000]})
    hashes = [reference_hash(kind, text) for kind in ReferenceKind.values]
    return list(
        SecretReference.objects.filter(value_hash__in=hashes)
        .values_list("secret_id", flat=True)
        .distinct()[:1000]
    )


def _day_start(d: date) -> datetime:
    return timezone.make_aware(datetime.combine(d, time.min))


def _values(data: QueryDict, key: str) -> list[str]:
    out: list[str] = []
    for raw in data.getlist(key):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return list(dict.fromkeys(out))


def _choices(data, key, allowed, label, notes) -> list[str]:
    values = _values(data, key)
    good = [v for v in values if v in allowed]
    for bad in values:
        if bad not in allowed:
            notes.append(f"Ignored unknown {label} “{bad[:40]}”.")
    return good


# Dates outside these years are typos (and 9999-12-31 plus a day is past what dates hold).
MIN_YEAR, MAX_YEAR = 1970, 2999


def _date(data, key, label, notes) -> date | None:
    raw = (data.get(key) or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        notes.append(f"Ignored {label} “{raw[:20]}”: use YYYY-MM-DD.")
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        notes.append(f"Ignored {label} “{raw[:20]}”: a year from {MIN_YEAR} to {MAX_YEAR}.")
        return None
    return day


def _flag(data: QueryDict, key: str, notes: list[str]) -> bool | None:
    value = (data.get(key) or "").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    if value:
        notes.append(f"Ignored {key} “{value[:10]}”: use 1 or 0.")
    return None


def parse_filter(data: QueryDict, *, user=None) -> FindingFilter:
    notes: list[str] = []
    ff = FindingFilter(notes=notes)
    ff._user = user
    ff.status = _choices(data, "status", FindingStatus.values, "status", notes)
    ff.severity = _choices(data, "severity", Severity.values, "severity", notes)
    ff.secret_type = _choices(data, "type", SecretType.values, "secret type", notes)
    category = (data.get("category") or "").strip()
    if category and category not in FindingCategory.values:
        notes.append(f"Ignored unknown category “{category[:40]}”.")
    elif category:
        ff.category = category
    sources = _values(data, "source")
    if sources:
        known = set(Source.objects.filter(slug__in=sources).values_list("slug", flat=True))
        ff.source = [s for s in sources if s in known]
        notes.extend(f"Ignored unknown source “{s[:40]}”." for s in sources if s not in known)
    teams = _values(data, "team")
    if teams:
        known = set(Team.objects.filter(slug__in=teams).values_list("slug", flat=True)) | {"none"}
        ff.team = [t for t in teams if t in known]
        notes.extend(f"Ignored unknown team “{t[:40]}”." for t in teams if t not in known)
    ff.repo = (data.get("repo") or "").strip()[:300]
    secret = (data.get("secret") or "").strip()
    if secret.isdigit() and 0 < int(secret) < 2**63:
        ff.secret = int(secret)
    elif secret:
        notes.append(f"Ignored secret “{secret[:20]}”: a secret's number.")
    ff.validity = _choices(data, "validity", Validity.values, "validity", notes)
    ff.reused = _flag(data, "reused", notes)
    ff.missing = _flag(data, "missing", notes)
    age = (data.get("age") or "").strip()
    if age and age not in AGES:
        notes.append(f"Ignored unknown age “{age[:20]}”.")
    elif age:
        ff.age = age
    ff.first_from = _date(data, "first_from", "first seen from", notes)
    ff.first_to = _date(data, "first_to", "first seen until", notes)
    ff.last_from = _date(data, "last_from", "last seen from", notes)
    ff.last_to = _date(data, "last_to", "last seen until", notes)
    assignee = (data.get("assignee") or "").strip()
    if assignee and assignee not in ("me", "none"):
        notes.append(f"Ignored assignee “{assignee[:20]}”: use me or none.")
    elif assignee:
        ff.assignee = assignee
    ff.pending = (data.get("pending") or "") in ("1", "true", "yes")
    ff.q = " ".join((data.get("q") or "").split())[:200]
    sort = (data.get("sort") or "newest").strip()
    if sort not in SORTS:
        notes.append(f"Ignored unknown sort “{sort[:20]}”.")
        sort = "newest"
    ff.sort = sort
    return ff


# --- keyset pagination ----------------------------------------------------------------------


BACKWARD = "prev"  # a cursor's last element when it pages back (before its key)


def encode_cursor(payload: list, *, backward: bool = False) -> str:
    raw = json.dumps([*payload, BACKWARD] if backward else payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass
class Cursor:
    """A page boundary: the sort key of a row, and whether the page is the rows after it (in
    the sort order) or the ones before it (Previous page)."""

    key: list
    backward: bool = False


def decode_cursor(cursor: str, sort: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadCursor("That page link is broken; start again from the first page.") from exc
    if not isinstance(payload, list) or not payload or payload[0] != sort:
        raise BadCursor("That page link belongs to another sort order; start from the first page.")
    backward = payload[-1] == BACKWARD
    if backward:
        payload = payload[:-1]
    try:
        if sort == "severity":
            _, sev, ts, pk = payload
            if sev not in SEVERITY_ORDER:
                raise ValueError(sev)
            return Cursor([sev, datetime.fromisoformat(ts), int(pk)], backward)
        _, ts, pk = payload
        return Cursor([datetime.fromisoformat(ts), int(pk)], backward)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadCursor("That page link is broken; start again from the first page.") from exc


@dataclass
class Page:
    items: list
    next_cursor: str | None
    size: int = PAGE_SIZE
    # The page before this one (None on the first page, or when there is nothing before).
    prev_cursor: str | None = None


def _after(column: str, desc: bool, value, pk) -> Q:
    op = "lt" if desc else "gt"
    ope = "lte" if desc else "gte"
    # The redundant bound lets PostgreSQL start its index range scan at the cursor.
    return Q(**{f"{column}__{ope}": value}) & (
        Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"pk__{op}": pk})
    )


def _keyset_page(qs, column: str, desc: bool, at: Cursor | None, size: int, key) -> Page:
    """One page of ``qs`` ordered by ``column`` then pk (``desc``: newest first), after the
    cursor ``at`` (or before it, reading the other way and turning the rows round).
    ``key(row)``: a row's cursor payload."""
    backward = bool(at and at.backward)
    reading_desc = desc != backward
    ranged = qs.filter(_after(column, reading_desc, *at.key)) if at else qs
    prefix = "-" if reading_desc else ""
    items = list(ranged.order_by(f"{prefix}{column}", f"{prefix}pk")[: size + 1])
    if backward and not items:  # what was before the cursor is gone: the first page
        return _keyset_page(qs, column, desc, None, size, key)
    return _turn(items, at, size, key)


def _turn(items: list, at: Cursor | None, size: int, key) -> Page:
    """A page from rows read away from the cursor ``at`` (up to ``size`` + 1 of them, the
    extra one telling that there are more that way)."""
    more = len(items) > size
    items = items[:size]
    if at and at.backward:
        items.reverse()
        # Read backwards: the rows after this page are those from the cursor on.
        next_cursor = encode_cursor(key(items[-1])) if items else None
        prev_cursor = encode_cursor(key(items[0]), backward=True) if more else None
    else:
        next_cursor = encode_cursor(key(items[-1])) if more else None
        prev_cursor = encode_cursor(key(items[0]), backward=True) if at and items else None
    return Page(items=items, next_cursor=next_cursor, size=size, prev_cursor=prev_cursor)


def page_findings(
    qs: QuerySet[Finding], *, sort: str, cursor: str | None = None, size: int = PAGE_SIZE
) -> Page:
    """One page of ``qs`` in ``sort`` order after (or, paging back, before) ``cursor``
    (raises BadCursor)."""
    at = decode_cursor(cursor, sort) if cursor else None
    if sort == "severity":
        return _page_by_severity(qs, at, size)
    column, desc = _KEYSET[sort]
    if sort == "last_seen":
        # An inner join (every imported finding has its sighting): PostgreSQL reads
        # sighting_last_seen backwards and stops at a page, where an outer join sorts them all.
        qs = qs.filter(sighting__last_seen_at__isnull=False)

        def key(row):
            return [sort, row.last_seen_at.isoformat(), row.pk]
    else:

        def key(row):
            return [sort, getattr(row, column).isoformat(), row.pk]

    return _keyset_page(qs, column, desc, at, size, key)


def _page_by_severity(qs, at: Cursor | None, size) -> Page:
    """Severity order as one index range per severity (critical first, newest first within):
    an ORDER BY over a CASE expression would sort every matching row. Paging back reads the
    ranges the other way (from the cursor's severity towards critical, oldest first)."""
    items: list = []
    backward = bool(at and at.backward)
    start = SEVERITY_ORDER.index(at.key[0]) if at else 0
    severities = range(start, -1, -1) if backward else range(start, len(SEVERITY_ORDER))
    order = ("first_seen_at", "pk") if backward else ("-first_seen_at", "-pk")
    for i in severities:
        part = qs.filter(severity=SEVERITY_ORDER[i])
        if at and i == start:
            part = part.filter(_after("first_seen_at", not backward, *at.key[1:]))
        items.extend(part.order_by(*order)[: size + 1 - len(items)])
        if len(items) > size:
            break
    if backward and not items:  # what was before the cursor is gone: the first page
        return _page_by_severity(qs, None, size)
    return _turn(
        items,
        at,
        size,
        lambda row: ["severity", row.severity, row.first_seen_at.isoformat(), row.pk],
    )


@dataclass
class MatchCount:
    """How many rows match: exact, "at least ``n``" (capped) or a planner estimate."""

    n: int
    exact: bool = True
    estimated: bool = False

    def __str__(self) -> str:
        if self.estimated:
            return f"≈{self.n:,}"
        return f"{self.n:,}" if self.exact else f"{self.n:,}+"


def _planner_estimate(qs: QuerySet) -> int:
    sql, params = qs.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(
    qs: QuerySet, cap: int = COUNT_CAP, budget_ms: int = COUNT_BUDGET_MS
) -> MatchCount:
    """Count matching rows, stopping past ``cap``; on PostgreSQL a count that would take more
    than ``budget_ms`` is cancelled and the planner's estimate shown instead (a page must not
    wait seconds to print a number)."""
    limited = qs.order_by()[: cap + 1]
    if connection.vendor != "postgresql":
        n = limited.count()
        return MatchCount(min(n, cap), exact=n <= cap)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout')")
                previous = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [f"{budget_ms}ms"]
                )
            n = limited.count()
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError:  # cancelled by the timeout; the savepoint undid the setting
        return MatchCount(_planner_estimate(qs), exact=False, estimated=True)
    return MatchCount(min(n, cap), exact=n <= cap)


def capped_count(qs: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, exact): counting stops past ``cap``."""
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n <= cap


# --- grouped by secret ----------------------------------------------------------------------


def secret_groups(findings: QuerySet[Finding]) -> QuerySet[Secret]:
    """One row per leaked secret that has a finding in ``findings`` (already filtered and
    scoped), with how many of those findings it has (a per-row subquery on 50 rows, instead of
    grouping every matching finding)."""
    matching = findings.filter(secret_id=OuterRef("pk"))
    occurrences = matching.order_by().values("secret_id").annotate(n=Count("pk")).values("n")[:1]
    # A semi-join on IN lets PostgreSQL either walk secrets newest-seen first probing each one's
    # findings (broad filters) or collect the few matching findings first (narrow ones).
    # An inner join on the sighting (every secret has one: imports write it), so that the
    # count and the pages (which read secret_sighting_last_seen backwards) agree.
    return (
        Secret.objects.filter(
            pk__in=findings.order_by().values("secret_id"), sighting__last_seen_at__isnull=False
        )
        .annotate(occurrences=Coalesce(Subquery(occurrences, output_field=IntegerField()), 0))
        .select_related("team", "sighting")
    )


def page_secret_groups(
    groups: QuerySet[Secret], *, cursor: str | None = None, size: int = PAGE_SIZE
) -> Page:
    at = decode_cursor(cursor, "groups") if cursor else None
    # (secret_groups joins the sightings): PostgreSQL reads secret_sighting_last_seen backwards
    # and stops at a page.
    return _keyset_page(
        groups,
        "sighting__last_seen_at",
        True,
        at,
        size,
        lambda row: ["groups", row.last_seen_at.isoformat(), row.pk],
    )


# --- CSV export -----------------------------------------------------------------------------

CSV_COLUMNS = [
    ("id", "pk"),
    ("severity", "severity"),
    ("status", "status"),
    ("category", "category"),
    ("secret_type", "secret_type"),
    ("rule", "rule"),
    ("repo", "repo"),
    ("path", "path"),
    ("line", "line"),
    ("commit", "commit"),
    ("resource", "resource"),
    ("source", "source__slug"),
    ("team", "team__slug"),
    ("assignee", "assignee__username"),
    ("validity", "validity"),
    ("secret_id", "secret_id"),
    ("secret_preview", "secret__preview"),
    ("first_seen_at", "first_seen_at"),
    ("last_seen_at", "sighting__last_seen_at"),
    ("resolution", "resolution"),
    ("url", "url"),
]


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # Spreadsheets run cells that start like a formula; defuse them.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def csv_rows(qs: QuerySet[Finding]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in CSV_COLUMNS])
    fields = [f for _, f in CSV_COLUMNS]
    for row in qs.order_by("-first_seen_at", "-pk").values_list(*fields).iterator(chunk_size=2000):
        yield writer.writerow([_cell(v) for v in row])


def export_csv(qs: QuerySet[Finding], filename: str = "findings.csv") -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_rows(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


__all__ = [
    "AGE_LABELS",
    "SORTS",
    "BadCursor",
    "FindingFilter",
    "Page",
    "bounded_count",
    "capped_count",
    "export_csv",
    "page_findings",
    "page_secret_groups",
    "parse_filter",
    "secret_groups",
]
