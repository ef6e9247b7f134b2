"""/api/v1/incidents: list (filtered, bounded), detail (steps with state, timeline), open."""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from hygiene.api import ApiError
from hygiene.api.permissions import require_user
from hygiene.selectors import secrets_visible_to
from incidents import services
from incidents.models import IncidentStatus
from incidents.selectors import incident_timeline, incidents_filtered, incidents_visible_to

router = Router()

MAX_LIMIT = 100


class IncidentOut(Schema):
    id: int
    reference: str
    title: str
    severity: str
    status: str
    owner: str | None
    team: str | None
    playbook: str
    playbook_version: int
    opened_at: datetime
    exposed_since: datetime | None
    contained_at: datetime | None
    remediated_at: datetime | None
    closed_at: datetime | None
    paused: bool
    auto_opened: bool
    url: str


class IncidentPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[IncidentOut]


class StepOut(Schema):
    id: int
    position: int
    action: str
    title: str
    required: bool
    depends_on: list[int]
    assignee: str | None
    state: str
    started_at: datetime
    due_at: datetime
    due_soon_at: datetime
    completed_at: datetime | None
    skipped_at: datetime | None
    skipped_reason: str
    evidence_note: str
    evidence_url: str
    evidence_event_id: int | None
    alert: str


class TimelineOut(Schema):
    id: int
    kind: str
    message: str
    actor: str | None
    actor_label: str
    step_id: int | None
    created_at: datetime


class IncidentDetail(IncidentOut):
    summary: str
    paused_total_seconds: int
    secret_ids: list[int]
    steps: list[StepOut]
    timeline: list[TimelineOut]


class OpenIn(Schema):
    secret_ids: list[int] = Field(..., min_length=1, max_length=500)
    severity: str | None = None


class ListFilters(Schema):
    status: str | None = None
    severity: str | None = None
    owner: int | None = None
    team: int | None = None
    overdue: bool = False
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=1_000_000)


def _name(user):
    return (user.get_full_name() or user.username) if user else None


def _incident(i) -> dict:
    return {
        "id": i.pk,
        "reference": i.reference,
        "title": i.title,
        "severity": i.severity,
        "status": i.status,
        "owner": _name(i.owner),
        "team": i.team.name if i.team else None,
        "playbook": i.playbook.slug,
        "playbook_version": i.playbook.version,
        "opened_at": i.opened_at,
        "exposed_since": i.exposed_since,
        "contained_at": i.contained_at,
        "remediated_at": i.remediated_at,
        "closed_at": i.closed_at,
        "paused": i.paused_at is not None,
        "auto_opened": i.auto_opened,
        "url": f"/incidents/{i.pk}/",
    }


@router.get("", response=IncidentPage, summary="List incidents")
def list_incidents(request, filters: Query[ListFilters]):
    user = require_user(request, "incidents.view_incident")
    if filters.status and filters.status not in ("active", *IncidentStatus.values):
        raise ApiError(400, f"unknown status {filters.status!r}", "query.status")
    if filters.severity and filters.severity not in services.SEVERITIES:
        raise ApiError(400, f"unknown severity {filters.severity!r}", "query.severity")
    qs = incidents_filtered(
        user,
        status=filters.status or "",
        severity=filters.severity or "",
        owner=filters.owner,
        team=filters.team,
        overdue=filters.overdue,
    ).select_related("owner", "team", "playbook")
    items = qs.order_by("-opened_at", "-id")[filters.offset : filters.offset + filters.limit]
    return {
        "count": qs.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": [_incident(i) for i in items],
    }


@router.get("/{int:incident_id}", response=IncidentDetail, summary="One incident")
def get_incident(request, incident_id: int):
    user = require_user(request, "incidents.view_incident")
    incident = (
        incidents_visible_to(user)
        .select_related("owner", "team", "playbook")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise HttpError(404, "no such incident (or not yours to see)")
    now = timezone.now()
    steps = list(incident.steps.select_related("assignee").order_by("position"))
    for s in steps:
        s.incident = incident
    return {
        **_incident(incident),
        "summary": incident.summary,
        "paused_total_seconds": int((incident.paused_total or timedelta()).total_seconds()),
        "secret_ids": list(incident.secrets.values_list("pk", flat=True)[:500]),
        "steps": [
            {
                "id": s.pk,
                "position": s.position,
                "action": s.action,
                "title": s.title,
                "required": s.required,
                "depends_on": s.depends_on or [],
                "assignee": _name(s.assignee),
                "state": s.state(now),
                "started_at": s.started_at,
                "due_at": s.due_at,
                "due_soon_at": s.due_soon_at,
                "completed_at": s.completed_at,
                "skipped_at": s.skipped_at,
                "skipped_reason": s.skipped_reason,
                "evidence_note": s.evidence_note,
                "evidence_url": s.evidence_url,
                "evidence_event_id": s.evidence_event_id,
                "alert": s.alert,
            }
            for s in steps
        ],
        "timeline": [
            {
                "id": e.pk,
                "kind": e.kind,
                "message": e.message,
                "actor": _name(e.actor),
                "actor_label": e.actor_label,
                "step_id": e.step_id,
                "created_at": e.created_at,
            }
            for e in incident_timeline(incident, limit=500)
        ],
    }


@router.post("/open", response={201: IncidentOut}, summary="Open an incident for secrets")
def open_incident(request, payload: OpenIn):
    user = require_user(request, "incidents.manage_incident")
    ids = set(payload.secret_ids)
    secrets = list(secrets_visible_to(user).filter(pk__in=ids))
    if len(secrets) != len(ids):
        raise HttpError(404, "some of these secrets don't exist (or aren't yours to see)")
    try:
        incident = services.incident_open(
            secrets=secrets, opened_by=user, severity=payload.severity
        )
    except services.IncidentError as e:
        status = 400 if "severity" in str(e) else 409
        raise HttpError(status, str(e)) from None
    except PermissionDenied as e:
        raise HttpError(403, str(e) or "your role does not allow this") from None
    incident = (
        incidents_visible_to(user).select_related("owner", "team", "playbook").get(pk=incident.pk)
    )
    return Status(201, _incident(incident))
