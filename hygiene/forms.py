"""Input forms of the triage, ownership and source pages (validation only; services act)."""

from datetime import datetime, time

from django import forms
from django.utils import timezone

from hygiene.importers import FORMATS
from hygiene.models import ReferenceKind, SourceKind, Team
from hygiene.models.findings import DISMISSAL_REASONS, Resolution

DISMISSAL_CHOICES = [(r.value, Resolution(r).label) for r in DISMISSAL_REASONS]
MAX_UPLOAD = 50 * 1024 * 1024


class OwnershipRuleForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"))
    repo_pattern = forms.CharField(max_length=300, required=False, label="Repository pattern")
    path_pattern = forms.CharField(max_length=300, required=False, label="Path pattern")
    resource_pattern = forms.CharField(max_length=300, required=False, label="Resource pattern")

    def clean(self):
        data = super().clean()
        if not any(
            (data.get(k) or "").strip()
            for k in ("repo_pattern", "path_pattern", "resource_pattern")
        ):
            raise forms.ValidationError("Give at least one pattern.")
        return data


FORMAT_CHOICES = [(key, f"{f.label} ({key})") for key, f in sorted(FORMATS.items())]


SCAN_CHOICES = [
    ("full", "Full: a finding a report no longer has is marked missing"),
    ("partial", "Partial: reports cover part of the source; nothing goes missing"),
]


class SourceSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    default_format = forms.ChoiceField(choices=[("", "—"), *FORMAT_CHOICES], required=False)
    default_team = forms.ModelChoiceField(queryset=Team.objects.order_by("name"), required=False)
    # A select, not a checkbox: a form that doesn't send it (an older page, a script) keeps
    # the default, full scans.
    scans = forms.ChoiceField(choices=SCAN_CHOICES, required=False)
    repo = forms.CharField(max_length=300, required=False, label="Repository")

    def clean(self):
        data = super().clean()
        data["full_scan"] = data.pop("scans", "") != "partial"
        return data


class SourceForm(SourceSettingsForm):
    slug = forms.SlugField(max_length=64)
    kind = forms.ChoiceField(choices=SourceKind.choices)
    field_order = ["slug", "name", "kind", "default_format", "default_team", "scans", "repo"]


class SourceEditForm(SourceSettingsForm):
    active = forms.ChoiceField(
        choices=[("yes", "Active"), ("no", "Inactive: tokens and webhook refused")],
        required=False,
    )

    def settings_for(self, source) -> dict:
        """The settings to save: what the form sent, the source's own for what it left out (a
        script posting only a name changes only the name)."""
        data = self.cleaned_data
        sent = self.data
        return {
            "name": data["name"],
            "default_format": data["default_format"]
            if "default_format" in sent
            else source.default_format,
            "default_team": data["default_team"] if "default_team" in sent else source.default_team,
            "full_scan": data["full_scan"] if "scans" in sent else source.full_scan,
            "is_active": data["active"] != "no" if "active" in sent else source.is_active,
            "repo": data["repo"] if "repo" in sent else source.repo,
        }


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
    expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            # The list shows prefixes only: the name is how a token is told apart later.
            raise forms.ValidationError(
                "Name the token after where it will be used (e.g. “ci” or “grafana”)."
            )
        return name

    def expires_at(self):
        """The expiry as the end of its day (local time), or None."""
        day = self.cleaned_data.get("expires_on")
        if not day:
            return None
        return timezone.make_aware(datetime.combine(day, time.max.replace(microsecond=0)))

    def clean_expires_on(self):
        value = self.cleaned_data.get("expires_on")
        if value and value <= timezone.localdate():
            raise forms.ValidationError("The expiry must be a future date.")
        return value


class ReferenceForm(forms.Form):
    kind = forms.ChoiceField(choices=ReferenceKind.choices)
    value = forms.CharField(max_length=1000)


class CommentForm(forms.Form):
    body = forms.CharField(max_length=2000)


class UploadForm(forms.Form):
    format = forms.ChoiceField(choices=FORMAT_CHOICES)
    file = forms.FileField()
    full_scan = forms.BooleanField(required=False)

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_UPLOAD:
            raise forms.ValidationError("The report is larger than 50 MB.")
        return f
