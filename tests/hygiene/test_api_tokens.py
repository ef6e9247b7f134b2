"""Personal API tokens: made on the 'API tokens' page or with create_api_token, shown once,
stored hashed, read the API with their owner's role, revoked by their owner."""

import io

import pytest
from django.core.management import call_command

from hygiene.models import UserToken

pytestmark = pytest.mark.django_db


def test_a_manager_makes_a_token_reads_metrics_with_it_and_revokes_it(client, manager):
    client.force_login(manager)
    page = client.get("/account/tokens/").content.decode()
    assert "No tokens yet." in page and "with your role" in page
    response = client.post("/account/tokens/new/", {"name": "grafana"})
    assert response.status_code == 200
    html = response.content.decode()
    raw = html.split('data-testid="new-token-value">')[1].split("<")[0]
    assert raw.startswith("llu_")
    token = UserToken.objects.get(user=manager)
    assert token.name == "grafana" and raw not in token.token_hash and token.prefix == raw[:12]
    # Shown once: the list no longer has it.
    assert raw not in client.get("/account/tokens/").content.decode()

    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/metrics/sla", **auth).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    client.force_login(manager)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    client.logout()
    assert client.get("/api/v1/metrics/sla", **auth).status_code == 401


def test_a_token_needs_a_name_and_a_future_expiry(client, engineer):
    client.force_login(engineer)
    response = client.post("/account/tokens/new/", {"name": " "})
    assert response.status_code == 400
    assert "Name the token" in response.content.decode()
    response = client.post("/account/tokens/new/", {"name": "x", "expires_on": "2001-01-01"})
    assert response.status_code == 400 and "future date" in response.content.decode()
    assert not UserToken.objects.exists()


def test_nobody_revokes_someone_elses_token_through_the_page(client, manager, engineer):
    call_command("create_api_token", manager.username, name="ci", stdout=io.StringIO())
    token = UserToken.objects.get(user=manager)
    client.force_login(engineer)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_command_prints_the_token_once_and_refuses_unknown_users(capsys, lead):
    out = io.StringIO()
    call_command("create_api_token", lead.username, name="scripts", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("llu_") and UserToken.objects.get().prefix == raw[:12]
    with pytest.raises(SystemExit) as exit_info:
        call_command("create_api_token", "nobody", name="x")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().endswith("error: no user 'nobody'")


def test_only_its_owner_revokes_a_token(manager, lead):
    from django.core.exceptions import PermissionDenied

    from hygiene.services.sources import user_token_create, user_token_revoke

    token, _raw = user_token_create(user=manager, name="ci")
    with pytest.raises(PermissionDenied):
        user_token_revoke(token=token, by=lead)
    assert user_token_revoke(token=token, by=manager).revoked_at is not None


def test_reloading_the_page_that_shows_a_new_token_makes_no_second_one(client, engineer):
    """The token is shown in the POST's answer: a reload posts the form again."""
    import re

    from hygiene.models import UserToken

    client.force_login(engineer)
    once = re.search(
        r'name="once" value="([^"]+)"', client.get("/account/tokens/").content.decode()
    )
    form = {"name": "laptop", "once": once[1]}
    assert client.post("/account/tokens/new/", form).status_code == 200
    again = client.post("/account/tokens/new/", form)
    assert again.status_code == 409 and "sent already" in again.content.decode()
    assert UserToken.objects.filter(user=engineer).count() == 1
    # A fresh form (its own id) makes another.
    fresh = re.search(r'name="once" value="([^"]+)"', again.content.decode())[1]
    assert client.post("/account/tokens/new/", {"name": "ci", "once": fresh}).status_code == 200
    assert UserToken.objects.filter(user=engineer).count() == 2


def test_revoking_asks_first_and_says_it_was_done(client, manager):
    call_command("create_api_token", manager.username, name="grafana", stdout=io.StringIO())
    token = UserToken.objects.get(user=manager)
    client.force_login(manager)
    page = client.get("/account/tokens/").content.decode()
    # app.js asks before sending a form with data-confirm (as deleting an ownership rule does).
    form = page.split('data-testid="revoke-token"')[0].rsplit("<form", 1)[1]
    assert f'data-confirm="Revoke token {token.prefix}… (grafana)?' in form
    after = client.post(f"/account/tokens/{token.pk}/revoke/", follow=True).content.decode()
    assert f"Token {token.prefix}… revoked" in after


@pytest.mark.parametrize("who", ["lead", "engineer", "manager"])
def test_the_page_says_what_a_token_reads_and_the_api_agrees(client, request, who):
    """The page promised metrics to engineers, whose tokens get 403 there."""
    user = request.getfixturevalue(who)
    client.force_login(user)
    page = client.get("/account/tokens/").content.decode()
    access = page.split('data-testid="token-access">')[1].split("</p>")[0]
    out = io.StringIO()
    call_command("create_api_token", user.username, name="ci", stdout=out)
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {out.getvalue().strip()}"}
    metrics = client.get("/api/v1/metrics/sla", **auth).status_code
    if who == "engineer":
        assert metrics == 403
        assert "reads your teams&#x27; findings and the incidents you take part in." in access
        assert "Not metrics" in access
    else:
        assert metrics == 200
        assert "reads all findings, all incidents, metrics and import statuses" in access
        assert "Not metrics" not in access
    assert ("opens incidents" in access) == (who == "lead")
    assert client.get("/api/v1/findings", **auth).status_code == 200
    assert client.get("/api/v1/incidents", **auth).status_code == 200


def test_the_expiry_picker_starts_tomorrow_and_says_so(client, engineer):
    import datetime

    from django.utils import timezone

    client.force_login(engineer)
    page = client.get("/account/tokens/").content.decode()
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert f'name="expires_on" min="{tomorrow:%Y-%m-%d}"' in page
    assert "tomorrow or later" in page
    # Tomorrow itself is accepted (the form refuses today and earlier).
    response = client.post("/account/tokens/new/", {"name": "x", "expires_on": f"{tomorrow}"})
    assert response.status_code == 200
