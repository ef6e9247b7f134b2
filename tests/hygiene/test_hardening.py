"""What a security review found: pages kept in the browser's cache, reset links printed to the
log and sent without limit, HTML answers under /api/v1/, and a compose health check that
Django refused."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core import mail

from hygiene.api import findings as findings_api
from hygiene.login_throttle import RESET_PER_ACCOUNT, RESET_PER_ADDRESS
from tests.hygiene.test_filters import make_finding

ROOT = Path(__file__).resolve().parents[2]
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"}


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


# ── Cache-Control ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.django_db
def test_pages_for_a_signed_in_person_are_not_kept_by_the_browser(client, lead, source):
    make_finding(source, path="deploy/prod.env")
    client.force_login(lead)
    for path, extra in [
        ("/", {}),
        ("/findings/", {}),
        ("/findings/", HX),  # the fragment an htmx action swaps in
        ("/incidents/", {}),
        ("/findings/export.csv", {}),
        ("/metrics/?export=sla", {}),  # the metrics CSV had no no-store of its own
    ]:
        response = client.get(path, **extra)
        assert response.status_code == 200, path
        assert no_store(response), path
        assert "private" in response["Cache-Control"], path


@pytest.mark.django_db
def test_static_files_keep_their_caching(client, lead):
    client.force_login(lead)
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    assert not no_store(static)


@pytest.mark.django_db
def test_api_answers_are_not_kept_either(client):
    assert no_store(client.get("/api/v1/findings"))  # a 401 too


# ── /api/v1/ answers JSON ─────────────────────────────────────────────────────────────────────


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_the_api_root_answers_json(method):
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)("/api/v1/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["location"] == "path" and "openapi.json" in body["detail"]


@pytest.mark.django_db
def test_a_csrf_failure_under_the_api_answers_json():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/api/v1/openapi.json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "bearer token" in response.json()["detail"]


@pytest.mark.django_db
def test_an_unexpected_error_in_the_api_answers_json_without_its_text(
    client, lead, monkeypatch, caplog
):
    from tests.hygiene.test_findings_api import bearer

    def broken(*args, **kwargs):
        raise RuntimeError("detail that may quote the input")

    monkeypatch.setattr(findings_api, "findings_visible_to", broken)
    response = client.get("/api/v1/findings", **bearer(lead))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "internal error: the server logged it"}
    assert "quote the input" in caplog.text  # the traceback is in the log


# ── e-mail: never to the console in production; reset links limited ─────────────────────────


def _run(code: str, **env) -> subprocess.CompletedProcess:
    skip = ("EMAIL_", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    base.update(
        DEBUG="0",
        SECRET_KEY="test-secret-key-only-for-this-subprocess-0123456789abcdefgh",
        LEAKLINE_FINGERPRINT_KEY="test-fingerprint-key",
        DJANGO_SETTINGS_MODULE="hygiene.settings",
        PYTHONPATH=str(ROOT),
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=base, cwd=ROOT, capture_output=True, text=True
    )


def test_without_email_host_production_mail_goes_nowhere_and_check_deploy_says_so():
    code = textwrap.dedent(
        """
        import django
        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        print(settings.EMAIL_BACKEND)
        call_command("check", deploy=True, fail_level="ERROR")
        """
    )
    bare = _run(code)
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.startswith("django.core.mail.backends.dummy.EmailBackend")
    assert "leakline.W001" in bare.stderr and "E-mail is not configured" in bare.stderr
    configured = _run(code, EMAIL_HOST="smtp.example.com")
    assert configured.stdout.startswith("django.core.mail.backends.smtp.EmailBackend")
    assert "leakline.W001" not in configured.stderr
    demo = _run(code, DEBUG="1")  # `make run`: the developer reads the console
    assert demo.stdout.startswith("django.core.mail.backends.console.EmailBackend")


@pytest.mark.django_db
def test_without_email_the_reset_page_says_so_and_sends_nothing(client, lead, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    page = client.get("/accounts/password_reset/").content.decode()
    assert "no e-mail configured" in page and 'name="email"' not in page
    response = client.post("/accounts/password_reset/", {"email": lead.email})
    assert response.status_code == 200 and "no e-mail configured" in response.content.decode()
    assert "Forgot your password?" not in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_reset_emails_are_limited_per_address(client, lead, mailoutbox):
    statuses = [
        client.post("/accounts/password_reset/", {"email": lead.email}).status_code
        for _ in range(7)
    ]
    assert statuses == [302] * RESET_PER_ADDRESS + [429] * (7 - RESET_PER_ADDRESS)
    assert len(mailoutbox) == RESET_PER_ACCOUNT
    refused = client.post("/accounts/password_reset/", {"email": "someone@example.com"})
    assert refused.status_code == 429
    assert "Too many reset requests from your address" in refused.content.decode()
    other = client.post(
        "/accounts/password_reset/", {"email": "x@example.com"}, REMOTE_ADDR="198.51.100.9"
    )
    assert other.status_code == 302  # another address isn't held back


@pytest.mark.django_db
def test_reset_emails_are_limited_per_account_from_anywhere(client, lead, engineer):
    for n in range(7):
        response = client.post(
            "/accounts/password_reset/", {"email": lead.email}, REMOTE_ADDR=f"203.0.113.{n}"
        )
        assert response.status_code == 302  # the same answer: whether it was sent isn't told
    assert len(mail.outbox) == RESET_PER_ACCOUNT
    client.post("/accounts/password_reset/", {"email": engineer.email}, REMOTE_ADDR="203.0.113.99")
    assert mail.outbox[-1].to == [engineer.email]  # other accounts still get theirs


# ── docker compose: the web health check ──────────────────────────────────────────────────────


def _compose_healthcheck() -> str:
    """The Python program of the web service's health check in docker-compose.yml (a block
    scalar, or the last item of a one-line list)."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = lines.index("  web:")
    test = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("test:"))
    value = lines[test].split(":", 1)[1].strip()
    if value.startswith("["):
        return json.loads(value)[-1]
    block = next(i for i in range(test, len(lines)) if lines[i].strip() == "- |")
    body = []
    for line in lines[block + 1 :]:
        if line.strip() and not line.startswith(" " * 10):
            break
        body.append(line)
    return textwrap.dedent("\n".join(body))


@pytest.mark.django_db(transaction=True)
def test_the_compose_health_check_passes_when_allowed_hosts_is_only_the_public_name(
    live_server, settings
):
    settings.ALLOWED_HOSTS = ["leakline.example.com"]
    program = _compose_healthcheck().replace("http://127.0.0.1:8000", live_server.url)
    env = {**os.environ, "ALLOWED_HOSTS": "leakline.example.com"}
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr[-500:]
