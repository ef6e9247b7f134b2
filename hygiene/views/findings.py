"""Findings triage pages: the filtered list, the grouped-by-secret view, bulk actions (htmx),
the secret page and the CSV export. Views parse input, call one service and render."""

import re
from datetime import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from hygiene import roles
from hygiene.filters import (
    AGE_LABELS,
    SORTS,
    BadCursor,
    bounded_count,
    export_csv,
    page_findings,
    page_secret_groups,
    parse_filter,
    secret_groups,
)
from hygiene.forms import DISMISSAL_CHOICES, CommentForm, ReferenceForm
from hygiene.models import (
    Finding,
    FindingCategory,
    FindingStatus,
    ReferenceKind,
    Source,
    Team,
)
from hygiene.models.findings import Validity
from hygiene.roles import permission_required
from hygiene.selectors import (
    finding_timeline,
    findings_of_secret_visible_to,
    findings_visible_to,
    secret_timeline,
    secrets_visible_to,
)
from hygiene.services import triage
from hygiene.taxonomy import SecretType, Severity

ACTIONS = {
    # action: (permission, verb for the message)
    "assign": ("hygiene.triage_finding", "assigned"),
    "status": ("hygiene.triage_finding", "updated"),
    "dismiss": ("hygiene.triage_finding", "dismissed"),
    "propose": ("hygiene.propose_dismissal", "proposed for dismissal"),
    "confirm": ("hygiene.triage_finding", "dismissed"),
    "reject": ("hygiene.triage_finding", "kept open"),
    "undo": ("hygiene.triage_finding", "reopened"),
    "incident": ("incidents.manage_incident", ""),
}


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error(request, status: int, message: str) -> HttpResponse:
    """A 4xx with a clear message; htmx requests get it as a fragment in the flash area."""
    if _is_htmx(request):
        response = render(
            request,
            "hygiene/partials/flash.html",
            {"flash": message, "flash_level": "error"},
            status=status,
        )
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    # A form posted without htmx (scripts off): the message on a page of the app, not bare text.
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    return render(request, "400.html", {"message": message, "back": back}, status=status)


def _first_page(request, name: str):
    """A broken page link (edited, or from an older version): the first page of the same list."""
    query = request.GET.copy()
    query.pop("cursor", None)
    messages.warning(request, "That page link was broken: this is the first page.")
    return redirect(f"{reverse(name)}?{query.urlencode()}" if query else reverse(name))


def _filter_choices() -> dict:
    return {
        "statuses": FindingStatus.choices,
        "severities": Severity.choices,
        "secret_types": SecretType.choices,
        "categories": FindingCategory.choices,
        "validities": Validity.choices,
        "ages": list(AGE_LABELS.items()),
        "sorts": list(SORTS.items()),
        "sources": Source.objects.order_by("name").values("slug", "name")[:200],
        "teams": Team.objects.order_by("name").only("pk", "slug", "name")[:200],
        "dismissal_reasons": DISMISSAL_CHOICES,
    }


def _assignable_users():
    User = get_user_model()
    return (
        User.objects.filter(is_active=True, groups__name__in=[roles.LEAD, roles.ENGINEER])
        .distinct()
        .order_by("username")
        .only("pk", "username", "first_name", "last_name")[:300]
    )


def _can_select(user) -> bool:
    return user.has_perm("hygiene.triage_finding") or user.has_perm("hygiene.propose_dismissal")


def _results_context(request, ff, cursor):
    as_of = timezone.now()  # before reading: a change made meanwhile counts as unseen
    qs = ff.apply(findings_visible_to(request.user)).select_related(
        "secret", "source", "team", "assignee", "sighting"
    )
    page = page_findings(qs, sort=ff.sort, cursor=cursor)
    return {
        "ff": ff,
        "page": page,
        "count": bounded_count(qs),
        "cursor": cursor or "",
        "qs": ff.querystring(),
        "can_select": _can_select(request.user),
        "as_of": as_of,
    }


@require_GET
@permission_required("hygiene.view_finding")
def finding_list(request):
    ff = parse_filter(request.GET, user=request.user)
    cursor = request.GET.get("cursor") or None
    try:
        context = _results_context(request, ff, cursor)
    except BadCursor as exc:
        if _is_htmx(request):
            return _error(request, 400, str(exc))
        return _first_page(request, "finding_list")
    if _is_htmx(request) and request.headers.get("HX-Target") == "results":
        context["oob"] = True  # the page's links follow the filter
        return render(request, "hygiene/partials/finding_results.html", context)
    context.update(_filter_choices())
    context["users"] = (
        _assignable_users() if request.user.has_perm("hygiene.triage_finding") else []
    )
    return render(request, "hygiene/finding_list.html", context)


@require_GET
@permission_required("hygiene.view_finding")
def secret_group_list(request):
    ff = parse_filter(request.GET, user=request.user)
    cursor = request.GET.get("cursor") or None
    as_of = timezone.now()
    groups = secret_groups(ff.apply(findings_visible_to(request.user)))
    try:
        page = page_secret_groups(groups, cursor=cursor)
    except BadCursor as exc:
        if _is_htmx(request):
            return _error(request, 400, str(exc))
        return _first_page(request, "secret_groups")
    context = {
        "ff": ff,
        "page": page,
        "count": bounded_count(groups),
        "cursor": cursor or "",
        "qs": ff.querystring(),
        "grouped": True,
        "can_select": _can_select(request.user),
        "as_of": as_of,
    }
    if _is_htmx(request) and request.headers.get("HX-Target") == "results":
        context["oob"] = True  # the page's links follow the filter
        return render(request, "hygiene/partials/group_results.html", context)
    context.update(_filter_choices())
    context["users"] = (
        _assignable_users() if request.user.has_perm("hygiene.triage_finding") else []
    )
    return render(request, "hygiene/secret_groups.html", context)


def _int_list(values) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise ValidationError("The selection holds an invalid id.") from None
    return out


def _selection(request, ff):
    """The findings a bulk action applies to: ticked rows, ticked secrets (grouped view), or
    everything matching the filter — always within what the user may see."""
    visible = findings_visible_to(request.user)
    if request.POST.get("select_all") == "1":
        return ff.apply(visible)
    ids = _int_list(request.POST.getlist("ids"))
    secret_ids = _int_list(request.POST.getlist("secret_ids"))
    if not ids and not secret_ids:
        raise ValidationError("Select at least one finding first.")
    if len(ids) > 1000 or len(secret_ids) > 1000:
        raise ValidationError("Too many rows ticked; use “select all matching” instead.")
    if ids:
        return visible.filter(pk__in=ids)
    return ff.apply(visible).filter(secret_id__in=secret_ids)


def _as_of(request):
    """When the page the action came from was rendered (its hidden ``as_of``): findings
    changed after it are left as they are (triage services). A form without one (a page from
    before it existed, a script) acts as before."""
    value = request.POST.get("as_of", "").strip()
    if not value:
        return None
    try:
        as_of = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("This page is out of date or broken: reload it.") from None
    if timezone.is_naive(as_of):
        raise ValidationError("This page is out of date or broken: reload it.")
    return min(as_of, timezone.now())


def _run_action(request, action, findings_qs):
    user, post = request.user, request.POST
    as_of = _as_of(request)
    if action == "assign":
        assignee = team = None
        unassign = post.get("assignee") == "none"
        if post.get("assignee") and not unassign:
            assignee = get_object_or_404(
                get_user_model(), pk=_int_list([post["assignee"]])[0], is_active=True
            )
        if post.get("team"):
            team = get_object_or_404(Team, slug=post["team"])
        return triage.findings_assign(
            findings_qs=findings_qs,
            by=user,
            assignee=assignee,
            team=team,
            unassign=unassign,
            as_of=as_of,
        )
    if action == "status":
        return triage.findings_set_status(
            findings_qs=findings_qs,
            by=user,
            status=post.get("status", ""),
            comment=post.get("comment", ""),
            as_of=as_of,
        )
    if action == "dismiss":
        return triage.findings_dismiss(
            findings_qs=findings_qs,
            by=user,
            reason=post.get("reason", ""),
            comment=post.get("comment", ""),
            as_of=as_of,
        )
    if action == "propose":
        return triage.findings_propose_dismissal(
            findings_qs=findings_qs,
            by=user,
            reason=post.get("reason", ""),
            comment=post.get("comment", ""),
            as_of=as_of,
        )
    if action == "confirm":
        return triage.findings_confirm_dismissal(findings_qs=findings_qs, by=user, as_of=as_of)
    if action == "reject":
        return triage.findings_reject_dismissal(
            findings_qs=findings_qs, by=user, comment=post.get("comment", ""), as_of=as_of
        )
    if action == "undo":
        return triage.findings_undo_dismissal(findings_qs=findings_qs, by=user, as_of=as_of)
    raise ValidationError("Unknown action.")


@require_POST
@permission_required("hygiene.view_finding")
def finding_bulk(request):
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return _error(request, 400, "Unknown action.")
    perm, verb = ACTIONS[action]
    if not request.user.has_perm(perm):
        return _error(request, 403, "Your role does not allow this action.")
    ff = parse_filter(QueryDict(request.POST.get("filter", "")), user=request.user)
    grouped = request.POST.get("view") == "grouped"
    try:
        findings_qs = _selection(request, ff)
        if action == "incident":
            return _open_incident(request, findings_qs)
        result = _run_action(request, action, findings_qs)
    except PermissionDenied as exc:
        return _error(request, 403, str(exc) or "Your role does not allow this action.")
    except ValidationError as exc:
        return _error(request, 400, " ".join(exc.messages))
    if action == "assign" and request.POST.get("assignee") == "none":
        verb = "unassigned"
    flash = result.summary(verb)
    # Nothing done, or some left as another person set them: not a green "done".
    level = "warning" if result.nothing_done or result.stale else "success"
    notify = messages.warning if level == "warning" else messages.success
    back = _back_to_finding(request)
    if back:
        notify(request, flash)
        if _is_htmx(request):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = back
            return response
        return redirect(back)
    if not _is_htmx(request):
        notify(request, flash)
        url = reverse("secret_groups" if grouped else "finding_list")
        return redirect(f"{url}?{ff.querystring()}")
    cursor = request.POST.get("cursor") or None
    try:
        if grouped:
            as_of = timezone.now()
            groups = secret_groups(ff.apply(findings_visible_to(request.user)))
            page = page_secret_groups(groups, cursor=cursor)
            context = {
                "ff": ff,
                "page": page,
                "count": bounded_count(groups),
                "cursor": cursor or "",
                "qs": ff.querystring(),
                "grouped": True,
                "can_select": _can_select(request.user),
                "as_of": as_of,
            }
            template = "hygiene/partials/group_results.html"
        else:
            context = _results_context(request, ff, cursor)
            template = "hygiene/partials/finding_results.html"
    except BadCursor:
        return _error(request, 400, "That page link is broken; start from the first page.")
    context.update(flash=flash, flash_level=level, changed_ids=set(result.ids))
    return render(request, template, context)


def _open_incident(request, findings_qs):
    from incidents.services import IncidentError

    try:
        incident = triage.findings_open_incident(findings_qs=findings_qs, by=request.user)
    except IncidentError as exc:
        return _error(request, 400, str(exc))
    if incident.uncovered:
        messages.warning(
            request,
            f"{incident.reference} follows playbook {incident.playbook}, which doesn't cover "
            f"{'; '.join(incident.uncovered)}.",
        )
    url = reverse("incident_detail", args=[incident.pk])
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_GET
@permission_required("hygiene.export_findings")
def finding_export(request):
    ff = parse_filter(request.GET, user=request.user)
    qs = ff.apply(findings_visible_to(request.user))
    return export_csv(qs, filename=_export_name(ff))


def _export_name(ff) -> str:
    """Says when and what, so that two downloads never look alike (as the metrics' CSVs do):
    leakline-findings-2026-11-29-2015-status-open-triaged.csv. Not what was searched for: a
    person may paste a secret into the search box."""
    parts = ["leakline-findings", timezone.localtime().strftime("%Y-%m-%d-%H%M")]
    values: dict[str, list[str]] = {}
    for key, value in ff.params():
        values.setdefault(key, []).append("search" if key == "q" else value)
    for key, listed in values.items():
        parts.append("search" if key == "q" else f"{key}-{'+'.join(listed)}")
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", "-".join(parts))
    return name[:150].rstrip("-.") + ".csv"


@require_POST
@permission_required("hygiene.comment_finding")
def finding_comment(request, pk: int):
    finding = get_object_or_404(findings_visible_to(request.user).select_related("source"), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _error(request, 400, "Write a comment (at most 2000 characters).")
    triage.finding_comment(finding=finding, by=request.user, body=form.cleaned_data["body"])
    if request.POST.get("return_to") == "finding":
        if _is_htmx(request):
            return render(
                request,
                "hygiene/partials/finding_timeline.html",
                {"finding": finding, "timeline": finding_timeline(finding)},
            )
        return redirect("finding_detail", pk=finding.pk)
    if finding.secret_id:
        return _secret_timeline_or_redirect(request, finding.secret)
    return HttpResponse("Comment added.")


# --- the finding page ---------------------------------------------------------------------


def _finding_context(request, finding: Finding, as_of) -> dict:
    can_triage = request.user.has_perm("hygiene.triage_finding")
    return {
        "finding": finding,
        "as_of": as_of,
        "timeline": finding_timeline(finding),
        "tool_ids": sorted(finding.tool_ids.items()) if isinstance(finding.tool_ids, dict) else [],
        "can_triage": can_triage,
        "can_propose": request.user.has_perm("hygiene.propose_dismissal"),
        # A proposal waiting for a lead: confirmed or rejected here (the list's bulk actions).
        # Its proposer can't confirm it (triage services): a different lead must.
        "own_proposal": bool(finding.proposed_by_id) and finding.proposed_by_id == request.user.pk,
        "users": _assignable_users() if can_triage else [],
        "teams": Team.objects.order_by("name").only("pk", "slug", "name")[:200]
        if can_triage
        else [],
        "dismissal_reasons": DISMISSAL_CHOICES,
    }


@require_GET
@permission_required("hygiene.view_finding")
def finding_detail(request, pk: int):
    """One finding: where it is (or, for an auditor's, which resource), what the tool said,
    its triage and its timeline. A scanner's finding also links to its secret's page."""
    related = ("source", "team", "assignee", "secret", "sighting", "resolved_by", "proposed_by")
    as_of = timezone.now()  # its triage forms send it back (see triage services)
    finding = findings_visible_to(request.user).select_related(*related).filter(pk=pk).first()
    if finding is None:
        # Someone working on an incident of its secret sees where it leaked.
        finding = get_object_or_404(Finding.objects.select_related(*related), pk=pk)
        if (
            not finding.secret_id
            or not findings_of_secret_visible_to(request.user, finding.secret_id)
            .filter(pk=pk)
            .exists()
        ):
            raise Http404
    return render(request, "hygiene/finding_detail.html", _finding_context(request, finding, as_of))


def _back_to_finding(request) -> str:
    """The finding page a bulk action was sent from (its own triage forms), if any."""
    ids = request.POST.getlist("ids")
    if request.POST.get("return_to") != "finding" or len(ids) != 1 or not ids[0].isdigit():
        return ""
    return reverse("finding_detail", args=[int(ids[0])])


# --- the secret page ----------------------------------------------------------------------


def _secret_context(request, secret):
    findings = findings_of_secret_visible_to(request.user, secret.pk)
    return {
        "secret": secret,
        "findings": findings.select_related(
            "source", "team", "assignee", "sighting", "secret"
        ).order_by("-sighting__last_seen_at", "-id")[:200],
        "finding_count": findings.count(),
        "references": secret.references.select_related("added_by").order_by("kind", "id")[:100],
        "incidents": secret.incidents.order_by("-opened_at")[:10],
        # One active incident per secret: offer to open one only when there is none.
        "can_open_incident": request.user.has_perm("incidents.manage_incident")
        and not secret.incidentsecret_set.filter(active=True).exists(),
        "timeline": secret_timeline(secret),
        "reference_kinds": ReferenceKind.choices,
        "dismissal_reasons": DISMISSAL_CHOICES,
        "pending": findings.exclude(proposed_resolution="")
        .filter(status__in=[FindingStatus.OPEN, FindingStatus.TRIAGED])
        .select_related("proposed_by")[:50],
    }


@require_GET
@permission_required("hygiene.view_secret")
def secret_detail(request, pk: int):
    secret = get_object_or_404(secrets_visible_to(request.user).select_related("sighting"), pk=pk)
    return render(request, "hygiene/secret_detail.html", _secret_context(request, secret))


def _secret_timeline_or_redirect(request, secret):
    if _is_htmx(request):
        return render(
            request, "hygiene/partials/secret_timeline.html", _secret_context(request, secret)
        )
    return redirect("secret_detail", pk=secret.pk)


@require_POST
@permission_required("hygiene.comment_finding")
def secret_comment(request, pk: int):
    secret = get_object_or_404(secrets_visible_to(request.user), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _error(request, 400, "Write a comment (at most 2000 characters).")
    triage.secret_comment(secret=secret, by=request.user, body=form.cleaned_data["body"])
    return _secret_timeline_or_redirect(request, secret)


@require_POST
@permission_required("hygiene.triage_finding")
def secret_reference_add(request, pk: int):
    secret = get_object_or_404(secrets_visible_to(request.user), pk=pk)
    form = ReferenceForm(request.POST)
    if not form.is_valid():
        return _error(request, 400, "Choose a kind and enter the identifier.")
    try:
        triage.secret_reference_add(
            secret=secret,
            by=request.user,
            kind=form.cleaned_data["kind"],
            value=form.cleaned_data["value"],
        )
    except ValidationError as exc:
        return _error(request, 400, " ".join(exc.messages))
    if _is_htmx(request):
        return render(
            request, "hygiene/partials/secret_references.html", _secret_context(request, secret)
        )
    return redirect("secret_detail", pk=secret.pk)


__all__ = ["Finding", "HttpResponseBadRequest", "Q"]
