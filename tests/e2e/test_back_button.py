"""Back shows what is true now, not an old copy: after an htmx action changed a page, neither
the browser's cache (pages are sent no-store) nor htmx's history snapshots (turned off in
base.html) bring back the state from before it; after logging out, Back shows no data."""

import re

import pytest
from playwright.sync_api import expect

from tests.hygiene.test_filters import make_finding

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def leaked(source):
    return make_finding(source, severity="high", repo="acme/payments-api", path="deploy/prod.env")


def resolve_the_row(page):
    page.get_by_test_id("finding-row").first.get_by_role("checkbox").check()
    page.get_by_label("New status").select_option("resolved")
    page.get_by_role("button", name="Set status").click()
    expect(page.get_by_test_id("finding-status")).to_contain_text("Resolved")


def test_back_after_an_htmx_action_and_a_link_shows_the_page_as_it_is_now(
    login, page, live_server, lead, leaked
):
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    expect(page.get_by_test_id("finding-status")).to_contain_text("Open")
    resolve_the_row(page)
    page.get_by_role("link", name="Incidents", exact=True).click()
    expect(page).to_have_url(re.compile(r"/incidents/$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/findings/$"))
    expect(page.get_by_test_id("finding-status")).to_contain_text("Resolved")


def test_back_to_a_page_htmx_pushed_shows_it_as_it_is_now(login, page, live_server, lead, leaked):
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    # A filter pushes its URL: htmx would keep a snapshot of the page as it was before.
    page.get_by_test_id("filter-severity").select_option(["high"])
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=high"))
    resolve_the_row(page)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/findings/$"))
    expect(page.get_by_test_id("finding-status")).to_contain_text("Resolved")
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None


def test_back_after_logging_out_shows_no_findings(login, page, live_server, lead, leaked):
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    expect(page.get_by_test_id("finding-row")).to_contain_text("deploy/prod.env")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    assert "deploy/prod.env" not in page.content()
