"""/api/v1/metrics/...: tokens, roles, filters, numbers, OpenAPI."""

import pytest

from hygiene.metrics import TABLES
from hygiene.models import UserToken
from tests.hygiene.test_metrics import frozen, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("world", "frozen")


def bearer(user) -> dict:
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=user, prefix=prefix, token_hash=digest)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_every_metric_needs_a_token_with_the_right_role(
    client, manager, lead, engineer, outsider, source_token
):
    for name in TABLES:
        url = f"/api/v1/metrics/{name}"
        assert client.get(url).status_code == 401
        assert client.get(url, HTTP_AUTHORIZATION="Bearer llu_wrong").status_code == 401
        source = client.get(url, HTTP_AUTHORIZATION=f"Bearer {source_token}")
        assert source.status_code == 403
        assert source.json()["location"] == "header.Authorization"
        refused = client.get(url, **bearer(engineer))
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "your role does not allow this (hygiene.view_metrics)",
            "location": "header.Authorization",
        }
        assert client.get(url, **bearer(outsider)).status_code == 403
        assert client.get(url, **bearer(lead)).status_code == 200
        assert client.get(url, **bearer(manager)).status_code == 200


def test_time_to_remediate_numbers(client, manager):
    body = client.get("/api/v1/metrics/time-to-remediate?since=", **bearer(manager)).json()
    assert body["metric"] == "time-to-remediate"
    assert body["filters"]["since"] == ""
    revoke = next(k for k in body["kinds"] if k["kind"] == "revoke")
    assert (revoke["n"], revoke["p50"], revoke["p90"]) == (3, 14400.0, 20160.0)


def test_filters_as_query_parameters(client, manager):
    auth = bearer(manager)
    body = client.get(
        "/api/v1/metrics/sla?since=2025-03-04&until=2025-03-05&severity=critical", **auth
    ).json()
    assert body["filters"] == {
        "since": "2025-03-04",
        "until": "2025-03-05",
        "team": "",
        "severity": "critical",
        "secret_type": "",
        "source": "",
    }
    assert body["overall"]["total"] == 3  # C's three steps
    survival = client.get("/api/v1/metrics/survival?since=&source=trufflehog", **auth).json()
    assert survival["incidents"] == 1  # B
    backlog = client.get("/api/v1/metrics/backlog?team=platform", **auth).json()
    assert backlog["findings"] == [0, 0, 1, 1, 0]
    default = client.get("/api/v1/metrics/exposure", **auth).json()
    assert default["filters"]["since"] == "2025-01-01"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=31/01/2025", "since: expected a date"),
        ("severity=urgent", "severity: one of"),
        ("team=nobody", "team: no team"),
        ("since=2025-03-05&until=2025-03-01", "since: must not be after until"),
        ("until=9999-12-31", "until: a year from 1970 to 2999, got 9999"),
        ("team=pay%00ments", "must not contain NUL characters"),
    ],
)
def test_bad_filters_answer_400(client, manager, query, message):
    response = client.get(f"/api/v1/metrics/noise?{query}", **bearer(manager))
    assert response.status_code == 400
    assert message in response.json()["detail"]
    if "%00" not in query:  # refused before the API (hygiene.middleware)
        # The API's error shape: {"detail", "location"}, the parameter as in a 422.
        assert response.json()["location"] == f"query.{message.split(':')[0]}"
    client.force_login(manager)
    assert client.get(f"/metrics/?{query}").status_code == 400  # the page too, no 500


def test_metrics_are_in_the_openapi_schema(client, manager):
    client.force_login(manager)
    schema = client.get("/api/v1/openapi.json").json()
    for name in TABLES:
        operation = schema["paths"][f"/api/v1/metrics/{name}"]["get"]
        params = {p["name"] for p in operation["parameters"]}
        assert {"since", "until", "team", "severity", "secret_type", "source"} <= params
        assert operation["description"]
