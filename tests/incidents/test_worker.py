"""The production path with real processes: `manage.py rqworker` against Redis running the sweep
and the send jobs, a worker SIGKILLed in the middle of a send (nothing lost, nothing delivered
twice), and `manage.py sweep_timers --loop` stopping cleanly on SIGTERM."""

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from django.utils import timezone

from hygiene import jobs
from incidents.models import EscalationState, Notification, Step
from incidents.notifications import SENDING_TIMEOUT, notification_enqueue, notifications_requeue

pytest.register_assert_rewrite("tests.incidents.conftest_timers")
from tests.incidents.conftest_timers import ROOT, SIGNING_KEY, app_env  # noqa: E402

pytest_plugins = ["tests.incidents.conftest_timers"]

MANAGE = [sys.executable, str(ROOT / "manage.py")]


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def worker(*args, burst=True, **popen):
    command = [*MANAGE, "rqworker", "notifications", "default", *args]
    if burst:
        command.append("--burst")
    return subprocess.Popen(command, cwd=ROOT, env=app_env(), **popen)


def children_of(pid: int) -> list[int]:
    """Direct children (an rq worker forks a work horse per job, in its own session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def verify_signature(delivery) -> None:
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    signed = headers["x-leakline-timestamp"].encode() + b"." + delivery.body
    digest = hmac.new(SIGNING_KEY.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["x-leakline-signature"] == f"sha256={digest}"


@pytest.mark.django_db(transaction=True)
def test_the_rq_worker_runs_the_sweep_and_sends_each_escalation_once(
    make_step, engineer, lead, team, webhook_server, queues, tmp_path
):
    team.webhook_url = webhook_server.url
    team.save()
    now = timezone.now()
    late = [
        make_step(assignee=engineer, owner=lead, started_at=now - timedelta(hours=5))
        for _ in range(3)
    ]
    make_step(assignee=engineer, started_at=now)  # on track: nothing to send
    default = django_rq.get_queue("default")
    out = tmp_path / "worker.out"

    for _ in range(2):  # cron fires twice (or two schedulers): still one escalation each
        default.enqueue("incidents.timers.sweep")
        with out.open("a") as sink:
            proc = worker(stdout=sink, stderr=subprocess.STDOUT)
            assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]

    assert len(webhook_server.deliveries) == 3
    for delivery in webhook_server.deliveries:
        verify_signature(delivery)
    assert Counter(d.headers["X-Leakline-Delivery"] for d in webhook_server.deliveries) == {
        str(pk): 1
        for pk in Notification.objects.filter(channel="webhook").values_list("pk", flat=True)
    }
    log = out.read_text()
    # The console mail backend prints each email: one per step to the assignee and the owner.
    assert (log.count("To: erik@example.com"), log.count("To: lena@example.com")) == (3, 3)
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    for step in late:
        step.refresh_from_db()
        assert step.escalation == EscalationState.OVERDUE


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_delivers_nothing_twice(
    team, webhook_server, queues, tmp_path
):
    team.webhook_url = webhook_server.url
    team.save()
    webhook_server.hold_first = True  # the first request hangs: the worker is mid-send
    rows = [
        notification_enqueue(
            channel="webhook",
            recipient=f"team:{team.pk}",
            kind="overdue",
            subject=f"[Leakline] Overdue: INC-{n}",
            body="overdue",
            dedupe_key=f"kill-test:{n}",
        )
        for n in range(3)
    ]
    assert django_rq.get_queue("notifications").count == 3
    log = tmp_path / "worker.out"
    with log.open("w") as sink:
        proc = worker(burst=False, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert webhook_server.wait_for(1, timeout=60), log.read_text()[-3000:]
        for pid in [*children_of(proc.pid), proc.pid]:  # the work horse, then the worker
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        webhook_server.release.set()

    held = webhook_server.deliveries[0]
    held_id = int(held.headers["X-Leakline-Delivery"])
    states = dict(Notification.objects.values_list("pk", "status"))
    assert states[held_id] == "sending"  # claimed, never finished
    assert sorted(states.values()) == ["pending", "pending", "sending"]

    # The next sweep after the lease expires: the orphan goes back to pending, every due
    # pending row gets a send job (the two never-run jobs are still queued too).
    assert notifications_requeue(now=timezone.now() + SENDING_TIMEOUT) == 3
    with log.open("a") as sink:
        again = worker(stdout=sink, stderr=subprocess.STDOUT)
        assert again.wait(timeout=120) == 0, log.read_text()[-3000:]

    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    acknowledged = Counter(
        int(d.headers["X-Leakline-Delivery"]) for d in webhook_server.acknowledged()
    )
    assert acknowledged == {row.pk: 1 for row in rows}
    # The interrupted request and its retry carry the same delivery id, so a receiver that did
    # get the first one can drop the second.
    assert [d.answered for d in webhook_server.deliveries].count(None) == 1
    assert Notification.objects.get(pk=held_id).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_sweep_timers_loop_sweeps_and_stops_cleanly_on_sigterm(make_step, engineer):
    step = make_step(assignee=engineer, started_at=timezone.now() - timedelta(hours=5))
    proc = subprocess.Popen(
        [*MANAGE, "sweep_timers", "--loop", "--every", "1"],
        cwd=ROOT,
        env={**app_env(), "LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("timer sweep every 1s")
        for line in proc.stderr:  # wait for the first sweep that did something
            if "timer sweep: " in line:
                assert "'overdue': 1" in line
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "timer sweep stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    step.refresh_from_db()
    assert step.escalation == EscalationState.OVERDUE


def test_sweep_timers_once_prints_the_counts(make_step, engineer, capsys):
    from django.core.management import call_command

    make_step(assignee=engineer, started_at=timezone.now() - timedelta(hours=5))
    call_command("sweep_timers")
    out = capsys.readouterr().out
    assert '"overdue": 1' in out and '"errors": 0' in out


def test_the_sweep_loop_survives_a_failing_run(monkeypatch, db):
    stop = threading.Event()
    calls = []

    def flaky_sweep(now=None):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        stop.set()
        return {}

    monkeypatch.setattr("incidents.timers.sweep", flaky_sweep)
    runner = threading.Thread(target=jobs.sweep_loop, kwargs={"stop": stop, "every": 0})
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    assert len(calls) == 2
    assert Step.objects.count() == 0
