from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.middleware import LoginRequiredMiddleware as _LoginRequired
from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import csrf


class LoginRequiredMiddleware(_LoginRequired):
    """Every page needs a login. The JSON API authenticates each call with a bearer token
    instead (see hygiene.api.auth), so it is exempt here and refuses anonymous calls itself."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class NoStoreMiddleware:
    """What a signed-in person sees (finding paths, secret previews, step states) stays out of
    the browser's cache: Back after logging out, or after an htmx action changed the page,
    asks the server again instead of showing the old page. Also every API answer (a bearer
    token's caller is signed in too, though not by session). Static files never get here:
    whitenoise answers them earlier and they keep their long cache life."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path_info.startswith("/api/"):
            add_never_cache_headers(response)
        return response


class ContentSecurityPolicyMiddleware:
    """No inline scripts anywhere: pages load their code from /static, charts read their data
    from <script type="application/json"> blocks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


class RejectNulCharactersMiddleware:
    """A NUL character in a query parameter is never meaningful, and PostgreSQL refuses it in
    any text: answer 400 saying so, instead of failing deep in a query. (Form fields already
    refuse it: Django's CharField validates against null characters.)"""

    MESSAGE = "Query parameters must not contain NUL characters (%00)."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": self.MESSAGE}, status=400)
            return HttpResponseBadRequest(self.MESSAGE, content_type="text/plain")
        return self.get_response(request)


class HtmxMiddleware:
    """Pages that answer htmx with a fragment and a browser with the whole page, at one URL:

    - ``Vary: HX-Request``, so that the browser's cache never gives the fragment back as the
      page (Back after a filter showed a bare, unstyled table);
    - when the session has expired, htmx would follow the redirect to the login page and swap
      that page into the one the user is on: it is told to go to the login page instead, and
      to come back to the page (not to the URL the request was for, which may take only a
      POST);
    - a stale CSRF token (the user logged out and in elsewhere) reloads the page, which gets a
      fresh one, instead of a request that silently does nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            return response
        patch_vary_headers(response, ("HX-Request",))
        login = resolve_url(settings.LOGIN_URL)
        to_login = response.status_code == 302 and response["Location"].startswith(login + "?")
        if to_login and request.headers.get("HX-Request") == "true":
            redirect = HttpResponse(status=200)
            redirect["HX-Redirect"] = f"{login}?{urlencode({'next': _current_page(request)})}"
            patch_vary_headers(redirect, ("HX-Request",))
            return redirect
        if to_login and request.method == "POST":
            # A form posted after the session expired: back to its page after the login,
            # not to the URL it posted to (which answers only a POST: 405).
            response["Location"] = f"{login}?{urlencode({'next': _current_page(request)})}"
        return response


def _current_page(request, default: str = "/") -> str:
    """The page a request was made from (its path and query), when it is ours: htmx says so,
    a form's post has it as its referrer."""
    current = request.headers.get("HX-Current-URL") or request.headers.get("Referer", "")
    if current and url_has_allowed_host_and_scheme(
        current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


STALE_FORM = (
    "Your session changed (you logged in again, maybe in another tab), so that page was out "
    "of date and nothing was done: do it again."
)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a page whose token went stale (the user logged in again elsewhere)
    is reloaded with a fresh one, and says why (what was typed is lost: the request was
    refused before it was read). An htmx request reloads its page; a form posted without
    scripts goes back to its page; anything else gets Django's page (under /api/, JSON)."""
    if request.path_info.startswith("/api/"):
        # The API's error shape, not Django's HTML page. Its endpoints are exempt (they take a
        # bearer token): only a path that is no endpoint, or the docs pages, get here.
        from hygiene.api.errors import error_response

        return error_response(
            403, "CSRF check failed: API calls authenticate with a bearer token", "header.Cookie"
        )
    signed_in = request.user.is_authenticated
    if request.headers.get("HX-Request") == "true":
        if signed_in:
            messages.warning(request, STALE_FORM)
        response = HttpResponseForbidden(STALE_FORM)
        response["HX-Refresh"] = "true"
        return response
    back = _current_page(request, default="")
    if signed_in and back:
        messages.warning(request, STALE_FORM)
        return HttpResponseRedirect(back)
    return csrf.csrf_failure(request, reason)
