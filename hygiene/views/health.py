from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


@login_not_required
@never_cache
def healthz(request):
    """Database and queue status for load balancers and compose health checks."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # any failure means "not healthy", whatever the driver raised
        checks["database"] = "unavailable"
    if settings.REDIS_URL:
        try:
            import django_rq

            django_rq.get_connection("default").ping()
            checks["queue"] = "ok"
        except Exception:
            checks["queue"] = "unavailable"
    else:
        checks["queue"] = "embedded"
    healthy = all(v in ("ok", "embedded") for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
