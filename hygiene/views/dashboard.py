from django.shortcuts import render

from hygiene.metrics import manager_dashboard
from hygiene.roles import role_of
from hygiene.selectors import lead_dashboard
from incidents.selectors import engineer_dashboard


def dashboard(request):
    """Each role lands on what it needs first: leads on triage and overdue work, engineers on
    their steps, managers on the headline metrics. Each context comes from its domain."""
    role = role_of(request.user)
    if role == "engineer":
        return render(request, "hygiene/dashboard_engineer.html", engineer_dashboard(request.user))
    if role == "manager":
        return render(request, "hygiene/dashboard_manager.html", manager_dashboard(request.user))
    if role == "lead":
        return render(request, "hygiene/dashboard_lead.html", lead_dashboard(request.user))
    # Logged in but given no role yet: nothing to see until an administrator assigns one.
    return render(request, "hygiene/dashboard_norole.html", status=403)
