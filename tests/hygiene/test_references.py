"""The people and teams that findings, secrets and secret references name are checked by
triggers on PostgreSQL (migration 0013) as foreign keys checked them: a name that doesn't exist
is refused at commit, and so is deleting a user or team still named, while Django's own deletion
(which clears the names first) goes through. Imports leave these columns empty and queue no
check for them."""

import io

import pytest
from django.db import IntegrityError, connection, transaction

from hygiene.models import Finding, Secret, SecretReference
from hygiene.services.imports import import_report
from tests.conftest import make_user
from tests.hygiene import reports

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"
)

AWS_KEY = "AKIAZ4TPQ7XW2LMN8RSD"
MISSING = 987_654_321


@pytest.fixture
def finding(source):
    data = reports.gitleaks([{"secret": AWS_KEY}])
    import_report(source=source, format_key="gitleaks", stream=io.BytesIO(data), via="cli")
    return Finding.objects.select_related("secret").get()


def at_commit():
    """Run the deferred checks now, as COMMIT would."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def assert_deletion_refused(table: str, pk: int) -> None:
    """Deleting the row in plain SQL, without Django clearing the names first, fails at
    commit (and is rolled back)."""
    with pytest.raises(IntegrityError, match="still named"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
        at_commit()


@pytest.mark.parametrize(
    ("model", "column"),
    [
        (Finding, "assignee_id"),
        (Finding, "resolved_by_id"),
        (Finding, "proposed_by_id"),
        (Finding, "team_id"),
        (Secret, "team_id"),
        (SecretReference, "added_by_id"),
    ],
)
def test_a_name_that_does_not_exist_is_refused_at_commit(finding, model, column):
    if model is SecretReference:
        SecretReference.objects.create(
            secret=finding.secret, kind="other", display="x", value_hash="0" * 64
        )
    refused = pytest.raises(IntegrityError, match=f"{column}={MISSING} is not in")
    with refused, transaction.atomic():
        assert model.objects.update(**{column: MISSING})
        at_commit()


def test_a_user_still_named_cannot_be_deleted_behind_djangos_back(finding, team):
    user = make_user("leaving", None)
    Finding.objects.update(assignee=user, resolved_by=user, proposed_by=user, team=team)
    at_commit()  # they exist: accepted
    for column in ("assignee_id", "resolved_by_id", "proposed_by_id"):
        Finding.objects.update(
            **{"assignee_id": None, "resolved_by_id": None, "proposed_by_id": None, column: user.pk}
        )
        at_commit()
        assert_deletion_refused("auth_user", user.pk)
    Finding.objects.update(assignee=None)
    reference = SecretReference.objects.create(
        secret=finding.secret, kind="other", display="x", value_hash="1" * 64, added_by=user
    )
    at_commit()
    assert_deletion_refused("auth_user", user.pk)
    Finding.objects.update(assignee=user, resolved_by=user, proposed_by=user)
    user.delete()  # Django clears the names first
    at_commit()
    reference.refresh_from_db()
    assert reference.added_by_id is None
    finding.refresh_from_db()
    assert (finding.assignee_id, finding.resolved_by_id, finding.proposed_by_id) == (None,) * 3


def test_a_team_still_named_cannot_be_deleted_behind_djangos_back(finding, team):
    for model in (Finding, Secret):
        Finding.objects.update(team=None)
        Secret.objects.update(team=None)
        model.objects.update(team=team)
        at_commit()
        assert_deletion_refused("hygiene_team", team.pk)
    Finding.objects.update(team=team)
    team.delete()
    at_commit()
    assert Finding.objects.get().team_id is None
    assert Secret.objects.get().team_id is None


def test_the_checks_are_deferred_triggers_that_skip_empty_names(db):
    """No foreign keys on these tables: a foreign key queues one check per imported row and
    column at commit, even for NULL; the triggers' WHEN clause queues none for an import's
    empty columns. (The queue can't be read from SQL: this is the property that gives it.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger
               WHERE tgname LIKE '%%\\_exists' AND NOT tgisinternal ORDER BY 1, 2"""
        )
        triggers = cursor.fetchall()
        cursor.execute(
            """SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'
               AND conrelid::regclass::text IN
                   ('hygiene_finding', 'hygiene_secret', 'hygiene_secretreference')"""
        )
        assert cursor.fetchall() == []
    assert len(triggers) == 6
    for _, definition in triggers:
        assert "DEFERRABLE INITIALLY DEFERRED" in definition
        assert "IS NOT NULL" in definition
