import re
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from incidents.templatetags.incidents import http_url

register = template.Library()

# Characters a report can put in a path or a name that change how the rest reads without showing
# themselves: bidi controls ("deploy/\u202egnp.exe" reads "deploy/exe.png"), zero-width ones,
# and control characters (a tab, an escape). Shown as what they are.
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


@register.filter
def visible(value) -> str:
    """The text with each hidden character written out, as "⟨U+202E⟩"."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return text
    return _HIDDEN.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


@register.filter
def ago(value) -> str:
    """ "3 hours ago"; "just now" under a minute (timesince says "0 minutes")."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"


@register.simple_tag
def severity(value):
    return format_html('<span class="badge sev-{}">{}</span>', value, str(value).title())


@register.simple_tag
def status_badge(value, label=None):
    return format_html('<span class="badge st-{}">{}</span>', value, label or str(value).title())


@register.simple_tag
def validity_badge(finding):
    """A finding's validity as its scanner reported it, unless its secret was revoked since
    (a playbook's completed revoke step, a rotator's event): then "revoked", which is what a
    reader needs, with what the scanner said in the badge's title — "valid" too: a key
    verified live, then revoked. A scanner that verifies the value after the revoke makes the
    secret valid again (reconcile), and the badge says so."""
    secret = finding.secret if finding.secret_id else None
    if secret is not None and secret.validity == "revoked":
        return format_html(
            '<span class="badge valid-revoked" title="The secret was revoked; the scanner'
            ' reported it {}.">revoked</span>',
            finding.validity,
        )
    return format_html('<span class="badge valid-{}">{}</span>', finding.validity, finding.validity)


@register.simple_tag
def timer(step, now=None):
    """A live countdown for an open step; the final state for a done or skipped one."""
    state = step.state(now)
    if step.is_done:
        label = {"done_on_time": "done on time", "done_late": "done late"}.get(state, state)
        return format_html(
            '<span class="timer state-{}" data-state="{}">{}</span>', state, state, label
        )
    frozen = step.incident.paused_at
    return format_html(
        '<span class="timer state-{}" data-state="{}" data-due="{}" data-due-soon="{}"{}>{}</span>',
        state,
        state,
        step.due_at.isoformat(),
        step.due_soon_at.isoformat(),
        format_html(' data-frozen="{}"', frozen.isoformat()) if frozen else "",
        timezone.localtime(step.due_at).strftime("due %Y-%m-%d %H:%M"),
    )


FACT_LABELS = {
    "sas_scope": "SAS scope",
    "sas_permissions": "SAS permissions",
    "sas_protocol": "SAS protocol",
    "sas_services": "SAS services",
    "sas_resource_types": "SAS resource types",
    "sas_resource": "SAS resource",
    "sas_stored_policy": "Stored access policy",
    "sas_ip_range": "SAS IP range",
    "sas_expires": "SAS expires",
    "sas_valid_days": "SAS valid for (days)",
    "sas_expired": "SAS expired",
    "storage_account": "Storage account",
    "revocation": "How to revoke",
    "credential": "Credential",
}


@register.filter
def fact_label(key: str) -> str:
    """Readable labels for what the analysis of a value found (Secret.analysis keys)."""
    return FACT_LABELS.get(key, str(key).replace("_", " ").capitalize())


# Links from tools (a finding's, a rotator event's evidence) are offered only when harmless.
register.filter("http_url", http_url)
