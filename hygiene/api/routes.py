"""Each domain defines its router in its own module; they are mounted here."""

from hygiene.api import api
from hygiene.api.findings import router as findings_router
from hygiene.api.imports import router as imports_router
from hygiene.api.metrics import router as metrics_router
from hygiene.api.webhooks import router as webhooks_router
from incidents.api import router as incidents_router

api.add_router("/imports", imports_router, tags=["imports"])
api.add_router("/webhooks", webhooks_router, tags=["webhooks"])
api.add_router("/findings", findings_router, tags=["findings"])
api.add_router("/incidents", incidents_router, tags=["incidents"])
api.add_router("/metrics", metrics_router, tags=["metrics"])
