"""Input parsing for the incident pages. Forms only parse; services decide."""

import re
from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.forms import formset_factory

from incidents.models import Role, StepAction
from incidents.services import (
    MANAGER_STEP_ERROR,
    MAX_DEADLINE,
    SEVERITIES,
    STEP_ROLES,
    step_role,
)

User = get_user_model()


def assignable_users():
    """People who may own incidents or steps: leads and engineers."""
    return (
        User.objects.filter(is_active=True, groups__permissions__codename="work_incident")
        .distinct()
        .order_by("first_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class CompleteForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    url = forms.CharField(required=False, max_length=1000)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=[(s, s.title()) for s in SEVERITIES])


class OwnerForm(forms.Form):
    owner = UserChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()


class AssigneeForm(forms.Form):
    assignee = UserChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()


class ParticipantForm(forms.Form):
    user = UserChoiceField(queryset=User.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = assignable_users()


class SummaryForm(forms.Form):
    summary = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))


class CloseForm(SummaryForm):
    resolve_findings = forms.BooleanField(required=False)


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Comment", max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReviewForm(forms.Form):
    what_happened = forms.CharField(max_length=20_000, widget=forms.Textarea(attrs={"rows": 3}))
    lessons = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class FollowUpForm(forms.Form):
    title = forms.CharField(max_length=300, required=False)
    owner = UserChoiceField(queryset=User.objects.none(), required=False)
    due_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()

    def clean(self):
        data = super().clean()
        if data.get("title") and not data.get("due_at"):
            self.add_error("due_at", "A follow-up needs a due date.")
        return data


FollowUpFormSet = formset_factory(FollowUpForm, extra=3, max_num=20, absolute_max=20)


class OpenIncidentForm(forms.Form):
    secret_ids = forms.TypedMultipleChoiceField(coerce=int, choices=())
    severity = forms.ChoiceField(
        required=False, choices=[("", "From the secrets")] + [(s, s.title()) for s in SEVERITIES]
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # Any integer id is acceptable here; visibility is checked by the view.
        raw = data.getlist("secret_ids") if data is not None else []
        self.fields["secret_ids"].choices = [(v, v) for v in raw if str(v).isdigit()][:500]


class PlaybookForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


_DURATION_PART = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
    r"(?![a-z])\s*",
    re.I,
)
_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class DeadlineField(forms.DurationField):
    """A deadline as people write one: 30m, 4h, 7d, 1d 12h, 2 weeks; Django's 1:00:00 and
    7 00:00:00 still work. Shown back the short way."""

    default_error_messages = {
        "invalid": "Enter a duration such as 30m, 4h, 7d or 1d 12h.",
        "overflow": "That duration is too long.",
    }

    def prepare_value(self, value):
        if isinstance(value, timedelta):
            seconds = int(value.total_seconds())
            parts = []
            for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
                count, seconds = divmod(seconds, size)
                if count:
                    parts.append(f"{count}{unit}")
            return " ".join(parts) or "0m"
        return value

    def to_python(self, value):
        text = str(value or "").strip()
        position, total, parts = 0, 0.0, 0
        while text and position < len(text):
            match = _DURATION_PART.match(text, position)
            if match is None or match.end() == position:
                break
            total += float(match.group(1)) * _SECONDS[match.group(2)[0].lower()]
            position, parts = match.end(), parts + 1
        if parts and position == len(text):
            if total > 10**9:
                raise forms.ValidationError(self.error_messages["overflow"], code="overflow")
            return timedelta(seconds=round(total))
        return super().to_python(value)


class StepRoleField(forms.ChoiceField):
    """Who does a step: a security lead or an engineer. A posted "manager" (the editor offered
    it once) is told why, not Django's "not one of the available choices"."""

    def __init__(self, **kwargs):
        super().__init__(choices=[(role.value, role.label) for role in STEP_ROLES], **kwargs)

    def validate(self, value):
        if value == Role.MANAGER:
            raise forms.ValidationError(MANAGER_STEP_ERROR, code="manager")
        super().validate(value)


class PlaybookStepForm(forms.Form):
    position = forms.IntegerField(min_value=1, max_value=999)
    action = forms.ChoiceField(choices=StepAction.choices)
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    required = forms.BooleanField(required=False)
    depends_on = forms.CharField(
        required=False, max_length=100, help_text="Positions, comma-separated."
    )
    default_role = StepRoleField()
    deadline_critical = DeadlineField(help_text="e.g. 30m, 4h, 7d or 1d 12h")
    deadline_high = DeadlineField()
    deadline_medium = DeadlineField()
    deadline_low = DeadlineField()

    def has_changed(self):
        # The blank "new step" row posts its selects' first choices; without a title it is
        # still blank and must not be validated.
        if self.empty_permitted and not (self.data.get(self.add_prefix("title")) or "").strip():
            return False
        return super().has_changed()

    def clean_depends_on(self):
        raw = self.cleaned_data.get("depends_on", "")
        try:
            return sorted({int(p) for p in raw.replace(" ", "").split(",") if p})
        except ValueError:
            raise forms.ValidationError("Use step positions separated by commas.") from None

    def clean(self):
        data = super().clean()
        for key in ("deadline_critical", "deadline_high", "deadline_medium", "deadline_low"):
            value = data.get(key)
            if value is not None and value.total_seconds() <= 0:
                self.add_error(key, "A deadline must be positive.")
            elif value is not None and value > MAX_DEADLINE:
                self.add_error(key, f"A deadline is at most {MAX_DEADLINE.days} days.")
        return data


PlaybookStepFormSet = formset_factory(
    PlaybookStepForm, extra=1, can_delete=True, max_num=40, absolute_max=40
)


def playbook_step_initial(playbook) -> list[dict]:
    return [
        {
            "position": s.position,
            "action": s.action,
            "title": s.title,
            "instructions": s.instructions,
            "required": s.required,
            "depends_on": ", ".join(str(p) for p in s.depends_on or []),
            # What new incidents get: a legacy "manager" shows (and saves) as engineer.
            "default_role": step_role(s.default_role),
            "deadline_critical": s.deadline_critical,
            "deadline_high": s.deadline_high,
            "deadline_medium": s.deadline_medium,
            "deadline_low": s.deadline_low,
        }
        for s in playbook.steps.order_by("position")
    ]
