"""Charts with nothing to plot say so in their place (not bare axes from -1 to 1), and counts
and hours are never drawn below 0."""

import json
import re
from datetime import timedelta
from html import unescape

import pytest

from incidents.models import Playbook
from tests.hygiene.test_metrics import NOW, frozen, make_incident, world  # noqa: F401

pytestmark = pytest.mark.usefixtures("frozen")

# Before any of the world's data (its incidents and findings are of 2025).
EMPTY_RANGE = "since=2024-01-01&until=2024-01-31"


def figure(html: str, chart_id: str) -> dict | None:
    """The figure the page hands to plotly for a chart, None when it draws none."""
    found = re.search(
        rf'<script id="fig-{chart_id}" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(found[1]) if found else None


def section(client, chart_id: str, query: str = "since=") -> str:
    response = client.get(f"/metrics/?{query}&section={chart_id}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return unescape(response.content.decode())


@pytest.mark.usefixtures("world")
def test_a_range_without_data_says_so_instead_of_drawing_empty_axes(client, manager):
    client.force_login(manager)
    page = unescape(client.get(f"/metrics/?{EMPTY_RANGE}").content.decode())
    for chart_id, csv in (
        ("time-p", "time-to-remediate"),
        ("time-dist", "time-distribution"),
        ("sla", "sla"),
        ("exposure", "exposure"),
    ):
        assert f'data-testid="empty-{chart_id}">No incidents opened in this range.<' in page
        assert figure(page, chart_id) is None and f'id="chart-{chart_id}"' not in page
        # The CSV and the table stay (the table says it's empty).
        assert f'data-testid="csv-{csv}"' in page
    assert "No data for these filters." in page
    # The backlog is open now, whatever the range: still drawn.
    assert figure(page, "backlog")["data"]
    for chart_id, message in (
        ("findings", "No findings in this range"),
        ("noise", "No findings in this range"),
        ("reused", "No secrets first seen in this range"),
        ("trend-incidents", "No incident opened or remediated in this range"),
        ("trend-findings", "No finding first seen or closed in this range"),
        ("survival", "No incidents opened in this range"),
    ):
        html = section(client, chart_id, EMPTY_RANGE)
        assert f'data-testid="empty-{chart_id}">{message}.<' in html, chart_id
        assert figure(html, chart_id) is None and 'class="chart"' not in html
        assert "Download CSV" in html and "<summary>Table</summary>" in html


def test_kaplan_meier_of_incidents_none_remediated_says_so(client, manager, team):
    """Every incident younger than an hour: all censored at hour 0 (the chart was an empty
    plot of "hours since opened" from -1 to 1)."""
    playbook = Playbook.objects.create(slug="generic", name="Generic")
    for minutes in (10, 30):
        make_incident(
            playbook, opened_at=NOW - timedelta(minutes=minutes), severity="high", team=team
        )
    client.force_login(manager)
    html = section(client, "survival")
    assert (
        'data-testid="empty-survival">No incident has been remediated yet in this range.<' in html
    )
    assert figure(html, "survival") is None
    assert "<td>0</td><td>2</td><td>0</td><td>2</td><td>100.0</td>" in html  # the table stays


@pytest.mark.usefixtures("world")
def test_count_and_hour_axes_start_at_zero(client, manager):
    client.force_login(manager)
    page = unescape(client.get("/metrics/?since=").content.decode())
    figures = {c: figure(page, c) for c in ("time-p", "time-dist", "exposure", "backlog")}
    for chart_id in ("trend-incidents", "trend-findings", "findings", "reused", "survival"):
        figures[chart_id] = figure(section(client, chart_id), chart_id)
    for chart_id, fig in figures.items():
        assert fig and fig["data"], chart_id
        axis = fig["layout"]["xaxis" if chart_id == "survival" else "yaxis"]
        assert axis.get("rangemode") == "tozero" or axis.get("range", [-1])[0] >= 0, chart_id


def test_the_manager_dashboard_draws_a_message_not_empty_axes(client, manager):
    client.force_login(manager)
    page = unescape(client.get("/").content.decode())
    for fig_id, message in (
        ("dash-backlog", "No unresolved findings or active incidents"),
        ("dash-trend", "No incident opened or remediated in this range"),
    ):
        fig = figure(page, fig_id)
        assert fig["data"] == []
        assert [a["text"] for a in fig["layout"]["annotations"]] == [message]
        assert fig["layout"]["xaxis"]["visible"] is False
        assert fig["layout"]["yaxis"]["visible"] is False
