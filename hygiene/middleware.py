from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as _LoginRequired
from django.http import HttpResponseBadRequest, JsonResponse


class LoginRequiredMiddleware(_LoginRequired):
    """Every page needs a login. The JSON API authenticates each call with a bearer token
    instead (see hygiene.api.auth), so it is exempt here and refuses anonymous calls itself."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


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
