"""Triage at scale: seeds 1,000,000 findings over 200,000 secrets into PostgreSQL with COPY,
then measures the server time of the findings page and the grouped-by-secret view for typical
filters (p50 / p95 over 30 requests each, in-process through Django's test client, after two
warm-up requests), and a bulk assign and a bulk dismiss of 10,000 findings.

    createdb -h 127.0.0.1 -U postgres leakline_triage_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/leakline_triage_bench DEBUG=1 \
        .venv/bin/python bench/triage_bench.py [--findings N] [--secrets N] [--reuse]

The database is emptied first (tables created from the models, plus hygiene.search_terms).
Not part of the test suite.
"""

import argparse
import json
import os
import random
import re
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
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.test import Client  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=730)
SEVERITIES = ["critical"] * 5 + ["high"] * 20 + ["medium"] * 40 + ["low"] * 30 + ["info"] * 5
STATUSES = ["open"] * 40 + ["triaged"] * 15 + ["resolved"] * 25 + ["dismissed"] * 20
VALIDITY = ["valid"] * 10 + ["invalid"] * 5 + ["unknown"] * 85
TYPES = [
    "aws-access-key",
    "github-token",
    "api-key",
    "generic-password",
    "private-key",
    "jwt",
    "slack-token",
    "stripe-key",
    "database-credential",
    "gcp-key",
]
RULES = [f"{t}-rule-{n}" for t in TYPES for n in range(4)]
N_REPOS, N_TEAMS = 2000, 20


def fresh_schema() -> None:
    with connection.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)


def copy_rows(model, columns: list[str], rows) -> int:
    """COPY tuples into the model's table; the other columns take their defaults."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    extra = []
    for column, f in fields.items():
        if column in columns or f.primary_key:
            continue
        if f.has_default():
            value = f.get_default()
            extra.append((column, json.dumps(value) if isinstance(f, models.JSONField) else value))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            extra.append((column, NOW))
        elif isinstance(f, (models.CharField, models.TextField)) and not f.null:
            extra.append((column, ""))
    names = columns + [c for c, _ in extra]
    tail = [v for _, v in extra]
    count = 0
    with connection.cursor() as cur:
        sql = f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN"
        with cur.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([*row, *tail])
                count += 1
    return count


def reset_sequence(model) -> None:
    table = model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
        )


def seed(n_findings: int, n_secrets: int) -> None:
    from hygiene import roles, search_terms
    from hygiene.models import Finding, FindingSighting, Secret, SecretSighting, Source, Team

    rnd = random.Random(42)
    roles.ensure_roles()
    teams = [Team.objects.create(name=f"Team {i}", slug=f"team-{i}") for i in range(N_TEAMS)]
    sources = [
        Source.objects.create(slug=f"src-{i}", name=f"Scanner {i}", kind="scanner")
        for i in range(5)
    ]
    lead = User.objects.create_user("bench-lead", password="x")  # noqa: S106
    lead.groups.add(Group.objects.get(name=roles.LEAD))
    engineer = User.objects.create_user("bench-engineer", password="x")  # noqa: S106
    engineer.groups.add(Group.objects.get(name=roles.ENGINEER))
    teams[3].members.add(engineer)
    teams[4].members.add(engineer)

    t0 = time.perf_counter()
    # Each secret gets its findings from one pass below; count them first.
    secret_of = [rnd.randrange(n_secrets) for _ in range(n_findings)]
    counts = [0] * n_secrets
    for s in secret_of:
        counts[s] += 1
    secret_first = []
    secret_sightings: list[tuple] = []

    def secrets():
        for i in range(n_secrets):
            first = NOW - timedelta(seconds=rnd.randrange(int(SPAN.total_seconds())))
            last = first + (NOW - first) * rnd.random()
            secret_first.append(first)
            secret_sightings.append((i + 1, last))
            t = TYPES[i % len(TYPES)]
            yield (
                i + 1,
                f"{i:064x}",
                t,
                f"{t[:3]}…{i % 100:02d}",
                rnd.choice(SEVERITIES),
                rnd.choice(VALIDITY),
                counts[i] > 1 and rnd.random() < 0.4,
                counts[i],
                max(1, min(counts[i], 3)),
                first,
                first - timedelta(days=rnd.randrange(30)),
                teams[i % N_TEAMS].pk if i % 5 else None,
            )

    copy_rows(
        Secret,
        [
            "id",
            "fingerprint",
            "secret_type",
            "preview",
            "severity",
            "validity",
            "reused",
            "finding_count",
            "place_count",
            "first_seen_at",
            "exposed_since",
            "team_id",
        ],
        secrets(),
    )
    copy_rows(SecretSighting, ["secret_id", "last_seen_at"], secret_sightings)
    print(f"  {n_secrets:,} secrets in {time.perf_counter() - t0:.1f}s", flush=True)

    t0 = time.perf_counter()

    def findings():
        # Imports append: a finding's id (and its place on disk) follows when it was first seen,
        # so rows are generated first and numbered in first-seen order.
        rows = []
        for i, s in enumerate(secret_of):
            first = secret_first[s] + timedelta(seconds=rnd.randrange(86400 * 30))
            first = min(first, NOW - timedelta(seconds=rnd.randrange(3600)))
            last = first + (NOW - first) * rnd.random()
            status = rnd.choice(STATUSES)
            repo = f"acme/repo-{rnd.randrange(N_REPOS)}"
            rows.append(
                (
                    first,
                    s + 1,
                    sources[i % 5].pk,
                    f"{i:064x}",
                    "secret",
                    RULES[(s * 4 + i) % len(RULES)],
                    TYPES[s % len(TYPES)],
                    rnd.choice(SEVERITIES),
                    status,
                    "false_positive" if status == "dismissed" else "",
                    repo,
                    f"src/module{rnd.randrange(500)}/config{rnd.randrange(50)}.py",
                    rnd.randrange(1, 400),
                    rnd.choice(VALIDITY),
                    last,
                    teams[rnd.randrange(N_TEAMS)].pk if rnd.random() < 0.8 else None,
                )
            )
        rows.sort(key=lambda r: r[0])
        for n, row in enumerate(rows, start=1):
            sightings.append((n, row[14]))
            yield (n, *row[1:14], row[0], row[15])

    sightings: list[tuple] = []

    copy_rows(
        Finding,
        [
            "id",
            "secret_id",
            "source_id",
            "location_key",
            "category",
            "rule",
            "secret_type",
            "severity",
            "status",
            "resolution",
            "repo",
            "path",
            "line",
            "validity",
            "first_seen_at",
            "team_id",
        ],
        findings(),
    )
    copy_rows(FindingSighting, ["finding_id", "last_seen_at"], sightings)
    print(f"  {n_findings:,} findings in {time.perf_counter() - t0:.1f}s", flush=True)
    reset_sequence(Secret)
    reset_sequence(Finding)
    t0 = time.perf_counter()
    search_terms.apply(connection)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"  search terms + VACUUM ANALYZE in {time.perf_counter() - t0:.1f}s", flush=True)


def measure(client, url: str, n: int = 30) -> tuple[float, float, int]:
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return statistics.median(times), p95, response.content.count(b"-row")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=1_000_000)
    parser.add_argument("--secrets", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded data")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--bulk-only", action="store_true", help="skip the page measurements (bulk actions only)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times to run assign, dismiss, undo (same findings)"
    )
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    settings.ALLOWED_HOSTS = ["*"]
    # As in production (DEBUG off): compiled templates are cached. DEBUG stays on for the
    # static files setup only (no collectstatic needed), so switch the loader by hand.
    settings.DEBUG = False
    template = settings.TEMPLATES[0]
    template["APP_DIRS"] = False
    template["OPTIONS"]["loaders"] = [
        (
            "django.template.loaders.cached.Loader",
            [
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        )
    ]

    if not args.reuse:
        print(f"Seeding {args.findings:,} findings / {args.secrets:,} secrets…", flush=True)
        t0 = time.perf_counter()
        fresh_schema()
        seed(args.findings, args.secrets)
        print(f"Seeded in {time.perf_counter() - t0:.1f}s\n", flush=True)

    lead = User.objects.get(username="bench-lead")
    engineer = User.objects.get(username="bench-engineer")
    client = Client()
    client.force_login(lead)
    eng = Client()
    eng.force_login(engineer)
    if not args.bulk_only:
        measure_pages(client, eng, args.requests)
    measure_bulk(client, lead, args.rounds)


def measure_pages(client, eng, requests: int) -> None:
    first_page = client.get("/findings/")
    cursor = re.search(rb"cursor=([A-Za-z0-9_-]+)", first_page.content).group(1).decode()

    cases = [
        ("findings", client, "/findings/"),
        ("findings", client, "/findings/?status=open&severity=critical&age=7d"),
        ("findings", client, "/findings/?status=open&severity=critical"),
        ("findings", client, "/findings/?status=open&sort=severity"),
        ("findings", client, "/findings/?status=open&team=team-7"),
        ("findings", client, "/findings/?status=open&validity=valid&reused=1"),
        ("findings", client, "/findings/?repo=acme/repo-42"),
        ("findings", client, "/findings/?q=repo-1234"),
        ("findings", client, "/findings/?q=module42/config7&status=open"),
        # More matching terms (5,500 paths) than search_terms.INLINE_TERMS: a hashed subquery.
        ("findings", client, "/findings/?q=config1"),
        ("findings", client, "/findings/?q=config1&sort=severity"),
        ("findings", client, "/findings/?q=config1&sort=last_seen"),
        ("findings", client, "/findings/?q=config1&status=open&severity=critical"),
        ("findings", client, "/findings/?type=private-key&status=open&sort=last_seen"),
        ("findings", client, "/findings/?sort=last_seen"),
        ("findings", client, "/findings/?status=open&sort=last_seen"),
        ("findings", client, "/findings/?status=open&first_from=2025-06-01&first_to=2025-06-30"),
        ("findings", client, f"/findings/?cursor={cursor}"),
        ("findings", eng, "/findings/?status=open"),
        ("grouped", client, "/findings/secrets/"),
        ("grouped", client, "/findings/secrets/?status=open"),
        ("grouped", client, "/findings/secrets/?status=open&severity=critical"),
        ("grouped", client, "/findings/secrets/?status=open&type=aws-access-key&age=30d"),
        ("grouped", client, "/findings/secrets/?q=repo-1234"),
        ("grouped", eng, "/findings/secrets/?status=open"),
    ]
    print(f"{'view':9} {'who':8} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}  url")
    results = []
    for view, c, url in cases:
        p50, p95, n_rows = measure(c, url, requests)
        who = "engineer" if c is eng else "lead"
        results.append((view, who, url, p50, p95))
        print(f"{view:9} {who:8} {p50:8.1f} {p95:8.1f} {n_rows:5}  {url}", flush=True)


def measure_bulk(client, lead, rounds: int = 1) -> None:
    from hygiene.models import Finding
    from hygiene.services import triage

    print("\nBulk actions (services, one transaction each):")
    ids = list(
        Finding.objects.filter(status="open")
        .order_by("-first_seen_at")
        .values_list("pk", flat=True)[:10_000]
    )
    qs = Finding.objects.filter(pk__in=ids)
    team = lead.teams.model.objects.get(slug="team-1")
    # Each round leaves the findings as it found them (open, in team-1; the valid secrets' ones
    # with a pending dismissal proposal), so rounds are comparable.
    actions = (
        (
            "assign 10,000 to a team",
            lambda: triage.findings_assign(findings_qs=qs, by=lead, team=team),
        ),
        (
            "dismiss 10,000",
            lambda: triage.findings_dismiss(
                findings_qs=qs, by=lead, reason="used_in_tests", comment="bench"
            ),
        ),
        ("undo 10,000 dismissals", lambda: triage.findings_undo_dismissal(findings_qs=qs, by=lead)),
    )
    for _ in range(rounds):
        for name, call in actions:
            t0 = time.perf_counter()
            result = call()
            print(
                f"  {name:28} {(time.perf_counter() - t0) * 1000:8.0f} ms  "
                f"(changed {result.changed:,}, pending {result.pending:,})",
                flush=True,
            )
    t0 = time.perf_counter()
    response = client.post(
        "/findings/bulk/",
        {
            "action": "assign",
            "team": "team-2",
            "select_all": "1",
            "filter": "status=open&team=team-1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200, response.content[:300]
    print(
        f"  {'POST select-all assign (view)':28} {(time.perf_counter() - t0) * 1000:8.0f} ms  "
        f"(status=open&team=team-1, incl. re-rendering the page)"
    )


if __name__ == "__main__":
    main()
