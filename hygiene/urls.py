from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from hygiene.api import api
from hygiene.views import dashboard, findings, health, metrics, sources

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/secrets/", findings.secret_groups, name="secret_groups"),
    path("secrets/<int:pk>/", findings.secret_detail, name="secret_detail"),
    path("metrics/", metrics.metrics_page, name="metrics"),
    path("sources/", sources.source_list, name="source_list"),
    path("sources/<slug:slug>/", sources.source_detail, name="source_detail"),
    path("", include("incidents.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
