from django.contrib import admin

from hygiene import models as m
from hygiene.services.sources import source_delete


@admin.register(m.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "email"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


@admin.register(m.OwnershipRule)
class OwnershipRuleAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "position",
        "team",
        "repo_pattern",
        "path_pattern",
        "resource_pattern",
    ]
    list_editable = ["position"]


class SourceTokenInline(admin.TabularInline):
    model = m.SourceToken
    fields = ["name", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # tokens are created on the Sources page or with `create_source`, shown once


@admin.register(m.Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "default_format", "is_active"]
    list_filter = ["kind", "is_active"]
    inlines = [SourceTokenInline]
    exclude = ["webhook_secret"]

    # Through the service: it waits for an import in progress to commit.
    def delete_model(self, request, obj):
        source_delete(source=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for source in queryset:
            source_delete(source=source, by=request.user)


@admin.register(m.ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "format", "status", "received", "created", "created_at"]
    list_filter = ["status", "format"]
    readonly_fields = [f.name for f in m.ImportRun._meta.fields]


@admin.register(m.Secret)
class SecretAdmin(admin.ModelAdmin):
    list_display = ["id", "secret_type", "preview", "severity", "validity", "reused"]
    list_filter = ["secret_type", "severity", "validity", "reused"]
    # first_run: a historic id (its run may be gone with its source), not a choice to make.
    readonly_fields = ["fingerprint", "preview", "analysis", "first_run_id"]
    exclude = ["first_run"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        # A leaked credential's record (findings, incidents, timeline) is history; the next
        # scan would only bring it back.
        return False


@admin.register(m.Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ["id", "rule", "category", "severity", "status", "repo", "path", "line"]
    list_filter = ["status", "category", "severity", "source"]
    raw_id_fields = ["secret", "assignee", "resolved_by", "proposed_by"]
    show_full_result_count = False


@admin.register(m.RotationEvent)
class RotationEventAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "action", "event_name", "occurred_at", "secret", "applied_at"]
    list_filter = ["action", "source"]
    raw_id_fields = ["secret", "import_run"]
