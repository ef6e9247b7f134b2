"""Hygiene metrics, computed in SQL."""

from django.db.models import Count, Q

from hygiene.models import Finding, FindingStatus
from incidents.models import Incident, IncidentStatus


def headline() -> dict:
    findings = Finding.objects.aggregate(
        open=Count("id", filter=Q(status__in=[FindingStatus.OPEN, FindingStatus.TRIAGED])),
        total=Count("id"),
    )
    incidents = Incident.objects.aggregate(
        open=Count("id", filter=~Q(status=IncidentStatus.CLOSED)), total=Count("id")
    )
    return {"findings": findings, "incidents": incidents}


def manager_dashboard(user) -> dict:
    return {"headline": headline()}
