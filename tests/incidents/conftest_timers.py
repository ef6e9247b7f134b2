"""Fixtures and helpers for the timer and notification tests (imported by those test modules;
the incidents are built with the ORM so these tests don't depend on incidents.services)."""

import http.server
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django_rq
import pytest
from django.db import connection
from rq.worker import SimpleWorker

from incidents.models import Incident, Playbook, Step

ROOT = Path(__file__).resolve().parent.parent.parent
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
SIGNING_KEY = "test-webhook-signing-key"
QUEUES = ("default", "notifications")


@pytest.fixture
def queues():
    """The rq queues, emptied before and after (Redis db of this test run only)."""
    found = [django_rq.get_queue(name) for name in QUEUES]
    for queue in found:
        queue.empty()
    yield found
    for queue in found:
        queue.empty()


def run_worker() -> None:
    """A real rq worker against Redis, in burst mode, in this process (no fork, so it shares
    this test's database connection and frozen clock)."""
    django_rq.get_worker(*QUEUES, worker_class=SimpleWorker).work(burst=True)


@pytest.fixture
def playbook(db):
    return Playbook.objects.create(slug="generic", name="Generic leak")


@pytest.fixture
def make_step(playbook, team, lead):
    """make_step(assignee=…, owner=…, started_at=…, deadline=…) → an open step on its own
    incident (owner defaults to the lead, team to ``team``)."""
    counter = iter(range(1, 10_000))

    def make(
        *,
        assignee=None,
        owner=lead,
        incident_team=team,
        started_at=T0,
        deadline=timedelta(hours=4),
        incident=None,
        title="Rotate the key",
        **fields,
    ):
        n = next(counter)
        if incident is None:
            incident = Incident.objects.create(
                title=f"AWS access key leaked #{n}",
                playbook=playbook,
                severity="high",
                owner=owner,
                team=incident_team,
                opened_at=started_at,
            )
        return Step.objects.create(
            incident=incident,
            position=incident.steps.count() + 1,
            action="rotate",
            title=title,
            assignee=assignee,
            deadline=deadline,
            started_at=started_at,
            due_at=started_at + deadline,
            due_soon_at=started_at + deadline * 3 / 4,
            **fields,
        )

    return make


@dataclass
class Delivery:
    headers: dict
    body: bytes
    answered: int | None  # HTTP status we answered, None when the sender hung up first


@dataclass
class WebhookServer:
    """A real HTTP server on 127.0.0.1 that records every POST. ``statuses`` are answered in
    order (then 200); ``hold_first`` makes the first request wait until ``release`` is set and
    then drop the connection without answering (a sender that died mid-request)."""

    statuses: list = field(default_factory=list)
    hold_first: bool = False
    deliveries: list = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)

    def acknowledged(self) -> list:
        return [d for d in self.deliveries if d.answered == 200]


@pytest.fixture
def webhook_server():
    server_state = WebhookServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with server_state.arrived:
                first = not server_state.deliveries
                status = None
                if not (first and server_state.hold_first):
                    status = server_state.statuses.pop(0) if server_state.statuses else 200
                delivery = Delivery(dict(self.headers), body, status)
                server_state.deliveries.append(delivery)
                server_state.arrived.notify_all()
            if status is None:
                server_state.release.wait(30)
                self.close_connection = True
                return
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"nope")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    yield server_state
    server_state.release.set()
    httpd.shutdown()
    httpd.server_close()


def payload(delivery: Delivery) -> dict:
    return json.loads(delivery.body)


def app_env(**extra) -> dict:
    """Environment for a subprocess (manage.py …) on this test run's database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DATABASE_URL=url,
        DEBUG="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        LEAKLINE_WEBHOOK_SIGNING_KEY=SIGNING_KEY,
        **extra,
    )
    return env
