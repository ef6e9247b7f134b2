"""Reads shared by views, the API and charts."""

from django.db.models import Q, QuerySet

from hygiene.models import Finding, Secret
from hygiene.roles import sees_everything


def findings_visible_to(user) -> QuerySet[Finding]:
    """Leads and managers see every finding; engineers their teams' and their own."""
    qs = Finding.objects.all()
    if sees_everything(user):
        return qs
    return qs.filter(Q(team__members=user) | Q(assignee=user))


def secrets_visible_to(user) -> QuerySet[Secret]:
    qs = Secret.objects.all()
    if sees_everything(user):
        return qs
    return qs.filter(
        Q(team__members=user) | Q(findings__team__members=user) | Q(findings__assignee=user)
    ).distinct()


def lead_dashboard(user) -> dict:
    """What needs triage and what is overdue."""
    from django.utils import timezone

    from hygiene.models import FindingStatus
    from incidents.selectors import open_steps

    now = timezone.now()
    findings = findings_visible_to(user)
    return {
        "now": now,
        "untriaged": findings.filter(status=FindingStatus.OPEN).count(),
        "new_critical": findings.filter(status=FindingStatus.OPEN, severity="critical")
        .select_related("secret", "source")
        .order_by("-first_seen_at", "-id")[:10],
        "overdue_steps": open_steps()
        .filter(due_at__lte=now)
        .select_related("incident", "assignee")
        .order_by("due_at")[:10],
    }
