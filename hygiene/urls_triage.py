"""Findings, secrets, sources and ownership pages."""

from django.urls import path

from hygiene.views import findings, ownership, sources, tokens

urlpatterns = [
    path("account/tokens/", tokens.token_list, name="api_tokens"),
    path("account/tokens/new/", tokens.token_create, name="api_token_create"),
    path("account/tokens/<int:pk>/revoke/", tokens.token_revoke, name="api_token_revoke"),
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/secrets/", findings.secret_group_list, name="secret_groups"),
    path("findings/bulk/", findings.finding_bulk, name="finding_bulk"),
    path("findings/export.csv", findings.finding_export, name="finding_export"),
    path("findings/<int:pk>/", findings.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/comment/", findings.finding_comment, name="finding_comment"),
    path("secrets/<int:pk>/", findings.secret_detail, name="secret_detail"),
    path("secrets/<int:pk>/comment/", findings.secret_comment, name="secret_comment"),
    path(
        "secrets/<int:pk>/references/", findings.secret_reference_add, name="secret_reference_add"
    ),
    path("ownership/", ownership.ownership_list, name="ownership"),
    path("ownership/add/", ownership.ownership_add, name="ownership_add"),
    path("ownership/preview/", ownership.ownership_preview, name="ownership_preview"),
    path("ownership/apply/", ownership.ownership_apply, name="ownership_apply"),
    path("ownership/<int:pk>/delete/", ownership.ownership_delete, name="ownership_delete"),
    path("ownership/<int:pk>/move/", ownership.ownership_move, name="ownership_move"),
    path("sources/", sources.source_list, name="source_list"),
    path("sources/new/", sources.source_create, name="source_create"),
    path("sources/<slug:slug>/", sources.source_detail, name="source_detail"),
    path("sources/<slug:slug>/settings/", sources.source_edit, name="source_edit"),
    path("sources/<slug:slug>/delete/", sources.source_remove, name="source_remove"),
    path("sources/<slug:slug>/tokens/", sources.token_create, name="source_token_create"),
    path(
        "sources/<slug:slug>/tokens/<int:pk>/revoke/",
        sources.token_revoke,
        name="source_token_revoke",
    ),
    path(
        "sources/<slug:slug>/tokens/<int:pk>/rotate/",
        sources.token_rotate,
        name="source_token_rotate",
    ),
    path(
        "sources/<slug:slug>/webhook-secret/",
        sources.webhook_secret_rotate,
        name="source_webhook_secret",
    ),
    path("sources/<slug:slug>/upload/", sources.source_upload, name="source_upload"),
]
