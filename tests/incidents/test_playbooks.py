from datetime import timedelta

import pytest

from incidents.defaults import DEFAULT_PLAYBOOKS, ensure_default_playbooks, playbook_for
from incidents.models import Incident, Playbook, PlaybookStep
from incidents.services import IncidentError, incident_open, playbook_save_version
from tests.incidents.conftest import make_secret

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)


def test_it_ships_one_current_playbook_per_family():
    slugs = set(Playbook.objects.filter(is_current=True).values_list("slug", flat=True))
    assert slugs == {p["slug"] for p in DEFAULT_PLAYBOOKS}
    assert {
        "aws-access-key",
        "github-token",
        "azure-storage",
        "private-key",
        "database-credential",
        "chat-webhook",
        "generic-secret",
    } == slugs


def test_ensure_default_playbooks_is_idempotent_and_never_overwrites_edits():
    aws = Playbook.objects.get(slug="aws-access-key")
    aws.name = "AWS (our edit)"
    aws.save()
    assert ensure_default_playbooks() == 0
    assert Playbook.objects.filter(slug="aws-access-key").count() == 1
    assert Playbook.objects.get(slug="aws-access-key").name == "AWS (our edit)"
    Playbook.objects.filter(slug="chat-webhook").delete()
    assert ensure_default_playbooks() == 1
    assert Playbook.objects.filter(slug="chat-webhook", is_current=True).exists()


@pytest.mark.parametrize(
    ("action", "critical", "high", "medium", "low"),
    [
        ("revoke", 1 * H, 4 * H, 24 * H, 7 * D),
        ("rotate", 4 * H, 24 * H, 7 * D, 30 * D),
        ("notify", 24 * H, 72 * H, 14 * D, 30 * D),
    ],
)
def test_default_deadlines_follow_the_table(action, critical, high, medium, low):
    # The first step of each action in each playbook (later ones, like deleting the old AWS
    # key after the rotation, may be due later).
    steps = {}
    for step in PlaybookStep.objects.filter(playbook__is_current=True, action=action).order_by(
        "-position"
    ):
        steps[step.playbook_id] = step
    assert len(steps) == Playbook.objects.filter(is_current=True).count()
    for step in steps.values():
        assert (
            step.deadline_critical,
            step.deadline_high,
            step.deadline_medium,
            step.deadline_low,
        ) == (critical, high, medium, low), step


def test_every_playbook_reviews_logs_and_notifies_and_has_sane_dependencies():
    for playbook in Playbook.objects.filter(is_current=True):
        steps = list(playbook.steps.all())
        positions = {s.position for s in steps}
        text = " ".join(s.title + s.instructions for s in steps).lower()
        assert "exposure window" in text, playbook
        assert any(s.action == "notify" and "affected parties" in s.title for s in steps)
        for s in steps:
            assert set(s.depends_on) <= positions - {s.position}
            for key in ("critical", "high", "medium", "low"):
                assert getattr(s, f"deadline_{key}") > timedelta(0)


def test_family_specific_instructions():
    aws = " ".join(s.instructions for s in playbook_for("aws-access-key").steps.all())
    assert "update-access-key" in aws and "CloudTrail" in aws and "delete-access-key" in aws
    azure = playbook_for("azure-sas")
    assert azure.steps.get(position=1).action == "revoke"
    assert "only way to revoke an account SAS" in azure.steps.get(position=1).title
    azure_text = " ".join(s.instructions for s in azure.steps.all())
    assert "stored access policy" in azure_text and "sas-expiration-period" in azure_text
    key = " ".join(s.title + s.instructions for s in playbook_for("private-key").steps.all())
    assert "crash dumps" in key and "issuer" in key and "scope" in key
    # Deleting the old AWS key waits for the new one to be rolled out.
    delete = playbook_for("aws-access-key").steps.get(title__startswith="Delete the old key")
    assert delete.action == "revoke" and delete.depends_on == [2]
    assert delete.deadline_critical == timedelta(hours=4)


@pytest.mark.parametrize(
    ("secret_type", "slug"),
    [
        ("aws-access-key", "aws-access-key"),
        ("aws-secret-key", "aws-access-key"),
        ("github-token", "github-token"),
        ("azure-sas", "azure-storage"),
        ("azure-storage-key", "azure-storage"),
        ("private-key", "private-key"),
        ("database-credential", "database-credential"),
        ("slack-token", "chat-webhook"),
        ("stripe-key", "generic-secret"),
        ("generic-secret", "generic-secret"),
    ],
)
def test_playbook_for_picks_the_family_or_the_generic_fallback(secret_type, slug):
    assert playbook_for(secret_type).slug == slug


def _steps_payload(playbook):
    return [
        {
            "position": s.position,
            "action": s.action,
            "title": s.title,
            "instructions": s.instructions,
            "required": s.required,
            "depends_on": s.depends_on,
            "default_role": s.default_role,
            "deadline_critical": s.deadline_critical,
            "deadline_high": s.deadline_high,
            "deadline_medium": s.deadline_medium,
            "deadline_low": s.deadline_low,
        }
        for s in playbook.steps.all()
    ]


def test_editing_saves_a_new_version_and_old_incidents_keep_theirs(lead, team):
    v1 = playbook_for("aws-access-key")
    old = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    steps = _steps_payload(v1)
    steps[0]["deadline_critical"] = timedelta(minutes=30)
    steps[0]["title"] = "Deactivate the key (faster)"
    steps.append({**steps[-1], "position": 99, "title": "Tell finance", "action": "custom"})
    v2 = playbook_save_version(
        playbook=v1, by=lead, name=v1.name, description="edited", steps=steps
    )
    v1.refresh_from_db()
    assert (v2.version, v2.is_current, v1.is_current) == (2, True, False)
    assert v2.steps.count() == v1.steps.count() + 1
    assert playbook_for("aws-access-key") == v2
    # The old incident still has v1's steps and deadlines.
    old = Incident.objects.get(pk=old.pk)
    assert old.playbook == v1
    first = old.steps.get(position=1)
    assert first.title == "Deactivate the leaked access key"
    assert first.due_at - first.started_at == timedelta(hours=1)
    assert not old.steps.filter(position=99).exists()
    new = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    assert new.playbook == v2
    first = new.steps.get(position=1)
    assert first.due_at - first.started_at == timedelta(minutes=30)
    assert new.steps.filter(position=99, title="Tell finance").exists()


def test_editing_a_stale_version_or_with_bad_steps_is_refused(lead):
    v1 = playbook_for("github-token")
    steps = _steps_payload(v1)
    playbook_save_version(playbook=v1, by=lead, name="GitHub", description="", steps=steps)
    with pytest.raises(IncidentError, match="newer version"):
        playbook_save_version(playbook=v1, by=lead, name="GitHub", description="", steps=steps)
    current = playbook_for("github-token")
    bad = _steps_payload(current)
    bad[0]["depends_on"] = [42]
    with pytest.raises(IncidentError, match="unknown step 42"):
        playbook_save_version(playbook=current, by=lead, name="GitHub", description="", steps=bad)
    with pytest.raises(IncidentError, match="at least one step"):
        playbook_save_version(playbook=current, by=lead, name="GitHub", description="", steps=[])


def test_a_step_for_managers_is_refused(lead):
    # Managers change nothing: whoever saves a playbook, a step must be a lead's or an engineer's.
    current = playbook_for("github-token")
    steps = _steps_payload(current)
    steps[1]["default_role"] = "manager"
    with pytest.raises(IncidentError, match=r"Step 2: Managers review metrics and can't act"):
        playbook_save_version(playbook=current, by=lead, name="GitHub", description="", steps=steps)
    assert playbook_for("github-token") == current  # nothing saved


def test_steps_waiting_on_each_other_or_absurd_deadlines_are_refused(lead):
    current = playbook_for("github-token")
    save = lambda steps: playbook_save_version(  # noqa: E731
        playbook=current, by=lead, name="GitHub", description="", steps=steps
    )
    circle = _steps_payload(current)
    circle[0]["depends_on"] = [circle[2]["position"]]
    circle[2]["depends_on"] = [circle[1]["position"]]
    circle[1]["depends_on"] = [circle[0]["position"]]
    with pytest.raises(IncidentError, match=r"in a circle \(1 → 3 → 2 → 1\)"):
        save(circle)
    itself = _steps_payload(current)
    itself[1]["depends_on"] = [itself[1]["position"]]
    with pytest.raises(IncidentError, match="can't depend on itself"):
        save(itself)
    forever = _steps_payload(current)
    forever[0]["deadline_critical"] = timedelta(days=999_999_999)
    with pytest.raises(IncidentError, match="between 1 second and 3660 days"):
        save(forever)
    assert playbook_for("github-token") == current  # nothing saved


def test_an_incident_opens_even_if_a_stored_deadline_is_absurd(lead, team):
    # Saved before the bound was checked: the incident opens, due 3660 days out (a year-9999
    # date would be an OverflowError and fail the import that opens it).
    step = playbook_for("aws-access-key").steps.get(position=1)
    step.deadline_critical = timedelta(days=999_999_999)
    step.save()
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead, severity="critical")
    first = incident.steps.get(position=1)
    assert first.due_at - incident.opened_at == timedelta(days=3660)


@pytest.mark.parametrize("who", ["engineer", "manager", "outsider"])
def test_only_leads_edit_playbooks(request, who):
    from django.core.exceptions import PermissionDenied

    user = request.getfixturevalue(who)
    v1 = playbook_for("github-token")
    with pytest.raises(PermissionDenied):
        playbook_save_version(
            playbook=v1, by=user, name="x", description="", steps=_steps_payload(v1)
        )


def test_a_save_that_changes_nothing_makes_no_new_version(lead):
    """Saving the editor without an edit said nothing and made an identical version; it is
    refused, saying so, and any real change (a step's title) still makes one."""
    v1 = playbook_for("github-token")
    same = _steps_payload(v1)
    with pytest.raises(IncidentError, match=f"Nothing changed.*version {v1.version}"):
        playbook_save_version(
            playbook=v1, by=lead, name=v1.name, description=v1.description, steps=same
        )
    assert Playbook.objects.filter(slug=v1.slug).count() == 1
    same[0]["title"] += " (now)"
    v2 = playbook_save_version(
        playbook=v1, by=lead, name=v1.name, description=v1.description, steps=same
    )
    assert v2.version == v1.version + 1
