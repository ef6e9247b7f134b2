"""Ownership rules: list, add, reorder, delete; preview what re-applying them changes; apply."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from hygiene.forms import OwnershipRuleForm
from hygiene.models import OwnershipRule
from hygiene.roles import permission_required
from hygiene.services import triage
from hygiene.views.findings import _error, _is_htmx


def _context(form=None, preview=None):
    return {
        "rules": OwnershipRule.objects.select_related("team").order_by("position", "id")[:500],
        "form": form or OwnershipRuleForm(),
        "preview": preview,
    }


@require_GET
@permission_required("hygiene.view_ownershiprule")
def ownership_list(request):
    return render(request, "hygiene/ownership.html", _context())


@require_POST
@permission_required("hygiene.manage_ownership")
def ownership_add(request):
    form = OwnershipRuleForm(request.POST)
    if not form.is_valid():
        return render(request, "hygiene/ownership.html", _context(form), status=400)
    try:
        triage.ownership_rule_create(by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "hygiene/ownership.html", _context(form), status=400)
    messages.success(request, "Rule added. Preview to see what it changes on open findings.")
    return redirect("ownership")


@require_POST
@permission_required("hygiene.manage_ownership")
def ownership_delete(request, pk: int):
    rule = get_object_or_404(OwnershipRule, pk=pk)
    triage.ownership_rule_delete(by=request.user, rule=rule)
    messages.success(request, "Rule deleted.")
    return redirect("ownership")


@require_POST
@permission_required("hygiene.manage_ownership")
def ownership_move(request, pk: int):
    rule = get_object_or_404(OwnershipRule, pk=pk)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return _error(request, 400, "Move a rule up or down.")
    triage.ownership_rule_move(by=request.user, rule=rule, direction=direction)
    return redirect("ownership")


@require_GET
@permission_required("hygiene.manage_ownership")
def ownership_preview(request):
    preview = triage.ownership_preview()
    if _is_htmx(request):
        return render(request, "hygiene/partials/ownership_preview.html", {"preview": preview})
    return render(request, "hygiene/ownership.html", _context(preview=preview))


@require_POST
@permission_required("hygiene.manage_ownership")
def ownership_apply(request):
    result = triage.ownership_apply(by=request.user)
    messages.success(
        request, f"Ownership rules applied: {result.changed} open findings changed team."
    )
    return redirect("ownership")
