"""What the GitHub webhook (POST /api/v1/webhooks/github/{source}) gives away, and holds, before
a delivery's X-Hub-Signature-256 is known to be right: no whole body in memory, no word on
which sources exist, and nothing but GitHub's two content types after."""

import hashlib
import hmac
import io
import json
import sys
import tracemalloc

import django_rq
import pytest

from hygiene.models import ImportRun, Source
from tests.hygiene.test_github_webhook_real import LOCATION_CREATED

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-limits-0123456789"
UNSIGNED = {
    "detail": "missing or invalid X-Hub-Signature-256",
    "location": "header.X-Hub-Signature-256",
}


@pytest.fixture(autouse=True)
def empty_queues():
    for name in ("imports", "default"):
        django_rq.get_queue(name).empty()


def make_source(slug: str, secret: str = SECRET, active: bool = True) -> Source:
    return Source.objects.create(
        slug=slug,
        name=slug,
        kind="scanner",
        default_format="github-secret-scanning",
        webhook_secret=secret,
        is_active=active,
    )


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, slug: str, body: bytes, signature: str | None, content_type="application/json"):
    headers = {"X-GitHub-Event": "secret_scanning_alert_location"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(
        f"/api/v1/webhooks/github/{slug}", data=body, content_type=content_type, headers=headers
    )


def wsgi_call(path: str, body_stream, length: int, **environ):
    """Through Django's WSGI handler as gunicorn calls it, the body read from ``body_stream``."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(length),
        "wsgi.url_scheme": "http",
        "wsgi.input": body_stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **environ,
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(env, start_response)
        content = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], json.loads(content)


class Padding(io.RawIOBase):
    """``size`` bytes of a JSON body, made as they are read: the test holds no copy of it."""

    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_an_unsigned_delivery_is_hashed_as_it_is_read_not_held_whole(client):
    """Four concurrent unsigned 24 MB posts took a worker from 106 to 264 MB: the body was read
    whole, and joined (a copy), before its signature was checked."""
    make_source("github-limits")
    size = 12 * 1024 * 1024
    client.get("/healthz")  # the first request's imports are not the delivery's
    tracemalloc.start()
    try:
        status, body = wsgi_call(
            "/api/v1/webhooks/github/github-limits",
            io.BufferedReader(Padding(size)),
            size,
            HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64,
            HTTP_X_GITHUB_EVENT="secret_scanning_alert",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, body) == (401, UNSIGNED)
    assert peak < 4 * 1024 * 1024, f"{peak} bytes held for a {size}-byte delivery"


def test_without_a_valid_signature_no_source_is_told_from_another(client, caplog):
    """An unknown slug was 404 "no such source", a source without a webhook secret 403: anyone
    could list the sources. Unsigned, all answer alike."""
    make_source("github-signed")
    make_source("github-no-secret", secret="")
    make_source("github-off", active=False)
    body = LOCATION_CREATED.read_bytes()
    for slug in ("github-signed", "github-no-secret", "github-off", "no-such-source"):
        for signature in (None, "", "sha256=", "sha1=abc", sign(body, "guess"), sign(body)[:-2]):
            response = post(client, slug, body, signature)
            assert (response.status_code, response.json()) == (401, UNSIGNED), (slug, signature)
        # Signed with the right secret of another source, or an empty one: no better.
        assert post(client, slug, body, sign(body, SECRET + "x")).status_code == 401
    assert (
        post(
            client, "github-no-secret", body, "sha256=" + hmac.new(b"", body, "sha256").hexdigest()
        ).status_code
        == 401
    )
    assert post(client, "github-off", body, sign(body)).status_code == 401
    # The operator's log says which source lacks its secret (its page says so to its lead).
    lacking = Source.objects.get(slug="github-no-secret").pk
    assert f"webhook delivery to source {lacking} refused: no webhook secret" in caplog.text
    assert not ImportRun.objects.exists()
    assert post(client, "github-signed", body, sign(body)).status_code == 202


def test_a_signed_delivery_in_another_content_type_is_415(client):
    """text/plain was imported (202): GitHub delivers application/json, or the form with the
    JSON in its payload field (the webhook's "Content type" setting); anything else is not a
    delivery."""
    make_source("github-types")
    body = LOCATION_CREATED.read_bytes()
    for content_type in ("text/plain", "application/octet-stream", "multipart/form-data", ""):
        response = post(client, "github-types", body, sign(body), content_type=content_type)
        assert response.status_code == 415, content_type
        assert response.json()["location"] == "header.Content-Type"
        assert (
            "application/json or application/x-www-form-urlencoded" in (response.json()["detail"])
        )
    assert not ImportRun.objects.exists()
    # Unsigned, the content type is nobody's business: 401 as for any other.
    assert post(client, "github-types", body, None, content_type="text/plain").status_code == 401
    with_charset = post(
        client, "github-types", body, sign(body), content_type="application/json; charset=utf-8"
    )
    assert with_charset.status_code == 202, with_charset.content


def test_a_large_delivery_spools_to_a_file_without_a_name(client, settings, tmp_path):
    """Past 1 MB a delivery goes on to LEAKLINE_SPOOL_DIR, in a file no one can find; when that
    directory is not there, 507 (GitHub redelivers), not a 500."""
    make_source("github-spool")
    payload = json.loads(LOCATION_CREATED.read_bytes())
    payload["padding"] = "x" * (2 * 1024 * 1024)
    body = json.dumps(payload).encode()
    settings.LEAKLINE_SPOOL_DIR = str(tmp_path)
    assert post(client, "github-spool", body, sign(body)).status_code == 202
    assert list(tmp_path.iterdir()) == []
    settings.LEAKLINE_SPOOL_DIR = str(tmp_path / "gone")
    response = post(client, "github-spool", body + b" ", sign(body + b" "))
    assert (response.status_code, response.json()) == (
        507,
        {"detail": "no room to receive the delivery; try again later", "location": "body"},
    )
