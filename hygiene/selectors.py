"""Reads shared by views, the API and charts."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from hygiene.filters import MatchCount
from hygiene.models import Finding, ImportRun, Secret
from hygiene.roles import role_of, sees_everything


def team_ids_of(user) -> list[int]:
    cached = getattr(user, "_leakline_team_ids", None)
    if cached is None:
        cached = list(user.teams.values_list("id", flat=True)) if user.is_authenticated else []
        user._leakline_team_ids = cached
    return cached


def findings_visible_to(user) -> QuerySet[Finding]:
    """Leads and managers see every finding; engineers their teams' and their own; anyone
    without a role nothing."""
    qs = Finding.objects.all()
    if sees_everything(user):
        return qs
    if role_of(user) is None:
        return qs.none()
    return qs.filter(Q(team_id__in=team_ids_of(user)) | Q(assignee_id=user.pk))


def incident_secret_ids(user) -> QuerySet:
    """The secrets of the incidents an engineer works on (owner, participant, a step or a
    follow-up of theirs, their teams'): on those secrets' and findings' own pages they see
    every finding, wherever it is (they have to clean it up). Lists stay team-scoped."""
    from incidents.models import IncidentSecret  # incidents builds on hygiene
    from incidents.selectors import incidents_visible_to

    return IncidentSecret.objects.filter(
        incident__in=incidents_visible_to(user).values("pk")
    ).values("secret_id")


def findings_of_secret_visible_to(user, secret_id: int) -> QuerySet[Finding]:
    """A secret's findings as its page shows them: the visible ones, or all of them to whoever
    works on one of its incidents."""
    visible = findings_visible_to(user).filter(secret_id=secret_id)
    if sees_everything(user) or role_of(user) is None:
        return visible
    if incident_secret_ids(user).filter(secret_id=secret_id).exists():
        return Finding.objects.filter(secret_id=secret_id)
    return visible


def secrets_visible_to(user) -> QuerySet[Secret]:
    """Leads and managers see every secret; engineers their teams', those of findings
    assigned to them and those of the incidents they see; anyone without a role none."""
    qs = Secret.objects.all()
    if sees_everything(user):
        return qs
    if role_of(user) is None:
        return qs.none()
    teams = team_ids_of(user)
    mine = Finding.objects.filter(secret_id=OuterRef("pk")).filter(
        Q(team_id__in=teams) | Q(assignee_id=user.pk)
    )
    # And the secrets of the incidents they work on: the incident page links to them.
    working_on = incident_secret_ids(user).filter(secret_id=OuterRef("pk"))
    return qs.filter(Q(team_id__in=teams) | Exists(mine) | Exists(working_on))


def secret_timeline(secret: Secret, limit: int = 100) -> list:
    """A secret's timeline, newest first: its events, then (the oldest entry) the import that
    first reported it. That one is not a stored row but read from ``secret.first_run`` (see
    Secret.first_run); secrets imported before that column existed have it stored."""
    from incidents.models import TimelineEvent

    events = list(
        TimelineEvent.objects.filter(secret=secret)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    if secret.first_run_id is not None and len(events) < limit:
        run = ImportRun.objects.filter(pk=secret.first_run_id).select_related("source").first()
        events.append(
            TimelineEvent(
                secret=secret,
                kind="secret.first_seen",
                created_at=secret.first_seen_at,
                actor_label=f"{run.format} import #{run.pk}" if run else "",
                message=f"First seen by {run.source.name}"
                if run
                else f"First seen by import #{secret.first_run_id} (no longer recorded)",
                data={"import_run": secret.first_run_id},
            )
        )
    return events


def finding_timeline(finding: Finding, limit: int = 100) -> list:
    """A finding's timeline, newest first: its events (triage, comments, what imports changed),
    then (the oldest entry) its first report, read from the finding itself."""
    from incidents.models import TimelineEvent

    events = list(
        TimelineEvent.objects.filter(finding=finding)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    if len(events) < limit:
        events.append(
            TimelineEvent(
                kind="finding.first_seen",
                created_at=finding.first_seen_at,
                message=f"First reported by {finding.source.name}",
            )
        )
    return events


def lead_dashboard(user) -> dict:
    """What needs triage and what is overdue."""
    from django.utils import timezone

    from hygiene.models import FindingStatus
    from incidents.selectors import overdue_steps

    now = timezone.now()
    findings = findings_visible_to(user)
    return {
        "now": now,
        # Written as the findings list writes its count ("10,000+").
        "untriaged": _capped(findings.filter(status=FindingStatus.OPEN), 10_000),
        "pending_dismissals": findings.exclude(proposed_resolution="")
        .filter(status__in=["open", "triaged"])[:1001]
        .count(),
        "new_critical": findings.filter(status=FindingStatus.OPEN, severity="critical")
        .select_related("secret", "source")
        .order_by("-first_seen_at", "-id")[:10],
        "overdue_count": overdue_steps(now).count(),
        "overdue_steps": overdue_steps(now)
        .select_related("incident", "assignee")
        .order_by("due_at")[:10],
    }


def _capped(qs, cap: int) -> MatchCount:
    n = qs[: cap + 1].count()
    return MatchCount(min(n, cap), exact=n <= cap)
