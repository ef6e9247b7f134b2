"""A proposed dismissal is confirmed or rejected on the finding's own page (the lead comes to it
from the dashboard's "dismissals waiting for a lead"), as in the findings list's bulk bar: by a
lead, never by the person who proposed it, and never over a change made after the page loaded."""

import html
import re

import pytest

from hygiene.models import Finding
from hygiene.services import triage
from incidents.models import TimelineEvent
from tests.hygiene.test_filters import make_finding, make_secret

CONFIRM = 'data-testid="finding-confirm-submit"'
REJECT = 'data-testid="finding-reject-submit"'


@pytest.fixture
def proposed(db, source, team, engineer):
    """An engineer's proposal: "False positive: looks fake"."""
    finding = make_finding(source, make_secret(validity="unknown"), team=team)
    triage.findings_propose_dismissal(
        findings_qs=Finding.objects.filter(pk=finding.pk),
        by=engineer,
        reason="false_positive",
        comment="looks fake",
    )
    return finding


def page(client, finding) -> str:
    return html.unescape(client.get(f"/findings/{finding.pk}/").content.decode())


def as_of(body: str) -> str:
    return re.search(r'name="as_of" value="([^"]+)"', body).group(1)


def act(client, finding, action: str, body: str, **extra):
    data = {"ids": finding.pk, "return_to": "finding", "action": action, "as_of": as_of(body)}
    return client.post("/findings/bulk/", {**data, **extra}, follow=True)


def test_a_lead_confirms_the_proposal_on_the_finding_page(client, lead, proposed):
    client.force_login(lead)
    body = page(client, proposed)
    assert "Dismissal proposed" in body and "looks fake" in body
    assert CONFIRM in body and REJECT in body
    response = act(client, proposed, "confirm", body)
    assert response.redirect_chain == [(f"/findings/{proposed.pk}/", 302)]
    proposed.refresh_from_db()
    assert (proposed.status, proposed.resolution, proposed.resolved_by) == (
        "dismissed",
        "false_positive",
        lead,
    )
    after = html.unescape(response.content.decode())
    assert "1 finding dismissed." in after
    # The page shows the new state: dismissed (undoable), nothing left to confirm.
    assert "Dismissal proposed" not in after and CONFIRM not in after and REJECT not in after
    assert 'data-testid="finding-undo-submit"' in after
    assert "Confirmed the proposed dismissal" in after  # the timeline


def test_a_lead_rejects_the_proposal_with_a_comment(client, lead, proposed):
    client.force_login(lead)
    body = page(client, proposed)
    assert REJECT in body and 'data-testid="finding-reject-comment"' in body
    response = act(client, proposed, "reject", body, comment="a live key")
    proposed.refresh_from_db()
    assert (proposed.status, proposed.proposed_resolution) == ("open", "")
    after = html.unescape(response.content.decode())
    assert "1 finding kept open." in after
    assert "Dismissal proposed" not in after and CONFIRM not in after
    assert "Rejected the proposed dismissal: a live key" in after
    # The comment is optional.
    triage.findings_propose_dismissal(
        findings_qs=Finding.objects.filter(pk=proposed.pk),
        by=proposed.team.members.get(),
        reason="used_in_tests",
        comment="fixture",
    )
    again = act(client, proposed, "reject", page(client, proposed))
    assert "1 finding kept open." in again.content.decode()
    assert (
        TimelineEvent.objects.filter(finding=proposed, kind="finding.dismissal_rejected").count()
        == 2
    )


def test_only_a_lead_is_offered_confirm_and_reject(client, lead, engineer, manager, proposed):
    client.force_login(lead)
    body = page(client, proposed)
    assert CONFIRM in body and REJECT in body
    for user in (engineer, manager):
        client.force_login(user)
        body = page(client, proposed)
        assert "Dismissal proposed" in body and "looks fake" in body
        assert CONFIRM not in body and REJECT not in body
        denied = client.post(
            "/findings/bulk/", {"ids": proposed.pk, "return_to": "finding", "action": "confirm"}
        )
        assert denied.status_code == 403
    proposed.refresh_from_db()
    assert proposed.status == "open" and proposed.proposed_resolution == "false_positive"


def test_a_lead_cant_confirm_their_own_proposal(client, lead, second_lead, source, team):
    """A valid secret's dismissal takes two leads: the first lead's dismissal is a proposal,
    which the page says a different lead must confirm, and refuses to confirm if asked."""
    finding = make_finding(source, make_secret(validity="valid"), team=team)
    triage.findings_dismiss(
        findings_qs=Finding.objects.filter(pk=finding.pk),
        by=lead,
        reason="revoked",
        comment="revoked in the console",
    )
    client.force_login(lead)
    body = page(client, finding)
    assert "a different security lead must confirm it" in body
    assert CONFIRM not in body and REJECT in body
    refused = act(client, finding, "confirm", body)
    assert refused.status_code == 400
    assert "a different security lead must confirm" in html.unescape(refused.content.decode())
    finding.refresh_from_db()
    assert (finding.status, finding.proposed_by) == ("open", lead)

    client.force_login(second_lead)
    other = page(client, finding)
    assert CONFIRM in other and "a different security lead must confirm it" not in other
    assert "1 finding dismissed." in act(client, finding, "confirm", other).content.decode()
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "revoked")


def test_confirming_from_a_page_loaded_before_a_rejection_says_why_nothing_happened(
    client, lead, second_lead, proposed
):
    client.force_login(lead)
    body = page(client, proposed)
    assert CONFIRM in body
    triage.findings_reject_dismissal(
        findings_qs=Finding.objects.filter(pk=proposed.pk), by=second_lead, comment="real"
    )
    response = act(client, proposed, "confirm", body)
    proposed.refresh_from_db()
    assert (proposed.status, proposed.proposed_resolution) == ("open", "")
    after = html.unescape(response.content.decode())
    assert f"#{proposed.pk} was kept open (proposed dismissal rejected) by Sam Second at " in after
    assert "0 findings dismissed" not in after and CONFIRM not in after
