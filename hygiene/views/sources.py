from django.shortcuts import get_object_or_404, render

from hygiene.models import Source
from hygiene.roles import permission_required


@permission_required("hygiene.view_source")
def source_list(request):
    sources = Source.objects.select_related("default_team").order_by("name")
    return render(request, "hygiene/source_list.html", {"sources": sources})


@permission_required("hygiene.view_source")
def source_detail(request, slug: str):
    source = get_object_or_404(Source, slug=slug)
    return render(
        request,
        "hygiene/source_detail.html",
        {
            "source": source,
            "tokens": source.tokens.all()[:50],
            "imports": source.imports.select_related("token", "created_by")[:50],
        },
    )
