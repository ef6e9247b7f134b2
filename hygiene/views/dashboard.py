from django.shortcuts import render
from django.utils import timezone

from hygiene.models import FindingStatus
from hygiene.roles import role_of
from hygiene.selectors import findings_visible_to
from incidents.selectors import open_steps, steps_for_user


def dashboard(request):
    """Each role lands on what it needs first: leads on triage and overdue work, engineers on
    their steps, managers on the headline metrics."""
    role = role_of(request.user)
    now = timezone.now()
    context = {"now": now}
    if role == "engineer":
        context["my_steps"] = steps_for_user(request.user)[:20]
        template = "hygiene/dashboard_engineer.html"
    elif role == "manager":
        from hygiene.metrics import headline

        context["headline"] = headline()
        template = "hygiene/dashboard_manager.html"
    else:
        findings = findings_visible_to(request.user)
        context["untriaged"] = findings.filter(status=FindingStatus.OPEN).count()
        context["new_critical"] = (
            findings.filter(status=FindingStatus.OPEN, severity="critical")
            .select_related("secret", "source")
            .order_by("-first_seen_at", "-id")[:10]
        )
        context["overdue_steps"] = (
            open_steps()
            .filter(due_at__lte=now)
            .select_related("incident", "assignee")
            .order_by("due_at")[:10]
        )
        template = "hygiene/dashboard_lead.html"
    return render(request, template, context)
