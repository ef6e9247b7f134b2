"""The metrics page: filters in the URL, plotly charts redrawn by htmx, a CSV per table."""

import csv
import re
from datetime import date

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode

from hygiene import charts, metrics
from hygiene.charts import TYPE_LABELS, human, percent
from hygiene.metrics import FilterError, filters_from
from hygiene.models import Source, Team
from hygiene.roles import permission_required
from hygiene.taxonomy import SecretType

CHOICE_LIMIT = 200
HTML_ROWS = 50


# Each table: (columns, rows as lists) from a selector's result. The CSV and the page's tables
# are the same rows; the API returns the selector's result itself.
def _time_to_table(r):
    columns = ["kind", "n", "p50_seconds", "p90_seconds", "mean_seconds", "min_seconds"]
    columns += ["max_seconds", *(f"count {b}" for b in r["bins"])]
    rows = [
        [k["kind"], k["n"], k["p50"], k["p90"], k["mean"], k["min"], k["max"], *k["histogram"]]
        for k in r["kinds"]
    ]
    return columns, rows


def _time_distribution_table(r):
    # What the distribution chart draws: incidents per kind and bin.
    rows = [[k["kind"], *k["histogram"]] for k in r["kinds"]]
    return ["kind", *(f"count {b}" for b in r["bins"])], rows


def _exposure_table(r):
    s = r["revoked"]
    columns = ["revoked_n", "p50_seconds", "p90_seconds", "mean_seconds", "min_seconds"]
    columns += ["max_seconds", "unrevoked", "longest_unrevoked_seconds"]
    columns += [f"count {b}" for b in r["bins"]]
    row = [s["n"], s["p50"], s["p90"], s["mean"], s["min"], s["max"], r["unrevoked"]]
    return columns, [[*row, r["longest_unrevoked"], *r["histogram"]]]


SLA_COLUMNS = ["total", "on_time", "late", "overdue", "pending", "skipped"]
SLA_COLUMNS += ["on_time_share", "overdue_share"]


def _sla_table(r):
    rows = [[a["action"], "all", *(a[c] for c in SLA_COLUMNS)] for a in r["actions"]]
    rows += [[c["action"], c["severity"], *(c[k] for k in SLA_COLUMNS)] for c in r["cells"]]
    return ["action", "severity", *SLA_COLUMNS], rows


def _survival_table(r):
    keys = ["hours", "at_risk", "events", "censored", "survival"]
    return keys, [[p[k] for k in keys] for p in r["points"]]


def _backlog_table(r):
    rows = [[b, r["findings"][i], r["incidents"][i]] for i, b in enumerate(r["buckets"])]
    return ["age", "open_findings", "open_incidents"], rows


def _trend_table(r):
    keys = ["week", "incidents_opened", "incidents_remediated", "findings_opened"]
    keys.append("findings_closed")
    return keys, [[w[k] for k in keys] for w in r["weeks"]]


def _findings_table(r):
    keys = ["source", "secret_type", "findings"]
    return keys, [[row[k] for k in keys] for row in r["rows"]]


def _reused_table(r):
    keys = ["secret_type", "secrets", "reused", "reused_share"]
    return keys, [[row[k] for k in keys] for row in r["rows"]]


def _noise_table(r):
    keys = ["findings", "closed", "false_positives", "fp_share"]
    rows = [[s["source"], "(all rules)", *(s[k] for k in keys)] for s in r["sources"]]
    rows += [[s["source"], s["rule"], *(s[k] for k in keys)] for s in r["rules"]]
    return ["source", "rule", *keys], rows


TABLES = {
    "time-to-remediate": ("Time from detection", _time_to_table),
    "time-distribution": ("Distribution of times from detection", _time_distribution_table),
    "exposure": ("Exposure window", _exposure_table),
    "sla": ("SLA attainment", _sla_table),
    "survival": ("Time to remediation (Kaplan-Meier)", _survival_table),
    "backlog": ("Backlog by age", _backlog_table),
    "trend": ("Opened vs resolved per week", _trend_table),
    "findings": ("Findings per source and type", _findings_table),
    "reused": ("Reused secrets", _reused_table),
    "noise": ("Noise per source and rule", _noise_table),
}


# Tables read from another's selector (the API has no table of that name).
SOURCES = {"time-distribution": "time-to-remediate"}


def source(name: str) -> str:
    """The selector (``metrics.TABLES``, the API's name) whose result a table shows."""
    return SOURCES.get(name, name)


def table(name: str, result: dict) -> tuple[list[str], list[list]]:
    return TABLES[name][1](result)


# The page's tables in people's words and the charts' units: hours, not the CSV's seconds
# (22358.0 beside a chart in hours), shares in %. The CSV keeps the API's names and numbers.
HEADERS = {
    "n": "incidents",
    "revoked_n": "revoked",
    "unrevoked": "not revoked",
    "longest_unrevoked_seconds": "longest not revoked (h)",
    "overdue": "overdue now",
    "on_time_share": "on time (%)",
    "overdue_share": "overdue now (%)",
    "at_risk": "at risk",
    "events": "remediated",
    "survival": "not yet remediated (%)",
    "open_findings": "unresolved findings",
    "open_incidents": "active incidents",
    "reused_share": "reused (%)",
    "false_positives": "false positives",
    "fp_share": "false positives (%)",
}


def _header(column: str) -> str:
    if column in HEADERS:
        return HEADERS[column]
    if column.endswith("_seconds"):
        return f"{column.removesuffix('_seconds')} (h)"
    return column.replace("_", " ")


def _formatter(column: str):
    if column.endswith("_seconds"):
        return charts.hours
    if column.endswith("_share") or column == "survival":
        return lambda v: None if v is None else percent(v).removesuffix(" %")
    if column == "secret_type":
        return lambda v: TYPE_LABELS.get(v, v)
    return lambda v: v


def shown(columns: list[str], rows: list[list]) -> tuple[list[str], list[list]]:
    """A table as the page shows it."""
    formats = [_formatter(c) for c in columns]
    return (
        [_header(c) for c in columns],
        [[fmt(v) for fmt, v in zip(formats, row, strict=True)] for row in rows],
    )


def _csv_cell(value):
    # Rule names and sources come from scanners: never let a spreadsheet run them as formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_filename(name: str, f) -> str:
    """Says what the file holds: the table, the dates (all time, or up to today's date) and
    each filter, so that two downloads never look alike."""
    until = (f.until or timezone.localdate()).isoformat()
    parts = [
        "leakline",
        name,
        f"{f.since.isoformat()}-to-{until}" if f.since else f"all-time-to-{until}",
    ]
    for key, value in (
        ("team", f.team),
        ("severity", f.severity),
        ("type", f.secret_type),
        ("source", f.source),
    ):
        if value:
            parts.append(f"{key}-{re.sub(r'[^A-Za-z0-9._-]+', '-', value)}")
    return "-".join(parts) + ".csv"


def _csv(name: str, result: dict, f) -> HttpResponse:
    columns, rows = table(name, result)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{csv_filename(name, f)}"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return response


def _trend_chart(prefix: str, title: str):
    return lambda r: charts.trend_lines(r, prefix=prefix, title=title)


# The page's charts in order: (table, chart id, figure builder).
CHARTS = [
    ("time-to-remediate", "time-p", charts.time_to_percentiles),
    ("time-distribution", "time-dist", charts.time_to_distribution),
    ("sla", "sla", charts.sla_attainment),
    ("survival", "survival", charts.survival_curve),
    ("exposure", "exposure", charts.exposure_distribution),
    ("backlog", "backlog", charts.backlog_ages),
    ("trend", "trend-incidents", _trend_chart("incidents", "Incidents per week")),
    ("trend", "trend-findings", _trend_chart("findings", "Findings per week")),
    ("findings", "findings", charts.findings_by_source),
    ("noise", "noise", charts.noise_by_source),
    ("reused", "reused", charts.reused_by_type),
]
# Charts that the cards don't need: drawn when scrolled into view (at once if they already are),
# each by its own request (?section=<chart id>), so that the page answers with the cards and the
# first charts first.
LAZY = {"survival", "trend-incidents", "trend-findings", "findings", "noise", "reused"}
# Empty results, to title a lazy chart's placeholder without computing it.
EMPTY = {
    "survival": {"points": [], "median_hours": None, "incidents": 0},
    "trend": {"weeks": []},
    "findings": {"rows": []},
    "noise": {"sources": [], "rules": []},
    "reused": {"rows": []},
}
# The chart showing each table's rows (the first of that table).
TABLE_CHART = {}
for _table, _chart, _ in CHARTS:
    TABLE_CHART.setdefault(_table, _chart)


def _heading(figure: dict) -> str:
    # The heading is HTML (readable, never overlapping the legend), not a plotly title.
    return figure["layout"].pop("title")["text"]


def _section(name: str, chart_id: str, build, result: dict, query: str) -> dict:
    columns, rows = shown(*table(name, result))
    figure = build(result)
    return {
        "id": chart_id,
        "fig_id": f"fig-{chart_id}",
        "table": name,
        # Every chart has its CSV and table (the first chart of a table names the link).
        "csv_testid": name if TABLE_CHART[name] == chart_id else chart_id,
        "title": TABLES[name][0],
        "heading": _heading(figure),
        "figure": figure,
        "columns": columns,
        "rows": rows[:HTML_ROWS],
        "more_rows": max(0, len(rows) - HTML_ROWS),
        "csv": f"?{query}&export={name}" if query else f"?export={name}",
    }


def _sections(results: dict, query: str) -> list[dict]:
    """What the page shows, chart by chart, with the table behind each; lazy charts as
    placeholders that fetch themselves."""
    sections = []
    for name, chart_id, build in CHARTS:
        if chart_id in LAZY:
            sections.append(
                {
                    "id": chart_id,
                    "lazy": True,
                    "title": TABLES[name][0],
                    "heading": _heading(build(EMPTY[name])),
                    "url": f"?{query}&section={chart_id}" if query else f"?section={chart_id}",
                }
            )
        else:
            sections.append(_section(name, chart_id, build, results[source(name)], query))
    return sections


# The tables the page computes up front: the cards' and the visible charts'.
EAGER_TABLES = sorted({source(name) for name, chart_id, _ in CHARTS if chart_id not in LAZY})


def _cards(results: dict) -> list[dict]:
    times = {k["kind"]: k for k in results["time-to-remediate"]["kinds"]}
    sla = results["sla"]["overall"]
    exposure = results["exposure"]
    backlog = results["backlog"]
    return [
        {"id": "revoke-p50", "label": "p50 time to revoke", "value": human(times["revoke"]["p50"])},
        {
            "id": "remediate-p50",
            # The median (p50): "MTTR" says mean, which the table's mean column shows.
            "label": "median time to remediate",
            "value": human(times["remediate"]["p50"]),
        },
        {"id": "sla", "label": "steps done on time", "value": percent(sla["on_time_share"])},
        {"id": "overdue", "label": "steps overdue now", "value": str(sla["overdue"])},
        {
            "id": "exposure-p50",
            "label": "p50 exposure window",
            "value": human(exposure["revoked"]["p50"]),
        },
        {"id": "unrevoked", "label": "incidents not revoked", "value": str(exposure["unrevoked"])},
        {
            "id": "unresolved-findings",
            "label": "unresolved findings",
            "value": str(sum(backlog["findings"])),
        },
        {
            "id": "active-incidents",
            "label": "active incidents",
            "value": str(sum(backlog["incidents"])),
        },
    ]


def _keep(params) -> str:
    """The filters other than the dates, for the range buttons (they change only the range)."""
    keys = ("team", "severity", "secret_type", "source")
    return urlencode({k: params.get(k) for k in keys if params.get(k)})


def _choices() -> dict:
    return {
        "teams": Team.objects.order_by("name").values("slug", "name")[:CHOICE_LIMIT],
        "sources": Source.objects.order_by("name").values("slug", "name")[:CHOICE_LIMIT],
        "secret_types": SecretType.choices,
        "severities": metrics.SEVERITIES,
    }


# The form's labels for the filters' parameters.
LABELS = {
    "since": "From",
    "until": "To",
    "team": "Team",
    "severity": "Severity",
    "secret_type": "Secret type",
    "source": "Source",
}


def form_error(exc: FilterError) -> str:
    """The error in the form's words ("From", not "since")."""
    if exc.form_message:
        return exc.form_message
    reason = str(exc).split(": ", 1)[-1]
    return f"{LABELS.get(exc.field, exc.field)}: {reason}"


def _day(value) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None  # filters_from says what is wrong with it


def page_params(params, today: date) -> tuple[dict, list[str]]:
    """The page's filters, and notes on what it ignored (as the findings list's notes): a
    From after today (it matched nothing, silently), which leaves the default range."""
    params = params.dict() if hasattr(params, "dict") else dict(params)
    notes = []
    since = _day(params.get("since") or "")
    if since and since > today:
        notes.append(f"Ignored From “{since.isoformat()}”: a date in the future.")
        del params["since"]
    return params, notes


@permission_required("hygiene.view_metrics")
def metrics_page(request):
    is_htmx = request.headers.get("HX-Request") == "true"
    params, notes = page_params(request.GET, timezone.localdate())
    try:
        f = filters_from(params)
    except FilterError as exc:
        template = "hygiene/partials/metrics_error.html" if is_htmx else "hygiene/metrics.html"
        context = {
            "error": form_error(exc),
            "error_field": exc.field,
            "oob": is_htmx,
            "params": request.GET,
            "keep": _keep(request.GET),
            **_choices(),
        }
        return render(request, template, context, status=400)
    export = request.GET.get("export")
    if export is not None:
        if export not in TABLES:
            return HttpResponse(
                f"Unknown table; one of: {', '.join(TABLES)}",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return _csv(export, metrics.TABLES[source(export)](f), f)
    # ``since`` always, even empty: without it the default range would come back.
    query = urlencode({k: v for k, v in f.as_params().items() if v or k == "since"})
    section = request.GET.get("section")
    if section is not None:
        chart = next((c for c in CHARTS if c[1] == section), None)
        if chart is None:
            return HttpResponse(
                f"Unknown section; one of: {', '.join(c[1] for c in CHARTS)}",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        name, chart_id, build = chart
        result = metrics.page_results(f, tables=[source(name)])[source(name)]
        context = {"s": _section(name, chart_id, build, result, query)}
        return render(request, "hygiene/partials/metrics_section.html", context)
    results = metrics.page_results(f, tables=EAGER_TABLES)
    context = {
        "filters": f,
        "notes": notes,
        "params": f.as_params(),
        "keep": _keep(f.as_params()),
        "cards": _cards(results),
        "sections": _sections(results, query),
    }
    if is_htmx:
        # The range buttons (outside the swapped body) follow the new filters out of band.
        return render(request, "hygiene/partials/metrics_body.html", {**context, "oob": True})
    return render(request, "hygiene/metrics.html", {**context, **_choices()})
