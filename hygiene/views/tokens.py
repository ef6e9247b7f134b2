"""A person's API tokens (``llu_…``): list, create (shown once, in the response that made it),
revoke. Each reads the JSON API with its owner's role."""

import secrets
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from hygiene.forms import TokenForm
from hygiene.models import UserToken
from hygiene.roles import sees_everything
from hygiene.services import sources as services


def api_access(user) -> tuple[list[str], list[str]]:
    """What a token of ``user``'s reads through the API, and what it is refused: the same
    permissions the endpoints check (hygiene/api/*, incidents/api.py), so the page promises
    nothing the API answers 403 to."""
    everything = sees_everything(user)
    reads, refused = [], []
    if user.has_perm("hygiene.view_finding"):
        reads.append("all findings" if everything else "your teams' findings")
    if user.has_perm("incidents.view_incident"):
        reads.append("all incidents" if everything else "the incidents you take part in")
    (reads if user.has_perm("hygiene.view_metrics") else refused).append("metrics")
    if user.has_perm("hygiene.view_importrun"):
        reads.append("import statuses")
    return reads, refused


def _context(request, **extra):
    reads, refused = api_access(request.user)
    return {
        "tokens": UserToken.objects.filter(user=request.user)[:50],
        "form": TokenForm(),
        "api_reads": reads,
        "api_refused": refused,
        "api_opens_incidents": request.user.has_perm("incidents.manage_incident"),
        # The form refuses today (a token that would end within hours): the date picker too.
        "first_expiry": timezone.localdate() + timedelta(days=1),
        # The form's one-time id: the page showing a new token is the POST's answer, and
        # reloading it would post the form again and make a second token.
        "once": secrets.token_urlsafe(12),
        **extra,
    }


SENT_FORMS_KEPT = 20


def _sent_before(request) -> bool:
    """Whether this form (its one-time id) was posted already; records it if not."""
    once = request.POST.get("once", "")[:40]
    if not once:
        return False
    sent = request.session.get("sent_forms", [])
    if once in sent:
        return True
    request.session["sent_forms"] = [*sent[-(SENT_FORMS_KEPT - 1) :], once]
    return False


@require_GET
def token_list(request):
    return render(request, "hygiene/api_tokens.html", _context(request))


@never_cache
@require_POST
def token_create(request):
    if _sent_before(request):
        problem = (
            "That form was sent already: the token it made is in the list (its value was "
            "shown once). Create another one if you need it."
        )
        return render(
            request, "hygiene/api_tokens.html", _context(request, error=problem), status=409
        )
    form = TokenForm(request.POST)
    problem = None
    if form.is_valid():
        try:
            token, raw = services.user_token_create(
                user=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            )
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            context = _context(request, new_token=token, new_token_raw=raw)
            return render(request, "hygiene/api_tokens.html", context)
    else:
        problem = " ".join(m for ms in form.errors.values() for m in ms)
    return render(request, "hygiene/api_tokens.html", _context(request, error=problem), status=400)


@require_POST
def token_revoke(request, pk: int):
    token = get_object_or_404(UserToken, pk=pk, user=request.user)
    services.user_token_revoke(token=token, by=request.user)
    messages.success(request, f"Token {token.prefix}… revoked: calls made with it are refused.")
    return redirect("api_tokens")
