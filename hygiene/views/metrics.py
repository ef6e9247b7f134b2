from django.shortcuts import render

from hygiene.metrics import headline
from hygiene.roles import permission_required


@permission_required("hygiene.view_metrics")
def metrics_page(request):
    return render(request, "hygiene/metrics.html", {"headline": headline()})
