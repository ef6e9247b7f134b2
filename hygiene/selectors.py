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
