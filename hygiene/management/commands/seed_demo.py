from django.core.management.base import BaseCommand

from hygiene import demo


class Command(BaseCommand):
    help = "Loads realistic demo data (idempotent) and prints the demo logins."

    def handle(self, *args, **options):
        created = demo.seed()
        self.stdout.write("Demo data " + ("loaded." if created else "already present."))
        self.stdout.write("Demo logins (username / password):")
        for username, password, role in demo.LOGINS:
            self.stdout.write(f"  {role:<14} {username} / {password}")
