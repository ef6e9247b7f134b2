from django.contrib import admin

from incidents import models as m


class PlaybookStepInline(admin.TabularInline):
    model = m.PlaybookStep
    extra = 0


@admin.register(m.Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "version", "is_current"]
    list_filter = ["is_current"]
    inlines = [PlaybookStepInline]


class StepInline(admin.TabularInline):
    model = m.Step
    extra = 0
    fields = ["position", "action", "title", "due_at", "completed_at", "skipped_at", "escalation"]
    readonly_fields = fields


@admin.register(m.Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "severity", "status", "owner", "opened_at"]
    list_filter = ["status", "severity"]
    inlines = [StepInline]
    raw_id_fields = ["owner", "opened_by"]


@admin.register(m.TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "incident", "message"]
    list_filter = ["kind"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(m.Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "channel", "recipient", "status", "attempts"]
    list_filter = ["status", "channel", "kind"]
