"""POST /api/v1/imports and the GitHub webhook: 202 + a real rq worker, errors as JSON."""

import codecs
import gzip
import hashlib
import hmac
import json

import django_rq
import pytest
from rq import SimpleWorker

from hygiene.fingerprints import fingerprint
from hygiene.models import (
    Finding,
    ImportRun,
    RotationEvent,
    Secret,
    Source,
    SourceToken,
    UserToken,
)
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


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_report_saved_as_utf16_by_windows_powershell_imports(
    client, source, source_token, encoding
):
    """Windows PowerShell 5.1's ``gitleaks detect ... > report.json`` writes UTF-16 with a BOM:
    the same findings as the UTF-8 report, and the same bytes again are the same run."""
    findings = [{"secret": AWS_KEY, "file": "config/größe.py"}, {"secret": GH_TOKEN}]
    text = reports.gitleaks(findings).decode()
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    data = bom + text.replace("\n", "\r\n").encode(encoding)
    response = post(client, source_token, data)
    assert response.status_code == 202, response.content
    work()
    run = ImportRun.objects.get()
    assert (run.status, run.created, run.payload_bytes) == ("succeeded", 2, len(data))
    assert set(Finding.objects.values_list("path", flat=True)) == {
        "config/größe.py",
        "config/settings_1.py",
    }
    assert Secret.objects.filter(fingerprint=fingerprint(AWS_KEY)).exists()
    assert post(client, source_token, data).json()["id"] == run.pk


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
    assert anonymous.json() == {
        "detail": "no token: send one as Authorization: Bearer <token>",
        "location": "header.Authorization",
    }
    # The scheme that would be accepted (RFC 9110), for clients that negotiate.
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="Leakline API"'
    basic = client.post(
        "/api/v1/imports?format=gitleaks", data, "application/json", HTTP_AUTHORIZATION="Basic eA=="
    )
    assert basic.status_code == 401 and "Bearer" in basic.json()["detail"]
    response = post(client, "lls_not-a-real-token", data)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "unknown token", "location": "header.Authorization"}
    assert response["WWW-Authenticate"].startswith("Bearer ")


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


def test_only_rotator_and_auditor_sources_report_rotation_events(client, source, source_token):
    """An event completes the revoke and rotate steps of any incident whose secret it names
    (an AWS key id is no secret): a scanner's token, in every CI job, must not send them."""
    events = {
        "version": 1,
        "events": [
            {
                "refs": [{"kind": "aws-access-key-id", "value": AWS_KEY}],
                "action": "revoked",
                "at": 1714564800,
            },
        ],
    }
    data = json.dumps(events).encode()
    response = post(client, source_token, data, query="format=leakline")
    assert response.status_code == 403
    body = response.json()
    assert "rotator or auditor source" in body["detail"]
    assert (body["location"], body["import_id"]) == ("event 1", ImportRun.objects.get().pk)
    assert ImportRun.objects.get().status == "failed"
    assert not RotationEvent.objects.exists()
    # A scanner's source may still send an empty rotator log (no events: nothing to refuse).
    response = post(client, source_token, b'{"Records": []}', query="format=aws-cloudtrail")
    assert response.status_code == 202
    # The rotator's own source may.
    rotator = Source.objects.create(slug="rotations", name="rotations", kind="rotator")
    raw, prefix, digest = SourceToken.generate()
    SourceToken.objects.create(source=rotator, prefix=prefix, token_hash=digest, name="lambda")
    response = post(client, raw, data, query="format=leakline")
    assert response.status_code == 202
    assert RotationEvent.objects.get().action == "revoked"


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


def test_a_delivery_whose_rows_cant_be_staged_is_a_400_with_its_failed_run(
    client, github, monkeypatch
):
    """Whatever staging refuses (as an import's report would be) answers as the imports API
    does, with the failed run, not a 500 page."""
    from hygiene.importers import ImportFormatError
    from hygiene.services.staging import Stager

    def refuse(self, obs):
        raise ImportFormatError("this alert can't be stored", "$.alert")

    monkeypatch.setattr(Stager, "add_observation", refuse)
    response = deliver(client, github, alert_payload("created"))
    assert response.status_code == 400
    run = ImportRun.objects.get(source=github)
    assert response.json() == {
        "detail": "this alert can't be stored",
        "location": "$.alert",
        "import_id": run.pk,
    }
    assert (run.status, run.error) == ("failed", "this alert can't be stored")


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


def test_the_openapi_schema_describes_the_report_body_and_parameters(client, manager):
    client.force_login(manager)
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/imports"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    content = body["content"]
    assert set(content) == {"application/octet-stream", "application/json", "multipart/form-data"}
    assert content["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    form = content["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["format"] == "binary"
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"format", "source", "full_scan"}
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert "`gitleaks`" in params["format"]["description"]
    assert "token's own source" in params["source"]["description"]
    assert {"type": "boolean"} in params["full_scan"]["schema"]["anyOf"]


# -- Bodies without a Content-Length (chunked) ---------------------------------------------


def wsgi_post(path: str, body: bytes, *, server_ends_input: bool, query="", **environ):
    """POST through Django's WSGI handler as a server hands a chunked request over: no
    CONTENT_LENGTH, Transfer-Encoding: chunked, and — gunicorn — ``wsgi.input_terminated``
    (the input ends where the body does) or — runserver — not."""
    import io
    import sys

    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **environ,
    }
    if server_ends_input:
        env["wsgi.input_terminated"] = True
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's database connection outlives the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(env, start_response)
        content = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], json.loads(content)


def multipart(report: bytes, boundary="leakline-test-boundary", field="file") -> tuple[bytes, str]:
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="report.json"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    body += report + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_chunked_report_is_read_to_its_end_when_the_server_ends_the_input(source, source_token):
    # gunicorn decodes a chunked body and says the input ends with it; Django would read
    # 0 bytes (no Content-Length) and fail the import as "the report is empty".
    data = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN, "rule": "github-pat"}])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {source_token}"}
    status, _, body = wsgi_post(
        "/api/v1/imports", data, server_ends_input=True, query="format=gitleaks", **auth
    )
    assert status == 202, body
    assert body["received"] == 2 and body["status"] == "queued"
    # Multipart too (Django's parser takes a missing length for an empty body).
    data = reports.gitleaks([{"secret": AWS_KEY}])
    upload, content_type = multipart(data)
    status, _, body = wsgi_post(
        "/api/v1/imports",
        upload,
        server_ends_input=True,
        query="format=gitleaks",
        CONTENT_TYPE=content_type,
        **auth,
    )
    assert status == 202, body
    assert body["received"] == 1
    work()
    assert Finding.objects.count() == 2
    assert not ImportRun.objects.filter(status="failed").exists()


@pytest.mark.parametrize("as_multipart", [False, True])
def test_a_chunked_report_over_the_limit_is_413(source, source_token, settings, as_multipart):
    settings.LEAKLINE_MAX_REPORT_BYTES = 300
    data = reports.gitleaks([{"secret": AWS_KEY}] * 5)
    environ = {"HTTP_AUTHORIZATION": f"Bearer {source_token}"}
    if as_multipart:
        data, environ["CONTENT_TYPE"] = multipart(data)
    status, _, body = wsgi_post(
        "/api/v1/imports", data, server_ends_input=True, query="format=gitleaks", **environ
    )
    assert status == 413, body
    assert body == {
        "detail": "the report is larger than the limit of 300 bytes",
        "location": "body",
    }
    assert not ImportRun.objects.exists()


def test_a_chunked_report_the_server_cannot_read_is_411_and_not_recorded(source, source_token):
    # runserver hands a chunked body over undecoded, cut at 0 bytes: ask for a length, don't
    # record an empty report as a failed import.
    data = reports.gitleaks([{"secret": AWS_KEY}])
    status, headers, body = wsgi_post(
        "/api/v1/imports",
        data,
        server_ends_input=False,
        query="format=gitleaks",
        HTTP_AUTHORIZATION=f"Bearer {source_token}",
    )
    assert status == 411
    assert body["detail"].startswith("send a Content-Length")
    assert body["location"] == "header.Content-Length"
    # No Content-Length on the answer: runserver closes the connection instead of reading the
    # unread body as the next request.
    assert "Content-Length" not in headers
    assert not ImportRun.objects.exists()


def test_chunked_uploads_under_gunicorn_and_runserver(source, source_token):
    """The real servers: gunicorn as docker-compose runs it reads a chunked report (and still
    applies the size limit); runserver answers 411."""
    import http.client
    import subprocess
    import sys
    from pathlib import Path

    from tests.test_production import ROOT, app_env, free_port, health_when_up

    def chunked_post(port: int, data: bytes):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(
                "POST",
                "/api/v1/imports?format=gitleaks",
                body=(data[i : i + 100] for i in range(0, len(data), 100)),  # no length
                headers={"Authorization": f"Bearer {source_token}"},
            )
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    data = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN, "rule": "github-pat"}])
    big = reports.gitleaks([{"secret": AWS_KEY, "file": f"f{i}.py"} for i in range(40)])
    port = free_port()
    env = {
        **app_env(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "LEAKLINE_MAX_REPORT_BYTES": str(len(big) - 1),
    }
    bin_dir = Path(sys.executable).parent
    command = [bin_dir / "gunicorn", "hygiene.wsgi:application", "-c", "hygiene/gunicorn.conf.py"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert health_when_up(port, proc) is not None
        status, body = chunked_post(port, data)
        assert status == 202, body
        assert body["received"] == 2
        status, body = chunked_post(port, big)
        assert status == 413, body
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert ImportRun.objects.count() == 1

    port = free_port()
    runserver = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        runserver, cwd=ROOT, env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert health_when_up(port, proc) is not None
        status, body = chunked_post(port, reports.gitleaks([{"secret": GH_TOKEN}]))
        assert status == 411, body
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert ImportRun.objects.count() == 1


# -- Multipart: large uploads spool to no named file; malformed bodies are 400 -------------


def test_a_large_multipart_upload_never_waits_in_a_named_file(
    client, source, source_token, settings, monkeypatch, tmp_path
):
    """An upload over FILE_UPLOAD_MAX_MEMORY_SIZE goes to disk: to a file without a name (in
    LEAKLINE_SPOOL_DIR), not Django's /tmp/tmpXXXX.upload.json that a killed worker leaves
    behind with the raw report in it."""
    import os
    import tempfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from hygiene.api import imports

    spool = tmp_path / "spool"
    spool.mkdir()
    settings.LEAKLINE_SPOOL_DIR = str(spool)
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # Django's handler's temp dir too
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = reports.gitleaks([{"secret": AWS_KEY, "file": f"f{i}.py"} for i in range(20)])
    assert len(data) > 1000
    seen = {}
    real_import = imports.import_report

    def import_report(**kwargs):
        # The upload was received and is still open: nothing in the spool dir has a name.
        seen["files"] = os.listdir(spool)
        seen["name"] = kwargs["stream"].file.name
        return real_import(**kwargs)

    monkeypatch.setattr(imports, "import_report", import_report)
    response = client.post(
        "/api/v1/imports?format=gitleaks",
        {"file": SimpleUploadedFile("gitleaks.json", data)},
        headers={"Authorization": f"Bearer {source_token}"},
    )
    assert response.status_code == 202, response.content
    assert response.json()["received"] == 20
    assert seen["files"] == []
    assert isinstance(seen["name"], int)  # a descriptor: the file has no path
    assert os.listdir(spool) == []


def test_a_large_upload_on_the_sources_page_never_waits_in_a_named_file(
    client, source, lead, settings, monkeypatch, tmp_path
):
    import os
    import tempfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from hygiene.services import imports as service

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = reports.gitleaks([{"secret": AWS_KEY, "file": f"f{i}.py"} for i in range(20)])
    seen = {}
    real_spool = service.spool

    def spool(stream, *args, **kwargs):
        seen["files"] = os.listdir(tmp_path)
        return real_spool(stream, *args, **kwargs)

    monkeypatch.setattr(service, "spool", spool)
    client.force_login(lead)
    response = client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("report.json", data)},
    )
    assert response.status_code == 302
    assert ImportRun.objects.get().received == 20
    assert seen["files"] == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # curl -H 'Content-Type: multipart/form-data' --data-binary @report.json: no boundary
        ("multipart/form-data", reports.gitleaks([{"secret": AWS_KEY}])),
        ("multipart/form-data; boundary=\x7f", b"--\x7f\r\n"),
    ],
)
def test_a_malformed_multipart_body_is_400_not_500(
    client, source, source_token, content_type, body
):
    response = client.post(
        "/api/v1/imports?format=gitleaks",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {source_token}"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed multipart body: ")
    assert response.json()["location"] == "body"
    assert not ImportRun.objects.exists()


def test_a_multipart_body_nothing_can_be_read_from_says_why_and_one_without_file_says_where(
    client, source, source_token
):
    report = reports.gitleaks([{"secret": AWS_KEY}])
    upload, _ = multipart(report, boundary="sent")
    cut_short = upload[: upload.rindex(b"--sent--")]  # no closing boundary
    for body, declared in ((upload, "declared"), (cut_short, "sent"), (report, "sent")):
        response = client.post(
            "/api/v1/imports?format=gitleaks",
            data=body,
            content_type=f"multipart/form-data; boundary={declared}",
            headers={"Authorization": f"Bearer {source_token}"},
        )
        assert response.status_code == 400
        assert response.json()["detail"].startswith(
            "malformed multipart body: no part could be read (does its boundary match"
        )
        assert response.json()["location"] == "body"
    # Parts, but none named file: where the report goes.
    other, _ = multipart(report, boundary="sent", field="report")
    response = client.post(
        "/api/v1/imports?format=gitleaks",
        data=other,
        content_type="multipart/form-data; boundary=sent",
        headers={"Authorization": f"Bearer {source_token}"},
    )
    assert response.json() == {
        "detail": "multipart requests need the report in a field named 'file'",
        "location": "body.file",
    }
    assert not ImportRun.objects.exists()


# -- Errors are JSON, with where ------------------------------------------------------------


def test_webhook_errors_say_where(client, github):
    not_json = b'{"action": "created", '
    signature = "sha256=" + hmac.new(github.webhook_secret.encode(), not_json, "sha256").hexdigest()
    response = client.post(
        f"/api/v1/webhooks/github/{github.slug}",
        data=not_json,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "secret_scanning_alert"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("the delivery is not valid JSON")
    assert response.json()["location"] == "line 1 column 23"
    unsigned = deliver(client, github, alert_payload("created"), secret="wrong-secret")
    assert unsigned.json()["location"] == "header.X-Hub-Signature-256"
    # An unknown source answers as an unsigned delivery does: the slugs are nobody's business.
    unknown = client.post("/api/v1/webhooks/github/nope")
    assert unknown.json()["location"] == "header.X-Hub-Signature-256"


def test_an_unknown_parameter_is_refused_not_ignored(client, source, source_token):
    """partial=1 (the CLI's --partial) was ignored: the report ran as a full scan and marked
    every finding it left out missing."""
    post(client, source_token, reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}]))
    work()
    partial = reports.gitleaks([{"secret": AWS_KEY}])
    response = post(client, source_token, partial, query="format=gitleaks&partial=1")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "unknown parameter 'partial' (for a partial report: full_scan=false); "
        "known: format, source, full_scan",
        "location": "query.partial",
    }
    typo = post(client, source_token, partial, query="fromat=trufflehog").json()
    assert typo["location"] == "query.fromat" and "(for a partial" not in typo["detail"]
    assert ImportRun.objects.count() == 1 and not Finding.objects.exclude(missing_since=None)
    response = post(client, source_token, partial, query="format=gitleaks&full_scan=false")
    assert response.status_code == 202
    work()
    assert not Finding.objects.exclude(missing_since=None).exists()


def test_a_parameter_given_twice_is_refused_saying_which(client, source, source_token):
    """full_scan=false&full_scan=true took the last: a partial report became a full scan that
    marks what it doesn't list."""
    for query, name in (
        ("format=gitleaks&full_scan=false&full_scan=true", "full_scan"),
        ("format=gitleaks&format=trufflehog", "format"),
        ("format=gitleaks&source=gitleaks-ci&source=gitleaks-ci", "source"),
    ):
        response = post(client, source_token, b"[]", query=query)
        assert response.status_code == 422, query
        assert response.json() == {
            "detail": f"give {name} once (it was given more than once)",
            "location": f"query.{name}",
        }
    assert not ImportRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail", "location"),
    [
        (b"", "the report is empty", "byte 0"),
        (b"\xef\xbb\xbf\r\n", "the report is empty", "byte 0"),
        (gzip.compress(b"[]"), "the report is gzip-compressed; decompress it", "byte 0"),
        (b"PK\x03\x04\x14\x00\x00\x00", "the report is a zip archive; unzip it", "byte 0"),
        ('[{"RuleID": "aws"}]'.encode("utf-16-le"), "the report is UTF-16", "byte 0"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the report is binary, not text", "byte 8"),
    ],
)
def test_empty_packed_and_binary_reports_say_what_they_are(
    client, source, source_token, body, detail, location
):
    response = post(client, source_token, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["detail"].startswith(detail) and answer["location"] == location
    assert ImportRun.objects.get(pk=answer["import_id"]).status == "failed"
