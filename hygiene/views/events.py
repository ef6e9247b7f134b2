from django.shortcuts import render

from hygiene.models import RotationEvent
from hygiene.roles import permission_required

PAGE = 100


@permission_required("hygiene.view_source")
def event_list(request):
    """Rotator and auditor events; the unmatched ones wait here until a reference claims them."""
    show = request.GET.get("show", "unmatched")
    events = RotationEvent.objects.select_related("source", "secret").prefetch_related("references")
    if show == "unmatched":
        events = events.filter(secret__isnull=True)
    elif show == "matched":
        events = events.filter(secret__isnull=False)
    events = events.order_by("-occurred_at", "-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        events = events.filter(id__lt=int(before))
    page = list(events[: PAGE + 1])
    return render(
        request,
        "hygiene/event_list.html",
        {
            "events": page[:PAGE],
            "more": page[PAGE - 1].pk if len(page) > PAGE else None,
            "show": show,
        },
    )
