from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from hygiene.roles import permission_required, sees_everything
from incidents.models import Incident, Playbook
from incidents.selectors import steps_for_user


def incidents_visible_to(user):
    qs = Incident.objects.all()
    if sees_everything(user):
        return qs
    from django.db.models import Q

    return qs.filter(
        Q(team__members=user) | Q(owner=user) | Q(participants=user) | Q(steps__assignee=user)
    ).distinct()


@permission_required("incidents.view_incident")
def incident_list(request):
    qs = incidents_visible_to(request.user).select_related("owner", "team").order_by("-opened_at")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "incidents/incident_list.html", {"page": page})


@permission_required("incidents.view_incident")
def incident_detail(request, pk: int):
    incident = get_object_or_404(incidents_visible_to(request.user), pk=pk)
    return render(
        request,
        "incidents/incident_detail.html",
        {
            "incident": incident,
            "steps": incident.steps.select_related("assignee", "completed_by"),
            "timeline": incident.timeline.select_related("actor").order_by("-created_at")[:200],
            "now": timezone.now(),
        },
    )


def my_work(request):
    return render(
        request,
        "incidents/my_work.html",
        {"steps": steps_for_user(request.user)[:200], "now": timezone.now()},
    )


@permission_required("incidents.view_playbook")
def playbook_list(request):
    playbooks = Playbook.objects.filter(is_current=True).prefetch_related("steps")
    return render(request, "incidents/playbook_list.html", {"playbooks": playbooks})
