"""The pages shown when something fails: a server error (500) and a refused form (CSRF)."""

import pytest
from django.test import Client, RequestFactory, override_settings
from django.views.defaults import server_error


@override_settings(DEBUG=False)
def test_a_server_error_shows_the_apps_page_with_a_way_home():
    """Django renders 500.html with no context and no request: the page must stand alone."""
    response = server_error(RequestFactory().get("/findings/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and "Server Error (500)" not in html
    assert "css/app.css" in html  # the app's look, not Django's bare text
    assert 'href="/"' in html


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_an_unhandled_exception_in_a_view_answers_with_the_500_page(lead, monkeypatch):
    from hygiene.views import dashboard as dashboard_views

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(dashboard_views, "render", boom)
    client = Client(raise_request_exception=False)
    client.force_login(lead)
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_login_form_posted_with_an_expired_csrf_token_says_to_reload():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "a", "password": "b"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "session or form expired" in html and "reload it and try again" in html
    assert 'data-testid="back-link"' in html and 'href="/accounts/login/"' in html
    assert "CSRF verification failed" not in html


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_a_signed_in_form_refused_without_a_page_to_go_back_to_links_to_the_dashboard(lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    response = client.post("/findings/bulk/", {"action": "assign"})  # no Referer
    html = response.content.decode()
    assert response.status_code == 403
    assert "session or form expired" in html
    assert 'data-testid="back-link">Back to your dashboard' in html
    assert 'aria-label="Main"' in html  # the app's navigation is there
