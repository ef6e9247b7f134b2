import json

from django.core.management.base import BaseCommand

from incidents.notifications import digest_send


class Command(BaseCommand):
    help = (
        "Create today's digest emails (open steps due within 24 h or overdue, one per person per "
        "day — running it twice sends nothing new) and enqueue them."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps({"digests": digest_send()}))
