import sys

import django_rq
from django.core.management.base import BaseCommand
from rq import Worker


class Command(BaseCommand):
    help = "Exits 0 when at least one rq worker is alive (the compose health check)."

    def handle(self, *args, **options):
        workers = Worker.all(connection=django_rq.get_connection("default"))
        if not workers:
            self.stderr.write("error: no rq worker is running")
            sys.exit(1)
        self.stdout.write(f"{len(workers)} worker(s) alive")
