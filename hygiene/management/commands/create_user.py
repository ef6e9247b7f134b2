"""Create a person with a role (and, for engineers, the teams whose findings they see)."""

import argparse
import getpass
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from hygiene import roles
from hygiene.models import Team

GROUP_OF_ROLE = {slug: group for group, slug in roles.ROLE_SLUGS.items()}


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Creates a user in a role (lead, engineer or manager) and its teams; engineers see "
        "their teams' findings and incidents. The password is asked twice in a terminal, or "
        "read from stdin with --password-stdin. --update changes an existing user's role, "
        "teams or email."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            choices=sorted(GROUP_OF_ROLE),
            help="required for a new user; with --update, replaces the user's role",
        )
        parser.add_argument(
            "--team",
            action="append",
            default=[],
            dest="teams",
            metavar="TEAM",
            help="a team's slug or name (repeat for several); with --update, the teams given "
            "replace the user's teams",
        )
        parser.add_argument("--email", default=None)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin (for scripts)",
        )
        # Taken only to refuse it without echoing the value: a password given as an argument
        # lands in shell history and in ps.
        parser.add_argument("--password", nargs="?", const="", help=argparse.SUPPRESS)
        parser.add_argument(
            "--update",
            action="store_true",
            help="change an existing user (without it, an existing username is an error); "
            "the password is kept unless --password-stdin is given",
        )

    def handle(self, *args, username, role, teams, email, password_stdin, update, **options):
        if options.get("password") is not None:
            raise CommandError(
                "there is no --password option (it would be kept in shell history and shown "
                "by ps): use --password-stdin, or run it in a terminal to be asked"
            )
        self.stdin = options.get("stdin", sys.stdin)
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None and not update:
            raise CommandError(
                f"user '{username}' exists; add --update to change its role, teams or email"
            )
        if user is None and update:
            raise CommandError(f"no user '{username}' to update")
        if user is None and role is None:
            raise CommandError("a new user needs --role lead, engineer or manager")
        team_objects = self._teams(teams)

        creating = user is None
        if creating:
            user = User(username=username, email=email or "")
        elif email is not None:
            user.email = email
        try:
            user.full_clean(exclude=["password"], validate_unique=False)
        except ValidationError as exc:
            raise CommandError(_one_line(exc)) from None

        password = None
        if creating or password_stdin:
            password = self._read_password(password_stdin)
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(f"password refused: {_one_line(exc)}") from None

        if any(not Group.objects.filter(name=name).exists() for name in GROUP_OF_ROLE.values()):
            roles.ensure_roles()  # normally done after every migrate
        with transaction.atomic():
            if password is not None:
                user.set_password(password)
            user.save()
            if role is not None:
                user.groups.remove(*Group.objects.filter(name__in=GROUP_OF_ROLE.values()))
                user.groups.add(Group.objects.get(name=GROUP_OF_ROLE[role]))
            if creating or teams:
                user.teams.set(team_objects)

        current_role = roles.role_of(User.objects.get(pk=user.pk))
        team_names = ", ".join(t.slug for t in user.teams.order_by("slug")) or "none"
        verb = "Created" if creating else "Updated"
        self.stdout.write(f"{verb} user '{username}': role {current_role}, teams: {team_names}")
        if user.is_superuser and role not in (None, "lead"):
            self.stderr.write(
                f"note: '{username}' is a superuser, and acts as a lead whatever its role"
            )
        if current_role == "engineer" and team_names == "none":
            self.stderr.write(
                "note: an engineer in no team sees only the findings assigned to them and the "
                "incidents they take part in; add --team"
            )

    def _teams(self, wanted: list[str]) -> list[Team]:
        found = []
        for ident in wanted:
            team = (
                Team.objects.filter(slug=ident).first()
                or Team.objects.filter(name__iexact=ident).first()
            )
            if team is None:
                known = ", ".join(Team.objects.order_by("slug").values_list("slug", flat=True))
                hint = f"known: {known}" if known else "no teams yet (create them in /admin/)"
                raise CommandError(f"unknown team '{ident}'; {hint}")
            found.append(team)
        return found

    def _read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = self.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("no password on stdin")
            return password
        if not self.stdin.isatty():
            raise CommandError(
                "no terminal to ask the password in: pipe it in with --password-stdin"
            )
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Password (again): ")
        except (EOFError, KeyboardInterrupt):
            raise CommandError("no password given") from None
        if password != again:
            raise CommandError("the two passwords differ")
        if not password:
            raise CommandError("empty password")
        return password
