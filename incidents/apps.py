from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and playbooks"

    def ready(self):
        from hygiene.roles import ensure_roles
        from incidents.defaults import ensure_default_playbooks

        # Incidents' permissions exist only after this app migrates; assign them again then.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="leakline-ensure-roles-inc")
        # The shipped playbooks: created once per slug, never overwriting a lead's edits.
        post_migrate.connect(
            ensure_default_playbooks, sender=self, dispatch_uid="leakline-default-playbooks"
        )
