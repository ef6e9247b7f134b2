"""A manager reads the metrics in Chromium: filters redraw the charts, the CSV matches the API."""

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from hygiene.models import UserToken
from tests.hygiene.test_metrics import world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DRAWN = (
    "([id, before]) => { const el = document.getElementById(id); "
    "return !!el && !!el.dataset.drawn && el.dataset.drawn !== before; }"
)


def drawn(page, chart_id: str) -> str:
    return page.get_attribute(f"#{chart_id}", "data-drawn") or ""


def wait_redrawn(page, chart_id: str, before: str) -> str:
    page.wait_for_function(DRAWN, arg=[chart_id, before])
    return drawn(page, chart_id)


@pytest.mark.usefixtures("world")
def test_manager_filters_the_metrics_and_downloads_the_csv(login, live_server, manager, screenshot):
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=manager, prefix=prefix, token_hash=digest)
    page = login(manager)
    expect(page.get_by_role("heading", name="Hygiene at a glance")).to_be_visible()
    expect(page.get_by_test_id("chart-dash-backlog").locator(".main-svg").first).to_be_visible()
    page.get_by_role("link", name="Metrics", exact=True).click()
    expect(page.get_by_role("heading", name="Metrics")).to_be_visible()
    # The default range, the last 90 days, holds none of these 2025 incidents: the chart says
    # so in its place (it drew empty axes from -1 to 1).
    expect(page.get_by_test_id("empty-time-p")).to_have_text("No incidents opened in this range.")
    expect(page.locator("#chart-time-p")).to_have_count(0)
    requests = []
    # Redraws of the filtered page (charts below the fold fetch themselves: ``section=``).
    page.on(
        "request",
        lambda r: (
            requests.append(r.url) if "/metrics/?" in r.url and "section=" not in r.url else None
        ),
    )

    # Team Payments (still none in the default range).
    page.get_by_test_id("filter-team").select_option("payments")
    page.wait_for_function("() => location.search.includes('team=payments')")
    expect(page.get_by_test_id("empty-time-p")).to_be_visible()
    expect(page.get_by_test_id("card-revoke-p50")).to_have_text("-")

    # From 4 March 2025: B, D, E, F. Revoked: B at 6 h; remediated: E at 100 h.
    page.get_by_test_id("filter-since").fill("2025-03-04")
    before = wait_redrawn(page, "chart-time-p", "")
    expect(page.get_by_test_id("empty-time-p")).to_have_count(0)
    expect(page.get_by_test_id("card-revoke-p50")).to_have_text("6.0 h")
    expect(page.get_by_test_id("card-remediate-p50")).to_have_text("4.2 d")

    # ... to 31 March.
    page.get_by_test_id("filter-until").fill("2025-03-31")
    before = wait_redrawn(page, "chart-time-p", before)
    assert "since=2025-03-04" in page.url and "until=2025-03-31" in page.url
    expect(page.get_by_test_id("card-revoke-p50")).to_have_text("6.0 h")
    expect(page.locator("#chart-sla .main-svg").first).to_be_visible()
    assert len(requests) == 3, requests  # one redraw per change
    # Charts below the fold are fetched, with the filters, and drawn once scrolled into view.
    # (Payments closed none of the findings it saw then: no share to draw.)
    page.get_by_test_id("section-noise").scroll_into_view_if_needed()
    expect(page.get_by_test_id("empty-noise")).to_have_text(
        "No finding in this range has been resolved or dismissed yet."
    )
    expect(page.get_by_test_id("csv-noise")).to_have_attribute(
        "href", "?since=2025-03-04&until=2025-03-31&team=payments&export=noise"
    )
    # The weekly lines span the whole range, quiet weeks at zero (they joined straight across).
    page.get_by_test_id("section-trend-findings").scroll_into_view_if_needed()
    expect(page.locator("#chart-trend-findings .main-svg").first).to_be_visible()
    expect(page.get_by_test_id("csv-trend-findings")).to_be_visible()
    x = page.evaluate("document.getElementById('chart-trend-incidents').data[0].x")
    y = page.evaluate("document.getElementById('chart-trend-incidents').data[0].y")
    assert x == ["2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24", "2025-03-31"]
    assert 0 in y
    screenshot("metrics-manager-filtered")

    with page.expect_download() as info:
        page.get_by_test_id("csv-time-to-remediate").click()
    download = info.value
    assert (
        download.suggested_filename
        == "leakline-time-to-remediate-2025-03-04-to-2025-03-31-team-payments.csv"
    )
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    by_kind = {r["kind"]: r for r in rows}

    api = page.request.get(
        f"{live_server.url}/api/v1/metrics/time-to-remediate"
        "?since=2025-03-04&until=2025-03-31&team=payments",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert api.ok
    for kind in api.json()["kinds"]:
        row = by_kind[kind["kind"]]
        assert int(row["n"]) == kind["n"]
        for key in ("p50", "p90", "mean"):
            expected = "" if kind[key] is None else str(kind[key])
            assert row[f"{key}_seconds"] == expected
    assert by_kind["revoke"]["p50_seconds"] == "21600.0"
    assert by_kind["remediate"]["p50_seconds"] == "360000.0"

    # "All time" keeps the team (the buttons follow each redraw).
    expect(page.get_by_test_id("range-all")).to_have_attribute(
        "href", "/metrics/?since=&team=payments"
    )

    # A range that ends before it starts: the page says so instead of keeping stale charts.
    page.get_by_test_id("filter-until").fill("2025-03-01")
    # The form says it in its own words, by the fields; fixing it clears the error.
    expect(page.get_by_test_id("filter-error")).to_have_text("From must not be after To")
    expect(page.get_by_test_id("metrics-error")).to_be_visible()
    page.get_by_test_id("filter-until").fill("2025-03-31")
    expect(page.get_by_test_id("filter-error")).to_be_hidden()
    expect(page.get_by_test_id("metrics-error")).to_have_count(0)


@pytest.mark.usefixtures("world")
def test_every_chart_draws_when_the_reader_jumps_to_the_end(login, live_server, manager):
    """End (or a fast scroll) passes over the charts in the middle of the page: they load all
    the same, instead of staying empty busy boxes."""
    from hygiene.views.metrics import CHARTS

    page = login(manager)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/metrics/?since=")
    page.keyboard.press("End")
    page.wait_for_function("() => scrollY > 0")
    charts = page.locator("#metrics-body .chart")
    expect(charts).to_have_count(len(CHARTS))
    expect(page.locator("#metrics-body [aria-busy=true]")).to_have_count(0)
    for _, chart_id, _ in CHARTS:
        chart = page.locator(f"#chart-{chart_id}")
        expect(chart).to_have_attribute("data-drawn", re.compile(r"\d"))
        expect(page.locator(f"#chart-{chart_id} .main-svg").first).to_be_attached()

    # The same after a filter redraws the page, while the reader is at its end.
    page.get_by_test_id("filter-team").select_option("payments")
    expect(page).to_have_url(re.compile("team=payments"))
    page.evaluate("document.activeElement.blur()")  # End scrolls the page, not the select
    page.keyboard.press("End")
    expect(page.locator("#metrics-body [aria-busy=true]")).to_have_count(0)
    expect(page.locator("#metrics-body .chart:not([data-drawn])")).to_have_count(0)
    expect(page.get_by_test_id("csv-noise")).to_have_attribute("href", re.compile("team=payments"))
