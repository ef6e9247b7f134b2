"""Issue 4 end to end: a gitleaks report with an AWS key → an incident → CloudTrail shows the key
deactivated and the Secrets Manager secret that held it rotated → the revoke and rotate steps
are done, with the events as evidence."""

import importlib
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine

from hygiene.models import RotationEvent, Source
from hygiene.services.imports import import_report
from hygiene.services.triage import secret_reference_add
from incidents.models import TimelineEvent
from incidents.services import incident_open, step_complete
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
    assert "<td>Revoked</td>" in page  # the action in words, not the importer's "revoked"
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


def delete_access_key(key_id: str, at: str, event_id: str) -> dict:
    record = update_access_key(key_id, "", at, event_id)
    record["eventName"] = "DeleteAccessKey"
    record["requestParameters"] = {"userName": "deploy-bot", "accessKeyId": key_id}
    return record


def test_deactivating_a_key_twice_does_not_delete_it(sources, lead):
    """AWS's playbook revokes twice: deactivate first (step 1), delete the old key once the
    new one works (step 4). Only a deletion completes step 4, and not before the rotation it
    waits on."""
    scanner, rotator = sources
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        _, incident = leak(scanner, lead)
    with time_machine.travel(datetime(2026, 11, 2, 12, 0, tzinfo=UTC), tick=False):
        import_events(
            rotator, update_access_key(LEAKED_KEY, "Inactive", "2026-11-02T09:20:00Z", "ev-d1")
        )
        steps = {s.position: s for s in incident.steps.all()}
        assert steps[1].evidence_event.event_id == "ev-d1"
        assert steps[4].title == "Delete the old key" and steps[4].action == "revoke"
        step_complete(step=steps[2], by=lead, note="New key deployed")
        # Someone deactivates it again (a script re-run): step 4 stays open.
        import_events(
            rotator, update_access_key(LEAKED_KEY, "Inactive", "2026-11-02T10:00:00Z", "ev-d2")
        )
        steps[4].refresh_from_db()
        assert steps[4].completed_at is None
        assert incident.timeline.filter(
            kind="rotation_event", message__contains="deactivating a key doesn't complete step 4"
        ).exists()
        # The deletion happened before the rotation was recorded by hand at noon: the step is
        # done when both were.
        import_events(rotator, delete_access_key(LEAKED_KEY, "2026-11-02T11:00:00Z", "ev-del"))
    steps[4].refresh_from_db()
    assert steps[4].evidence_event.event_id == "ev-del"
    assert steps[4].completed_at == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert RotationEvent.objects.filter(detail__contains=LEAKED_KEY).count() == 0
    assert RotationEvent.objects.get(event_id="ev-del").detail == (
        "IAM access key AKIA…ZAM2 of user deploy-bot deleted"
    )


def test_an_event_about_another_key_of_the_same_user_is_not_this_secrets(sources, lead):
    """The user's ARN matches any key of the user; the key id the event names decides."""
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    user_arn = "arn:aws:iam::111122223333:user/deploy-bot"
    secret_reference_add(secret=secret, by=lead, kind="arn", value=user_arn)
    import_events(rotator, delete_access_key("AKIA2OGYBAH6STMMNEWK", "2026-11-02T09:30:00Z", "n1"))
    assert RotationEvent.objects.get(event_id="n1").secret is None
    assert incident.steps.get(position=1).completed_at is None
    # An event that names no key id (a console action logged without it) is matched by the
    # user, as documented: a weaker match, but the only one.
    record = delete_access_key("", "2026-11-02T09:40:00Z", "n2")
    record["requestParameters"] = {"userName": "deploy-bot"}
    import_events(rotator, record)
    assert RotationEvent.objects.get(event_id="n2").secret == secret
    # And its own key id wins over the user's other secrets.
    other = Source.objects.create(slug="other-scan", name="other", kind="scanner")
    import_report(
        source=other,
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": "AKIA2OGYBAH6STMMNEWK"}])),
        via="cli",
    )
    new_key = other.findings.get().secret
    secret_reference_add(secret=new_key, by=lead, kind="arn", value=user_arn)
    assert RotationEvent.objects.get(event_id="n1").secret == new_key


def vault_response(path: str, at: str, request_id: str) -> bytes:
    entry = {
        "time": at,
        "type": "response",
        "auth": {"display_name": "ops-admin"},
        "request": {"id": request_id, "operation": "update", "path": path},
        "response": {},
        "error": "",
    }
    return (json.dumps(entry) + "\n").encode()


def test_a_vault_revoke_prefix_revokes_the_leases_under_it(sources, lead):
    scanner, _ = sources
    vault = Source.objects.create(slug="vault", name="Vault", kind="rotator")
    secret, incident = leak(scanner, lead)
    lease = "database/creds/readonly/Hk2XQZ5p8LbRwT3vN6mY"
    secret_reference_add(secret=secret, by=lead, kind="vault-path", value=lease)
    for path, request_id in (
        ("sys/leases/revoke-prefix/database/creds/read", "not-a-path-prefix"),
        ("sys/leases/revoke-prefix/database/creds/readonly/", "the-prefix"),
    ):
        import_report(
            source=vault,
            format_key="vault-audit",
            stream=io.BytesIO(vault_response(path, "2026-11-02T09:30:00Z", request_id)),
            via="cli",
        )
    assert RotationEvent.objects.get(event_id="not-a-path-prefix").secret is None
    revoke = incident.steps.get(position=1)
    assert revoke.evidence_event.event_id == "the-prefix"


def test_key_ids_in_details_stored_earlier_are_redacted(sources):
    """Migration 0017: events imported before the detail redacted the key id."""
    from django.apps import apps

    migration = importlib.import_module("hygiene.migrations.0017_redact_key_ids_in_event_details")
    _, rotator = sources
    details = [
        f"IAM access key {LEAKED_KEY} of user deploy-bot deactivated",
        f"IAM access key {LEAKED_KEY} deleted",
        "IAM access key of user Bob deactivated",
        "RotationSucceeded arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/x-Ab12Cd",
    ]
    for i, detail in enumerate(details):
        RotationEvent.objects.create(
            source=rotator, action="revoked", event_id=f"old-{i}", detail=detail
        )
    migration.redact_details(apps, None)
    assert list(RotationEvent.objects.order_by("event_id").values_list("detail", flat=True)) == [
        "IAM access key AKIA…ZAM2 of user deploy-bot deactivated",
        "IAM access key AKIA…ZAM2 deleted",
        details[2],
        details[3],
    ]


def test_an_event_without_an_id_sent_again_is_kept_once(sources, lead):
    # "id" is optional in the leakline format: an overlapping feed repeats such events.
    scanner, _ = sources
    rotator = Source.objects.create(slug="rotator", name="rotator", kind="rotator")
    leak(scanner, lead)

    def event(action: str, detail: str) -> dict:
        return {
            "ref": {"kind": "aws-access-key-id", "value": LEAKED_KEY},
            "action": action,
            "at": "2024-05-02T10:00:00Z",
            "name": "KeyRotator",
            "detail": detail,
        }

    def send(*events: dict, pad: bytes = b""):
        data = json.dumps({"version": 1, "events": list(events)}).encode() + pad
        return import_report(
            source=rotator, format_key="leakline", stream=io.BytesIO(data), via="cli"
        )

    first = send(event("rotation_failed", "AccessDenied"))
    send(event("rotation_failed", "AccessDenied"), event("rotated", "new key issued"), pad=b"\n")
    stored = RotationEvent.objects.filter(source=rotator)
    assert sorted(stored.values_list("action", flat=True)) == ["rotated", "rotation_failed"]
    assert stored.get(action="rotation_failed").import_run_id == first.pk
    assert LEAKED_KEY not in "".join(stored.values_list("event_id", flat=True))
    # Told apart by what they say: another failure at the same time is another event.
    send(event("rotation_failed", "Throttling"), pad=b"\n\n")
    assert stored.filter(action="rotation_failed").count() == 2


def test_an_event_another_import_stored_meanwhile_is_kept_once(sources, lead, monkeypatch):
    # Staging holds no lock of the source: an overlapping feed's import may store an event
    # between our check and our insert. Ours keeps the others and succeeds.
    from hygiene.services.staging import Stager

    rotator = Source.objects.create(slug="rotator", name="rotator", kind="rotator")
    events = [
        {"ref": {"kind": "other", "value": "db-prod"}, "action": "rotated", "at": t, "id": i}
        for i, t in (("evt-1", 1714564800), ("evt-2", 1714568400))
    ]
    real = Stager._unseen
    raced = []

    def racing(self, pending):
        unseen = real(self, pending)
        if not raced:
            raced.append(True)
            RotationEvent.objects.create(source=rotator, action="rotated", event_id="evt-1")
        return unseen

    monkeypatch.setattr(Stager, "_unseen", racing)
    run = import_report(
        source=rotator,
        format_key="leakline",
        stream=io.BytesIO(json.dumps({"version": 1, "events": events}).encode()),
        via="cli",
    )
    assert run.status == "succeeded", run.error
    stored = RotationEvent.objects.filter(source=rotator)
    assert sorted(stored.values_list("event_id", flat=True)) == ["evt-1", "evt-2"]
    assert stored.get(event_id="evt-2").import_run_id == run.pk


def put_secret_value(secret_arn: str, at: str, event_id: str) -> dict:
    """A new value put by hand (console "Edit secret value", `aws secretsmanager
    put-secret-value`): it becomes AWSCURRENT. CloudTrail logs no value."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/SecOps/oncall",
            "accountId": "111122223333",
        },
        "eventTime": at,
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "PutSecretValue",
        "awsRegion": "eu-west-1",
        "requestParameters": {"secretId": secret_arn, "clientRequestToken": "3f0c2a9e-1b7d"},
        "responseElements": None,
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "sessionCredentialFromConsole": "true",
    }


@pytest.mark.parametrize("abandoned_first", [False, True])
def test_a_value_put_by_hand_during_a_rotation_is_a_rotation_not_a_failure(
    sources, lead, abandoned_first
):
    """A rotation that was left pending (its Lambda failed at createSecret): the on-call
    puts a new value by hand. Secrets Manager abandons the pending rotation in favour of it
    (RotationAbandoned, logged in the same second). The rotate step is done by the new value;
    no "rotation failed" alert."""
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    put = put_secret_value(SECRET_ARN, "2026-11-02T09:45:00Z", "ev-put")
    abandoned = rotation("RotationAbandoned", SECRET_ARN, "2026-11-02T09:45:00Z", "ev-ab")
    import_events(rotator, *([abandoned, put] if abandoned_first else [put, abandoned]))
    rotate = incident.steps.get(position=2)
    assert rotate.completed_at is not None
    assert rotate.evidence_event.event_id == "ev-put"
    assert rotate.alert == ""
    assert not TimelineEvent.objects.filter(incident=incident, kind="rotation_failed").exists()


def test_a_trail_buckets_files_run_together_complete_the_steps(sources, lead):
    """`cat` of a synced trail bucket's .json.gz files (log files, then digests) sent as one
    report: each log file's events apply, the digests hold none."""
    import gzip

    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2026-11-02T09:00:00Z",
        "digestEndTime": "2026-11-02T10:00:00Z",
        "digestS3Bucket": "trail-bucket",
        "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/x.json.gz",
        "logFiles": [],
    }
    files = [
        cloudtrail(update_access_key(LEAKED_KEY, "Inactive", "2026-11-02T09:20:00Z", "cat-1")),
        cloudtrail(rotation("RotationSucceeded", SECRET_ARN, "2026-11-02T09:45:00Z", "cat-2")),
        json.dumps(digest).encode(),
    ]
    run = import_report(
        source=rotator,
        format_key="aws-cloudtrail",
        stream=io.BytesIO(b"".join(gzip.compress(f) for f in files)),
        via="cli",
    )
    assert (run.status, run.events) == ("succeeded", 2)
    steps = {s.position: s for s in incident.steps.all()}
    assert steps[1].evidence_event.event_id == "cat-1"
    assert steps[2].evidence_event.event_id == "cat-2"


def test_a_rotated_gzipped_vault_log_completes_the_steps(sources, lead):
    """audit.log.1.gz as logrotate leaves it: the lease revoked and the KV secret that held
    the key written anew complete the revoke and rotate steps."""
    import gzip

    scanner, _ = sources
    vault = Source.objects.create(slug="vault", name="Vault", kind="rotator")
    secret, incident = leak(scanner, lead)
    lease = "aws/creds/deploy/Hk2XQZ5p8LbRwT3vN6mY"
    secret_reference_add(secret=secret, by=lead, kind="vault-path", value=lease)
    secret_reference_add(secret=secret, by=lead, kind="vault-path", value="kv/deploy-bot")
    log = vault_response(f"sys/leases/revoke/{lease}", "2026-11-02T09:30:00Z", "gz-1")
    log += vault_response("kv/data/deploy-bot", "2026-11-02T09:40:00Z", "gz-2")
    run = import_report(
        source=vault,
        format_key="vault-audit",
        stream=io.BytesIO(gzip.compress(log)),
        via="cli",
    )
    assert (run.status, run.events) == ("succeeded", 2)
    steps = {s.position: s for s in incident.steps.all()}
    assert steps[1].evidence_event.event_id == "gz-1"
    assert steps[2].evidence_event.event_id == "gz-2"


def test_rotation_events_kept_in_an_eventbridge_rules_log_group_apply(sources, lead):
    """`aws logs filter-log-events --log-group-name /aws/events/secrets-rotation`: each
    message an EventBridge event. The RotationSucceeded in it completes the rotate step."""
    scanner, rotator = sources
    secret, incident = leak(scanner, lead)
    secret_reference_add(secret=secret, by=lead, kind="arn", value=SECRET_ARN)
    event = {
        "version": "0",
        "id": "7c7ad9a4-5b8e-6c3e-1f42-0a1b2c3d4e5f",
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.secretsmanager",
        "account": "111122223333",
        "time": "2026-11-02T09:45:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": rotation("RotationSucceeded", SECRET_ARN, "2026-11-02T09:45:00Z", "lg-1"),
    }
    output = {
        "events": [
            {
                "logStreamName": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                "timestamp": 1793613900000,
                "message": json.dumps(event),
                "ingestionTime": 1793613901000,
                "eventId": "3789321212349872349872349872349872349872349872349872",
            }
        ],
        "searchedLogStreams": [],
    }
    run = import_report(
        source=rotator,
        format_key="aws-cloudtrail",
        stream=io.BytesIO(json.dumps(output, indent=4).encode()),
        via="cli",
    )
    assert (run.status, run.events) == ("succeeded", 1)
    rotate = incident.steps.get(position=2)
    assert rotate.evidence_event.event_id == "lg-1"
