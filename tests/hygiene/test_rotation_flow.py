"""Issue 4 end to end: a gitleaks report with an AWS key → an incident → CloudTrail shows the key
deactivated and the Secrets Manager secret that held it rotated → the revoke and rotate steps
are done, with the events as evidence."""

import io
import json
from datetime import UTC, datetime

import pytest
import time_machine

from hygiene.models import RotationEvent, Source
from hygiene.services.imports import import_report
from hygiene.services.triage import secret_reference_add
from incidents.models import TimelineEvent
from incidents.services import incident_open
from tests.hygiene import reports

LEAKED_KEY = "AKIAQYLPMN5HHHFPZAM2"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/deploy-bot-key-Ab12Cd"

pytestmark = pytest.mark.django_db


def cloudtrail(*records: dict) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def update_access_key(key_id: str, status: str, at: str, event_id: str) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/oncall-admin",
            "accountId": "111122223333",
            "userName": "oncall-admin",
        },
        "eventTime": at,
        "eventSource": "iam.amazonaws.com",
        "eventName": "UpdateAccessKey",
        "awsRegion": "us-east-1",
        "requestParameters": {"userName": "deploy-bot", "accessKeyId": key_id, "status": status},
        "responseElements": None,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }


def rotation(event_name: str, secret_arn: str, at: str, event_id: str) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {"accountId": "111122223333", "invokedBy": "secretsmanager.amazonaws.com"},
        "eventTime": at,
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": {"SecretId": secret_arn},
        "eventID": event_id,
        "eventType": "AwsServiceEvent",
        "recipientAccountId": "111122223333",
    }


@pytest.fixture
def sources(db):
    return (
        Source.objects.create(slug="gitleaks", name="gitleaks", kind="scanner"),
        Source.objects.create(slug="cloudtrail", name="CloudTrail", kind="rotator"),
    )


def leak(scanner, lead):
    """A gitleaks report with the AWS key, and the incident a lead opens for it."""
    import_report(
        source=scanner,
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": LEAKED_KEY}])),
        via="cli",
    )
    secret = scanner.findings.get().secret
    return secret, incident_open(secrets=[secret], opened_by=lead)


def import_events(rotator, *records: dict):
    return import_report(
        source=rotator,
        format_key="aws-cloudtrail",
        stream=io.BytesIO(cloudtrail(*records)),
        via="cli",
    )


def test_cloudtrail_events_complete_the_revoke_and_rotate_steps(sources, lead):
    scanner, rotator = sources
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        import_report(
            source=scanner,
            format_key="gitleaks",
            stream=io.BytesIO(reports.gitleaks([{"secret": LEAKED_KEY}])),
            via="cli",
        )
        secret = scanner.findings.get().secret
        incident = incident_open(secrets=[secret], opened_by=lead, severity="critical")
        # The key was stored in a Secrets Manager secret: a lead links it on the secret page.
        secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=UTC), tick=False):
        run = import_report(
            source=rotator,
            format_key="aws-cloudtrail",
            stream=io.BytesIO(
                cloudtrail(
                    update_access_key(LEAKED_KEY, "Inactive", "2026-11-02T09:20:00Z", "ev-1"),
                    rotation("RotationSucceeded", SECRET_ARN, "2026-11-02T09:45:00Z", "ev-2"),
                    # Unrelated noise in the same log file: matches nothing, kept and listed.
                    update_access_key(
                        "AKIA2OGYBAH6STMMNXNN", "Inactive", "2026-11-02T09:50:00Z", "ev-3"
                    ),
                )
            ),
            via="cli",
        )
    assert run.status == "succeeded" and run.events == 3
    steps = {s.position: s for s in incident.steps.all()}
    revoke, rotate = steps[1], steps[2]
    assert (revoke.action, rotate.action) == ("revoke", "rotate")
    assert revoke.completed_at == datetime(2026, 11, 2, 9, 20, tzinfo=UTC)
    assert revoke.evidence_event.event_name == "UpdateAccessKey"
    assert revoke.evidence_event.actor == "arn:aws:iam::111122223333:user/oncall-admin"
    assert rotate.completed_at == datetime(2026, 11, 2, 9, 45, tzinfo=UTC)
    assert rotate.evidence_event.event_name == "RotationSucceeded"
    assert revoke.evidence_event.evidence_url.startswith("https://")
    # Deactivating the key contains the leak.
    incident.refresh_from_db()
    assert incident.status == "contained"
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds.count("step_completed") == 2
    unmatched = RotationEvent.objects.get(event_id="ev-3")
    assert unmatched.secret is None and unmatched.applied_at is None


def test_an_event_that_arrives_before_its_reference_is_claimed_later(sources, lead):
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    import_events(
        rotator, rotation("RotationSucceeded", SECRET_ARN, "2026-11-02T09:45:00Z", "ev-9")
    )
    rotate = incident.steps.get(position=2)
    assert rotate.completed_at is None
    assert RotationEvent.objects.get(event_id="ev-9").secret is None
    secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    rotate.refresh_from_db()
    assert rotate.completed_at is not None
    assert rotate.evidence_event.event_id == "ev-9"


def test_a_failed_rotation_raises_an_alert_instead(sources, lead):
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    import_events(rotator, rotation("RotationFailed", SECRET_ARN, "2026-11-02T09:45:00Z", "ev-f"))
    rotate = incident.steps.get(position=2)
    assert rotate.completed_at is None
    assert rotate.alert
    assert TimelineEvent.objects.filter(incident=incident, kind__contains="fail").exists()


def test_unmatched_events_are_listed_for_leads_and_hidden_from_engineers(
    client, sources, lead, engineer
):
    _, rotator = sources
    import_events(
        rotator, update_access_key(LEAKED_KEY, "Inactive", "2026-11-02T09:20:00Z", "ev-7")
    )
    client.force_login(lead)
    page = client.get("/events/").content.decode()
    assert "UpdateAccessKey" in page and "no match yet" in page
    assert LEAKED_KEY not in page and "AKIA…ZAM2" in page
    client.force_login(engineer)
    assert client.get("/events/").status_code == 403


def test_a_lead_adds_a_reference_on_the_incident_page_and_waiting_events_apply(
    client, sources, lead, engineer
):
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    import_events(
        rotator, rotation("RotationSucceeded", SECRET_ARN, "2026-11-02T09:45:00Z", "ev-5")
    )
    url = f"/incidents/{incident.pk}/reference"
    form = {"secret": secret.pk, "kind": "arn", "value": SECRET_ARN}
    client.force_login(engineer)
    assert client.post(url, form).status_code == 403
    client.force_login(lead)
    response = client.post(url, form, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert SECRET_ARN in response.content.decode()
    rotate = incident.steps.get(position=2)
    assert rotate.completed_at is not None and rotate.evidence_event.event_id == "ev-5"
    bad = client.post(url, {**form, "kind": "nonsense"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400
