"""The metrics page: filters in the URL, plotly charts redrawn by htmx, a CSV per table."""

import csv

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from hygiene import charts, metrics
from hygiene.charts import human, percent
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
    "exposure": ("Exposure window", _exposure_table),
    "sla": ("SLA attainment", _sla_table),
    "survival": ("Time to remediation (Kaplan-Meier)", _survival_table),
    "backlog": ("Backlog by age", _backlog_table),
    "trend": ("Opened vs resolved per week", _trend_table),
    "findings": ("Findings per source and type", _findings_table),
    "reused": ("Reused secrets", _reused_table),
    "noise": ("Noise per source and rule", _noise_table),
}


def table(name: str, result: dict) -> tuple[list[str], list[list]]:
    return TABLES[name][1](result)


def _csv_cell(value):
    # Rule names and sources come from scanners: never let a spreadsheet run them as formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _csv(name: str, result: dict, f) -> HttpResponse:
    columns, rows = table(name, result)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = f"{f.since or 'start'}_{f.until or 'today'}"
    response["Content-Disposition"] = f'attachment; filename="leakline-{name}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return response


def _results(f) -> dict:
    # All tables at once: the selectors share their scans (see metrics.page_results).
    return metrics.page_results(f)


def _sections(results: dict, query: str) -> list[dict]:
    """What the page shows, chart by chart, with the table behind each."""
    spec = [
        ("time-to-remediate", "time-p", charts.time_to_percentiles),
        ("time-to-remediate", "time-dist", charts.time_to_distribution),
        ("sla", "sla", charts.sla_attainment),
        ("survival", "survival", charts.survival_curve),
        ("exposure", "exposure", charts.exposure_distribution),
        ("backlog", "backlog", charts.backlog_ages),
        (
            "trend",
            "trend-incidents",
            lambda r: charts.trend_lines(r, prefix="incidents", title="Incidents per week"),
        ),
        (
            "trend",
            "trend-findings",
            lambda r: charts.trend_lines(r, prefix="findings", title="Findings per week"),
        ),
        ("findings", "findings", charts.findings_by_source),
        ("noise", "noise", charts.noise_by_source),
        ("reused", "reused", charts.reused_by_type),
    ]
    sections, shown = [], set()
    for name, chart_id, build in spec:
        columns, rows = table(name, results[name])
        figure = build(results[name])
        # The heading is HTML (readable, never overlapping the legend), not a plotly title.
        heading = figure["layout"].pop("title")["text"]
        sections.append(
            {
                "id": chart_id,
                "fig_id": f"fig-{chart_id}",
                "table": name,
                "title": TABLES[name][0],
                "heading": heading,
                "figure": figure,
                # A table under the first chart of each, not repeated.
                "columns": columns if name not in shown else None,
                "rows": rows[:HTML_ROWS],
                "more_rows": max(0, len(rows) - HTML_ROWS),
                "csv": f"?{query}&export={name}" if query else f"?export={name}",
            }
        )
        shown.add(name)
    return sections


def _cards(results: dict) -> list[dict]:
    times = {k["kind"]: k for k in results["time-to-remediate"]["kinds"]}
    sla = results["sla"]["overall"]
    exposure = results["exposure"]
    backlog = results["backlog"]
    return [
        {"id": "revoke-p50", "label": "p50 time to revoke", "value": human(times["revoke"]["p50"])},
        {
            "id": "remediate-p50",
            "label": "p50 time to remediate (MTTR)",
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
        {"id": "open-findings", "label": "open findings", "value": str(sum(backlog["findings"]))},
        {
            "id": "open-incidents",
            "label": "open incidents",
            "value": str(sum(backlog["incidents"])),
        },
    ]


def _choices() -> dict:
    return {
        "teams": Team.objects.order_by("name").values("slug", "name")[:CHOICE_LIMIT],
        "sources": Source.objects.order_by("name").values("slug", "name")[:CHOICE_LIMIT],
        "secret_types": SecretType.choices,
        "severities": metrics.SEVERITIES,
    }


@permission_required("hygiene.view_metrics")
def metrics_page(request):
    is_htmx = request.headers.get("HX-Request") == "true"
    try:
        f = filters_from(request.GET)
    except FilterError as exc:
        template = "hygiene/partials/metrics_error.html" if is_htmx else "hygiene/metrics.html"
        context = {"error": str(exc), "params": request.GET, **_choices()}
        return render(request, template, context, status=400)
    export = request.GET.get("export")
    if export is not None:
        if export not in TABLES:
            return HttpResponse(
                f"Unknown table; one of: {', '.join(TABLES)}",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return _csv(export, metrics.TABLES[export](f), f)
    results = _results(f)
    # ``since`` always, even empty: without it the default range would come back.
    query = urlencode({k: v for k, v in f.as_params().items() if v or k == "since"})
    context = {
        "filters": f,
        "params": f.as_params(),
        "cards": _cards(results),
        "sections": _sections(results, query),
    }
    if is_htmx:
        return render(request, "hygiene/partials/metrics_body.html", context)
    return render(request, "hygiene/metrics.html", {**context, **_choices()})
