"""A security lead's Monday morning in headless Chromium: filter to new critical findings,
group by secret, assign a team, dismiss a test credential with a reason, open an incident; the
secret, sources and ownership pages; and what each role sees."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hygiene.models import Finding, OwnershipRule, Source
from tests.hygiene.test_filters import make_finding, make_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def monday(source, team, other_team):
    now = timezone.now()
    leaked = make_secret(
        secret_type="aws-secret-key",
        preview="wJal…EY",
        severity="critical",
        reused=True,
        place_count=2,
        validity="unknown",
    )
    make_finding(
        source,
        leaked,
        severity="critical",
        repo="acme/payments-api",
        path="deploy/prod.env",
        rule="aws-secret-access-key",
        first_seen_at=now - timedelta(hours=3),
    )
    trufflehog = Source.objects.create(slug="trufflehog", name="TruffleHog", kind="scanner")
    make_finding(
        trufflehog,
        leaked,
        severity="critical",
        repo="acme/billing",
        path="config/aws.yml",
        rule="AWS",
        first_seen_at=now - timedelta(hours=2),
    )
    fixture = make_secret(secret_type="stripe-key", preview="sk_t…42", severity="medium")
    test_cred = make_finding(
        source,
        fixture,
        severity="medium",
        repo="acme/payments-api",
        path="tests/fixtures/stripe.json",
        rule="stripe-access-token",
    )
    for i in range(3):  # older noise
        make_finding(
            source,
            severity="high",
            first_seen_at=now - timedelta(days=10 + i),
            repo="acme/web",
            path=f"src/app{i}.js",
        )
    return {"leaked": leaked, "test_cred": test_cred, "trufflehog": trufflehog}


def rows(page):
    return page.get_by_test_id("finding-row")


def test_monday_morning(login, screenshot, page, live_server, lead, monday, team):
    page.on("dialog", lambda dialog: dialog.accept())
    login(lead)
    page.get_by_role("link", name="Findings", exact=True).click()
    expect(rows(page)).to_have_count(6)
    page.evaluate("window.__sameDocument = true")

    # 1. New critical findings.
    page.get_by_test_id("filter-status").select_option(["open"])
    page.get_by_test_id("filter-severity").select_option(["critical"])
    page.get_by_test_id("filter-age").select_option("24h")
    page.get_by_test_id("apply-filters").click()
    expect(rows(page)).to_have_count(2)
    expect(page).to_have_url(re.compile(r"status=open.*severity=critical.*age=24h"))
    assert "q=" not in page.url  # empty fields stay out of the shareable URL
    # The page's links outside the results follow the filter too.
    expect(page.get_by_test_id("export-csv")).to_have_attribute(
        "href", re.compile(r"export\.csv\?.*severity=critical")
    )
    screenshot("triage-findings")

    # The URL is the whole state: opening it afresh gives the same list.
    shared = page.url
    page.goto(shared)
    expect(rows(page)).to_have_count(2)
    page.evaluate("window.__sameDocument = true")

    # 2. Assign the filtered set to a team, without a reload. The bulk bar is pinned under
    # the header only while something is selected.
    def bulk_bar_position() -> str:
        return page.evaluate("getComputedStyle(document.querySelector('.bulk-bar')).position")

    assert bulk_bar_position() == "static"
    page.get_by_test_id("select-all-matching").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("All matching rows selected")
    assert bulk_bar_position() == "sticky"
    page.get_by_test_id("bulk-team").select_option("payments")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("flash")).to_have_text("2 findings assigned.")
    expect(page.get_by_test_id("finding-team")).to_have_text(["Payments", "Payments"])
    # The keyboard's place is what the action did (its buttons were disabled while it ran).
    expect(page.get_by_test_id("flash")).to_be_focused()
    assert page.evaluate("window.__sameDocument") is True
    assert Finding.objects.filter(team=team, severity="critical").count() == 2

    # 3. Group by secret: one row for the leaked key, seen twice.
    page.get_by_test_id("group-by-secret").click()
    expect(page.get_by_test_id("group-row")).to_have_count(1)
    expect(page.get_by_test_id("occurrences")).to_have_text("2")
    screenshot("triage-grouped")

    # 4. Dismiss a test credential with a reason.
    page.goto(f"{live_server.url}/findings/?q=tests/fixtures")
    expect(rows(page)).to_have_count(1)
    page.evaluate("window.__sameDocument = true")
    rows(page).first.get_by_role("checkbox").check()
    page.get_by_test_id("bulk-reason").select_option("used_in_tests")
    page.get_by_test_id("bulk-comment").fill("Stripe test-mode key in a fixture")
    page.get_by_role("button", name="Dismiss", exact=True).click()
    expect(page.get_by_test_id("flash")).to_have_text("1 finding dismissed.")
    expect(page.get_by_test_id("finding-status")).to_contain_text("Used in tests")
    assert page.evaluate("window.__sameDocument") is True
    dismissed = Finding.objects.get(pk=monday["test_cred"].pk)
    assert (dismissed.status, dismissed.resolution, dismissed.resolved_by) == (
        "dismissed",
        "used_in_tests",
        lead,
    )

    # Dismissals are undoable; one without a comment is refused with a message, in place.
    page.goto(f"{live_server.url}/findings/?status=dismissed")
    rows(page).first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Undo dismissal").click()
    expect(page.get_by_test_id("flash")).to_have_text("1 finding reopened.")
    page.goto(f"{live_server.url}/findings/?q=tests/fixtures")
    rows(page).first.get_by_role("checkbox").check()
    page.get_by_test_id("bulk-reason").select_option("used_in_tests")
    page.get_by_role("button", name="Dismiss", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("A comment is required")

    # 5. Open an incident for the leaked secret, from the grouped view.
    page.goto(f"{live_server.url}/findings/secrets/?status=open&severity=critical")
    page.get_by_test_id("group-row").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Open incident").click()
    expect(page).to_have_url(re.compile(r"/incidents/\d+/$"))
    incident = monday["leaked"].incidents.get()
    assert incident.opened_by == lead

    # The secret page: occurrences, references, the incident, the timeline, a comment.
    page.goto(f"{live_server.url}/secrets/{monday['leaked'].pk}/")
    expect(page.get_by_test_id("occurrence")).to_have_count(2)
    expect(page.get_by_test_id("incidents")).to_contain_text(incident.reference)
    expect(page.get_by_test_id("reused")).to_be_visible()
    page.get_by_test_id("reference-kind").select_option("arn")
    page.get_by_test_id("reference-value").fill("arn:aws:iam::123456789012:user/deploy")
    page.get_by_role("button", name="Add reference").click()
    expect(page.get_by_test_id("references")).to_contain_text("user/deploy")
    page.get_by_test_id("comment-body").fill("Rotation scheduled with the payments team")
    page.get_by_test_id("comment-submit").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Rotation scheduled")
    expect(page.get_by_test_id("timeline")).to_contain_text("Assigned to team Payments")
    screenshot("triage-secret")


def test_sources_and_ownership_pages(login, screenshot, page, live_server, lead, monday, team):
    asked = []  # what each confirmation said

    def confirm(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    login(lead)
    page.goto(f"{live_server.url}/sources/")
    expect(page.get_by_test_id("source-row")).to_have_count(2)
    page.get_by_role("link", name="gitleaks in CI").click()
    page.get_by_test_id("token-name").fill("ci-runner")
    page.get_by_test_id("create-token").click()
    token = page.get_by_test_id("new-token-value")
    expect(token).to_have_text(re.compile(r"^lls_"))
    raw = token.inner_text()
    page.get_by_test_id("rotate-token").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("which is revoked")
    assert "The old token stops working now" in asked[-1]  # CI jobs using it will fail
    expect(page.get_by_test_id("new-token-value")).not_to_have_text(raw)
    new_prefix = page.get_by_test_id("new-token-value").inner_text()[:12]
    expect(page.get_by_test_id("token-state")).to_have_text(
        ["active", f"revoked, replaced by {new_prefix}…"]
    )
    # A gitleaks source takes no GitHub deliveries: no webhook to set up (test_source_page).
    expect(page.get_by_test_id("rotate-webhook")).to_have_count(0)
    screenshot("triage-source")
    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert raw not in page.content()
    # Its settings: partial scans from now on, the default team.
    page.get_by_test_id("source-settings").locator("summary").click()
    edit = page.get_by_test_id("source-edit-form")
    edit.locator("select[name=scans]").select_option("partial")
    edit.locator("select[name=default_team]").select_option(label="Payments")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("partial scans")
    expect(page.locator("dl.facts")).to_contain_text("Payments")
    page.goto(f"{live_server.url}/sources/")
    screenshot("triage-sources")

    page.goto(f"{live_server.url}/ownership/")
    form = page.get_by_test_id("rule-form")
    form.locator("input[name=repo_pattern]").fill("acme/payments-*")
    form.locator("select[name=team]").select_option(label="Payments")
    form.get_by_role("button", name="Add rule").click()
    expect(page.get_by_test_id("rule-row")).to_have_count(1)
    page.get_by_test_id("preview-ownership").click()
    expect(page.get_by_test_id("preview-total")).to_have_text("2")
    screenshot("triage-ownership")
    page.get_by_test_id("apply-ownership").click()
    expect(page.get_by_role("status")).to_contain_text("2 open findings changed team")
    assert OwnershipRule.objects.count() == 1
    assert Finding.objects.filter(team=team).count() == 2


@pytest.mark.parametrize("who", ["engineer", "manager"])
def test_what_other_roles_see(login, screenshot, page, live_server, request, who, monday, team):
    user = request.getfixturevalue(who)
    Finding.objects.filter(repo="acme/payments-api").update(team=team)
    login(user)
    page.goto(f"{live_server.url}/findings/")
    if who == "engineer":
        expect(rows(page)).to_have_count(2)  # only the Payments team's findings
        expect(page.get_by_role("button", name="Propose dismissal")).to_be_visible()
        expect(page.get_by_role("button", name="Assign", exact=True)).to_have_count(0)
        rows(page).first.get_by_role("checkbox").check()
        page.get_by_test_id("bulk-reason").select_option("false_positive")
        page.get_by_test_id("bulk-comment").fill("example value from the docs")
        page.get_by_role("button", name="Propose dismissal").click()
        expect(page.get_by_test_id("flash")).to_contain_text("waiting for a security lead")
        expect(rows(page).first).to_contain_text("dismissal proposed")
    else:
        expect(rows(page)).to_have_count(6)
        expect(page.get_by_test_id("bulk-bar")).to_have_count(0)
        expect(page.get_by_test_id("export-csv")).to_be_visible()
    screenshot(f"triage-findings-{who}")


def test_an_outsider_sees_nothing(page, live_server, outsider, monday):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", outsider.username)
    page.fill("input[name=password]", "correct-horse-battery-staple-42")
    page.click("button[type=submit]")
    for path in (
        "/findings/",
        "/findings/secrets/",
        "/sources/",
        "/ownership/",
        f"/secrets/{monday['leaked'].pk}/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path


def test_long_unbroken_text_wraps_instead_of_widening_the_page(login, live_server, lead, team):
    from incidents.services import incident_comment, incident_open

    secret = make_secret(secret_type="api-key", preview="abcd…yz", severity="high", team=team)
    make_finding(
        Source.objects.create(slug="odd", name="Odd", kind="scanner"),
        secret,
        rule="x" * 200,
        repo="acme/" + "y" * 290,
    )
    incident = incident_open(secrets=[secret], opened_by=lead)
    incident_comment(incident=incident, by=lead, text="z" * 1000)
    page = login(lead)
    page.set_viewport_size({"width": 1280, "height": 900})
    for path in ("/findings/", f"/incidents/{incident.pk}/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_text("z" * 50).or_(page.get_by_text("x" * 50)).first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, (path, width)


def test_the_main_pages_fit_a_phone_screen(login, live_server, lead, team):
    secret = make_secret(secret_type="api-key", preview="abcd…yz", severity="high", team=team)
    make_finding(Source.objects.create(slug="odd", name="Odd", kind="scanner"), secret)
    page = login(lead)
    page.set_viewport_size({"width": 390, "height": 800})
    pages = ("/", "/findings/", "/incidents/", "/metrics/", "/playbooks/", "/sources/")
    for path in (*pages, "/sources/odd/", "/account/tokens/", "/my-work/"):
        page.goto(f"{live_server.url}{path}")
        # Wide tables scroll inside their frame; nothing else widens the page.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    # The header (wrapped on a phone) and the bulk bar scroll away instead of sticking on top
    # of each other and half the screen.
    page.goto(f"{live_server.url}/findings/")
    for bar in (".topbar", ".bulk-bar"):
        assert page.evaluate(f"getComputedStyle(document.querySelector('{bar}')).position") == (
            "static"
        ), bar
    # Opened, the filters' lists scroll in three rows each (all their rows made the panel
    # 1,700 px tall before the first finding, with a few teams and sources).
    page.get_by_test_id("filter-fields").locator("summary").click()
    heights = page.evaluate(
        "[...document.querySelectorAll('form.filters select[multiple]')].map(s => s.offsetHeight)"
    )
    assert len(heights) == 4 and max(heights) <= 80, heights


def test_an_auditors_finding_page(login, screenshot, page, live_server, lead, source, team):
    """An auditor's (posture) finding has no secret: from the findings list its own page shows
    the resource and the auditor's message; the lead assigns it, resolves it and comments, and
    comes back to the page each time."""
    prowler = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    finding = make_finding(
        prowler,
        category="posture",
        rule="iam_rotate_access_key_90_days",
        title="Ensure access keys are rotated every 90 days or less",
        description="User ci-deploy has not rotated access key 1 in over 90 days.",
        resource="arn:aws:iam::123456789012:user/ci-deploy",
        account="123456789012",
        region="us-east-1",
        repo="",
        path="",
        line=None,
    )
    login(lead)
    page.goto(f"{live_server.url}/findings/")
    page.get_by_test_id("finding-link").filter(has_text="user/ci-deploy").click()
    page.wait_for_url(f"{live_server.url}/findings/{finding.pk}/")
    expect(page.get_by_test_id("finding-heading")).to_have_text(
        "Ensure access keys are rotated every 90 days or less"
    )
    expect(page.get_by_test_id("finding-resource")).to_have_text(
        "arn:aws:iam::123456789012:user/ci-deploy"
    )
    expect(page.get_by_test_id("finding-description")).to_contain_text("has not rotated")

    page.get_by_test_id("finding-assignee-select").select_option(label="Lena Lead")
    page.get_by_test_id("finding-assign-submit").click()
    page.wait_for_url(f"{live_server.url}/findings/{finding.pk}/")
    expect(page.get_by_test_id("finding-assignee")).to_have_text("Lena Lead")
    page.get_by_test_id("finding-status-select").select_option("resolved")
    page.get_by_test_id("finding-status-submit").click()
    expect(page.get_by_role("status")).to_contain_text("1 finding updated")

    page.get_by_test_id("comment-body").fill("Rotated on Friday; the old key is deleted.")
    page.get_by_test_id("comment-submit").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Rotated on Friday; the old key is deleted.")
    expect(timeline.locator("li").last).to_contain_text("First reported by Prowler")
    screenshot("finding-page-posture")
    finding.refresh_from_db()
    assert (finding.status, finding.assignee_id) == ("resolved", lead.pk)


def test_paging_forward_and_back(login, live_server, lead, source, team):
    """Next page and Previous page swap the results in place and keep the URL (Back, a shared
    link) in step; the filter stays."""
    now = timezone.now()
    for i in range(120):
        make_finding(
            source, severity="low", path=f"f{i:03}.py", first_seen_at=now - timedelta(minutes=i)
        )
    page = login(lead)
    page.goto(f"{live_server.url}/findings/?severity=low")
    expect(page.get_by_test_id("prev-page")).to_have_count(0)
    expect(rows(page).first).to_contain_text("f000.py")
    page.get_by_test_id("next-page").click()
    expect(rows(page).first).to_contain_text("f050.py")
    page.get_by_test_id("next-page").click()
    expect(rows(page).first).to_contain_text("f100.py")
    expect(rows(page)).to_have_count(20)
    expect(page.get_by_test_id("next-page")).to_have_count(0)
    page.get_by_test_id("prev-page").click()
    expect(rows(page).first).to_contain_text("f050.py")
    expect(rows(page)).to_have_count(50)
    assert "severity=low" in page.url and "cursor=" in page.url
    page.get_by_test_id("prev-page").click()
    expect(rows(page).first).to_contain_text("f000.py")
    expect(page.get_by_test_id("prev-page")).to_have_count(0)
    page.reload()
    expect(rows(page).first).to_contain_text("f000.py")


def test_back_after_a_filter_shows_the_whole_page(login, live_server, lead, monday):
    """The filtered list came as a fragment at the page's own URL: Back must not show that
    fragment alone (the responses vary on HX-Request)."""
    page = login(lead)
    page.goto(f"{live_server.url}/findings/")
    page.get_by_test_id("filter-severity").select_option(["critical"])
    page.get_by_test_id("apply-filters").click()
    expect(rows(page)).to_have_count(2)
    page.get_by_test_id("finding-link").first.click()
    expect(page).to_have_url(re.compile(r"/findings/\d+/$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"severity=critical"))
    expect(page.get_by_test_id("apply-filters")).to_be_visible()
    expect(rows(page)).to_have_count(2)
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"


def test_the_first_tab_offers_to_skip_the_header(login, live_server, lead):
    page = login(lead)
    page.goto(f"{live_server.url}/findings/")
    page.keyboard.press("Tab")
    skip = page.get_by_test_id("skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_back_between_two_filters_shows_the_first_filter_in_the_form(
    login, live_server, lead, monday
):
    """htmx's copy of the page has the form as first rendered: Apply after Back must not drop
    the filter the results show."""
    page = login(lead)
    page.goto(f"{live_server.url}/findings/")
    page.get_by_test_id("filter-severity").select_option(["critical"])
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=critical"))
    page.get_by_test_id("filter-severity").select_option(["high"])
    page.get_by_test_id("filter-sort").select_option("oldest")
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=high.*sort=oldest"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"severity=critical"))
    expect(rows(page)).to_have_count(2)
    selected = page.get_by_test_id("filter-severity").evaluate(
        "s => Array.from(s.selectedOptions).map(o => o.value)"
    )
    assert selected == ["critical"]
    assert page.get_by_test_id("filter-sort").input_value() == "newest"
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=critical"))
    expect(rows(page)).to_have_count(2)


UNCOVERED = (
    "el => { const r = el.getBoundingClientRect(); "
    "const hit = document.elementFromPoint(r.left + 20, r.top + Math.min(r.height, 20) / 2); "
    "return r.top >= 0 && r.bottom <= innerHeight && !!hit && el.contains(hit); }"
)
FOCUS_IN_RESULTS = (
    "() => document.getElementById('results').contains(document.activeElement) "
    "&& document.activeElement !== document.body"
)


@pytest.mark.parametrize("grouped", [False, True], ids=["findings", "secrets"])
def test_a_new_page_starts_at_its_top_with_the_focus_in_the_results(
    login, live_server, lead, source, team, grouped
):
    """Next page, clicked at the bottom of a long page, shows the new page from its first row
    (not hidden under the sticky header and bulk bar), and the keyboard carries on in the list."""
    for i in range(60):
        make_finding(source, make_secret(severity="low"), severity="low", path=f"p{i:03}.py")
    page = login(lead)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/findings/{'secrets/' if grouped else ''}?severity=low")
    row = page.get_by_test_id("group-row" if grouped else "finding-row")
    expect(row).to_have_count(50)
    first_link = row.first.locator("a").first
    first_on_page_one = first_link.get_attribute("href")  # its secret's page

    page.get_by_test_id("next-page").click()  # scrolls to it: the bottom of the page
    expect(row).to_have_count(10)
    assert first_link.get_attribute("href") != first_on_page_one
    page.wait_for_function(FOCUS_IN_RESULTS)
    assert row.first.evaluate(UNCOVERED)
    expect(page.get_by_test_id("result-count")).to_be_focused()
    # The next Tab goes on into the results, not back to the top of the page.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_IN_RESULTS)

    # The same with the keyboard, back to the first page.
    page.get_by_test_id("prev-page").focus()
    page.keyboard.press("Enter")
    expect(row).to_have_count(50)
    expect(first_link).to_have_attribute("href", first_on_page_one)
    page.wait_for_function(FOCUS_IN_RESULTS)
    assert row.first.evaluate(UNCOVERED)


def test_the_multi_select_filters_say_how_and_show_their_choices(login, live_server, lead):
    page = login(lead)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/findings/")
    hint = page.get_by_test_id("multi-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Ctrl-click")
    for name in ("status", "severity", "type", "validity"):
        box = page.get_by_test_id(f"filter-{name}")
        expect(box).to_have_attribute("aria-describedby", "multi-hint")
        if name != "type":  # every choice in view, no scrolling inside the box
            assert box.evaluate("s => s.scrollHeight <= s.clientHeight + 1"), name
    expect(page.get_by_test_id("filter-severity").get_by_text("Info")).to_be_in_viewport()
    assert page.get_by_test_id("filter-type").evaluate("s => s.size") >= 8
    # Several values go into the address as before (links and the API read them).
    page.get_by_test_id("filter-severity").select_option(["critical", "info"])
    page.get_by_test_id("apply-filters").click()
    expect(page).to_have_url(re.compile(r"severity=critical&severity=info"))


def test_table_cells_split_only_long_tokens(login, live_server, lead, other_team):
    """Team names, sources and dates keep their words whole (they split as "Platfor|m" and
    "2026-11-|29"); a long rule, path or preview still wraps in its cell."""
    upload = Source.objects.create(slug="upload-lead", name="upload lead", kind="scanner")
    for i in range(3):
        make_finding(
            upload,
            make_secret(preview=f"sk_live_{'q' * 40}{i}", team=other_team),
            team=other_team,
            rule="storage_account_key_access_keys_disabled_" + "k" * 60,
            repo="https://github.com/acme/" + "infrastructure-terraform-modules" * 3,
            path="modules/ci/" + "very_long_directory_name_" * 6 + "main.tf",
        )
    page = login(lead)
    # The words (of these texts) that a cell of the rows shows on more than one line.
    split = (
        "([testid, words]) => { const out = []; "
        "document.querySelectorAll(`[data-testid=${testid}] td`).forEach(td => { "
        "const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT); let n; "
        "while ((n = walk.nextNode())) { for (const word of words) { "
        "const i = n.data.indexOf(word); if (i < 0) continue; "
        "const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + word.length); "
        "const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top))); "
        "if (lines.size > 1) out.push(word); } } }); return out; }"
    )
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for path, testid in (("/findings/", "finding-row"), ("/findings/secrets/", "group-row")):
            page.goto(f"{live_server.url}{path}")
            row = page.get_by_test_id(testid).first
            expect(row).to_be_visible()
            day = row.locator("td.muted").first.inner_text().split()[0]  # 2026-11-29
            words = ["Platform", "upload", "lead", day]
            assert page.evaluate(split, [testid, words]) == [], (path, width)
            # The long tokens wrap in their cells: the page never widens, and on a desktop
            # screen the table fits without scrolling sideways.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
            if width == 1280:
                frame = page.locator(".table-wrap").first
                assert frame.evaluate("w => w.scrollWidth <= w.clientWidth + 1"), path
