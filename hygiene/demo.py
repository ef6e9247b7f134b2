"""Demo data for `make run`: people, teams, sources, reports imported through the real import
path (so the inventory, dedup and incident policy are real), and a few months of incident
history for the metrics, told as the app would have recorded it: steps assigned and done in
dependency order by the people assigned, each action on the timeline when it happened, and the
real timer sweep replayed at every deadline, so late steps carry their escalations (see _Story).
Idempotent: a second run finds the demo users and does nothing. Every credential here is
randomly generated and fake."""

import hashlib
import io
import json
import logging
import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from hygiene import roles
from hygiene.models import (
    Finding,
    FindingSighting,
    OwnershipRule,
    Secret,
    SecretSighting,
    Source,
    Team,
)
from hygiene.services.imports import import_report
from incidents.models import (
    Incident,
    IncidentSecret,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Step,
    TimelineEvent,
)
from incidents.services import DUE_SOON_FRACTION, _user_label

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


def _import(source: Source, fmt: str, data: bytes, now) -> None:
    last = Notification.objects.order_by("-pk").values_list("pk", flat=True).first()
    import_report(source=source, format_key=fmt, stream=io.BytesIO(data), via="upload")
    # What the import told people of (incidents its policy opened) was sent back then, as the
    # replayed sweeps' notices are: not queued for the evaluator's inbox.
    Notification.objects.filter(pk__gt=last or 0, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENT, attempts=1, sent_at=now
    )


# What people wrote as evidence, per step action.
EVIDENCE = {
    "revoke": "Revoked in the provider's console; a call with the old value is now rejected.",
    "rotate": "Issued a scoped replacement, stored it in the vault and redeployed; all green.",
    "investigate": "Audit log over the exposure window: only our CI's addresses used it.",
    "notify": "Told the owning team and the service's users in #sec-incidents.",
    "purge": "Rewrote history with git filter-repo, force-pushed; CI logs purged.",
    "verify": "Tried the old value against the API: 401.",
    "custom": "Done as the playbook says.",
}
COMMENTS = [
    "Revoked first; the rotation waits on the deploy window this afternoon.",
    "The key was only used by the nightly export job, which is paused for now.",
    "Checked with the owning team: nobody else had a copy.",
    "The commit was on a feature branch that was never merged; purging it is quick.",
]
SUMMARY = "Key revoked and rotated; no misuse found in the access logs."
# Late steps were done at most this long after their deadline: the timer sweep nags every period
# while a step is overdue, and a demo of weeks-old overdue steps tells nobody anything.
MAX_LATE_MINUTES = 240


class _Story:
    """Replays the incidents' history in time order as the app would have recorded it: each
    action writes what the incident services write (incidents/services.py: step_assign,
    step_complete and its status recomputation, incident_comment, incident_close), dated when it
    happened, and the real timer sweep (incidents.timers.sweep) runs at every moment a deadline
    passed, so overdue steps carry the escalations, notifications and timeline entries the
    running app would have made. The services themselves can't be used: they date everything
    now."""

    def __init__(self, now):
        self.now = now
        self.period = timedelta(minutes=settings.LEAKLINE_NAG_PERIOD_MINUTES)
        self.actions: list[tuple] = []  # (at, order, function, args)
        self.ticks: set = set()

    def add(self, at, function, *args) -> None:
        self.actions.append((at, len(self.actions), function, args))

    def deadlines_until(self, step, end) -> None:
        """The sweep runs when ``step`` becomes due soon, overdue, and every nag period after,
        while it is open (until ``end``)."""
        end = min(end, self.now)
        for at in (step.due_soon_at, step.due_at):
            if at < end:
                self.ticks.add(at)
        at = step.due_at + self.period
        while at < end:
            self.ticks.add(at)
            at += self.period

    def run(self) -> None:
        from incidents.timers import sweep

        # Actions before the sweep at the same instant: a step done at its deadline is on time.
        queue = sorted(
            [(at, 0, order, function, args) for at, order, function, args in self.actions]
            + [(at, 1, 0, None, ()) for at in self.ticks],
            key=lambda item: item[:3],
        )
        timers_log = logging.getLogger("incidents.timers")
        level = timers_log.level
        timers_log.setLevel(logging.WARNING)  # not one log line per replayed sweep
        try:
            for at, _kind, _order, function, args in queue:
                if function is not None:
                    function(*args, at)
                    continue
                last = Notification.objects.order_by("-pk").values_list("pk", flat=True).first()
                sweep(now=at)
                # Sent back then (the outbox would have sent them within seconds).
                Notification.objects.filter(
                    pk__gt=last or 0, status=NotificationStatus.PENDING
                ).update(
                    status=NotificationStatus.SENT,
                    attempts=1,
                    created_at=at,
                    next_attempt_at=at,
                    sent_at=at + timedelta(seconds=3),
                )
        finally:
            timers_log.setLevel(level)


def _event(incident, kind, message, at, *, actor=None, step=None, **data):
    TimelineEvent.objects.create(
        incident=incident,
        step=step,
        kind=kind,
        actor=actor,
        message=message,
        data=data,
        created_at=at,
    )


# Each action below writes what its service in incidents/services.py writes. They work on the
# incident and steps _plan loaded (``incident.demo_steps``, ``step.incident`` the same object):
# only these functions change them while the story runs, the sweep only their escalation columns.


def _assign(step, by, assignee, at) -> None:
    # services.step_assign
    step.assignee = assignee
    step.save(update_fields=["assignee"])
    step.incident.participants.add(assignee)
    _event(
        step.incident,
        "step_assigned",
        f"Step {step.position} assigned to {_user_label(assignee)}",
        at,
        actor=by,
        step=step,
        assignee=assignee.pk,
    )


def _status(incident, by, at) -> None:
    # services._recompute_status
    steps = incident.demo_steps
    revokes = [s.completed_at or s.skipped_at for s in steps if s.action == "revoke" and s.is_done]
    if all(s.is_done for s in steps if s.required):
        new = IncidentStatus.REMEDIATED
    elif revokes:
        new = IncidentStatus.CONTAINED
    else:
        new = IncidentStatus.OPEN
    was_contained = incident.contained_at
    incident.contained_at = min(revokes, default=None)
    incident.remediated_at = (incident.remediated_at or at) if new == "remediated" else None
    old, incident.status = incident.status, new
    incident.save(update_fields=["status", "contained_at", "remediated_at"])
    if incident.contained_at and not was_contained:
        Secret.objects.filter(incidentsecret__incident=incident).exclude(validity="revoked").update(
            validity="revoked"
        )
    if old != new:
        _event(incident, "status_changed", f"Status {old} → {new}", at, actor=by, old=old, new=new)


def _complete(step, by, note, at) -> None:
    # services.step_complete
    step.completed_at, step.completed_by, step.evidence_note = at, by, note
    step.save(update_fields=["completed_at", "completed_by", "evidence_note"])
    late = "" if at <= step.due_at else " (late)"
    _event(
        step.incident,
        "step_completed",
        f"Step {step.position} “{step.title}” done{late}",
        at,
        actor=by,
        step=step,
        note=note,
        url="",
        event=None,
    )
    _status(step.incident, by, at)


def _comment(incident, by, text, at) -> None:
    # services.incident_comment
    _event(incident, "comment", text, at, actor=by)


def _close(incident, by, at) -> None:
    # services.incident_close
    for step in sorted(incident.demo_steps, key=lambda s: s.position):
        if not step.is_done:
            step.skipped_at, step.skipped_reason = at, "incident closed"
            step.save(update_fields=["skipped_at", "skipped_reason"])
            _event(
                incident,
                "step_skipped",
                f"Step {step.position} “{step.title}” skipped: incident closed",
                at,
                actor=by,
                step=step,
                reason="incident closed",
            )
    _status(incident, by, at)
    incident.status, incident.closed_at, incident.summary = IncidentStatus.CLOSED, at, SUMMARY
    incident.save(update_fields=["status", "closed_at", "summary"])
    IncidentSecret.objects.filter(incident=incident, active=True).update(active=False)
    _event(incident, "closed", "Incident closed", at, actor=by, summary=SUMMARY)
    # Closed as a lead closes one whose credential is revoked: its findings resolved with it
    # (resolve_findings), so that the metrics' closed findings and times to fix have a history.
    Finding.objects.filter(
        secret__incidentsecret__incident=incident, status__in=("open", "triaged")
    ).update(
        status="resolved",
        resolution="fixed",
        resolution_comment=f"{incident.reference} closed: {SUMMARY}"[:1000],
        resolved_by=by,
        resolved_at=at,
        updated_at=at,
    )


def _plan(story, r, incident, lead, engineers, closed) -> None:
    """Who does which step when, for one incident opened at ``incident.opened_at``: steps in
    dependency order, fast or slow teams, late ones at most MAX_LATE_MINUTES late; a closed
    incident closes after its last required step, an open one has done what was due long ago."""
    now = story.now
    opened = incident.opened_at
    steps = list(incident.steps.order_by("position"))
    incident.demo_steps = steps
    for step in steps:
        step.incident = incident
    owner = incident.owner
    speed = r.choice([0.3, 0.6, 1.0, 1.5, 3.0])  # fast and slow teams
    at = opened + timedelta(minutes=r.uniform(3, 15))
    assignees = {}
    for step in steps:
        assignees[step.position] = owner if owner in engineers and r.random() < 0.7 else None
        assignees[step.position] = assignees[step.position] or r.choice(engineers)
        story.add(at, _assign, step, lead, assignees[step.position])
        at += timedelta(seconds=r.uniform(10, 60))
    assigned = at
    done = {}
    for step in steps:
        if any(dep not in done for dep in step.depends_on or []):
            continue
        floor = max([assigned, *(done[dep] for dep in step.depends_on or [])]) + timedelta(
            minutes=r.uniform(5, 60)
        )
        t = max(opened + step.deadline * speed * r.uniform(0.2, 1.2), floor)
        if t > step.due_at:
            t = max(step.due_at + timedelta(minutes=r.uniform(5, MAX_LATE_MINUTES)), floor)
        if t >= now - timedelta(minutes=10):
            continue
        overdue_long = step.due_at + timedelta(minutes=MAX_LATE_MINUTES) < now
        # Closed: every required step and some optional ones; open: what is long overdue, and
        # some of the rest.
        wanted = (
            (step.required or r.random() < 0.6) if closed else (overdue_long or r.random() < 0.5)
        )
        if wanted:
            done[step.position] = t
    end = now
    if closed and all(s.position in done for s in steps if s.required):
        last = max(done[s.position] for s in steps if s.required)
        end = min(last + timedelta(hours=r.uniform(1, 6)), now - timedelta(minutes=5))
        done = {pos: t for pos, t in done.items() if t < end}
        story.add(end, _close, incident, lead)
    for step in steps:
        if step.position in done:
            by = assignees[step.position]
            story.add(done[step.position], _complete, step, by, EVIDENCE.get(step.action, ""))
        story.deadlines_until(step, done.get(step.position, end))
    revoked = next(
        (done[s.position] for s in steps if s.action == "revoke" and s.position in done), None
    )
    said = revoked + timedelta(minutes=r.uniform(2, 30)) if revoked else end
    if said < end and r.random() < 0.4:
        by = next(assignees[s.position] for s in steps if s.action == "revoke")
        story.add(said, _comment, incident, by, r.choice(COMMENTS))


def _history(r: random.Random, lead: User, engineers: list[User], now) -> None:
    """Four months of closed incidents and a few recent open ones, with realistic response
    times, told the way the app records them (see _Story)."""
    from incidents.services import IncidentError, incident_open

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
    _import(history, "gitleaks", _gitleaks_report(r, batch), now)
    secrets = Secret.objects.filter(findings__source=history).distinct().order_by("id")
    story = _Story(now)
    for i, secret in enumerate(secrets):
        if secret.incidents.exists():
            continue
        try:
            incident = incident_open(
                secrets=[secret], opened_by=lead, owner=r.choice([lead, *engineers])
            )
        except IncidentError:
            continue
        closed = i % 5 != 0  # one in five still open
        longest = max(s.deadline for s in incident.steps.all())
        if closed:  # long enough ago for every step to be done
            age = longest + timedelta(days=r.uniform(2, 100))
        else:  # the last few days
            age = timedelta(hours=r.uniform(3, 24 * 8))
        opened = now - age
        # The history happened back then: its findings were seen before the incident opened,
        # the secret was exposed no later than that, and its timeline says so.
        seen = opened - timedelta(hours=r.uniform(1, 48))
        exposed = min(secret.exposed_since or seen, seen)
        Incident.objects.filter(pk=incident.pk).update(opened_at=opened, exposed_since=exposed)
        secret.findings.update(first_seen_at=seen, created_at=seen)
        FindingSighting.objects.filter(finding__secret=secret).update(last_seen_at=seen)
        Secret.objects.filter(pk=secret.pk).update(first_seen_at=seen, exposed_since=exposed)
        SecretSighting.objects.filter(secret=secret).update(last_seen_at=seen)
        TimelineEvent.objects.filter(secret=secret).exclude(kind="incident_opened").update(
            created_at=seen
        )
        TimelineEvent.objects.filter(secret=secret, kind="incident_opened").update(
            created_at=opened
        )
        TimelineEvent.objects.filter(incident=incident).update(created_at=opened)
        steps = list(incident.steps.all())
        for step in steps:  # deadlines counted from the opening, as incident_open does
            step.started_at = opened
            step.due_at = opened + step.deadline
            step.due_soon_at = opened + step.deadline * DUE_SOON_FRACTION
        Step.objects.bulk_update(steps, ["started_at", "due_at", "due_soon_at"])
        incident.refresh_from_db()
        _plan(story, r, incident, lead, engineers, closed)
    story.run()


@transaction.atomic
def seed(now=None) -> bool:
    """Load the demo unless it is there (then False). ``now``: the moment the demo's history
    ends (default: now)."""
    if User.objects.filter(username="lead").exists():
        return False
    now = now or timezone.now()
    r = random.Random(20261122)
    people = {}
    password = make_password(PASSWORD)
    for username, first, last, group in [
        ("lead", "Lena", "Lindqvist", roles.LEAD),
        ("lead2", "Sam", "Sato", roles.LEAD),
        ("engineer", "Erik", "Eriksen", roles.ENGINEER),
        ("engineer2", "Ada", "Okafor", roles.ENGINEER),
        ("manager", "Maria", "Moreau", roles.MANAGER),
    ]:
        user = User.objects.create_user(
            username, f"{username}@demo.leakline.test", first_name=first, last_name=last
        )
        user.password = password  # one hash for all (the demo password is public): faster
        user.save(update_fields=["password"])
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

    _history(r, people["lead"], [people["engineer"], people["engineer2"]], now)

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
    _import(sources["gitleaks-ci"], "gitleaks", _gitleaks_report(r, current), now)
    _import(
        sources["trufflehog-nightly"],
        "trufflehog",
        _trufflehog_report(
            [(aws, "AWS", True), (aws2, "AWS", False), (_fake(r, "github"), "Github", True)]
        ),
        now,
    )
    _import(sources["prowler-aws"], "leakline", _posture_report(), now)
    return True
