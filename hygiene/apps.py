from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HygieneConfig(AppConfig):
    name = "hygiene"
    verbose_name = "Secrets hygiene"

    def ready(self):
        from hygiene.roles import ensure_roles

        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="leakline-ensure-roles")
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_save

        from hygiene.login_throttle import password_set

        # A new password (a reset) unlocks an account locked by wrong ones.
        pre_save.connect(
            password_set, sender=get_user_model(), dispatch_uid="leakline-password-set"
        )
