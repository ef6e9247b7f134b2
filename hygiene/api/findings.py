"""GET /api/v1/findings (the findings page's filters and keyset cursor), /{id}, /secrets.
Personal API tokens only; engineers see their teams' findings, like in the browser."""

from datetime import datetime

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from hygiene.api import ApiError
from hygiene.api.permissions import require_user
from hygiene.filters import (
    BadCursor,
    page_findings,
    page_secret_groups,
    parse_filter,
    secret_groups,
)
from hygiene.selectors import findings_visible_to

router = Router()


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


@router.get("", response=FindingPage, summary="Findings, filtered like the findings page")
def list_findings(request):
    """Same parameters as the page: status, severity, type, category, source, team, repo (its
    URL, or org/repo: the repositories whose URL ends with it), secret (a secret's id),
    validity, reused, age, first_from/first_to, last_from/last_to, assignee, pending, q, sort
    (newest | oldest | severity | last_seen), cursor (a page's next_cursor or prev_cursor)."""
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


@router.get("/secrets", response=SecretGroupPage, summary="Leaked secrets with occurrence counts")
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
