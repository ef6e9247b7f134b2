from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from hygiene.filters import AGES, SORTS, parse_filter
from hygiene.models import FindingCategory, FindingStatus, UserToken
from hygiene.models.findings import Validity
from hygiene.taxonomy import SecretType, Severity
from tests.hygiene.test_filters import make_finding, make_secret


def bearer(user) -> dict:
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=user, prefix=prefix, token_hash=digest)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def data(db, source, team, other_team):
    secret = make_secret(severity="critical")
    return {
        "mine": make_finding(source, secret, team=team, severity="critical"),
        "mine2": make_finding(source, secret, team=team, severity="low"),
        "theirs": make_finding(source, team=other_team),
    }


def test_lead_lists_filters_and_pages(client, data, lead, source):
    auth = bearer(lead)
    body = client.get("/api/v1/findings", **auth).json()
    assert len(body["items"]) == 3 and body["next_cursor"] is None
    crit = client.get("/api/v1/findings?severity=critical", **auth).json()
    assert [i["id"] for i in crit["items"]] == [data["mine"].pk]
    assert crit["items"][0]["team"] == "payments"
    for _ in range(55):
        make_finding(source)
    page1 = client.get("/api/v1/findings?sort=oldest", **auth).json()
    assert len(page1["items"]) == 50
    page2 = client.get(f"/api/v1/findings?sort=oldest&cursor={page1['next_cursor']}", **auth)
    assert len(page2.json()["items"]) == 8
    assert not {i["id"] for i in page1["items"]} & {i["id"] for i in page2.json()["items"]}
    assert page1["prev_cursor"] is None
    back = client.get(f"/api/v1/findings?sort=oldest&cursor={page2.json()['prev_cursor']}", **auth)
    assert back.json()["items"] == page1["items"] and back.json()["prev_cursor"] is None


def test_bad_input_is_a_4xx_with_a_message(client, data, lead):
    auth = bearer(lead)
    bad = client.get("/api/v1/findings?cursor=%%%", **auth)
    assert bad.status_code == 400 and "broken" in bad.json()["detail"]
    noted = client.get("/api/v1/findings?severity=extreme", **auth).json()
    assert "Ignored unknown severity" in noted["notes"][0]
    assert client.get("/api/v1/findings/999999", **auth).status_code == 404


def test_engineers_see_their_teams_only(client, data, engineer):
    auth = bearer(engineer)
    ids = {i["id"] for i in client.get("/api/v1/findings", **auth).json()["items"]}
    assert ids == {data["mine"].pk, data["mine2"].pk}
    assert client.get(f"/api/v1/findings/{data['theirs'].pk}", **auth).status_code == 404
    assert client.get(f"/api/v1/findings/{data['mine'].pk}", **auth).json()["id"] == data["mine"].pk
    secrets = client.get("/api/v1/findings/secrets", **auth).json()["items"]
    assert [(s["id"], s["occurrences"]) for s in secrets] == [(data["mine"].secret_id, 2)]


def test_grouped_secrets(client, data, manager):
    items = client.get("/api/v1/findings/secrets?severity=critical", **bearer(manager)).json()
    assert [(s["id"], s["occurrences"]) for s in items["items"]] == [(data["mine"].secret_id, 1)]
    assert "preview" in items["items"][0] and "fingerprint" not in items["items"][0]


@pytest.mark.parametrize("path", ["/api/v1/findings", "/api/v1/findings/secrets"])
def test_tokens_are_required_and_scoped(client, data, outsider, source_token, path):
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    # A source token may only import.
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {source_token}").status_code == 403
    assert client.get(path, **bearer(outsider)).status_code == 403


def test_a_bad_cursor_says_which_parameter(client, data, lead):
    auth = bearer(lead)
    for path in ("/api/v1/findings", "/api/v1/findings/secrets"):
        bad = client.get(f"{path}?cursor=%%%", **auth)
        assert bad.status_code == 400
        assert bad.json() == {
            "detail": "That page link is broken; start again from the first page.",
            "location": "query.cursor",
        }


def test_unknown_paths_and_methods_are_json_errors(client, data, lead):
    auth = bearer(lead)
    missing = client.get("/api/v1/nope", **auth)
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json() == {"detail": "no such endpoint: /api/v1/nope", "location": "path"}
    # Without a token too (nothing there to refuse), and under an existing prefix.
    assert client.get("/api/v1/findings/1/nope").json()["location"] == "path"
    for method in ("delete", "options", "put"):
        response = getattr(client, method)("/api/v1/findings", **auth)
        assert response.status_code == 405, method
        assert response["Content-Type"] == "application/json"
        assert response["Allow"] == "GET"
        assert response.json() == {
            "detail": f"{method.upper()} is not allowed here; allowed: GET",
            "location": "method",
        }
    # What exists still answers as before.
    assert client.get("/api/v1/findings", **auth).status_code == 200


# -- The OpenAPI schema: what a generated client knows of the filters ------------------------


class ReadsRecorded(QueryDict):
    """A query string that records which parameters parse_filter reads: one value (get) or all
    of them (getlist: repeated and comma-separated)."""

    def __init__(self, query=""):
        super().__init__(query, mutable=True)
        self.one, self.many = set(), set()

    def get(self, key, default=None):
        self.one.add(key)
        return super().get(key, default)

    def getlist(self, key, default=None):
        self.many.add(key)
        return super().getlist(key, default)


@pytest.mark.parametrize("path", ["/api/v1/findings", "/api/v1/findings/secrets"])
def test_the_openapi_schema_lists_every_filter_parameter(client, manager, path):
    reads = ReadsRecorded()
    parse_filter(reads, user=manager)
    assert {"status", "type", "team", "q", "sort", "first_from"} <= reads.one | reads.many
    client.force_login(manager)
    operation = client.get("/api/v1/openapi.json").json()["paths"][path]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    # Every parameter the filter reads, and the cursor: nothing more, nothing less.
    assert set(params) == reads.one | reads.many | {"cursor"}
    for name, param in params.items():
        assert param["in"] == "query" and param["required"] is False, name
        assert param["description"], name
        if name in reads.many:  # repeated or comma-separated
            assert param["schema"]["type"] == "array" and param["explode"] is True, name
            assert "commas" in param["description"], name
        else:
            assert param["schema"]["type"] != "array", name
    enums = {
        "status": FindingStatus.values,
        "severity": Severity.values,
        "type": SecretType.values,
        "validity": Validity.values,
        "category": FindingCategory.values,
        "age": list(AGES),
        "sort": list(SORTS),
        "assignee": ["me", "none"],
    }
    for name, values in enums.items():
        schema = params[name]["schema"]
        assert (schema.get("items") or schema)["enum"] == values, name
    for name in ("first_from", "first_to", "last_from", "last_to"):
        assert params[name]["schema"] == {"type": "string", "format": "date"}
    assert params["secret"]["schema"]["type"] == "integer"
    assert params["sort"]["schema"]["default"] == "newest"
    assert params["cursor"]["schema"] == {"type": "string"}
    assert "next_cursor" in params["cursor"]["description"]
    # Every value the schema offers is one the filter takes (no "Ignored ..." note), and a
    # value it doesn't offer is noted (pending: anything else only means no such filter).
    for name, param in params.items():
        offered = (param["schema"].get("items") or param["schema"]).get("enum")
        for value in offered or []:
            ff = parse_filter(QueryDict(urlencode({name: value})), user=manager)
            assert ff.notes == [], (name, value)
        if offered and name != "pending":
            assert parse_filter(QueryDict(f"{name}=bogus"), user=manager).notes, name
