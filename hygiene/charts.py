"""Plotly figures (plain figure dicts: data + layout), built server-side from the metrics
selectors' results and drawn by static/js/app.js from <script type="application/json"> blocks.
Dicts rather than graph_objects: the same JSON, without the validation cost on every page."""

from plotly.colors import qualitative

from hygiene.metrics import DURATION_BINS
from hygiene.taxonomy import SecretType

BLUE, ORANGE, GREEN, RED, GREY, PURPLE = (
    "#0f5cc0",
    "#d2561a",
    "#2c7a3f",
    "#b3141f",
    "#8a97a6",
    "#5b3aa6",
)
KIND_COLOURS = {"revoke": RED, "rotate": ORANGE, "notify": PURPLE, "remediate": GREEN}
# One colour per secret type in a stack (plotly's default ten repeat with more types).
MANY_COLOURS = qualitative.Dark24
TYPE_LABELS = dict(SecretType.choices)


def human(seconds) -> str:
    """A duration for people: 45 min, 3.5 h, 12.0 d."""
    if seconds is None:
        return "-"
    if abs(seconds) < 3600:
        return f"{seconds / 60:.0f} min"
    if abs(seconds) < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(share) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"


# Plotly's toolbar (zoom, pan, download...) sat over the top-left of these small charts: every
# button is removed, so no toolbar is drawn (a figure's ``config`` says the same, for a caller
# that passes it to Plotly).
MODEBAR_BUTTONS = [
    "zoom2d",
    "pan2d",
    "select2d",
    "lasso2d",
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "resetScale2d",
    "toImage",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
    "toggleSpikelines",
]
CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}


def _layout(title: str, **extra) -> dict:
    # Axis labels take the room they need (a long step or type name isn't cut off).
    for axis in ("xaxis", "yaxis"):
        extra[axis] = {"automargin": True, **extra.get(axis, {})}
    return {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        # Room above the plot for the legend, which sits there in one row (not low on the
        # right, where it squeezed the plot and fell under the axis labels).
        "margin": {"l": 50, "r": 10, "t": 36, "b": 50},
        "height": 320,
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        "modebar": {"remove": MODEBAR_BUTTONS},
        **extra,
    }


# Counts and durations are never negative: without this, an axis whose values are all 0 (or a
# line's markers at 0) was drawn from -1 to 1.
COUNT_AXIS = {"rangemode": "tozero"}
# Up to this many, a count axis has a tick at each whole number: plotly's own ticks for counts
# up to 2 or 3 were 0, 0.5, 1, 1.5 (half an incident); above it, its steps are whole (2, 5...).
WHOLE_TICKS_UP_TO = 10


def _count_axis(peak) -> dict:
    """An axis of counts whose largest bar or point is ``peak``."""
    if (peak or 0) <= WHOLE_TICKS_UP_TO:
        return {**COUNT_AXIS, "tick0": 0, "dtick": 1}
    return COUNT_AXIS


# A legend of many entries is laid out in two columns below the plot, a row this many pixels.
LEGEND_ROW = 20

# What a chart with nothing to plot says in its place.
NO_INCIDENTS = "No incidents opened in this range"
NO_FINDINGS = "No findings in this range"


def _empty(title: str, message: str) -> dict:
    """A chart with nothing to plot: its message instead of bare axes. ``empty`` tells the
    metrics page to show the message instead of the chart; a page that draws the figure
    anyway (the manager's dashboard) gets the message as the plot's only text."""
    return {
        "config": CONFIG,
        "empty": message,
        "data": [],
        "layout": _layout(
            title,
            showlegend=False,
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[
                {
                    "text": message,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"size": 13, "color": "#5b6776"},
                }
            ],
        ),
    }


def _no_incident_times(result: dict) -> str:
    """Why the time-to charts have nothing to plot ("" when they have something)."""
    if any(k["n"] for k in result["kinds"]):
        return ""
    if not result.get("incidents"):
        return NO_INCIDENTS
    return "No incident opened in this range has been revoked, rotated, notified or remediated yet"


def _legend_below(entries: int) -> dict:
    """A legend of many entries (a stack of secret types) in two columns below the plot and
    the axis labels, the chart taller by its rows: above the plot, it took two thirds of the
    panel and squeezed the bars. A horizontal legend is cut to half the chart's height unless
    told otherwise (``maxheight``) and would take one column per entry's full width."""
    rows = -(-entries // 2)
    return {
        "height": 320 + LEGEND_ROW * rows,
        "legend": {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yref": "container",
            "yanchor": "bottom",
            "maxheight": 1,
            "entrywidth": 0.5,
            "entrywidthmode": "fraction",
            "font": {"size": 11},
        },
    }


def hours(seconds):
    """Seconds in hours, as the charts draw them (the page's tables too)."""
    return None if seconds is None else round(seconds / 3600, 2)


def time_to_percentiles(result: dict) -> dict:
    title = "Time from detection (hours)"
    if empty := _no_incident_times(result):
        return _empty(title, empty)
    kinds = [k["kind"] for k in result["kinds"]]
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": name,
                "x": kinds,
                "y": [hours(k[key]) for k in result["kinds"]],
                "marker": {"color": colour},
                "hovertemplate": "%{x}: %{y} h<extra>" + name + "</extra>",
            }
            for key, name, colour in (("p50", "p50", BLUE), ("p90", "p90", ORANGE))
        ],
        "layout": _layout(title, barmode="group", yaxis={"title": {"text": "hours"}, **COUNT_AXIS}),
    }


def time_to_distribution(result: dict) -> dict:
    title = "Distribution of times (incidents)"
    if empty := _no_incident_times(result):
        return _empty(title, empty)
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": k["kind"],
                "x": result["bins"],
                "y": k["histogram"],
                "marker": {"color": KIND_COLOURS.get(k["kind"], GREY)},
            }
            for k in result["kinds"]
        ],
        "layout": _layout(
            title,
            barmode="group",
            yaxis=_count_axis(max((n for k in result["kinds"] for n in k["histogram"]), default=0)),
        ),
    }


def exposure_distribution(result: dict) -> dict:
    title = "Exposure window: first exposure to revocation"
    if not result["revoked"].get("n"):
        if result["unrevoked"]:
            return _empty(title, "No incident opened in this range has been revoked yet")
        return _empty(title, NO_INCIDENTS)
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": "revoked",
                "x": [label for label, _ in DURATION_BINS],
                "y": result["histogram"],
                "marker": {"color": RED},
            }
        ],
        "layout": _layout(title, showlegend=False, yaxis=_count_axis(max(result["histogram"]))),
    }


def sla_attainment(result: dict) -> dict:
    # Actions with nothing done or due yet (all pending or skipped) have no share to draw.
    decided = [a for a in result["actions"] if a["on_time"] + a["late"] + a["overdue"]]
    actions = [a["action"] for a in decided]
    title = "SLA attainment per step (% of steps done or due)"
    if not decided:
        if result["actions"]:
            return _empty(title, "No step of the incidents in this range is done or due yet")
        return _empty(title, NO_INCIDENTS)

    def share(a, key):
        decided = a["on_time"] + a["late"] + a["overdue"]
        return round(100 * a[key] / decided, 1) if decided else 0

    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": name,
                "y": actions,
                "x": [share(a, key) for a in decided],
                "marker": {"color": colour},
                "hovertemplate": "%{y}: %{x}%<extra>" + name + "</extra>",
            }
            for key, name, colour in (
                ("on_time", "on time", GREEN),
                ("late", "late", ORANGE),
                ("overdue", "overdue now", RED),
            )
        ],
        "layout": _layout(
            title,
            barmode="stack",
            xaxis={"range": [0, 100], "ticksuffix": "%"},
            yaxis={"autorange": "reversed"},
        ),
    }


def survival_curve(result: dict) -> dict:
    title = "Share of incidents not yet remediated (Kaplan-Meier)"
    if not result["points"]:
        return _empty(title, NO_INCIDENTS)
    # Without one remediation the curve is a flat 100 % (a dot at hour 0 when every incident
    # is younger than an hour): nothing to read from it.
    if not any(p["events"] for p in result["points"]):
        return _empty(title, "No incident has been remediated yet in this range")
    x, y = [0], [1.0]
    for p in result["points"]:
        x.append(p["hours"])
        y.append(p["survival"])
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "line": {"shape": "hv", "color": BLUE},
                "name": "not yet remediated",
                "x": x,
                "y": y,
            }
        ],
        "layout": _layout(
            title,
            showlegend=False,
            xaxis={"title": {"text": "hours since opened"}, **COUNT_AXIS},
            yaxis={"range": [0, 1.02], "tickformat": ".0%"},
        ),
    }


def backlog_ages(result: dict) -> dict:
    title = "Backlog by age"
    if not any(result["findings"]) and not any(result["incidents"]):
        return _empty(title, "No unresolved findings or active incidents")
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": name,
                "x": result["buckets"],
                "y": result[key],
                "marker": {"color": colour},
            }
            for key, name, colour in (
                ("findings", "unresolved findings", BLUE),
                ("incidents", "active incidents", RED),
            )
        ],
        "layout": _layout(
            title,
            barmode="group",
            yaxis=_count_axis(max(*result["findings"], *result["incidents"])),
        ),
    }


def trend_lines(result: dict, *, prefix: str, title: str) -> dict:
    weeks = [w["week"] for w in result["weeks"]]
    closed = "remediated" if prefix == "incidents" else "closed"
    keys = [f"{prefix}_opened", f"{prefix}_{closed}"]
    if not any(w[key] for w in result["weeks"] for key in keys):
        nothing = {
            "incidents": "No incident opened or remediated in this range",
            "findings": "No finding first seen or closed in this range",
        }
        return _empty(title, nothing[prefix])
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": weeks,
                "y": [w[f"{prefix}_{key}"] for w in result["weeks"]],
                "line": {"color": colour},
            }
            for key, label, colour in (("opened", "opened", RED), (closed, closed, GREEN))
        ],
        "layout": _layout(
            title,
            xaxis={"type": "date"},
            yaxis=_count_axis(max(w[key] for w in result["weeks"] for key in keys)),
        ),
    }


def findings_by_source(result: dict) -> dict:
    title = "Findings per source and secret type"
    if not result["rows"]:
        return _empty(title, NO_FINDINGS)
    sources = sorted({r["source"] for r in result["rows"]})
    types = sorted({r["secret_type"] for r in result["rows"]})
    counts = {(r["source"], r["secret_type"]): r["findings"] for r in result["rows"]}
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": TYPE_LABELS.get(t, t),
                "x": sources,
                "y": [counts.get((s, t), 0) for s in sources],
            }
            for t in types
        ],
        "layout": _layout(
            title,
            barmode="stack",
            colorway=MANY_COLOURS,
            yaxis=_count_axis(max(sum(counts.get((s, t), 0) for t in types) for s in sources)),
            **_legend_below(len(types)),
        ),
    }


def noise_by_source(result: dict) -> dict:
    rows = result["sources"]
    title = "Noise: share of closed findings dismissed as false positive"
    if not any(r["closed"] for r in rows):
        if rows:
            return _empty(title, "No finding in this range has been resolved or dismissed yet")
        return _empty(title, NO_FINDINGS)
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": "false-positive share",
                "x": [r["source"] for r in rows],
                "y": [round(100 * (r["fp_share"] or 0), 1) for r in rows],
                "marker": {"color": GREY},
            }
        ],
        "layout": _layout(
            title,
            showlegend=False,
            yaxis={"range": [0, 100], "ticksuffix": "%"},
        ),
    }


def reused_by_type(result: dict) -> dict:
    rows = result["rows"]
    title = "Secrets seen in two or more places"
    if not rows:
        return _empty(title, "No secrets first seen in this range")
    return {
        "config": CONFIG,
        "data": [
            {
                "type": "bar",
                "name": name,
                "x": [TYPE_LABELS.get(r["secret_type"], r["secret_type"]) for r in rows],
                "y": [r[key] if key == "reused" else r["secrets"] - r["reused"] for r in rows],
                "marker": {"color": colour},
            }
            for key, name, colour in (
                ("reused", "reused", ORANGE),
                ("single", "single place", BLUE),
            )
        ],
        "layout": _layout(
            title, barmode="stack", yaxis=_count_axis(max(r["secrets"] for r in rows))
        ),
    }
