import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from hygiene.models import Source
from hygiene.services.imports import ImportFailed, ImportRejected, import_report


class Command(BaseCommand):
    # `manage.py check` (and `migrate`) run the system checks; an import needn't load every
    # URL and API schema first (0.3 s of each CLI import).
    requires_system_checks = []
    help = (
        "Imports a report synchronously through the same path as the API, and prints a JSON "
        "summary. Exits 1 with a one-line error on bad input (only a failed run is recorded)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the report, or - for standard input")
        parser.add_argument("--source", required=True, help="the source's slug")
        parser.add_argument("--format", dest="format_key", help="format key (default: source's)")
        parser.add_argument("--json", action="store_true", help="compact one-line JSON")
        parser.add_argument(
            "--partial", action="store_true", help="not a full scan: don't mark missing findings"
        )

    def fail(self, message: str):
        self.stderr.write(f"error: {message}")
        sys.exit(1)

    def handle(self, *args, file, source, format_key, json: bool, partial: bool, **options):
        source_obj = Source.objects.filter(slug=source).first()
        if source_obj is None:
            self.fail(f"no source with slug '{source}' (create it with create_source)")
        try:
            if file == "-":
                stream = sys.stdin.buffer
                run = self._import(source_obj, format_key, stream, partial)
            else:
                path = Path(file)
                if not path.is_file():
                    self.fail(f"{file}: no such file")
                with path.open("rb") as stream:
                    run = self._import(source_obj, format_key, stream, partial)
        except ImportRejected as exc:
            self.fail(exc.message)
        except ImportFailed as exc:
            where = f"{file}: {exc.error.location}: " if exc.error.location else f"{file}: "
            self.fail(f"{where}{exc.error.message} (import #{exc.run.pk} failed)")
        summary = {
            "id": run.pk,
            "status": run.status,
            "source": source_obj.slug,
            "format": run.format,
            "duplicate": getattr(run, "duplicate", False),
            "received": run.received,
            "passed": run.passed,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "reopened": run.reopened,
            "resolved": run.resolved,
            "missing": run.missing,
            "dismissed": run.dismissed,
            "events": run.events,
            "parse_ms": run.parse_ms,
            "reconcile_ms": run.reconcile_ms,
        }
        self.stdout.write(_dumps(summary, compact=json))

    def _import(self, source, format_key, stream, partial):
        return import_report(
            source=source,
            format_key=format_key,
            stream=stream,
            via="cli",
            full_scan=False if partial else None,
        )


def _dumps(summary: dict, compact: bool) -> str:
    return json.dumps(summary) if compact else json.dumps(summary, indent=2)
