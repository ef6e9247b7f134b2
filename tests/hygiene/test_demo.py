"""The demo data `make run` offers: loads once, and tells a consistent story."""

import pytest
from django.db.models import F

from hygiene import demo, metrics
from hygiene.metrics import MetricFilters
from hygiene.models import Finding
from incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_and_its_history_is_consistent():
    assert demo.seed() is True
    assert demo.seed() is False  # idempotent
    assert Finding.objects.exists() and Incident.objects.count() > 5
    # Exposed no later than opened, revoked no earlier than opened.
    assert not Incident.objects.filter(exposed_since__gt=F("opened_at")).exists()
    assert not Incident.objects.filter(contained_at__lt=F("opened_at")).exists()
    exposure = metrics.exposure(MetricFilters())
    assert exposure["revoked"]["n"] > 0 and exposure["revoked"]["min"] >= 0
