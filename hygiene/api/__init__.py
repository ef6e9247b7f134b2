"""The JSON API (django-ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, every call with a
bearer token — a source token (imports into that source only) or a person's API token (reads
with that person's role)."""

import logging
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.docs import Swagger

from hygiene.api.auth import TokenAuth
from hygiene.api.errors import ApiError, error_response

log = logging.getLogger(__name__)


def _json_not_allowed(view):
    """ninja answers a method a path doesn't take (DELETE /findings, OPTIONS) with Django's
    text/html 405: the same 405 and Allow header, in the API's JSON error shape."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            allowed = response.get("Allow", "")
            answer = JsonResponse(
                {
                    "detail": f"{request.method} is not allowed here; allowed: {allowed}",
                    "location": "method",
                },
                status=405,
            )
            answer["Allow"] = allowed
            return answer
        return response

    return wrapper


@csrf_exempt
def _not_found(request, rest=""):
    return error_response(404, f"no such endpoint: {request.path_info}", "path")


@csrf_exempt
def _root(request, **kwargs):
    """/api/v1/ itself: ninja's own view raises Django's HTML 404 (and, not being exempt from
    CSRF, a POST got Django's HTML 403 first). It is no endpoint: say where the list is."""
    return error_response(
        404,
        f"no such endpoint: {request.path_info}; the endpoints are listed at "
        f"{request.path_info}openapi.json",
        "path",
    )


class LeaklineAPI(NinjaAPI):
    """Every answer under /api/v1/ is JSON: a method a path doesn't take (405); a path that
    isn't one, and /api/v1/ itself (404, instead of Django's HTML page); a CSRF failure
    (hygiene.middleware.csrf_failure) and an unexpected error (``_internal_error``) too."""

    def _get_urls(self):
        patterns = super()._get_urls()
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                if pattern.name == "api-root":  # kept: ninja reverses it
                    pattern.callback = _root
                else:
                    pattern.callback = _json_not_allowed(pattern.callback)
        return [*patterns, re_path(r"^(?P<rest>.*)$", _not_found, name="not-found")]


class LocalSwagger(Swagger):
    """Swagger UI from ninja's own files, served by us (settings.NINJA_DIR). ninja renders its
    local template only when it is an installed app (it isn't: see settings) and otherwise one
    that loads Swagger UI from a CDN, which the content security policy refuses: the template
    it renders then is the local one."""

    template_cdn = str(settings.NINJA_DIR / "templates" / Swagger.template)


api = LeaklineAPI(
    title="Leakline API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
    docs=LocalSwagger(),
    # The interactive docs and the schema are pages for people: behind the login like all pages.
    docs_decorator=login_required,
)


@api.exception_handler(ValidationError)
def _invalid_parameters(request, exc: ValidationError):
    """A parameter or body that doesn't validate: 422 in the shape of every error of the API
    ({"detail", "location"}), each problem listed; the values sent are not echoed back."""
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "detail": str(error.get("msg", "invalid")),
        }
        for error in exc.errors
    ]
    first = errors[0] if errors else {"location": "", "detail": "invalid request"}
    where = first["location"].split(".", 1)[-1]
    return api.create_response(
        request,
        {"detail": f"{where}: {first['detail']}", "location": first["location"], "errors": errors},
        status=422,
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    """{"detail"} and, for an ApiError, its "location"."""
    body = {"detail": str(exc)}
    location = getattr(exc, "location", "")
    if location:
        body["location"] = location
    response = api.create_response(request, body, status=exc.status_code)
    if exc.status_code == 401:
        # RFC 9110: a 401 names the scheme that would be accepted.
        response["WWW-Authenticate"] = 'Bearer realm="Leakline API"'
    return response


@api.exception_handler(Exception)
def _internal_error(request, exc: Exception):
    """A bug in an endpoint: logged with its traceback, answered as a JSON 500 (not Django's
    HTML page), without the exception's text (it may quote the input)."""
    log.error("API error on %s %s", request.method, request.path_info, exc_info=exc)
    return error_response(500, "internal error: the server logged it", "")


from hygiene.api import routes  # noqa: E402  (registers the routers on `api`)

__all__ = ["ApiError", "api", "routes"]
