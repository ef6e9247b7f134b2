"""Metrics pages and exports."""

from django.urls import path

from hygiene.views import metrics

urlpatterns = [
    path("metrics/", metrics.metrics_page, name="metrics"),
]
