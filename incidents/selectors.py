"""Reads of incidents and steps shared by pages, the API and dashboards."""

from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from hygiene.roles import role_of, sees_everything
from incidents.models import FollowUp, Incident, IncidentStatus, Step

OPEN_STEP = Q(completed_at__isnull=True, skipped_at__isnull=True)


def incidents_visible_to(user) -> QuerySet[Incident]:
    """Leads and managers see every incident; engineers their teams' and the ones they own,
    take part in, have a step in or own a follow-up of; anyone else none."""
    qs = Incident.objects.all()
    if sees_everything(user):
        return qs
    if role_of(user) != "engineer":
        return qs.none()
    mine = Step.objects.filter(incident=OuterRef("pk"), assignee=user)
    member = Incident.participants.through.objects.filter(incident=OuterRef("pk"), user=user)
    follow_up = FollowUp.objects.filter(incident=OuterRef("pk"), owner=user)
    return qs.filter(
        Q(team__members=user) | Q(owner=user) | Exists(member) | Exists(mine) | Exists(follow_up)
    ).distinct()


def incident_ids_visible_to(user, incidents) -> set[int]:
    """Of ``incidents``, the ids ``user`` may open: a page that names incidents it reached
    another way (a secret an engineer sees through a finding assigned to them) links only
    these, and names the others without a link (their page would answer 403)."""
    ids = [incident.pk for incident in incidents]
    if not ids:
        return set()
    return set(incidents_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def follow_ups_for_user(user) -> QuerySet[FollowUp]:
    """My work: the open follow-ups I own, soonest due first."""
    return (
        FollowUp.objects.filter(owner=user, done_at__isnull=True)
        .select_related("incident")
        .order_by("due_at", "id")
    )


def incidents_filtered(
    user, *, status="", severity="", owner=None, team=None, overdue=False, unowned=False
):
    """The incidents list: visible to ``user``, narrowed by the filters given. ``status`` may
    also be "active" (anything not closed); ``owner`` a user id or "me" is resolved by callers;
    ``unowned``: those nobody owns."""
    qs = incidents_visible_to(user)
    if unowned:
        qs = qs.filter(owner__isnull=True)
    if status == "active":
        qs = qs.exclude(status=IncidentStatus.CLOSED)
    elif status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if owner is not None:
        qs = qs.filter(owner_id=owner)
    if team is not None:
        qs = qs.filter(team_id=team)
    if overdue:
        # overdue_q's rule: a paused incident's late steps stay late (its clock stopped late).
        late = Step.objects.filter(overdue_q(timezone.now()), incident=OuterRef("pk"))
        qs = qs.filter(Exists(late)).exclude(status=IncidentStatus.CLOSED)
    return qs


def steps_for_user(user) -> QuerySet[Step]:
    """My work: open steps assigned to me, or unassigned steps of my teams' incidents."""
    team_member = Incident.objects.filter(pk=OuterRef("incident_id"), team__members=user)
    return (
        Step.objects.filter(OPEN_STEP)
        .exclude(incident__status=IncidentStatus.CLOSED)
        .filter(Q(assignee=user) | Q(assignee__isnull=True) & Exists(team_member))
        .select_related("incident", "assignee")
        .order_by("due_at", "pk")
    )


TIMELINE_PAGE = 200


def incident_timeline(incident: Incident, limit: int = TIMELINE_PAGE, before=None):
    """The newest ``limit`` entries, newest first; with ``before`` (an entry of this
    timeline) the ``limit`` entries older than it, so a long timeline pages back in bounded
    queries (the order is (created_at, id): entries of one instant keep theirs)."""
    qs = incident.timeline.select_related("actor").order_by("-created_at", "-id")
    if before is not None:
        at = before.created_at
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=before.pk))
    return qs[:limit]


def timeline_page(incident: Incident, before_id=None, limit: int = TIMELINE_PAGE) -> dict:
    """The incident page's timeline: a page of entries and where it stands in the whole, so
    the page says what it leaves out ("the latest 200 of 208") and links to the older ones.
    ``before_id`` (the ?timeline_before= parameter) not an entry of this incident: the newest."""
    before = None
    if before_id is not None:
        before = incident.timeline.filter(pk=before_id).first()
    rows = list(incident_timeline(incident, limit + 1, before=before))
    events, more = rows[:limit], len(rows) > limit
    total = incident.timeline.count()
    newer = 0
    if before is not None:  # how many entries the pages before this one show
        at = before.created_at
        newer = incident.timeline.filter(
            Q(created_at__gt=at) | Q(created_at=at, id__gte=before.pk)
        ).count()
    return {
        "events": events,
        "total": total,
        "first": newer + 1,
        "last": newer + len(events),
        "paged": before is not None,
        "older_than": events[-1].pk if more else None,
    }


# The engineer's dashboard shows this many of each; the counts are over all of them.
DASHBOARD_STEPS = 20
DASHBOARD_INCIDENTS = 10


def overdue_q(now) -> Q:
    """Open steps past their deadline as Step.state says it: a paused incident's clock stopped
    at its pause, so its steps are overdue if they were due by then."""
    return OPEN_STEP & (
        Q(incident__paused_at__isnull=True, due_at__lte=now)
        | Q(incident__paused_at__isnull=False, due_at__lte=F("incident__paused_at"))
    )


def overdue_steps(now) -> QuerySet[Step]:
    """Every overdue step of an incident not closed, paused ones' included: what the lead's
    panel lists, the incidents list's overdue filter finds and the metrics count."""
    return Step.objects.filter(overdue_q(now)).exclude(incident__status=IncidentStatus.CLOSED)


def engineer_dashboard(user) -> dict:
    """My steps (those assigned to me first: a team's many unassigned steps must not hide
    them) and the active incidents I see, with counts over all of them, not the rows shown."""
    now = timezone.now()
    steps = steps_for_user(user)
    step_counts = steps.aggregate(
        total=Count("pk"),
        mine=Count("pk", filter=Q(assignee=user)),
        overdue=Count("pk", filter=overdue_q(now)),
    )
    shown = steps.annotate(
        others=Case(When(assignee=user, then=Value(0)), default=Value(1))
    ).order_by("others", "due_at", "pk")[:DASHBOARD_STEPS]
    # What the incidents list shows for status=active: the link says how many there are.
    incidents = incidents_filtered(user, status="active").select_related("team", "owner")
    return {
        "now": now,
        "my_steps": list(shown),
        "step_counts": step_counts,
        "overdue_count": step_counts["overdue"],
        "my_incidents": incidents.order_by("-opened_at", "-id")[:DASHBOARD_INCIDENTS],
        "incident_count": incidents.count(),
    }
