import shutil
import sys
import warnings

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

CHROMIUM = "/usr/bin/chromium"


class Command(BaseCommand):
    help = "Checks that PostgreSQL, Redis and Chromium are reachable; one clear line if not."

    def handle(self, *args, **options):
        problems = []
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            problems.append("DATABASE_URL must point at PostgreSQL for the test suite")
        else:
            try:
                # The server, not the database: the test run creates its own test database.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Django's fallback-database notice
                    with connection._nodb_cursor() as cursor:
                        cursor.execute("SELECT 1")
            except Exception:
                problems.append(
                    f"PostgreSQL is not reachable at {db.get('HOST')}:{db.get('PORT') or 5432} — "
                    "start it: pg_ctlcluster --skip-systemctl-redirect "
                    "$(ls /etc/postgresql) main start"
                )
        if not settings.REDIS_URL:
            problems.append("REDIS_URL is not set; the test suite needs a real Redis")
        else:
            try:
                import redis

                redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
            except Exception:
                problems.append(
                    f"Redis is not reachable at {settings.REDIS_URL} — start it: redis-server "
                    '--daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
                )
        if not (shutil.which("chromium") or shutil.which(CHROMIUM)):
            problems.append("Chromium is not installed — apt-get install chromium")
        for problem in problems:
            self.stderr.write(f"error: {problem}")
        if problems:
            sys.exit(1)
        self.stdout.write("services: PostgreSQL, Redis and Chromium are reachable")
