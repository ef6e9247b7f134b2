"""Pages outside the incidents app name incidents; they link only those the viewer may open."""

from django import template

from incidents.selectors import incident_ids_visible_to

register = template.Library()


@register.simple_tag
def openable_incident_ids(user, incidents) -> set[int]:
    """``{% openable_incident_ids request.user incidents as openable %}``: one query."""
    return incident_ids_visible_to(user, incidents)
