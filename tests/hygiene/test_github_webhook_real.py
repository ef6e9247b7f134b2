"""GitHub's own secret scanning payloads through the real webhook endpoint,
POST /api/v1/webhooks/github/{source} with a correct X-Hub-Signature-256, and a real rq worker.

The deliveries are GitHub's documented examples (tests/fixtures/github-secret-scanning/real_*,
tests/fixtures/README.md says where each comes from); the lifecycle test changes only their
``action`` and the alert fields GitHub documents for that action."""

import hashlib
import hmac
import io
import json
from pathlib import Path
from urllib.parse import urlencode

import django_rq
import pytest
from rq import SimpleWorker

from hygiene.models import Finding, ImportRun, Secret, SecretSighting, Source
from hygiene.services.imports import import_report

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "github-secret-scanning"
LOCATION_CREATED = HERE / "real_ghdocs_secret_scanning_alert_location_created.json"
REOPENED = HERE / "reopened.payload.json"
ORG_ALERTS = HERE / "real_ghdocs_list_org_alerts.json"
AIO = "aio_XXXXXXXXXXXXXXXXXXXXXXXXXXXX"
WEBHOOK_SECRET = "whsec-real-payloads-0123456789"


@pytest.fixture(autouse=True)
def empty_queues():
    for name in ("imports", "default"):
        django_rq.get_queue(name).empty()


@pytest.fixture
def github(db):
    return Source.objects.create(
        slug="github-real",
        name="GitHub (real payloads)",
        kind="scanner",
        default_format="github-secret-scanning",
        webhook_secret=WEBHOOK_SECRET,
    )


def work():
    SimpleWorker(
        [django_rq.get_queue("imports")], connection=django_rq.get_connection("imports")
    ).work(burst=True)


def deliver(client, source, body: bytes, event="secret_scanning_alert"):
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/api/v1/webhooks/github/{source.slug}",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": event},
    )
    work()
    return response


def as_alert_delivery(action: str, **alert_fields) -> bytes:
    """GitHub's location delivery as the secret_scanning_alert delivery of ``action``: the
    same alert and repository, without the location."""
    payload = json.loads(LOCATION_CREATED.read_bytes())
    del payload["location"]
    payload["action"] = action
    payload["alert"].update(alert_fields)
    return json.dumps(payload).encode()


def import_alert_list(source, **fields):
    """GitHub's documented organization list, its first alert as alert 191 of
    Codertocat/Hello-World (the deliveries' alert), open unless ``fields`` say otherwise."""
    alerts = json.loads(ORG_ALERTS.read_bytes())[:1]
    alerts[0].update({"state": "open", "resolution": None, "number": 191, **fields})
    alerts[0]["repository"]["full_name"] = "Codertocat/Hello-World"
    return import_report(
        source=source,
        format_key="github-secret-scanning",
        stream=io.BytesIO(json.dumps(alerts).encode()),
        via="cli",
    )


def test_github_docs_deliveries(client, github):
    # The location delivery GitHub documents, byte for byte as stored (under the alert event:
    # see the next test for its own event name).
    response = deliver(client, github, LOCATION_CREATED.read_bytes())
    assert response.status_code == 202, response.content
    assert response.json()["action"] == "created"
    finding = Finding.objects.get()
    assert finding.repo == "Codertocat/Hello-World"
    assert (finding.path, finding.line) == ("example/secrets.txt", 1)
    assert finding.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    assert finding.status == "open"
    # octokit's reopened example for the same alert (number 191 of Codertocat/Hello-World).
    response = deliver(client, github, REOPENED.read_bytes())
    assert response.status_code == 202, response.content
    assert Finding.objects.count() == 1 and Secret.objects.count() == 1
    assert Finding.objects.get().status in ("open", "triaged")
    assert ImportRun.objects.filter(via="webhook").count() == 2


def test_a_location_delivery_under_its_own_event_name(client, github):
    response = deliver(
        client, github, LOCATION_CREATED.read_bytes(), event="secret_scanning_alert_location"
    )
    assert response.status_code == 202, response.content
    assert "ignored" not in response.json()
    assert Finding.objects.get().path == "example/secrets.txt"


def test_a_form_encoded_delivery_is_read_from_its_payload_field(client, github):
    """A webhook set up with content type application/x-www-form-urlencoded: the JSON is the
    payload field; the signature is over the body as sent."""
    body = urlencode({"payload": LOCATION_CREATED.read_text()}).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/api/v1/webhooks/github/{github.slug}",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": "secret_scanning_alert_location",
        },
    )
    work()
    assert response.status_code == 202, response.content
    assert Finding.objects.get().path == "example/secrets.txt"
    tampered = client.post(
        f"/api/v1/webhooks/github/{github.slug}",
        data=body.replace(b"secrets.txt", b"secrets.TXT"),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "secret_scanning_alert"},
    )
    assert tampered.status_code == 401


# Each action GitHub documents for secret_scanning_alert, in the order an alert can go through
# them, with what the finding shows afterwards: (action, alert fields, status, resolution,
# validity).
LIFECYCLE = [
    ("created", {"validity": "unknown"}, "open", "", "unknown"),
    ("validated", {"validity": "active"}, "open", "", "valid"),
    ("publicly_leaked", {"validity": "active", "publicly_leaked": True}, "open", "", "valid"),
    ("assigned", {"validity": "active"}, "open", "", "valid"),
    ("unassigned", {"validity": "active"}, "open", "", "valid"),
    (
        "resolved",
        {"resolution": "wont_fix", "resolved_at": "2022-04-02T10:00:00Z"},
        "dismissed",
        "wont_fix",
        "valid",
    ),
    ("reopened", {"resolution": None, "resolved_at": None}, "open", "", "valid"),
    (
        "resolved",
        {"resolution": "used_in_tests", "resolved_at": "2022-04-03T10:00:00Z"},
        "dismissed",
        "used_in_tests",
        "valid",
    ),
    ("reopened", {"resolution": None, "resolved_at": None}, "open", "", "valid"),
    ("validated", {"validity": "inactive"}, "open", "", "invalid"),
    (
        "revoked",
        {"resolution": "revoked", "validity": "inactive"},
        "dismissed",
        "revoked",
        "invalid",
    ),
]


def test_every_action_of_an_alert_through_the_endpoint(client, github):
    seen, alert = [], {}
    for step, (action, fields, status, resolution, validity) in enumerate(LIFECYCLE):
        # Each of GitHub's deliveries has the alert's updated_at of that moment, so no two
        # are the same bytes (the same bytes again are a redelivery, not applied twice).
        # The alert's fields add up as GitHub keeps them (publicly_leaked stays true).
        alert.update(fields, updated_at=f"2022-04-{step + 2:02d}T12:00:00Z")
        response = deliver(client, github, as_alert_delivery(action, **alert))
        assert response.status_code == 202, (action, response.content)
        assert response.json()["action"] == action
        finding = Finding.objects.get()
        seen.append((action, finding.status, finding.resolution or "", finding.validity))
        if status == "open":  # a valid secret's finding may be triaged by the incident policy
            assert finding.status in ("open", "triaged"), seen
        elif status is not None:
            assert finding.status == status, seen
        assert (finding.resolution or "") == resolution, seen
        if validity is not None:
            assert finding.validity == validity, seen
        if step >= 2:  # publicly_leaked
            assert "The secret was also found in public." in finding.description, seen
    assert Finding.objects.count() == 1 and Secret.objects.count() == 1


@pytest.mark.parametrize(
    "resolution",
    ["false_positive", "wont_fix", "revoked", "used_in_tests", "pattern_deleted", "pattern_edited"],
)
def test_each_resolution_of_a_resolved_delivery(client, github, resolution):
    deliver(client, github, as_alert_delivery("created"))
    response = deliver(
        client,
        github,
        as_alert_delivery("resolved", resolution=resolution, resolved_at="2022-04-02T10:00:00Z"),
    )
    assert response.status_code == 202, response.content
    finding = Finding.objects.get()
    if resolution.startswith("pattern_"):
        # The custom pattern changed: closed, not triaged by anyone.
        assert (finding.status, finding.resolution) == ("resolved", "fixed")
    else:
        assert (finding.status, finding.resolution) == ("dismissed", resolution)


def test_deliveries_attach_to_the_alert_imported_with_its_value(client, github):
    """An organization's alert list (with the secret) first, then deliveries for the same
    alert: one finding and one secret, and the value is nowhere in what was stored."""
    import_alert_list(github)
    secret = Secret.objects.get()
    assert Finding.objects.get().secret_id == secret.pk
    for action, fields in [
        ("validated", {"validity": "active"}),
        ("resolved", {"resolution": "false_positive", "resolved_at": "2022-04-02T10:00:00Z"}),
    ]:
        response = deliver(client, github, as_alert_delivery(action, **fields))
        assert response.status_code == 202, response.content
    finding = Finding.objects.get()
    assert Secret.objects.get().pk == secret.pk  # the delivery's stand-in was dropped
    assert finding.secret_id == secret.pk
    assert (finding.status, finding.resolution) == ("dismissed", "false_positive")
    assert finding.validity == "valid"
    for row in (*Finding.objects.values(), *Secret.objects.values(), *ImportRun.objects.values()):
        assert AIO not in json.dumps(row, default=str)


def test_a_location_delivery_for_a_wiki_page_says_where(client, github):
    payload = json.loads(LOCATION_CREATED.read_bytes())
    payload["location"] = {
        "type": "wiki_commit",
        "details": {
            "path": "/example/Home.md",
            "start_line": 1,
            "end_line": 1,
            "start_column": 1,
            "end_column": 64,
            "blob_sha": "af5626b4a114abcb82d63db7c8082c3c4756e51b",
            "page_url": "https://github.com/octocat/Hello-World/wiki/Home/302c0b7e200761c9dd9b57e57db540ee0b4293a5",
            "commit_sha": "302c0b7e200761c9dd9b57e57db540ee0b4293a5",
            "commit_url": "https://github.com/octocat/Hello-World/wiki/_compare/302c0b7e200761c9dd9b57e57db540ee0b4293a5",
        },
    }
    response = deliver(client, github, json.dumps(payload).encode())
    assert response.status_code == 202, response.content
    finding = Finding.objects.get()
    assert finding.path == "example/Home.md"
    assert "the repository's wiki" in finding.description


def test_a_location_delivery_fills_in_an_alert_known_without_a_place(client, github):
    """An alert first known from a delivery without a location (created, validated…) takes
    the place of the first location delivery; a later one's place doesn't move it."""
    deliver(client, github, as_alert_delivery("created", updated_at="2022-04-01T12:00:00Z"))
    finding = Finding.objects.get()
    assert (finding.path, finding.line, finding.commit) == ("", None, "")
    deliver(client, github, LOCATION_CREATED.read_bytes(), event="secret_scanning_alert_location")
    finding.refresh_from_db()
    assert (finding.path, finding.line) == ("example/secrets.txt", 1)
    assert finding.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    later = json.loads(LOCATION_CREATED.read_bytes())
    later["location"]["details"].update(path="/config/other.env", start_line=7)
    deliver(client, github, json.dumps(later).encode(), event="secret_scanning_alert_location")
    finding.refresh_from_db()
    assert (finding.path, finding.line) == ("example/secrets.txt", 1)


def test_a_location_delivery_keeps_what_the_alert_said(client, github):
    """A location delivery's alert says nothing of validity or push protection: the severity
    a live secret raised and the alert's flags stay."""
    deliver(
        client,
        github,
        as_alert_delivery(
            "validated",
            validity="active",
            push_protection_bypassed=True,
            updated_at="2022-04-01T12:00:00Z",
        ),
    )
    finding = Finding.objects.get()
    raised = finding.severity
    assert finding.validity == "valid" and "Push protection was bypassed." in finding.description
    deliver(client, github, LOCATION_CREATED.read_bytes(), event="secret_scanning_alert_location")
    finding.refresh_from_db()
    assert (finding.severity, finding.validity) == (raised, "valid")
    assert "Push protection was bypassed." in finding.description


def test_the_alert_list_reopens_what_github_dismissed_not_what_a_person_did(client, github, lead):
    """GitHub's list says an alert is open again after GitHub had closed it: the dismissal
    that came from GitHub is undone, with a timeline entry for each change; one a person
    made in Leakline stays."""
    from hygiene.services.triage import findings_dismiss
    from incidents.models import TimelineEvent

    def send(state, resolution=None, at="2022-04-01T12:00:00Z"):
        # A live one's dismissal would take two leads.
        import_alert_list(
            github, state=state, resolution=resolution, updated_at=at, validity="unknown"
        )

    send("resolved", "used_in_tests")
    finding = Finding.objects.get()
    assert (finding.status, finding.resolution) == ("dismissed", "used_in_tests")
    send("open", at="2022-04-02T12:00:00Z")
    finding.refresh_from_db()
    assert finding.status in ("open", "triaged") and finding.resolution == ""
    send("resolved", "false_positive", at="2022-04-03T12:00:00Z")
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "false_positive")
    messages = list(
        TimelineEvent.objects.filter(finding=finding)
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert "Reopened in the reporting tool" in messages
    assert "Dismissed in the reporting tool: false positive" in messages
    # A person's own dismissal stays whatever GitHub's list says.
    send("open", at="2022-04-04T12:00:00Z")
    finding.refresh_from_db()
    findings_dismiss(
        findings_qs=Finding.objects.filter(pk=finding.pk),
        by=lead,
        reason="accepted_risk",
        comment="Vendor sandbox",
    )
    send("open", at="2022-04-05T12:00:00Z")
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "accepted_risk")
    # GitHub closing it as its pattern changed, then listing it open again: its reopening.
    other = dict(number=193)
    import_alert_list(github, state="resolved", resolution="pattern_edited", **other)
    closed = Finding.objects.get(tool_ids__number="193")
    assert (closed.status, closed.resolution) == ("resolved", "fixed")
    import_alert_list(github, state="open", updated_at="2022-04-06T12:00:00Z", **other)
    assert TimelineEvent.objects.filter(
        finding=closed, kind="finding.reopened", message="Reopened in the reporting tool"
    ).exists()


def test_an_alert_first_known_from_a_webhook_takes_its_value_from_the_alert_list(client, github):
    """Deliveries never carry the value: the alert's secret is a stand-in until the list of
    alerts brings it. Then it is the value's secret (one secret, the one gitleaks finds too),
    and its incident stays with it."""
    from hygiene.fingerprints import fingerprint
    from incidents.models import Incident

    deliver(
        client,
        github,
        as_alert_delivery("created", validity="active", updated_at="2022-04-01T12:00:00Z"),
    )
    stand_in = Secret.objects.get()
    assert stand_in.preview == "" and Incident.objects.filter(secrets=stand_in).exists()
    SecretSighting.objects.all().delete()  # a stand-in without one: the list sights it
    import_alert_list(github)
    secret = Secret.objects.get()
    assert secret.pk == stand_in.pk and secret.fingerprint == fingerprint(AIO)
    # Sighted as the list reported it (the value's secret it briefly made went, and its row).
    assert SecretSighting.objects.get().secret_id == secret.pk
    assert secret.last_seen_at == ImportRun.objects.latest("pk").started_at
    assert secret.preview.startswith("aio_") and Finding.objects.get().secret_id == secret.pk
    assert Incident.objects.filter(secrets=secret).count() == 1
    # A second alert of another repository, first known from a delivery too, whose value a
    # scanner had found already: its finding joins that secret.
    scanner = Source.objects.create(slug="gl", name="gitleaks", kind="scanner")
    other = "aio_" + "Y" * 28
    from tests.hygiene import reports

    import_report(
        source=scanner,
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": other}])),
        via="cli",
    )
    deliver(
        client, github, as_alert_delivery("created", number=192, updated_at="2022-04-05T12:00:00Z")
    )
    import_alert_list(github, number=192, secret=other)
    known = Secret.objects.get(fingerprint=fingerprint(other))
    assert known.finding_count == 2 and Finding.objects.filter(secret=known).count() == 2
    assert Secret.objects.count() == 2  # the second stand-in is gone
    # ...with its sighting: one each, no other.
    assert sorted(SecretSighting.objects.values_list("secret_id", flat=True)) == sorted(
        Secret.objects.values_list("pk", flat=True)
    )
    for row in (*Finding.objects.values(), *Secret.objects.values()):
        assert AIO not in json.dumps(row, default=str) and other not in json.dumps(row, default=str)


def test_a_late_delivery_saying_open_does_not_undo_githubs_dismissal(client, github):
    """Deliveries may arrive out of order: only GitHub's "reopened" (or its list) reopens."""
    deliver(client, github, as_alert_delivery("created", updated_at="2022-04-01T12:00:00Z"))
    deliver(
        client,
        github,
        as_alert_delivery(
            "resolved",
            state="resolved",
            resolution="false_positive",
            updated_at="2022-04-03T12:00:00Z",
        ),
    )
    deliver(
        client,
        github,
        as_alert_delivery(
            "validated", state="open", validity="inactive", updated_at="2022-04-02T12:00:00Z"
        ),
    )
    finding = Finding.objects.get()
    assert (finding.status, finding.resolution) == ("dismissed", "false_positive")


def test_a_place_filled_in_later_is_searchable(client, github, lead):
    from django.http import QueryDict

    from hygiene.filters import parse_filter
    from hygiene.selectors import findings_visible_to

    deliver(client, github, as_alert_delivery("created", updated_at="2022-04-01T12:00:00Z"))
    deliver(client, github, LOCATION_CREATED.read_bytes(), event="secret_scanning_alert_location")
    ff = parse_filter(QueryDict("q=secrets.txt"), user=lead)
    assert list(ff.apply(findings_visible_to(lead))) == [Finding.objects.get()]


def test_a_value_two_alerts_share_joins_them_though_one_was_a_stand_in(client, github):
    """The same token leaked in two repositories is two alerts: one first known from a
    delivery, the other new in the list that brings the value. One secret, both findings."""
    from hygiene.fingerprints import fingerprint

    deliver(client, github, as_alert_delivery("created", updated_at="2022-04-01T12:00:00Z"))
    alerts = json.loads(ORG_ALERTS.read_bytes())[:1]
    alerts[0].update(state="open", resolution=None, number=191)
    alerts[0]["repository"]["full_name"] = "Codertocat/Hello-World"
    second = json.loads(json.dumps(alerts[0]))
    second.update(number=7)
    second["repository"]["full_name"] = "Codertocat/Other"
    import_report(
        source=github,
        format_key="github-secret-scanning",
        stream=io.BytesIO(json.dumps([alerts[0], second]).encode()),
        via="cli",
    )
    assert Finding.objects.count() == 2
    (secret,) = Secret.objects.filter(findings__isnull=False).distinct()
    assert secret.fingerprint == fingerprint(AIO)
    assert set(Finding.objects.values_list("secret_id", flat=True)) == {secret.pk}
    assert Secret.objects.get(pk=secret.pk).finding_count == 2


def test_two_stand_ins_of_one_value_become_one_secret(client, github):
    """The same token in two repositories, both alerts first known from deliveries: the list
    that brings the value makes them one secret (the second used to fail the import)."""
    from hygiene.fingerprints import fingerprint

    for number, repo in ((191, "Codertocat/Hello-World"), (7, "Codertocat/Other")):
        payload = json.loads(as_alert_delivery("created", number=number))
        payload["repository"]["full_name"] = repo
        payload["alert"]["updated_at"] = f"2022-04-01T12:00:{number % 60:02d}Z"
        deliver(client, github, json.dumps(payload).encode())
    assert Secret.objects.count() == 2
    alerts = json.loads(ORG_ALERTS.read_bytes())[:1]
    alerts[0].update(state="open", resolution=None, number=191)
    alerts[0]["repository"]["full_name"] = "Codertocat/Hello-World"
    second = json.loads(json.dumps(alerts[0]))
    second.update(number=7)
    second["repository"]["full_name"] = "Codertocat/Other"
    run = import_report(
        source=github,
        format_key="github-secret-scanning",
        stream=io.BytesIO(json.dumps([alerts[0], second]).encode()),
        via="cli",
    )
    assert run.status == "succeeded"
    (secret,) = Secret.objects.all()
    assert secret.fingerprint == fingerprint(AIO)
    assert secret.finding_count == 2 and Finding.objects.filter(secret=secret).count() == 2


def found_by_a_scanner(value: str) -> Secret:
    """The secret a gitleaks source finds ``value`` as (another scanner than GitHub)."""
    from tests.hygiene import reports

    scanner = Source.objects.create(slug="gl", name="gitleaks", kind="scanner")
    import_report(
        source=scanner,
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": value}])),
        via="cli",
    )
    return scanner.findings.get().secret


def valid_alert_first_delivered(client, github, known: Secret) -> Secret:
    """Alert 191 first known from a delivery saying it is valid: its stand-in secret (with the
    incident the policy opens for it), beside ``known``."""
    deliver(
        client,
        github,
        as_alert_delivery("created", validity="active", updated_at="2022-04-01T12:00:00Z"),
    )
    return Secret.objects.exclude(pk=known.pk).get()


def test_a_stand_in_with_an_incident_joins_the_known_secret_with_its_incident(client, github):
    """An alert first known from a delivery, valid (an incident opened for its stand-in),
    whose value another scanner had found: the list that brings the value moves the finding
    to that secret, and the incident and history with it; no secret is left without
    findings."""
    from hygiene.fingerprints import fingerprint
    from incidents.models import Incident, TimelineEvent

    known = found_by_a_scanner(AIO)
    stand_in = valid_alert_first_delivered(client, github, known)
    incident = Incident.objects.get(secrets=stand_in)
    import_alert_list(github)
    assert not Secret.objects.filter(pk=stand_in.pk).exists()
    assert Finding.objects.get(source=github).secret_id == known.pk
    assert set(incident.secrets.filter(incidentsecret__active=True)) == {known}
    known.refresh_from_db()
    assert known.fingerprint == fingerprint(AIO) and known.finding_count == 2
    assert not TimelineEvent.objects.filter(secret_id=stand_in.pk).exists()


def test_a_stand_in_whose_value_another_open_incident_tracks_hands_it_over(client, github):
    """Both the known secret and the delivery's stand-in have an open incident (one open
    incident per secret): the stand-in's incident keeps the secret as an inactive link and
    says which incident tracks it; the import succeeds."""
    from incidents.models import Incident, IncidentSecret, TimelineEvent
    from incidents.services import incident_open

    known = found_by_a_scanner(AIO)
    tracking = Incident.objects.filter(secrets=known).first() or incident_open(
        secrets=[known], opened_by=None, auto=True, actor_label="policy"
    )
    stand_in = valid_alert_first_delivered(client, github, known)
    other = Incident.objects.get(secrets=stand_in)
    run = import_alert_list(github)
    assert run.status == "succeeded", run.error
    assert not Secret.objects.filter(pk=stand_in.pk).exists()
    assert IncidentSecret.objects.get(secret=known, active=True).incident_id == tracking.pk
    assert IncidentSecret.objects.get(incident=other).secret_id == known.pk
    said = TimelineEvent.objects.get(incident=other, kind="secret_merged").message
    assert f"INC-{tracking.pk}" in said


def test_a_delivery_over_5_mb_is_read_and_one_over_its_limit_is_413(client, github, monkeypatch):
    """GitHub sends up to 25 MB; Django's request.body refuses more than 5 MB
    (DATA_UPLOAD_MAX_MEMORY_SIZE): the delivery is read as a stream with its own limit."""
    from hygiene.api import webhooks
    from tests.hygiene.test_import_api import wsgi_post

    payload = json.loads(LOCATION_CREATED.read_bytes())
    payload["padding"] = "x" * (6 * 1024 * 1024)
    body = json.dumps(payload).encode()
    response = deliver(client, github, body)
    assert response.status_code == 202, response.content[:500]
    assert Finding.objects.get().path == "example/secrets.txt"

    monkeypatch.setattr(webhooks, "MAX_DELIVERY_BYTES", 1024 * 1024)
    too_large = {"detail": "the delivery is larger than 1048576 bytes", "location": "body"}
    response = deliver(client, github, body)
    assert response.status_code == 413 and response.json() == too_large
    # Streamed without a Content-Length (chunked, under gunicorn): cut while reading.
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    status, _, answer = wsgi_post(
        f"/api/v1/webhooks/github/{github.slug}",
        body,
        server_ends_input=True,
        HTTP_X_HUB_SIGNATURE_256=signature,
        HTTP_X_GITHUB_EVENT="secret_scanning_alert",
    )
    assert status == 413 and answer == too_large
    assert ImportRun.objects.count() == 1


def test_a_repositorys_alert_list_says_nothing_of_the_organizations_other_repositories(github):
    """An organization's list, then one repository's (GET /repos/{o}/{r}/secret-scanning/
    alerts) as a full scan: the other repositories' findings are not missing; the listed
    repository's alert it no longer lists is."""
    (template,) = json.loads(ORG_ALERTS.read_bytes())

    def alert(number: int, repo: str, secret: str) -> dict:
        item = json.loads(json.dumps(template))
        item.update(number=number, state="open", resolution=None, secret=secret)
        item["repository"]["full_name"] = repo
        return item

    def send(alerts: list[dict]):
        return import_report(
            source=github,
            format_key="github-secret-scanning",
            stream=io.BytesIO(json.dumps(alerts).encode()),
            via="cli",
            full_scan=True,
        )

    org = [
        alert(1, "acme/api", "aio_" + "A" * 28),
        alert(2, "acme/api", "aio_" + "B" * 28),
        alert(1, "acme/web", "aio_" + "C" * 28),
    ]
    send(org)
    run = send([org[0]])  # acme/api's list: alert 2 is gone from it
    assert run.missing == 1
    missing = Finding.objects.filter(source=github, missing_since__isnull=False)
    assert [(f.repo, f.tool_ids["number"]) for f in missing] == [("acme/api", "2")]
