"""The metrics page: who may see it, filters in the URL, htmx partials, CSV = API numbers."""

import csv
import io
import re
from html import unescape

import pytest

from hygiene.models import UserToken
from hygiene.views.metrics import TABLES, source, table
from tests.hygiene.test_metrics import frozen, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("world", "frozen")


def token_for(user) -> str:
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=user, prefix=prefix, token_hash=digest)
    return raw


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("who", "status"), [("manager", 200), ("lead", 200), ("engineer", 403), ("outsider", 403)]
)
def test_only_leads_and_managers_see_metrics(client, request, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/metrics/").status_code == status
    assert client.get("/metrics/?team=payments", HTTP_HX_REQUEST="true").status_code == status
    assert client.get("/metrics/?export=sla").status_code == status


def test_page_shows_cards_and_a_figure_per_chart(client, manager):
    client.force_login(manager)
    response = client.get("/metrics/?since=")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="card-revoke-p50">4.0 h<' in html
    assert 'data-testid="card-sla">55.6 %<' in html
    assert 'data-testid="card-exposure-p50">16.2 d<' in html
    for chart in ("time-p", "sla", "exposure", "backlog"):
        assert f'data-figure="fig-{chart}"' in html
        assert f'<script id="fig-{chart}" type="application/json">' in html
    assert "vendor/plotly.min.js" in html
    assert "<script>" not in html  # no inline code (CSP)
    # The charts that read many findings fetch themselves after the page (static/js/app.js
    # loadLazySections: those near the view at once, the others once the page has loaded).
    for chart in (
        "survival",
        "trend-incidents",
        "trend-findings",
        "findings",
        "noise",
        "reused",
    ):
        assert f'hx-get="?since=&amp;section={chart}" hx-trigger="lazy-load once"' in html
        assert f'id="fig-{chart}"' not in html


def test_a_lazy_section_draws_its_chart_with_the_filters(client, manager):
    client.force_login(manager)
    response = client.get("/metrics/?since=&section=noise", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-testid="section-noise"' in html and 'data-figure="fig-noise"' in html
    assert '<script id="fig-noise" type="application/json">' in html
    assert 'data-testid="csv-noise"' in html and "since=&amp;export=noise" in html
    assert "<td>gitleaks-ci</td><td>(all rules)</td><td>7</td><td>3</td><td>1</td>" in html
    # Both trend charts have the trend's CSV and table ("Findings per week" had neither).
    first = client.get("/metrics/?since=&section=trend-incidents").content.decode()
    second = client.get("/metrics/?since=&section=trend-findings").content.decode()
    assert 'data-testid="csv-trend"' in first and "<summary>Table</summary>" in first
    assert 'href="?since=&amp;export=trend" data-testid="csv-trend-findings"' in second
    assert "<summary>Table</summary>" in second and "<th>findings opened</th>" in second
    assert '<script id="fig-trend-findings" type="application/json">' in second
    reused = client.get("/metrics/?since=&section=reused", HTTP_HX_REQUEST="true").content.decode()
    assert '<script id="fig-reused" type="application/json">' in reused
    assert 'data-testid="csv-reused"' in reused
    assert client.get("/metrics/?section=passwords").status_code == 400


def test_filters_come_from_the_url_and_htmx_gets_only_the_charts(client, manager):
    client.force_login(manager)
    response = client.get("/metrics/?since=&team=platform", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="fig-sla"' in html
    # Platform has C only: revoked 4 h after opening; its notify step 30 min.
    assert 'data-testid="card-revoke-p50">4.0 h<' in html
    assert 'data-testid="card-remediate-p50">2.0 d<' in html
    assert "team platform" in html
    assert "export=sla" in html and "team=platform" in html


def test_the_default_page_is_the_last_90_days(client, manager):
    client.force_login(manager)
    html = client.get("/metrics/").content.decode()
    assert "from 2025-01-01" in html
    assert 'name="since" value="2025-01-01"' in html


def test_bad_filters_answer_400_with_the_reason(client, manager):
    client.force_login(manager)
    response = client.get("/metrics/?since=last-week")
    assert response.status_code == 400
    assert "From: expected a date like 2025-01-31" in response.content.decode()
    response = client.get("/metrics/?team=nobody", HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Team: no team" in response.content.decode()
    response = client.get("/metrics/?export=passwords")
    assert response.status_code == 400
    assert "Unknown table" in response.content.decode()


@pytest.mark.parametrize("name", list(TABLES))
def test_each_csv_has_the_numbers_of_the_api(client, manager, name):
    client.force_login(manager)
    token = token_for(manager)
    query = "since=2025-03-01&until=2025-03-31&team=payments"
    response = client.get(f"/metrics/?{query}&export={name}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    filename = f"leakline-{name}-2025-03-01-to-2025-03-31-team-payments.csv"
    assert f'filename="{filename}"' in response["Content-Disposition"]
    # The distribution's table is the time-to API's histograms.
    api = client.get(
        f"/api/v1/metrics/{source(name)}?{query}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert api.status_code == 200
    columns, rows = table(name, api.json())
    expected = [columns] + [["" if v is None else str(v) for v in row] for row in rows]
    assert read_csv(response) == expected
    assert len(expected) >= 2


def test_csv_file_names_say_the_filters_and_the_real_dates(client, manager):
    """Two downloads with different filters never get the same name; "All time" and an open
    end say today's date (31 March), not "start"/"today"."""
    client.force_login(manager)

    def filename(query):
        response = client.get(f"/metrics/?{query}")
        assert response.status_code == 200
        return response["Content-Disposition"].split('filename="')[1].rstrip('"')

    assert (
        filename("since=2025-03-01&team=payments&severity=high&secret_type=api-key&export=sla")
        == "leakline-sla-2025-03-01-to-2025-03-31-team-payments-severity-high-type-api-key.csv"
    )
    assert (
        filename("since=&source=gitleaks-ci&export=trend")
        == "leakline-trend-all-time-to-2025-03-31-source-gitleaks-ci.csv"
    )
    assert filename("export=noise") == "leakline-noise-2025-01-01-to-2025-03-31.csv"


def test_from_after_to_is_a_form_error_in_the_forms_words(client, manager):
    client.force_login(manager)
    query = "since=2025-03-05&until=2025-03-01"
    response = client.get(f"/metrics/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        '<p id="filter-error" class="hint error" role="alert" data-testid="filter-error">'
        "From must not be after To</p>" in html
    )
    assert 'data-testid="filter-since" aria-invalid="true"' in html
    assert "since: must not be after until" not in html
    # Redrawn by htmx: the form's error slot is swapped out of band; the next good answer
    # empties it again.
    html = client.get(f"/metrics/?{query}", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-swap-oob="true">From must not be after To</p>' in html
    html = client.get("/metrics/?since=2025-03-01", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="filter-error" hx-swap-oob="true" hidden></p>' in html


def test_definitions_link_to_the_served_api_docs(client, manager):
    client.force_login(manager)
    html = client.get("/metrics/").content.decode()
    assert "docs/metrics.md" not in html
    assert '<a href="/api/v1/docs#/metrics" data-testid="metrics-definitions">' in html
    assert client.get("/api/v1/docs").status_code == 200


def test_csv_numbers_by_hand(client, manager):
    client.force_login(manager)
    rows = read_csv(client.get("/metrics/?since=&export=time-to-remediate"))
    by_kind = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert (by_kind["revoke"]["p50_seconds"], by_kind["revoke"]["p90_seconds"]) == (
        "14400.0",
        "20160.0",
    )
    assert by_kind["remediate"]["p90_seconds"] == "322560.0"
    sla = read_csv(client.get("/metrics/?since=&export=sla"))
    assert ["notify", "all", "4", "2", "1", "1", "0", "0", "0.5", "0.25"] in sla


def test_csv_never_starts_a_cell_with_a_formula(client, manager, source):
    from hygiene.models import Finding

    Finding.objects.filter(location_key="f7").update(rule="=HYPERLINK(1)")
    client.force_login(manager)
    rows = read_csv(client.get("/metrics/?since=&export=noise"))
    assert ["gitleaks-ci", "'=HYPERLINK(1)", "1", "1", "1", "1.0"] in rows


def test_manager_dashboard_shows_the_headline_metrics(client, manager):
    client.force_login(manager)
    html = client.get("/").content.decode()
    assert "<h1>Hygiene at a glance</h1>" in html
    assert 'data-testid="revoke-p50">4.0 h<' in html
    assert 'data-testid="sla-on-time">55.6 %<' in html
    assert 'data-testid="exposure-p50">16.2 d<' in html
    assert 'data-testid="unresolved-findings">5<' in html
    assert '<script id="fig-dash-backlog" type="application/json">' in html


def test_manager_dashboard_cards_link_to_what_shows_their_numbers(client, manager):
    """One word per meaning: unresolved findings are open or triaged (4 open, 1 triaged),
    active incidents are those not closed (1 open, 1 contained, 1 remediated); each card
    links to the list or the metrics that show the same number."""
    client.force_login(manager)
    page = client.get("/").content.decode()
    cards = {
        testid: (unescape(href), value, label)
        for href, testid, value, label in re.findall(
            r'<a class="card" href="([^"]+)"><div class="value" data-testid="([^"]+)">([^<]+)'
            r'</div><div class="label">([^<]+)</div></a>',
            page,
        )
    }
    assert cards["unresolved-findings"] == (
        "/findings/?status=open&status=triaged",
        "5",
        "unresolved findings",
    )
    assert cards["active-incidents"] == ("/incidents/?status=active", "3", "active incidents")
    findings = client.get(cards["unresolved-findings"][0]).content.decode()
    assert 'data-testid="result-count" id="result-count" tabindex="-1"><strong>5<' in findings
    incidents = client.get(cards["active-incidents"][0]).content.decode()
    assert "· 3 incidents" in incidents
    # The times: the metrics page's default range (the last 90 days) shows the same values.
    metrics_page = client.get("/metrics/").content.decode()
    for testid, on_metrics in (
        ("revoke-p50", "card-revoke-p50"),
        ("sla-on-time", "card-sla"),
        ("exposure-p50", "card-exposure-p50"),
    ):
        link, value, _ = cards[testid]
        assert link == "/metrics/"
        assert f'data-testid="{on_metrics}">{value}<' in metrics_page
    assert not [label for _, _, label in cards.values() if "open" in label]


def test_charts_name_types_draw_only_decided_steps_and_fit_their_labels():
    from hygiene import charts

    sla = charts.sla_attainment(
        {
            "actions": [
                {"action": "revoke", "on_time": 3, "late": 1, "overdue": 0},
                {"action": "custom", "on_time": 0, "late": 0, "overdue": 0},  # all pending
            ]
        }
    )
    assert sla["data"][0]["y"] == ["revoke"] and sla["data"][0]["x"] == [75.0]
    assert sla["layout"]["yaxis"] == {"automargin": True, "autorange": "reversed"}
    rows = [
        {"source": "s", "secret_type": t, "findings": 1}
        for t in ("aws-access-key", "github-token", "private-key")
    ]
    stacked = charts.findings_by_source({"rows": rows})
    assert [d["name"] for d in stacked["data"]] == [
        "AWS access key",
        "GitHub token",
        "Private or signing key",
    ]
    assert len(stacked["layout"]["colorway"]) >= 20
    reused = charts.reused_by_type(
        {"rows": [{"secret_type": "database-credential", "secrets": 2, "reused": 1}]}
    )
    assert reused["data"][0]["x"] == ["Database credential"]


def test_the_page_tables_read_in_hours_and_words_as_the_charts_do(client, manager):
    """The tables beside the charts showed the CSV's seconds (14400.0 beside a chart of 4 h)
    under its snake_case names; the CSV keeps them (the API's names and numbers)."""
    client.force_login(manager)
    html = client.get("/metrics/?since=").content.decode()
    assert "<th>kind</th><th>incidents</th><th>p50 (h)</th><th>p90 (h)</th>" in html
    assert "<td>revoke</td><td>3</td><td>4.0</td><td>5.6</td><td>4.0</td>" in html
    assert "<th>on time (%)</th><th>overdue now (%)</th>" in html
    assert "<td>notify</td><td>all</td><td>4</td><td>2</td><td>1</td><td>1</td>" in html
    assert "<td>0</td><td>0</td><td>50.0</td><td>25.0</td></tr>" in html
    assert "<th>age</th><th>unresolved findings</th><th>active incidents</th>" in html
    assert "_seconds" not in html and "on_time_share" not in html
    # The card is the median: "MTTR" is the mean (the table's mean column).
    assert (
        'data-testid="card-remediate-p50">2.0 d</div><div class="label">'
        "median time to remediate</div>" in html
    )
    assert "MTTR" not in html
    rows = read_csv(client.get("/metrics/?since=&export=time-to-remediate"))
    assert rows[0][:4] == ["kind", "n", "p50_seconds", "p90_seconds"]


def test_the_distribution_chart_has_its_own_csv(client, manager):
    """Its link was the first chart's export (percentiles); now the counts it draws."""
    client.force_login(manager)
    html = client.get("/metrics/?since=").content.decode()
    assert 'href="?since=&amp;export=time-to-remediate" data-testid="csv-time-to-remediate"' in html
    assert 'href="?since=&amp;export=time-distribution" data-testid="csv-time-distribution"' in html
    response = client.get("/metrics/?since=&export=time-distribution")
    assert response.status_code == 200
    assert (
        "leakline-time-distribution-all-time-to-2025-03-31.csv" in (response["Content-Disposition"])
    )
    rows = read_csv(response)
    bins = ["< 1 h", "1-4 h", "4-24 h", "1-3 d", "3-7 d", "7-30 d", "30-365 d", "> 1 y"]
    assert rows[0] == ["kind", *(f"count {b}" for b in bins)]
    assert rows[1] == ["revoke", "0", "1", "2", "0", "0", "0", "0", "0"]


def test_to_without_from_is_the_90_days_ending_there(client, manager):
    """?until= alone was all time up to it."""
    client.force_login(manager)
    html = client.get("/metrics/?until=2025-03-15").content.decode()
    assert "from 2024-12-16 to 2025-03-15" in html
    assert 'name="since" value="2024-12-16"' in html
    assert 'data-testid="filter-note"' not in html
    response = client.get("/metrics/?until=2025-03-15&export=sla")
    assert "leakline-sla-2024-12-16-to-2025-03-15.csv" in response["Content-Disposition"]
    # A To of year 1 is a bad year (not a crash computing 90 days before it).
    response = client.get("/metrics/?until=0001-01-05")
    assert response.status_code == 400 and "To: a year from 1970" in response.content.decode()
    # "All time" (an empty From) stays all time.
    assert (
        "since the start to 2025-03-15"
        in client.get("/metrics/?since=&until=2025-03-15").content.decode()
    )


def test_a_from_in_the_future_is_ignored_with_a_note(client, manager):
    client.force_login(manager)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get("/metrics/?since=2025-04-01&team=payments", **headers)
        assert response.status_code == 200
        html = unescape(response.content.decode())
        assert (
            '<p class="flash flash-warning" data-testid="filter-note">'
            "Ignored From “2025-04-01”: a date in the future.</p>" in html
        )
        assert "from 2025-01-01 to today · team payments" in html
    # With To: the 90 days ending at To.
    html = unescape(client.get("/metrics/?since=2025-04-01&until=2025-03-15").content.decode())
    assert "from 2024-12-16 to 2025-03-15" in html and "a date in the future" in html
    # Today is no future.
    html = client.get("/metrics/?since=2025-03-31").content.decode()
    assert "from 2025-03-31 to today" in html and 'data-testid="filter-note"' not in html


def test_count_axes_tick_whole_numbers():
    """The backlog's counts of 1 and 2 were drawn against ticks of 0.5."""
    from hygiene import charts

    small = {"buckets": ["< 1 d", "1-7 d"], "findings": [1, 2], "incidents": [0, 1]}
    assert charts.backlog_ages(small)["layout"]["yaxis"] == {
        "automargin": True,
        "rangemode": "tozero",
        "tick0": 0,
        "dtick": 1,
    }
    # Larger counts: plotly's own steps (whole: 2, 5, 10...), not a tick per count.
    large = {"buckets": ["< 1 d", "1-7 d"], "findings": [1, 40], "incidents": [0, 1]}
    assert "dtick" not in charts.backlog_ages(large)["layout"]["yaxis"]
    rows = [{"secret_type": "api-key", "secrets": 3, "reused": 1}]
    assert charts.reused_by_type({"rows": rows})["layout"]["yaxis"]["dtick"] == 1
    weeks = [{"week": "2025-03-24", "incidents_opened": 2, "incidents_remediated": 1}]
    trend = charts.trend_lines({"weeks": weeks}, prefix="incidents", title="t")
    assert trend["layout"]["yaxis"]["dtick"] == 1
