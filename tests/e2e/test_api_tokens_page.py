"""Revoking a personal API token asks first (it was one click) and says it was done."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from hygiene.models import UserToken

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_revoking_a_token_asks_first_and_says_so(login, live_server, manager):
    call_command("create_api_token", manager.username, name="grafana", stdout=io.StringIO())
    token = UserToken.objects.get(user=manager)
    page = login(manager)
    page.goto(f"{live_server.url}/account/tokens/")
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    # Cancelled: nothing happens.
    page.once("dialog", lambda d: answer(d, False))
    page.get_by_test_id("revoke-token").click()
    assert asked and asked[0].startswith(f"Revoke token {token.prefix}… (grafana)?")
    expect(page.get_by_test_id("token-state")).to_have_text("active")
    token.refresh_from_db()
    assert token.revoked_at is None

    page.once("dialog", lambda d: answer(d, True))
    page.get_by_test_id("revoke-token").click()
    expect(page.get_by_role("status")).to_contain_text(f"Token {token.prefix}… revoked")
    expect(page.get_by_test_id("token-state")).to_have_text("revoked")
    expect(page.get_by_test_id("revoke-token")).to_have_count(0)
