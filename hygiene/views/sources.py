"""Sources: list and create, tokens (shown once), webhook secret (shown once), import history,
upload a report by hand. Raw tokens are rendered in the response that made them and nowhere
else (not in the session, not in messages)."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hygiene.forms import (
    FORMAT_CHOICES,
    SCAN_CHOICES,
    SourceEditForm,
    SourceForm,
    TokenForm,
    UploadForm,
)
from hygiene.models import ImportRun, Source, SourceKind, SourceToken, Team
from hygiene.roles import permission_required
from hygiene.services import sources as services
from hygiene.services.reconcile import is_no_scan
from hygiene.views.findings import _error, _is_htmx


@require_GET
@permission_required("hygiene.view_source")
def source_list(request):
    return render(request, "hygiene/source_list.html", _list_context())


def _list_context(form=None):
    last = ImportRun.objects.filter(source=OuterRef("pk")).order_by("-created_at")
    sources = (
        Source.objects.select_related("default_team")
        .annotate(
            last_import_at=Subquery(last.values("created_at")[:1]),
            last_import_status=Subquery(last.values("status")[:1]),
            last_import_error=Subquery(last.values("error")[:1]),
        )
        .order_by("name")[:500]
    )
    return {
        "format_choices": FORMAT_CHOICES,
        "sources": sources,
        "form": form or SourceForm(),
        "kinds": SourceKind.choices,
        "scan_choices": SCAN_CHOICES,
        "teams": Team.objects.order_by("name")[:200],
    }


@require_http_methods(["GET", "POST"])
@permission_required("hygiene.manage_sources")
def source_create(request):
    if request.method == "GET":
        # Reloading the page a failed form left at /sources/new/: back to the list and its form.
        return redirect("source_list")
    form = SourceForm(request.POST)
    if not form.is_valid():
        return render(request, "hygiene/source_list.html", _list_context(form), status=400)
    try:
        source = services.source_create(by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "hygiene/source_list.html", _list_context(form), status=400)
    messages.success(request, f"Source {source.slug} created. Create a token for it below.")
    return redirect("source_detail", slug=source.slug)


def _detail_context(source, **extra):
    imports = _history(source)
    return {
        "source": source,
        "format_choices": FORMAT_CHOICES,
        "scan_choices": SCAN_CHOICES,
        "teams": Team.objects.order_by("name")[:200],
        "edit_form": extra.pop("edit_form", None),
        "tokens": _tokens(source),
        "imports": imports,
        # A scanner's source is refused events: its history has no column for them (unless a
        # run has some all the same).
        "events_column": source.kind != SourceKind.SCANNER or any(r.events for r in imports),
        "token_form": TokenForm(),
        "upload_form": UploadForm(initial={"format": source.default_format}),
        **extra,
    }


def _tokens(source) -> list[SourceToken]:
    """The source's tokens, each still working one that expires within a day with
    ``expires_soon``; one rotated with an overlap names its replacement (``replaced_by``) until
    it expires, and is not rotated again (that would make a third token)."""
    tokens = list(source.tokens.select_related("created_by", "replaced_by")[:50])
    now = timezone.now()
    # The expiry an overlap sets is a day away at most.
    set_within = services.ROTATION_OVERLAP + timedelta(minutes=1)
    for token in tokens:
        token.expires_soon = token.is_usable(now) and bool(
            token.expires_at and token.expires_at <= now + set_within
        )
    return tokens


# What an import changed besides the findings it created or updated, as its history lists it
# (only the counts that aren't 0).
_CHANGES = (
    ("reopened", "reopened"),
    ("resolved", "resolved"),
    ("missing", "missing"),
    ("dismissed", "dismissed by the tool"),
)


def _history(source) -> list[ImportRun]:
    """The source's latest runs, each with ``changes`` (what it reopened, resolved, marked
    missing or saw dismissed) and ``scan``: full, partial, or none for a report of rotation
    events alone (or a rotator's log without any), which reconcile treats as no scan."""
    runs = list(source.imports.select_related("token", "created_by")[:50])
    for run in runs:
        run.changes = [(getattr(run, f), label) for f, label in _CHANGES if getattr(run, f)]
        no_scan = is_no_scan(run.format, run.events, max(run.received - run.events, 0))
        run.scan = "no scan" if no_scan else "full" if run.full_scan else "partial"
    return runs


@require_GET
@permission_required("hygiene.view_source")
def source_detail(request, slug: str):
    source = get_object_or_404(Source, slug=slug)
    context = _detail_context(source)
    if request.user.has_perm("hygiene.manage_sources"):
        context["incidents_left"] = services.incidents_only_this_source_found(source)
    return render(request, "hygiene/source_detail.html", context)


@require_POST
@permission_required("hygiene.manage_sources")
def source_edit(request, slug: str):
    """Name, default format and team, full or partial scans, active or not."""
    source = get_object_or_404(Source, slug=slug)
    form = SourceEditForm(request.POST)
    if form.is_valid():
        try:
            changed = services.source_update(
                source=source, by=request.user, **form.settings_for(source)
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if changed:
                messages.success(request, f"Source {source.slug}: {', '.join(changed)}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("source_detail", slug=source.slug)
    context = _detail_context(source, edit_form=form)
    return render(request, "hygiene/source_detail.html", context, status=400)


@require_POST
@permission_required("hygiene.manage_sources")
def source_remove(request, slug: str):
    """Delete a source with its findings, runs and tokens: only when its slug is typed back."""
    source = get_object_or_404(Source, slug=slug)
    if (request.POST.get("confirm") or "").strip() != source.slug:
        messages.error(
            request, f"Type the source's slug ({source.slug}) to delete it with its findings."
        )
        return redirect("source_detail", slug=source.slug)
    left = services.incidents_only_this_source_found(source)
    findings = services.source_delete(source=source, by=request.user)
    plural = "" if findings == 1 else "s"
    messages.success(request, f"Source {slug} deleted with its {findings} finding{plural}.")
    if left:
        messages.warning(
            request,
            f"Open incidents about secrets only {slug} had found stay open: {', '.join(left)}. "
            "Close them if the source was a mistake.",
        )
    return redirect("source_list")


def _shown_once(request, source, **extra):
    """Render the page (or the tokens panel) with a secret that will never be shown again."""
    template = (
        "hygiene/partials/source_tokens.html" if _is_htmx(request) else "hygiene/source_detail.html"
    )
    response = render(request, template, _detail_context(source, **extra))
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_POST
@permission_required("hygiene.manage_sources")
def token_create(request, slug: str):
    source = get_object_or_404(Source, slug=slug)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _error(request, 400, " ".join(m for ms in form.errors.values() for m in ms))
    try:
        token, raw = services.source_token_create(
            source=source,
            by=request.user,
            name=form.cleaned_data["name"],
            expires_at=form.expires_at(),
        )
    except ValidationError as exc:
        return _error(request, 400, " ".join(exc.messages))
    return _shown_once(request, source, new_token=token, new_token_raw=raw)


@require_POST
@permission_required("hygiene.manage_sources")
def token_revoke(request, slug: str, pk: int):
    source = get_object_or_404(Source, slug=slug)
    token = get_object_or_404(SourceToken, pk=pk, source=source)
    services.source_token_revoke(token=token, by=request.user)
    if _is_htmx(request):
        return render(request, "hygiene/partials/source_tokens.html", _detail_context(source))
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("source_detail", slug=slug)


@never_cache
@require_POST
@permission_required("hygiene.manage_sources")
def token_rotate(request, slug: str, pk: int):
    source = get_object_or_404(Source, slug=slug)
    token = get_object_or_404(SourceToken, pk=pk, source=source)
    try:
        new, raw = services.source_token_rotate(
            token=token, by=request.user, overlap=request.POST.get("overlap") == "1"
        )
    except ValidationError as exc:
        return _error(request, 400, " ".join(exc.messages))
    return _shown_once(request, source, new_token=new, new_token_raw=raw, rotated=token)


@never_cache
@require_POST
@permission_required("hygiene.manage_sources")
def webhook_secret_rotate(request, slug: str):
    source = get_object_or_404(Source, slug=slug)
    raw = services.source_webhook_secret_rotate(source=source, by=request.user)
    return _shown_once(request, source, new_webhook_secret=raw)


@require_POST
@permission_required("hygiene.manage_sources")
def source_upload(request, slug: str):
    """Upload a report by hand: the API's import path. Problems come back on the source page
    (a redirect, so reloading doesn't post the file again), or in place for htmx."""
    from hygiene.services.imports import ImportFailed, ImportRejected, import_report

    source = get_object_or_404(Source, slug=slug)
    form = UploadForm(request.POST, request.FILES)

    def problem(status: int, message: str):
        if _is_htmx(request):
            return _error(request, status, message)
        messages.error(request, message)
        return redirect("source_detail", slug=slug)

    if not form.is_valid():
        return problem(400, " ".join(m for ms in form.errors.values() for m in ms))
    try:
        run = import_report(
            source=source,
            format_key=form.cleaned_data["format"].strip(),
            stream=form.cleaned_data["file"],
            via="upload",
            user=request.user,
            # A rotator's report of rotation events is no scan: its form has no full-scan box,
            # and the upload takes the source's setting, as the API and the CLI do.
            full_scan=None if source.kind == SourceKind.ROTATOR else form.cleaned_data["full_scan"],
        )
    except ImportRejected as exc:
        return problem(exc.status, exc.message)
    except ImportFailed as exc:
        where = f"{exc.error.location}: " if exc.error.location else ""
        return problem(400, f"Import #{exc.run.pk} failed: {where}{exc.error.message}")
    if getattr(run, "duplicate", False):
        messages.info(
            request,
            f"This report was imported already (import #{run.pk}, "
            f"{timezone.localtime(run.created_at):%Y-%m-%d %H:%M}): nothing changed.",
        )
        return redirect("source_detail", slug=slug)
    counts = f"{run.received} received, {run.created} new, {run.updated} updated, "
    counts += f"{run.unchanged} unchanged"
    if run.passed:
        counts += f", {run.passed} checks passed"
    if run.resolved:
        counts += f", {run.resolved} resolved"
    if run.reopened:
        counts += f", {run.reopened} reopened"
    if run.dismissed:
        counts += f", {run.dismissed} dismissed by the tool"
    if run.missing:
        # A full scan: what it no longer reports is marked missing (say so: a report of another
        # repository or tool sent to this source does that to all the source's findings).
        counts += f", {run.missing} no longer reported (marked missing)"
    if run.events:
        counts += f", {run.events} rotation events"
    messages.success(request, f"Import #{run.pk}: {run.status} — {counts}.")
    return redirect("source_detail", slug=slug)
