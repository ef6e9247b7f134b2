"""Findings, secrets, sources and ownership pages."""

from django.urls import path

from hygiene.views import findings, sources

urlpatterns = [
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/secrets/", findings.secret_groups, name="secret_groups"),
    path("secrets/<int:pk>/", findings.secret_detail, name="secret_detail"),
    path("sources/", sources.source_list, name="source_list"),
    path("sources/<slug:slug>/", sources.source_detail, name="source_detail"),
]
