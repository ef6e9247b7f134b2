from django.shortcuts import render

from hygiene.metrics import manager_dashboard
from hygiene.roles import role_of
from hygiene.selectors import lead_dashboard
from incidents.selectors import engineer_dashboard, incidents_filtered


def dashboard(request):
    """Each role lands on what it needs first: leads on triage and overdue work, engineers on
    their steps, managers on the headline metrics. Each context comes from its domain.
    Every card links to the list that shows its number."""
    role = role_of(request.user)
    if role == "engineer":
        return render(request, "hygiene/dashboard_engineer.html", engineer_dashboard(request.user))
    if role == "manager":
        return render(request, "hygiene/dashboard_manager.html", manager_dashboard(request.user))
    if role == "lead":
        context = lead_dashboard(request.user)
        # The card links to the incidents list's overdue filter, which lists incidents, not
        # steps: the card counts what that list shows (the panel below counts the steps).
        context["overdue_incidents"] = incidents_filtered(request.user, overdue=True).count()
        # Incidents nobody owns (the policy opens them so, and so may a lead): no one's work
        # until a lead gives them an owner. The newest first, the most severe of those first.
        unowned = incidents_filtered(request.user, status="active", unowned=True)
        context["unowned_count"] = unowned.count()
        context["unowned"] = unowned.select_related("team").order_by("-opened_at", "-id")[:10]
        return render(request, "hygiene/dashboard_lead.html", context)
    # Logged in but given no role yet: nothing to see until an administrator assigns one.
    return render(request, "hygiene/dashboard_norole.html", status=403)
