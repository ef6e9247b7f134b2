"""The import pipeline through its CLI: one secret per credential, idempotent, set-based."""

import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import ANY

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from hygiene.filters import page_findings, parse_filter
from hygiene.fingerprints import fingerprint
from hygiene.models import (
    Finding,
    ImportRun,
    OwnershipRule,
    Secret,
    SecretSighting,
    Source,
    StagedFinding,
    StagedReference,
    Team,
)
from hygiene.selectors import secret_timeline
from hygiene.services.reconcile import ANALYZE_FROM_ROWS, RECONCILE_LOCK
from hygiene.services.sources import source_delete
from hygiene.services.staging import BATCH
from incidents.models import TimelineEvent
from tests.hygiene import reports
from tests.sqlite_run import assert_module_passes_on_sqlite

AWS_KEY = "AKIAQYLPMN5HHHFPZAM2"  # a fake key in AWS's format
AWS_KEY_2 = "AKIA2OGYBAH6STMMNXNN"
GH_TOKEN = "ghp_4Xr9sP0qLm2Nv8Bt6Yw1Zk3Jc5Hd7Fg9Ua0E"
GITHUB_ALERTS = (
    Path(__file__).resolve().parents[1]
    / "fixtures/github-secret-scanning/github_secrets_detection_report_many_vul.json"
)

pytestmark = pytest.mark.django_db


def run_cli(tmp_path, data: bytes, *, source: str, fmt: str, name="report.json"):
    path = tmp_path / name
    path.write_bytes(data)
    out = io.StringIO()
    call_command("import_findings", str(path), source=source, format_key=fmt, json=True, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def scanners(db):
    return {
        key: Source.objects.create(slug=key, name=key, kind="scanner", default_format=key)
        for key in ("gitleaks", "trufflehog", "detect-secrets")
    }


def test_a_report_becomes_secrets_and_findings(tmp_path, scanners):
    data = reports.gitleaks(
        [
            {"secret": AWS_KEY, "file": "app/settings.py", "line": 3},
            {"secret": AWS_KEY, "file": "deploy/env.sh", "line": 9},
            {"secret": GH_TOKEN, "file": "ci/release.yml", "line": 4, "rule": "github-pat"},
        ]
    )
    summary = run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    assert summary["status"] == "succeeded"
    assert (summary["received"], summary["created"], summary["updated"]) == (3, 3, 0)
    assert Secret.objects.count() == 2
    aws = Secret.objects.get(fingerprint=fingerprint(AWS_KEY))
    assert aws.secret_type == "aws-access-key"
    assert aws.finding_count == 2
    assert aws.preview == "AKIA…M2"
    assert AWS_KEY not in aws.preview
    assert aws.exposed_since == datetime(2024, 3, 1, 10, tzinfo=UTC)
    gh = Secret.objects.get(fingerprint=fingerprint(GH_TOKEN))
    assert gh.secret_type == "github-token"
    # The AWS key id is a reference (for CloudTrail events), kept as a hash and a redacted label.
    ref = aws.references.get(kind="aws-access-key-id")
    assert ref.display == "AKIA…ZAM2"
    assert StagedFinding.objects.count() == StagedReference.objects.count() == 0
    # Its timeline starts with the import that first reported it (read from the secret).
    run = ImportRun.objects.get(pk=summary["id"])
    first = secret_timeline(aws)[-1]
    assert (first.kind, first.created_at) == ("secret.first_seen", aws.first_seen_at)
    assert (first.message, first.actor_label) == (
        "First seen by gitleaks",
        f"gitleaks import #{run.pk}",
    )
    assert not TimelineEvent.objects.exists()  # one stored row per new secret no more


def test_imported_findings_are_found_by_search_and_so_are_those_written_after(tmp_path, scanners):
    # Search goes through the distinct values of repo/path/rule (hygiene.search_terms): an
    # import adds its findings' own, a re-scan its new ones, and a finding written another
    # way later in the same transaction (the ORM) still gets its own.
    def search(text):
        return set(parse_filter(QueryDict(f"q={text}")).apply(Finding.objects.all()))

    first = reports.gitleaks(
        [
            {"secret": AWS_KEY, "file": "deploy/kustomize-overlay.yaml", "rule": "zebra-key"},
            {"secret": GH_TOKEN, "file": "ci/release.yml", "rule": "github-pat"},
        ]
    )
    run_cli(tmp_path, first, source="gitleaks", fmt="gitleaks")
    overlay = Finding.objects.get(path="deploy/kustomize-overlay.yaml")
    assert search("KUSTOMIZE") == {overlay}
    assert search("zebra") == {overlay}
    rescan = reports.gitleaks(
        [
            {"secret": AWS_KEY, "file": "deploy/kustomize-overlay.yaml", "rule": "zebra-key"},
            {"secret": AWS_KEY_2, "file": "infra/terraform.tfvars", "rule": "aws-access-token"},
        ]
    )
    run_cli(tmp_path, rescan, source="gitleaks", fmt="gitleaks")
    tfvars = Finding.objects.get(path="infra/terraform.tfvars")
    assert search("terraform") == {tfvars}
    written = Finding.objects.create(
        secret=Secret.objects.get(fingerprint=fingerprint(GH_TOKEN)),
        source=scanners["trufflehog"],
        location_key="written-by-the-orm",
        rule="quokka-token",
        secret_type="api-key",
        path="tools/quokka.env",
        first_seen_at=datetime.now(UTC),
    )
    assert search("quokka") == {written}


@pytest.mark.parametrize("verified_first", [False, True])
def test_a_place_reported_again_verified_is_valid_whichever_line_came_first(
    tmp_path, scanners, verified_first
):
    # TruffleHog writes a line per (key id, secret) candidate pair of an AWS key, with the key
    # id as Raw: one place, and only the pair that verified says so.
    lines = [
        {"secret": AWS_KEY, "verified": False, "file": "infra/creds.ini", "line": 2},
        {"secret": AWS_KEY, "verified": True, "file": "infra/creds.ini", "line": 2},
        {"secret": AWS_KEY_2, "verified": False, "file": "infra/creds.ini", "line": 7},
    ]
    if verified_first:
        lines[:2] = lines[1::-1]
    summary = run_cli(tmp_path, reports.trufflehog(lines), source="trufflehog", fmt="trufflehog")
    assert (summary["received"], summary["created"]) == (3, 2)
    verified = Finding.objects.get(line=2)
    assert (verified.validity, verified.severity) == ("valid", "critical")
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY)).validity == "valid"
    unverified = Finding.objects.get(line=7)
    assert (unverified.validity, unverified.severity) == ("unknown", "high")


def test_one_secret_in_two_comments_is_two_findings_each_with_its_link(tmp_path, scanners):
    """TruffleHog's GitHub comments (and Postman environments, CI builds) have no file, line
    or commit: the link tells the places apart."""
    import importlib

    from django.apps import apps as django_apps

    from hygiene.fingerprints import secret_location_key

    def comment(link: str, user: str) -> str:
        data = {"link": link, "username": user, "repository": "webapp"}
        return json.dumps(
            {
                "SourceMetadata": {"Data": {"Github": data}},
                "SourceName": "trufflehog - github",
                "DetectorName": "Github",
                "DecoderName": "PLAIN",
                "Verified": True,
                "Raw": GH_TOKEN,
                "Redacted": "ghp_****",
            }
        )

    issue = "https://github.com/acme/webapp/issues/12#issuecomment-1877000001"
    pull = "https://github.com/acme/webapp/pull/40#issuecomment-1877000555"
    data = f"{comment(issue, 'octo-dev')}\n{comment(pull, 'other-dev')}\n".encode()
    summary = run_cli(tmp_path, data, source="trufflehog", fmt="trufflehog")
    assert summary["created"] == 2
    found = Finding.objects.filter(source__slug="trufflehog")
    assert {(f.url, f.author) for f in found} == {(issue, "octo-dev"), (pull, "other-dev")}
    assert len({f.secret_id for f in found}) == 1
    swapped = f"{comment(pull, 'other-dev')}\n{comment(issue, 'octo-dev')}\n".encode()
    again = run_cli(tmp_path, swapped, source="trufflehog", fmt="trufflehog", name="b.json")
    assert (again["created"], again["unchanged"], again["missing"]) == (0, 2, 0)
    # Stored before (one key for every link-only place), migration hygiene 0020 gives them
    # the key an import gives them now.
    first = found.get(url=issue)
    old = secret_location_key(first.secret.fingerprint, first.repo, "", None, "")
    Finding.objects.filter(pk=first.pk).update(location_key=old)
    migration = importlib.import_module(
        "hygiene.migrations.0020_places_without_a_file_keyed_by_link"
    )
    migration.rekey(django_apps, None)
    third = run_cli(tmp_path, data + b"\n", source="trufflehog", fmt="trufflehog", name="c.json")
    assert (third["created"], third["missing"]) == (0, 0)


def search_terms_holding(text: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM hygiene_searchterm WHERE strpos(value, %s) > 0", [text]
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("fmt", ["trufflehog", "sarif"])
def test_a_repository_cloned_with_a_token_is_stored_without_it(tmp_path, scanners, fmt):
    """A CI job's remote carries its job token (https://gitlab-ci-token:<token>@host/…), and
    TruffleHog's git source and Qodana's SARIF name the repository so: the token is neither
    shown nor searchable. Findings stored with it before lose it (migration hygiene 0023) and
    keep matching what the next scan reports."""
    import importlib

    from django.apps import apps as django_apps

    from hygiene.fingerprints import secret_location_key

    job_token = "glcbt-64_Zq8Xv3Lm9Pn2Rt6Yw1Kd4Hs7"
    remote = f"https://gitlab-ci-token:{job_token}@gitlab.example.com/acme/webapp.git"
    if fmt == "trufflehog":
        git = {"commit": "a" * 40, "file": "app/settings.py", "line": 4, "repository": remote}
        line = {
            "SourceMetadata": {"Data": {"Git": git}},
            "SourceName": "trufflehog - git",
            "DetectorName": "Github",
            "DecoderName": "PLAIN",
            "Verified": False,
            "Raw": GH_TOKEN,
        }
        data = json.dumps(line).encode() + b"\n"
    else:
        result = {
            "ruleId": "github-pat",
            "message": {"text": "GitHub PAT"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "app/settings.py"},
                        "region": {"startLine": 4, "snippet": {"text": GH_TOKEN}},
                    }
                }
            ],
        }
        run = {
            "tool": {"driver": {"name": "gitleaks", "rules": [{"id": "github-pat"}]}},
            "versionControlProvenance": [{"repositoryUri": remote, "revisionId": "a" * 40}],
            "results": [result],
        }
        data = json.dumps({"version": "2.1.0", "runs": [run]}).encode()
    Source.objects.get_or_create(slug=fmt, defaults={"name": fmt, "kind": "scanner"})
    assert run_cli(tmp_path, data, source=fmt, fmt=fmt)["created"] == 1
    found = Finding.objects.get(source__slug=fmt)
    assert found.repo == "https://gitlab.example.com/acme/webapp"
    assert not Finding.objects.filter(repo__contains=job_token).exists()
    terms = connection.vendor == "postgresql"  # search terms are PostgreSQL's
    if terms:
        assert search_terms_holding(job_token) == 0
        assert search_terms_holding(found.repo) == 1

    # As an import stored it before: with the token, keyed by that repository, searchable.
    fp = found.secret.fingerprint
    stored = remote.removesuffix(".git")
    old_key = secret_location_key(fp, stored, found.path, found.line, found.commit)
    Finding.objects.filter(pk=found.pk).update(repo=stored, location_key=old_key)
    if terms:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO hygiene_searchterm (value) VALUES (%s)", [stored])
    migration = importlib.import_module("hygiene.migrations.0023_repositories_without_credentials")
    migration.clean(django_apps, connection.schema_editor())
    found.refresh_from_db()
    assert found.repo == "https://gitlab.example.com/acme/webapp"
    if terms:
        assert search_terms_holding(job_token) == 0
    again = run_cli(tmp_path, data + b"\n", source=fmt, fmt=fmt, name="again.json")
    assert (again["created"], again["unchanged"]) == (0, 1)


def test_private_keys_in_two_repositories_baselines_are_two_secrets(tmp_path, db):
    """detect-secrets hashes the header its private-key plugin matched ("BEGIN RSA PRIVATE
    KEY"), the same for every key: two repositories' keys are two secrets, neither reused."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures/detect-secrets"
    for slug, name in (
        ("gen3", "real_gen3_cloud_automation_v0_13_1.json"),
        ("scratch", "tool_detect_secrets_1_5_0_audited.json"),
    ):
        Source.objects.create(slug=slug, name=slug, kind="scanner")
        run_cli(tmp_path, (fixtures / name).read_bytes(), source=slug, fmt="detect-secrets")
    keys = Finding.objects.filter(rule="Private Key")
    assert sorted(keys.values_list("source__slug", flat=True)) == ["gen3", "scratch"]
    assert len({f.secret_id for f in keys}) == 2
    assert not Secret.objects.filter(findings__in=keys, reused=True).exists()


def test_a_sources_repository_places_the_findings_of_reports_that_name_none(
    tmp_path, scanners, lead
):
    """TruffleHog names the repository, a detect-secrets baseline doesn't: without the
    source's repository the baseline's finding counted as a place of its own (its source), and
    a secret in one repository looked reused. With it, the finding is in that repository."""
    from hygiene.services.sources import source_update

    repo = "https://github.com/acme/infra"
    run_cli(
        tmp_path, reports.trufflehog([{"secret": AWS_KEY}]), source="trufflehog", fmt="trufflehog"
    )
    baseline = reports.detect_secrets([{"secret": AWS_KEY, "file": "deploy/env.sh", "line": 3}])
    run_cli(tmp_path, baseline, source="detect-secrets", fmt="detect-secrets")
    secret = Secret.objects.get(fingerprint=fingerprint(AWS_KEY))
    assert (secret.place_count, secret.reused) == (2, True)  # as it was: the source a place

    source = scanners["detect-secrets"]
    changed = source_update(
        source=source,
        by=lead,
        name=source.name,
        default_format=source.default_format,
        repo=" https://user:tok3n@github.com/acme/infra.git ",
    )
    assert changed == [f"repository {repo} (for reports that name none)"]
    source.refresh_from_db()
    assert source.repo == repo  # as a finding's repository is stored: no credentials, no .git
    Finding.objects.filter(source=source).delete()
    run_cli(
        tmp_path, baseline + b"\n", source="detect-secrets", fmt="detect-secrets", name="b.json"
    )
    found = Finding.objects.get(source=source)
    assert found.repo == repo
    secret.refresh_from_db()
    assert (secret.place_count, secret.reused) == (1, False)
    # A report that names its repository keeps it.
    other = reports.trufflehog([{"secret": AWS_KEY_2, "repo": "https://github.com/acme/web"}])
    scanners["trufflehog"].repo = repo
    scanners["trufflehog"].save()
    run_cli(tmp_path, other, source="trufflehog", fmt="trufflehog", name="c.json")
    assert Finding.objects.get(secret__fingerprint=fingerprint(AWS_KEY_2)).repo == (
        "https://github.com/acme/web"
    )


def test_the_same_report_twice_creates_nothing(tmp_path, scanners):
    data = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}])
    first = run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    again = run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    assert again["id"] == first["id"] and again["duplicate"] is True
    # A new scan with the same findings (another payload) reconciles to "unchanged".
    rescan = run_cli(tmp_path, data + b"\n", source="gitleaks", fmt="gitleaks")
    assert rescan["id"] != first["id"]
    assert (rescan["created"], rescan["updated"], rescan["unchanged"]) == (0, 0, 2)
    assert Finding.objects.count() == 2 and Secret.objects.count() == 2


def test_the_same_bytes_as_a_full_scan_or_another_format_are_another_import(scanners):
    """A partial import, then the very same bytes as a full scan: the full scan runs (and
    marks what it doesn't report); the same bytes sent as another format are read as that."""
    from hygiene.services.imports import ImportFailed, import_report

    source = scanners["gitleaks"]
    Finding.objects.all().delete()
    import_report(
        source=source,
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": AWS_KEY_2, "file": "old/gone.env"}])),
        via="cli",
    )
    data = reports.gitleaks([{"secret": AWS_KEY}])

    def send(fmt: str, full_scan: bool):
        return import_report(
            source=source, format_key=fmt, stream=io.BytesIO(data), via="cli", full_scan=full_scan
        )

    partial = send("gitleaks", False)
    assert send("gitleaks", False).pk == partial.pk  # the same import: a duplicate
    full = send("gitleaks", True)
    assert full.pk != partial.pk and not getattr(full, "duplicate", False)
    assert Finding.objects.get(path="old/gone.env").missing_since is not None
    with pytest.raises(ImportFailed, match="gitleaks"):
        send("trufflehog", True)  # read as TruffleHog, which it is not


def test_a_report_sent_again_after_another_is_imported_again(tmp_path, scanners):
    # Day 1 finds a leak, day 2 finds none, day 3 finds it again: day 3's report is byte for
    # byte day 1's, and it is news (the finding reopens), not a duplicate of day 1.
    leak = reports.gitleaks([{"secret": AWS_KEY}])
    day1 = run_cli(tmp_path, leak, source="gitleaks", fmt="gitleaks")
    day2 = run_cli(tmp_path, b"[]", source="gitleaks", fmt="gitleaks")
    assert (day2["resolved"], day2["missing"]) == (0, 1)
    day3 = run_cli(tmp_path, leak, source="gitleaks", fmt="gitleaks")
    assert day3["id"] not in (day1["id"], day2["id"]) and day3["duplicate"] is False
    assert Finding.objects.get().missing_since is None
    # Right after itself it is a duplicate again.
    again = run_cli(tmp_path, leak, source="gitleaks", fmt="gitleaks")
    assert again["id"] == day3["id"] and again["duplicate"] is True
    runs = ImportRun.objects.filter(source__slug="gitleaks").order_by("pk")
    assert [r.follows_run for r in runs] == [0, day1["id"], day2["id"]]


def test_no_incident_for_a_valid_secret_the_tool_itself_dismissed(tmp_path, scanners):
    alerts = json.loads(GITHUB_ALERTS.read_text())
    alerts = [a for a in alerts if a.get("secret")][:2]
    for alert in alerts:
        alert["validity"] = "active"
    alerts[0].update(state="resolved", resolution="false_positive")
    Source.objects.create(slug="gh", name="gh", kind="scanner")
    run_cli(tmp_path, json.dumps(alerts).encode(), source="gh", fmt="github-secret-scanning")
    dismissed, open_ = (Secret.objects.get(fingerprint=fingerprint(a["secret"])) for a in alerts)
    assert dismissed.validity == open_.validity == "valid"
    assert dismissed.findings.get().status == "dismissed"
    assert not dismissed.incidents.exists()
    assert open_.incidents.get().auto_opened


def test_one_secret_across_three_scanners_including_a_sha1_only_one(tmp_path, scanners):
    run_cli(tmp_path, reports.gitleaks([{"secret": AWS_KEY}]), source="gitleaks", fmt="gitleaks")
    run_cli(
        tmp_path,
        reports.trufflehog([{"secret": AWS_KEY}]),
        source="trufflehog",
        fmt="trufflehog",
        name="th.jsonl",
    )
    run_cli(
        tmp_path,
        reports.detect_secrets([{"secret": AWS_KEY}]),
        source="detect-secrets",
        fmt="detect-secrets",
        name=".secrets.baseline",
    )
    assert Secret.objects.count() == 1
    secret = Secret.objects.get()
    assert secret.finding_count == 3
    assert set(secret.findings.values_list("source__slug", flat=True)) == set(scanners)
    # TruffleHog verified it: the secret is valid, and severity rose (high → critical).
    assert secret.validity == "valid"
    assert secret.severity == "critical"
    # TruffleHog's ExtraData gave the IAM user's ARN and the account: references to match on.
    kinds = set(secret.references.values_list("kind", flat=True))
    assert {"aws-access-key-id", "arn"} <= kinds
    # Exposed since the earliest evidence: TruffleHog's 2023 commit.
    assert secret.exposed_since.year == 2023


def test_a_secret_in_two_repositories_is_flagged_reused(tmp_path, scanners):
    run_cli(
        tmp_path,
        reports.trufflehog(
            [
                {"secret": AWS_KEY, "repo": "https://github.com/acme/infra.git"},
                {"secret": AWS_KEY, "repo": "https://github.com/acme/payments.git"},
                {"secret": AWS_KEY_2, "repo": "https://github.com/acme/infra.git", "line": 8},
            ]
        ),
        source="trufflehog",
        fmt="trufflehog",
        name="th.jsonl",
    )
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY)).reused is True
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY_2)).reused is False


def test_full_scans_mark_the_missing_and_resolved_findings_reopen(tmp_path, scanners):
    both = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}])
    run_cli(tmp_path, both, source="gitleaks", fmt="gitleaks")
    only_aws = reports.gitleaks([{"secret": AWS_KEY}])
    summary = run_cli(tmp_path, only_aws, source="gitleaks", fmt="gitleaks")
    assert summary["missing"] == 1
    gh = Finding.objects.get(secret__fingerprint=fingerprint(GH_TOKEN))
    assert gh.missing_since is not None and gh.status == "open"  # never deleted
    aws = Finding.objects.get(secret__fingerprint=fingerprint(AWS_KEY))
    aws.status, aws.resolution = "resolved", "fixed"
    aws.save()
    gh.status, gh.resolution, gh.resolution_comment = "dismissed", "used_in_tests", "fixture"
    gh.save()
    summary = run_cli(tmp_path, both + b" ", source="gitleaks", fmt="gitleaks")
    assert summary["reopened"] == 1
    # gh was missing (updated: seen again), aws reopened: neither is "unchanged".
    assert (summary["updated"], summary["unchanged"]) == (1, 0)
    aws.refresh_from_db()
    gh.refresh_from_db()
    assert aws.status == "open" and aws.resolution == ""
    # Seen again now, whatever the hourly refresh of unchanged findings would have said.
    assert aws.last_seen_at == ImportRun.objects.latest("pk").started_at
    assert gh.status == "dismissed" and gh.missing_since is None
    assert TimelineEvent.objects.filter(finding=aws, kind="finding.reopened").count() == 1


def test_a_revoked_secrets_resolved_finding_reported_again_stays_resolved(tmp_path, scanners):
    """A history scan reports every commit it ever saw: after an incident revoked the key and
    closed (its findings resolved), each scheduled scan reopened them all. Unless the tool
    verifies that the value works: then the revoke didn't take."""
    unverified = reports.trufflehog([{"secret": AWS_KEY, "verified": False}])
    run_cli(tmp_path, unverified, source="trufflehog", fmt="trufflehog", name="th.jsonl")
    secret = Secret.objects.get(fingerprint=fingerprint(AWS_KEY))
    finding = secret.findings.get()
    Secret.objects.filter(pk=secret.pk).update(validity="revoked")
    Finding.objects.filter(pk=finding.pk).update(status="resolved", resolution="fixed")
    summary = run_cli(
        tmp_path, unverified + b"\n", source="trufflehog", fmt="trufflehog", name="th.jsonl"
    )
    finding.refresh_from_db()
    assert (summary["reopened"], finding.status, finding.resolution) == (0, "resolved", "fixed")
    assert not TimelineEvent.objects.filter(finding=finding, kind="finding.reopened").exists()
    verified = reports.trufflehog([{"secret": AWS_KEY, "verified": True}])
    summary = run_cli(tmp_path, verified, source="trufflehog", fmt="trufflehog", name="th.jsonl")
    finding.refresh_from_db()
    # (triaged: a valid key's finding is taken into the incident the policy opens)
    assert (summary["reopened"], finding.is_open) == (1, True)
    # It works: the secret says so (not "revoked" for good), and the policy opens an incident.
    secret.refresh_from_db()
    assert secret.validity == "valid"
    assert secret.incidentsecret_set.filter(active=True).exists()
    # A secret that isn't revoked: reported again, its resolved finding reopens (as before).
    Secret.objects.filter(pk=secret.pk).update(validity="unknown")
    Finding.objects.filter(pk=finding.pk).update(status="resolved", resolution="fixed")
    summary = run_cli(
        tmp_path, unverified + b"\n\n", source="trufflehog", fmt="trufflehog", name="th.jsonl"
    )
    assert summary["reopened"] == 1


@pytest.mark.django_db(transaction=True)
def test_set_based_import_checks_its_teams_once_and_the_rest_still_per_row(tmp_path):
    """An import's new findings and secrets name the teams of the ownership rules, which its
    reconcile locks (FOR KEY SHARE) itself: their triggers don't queue a check per row at
    commit (4.5 s of a 100,000-finding first import). Every other write is checked."""
    import importlib

    from hygiene.services.reconcile import TEAMS_LOCKED

    checks = importlib.import_module("hygiene.migrations.0013_references_checked_by_triggers")
    scanners = {"gitleaks": Source.objects.create(slug="gitleaks", name="gl", kind="scanner")}
    team = Team.objects.create(name="Payments", slug="payments")
    other_team = Team.objects.create(name="Platform", slug="platform")
    with connection.cursor() as cursor:
        # A team check run at commit fails the import, for this test: none may run.
        cursor.execute(
            checks.FORWARD[0].replace(
                "BEGIN", "BEGIN IF TG_ARGV[0] = 'hygiene_team' THEN RAISE 'checked'; END IF;", 1
            )
        )
    try:
        owned_import(tmp_path, scanners, team, other_team)  # and committed
    finally:
        with connection.cursor() as cursor:
            cursor.execute(checks.FORWARD[0])
    assert Finding.objects.filter(team__isnull=False).count() == 3
    finding = Finding.objects.first()
    # The triggers still check a write that names a team that doesn't exist...
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.filter(pk=finding.pk).update(team_id=10**9)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # ...and pass over a write made while an import says it locked the teams it names.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT set_config('{TEAMS_LOCKED}', 'on', true)")
        Finding.objects.filter(pk=finding.pk).update(team_id=10**9)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)


def test_a_tools_full_scan_marks_missing_only_what_that_tool_found(tmp_path, scanners):
    """Two tools report to one source: one's full scan says nothing of the other's findings.
    A finding from before formats were kept may be marked by any full scan, as then."""
    run_cli(tmp_path, reports.gitleaks([{"secret": GH_TOKEN}]), source="gitleaks", fmt="gitleaks")
    older = Finding.objects.get()
    assert older.format == "gitleaks"
    Finding.objects.filter(pk=older.pk).update(format="")  # imported before formats were kept
    run_cli(
        tmp_path,
        reports.gitleaks([{"secret": AWS_KEY_2, "file": "b.py"}]),
        source="gitleaks",
        fmt="gitleaks",
        name="second.json",
    )
    legacy, found_by_gitleaks = Finding.objects.order_by("pk")
    assert legacy.missing_since is not None  # a full scan of the source's own tool
    summary = run_cli(
        tmp_path,
        reports.trufflehog([{"secret": AWS_KEY}]),
        source="gitleaks",
        fmt="trufflehog",
        name="th.jsonl",
    )
    assert summary["missing"] == 0
    found_by_gitleaks.refresh_from_db()
    assert found_by_gitleaks.missing_since is None
    assert Finding.objects.get(secret__fingerprint=fingerprint(AWS_KEY)).format == "trufflehog"
    # The next gitleaks full scan that no longer reports its finding marks it, not trufflehog's.
    summary = run_cli(
        tmp_path, reports.gitleaks([]), source="gitleaks", fmt="gitleaks", name="third.json"
    )
    assert summary["missing"] == 1
    found_by_gitleaks.refresh_from_db()
    assert found_by_gitleaks.missing_since is not None
    assert Finding.objects.get(format="trufflehog").missing_since is None


def test_a_rescan_counts_what_it_changed_created_and_left_alone(tmp_path, scanners):
    """Within the hour: the finding whose verification changed is updated, the new one is
    created, the other is left as it was (its row untouched)."""
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        first = reports.trufflehog(
            [{"secret": AWS_KEY, "verified": False}, {"secret": AWS_KEY_2, "verified": False}]
        )
        run_cli(tmp_path, first, source="trufflehog", fmt="trufflehog", name="a.jsonl")
    before = {f.secret.fingerprint: f for f in Finding.objects.select_related("secret")}
    with time_machine.travel(datetime(2026, 11, 1, 8, 10, tzinfo=UTC), tick=False):
        rescan = reports.trufflehog(
            [
                {"secret": AWS_KEY, "verified": True},
                {"secret": AWS_KEY_2, "verified": False},
                {"secret": GH_TOKEN, "detector": "Github", "verified": False},
            ]
        )
        summary = run_cli(tmp_path, rescan, source="trufflehog", fmt="trufflehog", name="b.jsonl")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (1, 1, 1)
    after = {f.secret.fingerprint: f for f in Finding.objects.select_related("secret")}
    verified = after[fingerprint(AWS_KEY)]
    assert verified.validity == "valid"
    assert verified.updated_at == datetime(2026, 11, 1, 8, 10, tzinfo=UTC)
    assert after[fingerprint(AWS_KEY_2)].updated_at == before[fingerprint(AWS_KEY_2)].updated_at
    assert after[fingerprint(GH_TOKEN)].first_seen_at == datetime(2026, 11, 1, 8, 10, tzinfo=UTC)
    # The same findings again: nothing to update, nothing to create.
    with time_machine.travel(datetime(2026, 11, 1, 8, 20, tzinfo=UTC), tick=False):
        again = run_cli(
            tmp_path, rescan + b"\n", source="trufflehog", fmt="trufflehog", name="c.jsonl"
        )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)


def test_a_rescan_updates_the_secrets_it_changes_and_only_those(tmp_path, scanners):
    """Within the hour, a re-scan of the same source: a secret found verified in one of its two
    places turns valid (and its severity rises), one found in an earlier commit was exposed
    since then, a generic secret takes the type a later rule gives it; the secret with nothing
    new keeps its row as it was. (A secret's type and preview come from its first row in the
    report.)"""
    gen_value = "q8Zt3vLw0Rk5nYp2Xc7Hs1Jd"
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        run_cli(
            tmp_path,
            reports.gitleaks(
                [
                    {"secret": AWS_KEY, "file": "a.env", "commit": "1" * 40},
                    {"secret": AWS_KEY, "file": "b.env", "commit": "1" * 40},
                    {"secret": AWS_KEY_2, "file": "c.env", "date": "2024-03-01T10:00:00Z"},
                    {"secret": GH_TOKEN, "file": "d.env", "rule": "github-pat"},
                    {"secret": gen_value, "file": "e.env", "rule": "generic-api-key"},
                ]
            ),
            source="gitleaks",
            fmt="gitleaks",
        )
    before = {s.fingerprint: s for s in Secret.objects.all()}
    assert before[fingerprint(AWS_KEY)].validity == "unknown"
    assert before[fingerprint(gen_value)].secret_type == "api-key"
    with time_machine.travel(datetime(2026, 11, 1, 8, 10, tzinfo=UTC), tick=False):
        run_cli(
            tmp_path,
            reports.gitleaks(
                [
                    {"secret": AWS_KEY, "file": "a.env", "commit": "1" * 40},
                    {"secret": AWS_KEY, "file": "b.env", "commit": "1" * 40},
                    {"secret": AWS_KEY_2, "file": "c.env", "date": "2024-03-01T10:00:00Z"},
                    {
                        "secret": AWS_KEY_2,
                        "file": "c.env",
                        "commit": "2" * 40,
                        "date": "2023-01-09T10:00:00Z",
                    },
                    {"secret": GH_TOKEN, "file": "d.env", "rule": "github-pat"},
                    {"secret": gen_value, "file": "f.env", "rule": "stripe-access-token"},
                    {"secret": gen_value, "file": "e.env", "rule": "generic-api-key"},
                ]
            ),
            source="gitleaks",
            fmt="gitleaks",
        )
        run_cli(
            tmp_path,
            reports.trufflehog([{"secret": AWS_KEY, "verified": True, "file": "b.env"}]),
            source="gitleaks",
            fmt="trufflehog",
            name="verified.jsonl",
        )
    after = {s.fingerprint: s for s in Secret.objects.all()}
    moment = datetime(2026, 11, 1, 8, 10, tzinfo=UTC)
    aws = after[fingerprint(AWS_KEY)]
    assert (aws.validity, aws.severity, aws.updated_at) == ("valid", "critical", moment)
    assert after[fingerprint(AWS_KEY_2)].exposed_since == datetime(2023, 1, 9, 10, tzinfo=UTC)
    assert after[fingerprint(gen_value)].secret_type == "stripe-key"
    unchanged = after[fingerprint(GH_TOKEN)]
    assert unchanged.updated_at == before[fingerprint(GH_TOKEN)].updated_at
    assert unchanged.last_seen_at == before[fingerprint(GH_TOKEN)].last_seen_at


def test_a_daily_rescan_sights_each_secret_without_rewriting_it(tmp_path, scanners):
    """A secret's last sighting moves with each scan that reports it, hourly at most, in a
    row of its own: the secret's row (and its indexes) stays as it was when nothing else
    changes. One the scan changes is sighted now; one without a sighting (made by hand) gets
    one; a secret found first by another source is sighted by this one's first scan too."""
    data = reports.gitleaks([{"secret": AWS_KEY, "file": "a.env"}, {"secret": GH_TOKEN}])
    t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)

    def scan(at, payload=data, source="gitleaks", fmt="gitleaks"):
        with time_machine.travel(at, tick=False):
            run_cli(tmp_path, payload + b"\n" * scan.n, source=source, fmt=fmt)
        scan.n += 1

    def rows():  # a row's version (PostgreSQL's xmin: any UPDATE changes it) and updated_at
        version = "xmin::text" if connection.vendor == "postgresql" else "''"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT fingerprint, {version}, updated_at FROM hygiene_secret")
            return {fp: (xmin, updated) for fp, xmin, updated in cursor.fetchall()}

    def seen(value):
        return (
            Secret.objects.select_related("sighting")
            .get(fingerprint=fingerprint(value))
            .last_seen_at
        )

    scan.n = 0
    scan(t0)
    assert seen(AWS_KEY) == seen(GH_TOKEN) == t0
    assert SecretSighting.objects.count() == 2
    before = rows()
    scan(t0 + timedelta(minutes=50))  # within the hour: nothing moves
    assert seen(AWS_KEY) == t0 and rows() == before
    day = t0 + timedelta(days=1)
    scan(day)
    assert seen(AWS_KEY) == seen(GH_TOKEN) == day
    assert rows() == before  # not one secret row rewritten
    # A change is written, and sighted, within the hour; a secret without a sighting gets one.
    SecretSighting.objects.filter(secret__fingerprint=fingerprint(GH_TOKEN)).delete()
    verified = reports.trufflehog([{"secret": AWS_KEY, "verified": True, "file": "a.env"}])
    scan(day + timedelta(minutes=10), verified, fmt="trufflehog")
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY)).validity == "valid"
    assert seen(AWS_KEY) == day + timedelta(minutes=10)
    scan(day + timedelta(minutes=20))
    assert seen(GH_TOKEN) == day + timedelta(minutes=20)
    assert SecretSighting.objects.count() == 2
    # Another source's first scan of a known secret sights it (an hour on).
    scan(day + timedelta(hours=2), source="trufflehog", fmt="trufflehog", payload=verified)
    assert seen(AWS_KEY) == day + timedelta(hours=2)
    assert seen(GH_TOKEN) == day + timedelta(minutes=20)


def test_a_partial_import_marks_nothing_missing(tmp_path, scanners):
    run_cli(
        tmp_path,
        reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}]),
        source="gitleaks",
        fmt="gitleaks",
    )
    path = tmp_path / "partial.json"
    path.write_bytes(reports.gitleaks([{"secret": AWS_KEY}]))
    out = io.StringIO()
    call_command(
        "import_findings",
        str(path),
        "--partial",
        source="gitleaks",
        format_key="gitleaks",
        json=True,
        stdout=out,
    )
    assert json.loads(out.getvalue())["missing"] == 0
    assert not Finding.objects.filter(missing_since__isnull=False).exists()


def test_a_document_of_events_alone_is_no_scan(tmp_path, scanners):
    """A leakline document without findings (a rotator's events) sent to a source with
    findings marks none of them missing: it says nothing of what a scan would find."""
    Source.objects.create(slug="own", name="own", kind="rotator", default_format="leakline")
    finding = {"rule": "r", "secret": AWS_KEY, "location": {"path": "a.env"}}
    findings = {"version": 1, "findings": [finding]}
    run_cli(tmp_path, json.dumps(findings).encode(), source="own", fmt="leakline")
    event = {"refs": [{"kind": "other", "value": "db-prod"}], "action": "rotated", "at": 1714564800}
    summary = run_cli(
        tmp_path,
        json.dumps({"version": 1, "events": [event]}).encode(),
        source="own",
        fmt="leakline",
        name="events.json",
    )
    assert (summary["missing"], summary["events"]) == (0, 1)
    assert Finding.objects.get(source__slug="own").missing_since is None
    # Nor is a rotator's log without events (a CloudTrail digest, a quiet hour).
    quiet = {"Records": []}
    summary = run_cli(
        tmp_path, json.dumps(quiet).encode(), source="own", fmt="aws-cloudtrail", name="ct.json"
    )
    assert (summary["status"], summary["missing"], summary["events"]) == ("succeeded", 0, 0)
    # An empty findings list is a clean scan, events or not.
    summary = run_cli(
        tmp_path,
        json.dumps({"version": 1, "findings": [], "events": []}).encode(),
        source="own",
        fmt="leakline",
        name="clean.json",
    )
    assert summary["missing"] == 1


def test_detect_secrets_audited_false_positives_arrive_dismissed(tmp_path, scanners):
    data = reports.detect_secrets(
        [
            {"secret": AWS_KEY, "line": 3},
            {
                "secret": "hunter2-but-longer",
                "line": 9,
                "is_secret": False,
                "type": "Secret Keyword",
            },
        ]
    )
    summary = run_cli(
        tmp_path, data, source="detect-secrets", fmt="detect-secrets", name="baseline.json"
    )
    assert summary["created"] == 2
    dismissed = Finding.objects.get(status="dismissed")
    assert dismissed.resolution == "false_positive" and dismissed.line == 9


def test_ownership_rules_assign_teams_in_order(tmp_path, scanners, team, other_team):
    OwnershipRule.objects.create(position=1, team=team, repo_pattern="*acme/payments*")
    OwnershipRule.objects.create(position=2, team=other_team, repo_pattern="*acme/*")
    run_cli(
        tmp_path,
        reports.trufflehog(
            [
                {"secret": AWS_KEY, "repo": "https://github.com/acme/payments.git"},
                {"secret": AWS_KEY_2, "repo": "https://github.com/acme/infra.git"},
            ]
        ),
        source="trufflehog",
        fmt="trufflehog",
        name="th.jsonl",
    )
    assert Finding.objects.get(repo__endswith="payments").team == team
    assert Finding.objects.get(repo__endswith="infra").team == other_team
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY)).team == team


def owned_import(tmp_path, scanners, team, other_team):
    """Rules (one disabled) and a default team; a secret in two teams' places, one in none."""
    security = Team.objects.create(name="Security", slug="security")
    OwnershipRule.objects.create(position=1, team=team, path_pattern="billing/*", enabled=False)
    OwnershipRule.objects.create(position=2, team=other_team, path_pattern="billing/*")
    OwnershipRule.objects.create(position=3, team=team, path_pattern="*.py")
    source = scanners["gitleaks"]
    source.default_team = security
    source.save()
    data = reports.gitleaks(
        [
            {"secret": AWS_KEY, "file": "billing/app.py", "line": 1},
            {"secret": AWS_KEY, "file": "web/views.py", "line": 2},
            {"secret": GH_TOKEN, "file": "deploy/env.sh", "line": 3, "rule": "github-pat"},
        ]
    )
    run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    return security


def test_a_new_finding_takes_the_first_matching_rules_team_else_the_sources(
    tmp_path, scanners, team, other_team
):
    security = owned_import(tmp_path, scanners, team, other_team)
    assert dict(Finding.objects.values_list("path", "team")) == {
        "billing/app.py": other_team.pk,  # the first enabled rule that matches
        "web/views.py": team.pk,
        "deploy/env.sh": security.pk,  # none matches: the source's default team
    }
    # A new secret takes the team of its findings (the lowest id, whichever came first).
    assert Secret.objects.get(fingerprint=fingerprint(AWS_KEY)).team_id == min(
        team.pk, other_team.pk
    )
    assert Secret.objects.get(fingerprint=fingerprint(GH_TOKEN)).team == security


def test_set_based_import_writes_each_new_finding_and_secret_once_with_its_team(
    tmp_path, scanners, team, other_team
):
    """Their team is written with them: an UPDATE per rule afterwards rewrote every new finding
    and secret with all its index entries (team_id is in their metrics indexes), which made a
    100,000-finding first import with three rules and a default team four times as slow."""

    def written():  # rows inserted and updated so far in this transaction (the test's)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables"
                " WHERE relname IN ('hygiene_finding', 'hygiene_secret')"
            )
            return {name: (inserted, updated) for name, inserted, updated in cursor.fetchall()}

    before = written()
    owned_import(tmp_path, scanners, team, other_team)
    after = written()
    assert Finding.objects.filter(team__isnull=False).count() == 3
    assert {
        name: (after[name][0] - ins, after[name][1] - upd) for name, (ins, upd) in before.items()
    } == {
        "hygiene_finding": (3, 0),
        "hygiene_secret": (2, 0),
    }


def test_paths_in_a_ci_checkout_are_paths_in_the_repository(tmp_path, scanners, team):
    # A scanner run in CI reports the checkout's paths (a container action's /github/workspace,
    # a hosted runner's /home/runner/work/<repo>/<repo>): stored as the repository's paths, so
    # that ownership rules on paths match, and the same place found by another run is one.
    OwnershipRule.objects.create(position=1, team=team, path_pattern="services/billing/*")
    run_cli(
        tmp_path,
        reports.trufflehog(
            [
                {"secret": AWS_KEY, "file": "/github/workspace/services/billing/.env"},
                {"secret": AWS_KEY_2, "file": "/home/runner/work/infra/infra/deploy/env.sh"},
                {"secret": GH_TOKEN, "file": "/srv/github/workspace/a.env"},
            ]
        ),
        source="trufflehog",
        fmt="trufflehog",
        name="th.jsonl",
    )
    stored = dict(Finding.objects.values_list("secret__fingerprint", "path"))
    assert stored == {
        fingerprint(AWS_KEY): "services/billing/.env",
        fingerprint(AWS_KEY_2): "deploy/env.sh",
        fingerprint(GH_TOKEN): "/srv/github/workspace/a.env",  # no checkout: as reported
    }
    assert Finding.objects.get(path="services/billing/.env").team == team
    summary = run_cli(
        tmp_path,
        reports.trufflehog([{"secret": AWS_KEY, "file": "services/billing/.env"}]),
        source="trufflehog",
        fmt="trufflehog",
        name="th2.jsonl",
    )
    assert (summary["created"], summary["unchanged"]) == (0, 1)


def test_paths_written_on_windows_are_read_with_slashes(tmp_path, scanners, team):
    # gitleaks or TruffleHog run on a Windows machine or runner write backslashes: the same
    # place as a Linux run's (one finding), under a runner's checkout the repository's path,
    # and matched by ownership rules written with slashes.
    OwnershipRule.objects.create(position=1, team=team, path_pattern="services/billing/*")
    report = [
        {"secret": AWS_KEY, "file": "services\\billing\\.env", "commit": "c" * 40, "line": 3},
        {"secret": AWS_KEY_2, "file": "D:\\a\\infra\\infra\\deploy\\env.sh"},
        {"secret": GH_TOKEN, "file": "\\\\fileserver\\share\\app.config"},
    ]
    run_cli(tmp_path, reports.gitleaks(report), source="gitleaks", fmt="gitleaks")
    stored = dict(Finding.objects.values_list("secret__fingerprint", "path"))
    assert stored == {
        fingerprint(AWS_KEY): "services/billing/.env",
        fingerprint(AWS_KEY_2): "deploy/env.sh",
        fingerprint(GH_TOKEN): "//fileserver/share/app.config",
    }
    assert Finding.objects.get(path="services/billing/.env").team == team
    linux = [{"secret": AWS_KEY, "file": "services/billing/.env", "commit": "c" * 40, "line": 3}]
    summary = run_cli(
        tmp_path, reports.gitleaks(linux), source="gitleaks", fmt="gitleaks", name="l.json"
    )
    assert (summary["created"], summary["unchanged"]) == (0, 1)
    # A POSIX path keeps a backslash that is part of a name.
    posix = [{"secret": AWS_KEY, "file": "docs/a\\b.md"}]
    run_cli(tmp_path, reports.gitleaks(posix), source="gitleaks", fmt="gitleaks", name="p.json")
    assert Finding.objects.filter(path="docs/a\\b.md").exists()


def test_paths_in_a_gitlab_ci_checkout_are_paths_in_the_repository(tmp_path, scanners, team):
    # A GitLab job runs in CI_PROJECT_DIR: /builds/<group>/<project> (Docker, Kubernetes), or
    # /builds/<short token>/<n>/<group>/<project>; a repository's own builds/ directory is
    # no checkout. A scan of the same place outside CI finds the same finding.
    OwnershipRule.objects.create(position=1, team=team, path_pattern="services/billing/*")
    report = [
        {"secret": AWS_KEY, "file": "/builds/acme/api/services/billing/.env", "line": 3},
        {"secret": AWS_KEY_2, "file": "/builds/DFtgsufb/0/acme/web/deploy/env.sh", "line": 5},
        {"secret": GH_TOKEN, "file": "builds/acme/api/ci.env", "line": 7},
    ]
    for finding in report:
        finding["commit"] = "c" * 40
    run_cli(tmp_path, reports.gitleaks(report), source="gitleaks", fmt="gitleaks")
    stored = dict(Finding.objects.values_list("secret__fingerprint", "path"))
    assert stored == {
        fingerprint(AWS_KEY): "services/billing/.env",
        fingerprint(AWS_KEY_2): "deploy/env.sh",
        fingerprint(GH_TOKEN): "builds/acme/api/ci.env",  # relative: the repository's own
    }
    assert Finding.objects.get(path="services/billing/.env").team == team
    local = [{**report[0], "file": "services/billing/.env"}]
    summary = run_cli(
        tmp_path, reports.gitleaks(local), source="gitleaks", fmt="gitleaks", name="l.json"
    )
    assert (summary["created"], summary["unchanged"]) == (0, 1)


def test_a_file_in_an_archive_scanned_on_windows_is_the_linux_scans_place(tmp_path, scanners):
    # gitleaks --max-archive-depth: <archive>!<file in it>; on Windows the archive's path has
    # backslashes, the path inside the archive slashes.
    windows = [
        {"secret": AWS_KEY, "file": "build\\dist.zip!config/app.env", "line": 2, "commit": ""},
        {"secret": GH_TOKEN, "file": "D:\\a\\api\\api\\out\\a.zip!b.tar!c/d.env", "commit": ""},
    ]
    run_cli(tmp_path, reports.gitleaks(windows), source="gitleaks", fmt="gitleaks")
    assert set(Finding.objects.values_list("path", flat=True)) == {
        "build/dist.zip!config/app.env",
        "out/a.zip!b.tar!c/d.env",
    }
    linux = [{**windows[0], "file": "build/dist.zip!config/app.env"}]
    summary = run_cli(
        tmp_path, reports.gitleaks(linux), source="gitleaks", fmt="gitleaks", name="l.json"
    )
    assert (summary["created"], summary["unchanged"]) == (0, 1)


def test_findings_stored_with_checkout_or_windows_paths_are_rekeyed_once(
    tmp_path, scanners, monkeypatch
):
    # Stored by an earlier version (paths as the tool wrote them), then migrated
    # (hygiene.repo_paths, migration 0016): the next scan of the same places finds them again,
    # creating nothing and marking nothing missing, and a secret known by its place (no value:
    # --redact) stays one secret.
    report = reports.gitleaks(
        [
            {"secret": AWS_KEY, "file": "services\\billing\\.env", "commit": "c" * 40},
            {"secret": "REDACTED", "file": "D:\\a\\infra\\infra\\deploy\\env.sh"},
            {"secret": GH_TOKEN, "file": "/github/workspace/app/settings.py"},
            {"secret": AWS_KEY_2, "file": "docs/plain.md"},
            # gitleaks' documented Docker run mounts the repository at /path.
            {"secret": "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "file": "/path/js/app.js"},
            # A GitLab runner's CI_PROJECT_DIR (migration 0021), a Windows archive path.
            {"secret": "glpat-x9Yb3kQ7LmN2pR5tV8wZ", "file": "/builds/acme/api/ci/vars.env"},
            {"secret": "xoxb-1234-5678-AbCdEfGhIjKl", "file": "build\\dist.zip!config/app.env"},
        ]
    )
    with monkeypatch.context() as old:
        old.setattr("hygiene.services.staged_rows.path_in_checkout", lambda path: path)
        run_cli(tmp_path, report, source="gitleaks", fmt="gitleaks", name="old.json")
    assert Finding.objects.filter(path__contains="\\").count() == 3
    secrets = Secret.objects.count()

    from hygiene.repo_paths import rekey_repository_paths

    assert rekey_repository_paths(Finding, Secret) == 6
    assert rekey_repository_paths(Finding, Secret) == 0  # once
    # Found by its new path (search goes through the distinct values: hygiene.search_terms).
    searched = parse_filter(QueryDict("q=ci/vars.env")).apply(Finding.objects.all())
    assert [f.path for f in searched] == ["ci/vars.env"]
    rescan = report + b"\n"  # the next scan (not the same bytes: those are the earlier run)
    summary = run_cli(tmp_path, rescan, source="gitleaks", fmt="gitleaks", name="new.json")
    assert (summary["created"], summary["missing"], summary["unchanged"]) == (0, 0, 7)
    assert Secret.objects.count() == secrets
    assert set(Finding.objects.values_list("path", flat=True)) == {
        "services/billing/.env",
        "deploy/env.sh",
        "app/settings.py",
        "docs/plain.md",
        "js/app.js",
        "ci/vars.env",
        "build/dist.zip!config/app.env",
    }


@time_machine.travel(datetime(2026, 1, 10, tzinfo=UTC), tick=False)
def test_a_full_control_account_sas_valid_for_years_is_critical(tmp_path, scanners):
    expiry = (datetime(2026, 1, 10, tzinfo=UTC) + timedelta(days=5 * 365)).strftime("%Y-%m-%d")
    sas = (
        "https://acmebackups.blob.core.windows.net/?sv=2021-08-06&ss=bfqt&srt=sco"
        f"&sp=rwdlacupiytfx&se={expiry}T00:00:00Z&st=2020-01-01T00:00:00Z&spr=https,http"
        "&sig=8Jv0Qk2%2FzZp9sYt3mN5bX1cW7eR4aL6dF0gH2jK4lM8%3D"
    )
    short = (
        "https://acmelogs.blob.core.windows.net/logs/app.log?sv=2021-08-06&sr=b&sp=r"
        "&se=2026-01-12T00:00:00Z&spr=https&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmc%3D"
    )
    run_cli(
        tmp_path,
        reports.gitleaks(
            [
                {"secret": sas, "rule": "generic-api-key", "description": "Generic"},
                {"secret": short, "rule": "generic-api-key", "description": "Generic"},
            ]
        ),
        source="gitleaks",
        fmt="gitleaks",
    )
    account = Secret.objects.get(fingerprint=fingerprint(sas))
    assert account.secret_type == "azure-sas"
    assert account.severity == "critical"
    assert account.analysis["sas_scope"] == "account"
    assert "delete" in account.analysis["sas_permissions"]
    assert account.analysis["sas_valid_days"] > 1800
    assert account.analysis["sas_protocol"] == "https,http"
    assert account.analysis["storage_account"] == "acmebackups"
    assert "rotate the storage account key" in account.analysis["revocation"]
    service = Secret.objects.get(fingerprint=fingerprint(short))
    assert service.analysis["sas_scope"] == "service"
    assert service.severity == "medium"
    stored = json.dumps(list(Secret.objects.values()), default=str)
    assert "sig=" not in stored and "8Jv0Qk2" not in stored


def test_reconcile_is_set_based(tmp_path, scanners):
    """The number of queries doesn't grow with the report."""

    def queries_for(n: int, offset: int) -> int:
        data = reports.gitleaks(
            [{"secret": f"ghp_{offset + i:036d}", "rule": "github-pat"} for i in range(n)]
        )
        path = tmp_path / f"r{n}.json"
        path.write_bytes(data)
        with CaptureQueriesContext(connection) as ctx:
            call_command(
                "import_findings",
                str(path),
                "--partial",
                source="gitleaks",
                format_key="gitleaks",
                json=True,
                stdout=io.StringIO(),
            )
        return len(ctx.captured_queries)

    queries_for(1, 1_000_000)  # a source's first scan skips statements; these are re-scans
    small = queries_for(5, 0)
    large = queries_for(ANALYZE_FROM_ROWS, 10_000)
    larger = queries_for(3 * ANALYZE_FROM_ROWS, 100_000)
    assert larger == large
    # A large run adds three statements, whatever its size: its staged rows are analysed,
    # and the secrets and findings it wrote are sampled again.
    assert small <= large <= small + 3


def test_a_large_import_is_planned_with_what_it_just_wrote(tmp_path, scanners):
    """Statistics are as old as the last ANALYZE: to the planner, no secret was first seen at
    this run's time, though thousands just were. Planned on those, the run's statements nest
    a scan of its staged rows inside each new secret (minutes for 20,000). The reconcile
    samples what it wrote; a time limit 20 times what the import needs catches the regression."""

    def import_new_secrets(offset: int) -> None:
        data = reports.gitleaks(
            [{"secret": f"ghp_{offset + i:036d}", "rule": "github-pat"} for i in range(20_000)]
        )
        path = tmp_path / f"r{offset}.json"
        path.write_bytes(data)
        call_command(
            "import_findings",
            str(path),
            source="gitleaks",
            format_key="gitleaks",
            json=True,
            stdout=io.StringIO(),
        )

    import_new_secrets(0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE hygiene_secret")  # as autovacuum would, between imports
        cursor.execute("ANALYZE hygiene_finding")
        cursor.execute("SET LOCAL statement_timeout = '30s'")
    import_new_secrets(100_000)
    assert Secret.objects.count() == 40_000
    assert Secret.objects.filter(first_run__isnull=False).count() == 40_000


def test_bad_input_exits_1_with_one_line_and_records_only_a_failed_run(tmp_path, scanners, capsys):
    good = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}])
    path = tmp_path / "truncated.json"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_findings", str(path), source="gitleaks", format_key="gitleaks")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"error: {path}:") and "byte" in err
    assert AWS_KEY not in err and GH_TOKEN not in err
    run = ImportRun.objects.get()
    assert run.status == "failed" and run.error_location
    assert not Finding.objects.exists() and not Secret.objects.exists()
    assert not StagedFinding.objects.exists()


def test_bad_input_deep_in_a_large_report_leaves_nothing_and_the_next_import_works(
    tmp_path, scanners, capsys
):
    # Past the first batches, staged rows are already streaming to the database when the bad
    # finding is read: the stream is abandoned, the transaction rolls back, only the failed
    # run is recorded, and the connection is fine for the next import.
    n = 2 * BATCH + 10
    findings = json.loads(
        reports.gitleaks([{"secret": f"ghp_{i:036d}", "rule": "github-pat"} for i in range(n)])
    )
    findings[-1]["StartLine"] = "line twelve"
    path = tmp_path / "large.json"
    path.write_text(json.dumps(findings))
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_findings", str(path), source="gitleaks", format_key="gitleaks")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert f"$[{n - 1}].StartLine" in err and "\n" not in err
    assert ImportRun.objects.get().status == "failed"
    assert not StagedFinding.objects.exists() and not Finding.objects.exists()
    good = run_cli(
        tmp_path, reports.gitleaks([{"secret": AWS_KEY}]), source="gitleaks", fmt="gitleaks"
    )
    assert (good["status"], good["created"]) == ("succeeded", 1)


@pytest.mark.parametrize(
    ("fmt", "data", "needle"),
    [
        ("gitleaks", b"", "empty"),
        ("gitleaks", b"\x00\x01\x02binary", "binary"),
        ("gitleaks", b'{"not": "a list"}', ""),
        ("trufflehog", b"[" * 100_000, "nested"),
        ("detect-secrets", b"[1, 2, 3]", ""),
        ("gitleaks", b"RuleID,Commit\nx,y\n", ""),
    ],
)
def test_each_kind_of_bad_input_gets_a_clear_error(tmp_path, scanners, capsys, fmt, data, needle):
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(SystemExit):
        call_command("import_findings", str(path), source="gitleaks", format_key=fmt)
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err and "\n" not in err
    assert needle in err.lower()
    assert ImportRun.objects.get().status == "failed"


def test_unknown_source_and_format_are_refused(tmp_path, scanners, capsys):
    path = tmp_path / "r.json"
    path.write_bytes(b"[]")
    with pytest.raises(SystemExit):
        call_command("import_findings", str(path), source="nope", format_key="gitleaks")
    assert "no source with slug 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        call_command("import_findings", str(path), source="gitleaks", format_key="nessus")
    assert "unknown format 'nessus'" in capsys.readouterr().err
    assert not ImportRun.objects.exists()


def test_last_seen_moves_on_with_a_later_scan_but_an_immediate_rescan_rewrites_nothing(
    tmp_path, scanners
):
    data = reports.gitleaks([{"secret": AWS_KEY}])
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    finding = Finding.objects.get()
    first_version = (finding.last_seen_at, finding.updated_at)
    with time_machine.travel(datetime(2026, 11, 1, 8, 20, tzinfo=UTC), tick=False):
        summary = run_cli(tmp_path, data + b" ", source="gitleaks", fmt="gitleaks")
    assert summary["unchanged"] == 1
    finding.refresh_from_db()
    assert (finding.last_seen_at, finding.updated_at) == first_version
    with time_machine.travel(datetime(2026, 11, 2, 8, 0, tzinfo=UTC), tick=False):
        run_cli(tmp_path, data + b"  ", source="gitleaks", fmt="gitleaks")
    finding.refresh_from_db()
    assert finding.last_seen_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert finding.secret.last_seen_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_an_immediate_rescan_leaves_unchanged_rows_unlocked(tmp_path, scanners):
    """A re-scan doesn't lock (and so doesn't write) the secrets and findings it has nothing to
    update: triage actions on them aren't blocked while a large re-scan reconciles."""
    findings = [{"secret": AWS_KEY}, {"secret": GH_TOKEN, "rule": "github-pat"}]
    data = reports.gitleaks(findings)
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    changed = [dict(findings[0]), {**findings[1], "description": "GitHub PAT (renamed rule)"}]
    with time_machine.travel(datetime(2026, 11, 1, 8, 20, tzinfo=UTC), tick=False):
        summary = run_cli(tmp_path, reports.gitleaks(changed), source="gitleaks", fmt="gitleaks")
    assert (summary["unchanged"], summary["created"]) == (2, 0)
    with connection.cursor() as cursor:  # xmax: the transaction that last locked the row
        cursor.execute("SELECT title, xmax::text FROM hygiene_finding ORDER BY title")
        assert cursor.fetchall() == [("AWS Access Key", "0"), ("GitHub PAT (renamed rule)", ANY)]
        cursor.execute("SELECT DISTINCT xmax::text FROM hygiene_secret")
        assert cursor.fetchall() == [("0",)]


def test_a_rescan_a_day_later_moves_the_sightings_and_leaves_unchanged_findings_unlocked(
    tmp_path, scanners
):
    """Every finding of a daily re-scan is last seen anew: that is its sighting's row, not the
    finding's (rewritten into all of its indexes, it cost 6 s per 100,000)."""
    findings = [{"secret": AWS_KEY}, {"secret": GH_TOKEN, "rule": "github-pat"}]
    data = reports.gitleaks(findings)
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    changed = [dict(findings[0]), {**findings[1], "description": "GitHub PAT (renamed rule)"}]
    day_later = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(day_later, tick=False):
        summary = run_cli(tmp_path, reports.gitleaks(changed), source="gitleaks", fmt="gitleaks")
    assert (summary["unchanged"], summary["created"]) == (2, 0)
    with connection.cursor() as cursor:  # xmax: the transaction that last locked the row
        cursor.execute("SELECT title, xmax::text FROM hygiene_finding ORDER BY title")
        assert cursor.fetchall() == [("AWS Access Key", "0"), ("GitHub PAT (renamed rule)", ANY)]
    assert sorted(f.last_seen_at for f in Finding.objects.select_related("sighting")) == [
        day_later,
        day_later,
    ]
    page = page_findings(Finding.objects.all(), sort="last_seen", size=1)
    assert page.items[0].title == "GitHub PAT (renamed rule)"  # the same time: the later id
    assert page_findings(Finding.objects.all(), sort="last_seen", cursor=page.next_cursor).items


def test_runs_of_one_source_reconcile_one_after_the_other(tmp_path, scanners):
    """A reconcile waits for another reconcile of its source (held here by a second
    connection) rather than upserting against a snapshot that misses the other's changes."""
    source = scanners["gitleaks"]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)", [RECONCILE_LOCK, source.pk % (2**31 - 1)]
            )
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        with pytest.raises(OperationalError, match="lock timeout"):
            run_cli(
                tmp_path, reports.gitleaks([{"secret": AWS_KEY}]), source="gitleaks", fmt="gitleaks"
            )
        assert ImportRun.objects.get().status == "failed"
        assert not Finding.objects.exists()
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_two_first_scans_of_a_new_source_at_once_make_each_finding_once(monkeypatch):
    """A first scan skips looking for the source's findings (it has none): the second of two
    first scans at once must see, once it holds the source, what the first committed."""
    import threading
    import time

    from hygiene.services.imports import import_report
    from hygiene.services.reconcile import Reconciler

    source = Source.objects.create(
        slug="new", name="new", kind="scanner", default_format="gitleaks"
    )
    same = {"secret": AWS_KEY, "file": "a.py", "line": 3, "commit": "c" * 40}
    reports_ = {
        "first": reports.gitleaks([same]),
        "second": reports.gitleaks([same, {"secret": GH_TOKEN, "rule": "github-pat"}]),
    }
    paused, go_on, runs = threading.Event(), threading.Event(), {}
    original = Reconciler.refresh_secret_stats

    def pause_the_first(self):
        original(self)
        if threading.current_thread().name == "first":
            paused.set()  # its findings are written, not committed
            go_on.wait(10)

    def run(name):
        try:
            runs[name] = import_report(
                source=source, format_key="gitleaks", stream=io.BytesIO(reports_[name]), via="cli"
            )
        finally:
            connections.close_all()

    monkeypatch.setattr(Reconciler, "refresh_secret_stats", pause_the_first)
    first = threading.Thread(target=run, args=("first",), name="first")
    first.start()
    assert paused.wait(10)
    second = threading.Thread(target=run, args=("second",), name="second")
    second.start()
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:  # until the second waits for the source
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
    go_on.set()
    first.join(10)
    second.join(10)

    assert (runs["first"].status, runs["first"].created) == ("succeeded", 1)
    assert (runs["second"].status, runs["second"].created) == ("succeeded", 1)
    assert runs["second"].unchanged + runs["second"].updated == 1
    assert Finding.objects.filter(source=source).count() == 2


def test_import_and_reapplying_rules_agree_on_bracket_patterns(tmp_path, scanners, team):
    OwnershipRule.objects.create(position=1, team=team, repo_pattern="*acme/[pq]ayments*")
    run_cli(
        tmp_path,
        reports.trufflehog(
            [
                {"secret": AWS_KEY, "repo": "https://github.com/acme/payments.git"},
                {"secret": AWS_KEY_2, "repo": "https://github.com/acme/xayments.git"},
            ]
        ),
        source="trufflehog",
        fmt="trufflehog",
        name="th.jsonl",
    )
    assert Finding.objects.get(repo__endswith="/payments").team == team
    assert Finding.objects.get(repo__endswith="/xayments").team is None


ON_SQLITE = os.environ.get("LEAKLINE_IMPORTS_SQLITE") == "1"
POSTGRESQL_ONLY = (
    "set_based or planned_with or unlocked or one_after_the_other or no_staged_rows_behind"
    " or another_session or at_once_make"
)


def test_the_pipeline_behaves_the_same_on_sqlite(tmp_path):
    """Runs this module's tests against SQLite (``make run``, the embedded default) in a
    subprocess, but those about PostgreSQL's plans, locks and query counts. Inside that run this
    test is deselected (-k), not skipped."""
    if ON_SQLITE:
        raise AssertionError("the SQLite run must deselect this test")
    assert_module_passes_on_sqlite(
        __file__,
        tmp_path,
        flag="LEAKLINE_IMPORTS_SQLITE",
        deselect=f"on_sqlite or {POSTGRESQL_ONLY}",
    )


def test_timeline_links_without_a_database_constraint_still_follow_deletes(
    tmp_path, scanners, lead
):
    """A timeline event's links have no database constraint (PostgreSQL would check each row
    of the events an import writes, even empty links): Django still sets the actor NULL and
    deletes a finding's events with it."""
    data = reports.gitleaks([{"secret": AWS_KEY, "file": "app/settings.py", "line": 3}])
    run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    finding = Finding.objects.get()
    on_secret = TimelineEvent.objects.create(
        secret=finding.secret, actor=lead, kind="secret.commented", message="-"
    )
    on_finding = TimelineEvent.objects.create(
        finding=finding, secret=finding.secret, actor=lead, kind="finding.commented", message="-"
    )
    lead.delete()
    on_finding.refresh_from_db()
    assert on_finding.actor_id is None
    finding.delete()
    assert list(TimelineEvent.objects.all()) == [on_secret]  # the secret's own stays


def test_a_secret_timeline_starts_with_its_first_import_even_once_the_source_is_gone(
    tmp_path, scanners, lead, client
):
    data = reports.gitleaks([{"secret": AWS_KEY, "file": "app/settings.py", "line": 3}])
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        first = run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    with time_machine.travel(datetime(2026, 3, 5, 9, tzinfo=UTC), tick=False):
        run_cli(tmp_path, data, source="trufflehog", fmt="gitleaks")  # seen again elsewhere
        comment = TimelineEvent.objects.create(
            secret=Secret.objects.get(), actor=lead, kind="secret.commented", message="Rotated?"
        )
    secret = Secret.objects.get()
    assert secret.first_run_id == first["id"]  # a later import doesn't take it over
    events = secret_timeline(secret)
    assert [e.message for e in events] == ["Rotated?", "First seen by gitleaks"]
    assert events[0] == comment
    assert events[-1].created_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert [e.message for e in secret_timeline(secret, limit=1)] == ["Rotated?"]
    client.force_login(lead)
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert f"First seen by gitleaks — gitleaks import #{first['id']}" in page
    assert page.index("Rotated?") < page.index("First seen by gitleaks")
    # The first source deleted (its runs go with it): the entry stays, without its name.
    source_delete(source=scanners["gitleaks"], by=lead)
    secret.refresh_from_db()
    assert secret_timeline(secret)[-1].message == (
        f"First seen by import #{first['id']} (no longer recorded)"
    )


def _staging_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size('hygiene_stagedfinding')"
            " + pg_relation_size('hygiene_stagedreference')"
        )
        return cursor.fetchone()[0]


def test_imports_leave_no_staged_rows_behind_not_even_deleted_ones(tmp_path, scanners):
    """Rows deleted from the staging tables would stay until autovacuum, and every scan of
    the next run would read them: a run alone in the tables empties them."""
    for n in range(3):
        data = reports.gitleaks([{"secret": AWS_KEY, "line": n + 1}, {"secret": GH_TOKEN}])
        run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
        assert _staging_bytes() == 0
    assert Finding.objects.count() == 4


def test_a_run_waiting_for_its_reconcile_keeps_its_staged_rows(tmp_path, scanners):
    from hygiene.services.imports import import_report, reconcile

    waiting = import_report(
        source=scanners["trufflehog"],
        format_key="gitleaks",
        stream=io.BytesIO(reports.gitleaks([{"secret": GH_TOKEN, "file": "a.py"}])),
        via="api",
        background=True,  # queued: enqueued at commit, which a test never reaches
    )
    assert waiting.status == "queued"
    run_cli(tmp_path, reports.gitleaks([{"secret": AWS_KEY}]), source="gitleaks", fmt="gitleaks")
    assert StagedFinding.objects.filter(run=waiting).count() == 1
    reconcile(waiting)
    assert waiting.status == "succeeded"
    assert Finding.objects.filter(source=scanners["trufflehog"]).count() == 1
    assert not StagedFinding.objects.exists()


def test_an_import_does_not_wait_for_another_session_on_the_staging_tables(tmp_path, scanners):
    """Another import staging right now holds the tables: the run deletes its own rows
    instead of waiting to empty them."""
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("LOCK TABLE hygiene_stagedreference IN ROW EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        summary = run_cli(
            tmp_path, reports.gitleaks([{"secret": AWS_KEY}]), source="gitleaks", fmt="gitleaks"
        )
        assert summary["created"] == 1
        assert not StagedFinding.objects.exists()
    finally:
        other.rollback()
        other.close()


def test_a_rescan_gives_a_secret_known_only_by_its_hash_a_preview(tmp_path, scanners):
    """detect-secrets reports a hash, no value: the secret has no preview until a re-scan of
    the same source reports the value (nothing else about the secret changes)."""
    with time_machine.travel(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), tick=False):
        run_cli(
            tmp_path,
            reports.detect_secrets([{"secret": AWS_KEY, "file": "a.env"}]),
            source="gitleaks",
            fmt="detect-secrets",
        )
    secret = Secret.objects.get(fingerprint=fingerprint(AWS_KEY))
    assert secret.preview == ""
    assert secret.exposed_since == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 11, 1, 8, 10, tzinfo=UTC), tick=False):
        run_cli(
            tmp_path,
            reports.gitleaks(
                [{"secret": AWS_KEY, "file": "a.env", "date": "2026-11-01T09:00:00Z"}]
            ),
            source="gitleaks",
            fmt="gitleaks",
        )
    secret.refresh_from_db()
    assert secret.preview.startswith("AKIA")
    assert secret.exposed_since == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_a_findings_link_is_kept_only_as_a_harmless_web_link(tmp_path, db):
    """A report's URL becomes a link on the pages: only http(s), and never with the
    user:token@ of a clone URL."""
    Source.objects.create(
        slug="inhouse", name="in-house", kind="scanner", default_format="leakline"
    )
    urls = {
        "a.env": "javascript:alert(document.cookie)",
        "b.env": "https://ci:glpat-NotTheFinding00000000@git.example.com/acme/api/-/blob/x/b.env",
        "c.env": "https://git.example.com/acme/api/-/blob/x/c.env#L3",
        "d.env": "file:///home/ci/work/d.env",
    }
    report = {
        "version": 1,
        "tool": {"name": "in-house-scanner"},
        "findings": [
            {
                "rule": "generic-token",
                "secret": f"tok_{path}_9f8e7d6c5b4a3928",
                "location": {"repo": "acme/api", "path": path, "url": url},
            }
            for path, url in urls.items()
        ],
    }
    run_cli(tmp_path, json.dumps(report).encode(), source="inhouse", fmt="leakline")
    stored = dict(Finding.objects.values_list("path", "url"))
    assert stored == {
        "a.env": "",
        "b.env": "https://git.example.com/acme/api/-/blob/x/b.env",
        "c.env": "https://git.example.com/acme/api/-/blob/x/c.env#L3",
        "d.env": "",
    }


def test_a_clean_trufflehog_scan_is_sent_as_an_empty_list(tmp_path, scanners, capsys):
    """TruffleHog writes no lines when it finds nothing: the empty file is refused, saying to
    send [] — which imports as a full scan that found nothing."""
    run_cli(
        tmp_path, reports.trufflehog([{"secret": AWS_KEY}]), source="trufflehog", fmt="trufflehog"
    )
    with pytest.raises(SystemExit):
        run_cli(tmp_path, b"", source="trufflehog", fmt="trufflehog", name="empty.jsonl")
    assert "send [] to import it" in capsys.readouterr().err
    summary = run_cli(tmp_path, b"[]", source="trufflehog", fmt="trufflehog", name="clean.json")
    assert (summary["received"], summary["missing"]) == (0, 1)
    assert Finding.objects.get().missing_since is not None


def test_a_key_found_as_base64_by_nosey_parker_and_decoded_by_trufflehog_is_one_secret(
    tmp_path, scanners
):
    """Real reports of one private key in OWASP/wrongsecrets: Nosey Parker's np.pem.2 captures
    the key's base64 text, TruffleHog decodes it to the PEM."""
    Source.objects.create(slug="np", name="np", kind="scanner", default_format="noseyparker")
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    for source, fmt, path in (
        ("trufflehog", "trufflehog", "trufflehog/real_udit_uniyal_wrongsecrets_k8s_main_key.jsonl"),
        ("np", "noseyparker", "noseyparker/real_defectdojo_0_22_base64_pem_wrongsecrets.jsonl"),
    ):
        run_cli(tmp_path, (fixtures / path).read_bytes(), source=source, fmt=fmt, name=f"{fmt}")
    (secret,) = Secret.objects.all()
    assert secret.finding_count == 2 and secret.secret_type == "private-key"
    assert secret.preview == "RSA PRIVATE KEY (PEM) …"
    assert {f.path for f in secret.findings.all()} == {"k8s/main.key"}


def test_a_severity_a_tool_lowers_falls_though_the_secret_was_once_valid(tmp_path, scanners):
    """The level that "valid" added stays while the validity does (a report that doesn't say
    keeps it), on top of what the tool now says, not on top of what was stored."""
    Source.objects.create(slug="own", name="own", kind="scanner", default_format="leakline")

    def send(severity, validity, name):
        finding = {"rule": "r", "secret": GH_TOKEN, "severity": severity, "validity": validity}
        doc = {"version": 1, "findings": [finding]}
        run_cli(tmp_path, json.dumps(doc).encode(), source="own", fmt="leakline", name=name)
        return Finding.objects.get(source__slug="own")

    assert send("high", "valid", "1.json").severity == "critical"
    assert send("low", "unknown", "2.json").severity == "medium"
    assert send("low", "invalid", "3.json").severity == "low"


def test_one_repository_named_by_its_url_and_by_its_name_is_one_place(tmp_path, scanners):
    """gitleaks names the repository by its URL, GitHub's alerts by owner/name: a secret both
    report in it is not reused."""
    report = json.loads(reports.gitleaks([{"secret": GH_TOKEN, "file": "config/x.py"}]))
    report[0]["Link"] = f"https://github.com/Acme/App/blob/{report[0]['Commit']}/config/x.py#L10"
    run_cli(tmp_path, json.dumps(report).encode(), source="gitleaks", fmt="gitleaks")
    assert Finding.objects.get(source__slug="gitleaks").repo == "https://github.com/Acme/App"
    run_cli(
        tmp_path,
        reports.trufflehog([{"secret": GH_TOKEN, "repo": "acme/app", "file": "other.py"}]),
        source="trufflehog",
        fmt="trufflehog",
    )
    secret = Secret.objects.get(fingerprint=fingerprint(GH_TOKEN))
    assert (secret.finding_count, secret.place_count, secret.reused) == (2, 1, False)
    run_cli(
        tmp_path,
        reports.trufflehog([{"secret": GH_TOKEN, "repo": "acme/billing", "file": "x.py"}]),
        source="trufflehog",
        fmt="trufflehog",
        name="second.json",
    )
    secret.refresh_from_db()
    assert (secret.place_count, secret.reused) == (2, True)


def test_header_only_keys_stored_as_one_secret_are_split_by_place_once(tmp_path, scanners, lead):
    """Migration incidents 0006: findings stored when a bare PEM header was fingerprinted as
    the value (one secret for every key gitleaks v7 found) get the secret and key an import
    gives them now; the next scan finds them again, and the incident holds them all."""
    import importlib

    from django.apps import apps

    from hygiene.fingerprints import secret_location_key
    from incidents.models import Incident
    from incidents.services import incident_open

    migration = importlib.import_module("incidents.migrations.0006_header_only_keys_by_place")
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "gitleaks"
    data = (fixture / "real_webgoat_v7_header_only_private_keys.json").read_bytes()
    run_cli(tmp_path, data, source="gitleaks", fmt="gitleaks")
    keys = Finding.objects.filter(rule="Asymmetric Private Key")
    assert keys.count() == 3
    # As they were stored before: one secret, keyed by the header's fingerprint.
    header = fingerprint("-----BEGIN PRIVATE KEY-----")
    first = keys.order_by("pk").first().secret
    Secret.objects.filter(pk=first.pk).update(fingerprint=header, finding_count=3)
    for f in keys:
        Finding.objects.filter(pk=f.pk).update(
            secret=first, location_key=secret_location_key(header, f.repo, f.path, f.line, f.commit)
        )
    Incident.objects.all().delete()  # the ones the import opened, one per key
    Secret.objects.filter(findings__isnull=True).delete()
    incident = incident_open(secrets=[first], opened_by=lead)
    assert set(keys.all().values_list("secret_id", flat=True)) == {first.pk}
    migration.split_by_place(apps, None)
    moved = {f.secret for f in keys.all().select_related("secret")}
    assert len(moved) == 3 and first not in moved
    assert set(incident.secrets.filter(incidentsecret__active=True)) == moved
    again = run_cli(tmp_path, data + b"\n", source="gitleaks", fmt="gitleaks", name="again.json")
    assert (again["created"], again["missing"]) == (0, 0)
    assert Incident.objects.count() == 1


def test_keys_whose_rule_matched_only_their_pem_header_are_secrets_of_their_own(tmp_path, scanners):
    import importlib

    from django.apps import apps as django_apps

    from hygiene.fingerprints import secret_location_key

    """GitLab's default "RSA private key" / "PKCS8 private key" rules (and custom gitleaks or
    2ms rules in SARIF) match only the header, which is all the report holds: as a value it
    made one reused secret of every key anywhere."""
    Source.objects.create(slug="gitlab", name="gitlab", kind="scanner")

    def vulnerability(path: str, rule: str, header: str) -> dict:
        return {
            "id": fingerprint(path)[:64],
            "category": "secret_detection",
            "name": rule,
            "severity": "Critical",
            "raw_source_code_extract": header,
            "scanner": {"id": "gitleaks", "name": "Gitleaks"},
            "location": {"file": path, "commit": {"sha": "0000000"}, "start_line": 1},
            "identifiers": [{"type": "gitleaks_rule_id", "name": rule, "value": rule}],
        }

    report = {
        "version": "15.0.6",
        "vulnerabilities": [
            vulnerability("keys/id_rsa", "RSA private key", "-----BEGIN RSA PRIVATE KEY-----"),
            vulnerability("deploy/tls.key", "RSA private key", "-----BEGIN RSA PRIVATE KEY-----"),
            vulnerability("svc/sa.pem", "PKCS8 private key", "-----BEGIN PRIVATE KEY-----\n"),
        ],
        "scan": {"type": "secret_detection", "status": "success"},
    }
    data = json.dumps(report).encode()
    summary = run_cli(tmp_path, data, source="gitlab", fmt="gitlab-secret-detection")
    assert summary["created"] == 3
    # Stored before (one secret keyed by the marker's fingerprint: here a footer, which 0006
    # did not look for), migration incidents 0007 gives them the secrets and keys an import
    # gives them now.
    header = fingerprint("-----END RSA PRIVATE KEY-----")
    rsa = Finding.objects.filter(rule="RSA private key").order_by("pk")
    shared = rsa[0].secret
    Secret.objects.filter(pk=shared.pk).update(fingerprint=header, finding_count=2)
    for f in rsa:
        key = secret_location_key(header, f.repo, f.path, f.line, f.commit)
        Finding.objects.filter(pk=f.pk).update(secret=shared, location_key=key)
    Secret.objects.filter(findings__isnull=True).delete()
    migration = importlib.import_module(
        "incidents.migrations.0007_header_only_keys_of_every_format_by_place"
    )
    migration.split_by_place(django_apps, None)
    assert len({f.secret_id for f in rsa.all()}) == 2
    gitleaks_key = reports.gitleaks(
        [{"secret": "-----BEGIN RSA PRIVATE KEY-----", "file": "ops/key.pem", "rule": "pem"}]
    )
    run_cli(tmp_path, gitleaks_key, source="gitleaks", fmt="gitleaks")
    secrets = set(Finding.objects.values_list("secret_id", flat=True))
    assert len(secrets) == 4
    assert not Secret.objects.filter(reused=True).exists()
    again = run_cli(tmp_path, data + b"\n", source="gitlab", fmt="gitlab-secret-detection")
    assert (again["created"], again["unchanged"], again["missing"]) == (0, 3, 0)


def test_a_capture_that_is_no_credentials_value_does_not_join_findings(tmp_path, scanners):
    """A custom htpasswd rule captures only "$apr1$" (real gitleaks SARIF): as a value it would
    make one reused secret of every such finding anywhere. The place identifies each."""
    Source.objects.create(slug="sarif", name="sarif", kind="scanner", default_format="sarif")
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "sarif"
    data = (fixture / "real_argus_gitleaks_htpasswd_apr1_prefix.sarif").read_bytes()
    run_cli(tmp_path, data, source="sarif", fmt="sarif", name="argus.sarif")
    htpasswd = Finding.objects.filter(source__slug="sarif", path__endswith="htpasswd")
    run_cli(
        tmp_path,
        reports.gitleaks([{"secret": "$apr1$", "file": "deploy/.htpasswd"}, {"secret": "abc"}]),
        source="gitleaks",
        fmt="gitleaks",
    )
    elsewhere = Finding.objects.filter(source__slug="gitleaks")
    secrets = {f.secret_id for f in (*htpasswd, *elsewhere)}
    assert len(secrets) == htpasswd.count() + elsewhere.count() >= 3
    assert not Secret.objects.filter(pk__in=secrets, reused=True).exists()


def test_stored_tool_previews_show_no_more_than_ours(db):
    """Migration hygiene 0026: a preview taken from ggshield's censored form is cut as an
    import cuts it now; one of our own is left alone."""
    import importlib

    from django.apps import apps as django_apps

    now = datetime.now(UTC)
    seen = {
        "secret_type": "api-key",
        "first_seen_at": now,
        "exposed_since": now,
    }
    censored = Secret.objects.create(fingerprint="a" * 64, preview="Xq7**********Z8k", **seen)
    ours = Secret.objects.create(fingerprint="b" * 64, preview="AKIA…AM2", **seen)
    migration = importlib.import_module("hygiene.migrations.0026_tighter_tool_previews")
    migration.tighten(django_apps, None)
    censored.refresh_from_db()
    ours.refresh_from_db()
    assert (censored.preview, ours.preview) == ("Xq7…", "AKIA…AM2")
