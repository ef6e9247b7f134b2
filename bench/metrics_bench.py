"""Metrics at scale: seeds 1,000,000 findings and 50,000 incidents (5 steps each) into a
PostgreSQL database with COPY, then measures the server time of the metrics page, of its
lazily drawn sections and of each /api/v1/metrics call, with and without a team filter (p50 /
p95 over --repeat requests, in-process through Django's test client).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leakline_bench DEBUG=1 \
        .venv/bin/python bench/metrics_bench.py [--findings N] [--incidents N] [--reuse]
            [--seed-only] [--repeat N] [--only page|api|<table>]

--reuse measures an already seeded database: its schema must match the models (indexes
included; run ``manage.py migrate`` or re-seed after a model change).

Without --reuse the database is emptied first (tables created from the models). Not part of
the test suite.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hygiene.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("LEAKLINE_FINGERPRINT_KEY", "bench-key")

import django

django.setup()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.test import Client  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=730)
SEVERITIES = ["critical", "high", "medium", "low"]
TYPES = ["aws-access-key", "github-token", "api-key", "generic-password", "private-key", "jwt"]
RULES = [f"rule-{n}" for n in range(40)]
ACTIONS = [("revoke", 4), ("rotate", 24), ("notify", 48), ("investigate", 72), ("verify", 120)]


def fresh_schema() -> None:
    """Empty database with tables straight from the models (no migrations needed)."""
    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)


def copy_rows(model, rows) -> int:
    """COPY dicts into the model's table; fields a row doesn't give take their defaults."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.name == "id"]
    names = [f.column for f in fields]
    defaults = {}
    for f in fields:
        if f.has_default():
            value = f.get_default()
            defaults[f.column] = json.dumps(value) if isinstance(f, models.JSONField) else value
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.column] = NOW
        elif isinstance(f, (models.CharField, models.TextField)) and not f.null:
            defaults[f.column] = ""
        else:
            defaults[f.column] = None
    count = 0
    with connection.cursor() as cur:
        sql = f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN"
        with cur.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row.get(c, defaults[c]) for c in names])
                count += 1
    return count


def reset_sequence(model) -> None:
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )


def seed(n_findings: int, n_incidents: int) -> None:
    from django.contrib.auth.models import Group, User

    from hygiene import roles
    from hygiene.models import Finding, Secret, Source, Team
    from incidents.models import Incident, IncidentSecret, Playbook, Step

    rng = random.Random(7)
    roles.ensure_roles()
    teams = [Team.objects.create(name=f"Team {n}", slug=f"team-{n}") for n in range(10)]
    sources = [
        Source.objects.create(slug=f"scanner-{n}", name=f"Scanner {n}", kind="scanner")
        for n in range(8)
    ]
    manager = User.objects.create_user("bench-manager")
    manager.groups.add(Group.objects.get(name=roles.MANAGER))
    playbook = Playbook.objects.create(slug="bench", name="Bench")

    n_secrets = max(1, n_findings // 3)
    t = time.perf_counter()

    def when(max_age=SPAN):
        return NOW - timedelta(seconds=rng.randrange(int(max_age.total_seconds())))

    secret_seen, secret_exposed = [], []

    def secrets():
        for n in range(1, n_secrets + 1):
            seen = when()
            secret_seen.append(seen)
            secret_exposed.append(seen - timedelta(days=rng.randrange(0, 400)))
            yield {
                "id": n,
                "fingerprint": f"{n:064x}",
                "secret_type": rng.choice(TYPES),
                "severity": rng.choice(SEVERITIES),
                "team_id": rng.choice(teams).id,
                "reused": rng.random() < 0.08,
                "first_seen_at": seen,
                "exposed_since": secret_exposed[-1],
            }

    copy_rows(Secret, secrets())

    # Findings arrive as scans find them: in first_seen_at order, ids rising with it, as
    # imports write them (indexes on first_seen_at grow at their end, as in production).
    arrivals = []
    for _ in range(n_findings):
        secret = rng.randrange(1, n_secrets + 1)
        seen = secret_seen[secret - 1] + timedelta(hours=rng.randrange(0, 2000))
        arrivals.append((min(seen, NOW), secret))
    arrivals.sort()

    def findings():
        for n, (seen, secret) in enumerate(arrivals, start=1):
            r = rng.random()
            status, resolution, resolved = "open", "", None
            if r < 0.55:
                status, resolution = "resolved", "fixed"
            elif r < 0.75:
                status = "dismissed"
                resolution = "false_positive" if rng.random() < 0.6 else "used_in_tests"
            elif r < 0.85:
                status = "triaged"
            if status in ("resolved", "dismissed"):
                resolved = min(NOW, seen + timedelta(hours=rng.randrange(1, 24 * 60)))
            yield {
                "id": n,
                "secret_id": secret,
                "source_id": rng.choice(sources).id,
                "location_key": f"{n:064x}",
                "category": "secret",
                "rule": rng.choice(RULES),
                "secret_type": rng.choice(TYPES),
                "severity": rng.choice(SEVERITIES),
                "status": status,
                "resolution": resolution,
                "resolved_at": resolved,
                "team_id": rng.choice(teams).id,
                "first_seen_at": seen,  # and last seen then (no sighting since)
            }

    copy_rows(Finding, findings())
    print(f"seeded {n_secrets} secrets, {n_findings} findings in {time.perf_counter() - t:.0f} s")

    t = time.perf_counter()
    incidents, links, steps = [], [], []
    for n in range(1, n_incidents + 1):
        opened = when()
        severity = rng.choice(SEVERITIES)
        age_h = (NOW - opened).total_seconds() / 3600
        done_h = [rng.expovariate(1 / (deadline * 0.9)) for _, deadline in ACTIONS]
        remediated = max(done_h) if max(done_h) < age_h and rng.random() < 0.9 else None
        status = "open"
        if remediated is not None:
            status = "closed" if rng.random() < 0.7 else "remediated"
        elif done_h[0] < age_h:
            status = "contained"
        incidents.append(
            {
                "id": n,
                "title": f"bench {n}",
                "playbook_id": playbook.id,
                "severity": severity,
                "status": status,
                "team_id": rng.choice(teams).id,
                "opened_at": opened,
                "auto_opened": True,
                # As incident_open does: the earliest exposure of its secrets (incident n has
                # secret n), no later than the opening.
                "exposed_since": min(secret_exposed[n - 1], opened),
                "contained_at": opened + timedelta(hours=done_h[0]) if done_h[0] < age_h else None,
                "remediated_at": opened + timedelta(hours=remediated) if remediated else None,
                "closed_at": opened + timedelta(hours=remediated + 1)
                if status == "closed"
                else None,
                "paused_total": timedelta(0),
            }
        )
        links.append({"id": n, "incident_id": n, "secret_id": n, "active": status != "closed"})
        for position, ((action, deadline), done) in enumerate(
            zip(ACTIONS, done_h, strict=True), start=1
        ):
            finished = done < age_h
            steps.append(
                {
                    "id": len(steps) + 1,
                    "incident_id": n,
                    "position": position,
                    "action": action,
                    "title": action,
                    "required": True,
                    "depends_on": "[]",
                    "role": "engineer",
                    "deadline": timedelta(hours=deadline),
                    "started_at": opened,
                    "due_at": opened + timedelta(hours=deadline),
                    "due_soon_at": opened + timedelta(hours=deadline * 0.75),
                    "completed_at": opened + timedelta(hours=done) if finished else None,
                    "escalation": "none",
                    "escalation_level": 0,
                }
            )
    copy_rows(Incident, incidents)
    copy_rows(IncidentSecret, links)
    copy_rows(Step, steps)
    for model in (Secret, Finding, Incident, IncidentSecret, Step):
        reset_sequence(model)
    with connection.cursor() as cur:
        # As a table in steady state is: vacuumed (index-only scans), with statistics.
        cur.execute("VACUUM ANALYZE")
    print(f"seeded {n_incidents} incidents, {len(steps)} steps in {time.perf_counter() - t:.0f} s")


def measure(client, url: str, headers=None, n: int = 20) -> tuple[float, float]:
    timings = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(url, **(headers or {}))
        timings.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def run_measurements(n: int = 20, only: str = "") -> None:
    from django.contrib.auth.models import User

    from hygiene.metrics import TABLES
    from hygiene.models import UserToken

    manager = User.objects.get(username="bench-manager")
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=manager, prefix=prefix, token_hash=digest)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(manager)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    rows = []
    for label, query in (("last 90 days", ""), ("all time", "?since=")):
        if only in ("", "page"):
            rows.append((f"page /metrics/ ({label})", *measure(client, f"/metrics/{query}", n=n)))
            rows.append(
                (
                    f"htmx /metrics/ ({label}, team)",
                    *measure(
                        client,
                        f"/metrics/{query or '?'}&team=team-3",
                        {"HTTP_HX_REQUEST": "true"},
                        n=n,
                    ),
                )
            )
            # The charts below the fold, each fetched when scrolled into view.
            from hygiene.views.metrics import LAZY

            for section in sorted(LAZY):
                url = f"/metrics/{query or '?'}&section={section}"
                hx = {"HTTP_HX_REQUEST": "true"}
                rows.append((f"section {section} ({label})", *measure(client, url, hx, n=n)))
        for name in TABLES:
            if only not in ("", "api", name):
                continue
            url = f"/api/v1/metrics/{name}{query}"
            rows.append((f"api {name} ({label})", *measure(client, url, auth, n=n)))
            for narrow in ("team=team-3", "source=scanner-3"):
                narrowed = f"{url}{'&' if query else '?'}{narrow}"
                what = f"api {name} ({label}, {narrow.split('=')[0]})"
                rows.append((what, *measure(client, narrowed, auth, n=n)))
        print(f"... {label} done", flush=True)
    print(f"\n{'request':<48} {'p50 ms':>8} {'p95 ms':>8}")
    for label, p50, p95 in rows:
        print(f"{label:<48} {p50:8.1f} {p95:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--reuse", action="store_true", help="measure only, data already seeded")
    parser.add_argument("--seed-only", action="store_true", help="seed, don't measure")
    parser.add_argument("--repeat", type=int, default=20, help="requests per URL")
    parser.add_argument("--only", default="", help="page, api or one table name")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench: DATABASE_URL must point to PostgreSQL")
    if not args.reuse:
        fresh_schema()
        seed(args.findings, args.incidents)
    if not args.seed_only:
        run_measurements(args.repeat, args.only)


if __name__ == "__main__":
    main()
