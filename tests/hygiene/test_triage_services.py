import os
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hygiene.models import Finding, SecretReference
from hygiene.services import triage
from hygiene.services.triage import TriageError
from incidents.models import TimelineEvent
from tests.db_locks import someone_waits_for
from tests.hygiene.test_filters import make_finding, make_secret
from tests.sqlite_run import assert_module_passes_on_sqlite

ON_SQLITE = os.environ.get("LEAKLINE_TRIAGE_SQLITE") == "1"


def all_findings():
    return Finding.objects.all()


def events(kind):
    return TimelineEvent.objects.filter(kind=kind)


@pytest.fixture
def findings(db, source, team):
    return [make_finding(source, team=team) for _ in range(5)]


def test_bulk_assign_changes_every_finding_and_records_each(findings, lead, engineer, team):
    result = triage.findings_assign(
        findings_qs=all_findings(), by=lead, assignee=engineer, team=team
    )
    assert result.changed == 5 and result.ids == sorted(f.pk for f in findings)
    assert set(Finding.objects.values_list("assignee_id", flat=True)) == {engineer.pk}
    ev = events("finding.assigned")
    assert ev.count() == 5
    assert {e.secret_id for e in ev} == {f.secret_id for f in findings}
    assert "Erik Engineer" in ev.first().message and ev.first().actor == lead
    assert ev.first().data == {"assignee": engineer.pk, "team": team.pk}


def test_a_bulk_action_is_a_fixed_number_of_statements(db, source, team, lead, engineer):
    """As many statements for 3 findings as for 33; on PostgreSQL one writes everything."""
    captured = []
    for n in (3, 30):
        for _ in range(n):
            make_finding(source, team=team)
        by = User.objects.get(pk=lead.pk)  # no permission cache carried over
        with CaptureQueriesContext(connection) as ctx:
            triage.findings_assign(findings_qs=all_findings(), by=by, assignee=engineer)
        captured.append([q["sql"] for q in ctx.captured_queries])
    assert len(captured[0]) == len(captured[1])
    writes = [sql for sql in captured[1] if "UPDATE " in sql or "INSERT " in sql]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    assert events("finding.assigned").count() == 3 + 33


def test_a_finding_the_filter_matches_twice_is_changed_and_recorded_once(
    findings, lead, team, monkeypatch
):
    triage.findings_set_status(findings_qs=all_findings(), by=lead, status="triaged")
    triage.findings_set_status(findings_qs=all_findings(), by=lead, status="open")
    # Two status events per finding: this filter yields each finding twice.
    twice = Finding.objects.filter(timeline__kind="finding.status")
    assert twice.count() == 10
    monkeypatch.setattr(triage, "BULK_LIMIT", 5)  # five findings, whatever the repeats
    result = triage.findings_assign(findings_qs=twice, by=lead, team=team)
    assert result.changed == 5 and result.ids == sorted(f.pk for f in findings)
    assert events("finding.assigned").count() == 5


def test_assign_needs_a_target(findings, lead):
    with pytest.raises(TriageError):
        triage.findings_assign(findings_qs=all_findings(), by=lead)


def test_unassign_leaves_findings_to_nobody_and_keeps_their_team(findings, lead, engineer, team):
    triage.findings_assign(findings_qs=all_findings(), by=lead, assignee=engineer)
    result = triage.findings_assign(findings_qs=all_findings(), by=lead, unassign=True)
    assert result.changed == 5
    assert set(Finding.objects.values_list("assignee_id", "team_id")) == {(None, team.pk)}
    assert events("finding.assigned").filter(message="Unassigned").count() == 5
    with pytest.raises(TriageError, match="not both"):
        triage.findings_assign(
            findings_qs=all_findings(), by=lead, assignee=engineer, unassign=True
        )


def test_set_status_resolved_and_back(findings, lead):
    triage.findings_set_status(
        findings_qs=all_findings(), by=lead, status="resolved", comment="rotated"
    )
    f = Finding.objects.first()
    assert f.status == "resolved" and f.resolution == "fixed" and f.resolved_by == lead
    triage.findings_set_status(findings_qs=all_findings(), by=lead, status="triaged")
    f.refresh_from_db()
    assert f.status == "triaged" and f.resolution == "" and f.resolved_at is None
    with pytest.raises(TriageError):
        triage.findings_set_status(findings_qs=all_findings(), by=lead, status="dismissed")


@pytest.mark.parametrize(("reason", "comment"), [("", "x"), ("nope", "x"), ("used_in_tests", " ")])
def test_dismissal_needs_a_reason_and_a_comment(findings, lead, reason, comment):
    with pytest.raises(TriageError):
        triage.findings_dismiss(findings_qs=all_findings(), by=lead, reason=reason, comment=comment)
    assert not Finding.objects.filter(status="dismissed").exists()


def test_dismiss_records_who_when_why_and_is_undoable(findings, lead):
    result = triage.findings_dismiss(
        findings_qs=all_findings(), by=lead, reason="used_in_tests", comment="fixture key"
    )
    assert (result.changed, result.pending) == (5, 0)
    f = Finding.objects.first()
    assert (f.status, f.resolution, f.resolution_comment, f.resolved_by) == (
        "dismissed",
        "used_in_tests",
        "fixture key",
        lead,
    )
    assert f.resolved_at is not None
    assert "Dismissed as used in tests: fixture key" in events("finding.dismissed").first().message
    undone = triage.findings_undo_dismissal(findings_qs=all_findings(), by=lead)
    assert undone.changed == 5
    f.refresh_from_db()
    assert (f.status, f.resolution, f.resolved_by) == ("open", "", None)
    assert events("finding.dismissal_undone").count() == 5


def test_a_valid_secret_needs_a_second_lead(db, source, lead, second_lead):
    valid = make_finding(source, secret=make_secret(validity="valid"))
    tool_verified = make_finding(source, validity="valid")
    plain = make_finding(source)
    result = triage.findings_dismiss(
        findings_qs=all_findings(), by=lead, reason="revoked", comment="rotated yesterday"
    )
    assert (result.changed, result.pending) == (1, 2)
    for f in (valid, tool_verified):
        f.refresh_from_db()
        assert f.status == "open"
        assert (f.proposed_resolution, f.proposed_by) == ("revoked", lead)
    plain.refresh_from_db()
    assert plain.status == "dismissed"

    # The same lead can't confirm their own proposal.
    with pytest.raises(TriageError, match="different security lead"):
        triage.findings_confirm_dismissal(findings_qs=all_findings(), by=lead)
    valid.refresh_from_db()
    assert valid.status == "open"

    confirmed = triage.findings_confirm_dismissal(findings_qs=all_findings(), by=second_lead)
    assert confirmed.changed == 2
    valid.refresh_from_db()
    assert (valid.status, valid.resolution, valid.resolution_comment, valid.resolved_by) == (
        "dismissed",
        "revoked",
        "rotated yesterday",
        second_lead,
    )
    assert valid.proposed_resolution == "" and valid.proposed_by is None


@pytest.mark.django_db(transaction=True)
def test_two_leads_undoing_the_same_dismissal_at_once_record_it_once_on_postgresql(source, lead):
    """A first lead's undo (here a bare UPDATE) holds the finding's row lock; the second lead's
    undo waits for it, then finds the finding open already: it changes nothing and writes no
    timeline row."""
    finding = make_finding(source, status="dismissed", resolution="false_positive")
    first = connections.create_connection(DEFAULT_DB_ALIAS)
    first.set_autocommit(False)
    results = []

    def second():
        try:
            results.append(triage.findings_undo_dismissal(findings_qs=all_findings(), by=lead))
        finally:
            connection.close()

    try:
        with first.cursor() as cursor:
            cursor.execute(
                "UPDATE hygiene_finding SET status = 'open', resolution = '' WHERE id = %s",
                [finding.pk],
            )
            thread = threading.Thread(target=second)
            thread.start()
            deadline = time.monotonic() + 30
            # Until the other action waits for this transaction's row lock.
            while not someone_waits_for(cursor):
                assert time.monotonic() < deadline, "the bulk action never reached the lock"
            first.commit()
    finally:
        first.close()
    thread.join(30)
    assert [(r.changed, r.ids) for r in results] == [(0, [])]
    assert not events("finding.dismissal_undone").exists()


def test_engineer_proposes_and_a_lead_confirms(db, source, team, engineer, lead):
    f = make_finding(source, team=team)
    triage.findings_propose_dismissal(
        findings_qs=all_findings(), by=engineer, reason="false_positive", comment="example value"
    )
    f.refresh_from_db()
    assert f.status == "open" and f.proposed_by == engineer
    triage.findings_confirm_dismissal(findings_qs=all_findings(), by=lead)
    f.refresh_from_db()
    assert (f.status, f.resolution, f.resolved_by) == ("dismissed", "false_positive", lead)


def test_engineer_proposal_on_a_valid_secret_takes_two_leads(
    db, source, team, engineer, lead, second_lead
):
    f = make_finding(source, team=team, validity="valid")
    triage.findings_propose_dismissal(
        findings_qs=all_findings(), by=engineer, reason="accepted_risk", comment="sandbox account"
    )
    first = triage.findings_confirm_dismissal(findings_qs=all_findings(), by=lead)
    assert (first.changed, first.pending) == (0, 1)
    f.refresh_from_db()
    assert f.status == "open" and f.proposed_by == lead
    with pytest.raises(TriageError):
        triage.findings_confirm_dismissal(findings_qs=all_findings(), by=lead)
    triage.findings_confirm_dismissal(findings_qs=all_findings(), by=second_lead)
    f.refresh_from_db()
    assert f.status == "dismissed" and f.resolution == "accepted_risk"


def test_a_lead_rejects_a_proposal(db, source, team, engineer, lead):
    f = make_finding(source, team=team)
    triage.findings_propose_dismissal(
        findings_qs=all_findings(), by=engineer, reason="wont_fix", comment="legacy"
    )
    triage.findings_reject_dismissal(findings_qs=all_findings(), by=lead, comment="rotate it")
    f.refresh_from_db()
    assert f.status == "open" and f.proposed_resolution == ""
    assert "rotate it" in events("finding.dismissal_rejected").get().message


def test_engineers_only_touch_their_teams_findings(db, source, team, other_team, engineer):
    mine = make_finding(source, team=team)
    theirs = make_finding(source, team=other_team)
    result = triage.findings_propose_dismissal(
        findings_qs=all_findings(), by=engineer, reason="false_positive", comment="x"
    )
    assert result.ids == [mine.pk]
    theirs.refresh_from_db()
    assert theirs.proposed_resolution == ""


@pytest.mark.parametrize("who", ["engineer", "manager", "outsider"])
@pytest.mark.parametrize(
    "call",
    [
        lambda u, t: triage.findings_assign(findings_qs=all_findings(), by=u, team=t),
        lambda u, t: triage.findings_set_status(findings_qs=all_findings(), by=u, status="triaged"),
        lambda u, t: triage.findings_dismiss(
            findings_qs=all_findings(), by=u, reason="revoked", comment="x"
        ),
        lambda u, t: triage.findings_confirm_dismissal(findings_qs=all_findings(), by=u),
        lambda u, t: triage.findings_undo_dismissal(findings_qs=all_findings(), by=u),
        lambda u, t: triage.findings_open_incident(findings_qs=all_findings(), by=u),
    ],
)
def test_only_leads_triage(findings, request, who, call, team):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        call(user, team)
    assert not TimelineEvent.objects.exists()


@pytest.mark.parametrize("who", ["manager", "outsider"])
def test_managers_and_outsiders_cannot_propose_or_comment(findings, request, who):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        triage.findings_propose_dismissal(
            findings_qs=all_findings(), by=user, reason="revoked", comment="x"
        )
    with pytest.raises(PermissionDenied):
        triage.finding_comment(finding=findings[0], by=user, body="hello")


def test_comments(findings, engineer, other_team, source):
    event = triage.finding_comment(finding=findings[0], by=engineer, body="  on it  ")
    assert (event.kind, event.message, event.secret_id) == (
        "finding.comment",
        "on it",
        findings[0].secret_id,
    )
    hidden = make_finding(source, team=other_team)
    with pytest.raises(PermissionDenied):
        triage.finding_comment(finding=hidden, by=engineer, body="peek")
    with pytest.raises(TriageError):
        triage.finding_comment(finding=findings[0], by=engineer, body="x" * 2001)


def test_bulk_is_bounded(findings, lead, monkeypatch):
    monkeypatch.setattr(triage, "BULK_LIMIT", 3)
    with pytest.raises(TriageError, match="more than 3 findings; narrow the filter"):
        triage.findings_assign(findings_qs=all_findings(), by=lead, assignee=lead)
    assert not Finding.objects.filter(assignee=lead).exists()
    assert not TimelineEvent.objects.exists()


def test_the_bound_counts_the_findings_the_action_applies_to(findings, lead, monkeypatch):
    """Five selected, three of them dismissed: undoing touches three, within a bound of 3."""
    Finding.objects.filter(pk__in=[f.pk for f in findings[:3]]).update(status="dismissed")
    monkeypatch.setattr(triage, "BULK_LIMIT", 3)
    result = triage.findings_undo_dismissal(findings_qs=all_findings(), by=lead)
    assert result.ids == sorted(f.pk for f in findings[:3])
    with pytest.raises(TriageError):
        triage.findings_set_status(findings_qs=all_findings(), by=lead, status="triaged")
    assert not Finding.objects.filter(status="triaged").exists()


def timeline_rows(kind=None):
    rows = TimelineEvent.objects.order_by("id")
    if kind:
        rows = rows.filter(kind=kind)
    return list(
        rows.values_list(
            "finding_id", "secret_id", "kind", "actor_id", "actor_label", "message", "data"
        )
    )


def test_a_mixed_dismissal_records_each_finding_once(db, source, lead):
    """Valid secrets' findings wait for a second lead; the rest (posture findings, which have
    no secret, included) are dismissed. The timeline lists the dismissed ones first, then the
    proposals, each in finding order, all at the moment the findings were changed."""
    plain = make_finding(source)
    valid = make_finding(source, secret=make_secret(validity="valid"))
    posture = make_finding(source, category="posture", secret=None, resource="arn:aws:s3:::b")
    verified = make_finding(source, validity="valid")
    already = make_finding(source, status="dismissed", resolution="false_positive")
    result = triage.findings_dismiss(
        findings_qs=all_findings(), by=lead, reason="accepted_risk", comment="sandbox"
    )
    assert (result.changed, result.pending, result.skipped) == (2, 2, 0)
    assert result.ids == sorted(f.pk for f in (plain, valid, posture, verified))
    why = "the secret was reported valid: a second security lead must confirm"
    dismissed = ("finding.dismissed", lead.pk, "", "Dismissed as accepted risk: sandbox")
    proposed = (
        "finding.dismissal_proposed",
        lead.pk,
        "",
        f"Proposed dismissal as accepted risk: sandbox ({why})",
    )
    assert timeline_rows() == [
        (plain.pk, plain.secret_id, *dismissed, {"reason": "accepted_risk"}),
        (posture.pk, None, *dismissed, {"reason": "accepted_risk"}),
        (valid.pk, valid.secret_id, *proposed, {"reason": "accepted_risk", "two_person": True}),
        (
            verified.pk,
            verified.secret_id,
            *proposed,
            {"reason": "accepted_risk", "two_person": True},
        ),
    ]
    for f in (plain, valid, posture, verified, already):
        f.refresh_from_db()
    assert {e.created_at for e in TimelineEvent.objects.all()} == {plain.updated_at}
    assert (posture.status, posture.resolved_by, posture.resolved_at) == (
        "dismissed",
        lead,
        plain.updated_at,
    )
    assert (valid.status, valid.proposed_resolution, valid.proposed_at) == (
        "open",
        "accepted_risk",
        plain.updated_at,
    )
    assert already.resolution == "false_positive" and already.resolved_by is None


def test_a_lead_confirms_some_and_endorses_valid_ones_in_one_go(
    db, source, team, engineer, lead, second_lead
):
    plain = make_finding(source, team=team)
    valid = make_finding(source, team=team, secret=make_secret(validity="valid"))
    triage.findings_propose_dismissal(
        findings_qs=all_findings(), by=engineer, reason="wont_fix", comment="legacy box"
    )
    # A valid secret's proposal whose author's account is gone still takes two leads.
    orphan = make_finding(
        source, validity="valid", proposed_resolution="revoked", proposed_comment="gone"
    )
    before = TimelineEvent.objects.count()
    result = triage.findings_confirm_dismissal(findings_qs=all_findings(), by=lead)
    assert (result.changed, result.pending, result.skipped) == (1, 2, 0)
    assert result.ids == sorted(f.pk for f in (plain, valid, orphan))
    endorsed = (
        "finding.dismissal_proposed",
        lead.pk,
        "",
        "Endorsed the proposed dismissal; the secret was reported valid, so a second security "
        "lead must confirm",
        {"two_person": True},
    )
    assert timeline_rows()[before:] == [
        (
            plain.pk,
            plain.secret_id,
            "finding.dismissed",
            lead.pk,
            "",
            "Confirmed the proposed dismissal",
            {"confirmed": True},
        ),
        (valid.pk, valid.secret_id, *endorsed),
        (orphan.pk, orphan.secret_id, *endorsed),
    ]
    plain.refresh_from_db()
    assert (plain.status, plain.resolution, plain.resolution_comment, plain.resolved_by) == (
        "dismissed",
        "wont_fix",
        "legacy box",
        lead,
    )
    assert (plain.proposed_resolution, plain.proposed_by) == ("", None)
    for f in (valid, orphan):
        f.refresh_from_db()
        assert (f.status, f.proposed_by) == ("open", lead)
    result = triage.findings_confirm_dismissal(findings_qs=all_findings(), by=second_lead)
    assert (result.changed, result.pending) == (2, 0)
    orphan.refresh_from_db()
    assert (orphan.status, orphan.resolution, orphan.resolution_comment) == (
        "dismissed",
        "revoked",
        "gone",
    )


def test_reference_is_stored_as_a_hash_and_a_redacted_display(db, lead):
    secret = make_secret()
    ref = triage.secret_reference_add(
        secret=secret, by=lead, kind="aws-access-key-id", value="AKIAIOSFODNN7EXAMPLE"
    )
    assert ref.display == "AKIA…MPLE"
    assert "AKIAIOSFODNN7EXAMPLE" not in ref.value_hash and len(ref.value_hash) == 64
    with pytest.raises(TriageError, match="already"):
        triage.secret_reference_add(
            secret=secret, by=lead, kind="aws-access-key-id", value=" AKIAIOSFODNN7EXAMPLE "
        )
    assert SecretReference.objects.count() == 1
    arn = triage.secret_reference_add(
        secret=secret, by=lead, kind="arn", value="arn:aws:iam::123:user/ci"
    )
    assert arn.display == "arn:aws:iam::123:user/ci"
    assert events("secret.reference_added").count() == 2
    with pytest.raises(TriageError):
        triage.secret_reference_add(secret=secret, by=lead, kind="bogus", value="x")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("arn:aws:secretsmanager:us-west-2:123456789012:secret:app-WoDpmU", "arn"),
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("AIDAIOSFODNN7EXAMPLE", "other"),  # a user's id, not a key's
        ("db-prod/readonly", "other"),
    ],
)
def test_an_arn_or_key_id_given_as_other_is_stored_as_what_it_is(db, lead, value, kind):
    """ "Other" matches only events that say "other": an ARN left under the default kind would
    never claim its rotation events."""
    ref = triage.secret_reference_add(secret=make_secret(), by=lead, kind="other", value=value)
    assert ref.kind == kind


def test_open_incident_for_the_selected_secrets(findings, lead):
    incident = triage.findings_open_incident(findings_qs=all_findings(), by=lead)
    assert set(incident.secrets.values_list("pk", flat=True)) == {f.secret_id for f in findings}
    assert set(Finding.objects.values_list("status", flat=True)) == {"triaged"}


def test_open_incident_needs_a_secret(db, source, lead):
    make_finding(source, category="posture", secret=None, resource="arn:x")
    with pytest.raises(TriageError, match="no leaked secret"):
        triage.findings_open_incident(findings_qs=all_findings(), by=lead)


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("aws-access-key-id", "not-a-key", "20 characters"),
        ("aws-account", "12345", "12 digits"),
        ("arn", "secretsmanager/db", "starts with arn:"),
        ("url", "javascript:alert(1)", "https://"),
    ],
)
def test_references_must_look_like_what_they_claim(db, lead, kind, value, problem):
    from hygiene.services.triage import secret_reference_add

    secret = make_secret()
    with pytest.raises(TriageError, match=problem):
        secret_reference_add(secret=secret, by=lead, kind=kind, value=value)
    ref = secret_reference_add(secret=secret, by=lead, kind="arn", value="arn:aws:iam::1:user/ci")
    assert ref.display == "arn:aws:iam::1:user/ci"
    with pytest.raises(TriageError, match="already"):
        secret_reference_add(secret=secret, by=lead, kind="arn", value="arn:aws:iam::1:user/ci")


def test_the_bulk_actions_behave_the_same_on_sqlite(tmp_path):
    """Runs this module's tests against SQLite (``make run``) in a subprocess: the bulk actions
    take another path there. Inside that run this test is deselected (-k), not skipped."""
    if ON_SQLITE:
        raise AssertionError("the SQLite run must deselect this test")
    assert_module_passes_on_sqlite(
        __file__, tmp_path, flag="LEAKLINE_TRIAGE_SQLITE", deselect="on_sqlite or on_postgresql"
    )


def test_a_comment_of_the_longest_allowed_length_is_recorded_whole(findings, lead):
    # 2,000 characters are allowed; the timeline message quotes them after its own words.
    comment = "checked with the owner; " * 83 + "x" * 8
    assert len(comment) == triage.COMMENT_MAX
    triage.findings_dismiss(
        findings_qs=all_findings(), by=lead, reason="used_in_tests", comment=comment
    )
    triage.finding_comment(finding=findings[0], by=lead, body=comment)
    dismissed = events("finding.dismissed").first()
    assert dismissed.message.endswith(comment)
    assert events("finding.comment").get().message == comment
    with pytest.raises(TriageError):
        triage.finding_comment(finding=findings[0], by=lead, body=comment + "!")


# --- actions from an out-of-date page (as_of) ---------------------------------------------


def _page_loaded(findings_qs=None):
    """A page rendered a minute ago, showing findings last changed before that."""
    now = timezone.now()
    (findings_qs or all_findings()).update(updated_at=now - timedelta(minutes=2))
    return now - timedelta(minutes=1)


def test_a_stale_bulk_status_leaves_a_finding_someone_resolved_since(findings, lead, second_lead):
    """Tab B resolves #51; tab A, still showing it open, sets the selection to triaged: #51
    stays resolved, and the message says who resolved it when."""
    as_of = _page_loaded()
    resolved = findings[0]
    triage.findings_set_status(
        findings_qs=Finding.objects.filter(pk=resolved.pk), by=second_lead, status="resolved"
    )
    result = triage.findings_set_status(
        findings_qs=all_findings(), by=lead, status="triaged", as_of=as_of
    )
    resolved.refresh_from_db()
    assert (resolved.status, resolved.resolved_by) == ("resolved", second_lead)
    assert (result.changed, result.stale, result.skipped) == (4, 1, 0)
    assert resolved.pk not in result.ids
    at = timezone.localtime(events("finding.status").get(actor=second_lead).created_at)
    assert result.summary("updated") == (
        f"4 findings updated. #{resolved.pk} was resolved by Sam Second at "
        f"{at:%H:%M} after you loaded this page: left as it is."
    )
    # Without a page (the API, scripts) nothing changes in how actions behave.
    again = triage.findings_set_status(findings_qs=all_findings(), by=lead, status="open")
    assert again.changed == 5 and again.stale == 0


def test_a_stale_finding_page_doesnt_overwrite_a_dismissal(findings, lead, second_lead):
    as_of = _page_loaded()
    one = Finding.objects.filter(pk=findings[0].pk)
    triage.findings_dismiss(
        findings_qs=one, by=second_lead, reason="wont_fix", comment="legacy box, retiring"
    )
    result = triage.findings_set_status(findings_qs=one, by=lead, status="resolved", as_of=as_of)
    f = one.get()
    assert (f.status, f.resolution, f.resolution_comment) == (
        "dismissed",
        "wont_fix",
        "legacy box, retiring",
    )
    assert result.nothing_done and result.stale == 1
    assert result.summary("updated").startswith(
        f"#{f.pk} was dismissed as won't fix by Sam Second at "
    )
    assert "left as it is." in result.summary("updated")
    assert not events("finding.status").exists()


def test_every_bulk_action_leaves_what_changed_after_the_page(
    db, source, team, lead, second_lead, engineer
):
    f = make_finding(source, team=team)
    as_of = _page_loaded()
    triage.findings_assign(findings_qs=all_findings(), by=second_lead, assignee=second_lead)
    actions = [
        lambda **kw: triage.findings_assign(by=lead, assignee=engineer, **kw),
        lambda **kw: triage.findings_set_status(by=lead, status="resolved", **kw),
        lambda **kw: triage.findings_dismiss(by=lead, reason="revoked", comment="x", **kw),
        lambda **kw: triage.findings_propose_dismissal(
            by=engineer, reason="revoked", comment="x", **kw
        ),
    ]
    for action in actions:
        result = action(findings_qs=all_findings(), as_of=as_of)
        assert (result.changed, result.pending, result.stale) == (0, 0, 1)
        assert f"#{f.pk} was assigned to Sam Second by Sam Second" in result.summary("x")
    f.refresh_from_db()
    assert (f.assignee, f.status, f.proposed_resolution) == (second_lead, "open", "")
    assert (
        triage.findings_assign(
            findings_qs=all_findings(), by=lead, assignee=engineer, as_of=timezone.now()
        ).changed
        == 1
    )  # from a page loaded since: done


def test_an_out_of_date_dismissal_says_why_nothing_changed(findings, lead, second_lead):
    """Nothing dismissed: the message says which were closed meanwhile and which already were,
    never a bare "0 findings dismissed." """
    triage.findings_dismiss(
        findings_qs=Finding.objects.filter(pk=findings[0].pk),
        by=lead,
        reason="false_positive",
        comment="docs example",
    )
    as_of = _page_loaded()
    others = Finding.objects.exclude(pk=findings[0].pk)
    triage.findings_dismiss(findings_qs=others, by=second_lead, reason="revoked", comment="gone")
    result = triage.findings_dismiss(
        findings_qs=all_findings(), by=lead, reason="used_in_tests", comment="fixture", as_of=as_of
    )
    assert result.nothing_done and (result.skipped, result.stale) == (1, 4)
    summary = result.summary("dismissed")
    assert summary.startswith("0 findings dismissed; 1 skipped (not open). #")
    assert summary.count("was dismissed as revoked by Sam Second at") == 4
    # Not stale, just not applicable: still said.
    as_of = timezone.now()
    again = triage.findings_undo_dismissal(
        findings_qs=Finding.objects.filter(status="open"), by=lead, as_of=as_of
    )
    assert again.summary("reopened") == "0 findings reopened."  # nothing selected at all
    f = findings[1]
    f.refresh_from_db()
    result = triage.findings_set_status(
        findings_qs=Finding.objects.filter(status="dismissed", pk__in=[f.pk]),
        by=lead,
        status="triaged",
        as_of=as_of,
    )
    assert result.changed == 1


def test_select_all_skips_what_appeared_or_changed_after_the_page(findings, lead, source, team):
    """ "Select all matching" acts on the filter now, minus what the page didn't show: findings
    changed or first reported after it was rendered."""
    as_of = _page_loaded()
    new = make_finding(source, team=team)
    Finding.objects.filter(pk=findings[1].pk).update(severity="critical", updated_at=timezone.now())
    result = triage.findings_set_status(
        findings_qs=all_findings(), by=lead, status="triaged", as_of=as_of
    )
    assert (result.changed, result.stale) == (4, 2)
    assert sorted(result.ids) == sorted(f.pk for f in findings[:1] + findings[2:])
    new.refresh_from_db()
    assert new.status == "open"
    summary = result.summary("updated")
    assert f"#{findings[1].pk} changed after you loaded this page: left as it is." in summary
    assert f"#{new.pk}" in summary


def test_more_stale_findings_than_named_are_counted(db, source, team, lead, monkeypatch):
    for _ in range(4):
        make_finding(source, team=team)
    as_of = timezone.now() - timedelta(minutes=1)  # every finding changed after the page
    monkeypatch.setattr(triage, "STALE_NOTES", 2)
    result = triage.findings_set_status(
        findings_qs=all_findings(), by=lead, status="triaged", as_of=as_of
    )
    assert (result.changed, result.stale, len(result.stale_notes)) == (0, 4, 2)
    assert result.summary("updated").endswith(
        "2 more findings changed after you loaded this page: left as they are (reload to see them)."
    )


@pytest.mark.django_db(transaction=True)
def test_a_decision_committed_while_a_stale_action_waits_is_kept_on_postgresql(source, lead):
    """The other lead's resolve holds the row lock; the stale page's action waits for it, then
    rechecks the row it locked: changed after the page, so it is left as it is."""
    finding = make_finding(source)
    as_of = _page_loaded()
    first = connections.create_connection(DEFAULT_DB_ALIAS)
    first.set_autocommit(False)
    results = []

    def second():
        try:
            results.append(
                triage.findings_set_status(
                    findings_qs=all_findings(), by=lead, status="triaged", as_of=as_of
                )
            )
        finally:
            connection.close()

    try:
        with first.cursor() as cursor:
            cursor.execute(
                "UPDATE hygiene_finding SET status = 'resolved', resolution = 'fixed', "
                "updated_at = now() WHERE id = %s",
                [finding.pk],
            )
            thread = threading.Thread(target=second)
            thread.start()
            deadline = time.monotonic() + 30
            while not someone_waits_for(cursor):
                assert time.monotonic() < deadline, "the bulk action never reached the lock"
            first.commit()
    finally:
        first.close()
    thread.join(30)
    assert [(r.changed, r.ids) for r in results] == [(0, [])]
    finding.refresh_from_db()
    assert finding.status == "resolved"
    assert not events("finding.status").exists()
