"""Auditors through the import path: FAIL → posture findings; PASS or absence in a later full
audit resolves them; a FAIL again reopens. The credential report verifies a revocation."""

import csv
import io
import json
from pathlib import Path

import pytest

from hygiene.models import Finding, Source
from hygiene.services.imports import import_report
from incidents.services import incident_open
from tests.hygiene import reports

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
pytestmark = pytest.mark.django_db


def prowler_rows() -> tuple[list[str], list[dict]]:
    text = (FIXTURES / "prowler" / "generated_secret_hygiene.csv").read_text()
    reader = csv.DictReader(io.StringIO(text), delimiter=";")
    return reader.fieldnames, list(reader)


def prowler_csv(fields: list[str], rows: list[dict]) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode())


def test_later_audits_resolve_and_reopen_posture_findings(db):
    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    fields, rows = prowler_rows()
    failing = [r for r in rows if r["STATUS"] == "FAIL"]
    assert len(failing) >= 3
    first = import_report(
        source=source, format_key="prowler", stream=prowler_csv(fields, rows), via="cli"
    )
    assert first.created == len({(r["CHECK_ID"], r["RESOURCE_UID"]) for r in failing})
    passing = {(r["CHECK_ID"], r["RESOURCE_UID"]) for r in rows if r["STATUS"] == "PASS"}
    assert first.passed == len(passing) > 0  # received, counted, and no finding
    muted = {(r["CHECK_ID"], r["RESOURCE_UID"]) for r in failing if r["MUTED"].lower() == "true"}
    open_now = Finding.objects.filter(category="posture", status="open").count()
    assert open_now == first.created - len(muted)
    assert Finding.objects.filter(status="dismissed", resolution="accepted_risk").count() == len(
        muted
    )
    assert not Finding.objects.filter(secret__isnull=False).exists()

    unmuted = [r for r in failing if r["MUTED"].lower() != "true"]
    fixed, dropped = unmuted[0], unmuted[1]
    second_rows = [dict(r) for r in rows if r is not dropped]
    for r in second_rows:
        if r["FINDING_UID"] == fixed["FINDING_UID"]:
            r["STATUS"] = "PASS"
    second = import_report(
        source=source, format_key="prowler", stream=prowler_csv(fields, second_rows), via="cli"
    )
    assert second.resolved == 2
    assert second.passed == len(passing) + 1
    passed = Finding.objects.get(rule=fixed["CHECK_ID"], resource=fixed["RESOURCE_UID"])
    assert (passed.status, passed.resolution) == ("resolved", "passed")
    gone = Finding.objects.get(rule=dropped["CHECK_ID"], resource=dropped["RESOURCE_UID"])
    assert (gone.status, gone.resolution) == ("resolved", "no_longer_seen")

    third = import_report(  # the first audit's findings again (a new audit: rows reordered)
        source=source, format_key="prowler", stream=prowler_csv(fields, rows[::-1]), via="cli"
    )
    assert third.reopened == 2
    passed.refresh_from_db()
    assert passed.status == "open"


def test_an_audit_of_another_account_leaves_this_accounts_findings_alone(db):
    # Prowler audits one account a run: a full audit of account B says nothing about A.
    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    fields, rows = prowler_rows()
    accounts = {r["ACCOUNT_UID"] for r in rows}
    assert len(accounts) == 1
    import_report(source=source, format_key="prowler", stream=prowler_csv(fields, rows), via="cli")
    open_in_a = set(Finding.objects.filter(status="open").values_list("pk", flat=True))
    assert open_in_a
    other = [{**r, "ACCOUNT_UID": "999988887777", "STATUS": "PASS"} for r in rows[:3]]
    audit_b = import_report(
        source=source, format_key="prowler", stream=prowler_csv(fields, other), via="cli"
    )
    assert audit_b.resolved == 0
    assert set(Finding.objects.filter(status="open").values_list("pk", flat=True)) == open_in_a
    # A's next audit without one of its failures still resolves that one.
    failing = [r for r in rows if r["STATUS"] == "FAIL" and r["MUTED"].lower() != "true"]
    audit_a = import_report(
        source=source,
        format_key="prowler",
        stream=prowler_csv(fields, [r for r in rows if r is not failing[0]]),
        via="cli",
    )
    assert audit_a.resolved == 1


def test_a_credential_report_showing_the_key_inactive_verifies_revocation(db, lead):
    scanner = Source.objects.create(slug="trufflehog", name="TruffleHog", kind="scanner")
    auditor = Source.objects.create(slug="iam", name="IAM credential report", kind="auditor")
    user_arn = "arn:aws:iam::210987654321:user/deploy-bot"
    import_report(
        source=scanner,
        format_key="trufflehog",
        stream=io.BytesIO(
            reports.trufflehog(
                [
                    {
                        "secret": "AKIAQYLPMN5HHHFPZAM2",
                        "verified": False,
                        "extra": {"account": "210987654321", "arn": user_arn},
                    }
                ]
            )
        ),
        via="cli",
    )
    secret = scanner.findings.get().secret
    incident = incident_open(secrets=[secret], opened_by=lead)
    report = (
        FIXTURES / "aws-iam-credential-report" / "generated_credential_report.csv"
    ).read_text()
    lines = report.splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        if row[header.index("arn")] == user_arn:
            row[header.index("access_key_1_active")] = "false"
            row[header.index("access_key_2_active")] = "false"
    data = "\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n"
    import_report(
        source=auditor,
        format_key="aws-iam-credential-report",
        stream=io.BytesIO(data.encode()),
        via="cli",
    )
    revoke = incident.steps.get(position=1)
    assert revoke.action == "revoke"
    assert revoke.completed_at is not None
    assert revoke.evidence_event.event_name == "CredentialReport"


def test_deactivating_the_users_other_key_a_day_later_revokes_nothing(db, lead):
    """Day 1 the user has two active keys, both older than the leak; day 2 the other one is
    deactivated. The report has no key ids: the leaked key may be the one still active, so
    the revoke step stays open (day 2's report repeats the active key, stored once, day 1)."""
    scanner = Source.objects.create(slug="trufflehog", name="TruffleHog", kind="scanner")
    auditor = Source.objects.create(slug="iam", name="IAM credential report", kind="auditor")
    user_arn = "arn:aws:iam::210987654321:user/deploy-bot"
    leak = [
        {
            "secret": "AKIAQYLPMN5HHHFPZAM2",
            "verified": False,
            "extra": {"account": "210987654321", "arn": user_arn},
        }
    ]
    import_report(
        source=scanner,
        format_key="trufflehog",
        stream=io.BytesIO(reports.trufflehog(leak)),
        via="cli",
    )
    incident = incident_open(secrets=[scanner.findings.get().secret], opened_by=lead)
    report = (
        FIXTURES / "aws-iam-credential-report" / "generated_credential_report.csv"
    ).read_text()
    lines = report.splitlines()
    header = lines[0].split(",")

    def day(key_2_active: bool) -> bytes:
        rows = [line.split(",") for line in lines[1:]]
        for row in rows:
            if row[header.index("arn")] == user_arn:
                for n in (1, 2):
                    row[header.index(f"access_key_{n}_last_rotated")] = (
                        f"2023-01-0{n}T00:00:00+00:00"
                    )
                row[header.index("access_key_1_active")] = "true"
                row[header.index("access_key_2_active")] = "true" if key_2_active else "false"
        return ("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n").encode()

    for key_2_active in (True, False):
        run = import_report(
            source=auditor,
            format_key="aws-iam-credential-report",
            stream=io.BytesIO(day(key_2_active)),
            via="cli",
        )
        assert run.status == "succeeded", run.error
    assert incident.steps.get(position=1).completed_at is None
    said = incident.timeline.filter(kind="rotation_event").values_list("message", flat=True)
    assert any("still has an active key created before the leak" in m for m in said)


def test_the_findings_list_says_what_a_posture_finding_is_and_where(db, lead, client):
    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    fields, rows = prowler_rows()
    import_report(source=source, format_key="prowler", stream=prowler_csv(fields, rows), via="cli")
    finding = Finding.objects.filter(category="posture", status="open").exclude(region="").first()
    assert finding.title and finding.account and finding.region
    assert finding.account in finding.location_display
    assert finding.region in finding.location_display
    assert finding.location_display.startswith(finding.resource)
    client.force_login(lead)
    page = client.get(f"/findings/?status=open&source={source.slug}").content.decode()
    assert finding.title[:60] in page and finding.region in page
    # Validity is a credential's: a posture finding has none to show.
    assert "valid-unknown" not in page and "no credential to verify" in page


@pytest.mark.parametrize("batch", [5000, 1])
@pytest.mark.parametrize("order", ["pass_first", "fail_first"])
def test_a_fail_and_a_pass_of_one_check_on_one_resource_is_a_fail(monkeypatch, batch, order):
    # Prowler 3+ reports each of a user's two access keys on the user's ARN: key 1 rotated
    # (PASS), key 2 not (FAIL). Whatever their order (and even when the PASS was staged in an
    # earlier batch), the check fails: one open finding, the PASS not counted.
    monkeypatch.setattr("hygiene.services.staging.BATCH", batch)
    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    fields, rows = prowler_rows()
    failing = next(r for r in rows if r["STATUS"] == "FAIL" and r["MUTED"].lower() != "true")
    twin = dict(failing, STATUS="PASS", FINDING_UID=failing["FINDING_UID"] + "-key-1")
    pair = [twin, failing] if order == "pass_first" else [failing, twin]
    run = import_report(
        source=source, format_key="prowler", stream=prowler_csv(fields, pair), via="cli"
    )
    assert (run.created, run.passed) == (1, 0)
    finding = Finding.objects.get()
    assert (finding.rule, finding.resource, finding.status) == (
        failing["CHECK_ID"],
        failing["RESOURCE_UID"],
        "open",
    )


def test_a_cloud_audit_leaves_the_secrets_a_repository_scan_found(db):
    """One Prowler source for `prowler aws` and `prowler iac`: a full cloud audit says nothing
    of the secrets Trivy found in a repository (another account: the repository), so they
    stay; the repository's next scan marks the one it no longer reports as missing."""
    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    iac = json.loads((FIXTURES / "prowler/trivy/tool_prowler_5_46_iac_trivy.ocsf.json").read_text())
    run = import_report(
        source=source, format_key="prowler", stream=io.BytesIO(json.dumps(iac).encode()), via="cli"
    )
    assert run.full_scan and run.created == 5
    secrets = Finding.objects.filter(category="secret")
    assert secrets.count() == 4

    fields, rows = prowler_rows()
    cloud = import_report(
        source=source, format_key="prowler", stream=prowler_csv(fields, rows), via="cli"
    )
    assert cloud.missing == 0 and not secrets.filter(missing_since__isnull=False).exists()

    gone = next(
        i for i, f in enumerate(iac) if f["finding_info"]["uid"].endswith("deploy/.env-9:9")
    )
    rescan = json.dumps(iac[:gone] + iac[gone + 1 :]).encode()
    again = import_report(source=source, format_key="prowler", stream=io.BytesIO(rescan), via="cli")
    assert again.missing == 1
    assert list(secrets.filter(missing_since__isnull=False).values_list("path", "line")) == [
        ("deploy/.env", 9)
    ]


def test_a_plaintext_secret_in_configuration_has_its_own_type(db):
    """Prowler's "no secrets in Lambda variables" and alike find a value where anyone who reads
    the resource reads it: secret-in-config, not "other"; findings stored as "other" before
    take it (migration hygiene 0024), other checks keep theirs."""
    import importlib

    from django.apps import apps as django_apps

    source = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    fields, rows = prowler_rows()
    import_report(source=source, format_key="prowler", stream=prowler_csv(fields, rows), via="cli")
    lambda_vars = Finding.objects.get(rule="awslambda_function_no_secrets_in_variables")
    assert lambda_vars.secret_type == "secret-in-config"
    other = Finding.objects.filter(category="posture", secret_type="posture-other")
    kept = set(other.values_list("pk", flat=True))
    assert kept, "the fixture has checks of no particular type"

    Finding.objects.filter(pk=lambda_vars.pk).update(secret_type="posture-other")
    migration = importlib.import_module("hygiene.migrations.0024_posture_type_secret_in_config")
    migration.retype(django_apps, None)
    lambda_vars.refresh_from_db()
    assert lambda_vars.secret_type == "secret-in-config"
    assert set(other.values_list("pk", flat=True)) == kept
