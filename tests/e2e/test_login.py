import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("who", "heading", "role_label"),
    [
        ("lead", "Triage", "Security lead"),
        ("engineer", "My steps", "Engineer"),
        ("manager", "Hygiene at a glance", "Manager"),
    ],
)
def test_each_role_logs_in_and_sees_its_landing_page(
    request, login, screenshot, who, heading, role_label
):
    user = request.getfixturevalue(who)
    page = login(user)
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.get_by_test_id("role")).to_have_text(role_label)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Findings")
    screenshot(f"dashboard-{who}")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You're logged out.")
    page.reload()  # said once
    expect(page.get_by_role("status")).to_have_count(0)


def test_a_wrong_password_keeps_you_out(page, live_server, lead):
    page.goto(f"{live_server.url}/findings/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/findings/")
    page.fill("input[name=username]", "lena")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


def test_the_api_docs_draw_under_the_content_security_policy(login, live_server, manager):
    page = login(manager)
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    # Swagger UI, served from our static files, lists the operations.
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/metrics/time-to-remediate")).to_be_visible()
    assert not blocked
