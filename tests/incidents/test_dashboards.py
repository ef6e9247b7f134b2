"""The lead's and the engineer's dashboards: every card links to the list that shows its number,
an engineer's own steps are never hidden behind their teams' unassigned ones, and a page names
an incident its reader can't open without linking to it."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from hygiene.models import Finding
from incidents.models import Step
from incidents.selectors import steps_for_user
from incidents.services import incident_open, step_assign
from tests.incidents.conftest import T0, make_finding, make_secret

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
CARD = re.compile(
    r'<a class="card" href="([^"]+)"><div class="value" data-testid="([^"]+)">([^<]+)</div>'
    r'<div class="label">([^<]+)</div></a>'
)


def at(moment):
    return time_machine.travel(moment, tick=False)


def cards(page: str) -> dict[str, tuple[str, str, str]]:
    """testid -> (link, value, label) of each card on a dashboard."""
    return {
        tid: (html.unescape(href), value, label) for href, tid, value, label in CARD.findall(page)
    }


def listed(client, link: str) -> str:
    """The number of rows the findings or incidents list at ``link`` says it shows."""
    page = client.get(link).content.decode()
    found = re.search(r'data-testid="result-count"[^>]*><strong>([^<]+)</strong>', page)
    if found is None:
        found = re.search(r"Page \d+ of \d+ · (\d+) incidents", page)
    assert found, link
    return found.group(1)


def test_every_lead_card_links_to_a_list_showing_its_number(client, lead, team, source):
    with at(T0):
        late = [incident_open(secrets=[make_secret(team=team)], opened_by=lead) for _ in range(2)]
        owned = incident_open(
            secrets=[make_secret(team=team, severity="low")], opened_by=lead, owner=lead
        )
        for status in ("open", "open", "triaged"):
            make_finding(make_secret(team=team), source, status=status)
    now = T0 + 5 * H  # the critical incidents' revoke (1 h) and rotate (4 h) steps are late
    with at(now):
        client.force_login(lead)
        page = client.get(reverse("dashboard")).content.decode()
        shown = cards(page)
        assert set(shown) == {
            "untriaged",
            "pending-dismissals",
            "overdue-incidents",
            "unowned-incidents",
        }
        assert shown["untriaged"][1:] == ("2", "findings waiting for triage")
        assert shown["overdue-incidents"][1:] == ("2", "incidents with overdue steps")
        # Opened without an owner (as the import policy opens them): no one's work yet.
        assert shown["unowned-incidents"][1:] == ("2", "active incidents nobody owns")
        unowned = page.split('data-testid="unowned-panel"')[1].split("</section>")[0]
        assert unowned.count('data-testid="unowned-row"') == 2
        assert all(i.reference in unowned for i in late) and owned.reference not in unowned
        for link, value, _ in shown.values():
            assert listed(client, link) == value
        # The steps themselves are counted by the panel that lists them, not by the card.
        overdue_steps = [
            s for s in Step.objects.filter(incident__in=late) if s.state(now) == "overdue"
        ]
        assert len(overdue_steps) > 2
        assert f'data-testid="overdue-count">{len(overdue_steps)}<' in page


@pytest.fixture
def busy_engineer(lead, engineer, team, other_team):
    """25 unassigned steps of the engineer's team, all critical and due within 3 days, and 3
    steps of another team's low-severity incident (due in a week or more) assigned to them."""
    with at(T0):
        ours = [incident_open(secrets=[make_secret(team=team)], opened_by=lead) for _ in range(11)]
        theirs = incident_open(
            secrets=[make_secret(team=other_team, severity="low")], opened_by=lead
        )
        for s in Step.objects.filter(incident=theirs).order_by("position")[:3]:
            step_assign(step=s, by=lead, assignee=engineer)
    team_steps = Step.objects.filter(incident__in=ours).order_by("due_at", "pk")
    surplus = list(team_steps.values_list("pk", flat=True)[25:])
    Step.objects.filter(pk__in=surplus).update(skipped_at=T0, skipped_reason="not this test")
    assert Step.objects.filter(incident__in=ours, skipped_at__isnull=True).count() == 25
    return ours, theirs


def test_an_engineer_sees_their_own_steps_first_and_every_overdue_one_counted(
    client, engineer, busy_engineer
):
    _, theirs = busy_engineer
    now = T0 + 4 * 24 * H  # every critical step is late; the low ones are not due yet
    with at(now):
        expected_overdue = sum(s.state(now) == "overdue" for s in steps_for_user(engineer))
        assert expected_overdue == 25
        client.force_login(engineer)
        page = client.get(reverse("dashboard")).content.decode()
    my_steps = page.split("</section>")[0]
    # Counted over all 28 open steps, not over the 20 rows shown.
    assert f'data-testid="overdue-count">{expected_overdue} overdue.<' in my_steps
    assert my_steps.count(theirs.reference) == 3
    rows = re.findall(r'<tr data-testid="step-row">(.*?)</tr>', my_steps)
    assert len(rows) == 20
    # Mine first, each row saying whose it is.
    assert [theirs.reference in row for row in rows[:3]] == [True, True, True]
    assert all('data-testid="step-whose">yours<' in row for row in rows[:3])
    assert all("unassigned" in row and theirs.reference not in row for row in rows[3:])
    assert 'data-testid="step-total">28<' in page
    assert 'data-testid="step-mine">3<' in page
    more = re.search(r'<a href="([^"]+)" data-testid="more-steps">All 28 steps', page)
    assert more and more.group(1) == reverse("my_work")
    with at(now):
        work = client.get(more.group(1)).content.decode()
    assert work.count('data-testid="work-row"') == 28


@pytest.mark.usefixtures("busy_engineer")
def test_an_engineers_active_incidents_link_to_all_of_them(client, engineer):
    with at(T0 + H):
        client.force_login(engineer)
        page = client.get(reverse("dashboard")).content.decode()
        assert page.count('<li><a href="/incidents/') == 10
        # The team's 11 and the other team's one they have steps in: the list shows all 12.
        more = re.search(r'<a href="([^"]+)" data-testid="more-incidents">All 12 active', page)
        assert more
        assert listed(client, html.unescape(more.group(1))) == "12"


def test_a_secret_page_names_an_incident_its_reader_cant_open_without_a_link(
    client, lead, engineer, other_team, source
):
    """An engineer assigned a finding of another team sees its secret, and the secret's
    incident by name, but not a link to a page that would answer 403."""
    secret = make_secret(team=other_team)
    finding = make_finding(secret, source)
    Finding.objects.filter(pk=finding.pk).update(assignee=engineer)
    incident = incident_open(secrets=[secret], opened_by=lead)
    link = f'<a href="{reverse("incident_detail", args=[incident.pk])}">{incident.reference}</a>'

    client.force_login(engineer)
    page = client.get(reverse("secret_detail", args=[secret.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="incident-unlinked"' in text and incident.reference in text
    assert link not in text
    assert client.get(reverse("incident_detail", args=[incident.pk])).status_code == 403

    # Whoever may open it still gets the link.
    client.force_login(lead)
    assert link in client.get(reverse("secret_detail", args=[secret.pk])).content.decode()


def test_the_leads_newest_findings_say_how_long_ago_in_words(client, lead, team, source):
    with at(T0):
        make_finding(make_secret(team=team), source)
    client.force_login(lead)
    with at(T0 + timedelta(seconds=20)):
        page = client.get(reverse("dashboard")).content.decode()
    assert "just now" in page and "0\xa0minutes ago" not in page
    with at(T0 + timedelta(minutes=3)):
        assert "3\xa0minutes ago" in client.get(reverse("dashboard")).content.decode()


def test_a_paused_incidents_overdue_step_is_overdue_everywhere(client, lead, engineer, team):
    """One rule (incidents.selectors.overdue_q, Step.state, the metrics): a step late when its
    incident was paused stays overdue while paused, and a step not yet due at the pause isn't."""
    from hygiene import metrics
    from incidents.services import incident_pause

    with at(T0):
        late = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
        early = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    with at(T0 + H / 2):  # before any of early's steps fell due
        incident_pause(incident=early, by=lead, reason="vendor")
    with at(T0 + 2 * H):  # late's revoke step (1 h) is overdue, its rotate step (4 h) not
        incident_pause(incident=late, by=lead, reason="vendor")
    now = T0 + 5 * H
    overdue = [
        s for s in Step.objects.filter(incident__in=[late, early]) if s.state(now) == "overdue"
    ]
    assert {s.incident_id for s in overdue} == {late.pk} and len(overdue) >= 1
    with at(now):
        assert metrics.sla(metrics.MetricFilters())["overall"]["overdue"] == len(overdue)
        client.force_login(lead)
        page = client.get(reverse("dashboard")).content.decode()
        shown = cards(page)
        assert shown["overdue-incidents"][1] == "1"
        assert listed(client, shown["overdue-incidents"][0]) == "1"
        assert f'data-testid="overdue-count">{len(overdue)}<' in page
        panel = page.split("<h2>Overdue steps")[1].split("</section>")[0]
        assert late.reference in panel and early.reference not in panel
        listing = client.get(reverse("incident_list") + "?overdue=1").content.decode()
        assert late.reference in listing and early.reference not in listing
        client.force_login(engineer)
        mine = client.get(reverse("dashboard")).content.decode()
        assert f'data-testid="overdue-count">{len(overdue)} overdue.<' in mine
