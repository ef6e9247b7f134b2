from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and playbooks"

    def ready(self):
        from hygiene.roles import ensure_roles

        # Incidents' permissions exist only after this app migrates; assign them again then.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="leakline-ensure-roles-inc")
