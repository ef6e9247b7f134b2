"""The JSON API (django-ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, every call with a
bearer token — a source token (imports into that source only) or a person's API token (reads
with that person's role)."""

from django.contrib.auth.decorators import login_required
from ninja import NinjaAPI
from ninja.errors import ValidationError

from hygiene.api.auth import TokenAuth

api = NinjaAPI(
    title="Leakline API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
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


from hygiene.api import routes  # noqa: E402  (registers the routers on `api`)

__all__ = ["api", "routes"]
