from django.db.models import Q, QuerySet

from incidents.models import Step


def open_steps() -> QuerySet[Step]:
    return Step.objects.filter(
        completed_at__isnull=True, skipped_at__isnull=True, incident__paused_at__isnull=True
    ).exclude(incident__status="closed")


def steps_for_user(user) -> QuerySet[Step]:
    """My work: open steps assigned to me, or unassigned steps of my teams' incidents."""
    return (
        open_steps()
        .filter(Q(assignee=user) | Q(assignee__isnull=True, incident__team__members=user))
        .select_related("incident")
        .distinct()
        .order_by("due_at")
    )


def engineer_dashboard(user) -> dict:
    from django.utils import timezone

    return {"now": timezone.now(), "my_steps": steps_for_user(user)[:20]}
