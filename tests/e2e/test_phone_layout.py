"""A triager on a phone (390 px wide): the header is two short rows, not a quarter of the screen;
the findings come first, with the filters folded under their summary; the bulk bar stays at hand
while the list scrolls. A wide screen looks as before: one header row, the filters open."""

import re

import pytest
from playwright.sync_api import expect

from tests.hygiene.test_filters import make_finding

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}


def height(page, selector: str) -> float:
    return page.locator(selector).first.bounding_box()["height"]


def on_the_first_screen(locator) -> bool:
    """Its whole height (a row is wider than a phone: its table scrolls sideways in a frame)."""
    box = locator.bounding_box()
    return box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def rows(page):
    return page.get_by_test_id("finding-row")


def test_a_phones_header_is_two_short_rows_with_every_link_in_reach(login, live_server, lead):
    page = login(lead)
    page.set_viewport_size(PHONE)
    for path in ("/", "/findings/", "/incidents/", "/playbooks/"):
        page.goto(f"{live_server.url}{path}")
        # All links wrapped, it was 214 px tall.
        assert height(page, ".topbar") <= 120, path
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    # The main links are one row that scrolls sideways: the last one is there for the keyboard.
    nav = page.get_by_role("navigation", name="Main")
    playbooks = nav.get_by_role("link", name="Playbooks")
    playbooks.focus()
    expect(playbooks).to_be_focused()
    expect(playbooks).to_be_in_viewport(ratio=1)
    # The account links are behind a menu button, opened with the keyboard.
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_hidden()
    menu = page.get_by_test_id("account-menu").locator("summary")
    expect(menu).to_have_attribute("aria-label", re.compile(lead.get_full_name()))
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("api-tokens-link")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text("Security lead")
    log_out.click()
    expect(page.locator("input[name=username]")).to_be_visible()

    # A wide screen keeps its one row, with the account links in it and no menu button.
    page = login(lead)
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/findings/")
    assert height(page, ".topbar") <= 60
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_test_id("account-menu").locator("summary")).to_be_hidden()


def test_on_a_phone_the_findings_come_first_and_a_wide_screen_shows_the_filters(
    login, live_server, lead, source
):
    for i in range(3):
        make_finding(source, path=f"src/app{i}.py")
    page = login(lead)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/findings/")
    # No filter set: the first finding is on the first screen (the filters were 1,700 px).
    assert on_the_first_screen(rows(page).first)
    severity = page.get_by_test_id("filter-severity")
    expect(severity).to_be_hidden()
    filters = page.get_by_test_id("filters")
    expect(filters.locator("summary")).to_contain_text("none set")
    # One tap opens them; a filter applied says so in the folded summary.
    filters.locator("summary").click()
    severity.select_option(["high"])
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=high"))
    expect(page.get_by_test_id("filters-active")).to_be_visible()
    # A filtered link opened afresh shows its findings first too, and that a filter is set.
    page.goto(page.url)
    assert on_the_first_screen(rows(page).first)
    expect(page.get_by_test_id("filters-active")).to_be_visible()

    # A wide screen shows the filters without a click, and no summary to click.
    page.set_viewport_size(WIDE)
    for path in ("/findings/", "/findings/secrets/", "/findings/?severity=high"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_test_id("filter-severity")).to_be_visible()
        expect(page.get_by_test_id("filter-q")).to_be_visible()
        expect(page.get_by_test_id("apply-filters")).to_be_visible()
        expect(page.get_by_test_id("filters").locator("summary")).to_be_hidden()


def test_on_a_phone_the_bulk_bar_stays_at_hand_down_the_list(login, live_server, lead, source):
    for i in range(40):
        make_finding(source, severity="low", path=f"p{i:03}.py")
    page = login(lead)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/findings/")
    expect(rows(page)).to_have_count(40)
    bar = page.get_by_test_id("bulk-bar")
    # One row that scrolls sideways (wrapped, it was 480 px: pinned, half the screen).
    assert bar.bounding_box()["height"] <= 120
    rows(page).first.get_by_role("checkbox").check()
    # Down to the end of the list, where another row is ticked: the bar is still in view, on
    # top of the rows, and acts on both.
    last = rows(page).last
    last.scroll_into_view_if_needed()
    last.get_by_role("checkbox").check()
    assert page.evaluate("scrollY") > 1000
    expect(bar).to_be_in_viewport()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 selected")
    top = page.get_by_test_id("selected-count").evaluate(
        "el => { const r = el.getBoundingClientRect(); "
        "return el.contains(document.elementFromPoint(r.left + 5, r.top + r.height / 2)); }"
    )
    assert top, "the bulk bar is covered"
    page.get_by_label("New status").select_option("resolved")
    page.get_by_role("button", name="Set status").click()
    expect(page.get_by_test_id("flash")).to_have_text("2 findings updated.")


def test_on_a_phone_the_engineers_dashboard_shows_each_step_as_a_card(
    login, screenshot, live_server, lead, engineer, team
):
    """The steps table squeezed a step's title into ~50 px ("Deacti|vate"), and a long
    unbroken incident title made the incident page scroll sideways."""
    from incidents.models import Incident
    from incidents.services import incident_open
    from tests.incidents.conftest import make_secret

    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    Incident.objects.filter(pk=incident.pk).update(title="prod-" + "k" * 150)
    first = incident.steps.get(position=1)
    page = login(engineer)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/")
    row = page.get_by_test_id("step-row").first
    step = row.get_by_text(f"1. {first.title}")
    expect(step).to_be_in_viewport(ratio=1)
    assert step.bounding_box()["width"] > 150
    # No word of the title is split: it takes as many lines as it has words at most.
    line = float(step.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert step.bounding_box()["height"] <= line * len(first.title.split()) + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot("dashboard-engineer-phone")

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator(".page-head h1")).to_contain_text("prod-kkk")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
