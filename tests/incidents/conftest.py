import itertools
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from hygiene.models import Finding, RotationEvent, Secret, SecretSighting, Source

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)


def make_secret(
    *,
    team=None,
    secret_type="aws-access-key",
    severity="critical",
    validity="unknown",
    exposed_since=None,
):
    n = next(_seq)
    when = exposed_since or timezone.now()
    secret = Secret.objects.create(
        fingerprint=f"{n:064x}",
        secret_type=secret_type,
        preview=f"AKIA…{n:04d}",
        severity=severity,
        validity=validity,
        team=team,
        first_seen_at=when,
        exposed_since=when,
    )
    SecretSighting.objects.create(secret=secret, last_seen_at=when)
    return secret


def make_finding(secret, source, *, status="open"):
    now = timezone.now()
    return Finding.objects.create(
        secret=secret,
        source=source,
        location_key=f"{next(_seq):064x}",
        rule="aws-access-token",
        secret_type=secret.secret_type,
        severity=secret.severity,
        status=status,
        team=secret.team,
        repo="acme/payments",
        path="config/prod.env",
        line=3,
        first_seen_at=now,  # and last seen then: no sighting since
    )


@pytest.fixture
def secret_factory(db):
    return make_secret


@pytest.fixture
def rotator(db):
    return Source.objects.create(slug="cloudtrail", name="CloudTrail", kind="rotator")


@pytest.fixture
def event_factory(rotator):
    def make(secret, action, **extra):
        extra.setdefault("occurred_at", timezone.now())
        return RotationEvent.objects.create(
            source=rotator,
            secret=secret,
            action=action,
            **{"event_id": f"ev-{next(_seq)}", **extra},
        )

    return make


@pytest.fixture
def aws_incident(lead, team):
    """A critical AWS key incident of ``team``, opened by the lead."""
    from incidents.services import incident_open

    secret = make_secret(team=team)
    return incident_open(secrets=[secret], opened_by=lead)
