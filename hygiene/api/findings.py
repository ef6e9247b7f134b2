"""GET /api/v1/findings (the findings page's filters and keyset cursor), /{id}, /secrets.
Personal API tokens only; engineers see their teams' findings, like in the browser."""

from datetime import datetime

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from hygiene.api import ApiError
from hygiene.api.permissions import require_user
from hygiene.filters import (
    AGE_LABELS,
    AGES,
    MAX_YEAR,
    MIN_YEAR,
    PAGE_SIZE,
    SORTS,
    BadCursor,
    page_findings,
    page_secret_groups,
    parse_filter,
    secret_groups,
)
from hygiene.models import FindingCategory, FindingStatus
from hygiene.models.findings import Validity
from hygiene.selectors import findings_visible_to
from hygiene.taxonomy import SecretType, Severity

router = Router()


# --- OpenAPI: the query parameters ------------------------------------------------------------
# The endpoints read the query string with hygiene.filters.parse_filter (not ninja's
# parameters), so the schema lists them from here: one entry per parameter parse_filter reads
# (a test checks both ways), with the values it takes from the same lists it checks against.

_MANY = (
    "Repeat the parameter or separate values with commas (`{name}=a&{name}=b`, `{name}=a,b`): "
    "findings matching any of them. An unknown value is ignored, with a note in `notes`."
)
_DAY = (
    f"A day, `YYYY-MM-DD` (years {MIN_YEAR}-{MAX_YEAR}), inclusive. Another value is ignored, "
    "with a note in `notes`."
)
_FLAG = ["1", "0", "true", "false", "yes", "no"]


def _many(name: str, description: str, enum: list[str] | None = None) -> dict:
    items = {"type": "string", "enum": list(enum)} if enum else {"type": "string"}
    return {
        "in": "query",
        "name": name,
        "required": False,
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": items},
        "description": f"{description} {_MANY.format(name=name)}",
    }


def _one(name: str, description: str, **schema) -> dict:
    return {
        "in": "query",
        "name": name,
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


FILTER_PARAMETERS = [
    _many("status", "Finding status.", FindingStatus.values),
    _many("severity", "Severity.", Severity.values),
    _many("type", "Secret type (or posture check type).", SecretType.values),
    _one(
        "category",
        "Leaked secrets or posture findings. An unknown value is ignored, with a note.",
        enum=FindingCategory.values,
    ),
    _many("source", "A source's slug."),
    _many("team", "A team's slug, or `none` for findings no team owns."),
    _one(
        "repo",
        "A repository: its URL as stored (`https://github.com/acme/api`), or `org/repo` "
        "(`acme/api`, `api`): the repositories whose URL ends with it, any case. Up to 300 "
        "characters are read.",
    ),
    _one(
        "secret",
        "A secret's id: all of its findings. Another value is ignored, with a note.",
        type="integer",
        minimum=1,
        maximum=2**63 - 1,
    ),
    _many("validity", "Whether the secret still works.", Validity.values),
    _one(
        "reused",
        "`1` (or `true`, `yes`, any case): only findings of secrets seen in two or more "
        "repositories or services; `0` (`false`, `no`): only the others. Another value is "
        "ignored, with a note.",
        enum=_FLAG,
    ),
    _one(
        "missing",
        "`1` (or `true`, `yes`): only findings a full scan of their source no longer "
        "reports (never deleted: they may be fixed, or moved out of the scan's reach); `0`: "
        "only those still reported. Another value is ignored, with a note.",
        enum=_FLAG,
    ),
    _one(
        "age",
        "First seen: "
        + "; ".join(f"`{key}` {AGE_LABELS[key]}" for key in AGES)
        + ". An unknown value is ignored, with a note.",
        enum=list(AGES),
    ),
    _one("first_from", f"First seen on or after this day. {_DAY}", format="date"),
    _one("first_to", f"First seen on or before this day. {_DAY}", format="date"),
    _one("last_from", f"Last seen on or after this day. {_DAY}", format="date"),
    _one("last_to", f"Last seen on or before this day. {_DAY}", format="date"),
    _one(
        "assignee",
        "`me`: assigned to the token's owner; `none`: assigned to nobody. Another value is "
        "ignored, with a note.",
        enum=["me", "none"],
    ),
    _one(
        "pending",
        "`1`, `true` or `yes` (lower case): only dismissals proposed by an engineer and "
        "waiting for a lead (open or triaged). Any other value: no such filter.",
        enum=_FLAG,
    ),
    _one(
        "q",
        "Search: findings whose repository, path, rule or resource contains the text (any "
        "case), or whose secret one of its identifiers names whole (an AWS access key id, an "
        "ARN, a Vault path, a preview as shown: `AKIA…ZAM2`). Runs of spaces count as one; up "
        "to 200 characters are read.",
    ),
]


_SORT_TEXT = {
    "newest": "first seen, newest first (the default)",
    "oldest": "first seen, oldest first",
    "severity": "critical first, newest first within a severity",
    "last_seen": "last seen, most recent first",
}


def _sort(for_secrets: bool) -> dict:
    orders = "; ".join(f"`{key}` {_SORT_TEXT.get(key, label)}" for key, label in SORTS.items())
    if for_secrets:
        text = (
            f"Read as on /findings ({orders}), but secrets are always listed most recently "
            "seen first."
        )
    else:
        text = f"The order: {orders}. A cursor works only with the sort it was made with."
    return _one(
        "sort",
        f"{text} An unknown value is ignored, with a note.",
        enum=list(SORTS),
        default="newest",
    )


def _cursor(for_secrets: bool) -> dict:
    page, same = (
        ("/findings/secrets", "filters") if for_secrets else ("/findings", "filters and sort")
    )
    return _one(
        "cursor",
        f"The page to show: a {page} page's `next_cursor` (the page after) or `prev_cursor` "
        f"(the page before), with the same {same}. Without it, the first page. Pages hold up "
        f"to {PAGE_SIZE} items (a fixed size). A cursor that isn't one is a 400 with "
        f'`"location": "query.cursor"`.',
    )


def _query_parameters(*, for_secrets: bool) -> dict:
    return {"parameters": [*FILTER_PARAMETERS, _sort(for_secrets), _cursor(for_secrets)]}


class FindingOut(Schema):
    id: int
    secret_id: int | None
    source: str
    category: str
    rule: str
    secret_type: str
    severity: str
    status: str
    resolution: str
    proposed_resolution: str
    team: str | None
    assignee: str | None
    repo: str
    path: str
    line: int | None
    commit: str
    url: str
    resource: str
    validity: str
    first_seen_at: datetime
    last_seen_at: datetime
    missing_since: datetime | None


class FindingPage(Schema):
    items: list[FindingOut]
    next_cursor: str | None
    # The page before (null on the first page).
    prev_cursor: str | None
    notes: list[str]


class SecretGroupOut(Schema):
    id: int
    secret_type: str
    preview: str
    severity: str
    validity: str
    reused: bool
    place_count: int
    occurrences: int
    team: str | None
    exposed_since: datetime
    first_seen_at: datetime
    last_seen_at: datetime


class SecretGroupPage(Schema):
    items: list[SecretGroupOut]
    next_cursor: str | None
    # The page before (null on the first page).
    prev_cursor: str | None
    notes: list[str]


def _finding(f) -> dict:
    return {
        "id": f.pk,
        "secret_id": f.secret_id,
        "source": f.source.slug,
        "category": f.category,
        "rule": f.rule,
        "secret_type": f.secret_type,
        "severity": f.severity,
        "status": f.status,
        "resolution": f.resolution,
        "proposed_resolution": f.proposed_resolution,
        "team": f.team.slug if f.team else None,
        "assignee": f.assignee.username if f.assignee else None,
        "repo": f.repo,
        "path": f.path,
        "line": f.line,
        "commit": f.commit,
        "url": f.url,
        "resource": f.resource,
        "validity": f.validity,
        "first_seen_at": f.first_seen_at,
        "last_seen_at": f.last_seen_at,
        "missing_since": f.missing_since,
    }


def _query(request) -> QueryDict:
    return request.GET


@router.get(
    "",
    response=FindingPage,
    summary="Findings, filtered like the findings page",
    openapi_extra=_query_parameters(for_secrets=False),
)
def list_findings(request):
    """The findings page's filters (the query parameters below; filters combine with AND),
    paged by a keyset cursor. `notes` says which parameter values were ignored."""
    user = require_user(request, "hygiene.view_finding")
    ff = parse_filter(_query(request), user=user)
    qs = ff.apply(findings_visible_to(user)).select_related(
        "source", "team", "assignee", "sighting"
    )
    try:
        page = page_findings(qs, sort=ff.sort, cursor=request.GET.get("cursor") or None)
    except BadCursor as exc:
        raise ApiError(400, str(exc), "query.cursor") from None
    return {
        "items": [_finding(f) for f in page.items],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "notes": ff.notes,
    }


@router.get(
    "/secrets",
    response=SecretGroupPage,
    summary="Leaked secrets with occurrence counts",
    openapi_extra=_query_parameters(for_secrets=True),
)
def list_secrets(request):
    """One row per secret having a finding under the filters (same parameters as /findings),
    most recently seen first."""
    user = require_user(request, "hygiene.view_finding")
    ff = parse_filter(_query(request), user=user)
    groups = secret_groups(ff.apply(findings_visible_to(user)))
    try:
        page = page_secret_groups(groups, cursor=request.GET.get("cursor") or None)
    except BadCursor as exc:
        raise ApiError(400, str(exc), "query.cursor") from None
    items = [
        {
            "id": s.pk,
            "secret_type": s.secret_type,
            "preview": s.preview,
            "severity": s.severity,
            "validity": s.validity,
            "reused": s.reused,
            "place_count": s.place_count,
            "occurrences": s.occurrences,
            "team": s.team.slug if s.team else None,
            "exposed_since": s.exposed_since,
            "first_seen_at": s.first_seen_at,
            "last_seen_at": s.last_seen_at,
        }
        for s in page.items
    ]
    return {
        "items": items,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "notes": ff.notes,
    }


@router.get("/{finding_id}", response=FindingOut, summary="One finding")
def get_finding(request, finding_id: int):
    user = require_user(request, "hygiene.view_finding")
    finding = get_object_or_404(
        findings_visible_to(user).select_related("source", "team", "assignee", "sighting"),
        pk=finding_id,
    )
    return _finding(finding)
