"""Timer sweep benchmark (not part of the test run).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leakline REDIS_URL=redis://127.0.0.1:6379/5 \
        DEBUG=1 LEAKLINE_FINGERPRINT_KEY=bench .venv/bin/python bench/sweep_bench.py

1. Seeds 10,000 open steps, 100 of them newly overdue, in a fresh PostgreSQL database built from
   the models (``<db>_sweepbench``, dropped at the end), and times ``sweep()`` — first run (100
   escalations, outbox rows, timeline rows, send jobs enqueued to Redis) and a steady-state run
   (nothing new).
2. Escalation latency with the production setup: ``manage.py rqworker … --with-scheduler`` and
   ``manage.py rqcron incidents.cron`` as subprocesses, steps falling due a few seconds apart,
   and the time from each ``due_at`` until its overdue notification is marked sent.

Options: --steps N --due N --latency-steps N (0 skips part 2) --keep (don't drop the database).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hygiene.settings")


def setup_database():
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("DATABASE_URL must point at PostgreSQL")
    original = db["NAME"]
    db["TEST"] = {**db.get("TEST", {}), "NAME": f"{original}_sweepbench", "MIGRATE": False}
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return original, name


def seed(total: int, due: int):
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from hygiene import roles
    from hygiene.models import Team
    from incidents.models import Incident, Playbook, Step

    now = timezone.now()
    team = Team.objects.create(name="Bench", slug="bench", email="bench@example.com")
    lead = User.objects.create(username="bench-lead", email="lead@example.com")
    lead.groups.add(Group.objects.get(name=roles.LEAD))
    engineers = User.objects.bulk_create(
        User(username=f"bench-eng-{i}", email=f"eng{i}@example.com") for i in range(50)
    )
    playbook = Playbook.objects.create(slug="bench", name="Bench")
    per_incident = 10
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Bench incident {i}",
            playbook=playbook,
            severity="high",
            owner=lead,
            team=team,
            opened_at=now - timedelta(hours=2),
        )
        for i in range(total // per_incident)
    )
    steps = []
    for n in range(total):
        incident = incidents[n // per_incident]
        is_due = n % (total // due) == 0
        started = now - timedelta(hours=2)
        deadline = timedelta(hours=1, minutes=59) if is_due else timedelta(days=2)
        steps.append(
            Step(
                incident=incident,
                position=n % per_incident + 1,
                action="rotate",
                title=f"Step {n}",
                assignee=engineers[n % len(engineers)],
                deadline=deadline,
                started_at=started,
                due_at=started + deadline,
                due_soon_at=started + deadline * 3 / 4,
            )
        )
    Step.objects.bulk_create(steps, batch_size=2000)
    newly_due = Step.objects.filter(due_at__lte=now).count()
    return team, lead, engineers, playbook, newly_due


def bench_sweep(total: int, due: int) -> None:
    import django_rq
    from django.db import connection

    from incidents.models import Notification, Step
    from incidents.timers import sweep

    for name in ("default", "notifications"):
        django_rq.get_queue(name).empty()
    _, _, _, _, newly_due = seed(total, due)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded {Step.objects.count()} open steps, {newly_due} newly overdue")
    # A running worker has imported the URLconf and compiled the templates long before; do it
    # here too so the figure is the sweep's, not Python's import time.
    from django.template.loader import get_template

    from incidents.notifications import incident_url

    incident_url(1)
    for name in ("due_soon", "overdue", "escalated", "nag"):
        get_template(f"incidents/email/step_{name}.txt")

    started = time.perf_counter()
    counts = sweep()
    first = time.perf_counter() - started
    queued = django_rq.get_queue("notifications").count
    print(
        f"sweep #1: {first * 1000:.0f} ms  {counts}  "
        f"({Notification.objects.count()} outbox rows, {queued} send jobs in Redis)"
    )
    started = time.perf_counter()
    counts = sweep()
    second = time.perf_counter() - started
    print(
        f"sweep #2 (nothing newly due; no worker ran, so it re-queues the unsent rows): "
        f"{second * 1000:.0f} ms  {counts}"
    )
    for name in ("default", "notifications"):
        django_rq.get_queue(name).empty()
    print(f"RESULT sweep over {total} open steps with {newly_due} newly due: {first:.3f} s")


def bench_latency(db_name: str, count: int) -> None:
    import django_rq
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from incidents.models import Incident, Notification, Playbook, Step

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db_name}"
    if db.get("PASSWORD"):
        url = url.replace("@", f":{db['PASSWORD']}@", 1)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    # Only the latency steps are open now.
    Step.objects.update(completed_at=timezone.now())
    Notification.objects.all().delete()
    for name in ("default", "notifications"):
        django_rq.get_queue(name).empty()
    connection.close()

    manage = [sys.executable, str(ROOT / "manage.py")]
    log_path = Path(tempfile.gettempdir()) / "leakline-sweep-bench.log"
    print(f"worker and cron output: {log_path}")
    logs = open(log_path, "w")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [*manage, "rqworker", "imports", "notifications", "default", "--with-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [*manage, "rqcron", "incidents.cron"],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        from django.contrib.auth.models import User

        owner = User.objects.get(username="bench-lead")
        playbook = Playbook.objects.get(slug="bench")
        # Due 5 s from now and then spread over one cron interval, so the worst case (a step
        # falling due just after a sweep) is among them.
        start = timezone.now()
        spread = 30 / max(count - 1, 1)
        steps = []
        for i in range(count):
            due_at = start + timedelta(seconds=5 + i * spread)
            incident = Incident.objects.create(
                title=f"Latency {i}", playbook=playbook, severity="critical", owner=owner
            )
            steps.append(
                Step.objects.create(
                    incident=incident,
                    position=1,
                    action="revoke",
                    title="Revoke",
                    assignee=owner,
                    deadline=due_at - start,
                    started_at=start,
                    due_at=due_at,
                    due_soon_at=due_at - timedelta(seconds=1),
                )
            )
        last = 5 + (count - 1) * spread
        print(f"waiting for {count} escalations (due 5 to {last:.0f} s from now)")
        latencies = {}
        deadline = time.monotonic() + 180
        while len(latencies) < count and time.monotonic() < deadline:
            for step in steps:
                if step.pk in latencies:
                    continue
                sent = (
                    Notification.objects.filter(step=step, kind="overdue", status="sent")
                    .order_by("sent_at")
                    .values_list("sent_at", flat=True)
                    .first()
                )
                if sent:
                    latencies[step.pk] = (sent - step.due_at).total_seconds()
            time.sleep(0.25)
        for step in steps:
            value = latencies.get(step.pk)
            shown = f"{value:.1f} s" if value is not None else "NOT SENT within 180 s"
            print(f"  step due at +{(step.due_at - start).total_seconds():.0f} s → sent {shown}")
        if latencies:
            print(
                f"RESULT escalation latency (due → overdue notification sent): "
                f"max {max(latencies.values()):.1f} s, "
                f"mean {sum(latencies.values()) / len(latencies):.1f} s over {len(latencies)}"
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        logs.close()
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--latency-steps", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL: the bench measures the production setup (Redis + rq)")
    original, name = setup_database()
    from django.db import connection

    try:
        bench_sweep(args.steps, args.due)
        if args.latency_steps:
            bench_latency(name, args.latency_steps)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
