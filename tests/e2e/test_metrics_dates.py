"""A date typed into a metrics filter applies once, when it is complete: typing 03/04/2025 is a
valid date at each digit of the year (0002-03-04, 0020-, 0202-, 2025-03-04), and each redrew the
page, fetched its lazy charts and added a history entry."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_metrics_flow import wait_redrawn
from tests.hygiene.test_metrics import world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def settled(page):
    """The page's lazy charts are in (they fetch themselves after each redraw)."""
    expect(page.locator("#metrics-body [aria-busy=true]")).to_have_count(0)


@pytest.mark.usefixtures("world")
def test_a_typed_date_applies_once_when_the_reader_leaves_it_or_presses_enter(
    login, live_server, manager
):
    page = login(manager)
    page.goto(f"{live_server.url}/metrics/?since=")
    wait_redrawn(page, "chart-time-p", "")
    before = page.get_attribute("#chart-time-p", "data-drawn")
    settled(page)
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/metrics/?" in r.url else None)
    history = page.evaluate("history.length")

    # Digit by digit, as a reader types it (Chromium's en-US field: month, day, year).
    since = page.get_by_test_id("filter-since")
    since.focus()
    since.press_sequentially("03042025", delay=30)
    expect(since).to_have_value("2025-03-04")
    page.wait_for_timeout(500)  # what a redraw per digit would have taken
    assert requests == []
    # Leaving the field applies it: one redraw, one history entry.
    page.get_by_test_id("filter-team").focus()
    wait_redrawn(page, "chart-time-p", before)
    assert "since=2025-03-04" in page.url
    redraws = [u for u in requests if "section=" not in u]
    assert len(redraws) == 1 and "since=2025-03-04" in redraws[0], requests
    assert page.evaluate("history.length") == history + 1

    # To, typed and applied with Enter: one more redraw; leaving the field after it sends
    # nothing again.
    settled(page)
    requests.clear()
    until = page.get_by_test_id("filter-until")
    until.focus()
    until.press_sequentially("03312025", delay=30)
    page.wait_for_timeout(500)
    assert requests == []
    until.press("Enter")
    page.wait_for_function("() => location.search.includes('until=2025-03-31')")
    page.get_by_test_id("filter-team").focus()
    page.wait_for_timeout(500)
    redraws = [u for u in requests if "section=" not in u]
    assert len(redraws) == 1 and "until=2025-03-31" in redraws[0], requests
    assert page.evaluate("history.length") == history + 2
    expect(page.get_by_test_id("metrics-range")).to_contain_text("from 2025-03-04 to 2025-03-31")

    # A half-typed date waits: leaving it sends nothing.
    settled(page)
    requests.clear()
    since.focus()
    page.keyboard.press("Backspace")  # the month emptied: no date
    page.get_by_test_id("filter-team").focus()
    page.wait_for_timeout(500)
    assert requests == []
