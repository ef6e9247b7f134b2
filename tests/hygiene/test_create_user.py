"""`manage.py create_user`: a person in a role and their teams, with a password that is asked
for or read from stdin, never taken as an argument."""

import io
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from hygiene import roles
from hygiene.models import Team
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "fake-Tundra-Lantern-42"  # passes the validators; not a real credential


def create(*args, password: str | None = NEW_PASSWORD + "\n", stdin=None) -> str:
    """Runs the command; ``password`` is piped in with --password-stdin, else ``stdin`` is
    what the command reads from."""
    out = io.StringIO()
    if password is not None:
        args = (*args, "--password-stdin")
        stdin = io.StringIO(password)
    options = {"stdin": stdin} if stdin is not None else {}
    call_command("create_user", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "role, group", [("lead", roles.LEAD), ("engineer", roles.ENGINEER), ("manager", roles.MANAGER)]
)
def test_creates_a_user_in_each_role_who_logs_in_with_the_password(client, role, group):
    out = create("newbie", "--role", role, "--email", "newbie@example.com")
    user = User.objects.get(username="newbie")
    assert list(user.groups.values_list("name", flat=True)) == [group]
    assert roles.role_of(user) == role
    assert user.email == "newbie@example.com" and user.is_active and not user.is_staff
    assert f"Created user 'newbie': role {role}" in out
    assert client.login(username="newbie", password=NEW_PASSWORD)
    assert not client.login(username="newbie", password="fake-wrong-password")


def test_an_engineer_joins_teams_by_slug_or_name_and_sees_their_findings(team, other_team):
    Team.objects.create(name="Web", slug="web")
    out = create("newbie", "--role", "engineer", "--team", "payments", "--team", "platform")
    user = User.objects.get(username="newbie")
    assert set(user.teams.values_list("slug", flat=True)) == {"payments", "platform"}
    assert "teams: payments, platform" in out
    create("second", "--role", "engineer", "--team", "WEB")  # a name, in any case
    assert list(User.objects.get(username="second").teams.values_list("slug", flat=True)) == ["web"]


def test_the_role_limits_what_the_user_may_do(client):
    create("eng", "--role", "engineer")
    create("boss", "--role", "manager")
    engineer = User.objects.get(username="eng")
    assert not engineer.has_perm("hygiene.triage_finding")
    assert not engineer.has_perm("incidents.manage_incident")
    client.login(username="eng", password=NEW_PASSWORD)
    assert client.get("/metrics/").status_code == 403
    client.login(username="boss", password=NEW_PASSWORD)
    assert client.get("/metrics/").status_code == 200


def test_an_unknown_role_or_team_is_an_error_and_creates_nobody(team, other_team):
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        create("newbie", "--role", "admin")
    with pytest.raises(CommandError, match=r"unknown team 'paymnets'; known: payments, platform"):
        create("newbie", "--role", "engineer", "--team", "paymnets")
    with pytest.raises(CommandError, match="needs --role"):
        create("newbie")
    assert not User.objects.filter(username="newbie").exists()


def test_with_no_teams_at_all_the_error_says_where_to_make_them():
    with pytest.raises(CommandError, match=r"no teams yet \(create them in /admin/\)"):
        create("newbie", "--role", "engineer", "--team", "payments")


def test_an_existing_user_is_refused_without_update_and_changed_with_it(
    client, engineer, team, other_team
):
    with pytest.raises(CommandError, match="'erik' exists; add --update"):
        create("erik", "--role", "lead")
    assert roles.role_of(User.objects.get(username="erik")) == "engineer"

    # --update: the role is replaced, the teams given replace the teams, the password is kept.
    out = create("erik", "--role", "manager", "--team", "platform", "--update", password=None)
    erik = User.objects.get(username="erik")
    assert list(erik.groups.values_list("name", flat=True)) == [roles.MANAGER]
    assert list(erik.teams.values_list("slug", flat=True)) == ["platform"]
    assert "Updated user 'erik': role manager, teams: platform" in out
    assert client.login(username="erik", password=PASSWORD)

    # Without --role or --team they stay; --password-stdin sets a new password.
    create("erik", "--update", "--email", "erik@new.example.com")
    erik.refresh_from_db()
    assert roles.role_of(erik) == "manager" and erik.email == "erik@new.example.com"
    assert list(erik.teams.values_list("slug", flat=True)) == ["platform"]
    assert client.login(username="erik", password=NEW_PASSWORD)

    with pytest.raises(CommandError, match="no user 'nobody' to update"):
        create("nobody", "--role", "lead", "--update")


def test_the_password_validators_run(team):
    with pytest.raises(CommandError, match=r"password refused: .*too common"):
        create("newbie", "--role", "lead", password="password123\n")
    with pytest.raises(CommandError, match=r"password refused: .*too short"):
        create("newbie", "--role", "lead", password="x7\n")
    with pytest.raises(CommandError, match="no password on stdin"):
        create("newbie", "--role", "lead", password="")
    assert not User.objects.exists()


def test_without_a_terminal_or_password_stdin_it_refuses():
    stdin = io.StringIO()  # not a terminal
    with pytest.raises(CommandError, match="--password-stdin"):
        create("newbie", "--role", "lead", password=None, stdin=stdin)
    assert not User.objects.exists()


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_in_a_terminal_the_password_is_asked_twice(monkeypatch, client):
    answers = iter([NEW_PASSWORD, NEW_PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="the two passwords differ"):
        create("newbie", "--role", "lead", password=None, stdin=_Terminal())
    assert not User.objects.exists()

    answers = iter([NEW_PASSWORD, NEW_PASSWORD])
    create("newbie", "--role", "lead", password=None, stdin=_Terminal())
    assert client.login(username="newbie", password=NEW_PASSWORD)


def test_there_is_no_password_argument():
    with pytest.raises(CommandError, match="no --password option") as error:
        create("newbie", "--role", "lead", "--password", NEW_PASSWORD, password=None)
    assert NEW_PASSWORD not in str(error.value)  # not echoed to the terminal or a log
    assert not User.objects.exists()


def test_from_the_command_line_an_error_is_one_line_and_exit_code_1(capsys, lead, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(NEW_PASSWORD + "\n"))
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(
            ["manage.py", "create_user", "lena", "--role", "lead", "--password-stdin"]
        )
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "CommandError: user 'lena' exists; add --update to change its role, teams or email"
    )
