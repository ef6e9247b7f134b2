"""GET /api/v1/metrics/<table>: the numbers behind each chart of the metrics page, with the
same filters as the page's URL. Definitions: docs/metrics.md."""

from ninja import Field, Query, Router, Schema

from hygiene import metrics
from hygiene.api import ApiError
from hygiene.api.permissions import require_user
from hygiene.metrics import FilterError, filters_from

router = Router()


class MetricQuery(Schema):
    since: str | None = Field(
        None,
        description="First day (YYYY-MM-DD, UTC). Without since and until: the last 90 days. "
        "Empty (since=): no lower bound.",
    )
    until: str | None = Field(None, description="Last day, included (YYYY-MM-DD).")
    team: str | None = Field(None, description="Team slug.")
    severity: str | None = Field(None, description="critical, high, medium, low or info.")
    secret_type: str | None = Field(None, description="Secret type, e.g. aws-access-key.")
    source: str | None = Field(None, description="Source slug.")


DESCRIPTIONS = {
    "time-to-remediate": "Seconds from detection (incident opened) to the first completed "
    "revoke, rotate and notify step and to remediation: n, mean, p50, p90, min, max and a "
    "histogram per kind.",
    "exposure": "Seconds from first exposure to revocation, and incidents not yet revoked.",
    "sla": "Steps done on time, late, overdue now, pending and skipped, per action and "
    "severity, with shares.",
    "survival": "Kaplan-Meier estimate of the share of incidents not yet remediated after t hours.",
    "backlog": "Open findings and incidents now, by age bucket (the date range doesn't apply).",
    "trend": "Per week: incidents opened and remediated, findings opened and closed.",
    "findings": "Findings per source and secret type.",
    "reused": "Secrets per type and how many are reused (seen in two or more places).",
    "noise": "False-positive share of closed findings per source and per rule.",
}


def _filters(request, query: MetricQuery):
    require_user(request, "hygiene.view_metrics")
    params = {k: v for k, v in query.dict().items() if v is not None}
    try:
        return filters_from(params)
    except FilterError as exc:
        # The message names the parameter first ("since: expected a date…").
        name = str(exc).split(":", 1)[0]
        location = f"query.{name}" if name in MetricQuery.model_fields else "query"
        raise ApiError(400, str(exc), location) from None


def _endpoint(name: str):
    selector = metrics.TABLES[name]

    def view(request, query: Query[MetricQuery]):
        f = _filters(request, query)
        return {"metric": name, "filters": f.as_params(), **selector(f)}

    view.__name__ = "metrics_" + name.replace("-", "_")
    router.get(
        f"/{name}",
        response=dict,
        summary=name.replace("-", " ").capitalize(),
        description=DESCRIPTIONS[name],
        operation_id=view.__name__,
    )(view)


for _name in metrics.TABLES:
    _endpoint(_name)
