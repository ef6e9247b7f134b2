"""Incident, My work and playbook pages. Every action is a POST that calls one service and,
for htmx, answers with the re-rendered incident partial (errors included, 4xx status)."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from hygiene.models import Finding, ReferenceKind, Team
from hygiene.roles import permission_required
from hygiene.selectors import secrets_visible_to
from incidents import forms, services
from incidents.models import FollowUp, Incident, IncidentStatus, Playbook, Step, TimelineEvent
from incidents.selectors import (
    follow_ups_for_user,
    incidents_filtered,
    incidents_visible_to,
    steps_for_user,
    timeline_page,
)
from incidents.services import IncidentError, can_manage, can_work, exposure_window

User = get_user_model()
PAGE_SIZE = 50


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _visible_incident(user, pk: int) -> Incident:
    incident = get_object_or_404(Incident, pk=pk)
    if not incidents_visible_to(user).filter(pk=pk).exists():
        raise PermissionDenied
    return incident


# --- list and My work --------------------------------------------------------------------


def _int_or_none(value):
    return int(value) if value and str(value).isdigit() else None


def _team(value: str) -> tuple[int | None, str]:
    """A team named by its slug, as the findings list names teams (or by its number, as this
    list's links did before): its id and slug, or (None, "")."""
    if not value:
        return None, ""
    match = Team.objects.filter(slug=value[:100]).values_list("pk", "slug").first()
    if match is None and value.isdigit() and len(value) < 19:
        match = Team.objects.filter(pk=int(value)).values_list("pk", "slug").first()
    return match or (None, "")


@permission_required("incidents.view_incident")
def incident_list(request):
    g = request.GET
    notes = []  # what the list ignored, said as the findings list says it
    status = g.get("status", "active")  # a fresh visit shows what is still open
    if status not in ("", "active", *IncidentStatus.values):
        notes.append(f"Ignored unknown status “{status[:40]}”.")
        status = "active"
    severity = g.get("severity", "")
    if severity not in ("", *services.SEVERITIES):
        notes.append(f"Ignored unknown severity “{severity[:40]}”.")
        severity = ""
    unowned = g.get("owner") == "none"
    owner = request.user.pk if g.get("owner") == "me" else _int_or_none(g.get("owner"))
    if g.get("owner") and owner is None and not unowned:
        notes.append(f"Ignored owner “{g['owner'][:40]}”: a person's number, me or none.")
    team, team_slug = _team(g.get("team", ""))
    if g.get("team") and team is None:
        notes.append(f"Ignored unknown team “{g['team'][:40]}”.")
    overdue = g.get("overdue") == "1"
    qs = (
        incidents_filtered(
            request.user,
            status=status,
            severity=severity,
            owner=owner,
            team=team,
            overdue=overdue,
            unowned=unowned,
        )
        .select_related("owner", "team")
        .order_by("-opened_at", "-id")
    )
    page = Paginator(qs, PAGE_SIZE).get_page(g.get("page"))
    # The status in effect, the default too, and "" (Any) as well: the form shows what the
    # list shows, and the pager keeps it (a link without it would mean "active" again).
    kept = {
        "status": status,
        **{k: g.get(k) for k in ("owner", "team", "overdue") if g.get(k)},
    }
    if severity:
        kept["severity"] = severity
    if owner is None and not unowned:
        kept.pop("owner", None)
    if team is None:
        kept.pop("team", None)
    else:
        kept["team"] = team_slug
    return render(
        request,
        "incidents/incident_list.html",
        {
            "page": page,
            "notes": notes,
            "filters": kept,
            "query": urlencode(kept),
            "statuses": IncidentStatus.choices,
            "severities": services.SEVERITIES,
            "owners": forms.assignable_users()[:200],
            "teams": Team.objects.order_by("name")[:200],
            "now": timezone.now(),
        },
    )


@permission_required("incidents.view_step")
def my_work(request):
    """Open steps assigned to me or left to my teams, soonest due first; ``who`` narrows them
    to mine, or to my teams' unassigned ones (each view's count shown)."""
    steps = steps_for_user(request.user)
    counts = steps.order_by().aggregate(
        all=Count("pk"), mine=Count("pk", filter=Q(assignee=request.user))
    )
    counts["team"] = counts["all"] - counts["mine"]
    who = request.GET.get("who", "")
    if who == "mine":
        steps = steps.filter(assignee=request.user)
    elif who == "team":
        steps = steps.filter(assignee__isnull=True)
    else:
        who = ""
    page = Paginator(steps, PAGE_SIZE).get_page(request.GET.get("page"))
    follow_ups = follow_ups_for_user(request.user)[:PAGE_SIZE]
    return render(
        request,
        "incidents/my_work.html",
        {
            "page": page,
            "follow_ups": follow_ups,
            "now": timezone.now(),
            "who": who,
            "counts": counts,
            "views": [("", "All"), ("mine", "Assigned to me"), ("team", "Unassigned, my teams")],
        },
    )


# --- the incident page -------------------------------------------------------------------


def _short(text: str, limit: int = 48) -> str:
    """Cut in the middle: a path's start (the repository) and end (file:line) both tell."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[-(limit - 1 - head) :]}"


def _label_secrets(secrets: list) -> None:
    """Give each secret a ``choice_label`` for the reference form's select: its type, preview
    and where it was first found (repo path:line, else the rule), so that two generic
    passwords previewed "…" can be told apart. One query for the findings."""
    finding_ids = {s.pk: s.first_finding_id for s in secrets}
    found = Finding.objects.in_bulk([f for f in finding_ids.values() if f])
    for s in secrets:
        finding = found.get(finding_ids[s.pk])
        where = (finding.location_display or finding.rule) if finding else ""
        parts = [s.get_secret_type_display(), s.preview or f"#{s.pk}"]
        s.choice_label = " ".join(parts) + (f" — {_short(where)}" if where else "")
    seen: dict[str, int] = {}
    for s in secrets:
        seen[s.choice_label] = seen.get(s.choice_label, 0) + 1
    for s in secrets:
        if seen[s.choice_label] > 1:  # still alike: the secret's number tells them apart
            s.choice_label += f" (#{s.pk})"


def _incident_secrets(incident: Incident, *, labelled: bool) -> list:
    secrets = incident.secrets.prefetch_related("references").order_by("pk")
    if labelled:
        first = Finding.objects.filter(secret=OuterRef("pk")).order_by("first_seen_at", "id")
        secrets = secrets.annotate(first_finding_id=Subquery(first.values("pk")[:1]))
    secrets = list(secrets[:50])
    if labelled and len(secrets) > 1:
        _label_secrets(secrets)
    return secrets


def _timeline_before(request) -> int | None:
    """?timeline_before=<entry id>: the page shows the timeline's entries older than it (an
    action re-renders the newest: it has just added one)."""
    if request.method != "GET":
        return None
    value = request.GET.get("timeline_before", "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _incident_context(request, incident: Incident, error: str = "") -> dict:
    user = request.user
    steps = list(
        incident.steps.select_related(
            "assignee", "completed_by", "evidence_event", "evidence_event__source"
        ).order_by("position")
    )
    for s in steps:
        s.incident = incident
    done = {s.position for s in steps if s.is_done}
    for s in steps:
        s.blocked_by = [p for p in (s.depends_on or []) if p not in done]
    # Who skipped a step is in its timeline entry only (the step keeps when and why); the
    # latest skip of each, as a done step says who did it.
    skipped = [s.pk for s in steps if s.skipped_at]
    if skipped:
        skips = TimelineEvent.objects.filter(
            incident=incident, kind="step_skipped", step_id__in=skipped
        ).select_related("actor")
        by_step = {e.step_id: e for e in skips.order_by("created_at", "id")}
        for s in steps:
            s.skip_event = by_step.get(s.pk)
    manage = can_manage(user)
    work = can_work(user, incident)
    is_open = incident.status != IncidentStatus.CLOSED
    secrets = _incident_secrets(incident, labelled=manage and is_open)
    # The reference form (leads, open incidents): with several secrets the lead picks one (no
    # default: the first was too often the wrong one) from labels that tell them apart; the
    # kind starts at what they all most likely are, else "Other" (which recognises ARNs and
    # access key ids), and follows the secret picked (incidents.js).
    kinds = {s.default_reference_kind for s in secrets}
    return {
        "incident": incident,
        "steps": steps,
        "timeline": timeline_page(incident, _timeline_before(request)),
        "secrets": secrets,
        "has_references": any(s.references.all() for s in secrets),
        "reference_kinds": ReferenceKind.choices,
        "reference_kind_default": kinds.pop() if len(kinds) == 1 else ReferenceKind.OTHER,
        "participants": incident.participants.all()[:50],
        "follow_ups": incident.follow_ups.select_related("owner")[:50],
        "exposure": exposure_window(incident),
        "now": timezone.now(),
        "can_manage": manage,
        "can_work": work,
        "is_open": is_open,
        "error": error,
        "owner_form": forms.OwnerForm(initial={"owner": incident.owner_id}) if manage else None,
        "assignable": list(forms.assignable_users()[:200]) if manage else [],
        "severities": services.SEVERITIES,
        "follow_up_formset": forms.FollowUpFormSet(prefix="fu") if manage else None,
    }


def _render_incident(request, incident: Incident, *, error: str = "", status: int = 200):
    incident.refresh_from_db()
    context = _incident_context(request, incident, error)
    template = "incidents/_incident.html" if _is_htmx(request) else "incidents/incident_detail.html"
    return render(request, template, context, status=status)


@permission_required("incidents.view_incident")
def incident_detail(request, pk: int):
    incident = _visible_incident(request.user, pk)
    return _render_incident(request, incident)


def incident_action(view):
    """POST-only, needs a role that can see incidents and this incident visible; IncidentError
    becomes a 400 with its message; success re-renders (htmx) or redirects."""

    @wraps(view)
    @require_POST
    @permission_required("incidents.view_incident")
    def wrapped(request, pk: int, *args, **kwargs):
        incident = _visible_incident(request.user, pk)
        try:
            view(request, incident, *args, **kwargs)
        except IncidentError as e:
            return _render_incident(request, incident, error=str(e), status=400)
        if _is_htmx(request):
            return _render_incident(request, incident)
        return redirect("incident_detail", incident.pk)

    return wrapped


def _form(form_class, request, **kwargs):
    form = form_class(request.POST, **kwargs)
    if not form.is_valid():
        messages = []
        for name, errors in form.errors.as_data().items():
            field = form.fields.get(name)
            label = (field.label if field and field.label else name.replace("_", " ")).strip()
            text = " ".join(m for e in errors for m in e.messages)
            if name == "__all__":
                messages.append(text)
            elif all(e.code == "required" for e in errors):
                messages.append(f"{label.capitalize()} is required.")
            else:
                messages.append(f"{label.capitalize()}: {text}")
        raise IncidentError(" ".join(messages))
    return form.cleaned_data


def _step_of(incident: Incident, step_pk: int) -> Step:
    step = get_object_or_404(Step, pk=step_pk, incident=incident)
    step.incident = incident
    return step


@incident_action
def step_complete(request, incident, step_pk):
    data = _form(forms.CompleteForm, request)
    services.step_complete(
        step=_step_of(incident, step_pk), by=request.user, note=data["note"], url=data["url"]
    )


@incident_action
def step_skip(request, incident, step_pk):
    data = _form(forms.ReasonForm, request)
    services.step_skip(step=_step_of(incident, step_pk), by=request.user, reason=data["reason"])


@incident_action
def step_reopen(request, incident, step_pk):
    data = _form(forms.ReasonForm, request)
    services.step_reopen(step=_step_of(incident, step_pk), by=request.user, reason=data["reason"])


@incident_action
def step_assign(request, incident, step_pk):
    # Leads assign anyone; an engineer takes an unassigned step (services.step_assign).
    data = _form(forms.AssigneeForm, request)
    services.step_assign(
        step=_step_of(incident, step_pk), by=request.user, assignee=data["assignee"]
    )


@incident_action
def incident_pause(request, incident):
    data = _form(forms.ReasonForm, request)
    services.incident_pause(incident=incident, by=request.user, reason=data["reason"])


@incident_action
def incident_resume(request, incident):
    services.incident_resume(incident=incident, by=request.user)


@incident_action
def incident_severity(request, incident):
    if not can_manage(request.user):
        raise PermissionDenied
    data = _form(forms.SeverityForm, request)
    services.incident_change_severity(incident=incident, by=request.user, severity=data["severity"])


@incident_action
def incident_owner(request, incident):
    if not can_manage(request.user):
        raise PermissionDenied
    data = _form(forms.OwnerForm, request)
    services.incident_assign(incident=incident, by=request.user, owner=data["owner"])


@incident_action
def incident_participant(request, incident):
    if not can_manage(request.user):
        raise PermissionDenied
    data = _form(forms.ParticipantForm, request)
    services.incident_add_participant(incident=incident, by=request.user, user=data["user"])


@incident_action
def incident_close(request, incident):
    data = _form(forms.CloseForm, request)
    services.incident_close(
        incident=incident,
        by=request.user,
        summary=data["summary"],
        resolve_findings=data["resolve_findings"],
    )


@incident_action
def incident_comment(request, incident):
    data = _form(forms.CommentForm, request)
    services.incident_comment(incident=incident, by=request.user, text=data["text"])


@incident_action
def incident_reference(request, incident):
    """A lead links an identifier (the Secrets Manager ARN that held the key, a Vault path) to
    one of the incident's secrets, so rotator events about it complete the steps. Written to
    the incident's timeline as well as the secret's; not on a closed incident."""
    from hygiene.services.triage import TriageError, secret_reference_add

    if not can_manage(request.user):
        raise PermissionDenied
    if incident.status == IncidentStatus.CLOSED:
        raise IncidentError(
            "This incident is closed: add the reference on the secret's page instead."
        )
    secret_id = request.POST.get("secret", "")
    secrets = incident.secrets.all()
    if not secret_id:
        # One secret: the form sends it (no choice to make). Several: the lead must choose.
        only = list(secrets[:2])
        if len(only) != 1:
            raise IncidentError("Choose the secret this reference belongs to.")
        secret = only[0]
    else:
        ok = secret_id.isascii() and secret_id.isdigit() and len(secret_id) < 19  # a bigint
        secret = secrets.filter(pk=int(secret_id)).first() if ok else None
        if secret is None:
            raise IncidentError("Choose one of this incident's secrets.")
    try:
        secret_reference_add(
            secret=secret,
            by=request.user,
            kind=request.POST.get("kind", ""),
            value=request.POST.get("value", ""),
            incident=incident,
        )
    except TriageError as exc:
        raise IncidentError(" ".join(exc.messages)) from None


@incident_action
def incident_review(request, incident):
    if not can_manage(request.user):
        raise PermissionDenied
    data = _form(forms.ReviewForm, request)
    formset = forms.FollowUpFormSet(request.POST, prefix="fu")
    if not formset.is_valid():
        errors = [
            f"follow-up {i + 1}: {' '.join(msgs)}"
            for i, f in enumerate(formset.forms)
            for msgs in f.errors.values()
        ] or [" ".join(formset.non_form_errors())]
        raise IncidentError("; ".join(errors))
    follow_ups = [
        (f.cleaned_data["title"], f.cleaned_data.get("owner"), f.cleaned_data["due_at"])
        for f in formset.forms
        if f.cleaned_data.get("title")
    ]
    services.incident_review(
        incident=incident,
        by=request.user,
        what_happened=data["what_happened"],
        lessons=data["lessons"],
        follow_ups=follow_ups,
    )


@require_POST
@permission_required("incidents.view_incident")
def follow_up_done(request, pk: int):
    follow_up = get_object_or_404(FollowUp.objects.select_related("incident"), pk=pk)
    incident = _visible_incident(request.user, follow_up.incident_id)
    try:
        services.follow_up_done(follow_up=follow_up, by=request.user)
    except IncidentError as e:
        return _render_incident(request, incident, error=str(e), status=400)
    if _is_htmx(request):
        return _render_incident(request, incident)
    return redirect("incident_detail", incident.pk)


@require_POST
@permission_required("incidents.manage_incident")
def incident_open(request):
    """Open one incident for the posted ``secret_ids`` (triage and secret pages call this)."""
    form = forms.OpenIncidentForm(request.POST)
    error, status = "", 400
    if not form.is_valid():
        error = "Pick at least one secret (secret_ids)."
    else:
        ids = form.cleaned_data["secret_ids"]
        secrets = list(secrets_visible_to(request.user).filter(pk__in=ids))
        if len(secrets) != len(set(ids)):
            error, status = "Some of these secrets don't exist or aren't yours to see.", 404
        else:
            try:
                incident = services.incident_open(
                    secrets=secrets,
                    opened_by=request.user,
                    severity=form.cleaned_data["severity"] or None,
                )
            except IncidentError as e:
                error, status = str(e), 409
    if error:
        return render(request, "incidents/error.html", {"error": error}, status=status)
    if incident.uncovered:
        messages.warning(
            request,
            f"{incident.reference} follows playbook {incident.playbook}, which doesn't cover "
            f"{'; '.join(incident.uncovered)}.",
        )
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("incident_detail", args=[incident.pk])
        return response
    return redirect("incident_detail", incident.pk)


# --- playbooks ---------------------------------------------------------------------------


@permission_required("incidents.view_playbook")
def playbook_list(request):
    playbooks = Playbook.objects.filter(is_current=True).prefetch_related("steps").order_by("name")
    return render(
        request,
        "incidents/playbook_list.html",
        {
            "playbooks": playbooks,
            "can_edit": request.user.has_perm("incidents.manage_playbook"),
        },
    )


@permission_required("incidents.view_playbook")
def playbook_detail(request, pk: int):
    playbook = get_object_or_404(Playbook.objects.prefetch_related("steps"), pk=pk)
    versions = Playbook.objects.filter(slug=playbook.slug).order_by("-version")[:50]
    return render(
        request,
        "incidents/playbook_detail.html",
        {
            "playbook": playbook,
            "versions": versions,
            "can_edit": request.user.has_perm("incidents.manage_playbook") and playbook.is_current,
        },
    )


@permission_required("incidents.manage_playbook")
def playbook_edit(request, slug: str):
    playbook = get_object_or_404(Playbook, slug=slug, is_current=True)
    error = ""
    if request.method == "POST":
        form = forms.PlaybookForm(request.POST)
        formset = forms.PlaybookStepFormSet(request.POST, prefix="steps")
        if form.is_valid() and formset.is_valid():
            steps = [
                {k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            try:
                new = services.playbook_save_version(
                    playbook=playbook,
                    by=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    steps=steps,
                )
            except IncidentError as e:
                error = str(e)
            else:
                return redirect("playbook_detail", new.pk)
        else:
            error = "Please correct the errors below."
        status = 400
    else:
        form = forms.PlaybookForm(
            initial={"name": playbook.name, "description": playbook.description}
        )
        formset = forms.PlaybookStepFormSet(
            initial=forms.playbook_step_initial(playbook), prefix="steps"
        )
        status = 200
    return render(
        request,
        "incidents/playbook_edit.html",
        {"playbook": playbook, "form": form, "formset": formset, "error": error},
        status=status,
    )
