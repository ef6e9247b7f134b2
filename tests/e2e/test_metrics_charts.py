"""The metrics charts as drawn in Chromium: a long legend leaves the bars their room, counts
are never drawn below zero, and a chart with nothing to plot is a sentence, not empty axes."""

import pytest
from playwright.sync_api import expect

from hygiene.models import Source
from hygiene.taxonomy import SecretType
from tests.e2e.test_metrics_flow import wait_redrawn
from tests.hygiene.test_metrics import NOW, D, make_finding, make_secret, world  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The plot area, the legend and its last entry, in page pixels.
BOXES = """(id) => {
  const el = document.getElementById(id);
  const box = (node) => { const r = node.getBoundingClientRect(); return [r.top, r.bottom]; };
  const entries = el.querySelectorAll('.legend .traces');
  return {plot: box(el.querySelector('.nsewdrag')), legend: box(el.querySelector('.legend .bg')),
          last: box(entries[entries.length - 1]), entries: entries.length};
}"""


@pytest.mark.usefixtures("world")
def test_a_legend_of_many_secret_types_leaves_the_bars_their_room(
    login, live_server, manager, source, screenshot
):
    truffle = Source.objects.get(slug="trufflehog")
    types = [t for t, _ in SecretType.choices if t != "api-key"][:21]
    for n, secret_type in enumerate(types):
        secret = make_secret(f"{n:064x}", secret_type, seen=NOW - D)
        found_by = truffle if n % 2 else source
        make_finding(f"t{n}", source=found_by, secret=secret, seen=NOW - D)
    page = login(manager)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/metrics/?since=")
    page.get_by_test_id("section-findings").scroll_into_view_if_needed()
    wait_redrawn(page, "chart-findings", "")
    boxes = page.evaluate(BOXES, "chart-findings")
    assert boxes["entries"] == len(types) + 1  # and the world's api-key
    plot_top, plot_bottom = boxes["plot"]
    # The bars keep a chart's height (above the plot the legend left them under 100 px)...
    assert plot_bottom - plot_top >= 180, boxes
    # ...and the legend is below them, every entry shown (none scrolled out of view).
    assert boxes["legend"][0] >= plot_bottom, boxes
    assert boxes["last"][1] <= boxes["legend"][1] + 1, boxes
    screenshot("metrics-findings-legend")

    # Weekly counts with quiet weeks at zero: the axis starts at 0 (the markers at zero
    # padded it below, to negative counts).
    page.get_by_test_id("section-trend-incidents").scroll_into_view_if_needed()
    wait_redrawn(page, "chart-trend-incidents", "")
    y_range = page.evaluate(
        "document.getElementById('chart-trend-incidents')._fullLayout.yaxis.range"
    )
    assert y_range[0] >= 0, y_range


@pytest.mark.usefixtures("world")
def test_a_range_without_incidents_shows_sentences_not_empty_axes(login, live_server, manager):
    page = login(manager)
    page.goto(f"{live_server.url}/metrics/?since=2024-01-01&until=2024-01-31")
    for chart_id in ("time-p", "sla", "survival"):
        section = page.get_by_test_id(f"section-{chart_id}")
        section.scroll_into_view_if_needed()
        expect(section.get_by_test_id(f"empty-{chart_id}")).to_have_text(
            "No incidents opened in this range."
        )
        expect(section.locator(".main-svg")).to_have_count(0)
    expect(page.get_by_test_id("csv-survival")).to_be_visible()
    # The backlog is a snapshot of now: drawn whatever the range.
    expect(page.locator("#chart-backlog .main-svg").first).to_be_visible()


@pytest.mark.usefixtures("world")
def test_count_axes_tick_whole_numbers(login, live_server, manager):
    """The backlog's ones and twos were read against ticks of 0.5 (half a finding)."""
    page = login(manager)
    page.goto(f"{live_server.url}/metrics/?since=")
    for chart_id in ("backlog", "time-dist", "exposure"):
        wait_redrawn(page, f"chart-{chart_id}", "")
        ticks = page.locator(f"#chart-{chart_id} .ytick text").all_text_contents()
        assert ticks and all(t.isdigit() for t in ticks), (chart_id, ticks)
