"""POST /api/v1/imports and the GitHub webhook: 202 + a real rq worker, errors as JSON."""

import hashlib
import hmac
import json

import django_rq
import pytest
from rq import SimpleWorker

from hygiene.fingerprints import fingerprint
from hygiene.models import Finding, ImportRun, Secret, Source, SourceToken, UserToken
from tests.hygiene import reports
from tests.hygiene.test_imports import AWS_KEY, GH_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


def post(client, token, data: bytes, query="format=gitleaks", **headers):
    return client.post(
        f"/api/v1/imports?{query}",
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", **headers},
    )


def work(queue="imports"):
    return SimpleWorker(
        [django_rq.get_queue(queue)], connection=django_rq.get_connection(queue)
    ).work(burst=True)


@pytest.fixture(autouse=True)
def empty_queues():
    for name in ("imports", "default"):
        django_rq.get_queue(name).empty()


def test_an_import_is_accepted_then_reconciled_by_the_worker(client, source, source_token):
    data = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN, "rule": "github-pat"}])
    response = post(client, source_token, data)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["received"] == 2
    assert body["url"] == f"/api/v1/imports/{body['id']}"
    assert not Finding.objects.exists()
    # While it waits, the raw report is nowhere in Redis: the job holds only the run's id.
    redis = django_rq.get_connection("imports")
    for key in redis.keys("*"):
        dumped = redis.dump(key) or b""
        assert AWS_KEY.encode() not in dumped and GH_TOKEN.encode() not in dumped
    work()
    status = client.get(body["url"], headers={"Authorization": f"Bearer {source_token}"})
    assert status.status_code == 200
    assert status.json()["status"] == "succeeded"
    assert status.json()["created"] == 2
    assert Secret.objects.filter(fingerprint=fingerprint(AWS_KEY)).exists()
    run = ImportRun.objects.get()
    assert run.token.prefix == source_token[:12] and run.via == "api"
    assert SourceToken.objects.get().last_used_at is not None


def test_the_same_payload_returns_the_earlier_run(client, source, source_token):
    data = reports.gitleaks([{"secret": AWS_KEY}])
    first = post(client, source_token, data).json()
    again = post(client, source_token, data)
    assert again.status_code == 202
    assert again.json()["id"] == first["id"] and again.json()["duplicate"] is True
    assert ImportRun.objects.count() == 1


def test_multipart_uploads_work_too(client, source, source_token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("gitleaks.json", reports.gitleaks([{"secret": AWS_KEY}]))
    response = client.post(
        "/api/v1/imports?format=gitleaks",
        {"file": upload},
        headers={"Authorization": f"Bearer {source_token}"},
    )
    assert response.status_code == 202, response.content
    work()
    assert Finding.objects.count() == 1


def test_without_or_with_a_bad_token_it_is_401(client, source):
    data = reports.gitleaks([{"secret": AWS_KEY}])
    anonymous = client.post("/api/v1/imports?format=gitleaks", data, "application/json")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "no token: send one as Authorization: Bearer <token>"}
    basic = client.post(
        "/api/v1/imports?format=gitleaks", data, "application/json", HTTP_AUTHORIZATION="Basic eA=="
    )
    assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]
    response = post(client, "lls_not-a-real-token", data)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "unknown token"}


def test_revoked_expired_or_inactive_tokens_are_refused_saying_why(client, source, source_token):
    from datetime import timedelta

    from django.utils import timezone

    SourceToken.objects.update(revoked_at=timezone.now())
    refused = post(client, source_token, b"[]")
    assert refused.status_code == 401 and refused.json()["detail"] == "this token was revoked"
    SourceToken.objects.update(revoked_at=None, expires_at=timezone.now() - timedelta(days=1))
    refused = post(client, source_token, b"[]")
    assert refused.status_code == 401 and "this token expired on " in refused.json()["detail"]
    SourceToken.objects.update(expires_at=None)
    Source.objects.filter(pk=source.pk).update(is_active=False)
    refused = post(client, source_token, b"[]")
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"this token's source ({source.slug}) is inactive"


def test_a_token_of_one_source_cannot_import_into_another(client, source, source_token):
    Source.objects.create(slug="prod-scanner", name="prod", kind="scanner")
    response = post(client, source_token, b"[]", query="format=gitleaks&source=prod-scanner")
    assert response.status_code == 403
    assert "belongs to source 'gitleaks-ci'" in response.json()["detail"]
    assert not ImportRun.objects.exists()


def test_a_personal_token_cannot_import(client, source, lead):
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=lead, prefix=prefix, token_hash=digest)
    response = post(client, raw, b"[]")
    assert response.status_code == 403


def test_unknown_format_is_415_and_too_large_is_413(client, source, source_token, settings):
    response = post(client, source_token, b"[]", query="format=nessus")
    assert response.status_code == 415
    assert "unknown format 'nessus'" in response.json()["detail"]
    settings.LEAKLINE_MAX_REPORT_BYTES = 100
    big = reports.gitleaks([{"secret": AWS_KEY}] * 5)
    response = post(client, source_token, big)
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b'[{"RuleID": "aws", "Secret": ', "truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b'{"runs": []}', ""),
    ],
)
def test_unreadable_reports_are_400_with_what_and_where(
    client, source, source_token, data, fragment
):
    response = post(client, source_token, data)
    assert response.status_code == 400
    body = response.json()
    assert fragment in body["detail"].lower()
    assert body["import_id"] == ImportRun.objects.get().pk
    assert ImportRun.objects.get().status == "failed"
    assert not Finding.objects.exists() and not Secret.objects.exists()


# -- GitHub webhook ------------------------------------------------------------------------


@pytest.fixture
def github(db):
    return Source.objects.create(
        slug="github",
        name="GitHub",
        kind="scanner",
        default_format="github-secret-scanning",
        webhook_secret="whsec-test-1234567890",
    )


def deliver(client, source, payload: dict, *, secret=None, event="secret_scanning_alert"):
    body = json.dumps(payload).encode()
    key = (secret or source.webhook_secret).encode()
    signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return client.post(
        f"/api/v1/webhooks/github/{source.slug}",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": event},
    )


def alert_payload(action: str, resolution=None, state="open", validity="unknown") -> dict:
    return {
        "action": action,
        "alert": {
            "number": 42,
            "state": state,
            "secret_type": "github_personal_access_token",
            "secret_type_display_name": "GitHub Personal Access Token",
            "resolution": resolution,
            "resolved_at": "2026-11-20T10:00:00Z" if resolution else None,
            "html_url": "https://github.com/acme/payments/security/secret-scanning/42",
            "created_at": "2026-11-19T08:00:00Z",
            "validity": validity,
        },
        "repository": {
            "full_name": "acme/payments",
            "html_url": "https://github.com/acme/payments",
        },
    }


def test_webhook_deliveries_create_resolve_and_reopen_an_alert(client, github):
    assert deliver(client, github, alert_payload("created")).status_code == 202
    work()
    finding = Finding.objects.get()
    assert finding.status == "open" and finding.repo == "acme/payments"
    assert finding.validity == "unknown"
    resolved = deliver(client, github, alert_payload("resolved", "used_in_tests", "resolved"))
    work()
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "used_in_tests")
    deliver(client, github, alert_payload("reopened"))
    work()
    finding.refresh_from_db()
    assert finding.status == "open"
    assert Finding.objects.count() == 1 and Secret.objects.count() == 1
    # The "resolved" delivery redelivered later is an old event: a duplicate, not applied again.
    runs = ImportRun.objects.count()
    again = deliver(client, github, alert_payload("resolved", "used_in_tests", "resolved"))
    assert again.json()["import_id"] == resolved.json()["import_id"]
    work()
    finding.refresh_from_db()
    assert finding.status == "open" and ImportRun.objects.count() == runs


def test_webhook_signatures_are_checked(client, github):
    response = deliver(client, github, alert_payload("created"), secret="wrong-secret")
    assert response.status_code == 401
    assert not ImportRun.objects.exists()
    assert deliver(client, github, {}, event="ping").json() == {"ok": True, "event": "ping"}


def test_a_webhook_that_is_not_an_alert_is_400(client, github):
    response = deliver(client, github, {"action": "created", "zen": "hi"})
    assert response.status_code == 400
    assert "secret_scanning_alert" in response.json()["detail"]


def test_a_parameter_that_does_not_validate_is_422_in_the_apis_error_shape(
    client, source, source_token
):
    # Every API error is {"detail", "location"}: a bad parameter too, naming it, and the
    # value sent is not echoed back.
    response = post(client, source_token, b"[]", query="format=gitleaks&full_scan=maybe")
    assert response.status_code == 422
    body = response.json()
    assert body["location"] == "query.full_scan"
    assert body["detail"].startswith("full_scan: Input should be a valid boolean")
    assert body["errors"] == [{"location": "query.full_scan", "detail": body["detail"][11:]}]
    assert "maybe" not in response.content.decode()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {source_token}"}
    missing = client.get("/api/v1/imports/abc", **auth)
    assert missing.status_code == 422 and missing.json()["location"] == "path.run_id"
