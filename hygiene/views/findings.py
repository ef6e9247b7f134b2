from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from hygiene.selectors import findings_visible_to, secrets_visible_to

PAGE_SIZE = 50


def finding_list(request):
    qs = findings_visible_to(request.user).select_related("secret", "source", "team")
    status = request.GET.get("status", "")
    if status:
        qs = qs.filter(status=status)
    qs = qs.order_by("-first_seen_at", "-id")
    page = Paginator(qs, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    return render(request, "hygiene/finding_list.html", {"page": page, "status": status})


def secret_groups(request):
    qs = secrets_visible_to(request.user).select_related("team").order_by("-last_seen_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "hygiene/secret_groups.html", {"page": page})


def secret_detail(request, pk: int):
    secret = get_object_or_404(secrets_visible_to(request.user), pk=pk)
    findings = (
        findings_visible_to(request.user)
        .filter(secret=secret)
        .select_related("source", "team")
        .order_by("-last_seen_at")[:200]
    )
    return render(
        request,
        "hygiene/secret_detail.html",
        {
            "secret": secret,
            "findings": findings,
            "references": secret.references.all()[:100],
            "timeline": secret.timeline.select_related("actor").order_by("-created_at")[:100],
        },
    )
