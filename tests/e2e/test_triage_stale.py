"""Two people triaging the same findings in two browsers: a page loaded before someone else's
decision doesn't silently undo it; and a double click on a bulk action acts once."""

import pytest
from playwright.sync_api import expect

from hygiene.models import Finding
from incidents.models import TimelineEvent
from tests.conftest import PASSWORD
from tests.hygiene.test_filters import make_finding

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def other_tab(browser, live_server):
    """A second browser (another person's session), logged in as ``user``."""
    contexts = []

    def open_as(user):
        context = browser.new_context()
        contexts.append(context)
        tab = context.new_page()
        tab.goto(f"{live_server.url}/accounts/login/")
        tab.fill("input[name=username]", user.username)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{live_server.url}/")
        return tab

    yield open_as
    for context in contexts:
        context.close()


def row(page, finding):
    return page.locator(f"#finding-{finding.pk}")


def test_a_stale_list_doesnt_undo_a_resolve(
    login, page, live_server, lead, second_lead, other_tab, source, team
):
    first = make_finding(source, team=team, path="config/a.env")
    second = make_finding(source, team=team, path="config/b.env")
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    expect(row(page, first).get_by_test_id("finding-status")).to_contain_text("Open")

    # Sam, in another browser, resolves the first finding from its page.
    tab = other_tab(second_lead)
    tab.goto(f"{live_server.url}/findings/{first.pk}/")
    tab.get_by_test_id("finding-status-select").select_option("resolved")
    tab.get_by_test_id("finding-status-submit").click()
    expect(tab.get_by_role("status")).to_contain_text("1 finding updated")

    # Lena's list still shows it open; she sets both to triaged.
    row(page, first).get_by_role("checkbox").check()
    row(page, second).get_by_role("checkbox").check()
    page.get_by_role("button", name="Set status").click()
    flash = page.get_by_test_id("flash")
    expect(flash).to_contain_text("1 finding updated.")
    expect(flash).to_contain_text(f"#{first.pk} was resolved by Sam Second at ")
    expect(flash).to_contain_text("after you loaded this page: left as it is.")
    expect(row(page, first).get_by_test_id("finding-status")).to_contain_text("Resolved")
    expect(row(page, second).get_by_test_id("finding-status")).to_contain_text("Triaged")
    assert Finding.objects.get(pk=first.pk).status == "resolved"


def test_a_stale_finding_page_doesnt_overwrite_a_dismissal(
    login, page, live_server, lead, second_lead, other_tab, source, team
):
    finding = make_finding(source, team=team, path="legacy/box.env")
    login(lead)
    page.goto(f"{live_server.url}/findings/{finding.pk}/")

    tab = other_tab(second_lead)
    tab.goto(f"{live_server.url}/findings/{finding.pk}/")
    tab.get_by_test_id("finding-reason").select_option("wont_fix")
    tab.get_by_test_id("finding-dismiss-comment").fill("legacy box, retiring in March")
    tab.get_by_test_id("finding-dismiss-submit").click()
    expect(tab.get_by_role("status")).to_contain_text("1 finding dismissed")

    page.get_by_test_id("finding-status-select").select_option("resolved")
    page.get_by_test_id("finding-status-submit").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"#{finding.pk} was dismissed as won't fix by Sam Second at "
    )
    expect(page.get_by_role("status")).to_contain_text("left as it is.")
    expect(page.get_by_test_id("finding-facts")).to_contain_text("legacy box, retiring in March")
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "wont_fix")


def test_a_double_clicked_dismiss_acts_once_and_clears_its_reason(
    login, page, live_server, lead, source, team
):
    findings = [make_finding(source, team=team, path=f"tests/k{i}.env") for i in range(2)]
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    row(page, findings[0]).get_by_role("checkbox").check()
    page.get_by_test_id("bulk-reason").select_option("used_in_tests")
    page.get_by_test_id("bulk-comment").fill("fixture key")
    page.get_by_role("button", name="Dismiss", exact=True).dblclick()
    expect(page.get_by_test_id("flash")).to_have_text("1 finding dismissed.")
    page.wait_for_load_state("networkidle")
    # The second click sent nothing: no 400 "Select at least one finding first." over it.
    expect(page.get_by_test_id("flash")).to_have_text("1 finding dismissed.")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert TimelineEvent.objects.filter(kind="finding.dismissed").count() == 1
    # Ready for the next selection, not for reusing this one's words.
    expect(page.get_by_test_id("bulk-reason")).to_have_value("")
    expect(page.get_by_test_id("bulk-comment")).to_have_value("")
    expect(page.get_by_role("button", name="Dismiss", exact=True)).to_be_disabled()
    row(page, findings[1]).get_by_role("checkbox").check()
    expect(page.get_by_role("button", name="Dismiss", exact=True)).to_be_enabled()
