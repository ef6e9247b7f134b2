import pytest

from hygiene.models import UserToken
from incidents.models import Incident
from incidents.services import incident_open, step_complete
from tests.incidents.conftest import make_secret

pytestmark = pytest.mark.django_db

BASE = "/api/v1/incidents"


def token_for(user) -> dict:
    raw, prefix, digest = UserToken.generate()
    UserToken.objects.create(user=user, prefix=prefix, token_hash=digest)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_list_needs_a_personal_token(client, source_token):
    assert client.get(BASE).status_code == 401
    response = client.get(BASE, HTTP_AUTHORIZATION=f"Bearer {source_token}")
    assert response.status_code == 403 and "personal API token" in response.json()["detail"]


def test_list_filters_and_is_bounded(client, lead, engineer, team, other_team):
    ours = incident_open(secrets=[make_secret(team=team)], opened_by=lead, owner=engineer)
    theirs = incident_open(secrets=[make_secret(team=other_team, severity="low")], opened_by=lead)
    auth = token_for(lead)
    body = client.get(BASE, **auth).json()
    assert body["count"] == 2 and {i["id"] for i in body["items"]} == {ours.pk, theirs.pk}
    assert [i["id"] for i in client.get(f"{BASE}?severity=low", **auth).json()["items"]] == [
        theirs.pk
    ]
    assert [i["id"] for i in client.get(f"{BASE}?team={team.pk}", **auth).json()["items"]] == [
        ours.pk
    ]
    assert [i["id"] for i in client.get(f"{BASE}?owner={engineer.pk}", **auth).json()["items"]] == [
        ours.pk
    ]
    page = client.get(f"{BASE}?limit=1&offset=1", **auth).json()
    assert page["count"] == 2 and len(page["items"]) == 1 and page["limit"] == 1
    assert client.get(f"{BASE}?limit=1000", **auth).status_code == 422
    bad = client.get(f"{BASE}?status=bogus", **auth)
    assert bad.status_code == 400 and "unknown status" in bad.json()["detail"]
    assert bad.json()["location"] == "query.status"
    # Engineers see their teams' incidents only.
    mine = client.get(BASE, **token_for(engineer)).json()
    assert [i["id"] for i in mine["items"]] == [ours.pk]
    assert client.get(f"{BASE}/{theirs.pk}", **token_for(engineer)).status_code == 404


def test_detail_has_steps_with_state_and_the_timeline(client, lead, team):
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    step_complete(step=incident.steps.get(position=1), by=lead, note="deactivated")
    body = client.get(f"{BASE}/{incident.pk}", **token_for(lead)).json()
    assert body["reference"] == incident.reference and body["status"] == "contained"
    assert body["playbook"] == "aws-access-key" and body["playbook_version"] == 1
    states = {s["position"]: s["state"] for s in body["steps"]}
    assert states[1] == "done_on_time" and states[2] == "on_track"
    assert body["steps"][1]["due_at"]
    kinds = [e["kind"] for e in body["timeline"]]
    assert "opened" in kinds and "step_completed" in kinds
    assert client.get(f"{BASE}/999999", **token_for(lead)).status_code == 404


def test_open_via_api(client, lead, engineer, manager, team):
    secret = make_secret(team=team, severity="medium")
    payload = {"secret_ids": [secret.pk], "severity": "high"}
    for user in (engineer, manager):
        response = client.post(
            f"{BASE}/open", payload, content_type="application/json", **token_for(user)
        )
        assert response.status_code == 403
    auth = token_for(lead)
    response = client.post(f"{BASE}/open", payload, content_type="application/json", **auth)
    assert response.status_code == 201
    body = response.json()
    incident = Incident.objects.get(pk=body["id"])
    assert body["severity"] == "high" and incident.secrets.get() == secret
    again = client.post(f"{BASE}/open", payload, content_type="application/json", **auth)
    assert again.status_code == 409 and "already has an open incident" in again.json()["detail"]
    missing = client.post(
        f"{BASE}/open", {"secret_ids": [999999]}, content_type="application/json", **auth
    )
    assert missing.status_code == 404
    empty = client.post(f"{BASE}/open", {"secret_ids": []}, content_type="application/json", **auth)
    assert empty.status_code == 422
    other = make_secret(team=team)
    bad = client.post(
        f"{BASE}/open",
        {"secret_ids": [other.pk], "severity": "doom"},
        content_type="application/json",
        **auth,
    )
    assert bad.status_code == 400 and "Unknown severity" in bad.json()["detail"]
