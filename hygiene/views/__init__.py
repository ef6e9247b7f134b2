from django.contrib import messages
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver


@receiver(user_logged_out, dispatch_uid="leakline-logged-out-message")
def say_logged_out(sender, request, user, **kwargs):
    """Logging out lands on the login page (LOGOUT_REDIRECT_URL), which says so. The message
    outlives the session that logout flushes: it is stored when the response is sent."""
    if request is not None and hasattr(request, "_messages"):
        messages.info(request, "You're logged out.")
