"""The JSON API (django-ninja): /api/v1/, OpenAPI at /api/v1/openapi.json, every call with a
bearer token — a source token (imports into that source only) or a person's API token (reads
with that person's role)."""

from django.contrib.auth.decorators import login_required
from ninja import NinjaAPI

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

from hygiene.api import routes  # noqa: E402  (registers the routers on `api`)

__all__ = ["api", "routes"]
