import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from hygiene.env import env_bool, env_int, env_secret

ROOT = Path(__file__).resolve().parent.parent


def test_bad_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        env_bool("DEBUG")


def test_bad_number_fails_loudly(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT must be a whole number"):
        env_int("EMAIL_PORT", 25)


def test_secret_from_file(monkeypatch, tmp_path):
    path = tmp_path / "key"
    path.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))
    assert env_secret("SECRET_KEY") == "from-a-file"
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE: cannot read"):
        env_secret("SECRET_KEY")


def _manage(*args, **env):
    drop = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-" + "x9Q2" * 10,
    "LEAKLINE_FINGERPRINT_KEY": "production-fingerprint-key",
    "ALLOWED_HOSTS": "leakline.example.com",
    "EMAIL_HOST": "smtp.example.com",  # without it check --deploy warns (leakline.W001)
    "LEAKLINE_TRUSTED_PROXIES": "1",  # behind the TLS proxy; without it: leakline.W002
}


def test_deploy_check_is_clean_in_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    # Behind the TLS proxy, not told how to find the client's address: the login limits
    # would count the proxy's.
    unproxied = {k: v for k, v in PRODUCTION.items() if k != "LEAKLINE_TRUSTED_PROXIES"}
    result = _manage("check", "--deploy", **unproxied)
    assert "leakline.W002" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_pages_send_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_check_services_says_in_one_line_what_is_missing():
    result = _manage(
        "check_services",
        DEBUG="1",
        DATABASE_URL="postgres://postgres@127.0.0.1:1/leakline",
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: PostgreSQL is not reachable at 127.0.0.1:1")
    assert "pg_ctlcluster" in lines[0]
    assert lines[1].startswith("error: Redis is not reachable") and "redis-server" in lines[1]
    assert "Traceback" not in result.stderr


def test_static_files_are_served_and_a_missing_one_is_not_found(client, settings):
    # plotly.js comes from the plotly package (hygiene.staticfinders); a file no finder has is
    # a 404, not a server error. With DEBUG (make run), WhiteNoise asks the finders.
    settings.DEBUG = True
    from django.contrib.staticfiles import finders

    assert finders.find("nope.css") is None
    assert finders.find("vendor/plotly.min.js").endswith("plotly.min.js")
    assert client.get("/static/vendor/plotly.min.js").status_code == 200
    assert client.get("/static/nope.css").status_code == 404
    assert client.get("/static/vendor/nope.js").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_dev_server_keeps_no_database_connection_per_request():
    """runserver (and `serve`, which runs it) handles each request in a thread of its own: a
    connection kept for CONN_MAX_AGE would outlive its thread, one more per request, until
    PostgreSQL refuses every client ("too many clients"). Under runserver it is 0."""
    import time
    import urllib.request

    from django.db import connection

    from tests.test_production import app_env, free_port, health_when_up

    def server_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's connections")
    # Others' connections to this database (a server another test started, still closing)
    # are not the dev server's: counted before it starts.
    before = server_connections()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=app_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert health_when_up(port, proc) is not None
        for _ in range(8):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert json.loads(r.read())["database"] == "ok"
        deadline = time.monotonic() + 5
        while server_connections() > before and time.monotonic() < deadline:
            time.sleep(0.1)  # the last request's thread closes its connection after answering
        assert server_connections() <= before
    finally:
        proc.terminate()
        proc.wait(timeout=20)
