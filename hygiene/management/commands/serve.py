import os
import signal
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from hygiene import jobs


class Command(BaseCommand):
    help = (
        "Embedded mode: the web app plus the timer sweep in one process (jobs run in-process "
        "when REDIS_URL is unset). Ctrl-C stops everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--sweep-every", type=int, default=30, help="seconds")

    def handle(self, *args, host, port, sweep_every, **options):
        # Ctrl-C and `kill` both stop everything, even when started from a script that
        # ignores SIGINT for its background jobs.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        stop = threading.Event()
        sweeper = threading.Thread(
            target=jobs.sweep_loop, kwargs={"stop": stop, "every": sweep_every}, daemon=True
        )
        if "SITE_URL" not in os.environ:
            # Links in notifications point at this server, not the default port.
            settings.SITE_URL = f"http://{host}:{port}"
        sweeper.start()
        self.stdout.write(
            f"Leakline on http://{host}:{port}/ (timer sweep every {sweep_every}s;"
            f" links in notifications: {settings.SITE_URL}/)"
        )
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)
        finally:
            stop.set()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
