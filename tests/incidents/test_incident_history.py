"""What the incident page keeps of its history: a long timeline says what it leaves out and
pages back to the opening, a completion's evidence outlives a reopening, and every skip says
who skipped the step (the close's own skips included)."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Step, TimelineEvent
from incidents.services import incident_close, incident_open, step_complete, step_reopen
from tests.incidents.conftest import T0, make_secret
from tests.incidents.test_views import HTMX, step, url

pytestmark = pytest.mark.django_db


def timeline(page: str) -> str:
    return page.split('data-testid="timeline">')[1].split("</ol>")[0]


def test_a_long_timeline_says_what_it_leaves_out_and_pages_back_to_the_opening(
    client, lead, aws_incident
):
    kept = aws_incident.timeline.count()  # the opening's entries
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=aws_incident,
            kind="comment",
            message=f"note {n}",
            actor=lead,
            created_at=T0 + timedelta(days=400, minutes=n),
        )
        for n in range(208 - kept)
    )
    client.force_login(lead)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url("incident_detail", aws_incident)).content.decode()
    # One bounded read of the entries (a page and one more, to know there are older ones).
    reads = [q["sql"] for q in queries if 'FROM "incidents_timelineevent"' in q["sql"]]
    assert [sql for sql in reads if "LIMIT" not in sql and "COUNT(" not in sql] == []
    assert "Showing the latest 200 of 208 entries." in page
    assert timeline(page).count("<li") == 200
    assert "Incident opened" not in timeline(page)
    older = re.search(r'href="([^"]+)" data-testid="timeline-older">Older entries', page)
    assert older
    page = client.get(older.group(1).replace("&amp;", "&")).content.decode()
    assert "Showing entries 201–208 of 208, newest first." in page  # noqa: RUF001
    assert timeline(page).count("<li") == 8
    assert "Incident opened by Lena Lead" in timeline(page)
    assert f">note {7 - kept} —" in timeline(page) and f">note {8 - kept} —" not in timeline(page)
    assert 'data-testid="timeline-older"' not in page  # nothing older
    # A short timeline says nothing of pages; a parameter naming no entry of it shows the newest.
    other = incident_open(secrets=[make_secret(team=aws_incident.team)], opened_by=lead)
    for value in ("x", "999999999", str(TimelineEvent.objects.filter(incident=other).first().pk)):
        page = client.get(url("incident_detail", aws_incident), {"timeline_before": value})
        assert "Showing the latest 200 of 208 entries." in page.content.decode()
    assert (
        'data-testid="timeline-window"'
        not in client.get(url("incident_detail", other)).content.decode()
    )


def test_a_reopened_steps_evidence_stays_in_the_timeline(client, engineer, aws_incident):
    client.force_login(engineer)
    s1 = step(aws_incident, 1)
    evidence = {
        "note": "Deactivated in IAM\nticket SEC-12",
        "url": "https://tickets.example/SEC-12",
    }
    assert client.post(url("step_complete", aws_incident, s1), evidence, **HTMX).status_code == 200
    reopen = {"reason": "the key was re-enabled"}
    assert client.post(url("step_reopen", aws_incident, s1), reopen, **HTMX).status_code == 200
    s1.refresh_from_db()
    assert (s1.evidence_note, s1.evidence_url) == ("", "")  # the step's copy is cleared...
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    entry = re.search(r'<li class="tl-step_completed">(.*?)</li>', timeline(page), re.S).group(1)
    # ...its completion's entry still shows what was done and the link, safely.
    assert "Deactivated in IAM<br>ticket SEC-12" in entry
    assert (
        '<a href="https://tickets.example/SEC-12" rel="noopener noreferrer nofollow"'
        ' target="_blank" data-testid="timeline-link">https://tickets.example/SEC-12</a>'
    ) in entry


def test_a_timeline_evidence_link_is_shown_only_if_http(client, lead, aws_incident):
    """Links from older data or another writer are not trusted to be http(s)."""
    s1 = step(aws_incident, 1)
    for bad in ("javascript:alert(1)", "data:text/html,<script>x</script>"):
        TimelineEvent.objects.create(
            incident=aws_incident,
            step=s1,
            kind="step_completed",
            message="Step 1 done",
            data={"note": "<b>bold</b>", "url": bad},
        )
    client.force_login(lead)
    tl = timeline(client.get(url("incident_detail", aws_incident)).content.decode())
    assert "javascript:" not in tl and "data:text" not in tl and "timeline-link" not in tl
    assert "&lt;b&gt;bold&lt;/b&gt;" in tl


def test_a_skipped_step_says_who_skipped_it(client, lead, engineer, aws_incident):
    optional = aws_incident.steps.filter(required=False).order_by("position").first()
    assert optional is not None
    client.force_login(engineer)
    skip = {"reason": "no consumers"}
    assert client.post(url("step_skip", aws_incident, optional), skip, **HTMX).status_code == 200
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    shown = re.search(rf'data-testid="evidence-{optional.position}">(.*?)</div>', page, re.S)
    assert re.fullmatch(r"Skipped [\d-]+ [\d:]+ by Erik Engineer: no consumers", shown.group(1))


def test_closing_records_each_optional_step_it_skips(client, lead, aws_incident):
    for s in aws_incident.steps.filter(required=True).order_by("position"):
        step_complete(step=s, by=lead, note="ok")
    left = list(aws_incident.steps.filter(required=False).order_by("position"))
    assert left
    incident_close(incident=aws_incident, by=lead, summary="done")
    for s in left:
        event = TimelineEvent.objects.get(incident=aws_incident, step=s, kind="step_skipped")
        assert event.actor == lead
        assert event.message == f"Step {s.position} “{s.title}” skipped: incident closed"
        assert Step.objects.get(pk=s.pk).skipped_reason == "incident closed"
    client.force_login(lead)
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    for s in left:
        shown = re.search(rf'data-testid="evidence-{s.position}">(.*?)</div>', page, re.S)
        assert shown.group(1).endswith(" by Lena Lead: incident closed")


def test_a_skip_reopened_and_skipped_again_names_the_last_to_skip(
    lead, engineer, aws_incident, client
):
    from incidents.services import step_skip

    optional = aws_incident.steps.filter(required=False).order_by("position").first()
    step_skip(step=optional, by=engineer, reason="first")
    step_reopen(step=optional, by=lead, reason="needed after all")
    step_skip(step=Step.objects.get(pk=optional.pk), by=lead, reason="second")
    client.force_login(engineer)
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    shown = re.search(rf'data-testid="evidence-{optional.position}">(.*?)</div>', page, re.S)
    assert shown.group(1).endswith(" by Lena Lead: second")
