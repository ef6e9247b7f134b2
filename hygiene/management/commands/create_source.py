import sys
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from hygiene.importers import FORMATS
from hygiene.models import Source, SourceKind, SourceToken
from hygiene.services.sources import clean_repo


class Command(BaseCommand):
    help = "Creates a source (or a new token for an existing one) and prints the token once."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--kind", required=True, choices=SourceKind.values)
        parser.add_argument("--format", dest="format_key", default="")
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument(
            "--repo",
            default="",
            help="the repository its reports are of, for those that name none "
            "(a detect-secrets baseline, a ggshield or Nosey Parker scan of a directory)",
        )

    def handle(self, *args, slug, kind, format_key, name, expires_days, repo, **options):
        if slugify(slug) != slug:
            self.stderr.write(f"error: '{slug}' is not a valid slug (letters, digits, - and _)")
            sys.exit(1)
        if format_key and format_key not in FORMATS:
            self.stderr.write(
                f"error: unknown format '{format_key}'; known: {', '.join(sorted(FORMATS))}"
            )
            sys.exit(1)
        with transaction.atomic():
            source, created = Source.objects.get_or_create(
                slug=slug,
                defaults={
                    "kind": kind,
                    "default_format": format_key,
                    "name": name or slug,
                    "repo": clean_repo(repo),
                },
            )
            if not created and source.kind != kind:
                self.stderr.write(f"error: source '{slug}' exists and is a {source.kind}")
                sys.exit(1)
            raw, prefix, digest = SourceToken.generate()
            SourceToken.objects.create(
                source=source,
                name="created by create_source",
                prefix=prefix,
                token_hash=digest,
                expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
            )
        verb = "Created source" if created else "New token for source"
        self.stderr.write(f"{verb} '{slug}'. The token is shown once; store it now:")
        self.stdout.write(raw)
