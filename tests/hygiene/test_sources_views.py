import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from hygiene.api.auth import authenticate_token
from hygiene.models import ImportRun, Source, SourceToken
from hygiene.services import sources as services
from incidents.models import TimelineEvent
from tests.conftest import FIXTURES
from tests.db_locks import someone_waits_for
from tests.hygiene import reports
from tests.hygiene.test_imports import AWS_KEY, GH_TOKEN

ROLES = ["lead", "engineer", "manager", "outsider"]


@pytest.fixture
def as_user(client, request):
    def login(who):
        user = request.getfixturevalue(who)
        client.force_login(user)
        return user

    return login


@pytest.fixture
def token(source, lead):
    token, raw = services.source_token_create(source=source, by=lead, name="ci")
    token._raw = raw  # for the tests that use it
    return token


def test_token_is_shown_once_and_stored_hashed(source, lead):
    token, raw = services.source_token_create(source=source, by=lead, name="ci")
    assert raw.startswith("lls_") and raw not in token.token_hash
    assert authenticate_token(raw).source == source
    assert not SourceToken.objects.filter(token_hash=raw).exists()


def test_revoke_and_rotate(source, lead, token):
    new, raw = services.source_token_rotate(token=token, by=lead)
    token.refresh_from_db()
    assert token.state == "revoked" and new.state == "active" and new.name == "ci"
    assert authenticate_token(raw).source_token == new
    with pytest.raises(ValidationError):
        services.source_token_rotate(token=token, by=lead)
    services.source_token_revoke(token=new, by=lead)
    assert authenticate_token(raw) is None


def test_rotating_with_an_overlap_keeps_the_old_token_a_day(source, lead, token):
    """CI jobs use the old token until they get the new one: rotated with an overlap it works
    24 more hours (then it is refused as expired), not one minute more than it had."""
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        old_raw = token._raw
        new, raw = services.source_token_rotate(token=token, by=lead, overlap=True)
        token.refresh_from_db()
        assert token.state == "active" and token.revoked_at is None
        assert token.expires_at == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
        assert authenticate_token(old_raw).source_token == token
        assert authenticate_token(raw).source_token == new
    with time_machine.travel(datetime(2026, 11, 3, 9, 1, tzinfo=UTC), tick=False):
        assert authenticate_token(old_raw) is None
        assert authenticate_token(raw).source_token == new
        with pytest.raises(ValidationError, match="replaced by lls_"):
            services.source_token_rotate(token=token, by=lead, overlap=True)
    # A token due to expire within the day keeps its own (earlier) expiry.
    soon, _ = services.source_token_create(
        source=source, by=lead, name="soon", expires_at=timezone.now() + timedelta(hours=2)
    )
    expiry = soon.expires_at
    services.source_token_rotate(token=soon, by=lead, overlap=True)
    soon.refresh_from_db()
    assert soon.expires_at == expiry


def test_the_page_rotates_with_an_overlap_and_says_until_when(source, token, as_user, client):
    as_user("lead")
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert 'data-testid="rotate-token-overlap"' in page
    response = client.post(
        f"/sources/{source.slug}/tokens/{token.pk}/rotate/",
        {"overlap": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is None and token.expires_at is not None
    assert f"which works until {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}" in (
        response.content.decode()
    )


def test_expired_tokens_stop_working(source, lead):
    token, raw = services.source_token_create(
        source=source, by=lead, name="short", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert authenticate_token(raw) is not None
    SourceToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    assert authenticate_token(raw) is None
    with pytest.raises(ValidationError):
        services.source_token_create(
            source=source, by=lead, name="x", expires_at=timezone.now() - timedelta(1)
        )


def test_create_source_validates(lead):
    source = services.source_create(
        by=lead, slug="trufflehog-ci", name="TruffleHog", kind="scanner"
    )
    assert source.kind == "scanner"
    for bad in (
        {"slug": "Bad Slug!"},
        {"slug": "trufflehog-ci"},
        {"kind": "robot"},
        {"name": ""},
        {"slug": "new"},
    ):
        kwargs = {"slug": "ok-slug", "name": "x", "kind": "scanner", **bad}
        with pytest.raises(ValidationError):
            services.source_create(by=lead, **kwargs)


@pytest.mark.parametrize("who", ["engineer", "manager", "outsider"])
def test_only_leads_manage_sources(source, token, request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.source_token_create(source=source, by=user, name="x")
    with pytest.raises(PermissionDenied):
        services.source_token_revoke(token=token, by=user)
    with pytest.raises(PermissionDenied):
        services.source_webhook_secret_rotate(source=source, by=user)
    with pytest.raises(PermissionDenied):
        services.source_create(by=user, slug="x", name="x", kind="scanner")


def _actions(source, token):
    slug = source.slug
    return [
        ("/sources/new/", {"slug": "new-one", "name": "New", "kind": "auditor"}),
        (f"/sources/{slug}/tokens/", {"name": "deploy"}),
        (f"/sources/{slug}/tokens/{token.pk}/rotate/", {}),
        (f"/sources/{slug}/tokens/{token.pk}/revoke/", {}),
        (f"/sources/{slug}/webhook-secret/", {}),
    ]


@pytest.mark.parametrize("who", ROLES)
def test_source_pages_and_actions_by_role(source, token, as_user, client, who):
    as_user(who)
    can_view = who in ("lead", "manager")
    assert client.get("/sources/").status_code == (200 if can_view else 403)
    assert client.get(f"/sources/{source.slug}/").status_code == (200 if can_view else 403)
    for path, post in _actions(source, token):
        response = client.post(path, post)
        assert response.status_code in ((200, 302) if who == "lead" else (403,)), path


def test_new_token_appears_once_in_the_response_only(source, as_user, client):
    as_user("lead")
    response = client.post(
        f"/sources/{source.slug}/tokens/", {"name": "deploy"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    raw = response.context["new_token_raw"]
    assert raw in response.content.decode()
    assert authenticate_token(raw).source == source
    # How to use it: the import call for this host and the source's format.
    assert '"http://testserver/api/v1/imports?format=gitleaks"' in response.content.decode(), (
        "the example curl call"
    )
    again = client.get(f"/sources/{source.slug}/").content.decode()
    assert raw not in again and raw[:12] in again  # only the prefix from now on


def test_token_form_rejects_a_past_expiry_or_no_name(source, as_user, client):
    as_user("lead")
    response = client.post(f"/sources/{source.slug}/tokens/", {"name": " "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Name the token after where it will be used" in response.content.decode()
    response = client.post(
        f"/sources/{source.slug}/tokens/",
        {"name": "x", "expires_on": "2000-01-01"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "future" in response.content.decode()


def test_rotate_webhook_secret_shows_it_once(source, as_user, client):
    as_user("lead")
    Source.objects.filter(pk=source.pk).update(default_format="github-secret-scanning")
    # Without one, the page says deliveries are refused (the webhook tells callers nothing).
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert "deliveries to this source are refused (401)" in page
    assert f"http://testserver/api/v1/webhooks/github/{source.slug}</code>" in page
    response = client.post(f"/sources/{source.slug}/webhook-secret/", HTTP_HX_REQUEST="true")
    source.refresh_from_db()
    assert source.webhook_secret and source.webhook_secret in response.content.decode()
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert source.webhook_secret not in page and "are refused" not in page


def test_create_source_form(as_user, client):
    as_user("lead")
    response = client.post(
        "/sources/new/",
        {"slug": "prowler", "name": "Prowler", "kind": "auditor", "default_format": "prowler"},
    )
    assert response.status_code == 302 and response["Location"] == "/sources/prowler/"
    baseline = {"slug": "ds-api", "name": "detect-secrets", "kind": "scanner"}
    client.post("/sources/new/", {**baseline, "repo": "https://github.com/acme/api/"})
    assert Source.objects.get(slug="ds-api").repo == "https://github.com/acme/api"
    bad = client.post("/sources/new/", {"slug": "prowler", "name": "Again", "kind": "auditor"})
    reload = client.get("/sources/new/")  # the URL the failed form left in the address bar
    assert reload.status_code == 302 and reload.url == "/sources/"
    assert bad.status_code == 400 and "exists already" in bad.content.decode()
    assert Source.objects.filter(slug="prowler").count() == 1
    assert Source.objects.get(slug="prowler").full_scan  # not sent: full scans, the default


def test_create_source_form_says_what_is_wrong_with_each_field_and_keeps_choices(
    as_user, client, team
):
    as_user("lead")
    bad = client.post(
        "/sources/new/",
        {
            "slug": "okslug",
            "name": "x" * 500,
            "kind": "bogus",
            "default_format": "nope",
            "default_team": str(team.pk),
            "scans": "partial",
        },
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Ensure this value has at most 120 characters" in page
    assert "Select a valid choice. bogus is not one of the available choices." in page
    assert "Select a valid choice. nope is not one of the available choices." in page
    assert f'<option value="{team.pk}" selected>' in page
    assert '<option value="partial" selected>' in page
    assert not Source.objects.filter(slug="okslug").exists()
    good = client.post(
        "/sources/new/",
        {"slug": "okslug", "name": "OK", "kind": "scanner", "scans": "partial"},
    )
    assert good.status_code == 302
    assert Source.objects.get(slug="okslug").full_scan is False


@pytest.mark.parametrize("who", ["engineer", "manager"])
def test_only_leads_change_a_sources_settings(source, as_user, client, who):
    as_user(who)
    response = client.post(f"/sources/{source.slug}/settings/", {"name": "Hijacked"})
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.name == "gitleaks in CI"


def test_a_lead_changes_a_sources_settings_and_an_inactive_sources_tokens_are_refused(
    source, source_token, as_user, client, team
):
    lead = as_user("lead")
    assert authenticate_token(source_token) is not None
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert 'data-testid="source-edit-form"' in page
    response = client.post(
        f"/sources/{source.slug}/settings/",
        {
            "name": "gitleaks nightly",
            "default_format": "gitleaks",
            "default_team": str(team.pk),
            "scans": "partial",
            "active": "no",
            "repo": "https://github.com/acme/app.git",
        },
        follow=True,
    )
    source.refresh_from_db()
    assert source.repo == "https://github.com/acme/app"
    assert "repository https://github.com/acme/app (for reports that name none)" in (
        response.content.decode()
    )
    assert (source.name, source.default_team, source.full_scan, source.is_active) == (
        "gitleaks nightly",
        team,
        False,
        False,
    )
    assert "inactive (tokens and webhook refused)" in response.content.decode()
    event = TimelineEvent.objects.get(kind="source.updated")
    assert event.actor == lead and "partial scans" in event.message
    # An inactive source's token no longer imports.
    assert authenticate_token(source_token) is None
    # A script posting only a name changes only the name.
    client.post(f"/sources/{source.slug}/settings/", {"name": "gitleaks nightly"})
    source.refresh_from_db()
    assert (source.default_team, source.full_scan, source.is_active) == (team, False, False)
    assert source.repo == "https://github.com/acme/app"
    # Nothing to change: said so, nothing logged.
    same = {
        "name": "gitleaks nightly",
        "default_format": "gitleaks",
        "default_team": team.pk,
        "repo": "https://github.com/acme/app",
    }
    client.post(f"/sources/{source.slug}/settings/", {**same, "scans": "partial"})
    assert TimelineEvent.objects.filter(kind="source.updated").count() == 1
    # A bad value: the page again, with what is wrong, and nothing changed.
    bad = client.post(f"/sources/{source.slug}/settings/", {"name": " ", "scans": "full"})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    source.refresh_from_db()
    assert source.name == "gitleaks nightly" and not source.full_scan


def test_upload_a_report_by_hand(source, as_user, client):
    lead = as_user("lead")
    report = (FIXTURES / "gitleaks" / "gitleaks8_many.json").read_bytes()
    response = client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("report.json", report)},
    )
    assert response.status_code == 302, response.content
    run = ImportRun.objects.get(source=source)
    assert (run.via, run.created_by, run.format) == ("upload", lead, "gitleaks")
    assert run.received > 0
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert 'data-testid="import-row"' in page
    assert f"Import #{run.pk}: succeeded — {run.received} received, {run.created} new" in page
    # The same file again is the same import: said so, not reported as fresh findings.
    client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("again.json", report)},
    )
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert f"This report was imported already (import #{run.pk}," in page
    assert ImportRun.objects.filter(source=source).count() == 1


def test_an_audits_passed_checks_are_counted_in_the_history(as_user, client):
    as_user("lead")
    auditor = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    report = (FIXTURES / "prowler" / "generated_secret_hygiene.csv").read_bytes()
    client.post(
        "/sources/prowler/upload/",
        {"format": "prowler", "file": SimpleUploadedFile("prowler.csv", report)},
    )
    run = ImportRun.objects.get(source=auditor)
    assert (run.received, run.created, run.passed) == (11, 8, 3)  # a MANUAL row is skipped
    page = client.get("/sources/prowler/").content.decode()
    assert (
        "Import #" in page and "11 received, 8 new, 0 updated, 0 unchanged, 3 checks passed" in page
    )
    assert '<div class="muted">3 passed</div>' in page


def test_upload_errors_are_4xx_with_a_message(source, as_user, client):
    as_user("lead")
    htmx = {"HX-Request": "true"}
    bad = client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("r.json", b"{not json")},
        headers=htmx,
    )
    assert bad.status_code == 400
    assert "failed" in bad.content.decode().lower()
    failed = ImportRun.objects.get(source=source)
    assert failed.status == "failed" and failed.error
    # The history says where, then what, and marks the run failed.
    history = client.get(f"/sources/{source.slug}/").content.decode()
    assert f"{failed.error_location}: {failed.error}" in history
    assert '<span class="badge st-failed">failed</span>' in history
    unknown = client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "nope", "file": SimpleUploadedFile("r.json", b"[]")},
        headers=htmx,
    )
    assert unknown.status_code == 400  # the form offers only known formats
    assert "valid choice" in unknown.content.decode()
    missing = client.post(f"/sources/{source.slug}/upload/", {"format": "gitleaks"}, headers=htmx)
    assert missing.status_code == 400
    # Without htmx: back on the source page, the error shown there (reloading posts nothing).
    page = client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("r.json", b"")},
        follow=True,
    )
    assert page.redirect_chain[-1][0] == f"/sources/{source.slug}/"
    body = page.content.decode()
    assert "is empty" in body and "<nav" in body
    assert "import-row" in client.get(f"/sources/{source.slug}/").content.decode()


def test_a_source_can_only_default_to_a_known_format(as_user, client):
    as_user("lead")
    response = client.post(
        "/sources/new/",
        {"slug": "odd", "name": "Odd", "kind": "scanner", "default_format": "nosuchformat"},
    )
    assert response.status_code == 400
    from hygiene.models import Source

    assert not Source.objects.filter(slug="odd").exists()


def test_deleting_a_source_in_the_admin_takes_its_findings_and_secrets_cannot_be(
    client, source, tmp_path
):
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from hygiene.models import Finding, Secret
    from incidents.models import TimelineEvent
    from tests.hygiene import reports

    path = tmp_path / "r.json"
    path.write_bytes(reports.gitleaks([{"secret": "ghp_" + "7" * 36, "rule": "github-pat"}]))
    call_command("import_findings", str(path), source=source.slug, format_key="gitleaks")
    assert Finding.objects.filter(source=source).count() == 1
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    secret = Secret.objects.get()
    # A leaked credential's record stays: no delete in the admin.
    assert client.get(f"/admin/hygiene/secret/{secret.pk}/delete/").status_code == 403

    response = client.post(f"/admin/hygiene/source/{source.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists()
    # Findings have no database constraint to their source: the delete took them.
    assert not Finding.objects.exists() and not ImportRun.objects.exists()
    event = TimelineEvent.objects.get(kind="source.deleted")
    assert event.actor == admin and "1 findings" in event.message
    # The secret stays editable: the run that first saw it went with the source, and its
    # id is history, shown, not a choice the form would refuse.
    page = client.get(f"/admin/hygiene/secret/{secret.pk}/change/")
    assert page.status_code == 200 and 'name="first_run"' not in page.content.decode()
    response = client.post(
        f"/admin/hygiene/secret/{secret.pk}/change/",
        {
            "secret_type": secret.secret_type,
            "severity": "critical",
            "validity": secret.validity,
            "place_count": secret.place_count,
            "finding_count": secret.finding_count,
            "first_seen_at_0": secret.first_seen_at.strftime("%Y-%m-%d"),
            "first_seen_at_1": secret.first_seen_at.strftime("%H:%M:%S"),
            "exposed_since_0": secret.exposed_since.strftime("%Y-%m-%d"),
            "exposed_since_1": secret.exposed_since.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    secret.refresh_from_db()
    assert secret.severity == "critical" and secret.first_run_id is not None


@pytest.mark.django_db(transaction=True)
def test_a_source_deleted_while_an_import_reconciles_takes_that_imports_findings(source):
    import threading
    import time

    from django.db import connection, connections

    from hygiene.importers import get_parser
    from hygiene.models import Finding
    from hygiene.services.imports import reconcile, stage
    from hygiene.services.reconcile import Reconciler
    from tests.hygiene import reports

    run = ImportRun.objects.create(
        source=source,
        format="gitleaks",
        via="api",
        payload_sha256="x" * 64,
        status="running",
        started_at=timezone.now(),
    )
    body = io.BytesIO(reports.gitleaks([{"secret": "ghp_" + "8" * 36, "rule": "github-pat"}]))
    stage(run, get_parser("gitleaks"), body)  # staged, committed, waiting for its reconcile
    reconciled = threading.Event()
    original = Reconciler.run_all

    def run_all_then_linger(self):
        counts = original(self)  # the source is held and the finding written, not committed
        reconciled.set()
        # Commit only once the delete is waiting for this transaction's lock (or, without the
        # lock, after 10 s: the delete has long finished, and the test fails below).
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while not someone_waits_for(cursor) and time.monotonic() < deadline:
                pass
        return counts

    def reconcile_in_a_thread():
        try:
            reconcile(run)
        finally:
            connections.close_all()

    Reconciler.run_all = run_all_then_linger
    try:
        worker = threading.Thread(target=reconcile_in_a_thread)
        worker.start()
        assert reconciled.wait(10)
        deleted = services.source_delete(source=source)
        worker.join(10)
    finally:
        Reconciler.run_all = original
    assert not worker.is_alive()
    # Without the wait, the delete would have collected no finding and left this run's one
    # behind, pointing at no source.
    assert deleted == 1
    assert not Finding.objects.exists()


def test_an_upload_says_what_its_full_scan_marked_missing(source, as_user, client):
    # A full scan that no longer reports a finding marks it missing: the upload says how many
    # (another tool's report sent to this source does it to every finding it had).
    as_user("lead")
    first = reports.gitleaks([{"secret": AWS_KEY}, {"secret": GH_TOKEN}])
    client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("a.json", first), "full_scan": "on"},
    )
    second = reports.gitleaks([{"secret": AWS_KEY}])
    client.post(
        f"/sources/{source.slug}/upload/",
        {"format": "gitleaks", "file": SimpleUploadedFile("b.json", second), "full_scan": "on"},
    )
    run = ImportRun.objects.filter(source=source).latest("pk")
    assert (run.unchanged, run.missing) == (1, 1)
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert "1 unchanged, 1 no longer reported (marked missing)" in page
    assert '<td data-testid="import-changes"><span class="nowrap">1 missing</span></td>' in page


def test_a_lead_deletes_a_source_by_typing_its_slug(source, as_user, client):
    as_user("engineer")
    assert (
        client.post(f"/sources/{source.slug}/delete/", {"confirm": source.slug}).status_code == 403
    )
    lead = as_user("lead")
    client.post(
        f"/sources/{source.slug}/upload/",
        {
            "format": "gitleaks",
            "file": SimpleUploadedFile("a.json", reports.gitleaks([{"secret": AWS_KEY}])),
        },
    )
    assert source.findings.count() == 1
    wrong = client.post(f"/sources/{source.slug}/delete/", {"confirm": "gitleaks"}, follow=True)
    assert "Type the source&#x27;s slug (gitleaks-ci) to delete it" in wrong.content.decode()
    assert Source.objects.filter(pk=source.pk).exists()
    done = client.post(f"/sources/{source.slug}/delete/", {"confirm": source.slug}, follow=True)
    assert done.redirect_chain[-1][0] == "/sources/"
    assert "Source gitleaks-ci deleted with its 1 finding." in done.content.decode()
    assert not Source.objects.filter(pk=source.pk).exists()
    event = TimelineEvent.objects.get(kind="source.deleted")
    assert event.actor == lead


def test_deleting_a_source_says_which_open_incidents_only_it_had_found(source, as_user, client):
    """Its incidents stay open (a person decides); the page warns before, the message after,
    and the secrets it shared with another source are counted again (no longer reused)."""
    from hygiene.models import Secret
    from hygiene.services.imports import import_report
    from incidents.services import incident_open

    lead = as_user("lead")
    other = Source.objects.create(slug="trufflehog", name="TruffleHog", kind="scanner")
    for target, secrets in ((source, [AWS_KEY, GH_TOKEN]), (other, [GH_TOKEN])):
        import_report(
            source=target,
            format_key="gitleaks",
            stream=io.BytesIO(
                reports.gitleaks([{"secret": s, "repo": f"acme/{target.slug}"} for s in secrets])
            ),
            via="cli",
        )
    only_here = source.findings.get(secret__preview__startswith="AKIA").secret
    shared = other.findings.get().secret
    assert shared.reused
    mine = incident_open(secrets=[only_here], opened_by=lead)
    incident_open(secrets=[shared], opened_by=lead)
    page = client.get(f"/sources/{source.slug}/").content.decode()
    assert f"stay open after it is deleted: {mine.reference}." in page
    done = client.post(f"/sources/{source.slug}/delete/", {"confirm": source.slug}, follow=True)
    assert f"only gitleaks-ci had found stay open: {mine.reference}." in done.content.decode()
    shared = Secret.objects.get(pk=shared.pk)
    assert (shared.finding_count, shared.place_count, shared.reused) == (1, 1, False)
    assert Secret.objects.get(pk=only_here.pk).finding_count == 0


def test_the_create_source_command_takes_a_repository(db, capsys):
    from django.core.management import call_command

    call_command(
        "create_source", "ds-web", kind="scanner", format_key="detect-secrets", repo="acme/web/"
    )
    raw = capsys.readouterr().out.strip()
    source = Source.objects.get(slug="ds-web")
    assert (source.repo, source.default_format) == ("acme/web", "detect-secrets")
    assert authenticate_token(raw).source == source


def _rows(page: str, testid: str) -> list[list[str]]:
    """The text of each cell of the page's rows with this data-testid."""
    from html.parser import HTMLParser

    rows: list[list[str]] = []

    class Rows(HTMLParser):
        depth = 0  # inside a wanted row: how many <td> deep

        def handle_starttag(self, tag, attrs):
            if tag == "tr" and ("data-testid", testid) in attrs:
                rows.append([])
                self.depth = 1
            elif tag == "td" and self.depth:
                rows[-1].append("")

        def handle_endtag(self, tag):
            if tag == "tr":
                self.depth = 0

        def handle_data(self, data):
            if self.depth and rows[-1]:
                rows[-1][-1] += data

    Rows().feed(page)
    return [[" ".join(cell.split()) for cell in row] for row in rows]


def _headers(page: str) -> list[str]:
    """The import history's column headings."""
    table = page[page.index("<h2>Import history</h2>") :]
    return re.findall(r"<th[^>]*>([^<]*)</th>", table[: table.index("</thead>")])


def test_the_import_history_shows_every_count_and_whether_each_run_was_a_full_scan(
    source, as_user, client
):
    """A re-scan that reopened findings says so on its row, with what it marked missing and
    what the tool dismissed; a partial scan says it was one."""
    as_user("lead")
    counts = {"status": "succeeded", "format": "gitleaks", "via": "api"}
    ImportRun.objects.create(
        source=source, payload_sha256="a" * 64, received=9, unchanged=3, full_scan=False, **counts
    )
    ImportRun.objects.create(
        source=source,
        payload_sha256="b" * 64,
        received=9,
        reopened=5,
        missing=4,
        dismissed=1,
        full_scan=True,
        **counts,
    )
    page = client.get(f"/sources/{source.slug}/").content.decode()
    headers = _headers(page)
    assert "Scan" in headers and "Changes" in headers
    assert "Events" not in headers  # a scanner's source is refused events
    rescan, partial = (dict(zip(headers, row, strict=True)) for row in _rows(page, "import-row"))
    assert rescan["Scan"] == "full"
    assert rescan["Changes"] == "5 reopened · 4 missing · 1 dismissed by the tool"
    assert (partial["Scan"], partial["Unchanged"], partial["Changes"]) == ("partial", "3", "—")


def test_a_rotators_history_shows_its_events_and_that_they_were_no_scan(lead, as_user, client):
    """What a rotator's import did: the events it brought, and no scan (nothing went missing)."""
    as_user("lead")
    vault = Source.objects.create(
        slug="vault", name="Vault", kind="rotator", default_format="vault-audit"
    )
    log = (FIXTURES / "vault-audit" / "generated_audit.log").read_bytes()
    client.post(
        "/sources/vault/upload/",
        {"format": "vault-audit", "file": SimpleUploadedFile("audit.log", log)},
    )
    run = ImportRun.objects.get(source=vault)
    assert run.status == "succeeded" and run.events > 0
    page = client.get("/sources/vault/").content.decode()
    headers = _headers(page)
    (row,) = (dict(zip(headers, row, strict=True)) for row in _rows(page, "import-row"))
    assert (row["Received"], row["Events"]) == (str(run.received), str(run.events))
    assert row["Scan"] == "no scan"


def test_only_a_github_source_shows_the_webhook_and_its_warning(as_user, client):
    """GitHub's deliveries make sense for a GitHub secret-scanning source, and for one that
    has a webhook secret already (a setup to keep in view); not for Vault, Prowler, gitleaks."""
    as_user("lead")
    pages = {}
    for slug, kind, fmt, secret in (
        ("github", "scanner", "github-secret-scanning", ""),
        ("vault", "rotator", "vault-audit", ""),
        ("prowler", "auditor", "prowler", ""),
        ("gitleaks", "scanner", "gitleaks", ""),
        ("set-up", "scanner", "gitleaks", "s3cret-webhook-key"),
    ):
        Source.objects.create(
            slug=slug, name=slug, kind=kind, default_format=fmt, webhook_secret=secret
        )
        pages[slug] = client.get(f"/sources/{slug}/").content.decode()
    assert 'data-testid="webhook-url"' in pages["github"]
    assert "deliveries to this source are refused (401)" in pages["github"]
    for slug in ("vault", "prowler", "gitleaks"):
        assert 'data-testid="webhook-url"' not in pages[slug], slug
        assert "Webhook secret" not in pages[slug] and "refused (401)" not in pages[slug], slug
    assert 'data-testid="webhook-url"' in pages["set-up"]
    assert "Set (hidden)" in pages["set-up"] and "refused (401)" not in pages["set-up"]
    assert "s3cret-webhook-key" not in pages["set-up"]


def test_a_rotators_page_offers_no_full_scans_and_its_upload_keeps_the_sources_setting(
    source, as_user, client
):
    """A report of rotation events is no scan: no full-scan setting, box or repository on a
    rotator's page. Its upload is imported as the API would (the source's setting)."""
    as_user("lead")
    vault = Source.objects.create(
        slug="vault", name="Vault", kind="rotator", default_format="vault-audit"
    )
    page = client.get("/sources/vault/").content.decode()
    assert 'name="full_scan"' not in page and 'name="scans"' not in page
    assert "Full scans" not in page and "(as each report says)" not in page
    # A scanner's page has them all.
    scanner = client.get(f"/sources/{source.slug}/").content.decode()
    assert 'name="full_scan"' in scanner and 'name="scans"' in scanner
    assert "Full scans" in scanner and "(as each report says)" in scanner
    log = (FIXTURES / "vault-audit" / "generated_audit.log").read_bytes()
    client.post(
        "/sources/vault/upload/",
        {"format": "vault-audit", "file": SimpleUploadedFile("audit.log", log)},
    )
    assert ImportRun.objects.get(source=vault).full_scan is vault.full_scan is True
    # Saving its settings (no scans field on the form) keeps them.
    Source.objects.filter(pk=vault.pk).update(full_scan=False)
    client.post("/sources/vault/settings/", {"name": "Vault prod"})
    vault.refresh_from_db()
    assert (vault.name, vault.full_scan) == ("Vault prod", False)


def test_a_token_rotated_with_an_overlap_says_when_it_expires_and_is_not_rotated_again(
    source, as_user, client
):
    lead = as_user("lead")
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=UTC), tick=False):
        token, _ = services.source_token_create(source=source, by=lead, name="ci")
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        client.post(
            f"/sources/{source.slug}/tokens/{token.pk}/rotate/",
            {"overlap": "1"},
            HTTP_HX_REQUEST="true",
        )
    new = SourceToken.objects.exclude(pk=token.pk).get()
    with time_machine.travel(datetime(2026, 11, 2, 10, 0, tzinfo=UTC), tick=False):
        page = client.get(f"/sources/{source.slug}/").content.decode()
    rows = page.split('<tr data-testid="token-row">')[1:]
    (old_row,) = [r for r in rows if f"{token.prefix}…</td>" in r]
    (new_row,) = [r for r in rows if f"{new.prefix}…</td>" in r]
    cells = ("token", "name", "state", "created", "expires", "last used", "actions")
    state = dict(zip(cells, _rows(page, "token-row")[1], strict=True))
    assert state["token"] == f"{token.prefix}…"
    assert state["state"] == f"replaced by {new.prefix}…, expires in 23 hours"
    assert state["expires"] == "2026-11-03 09:00"
    assert 'data-testid="rotate-token' not in old_row and 'data-testid="revoke-token"' in old_row
    assert (
        'data-testid="rotate-token"' in new_row and 'data-testid="rotate-token-overlap"' in new_row
    )
    # Expired, it is not offered a rotation the service would refuse.
    with time_machine.travel(datetime(2026, 11, 3, 9, 1, tzinfo=UTC), tick=False):
        page = client.get(f"/sources/{source.slug}/").content.decode()
    assert _rows(page, "token-row")[1][2] == "expired"
    assert page.count('data-testid="rotate-token"') == 1


def test_a_replaced_token_is_not_rotated_again_even_by_a_crafted_request(
    source, token, as_user, client
):
    """The page offers no rotation of a token rotated with an overlap; a POST made by hand (or
    a double click) gets a 400 naming the replacement, and no third token is made."""
    as_user("lead")
    url = f"/sources/{source.slug}/tokens/{token.pk}/rotate/"
    assert client.post(url, {"overlap": "1"}, HTTP_HX_REQUEST="true").status_code == 200
    new = SourceToken.objects.exclude(pk=token.pk).get()
    token.refresh_from_db()
    assert token.replaced_by == new and token.is_usable()
    for overlap in ("1", ""):
        response = client.post(url, {"overlap": overlap}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400
        assert f"replaced by {new.prefix}… already" in response.content.decode()
    assert SourceToken.objects.filter(source=source).count() == 2
    # Its replacement is the one to rotate; rotated at once, the old one names it, revoked.
    services.source_token_rotate(token=new, by=token.created_by)
    new.refresh_from_db()
    third = new.replaced_by
    assert new.state == "revoked" and third.name == "ci"
    page = client.get(f"/sources/{source.slug}/").content.decode()
    states = {row[0]: row[2] for row in _rows(page, "token-row")}
    assert states[f"{new.prefix}…"] == f"revoked, replaced by {third.prefix}…"


def test_a_rotated_token_lasts_as_long_as_the_old_one_was_made_to(source, lead):
    """A 90-day token rotated on its 80th day is replaced by a 90-day token, not by one that
    expires 10 days later with the old one; a token without expiry by one without."""
    with time_machine.travel(datetime(2026, 8, 1, 9, 0, tzinfo=UTC), tick=False):
        token, _ = services.source_token_create(
            source=source, by=lead, name="ci", expires_at=datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
        )
        forever, _ = services.source_token_create(source=source, by=lead, name="forever")
    with time_machine.travel(datetime(2026, 10, 20, 9, 0, tzinfo=UTC), tick=False):
        new, _ = services.source_token_rotate(token=token, by=lead)
        assert new.expires_at == datetime(2027, 1, 18, 9, 0, tzinfo=UTC)  # 90 days from now
        again, _ = services.source_token_rotate(token=forever, by=lead, overlap=True)
        assert again.expires_at is None
