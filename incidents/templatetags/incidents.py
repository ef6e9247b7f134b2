import markdown as md
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

_ALLOWED = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


@register.filter
def markdown(text: str) -> str:
    """Playbook instructions: Markdown rendered, then sanitised (leads write it, all read it)."""
    html = md.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    # Safe: nh3 has removed every tag and attribute not allowed above.
    return mark_safe(  # noqa: S308
        nh3.clean(
            html,
            tags=_ALLOWED,
            attributes={"a": {"href", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


@register.filter
def duration(value) -> str:
    """A timedelta as "1 h", "4 h", "7 d", "1 d 2 h"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


@register.filter
def positions(value) -> str:
    return ", ".join(str(p) for p in value or [])


@register.filter
def http_url(value) -> str:
    """The URL if it is http(s), else "" — links from tools are shown only when harmless."""
    value = str(value or "")
    return value if value.lower().startswith(("https://", "http://")) else ""
