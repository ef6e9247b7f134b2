"""Demo data for `make run`: people, teams, sources, reports imported through the real import
path (so the inventory, dedup and incident policy are real), and a few months of incident
history for the metrics. Idempotent: a second run finds the demo users and does nothing.
Every credential here is randomly generated and fake."""

import hashlib
import io
import json
import random
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from hygiene import roles
from hygiene.models import FindingSighting, OwnershipRule, Secret, Source, Team
from hygiene.services.imports import import_report

PASSWORD = "leakline-demo"
LOGINS = [
    ("lead", PASSWORD, "Security lead"),
    ("engineer", PASSWORD, "Engineer"),
    ("manager", PASSWORD, "Manager"),
]
REPOS = ["acme/payments-api", "acme/infra-terraform", "acme/web-frontend", "acme/data-pipeline"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _fake(r: random.Random, kind: str) -> str:
    if kind == "aws":
        return "AKIA" + "".join(r.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", k=16))
    if kind == "github":
        return "ghp_" + "".join(r.choices(ALNUM, k=36))
    if kind == "slack":
        return f"xoxb-{r.randrange(10**11, 10**12)}-{r.randrange(10**11, 10**12)}-" + "".join(
            r.choices(ALNUM, k=24)
        )
    if kind == "sas":
        expiry = (timezone.now() + timedelta(days=365 * 6)).strftime("%Y-%m-%d")
        sig = "".join(r.choices(ALNUM, k=43))
        return (
            "https://acmebackups.blob.core.windows.net/?sv=2021-08-06&ss=bfqt&srt=sco"
            f"&sp=rwdlacupiytfx&se={expiry}T00:00:00Z&spr=https,http&sig={sig}%3D"
        )
    if kind == "postgres":
        return f"postgres://app:{''.join(r.choices(ALNUM, k=20))}@db.internal:5432/payments"
    return "".join(r.choices("abcdef0123456789", k=40))


def _gitleaks_report(r: random.Random, secrets: list[tuple[str, str, str]]) -> bytes:
    findings = []
    for i, (_kind, value, rule) in enumerate(secrets):
        repo = REPOS[i % len(REPOS)]
        commit = hashlib.sha1(f"{repo}{i}".encode(), usedforsecurity=False).hexdigest()
        path = [
            "config/settings.py",
            "deploy/.env.production",
            "scripts/backup.sh",
            "src/lib/client.ts",
        ][i % 4]
        line = 3 + i
        findings.append(
            {
                "Description": rule,
                "StartLine": line,
                "EndLine": line,
                "StartColumn": 10,
                "EndColumn": 10 + len(value),
                "Match": "",
                "Secret": value,
                "File": path,
                "Commit": commit,
                "Link": f"https://github.com/{repo}/blob/{commit}/{path}#L{line}",
                "Entropy": 4.3,
                "Author": r.choice(["Erik Eriksen", "Ada Okafor", "Sam Doe"]),
                "Email": "dev@acme.example",
                "Date": (timezone.now() - timedelta(days=r.randrange(2, 400))).isoformat(),
                "Message": "",
                "Tags": [],
                "RuleID": rule,
                "Fingerprint": f"{commit}:{path}:{rule}:{line}",
            }
        )
    return json.dumps(findings).encode()


def _trufflehog_report(secrets: list[tuple[str, str, bool]]) -> bytes:
    lines = []
    for i, (value, detector, verified) in enumerate(secrets):
        lines.append(
            json.dumps(
                {
                    "SourceMetadata": {
                        "Data": {
                            "Git": {
                                "commit": hashlib.sha1(
                                    f"th{i}".encode(), usedforsecurity=False
                                ).hexdigest(),
                                "file": "terraform/modules/ci/main.tf",
                                "email": "Ada Okafor <ada@acme.example>",
                                "repository": "https://github.com/acme/infra-terraform.git",
                                "timestamp": "2026-09-14 08:12:00 +0000",
                                "line": 20 + i,
                            }
                        }
                    },
                    "SourceType": 16,
                    "SourceName": "trufflehog - git",
                    "DetectorName": detector,
                    "DecoderName": "PLAIN",
                    "Verified": verified,
                    "Raw": value,
                    "ExtraData": {
                        "account": "123456789012",
                        "arn": "arn:aws:iam::123456789012:user/ci-deployer",
                    }
                    if detector == "AWS"
                    else {},
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def _posture_report() -> bytes:
    findings = [
        {
            "rule": "iam_rotate_access_key_90_days",
            "category": "posture",
            "secret_type": "key-rotation",
            "title": "IAM user access key not rotated in 90 days",
            "description": "Rotate the key: create a new one, deploy it, deactivate the old one.",
            "resource": "arn:aws:iam::123456789012:user/ci-deployer",
            "account": "123456789012",
            "region": "us-east-1",
            "severity": "medium",
        },
        {
            "rule": "storage_account_key_access_disabled",
            "category": "posture",
            "secret_type": "shared-key-access",
            "title": "Storage account allows shared key access",
            "description": "Disallow shared key access; use Entra ID and user delegation SAS.",
            "resource": "/subscriptions/0000/resourceGroups/prod/providers/"
            "Microsoft.Storage/storageAccounts/acmebackups",
            "account": "0000",
            "region": "westeurope",
            "severity": "high",
        },
        {
            "rule": "secretsmanager_automatic_rotation_enabled",
            "category": "posture",
            "secret_type": "secret-rotation",
            "title": "Secrets Manager secret without automatic rotation",
            "description": "Enable rotation with a rotation Lambda.",
            "resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db-AbCdEf",
            "account": "123456789012",
            "region": "us-east-1",
            "severity": "medium",
        },
    ]
    return json.dumps({"version": 1, "findings": findings}).encode()


def _import(source: Source, fmt: str, data: bytes) -> None:
    import_report(source=source, format_key=fmt, stream=io.BytesIO(data), via="upload")


def _history(r: random.Random, lead: User, engineers: list[User]) -> None:
    """Four months of closed and open incidents with realistic response times."""
    from incidents.models import Incident, IncidentStatus, Step, TimelineEvent
    from incidents.services import IncidentError, incident_open

    now = timezone.now()
    history = Source.objects.get(slug="legacy-scans")
    kinds = ["aws", "github", "slack", "generic", "postgres"]
    rules = {
        "aws": "aws-access-token",
        "github": "github-pat",
        "slack": "slack-bot-token",
        "generic": "generic-api-key",
        "postgres": "postgres-uri",
    }
    batch = [(k, _fake(r, k), rules[k]) for k in (r.choice(kinds) for _ in range(36))]
    _import(history, "gitleaks", _gitleaks_report(r, batch))
    secrets = Secret.objects.filter(findings__source=history).distinct().order_by("id")
    for i, secret in enumerate(secrets):
        if secret.incidents.exists():
            continue
        try:
            incident = incident_open(
                secrets=[secret], opened_by=lead, owner=r.choice([lead, *engineers])
            )
        except IncidentError:
            continue
        age = timedelta(days=r.uniform(2, 120))
        opened = now - age
        # The history happened back then: its findings were seen before the incident opened,
        # the secret was exposed no later than that, and its timeline says so.
        seen = opened - timedelta(hours=r.uniform(1, 48))
        exposed = min(secret.exposed_since or seen, seen)
        Incident.objects.filter(pk=incident.pk).update(opened_at=opened, exposed_since=exposed)
        secret.findings.update(first_seen_at=seen, created_at=seen)
        FindingSighting.objects.filter(finding__secret=secret).update(last_seen_at=seen)
        Secret.objects.filter(pk=secret.pk).update(
            first_seen_at=seen, last_seen_at=seen, exposed_since=exposed
        )
        TimelineEvent.objects.filter(secret=secret).update(created_at=seen)
        TimelineEvent.objects.filter(incident=incident).update(created_at=opened)
        closed = i % 5 != 0  # one in five still open
        speed = r.choice([0.3, 0.6, 1.0, 1.5, 3.0])  # fast and slow teams
        last_done = opened
        for step in incident.steps.order_by("position"):
            started = opened
            due = started + step.deadline
            soon = started + step.deadline * 0.75
            done = None
            if closed or r.random() < 0.5:
                done = started + step.deadline * speed * r.uniform(0.2, 1.2)
                if done > now:
                    done = None
            Step.objects.filter(pk=step.pk).update(
                started_at=started,
                due_at=due,
                due_soon_at=soon,
                completed_at=done,
                completed_by=r.choice(engineers) if done else None,
                evidence_note="Done as the playbook says." if done else "",
            )
            if done:
                last_done = max(last_done, done)
        if closed and not incident.steps.filter(completed_at__isnull=True, required=True).exists():
            Incident.objects.filter(pk=incident.pk).update(
                status=IncidentStatus.CLOSED,
                contained_at=opened + (last_done - opened) * 0.3,
                remediated_at=last_done,
                closed_at=last_done + timedelta(hours=2),
                summary="Key revoked and rotated; no misuse found in the access logs.",
            )
            incident.incidentsecret_set.update(active=False)


@transaction.atomic
def seed() -> bool:
    if User.objects.filter(username="lead").exists():
        return False
    r = random.Random(20261122)
    people = {}
    for username, first, last, group in [
        ("lead", "Lena", "Lindqvist", roles.LEAD),
        ("lead2", "Sam", "Sato", roles.LEAD),
        ("engineer", "Erik", "Eriksen", roles.ENGINEER),
        ("engineer2", "Ada", "Okafor", roles.ENGINEER),
        ("manager", "Maria", "Moreau", roles.MANAGER),
    ]:
        user = User.objects.create_user(
            username, f"{username}@demo.leakline.test", PASSWORD, first_name=first, last_name=last
        )
        user.groups.add(Group.objects.get(name=group))
        people[username] = user
    payments = Team.objects.create(name="Payments", slug="payments", email="payments@acme.example")
    platform = Team.objects.create(name="Platform", slug="platform", email="platform@acme.example")
    web = Team.objects.create(name="Web", slug="web")
    payments.members.add(people["engineer"])
    platform.members.add(people["engineer2"], people["engineer"])
    web.members.add(people["engineer2"])
    OwnershipRule.objects.create(position=10, team=payments, repo_pattern="*payments*")
    OwnershipRule.objects.create(position=20, team=platform, repo_pattern="*infra*")
    OwnershipRule.objects.create(position=30, team=platform, resource_pattern="arn:aws:*")
    OwnershipRule.objects.create(position=40, team=web, repo_pattern="*web*")
    sources = {}
    for slug, name, kind, fmt in [
        ("gitleaks-ci", "gitleaks in CI", "scanner", "gitleaks"),
        ("trufflehog-nightly", "TruffleHog nightly", "scanner", "trufflehog"),
        ("github", "GitHub secret scanning", "scanner", "github-secret-scanning"),
        ("prowler-aws", "Prowler (AWS + Azure)", "auditor", "prowler"),
        ("aws-rotations", "AWS CloudTrail rotations", "rotator", "aws-cloudtrail"),
        ("legacy-scans", "Legacy scans (history)", "scanner", "gitleaks"),
    ]:
        sources[slug] = Source.objects.create(slug=slug, name=name, kind=kind, default_format=fmt)
    sources["github"].webhook_secret = "demo-webhook-secret"
    sources["github"].save()

    _history(r, people["lead"], [people["engineer"], people["engineer2"]])

    aws, aws2 = _fake(r, "aws"), _fake(r, "aws")
    current = [
        ("aws", aws, "aws-access-token"),
        ("aws", aws2, "aws-access-token"),
        ("github", _fake(r, "github"), "github-pat"),
        ("github", _fake(r, "github"), "github-pat"),
        ("slack", _fake(r, "slack"), "slack-bot-token"),
        ("sas", _fake(r, "sas"), "azure-storage-sas"),
        ("postgres", _fake(r, "postgres"), "postgres-uri"),
        *[("generic", _fake(r, "generic"), "generic-api-key") for _ in range(12)],
    ]
    current.append(current[2])  # the same token committed twice
    _import(sources["gitleaks-ci"], "gitleaks", _gitleaks_report(r, current))
    _import(
        sources["trufflehog-nightly"],
        "trufflehog",
        _trufflehog_report(
            [(aws, "AWS", True), (aws2, "AWS", False), (_fake(r, "github"), "Github", True)]
        ),
    )
    _import(sources["prowler-aws"], "leakline", _posture_report())
    return True
