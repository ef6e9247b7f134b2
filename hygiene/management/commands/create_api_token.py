import sys
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand
from django.utils import timezone

from hygiene.services.sources import user_token_create


class Command(BaseCommand):
    help = (
        "Creates a personal API token (llu_…) that reads the API with the user's role, and "
        "prints it once. People can also make their own on the 'API tokens' page."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="where it will be used, e.g. grafana")
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args, username, name, expires_days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            self.stderr.write(f"error: no user '{username}'")
            sys.exit(1)
        if expires_days is not None and expires_days < 1:
            self.stderr.write("error: --expires-days takes a number of days, 1 or more")
            sys.exit(1)
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            _token, raw = user_token_create(user=user, name=name, expires_at=expires_at)
        except (ValidationError, PermissionDenied) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.stderr.write(f"error: {message}")
            sys.exit(1)
        self.stderr.write(f"API token for {username}. It is shown once; store it now:")
        self.stdout.write(raw)
