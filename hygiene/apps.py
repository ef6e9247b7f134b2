from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HygieneConfig(AppConfig):
    name = "hygiene"
    verbose_name = "Secrets hygiene"

    def ready(self):
        from hygiene.roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="leakline-ensure-roles")
