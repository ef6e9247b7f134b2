from django.contrib import admin
from django.urls import include, path

from hygiene.api import api
from hygiene.login_throttle import ThrottledLoginView, ThrottledPasswordResetView
from hygiene.views import dashboard, events, health

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("", include("hygiene.urls_triage")),
    path("", include("hygiene.urls_metrics")),
    path("", include("incidents.urls")),
    path("events/", events.event_list, name="event_list"),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path(
        "accounts/login/",
        ThrottledLoginView.as_view(),
        name="login",
    ),
    path(
        "accounts/password_reset/",
        ThrottledPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
