"""The three roles, as Django groups with permissions, and helpers to ask who may do what."""

from functools import wraps

from django.core.exceptions import PermissionDenied

LEAD = "Security lead"
ENGINEER = "Engineer"
MANAGER = "Manager"
ROLE_SLUGS = {LEAD: "lead", ENGINEER: "engineer", MANAGER: "manager"}

_VIEW_ALL = [
    "hygiene.view_finding",
    "hygiene.view_secret",
    "hygiene.view_source",
    "hygiene.view_importrun",
    "hygiene.view_team",
    "hygiene.view_ownershiprule",
    "incidents.view_incident",
    "incidents.view_playbook",
    "incidents.view_step",
    "incidents.view_timelineevent",
]

ROLE_PERMISSIONS = {
    LEAD: [
        *_VIEW_ALL,
        "hygiene.triage_finding",
        "hygiene.propose_dismissal",
        "hygiene.comment_finding",
        "hygiene.export_findings",
        "hygiene.view_metrics",
        "hygiene.manage_sources",
        "hygiene.manage_ownership",
        "incidents.manage_incident",
        "incidents.work_incident",
        "incidents.manage_playbook",
    ],
    ENGINEER: [
        # Engineers see their own teams' findings (scoped in queries), not everything.
        "hygiene.view_finding",
        "hygiene.view_secret",
        "incidents.view_incident",
        "incidents.view_playbook",
        "incidents.view_step",
        "incidents.view_timelineevent",
        "hygiene.propose_dismissal",
        "hygiene.comment_finding",
        "incidents.work_incident",
    ],
    MANAGER: [*_VIEW_ALL, "hygiene.view_metrics", "hygiene.export_findings"],
}


def ensure_roles(**kwargs) -> None:
    """Create the groups and give them their permissions (runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def role_of(user) -> str | None:
    """'lead', 'engineer', 'manager' or None. Superusers act as leads."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return "lead"
    cached = getattr(user, "_leakline_role", "unset")
    if cached != "unset":
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = next((ROLE_SLUGS[name] for name in (LEAD, ENGINEER, MANAGER) if name in names), None)
    user._leakline_role = role
    return role


def sees_everything(user) -> bool:
    """Leads and managers see all findings; engineers only their teams'."""
    return role_of(user) in ("lead", "manager")


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if role_of(request.user) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def permission_required(perm: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def role_context(request):
    return {"role": role_of(getattr(request, "user", None))}
