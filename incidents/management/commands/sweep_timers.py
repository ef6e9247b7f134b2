import json

from django.core.management.base import BaseCommand, CommandError

from hygiene import jobs
from incidents.timers import sweep


class Command(BaseCommand):
    help = (
        "Run the timer sweep once (escalations, nags, notification re-queue) and print its "
        "counts, or with --loop every N seconds until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep sweeping until stopped")
        parser.add_argument("--every", type=int, default=60, help="seconds between runs (--loop)")

    def handle(self, *args, loop, every, **options):
        if every < 1:
            raise CommandError("--every must be at least 1 second")
        if not loop:
            self.stdout.write(json.dumps(sweep()))
            return
        self.stdout.write(f"timer sweep every {every}s; SIGTERM or Ctrl-C stops it")
        self.stdout.flush()
        jobs.sweep_loop(every=every)
        self.stdout.write("timer sweep stopped")
