"""A source's page in the browser: a token rotated with an overlap says until when it works and
is not offered another rotation; only a GitHub source sets up GitHub's webhook; a rotator's
import history says what its imports did, in a table that scrolls in its frame on a phone."""

import re

import pytest
from playwright.sync_api import expect

from hygiene.models import ImportRun, Source
from tests.conftest import FIXTURES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_rotating_with_an_overlap_marks_the_old_token_replaced(
    login, screenshot, page, live_server, lead
):
    page.on("dialog", lambda dialog: dialog.accept())
    github = Source.objects.create(
        slug="github-alerts",
        name="GitHub alerts",
        kind="scanner",
        default_format="github-secret-scanning",
    )
    login(lead)
    page.goto(f"{live_server.url}/sources/{github.slug}/")
    page.get_by_test_id("token-name").fill("ci")
    page.get_by_test_id("create-token").click()
    expect(page.get_by_test_id("new-token-value")).to_have_text(re.compile(r"^lls_"))
    page.get_by_test_id("rotate-token-overlap").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("which works until")
    old = page.get_by_test_id("token-row").nth(1)
    state = old.get_by_test_id("token-state")
    expect(state).to_contain_text("replaced by lls_")
    expect(state).to_contain_text("expires in 23 hours")
    expect(old.get_by_test_id("rotate-token")).to_have_count(0)
    expect(old.get_by_test_id("rotate-token-overlap")).to_have_count(0)
    expect(old.get_by_test_id("revoke-token")).to_be_visible()
    expect(page.get_by_test_id("token-row").first.get_by_test_id("rotate-token")).to_be_visible()
    # A GitHub source sets up GitHub's webhook.
    expect(page.get_by_test_id("no-webhook-secret")).to_be_visible()
    page.get_by_test_id("rotate-webhook").click()
    expect(page.get_by_test_id("new-webhook-secret")).to_be_visible()
    expect(page.get_by_test_id("no-webhook-secret")).to_have_count(0)
    screenshot("source-github")


def test_a_rotators_page_says_what_its_imports_did(login, screenshot, page, live_server, lead):
    vault = Source.objects.create(
        slug="vault", name="Vault", kind="rotator", default_format="vault-audit"
    )
    login(lead)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/sources/{vault.slug}/")
    expect(page.get_by_test_id("webhook-url")).to_have_count(0)
    upload = page.get_by_test_id("upload-form")
    expect(upload.locator("input[name=full_scan]")).to_have_count(0)
    upload.locator("input[type=file]").set_input_files(
        str(FIXTURES / "vault-audit" / "generated_audit.log")
    )
    upload.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("rotation events")
    run = ImportRun.objects.get(source=vault)
    row = page.get_by_test_id("import-row")
    expect(row.get_by_test_id("import-events")).to_have_text(str(run.events))
    expect(row.get_by_test_id("import-scan")).to_have_text("no scan")
    # The table scrolls in its frame: the page itself is no wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("source-rotator-phone")
