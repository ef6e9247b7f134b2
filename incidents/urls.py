from django.urls import path

from incidents import views

urlpatterns = [
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/open", views.incident_open, name="incident_open"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/pause", views.incident_pause, name="incident_pause"),
    path("incidents/<int:pk>/resume", views.incident_resume, name="incident_resume"),
    path("incidents/<int:pk>/severity", views.incident_severity, name="incident_severity"),
    path("incidents/<int:pk>/owner", views.incident_owner, name="incident_owner"),
    path(
        "incidents/<int:pk>/participants", views.incident_participant, name="incident_participant"
    ),
    path("incidents/<int:pk>/close", views.incident_close, name="incident_close"),
    path("incidents/<int:pk>/comment", views.incident_comment, name="incident_comment"),
    path("incidents/<int:pk>/reference", views.incident_reference, name="incident_reference"),
    path("incidents/<int:pk>/review", views.incident_review, name="incident_review"),
    path(
        "incidents/<int:pk>/steps/<int:step_pk>/complete",
        views.step_complete,
        name="step_complete",
    ),
    path("incidents/<int:pk>/steps/<int:step_pk>/skip", views.step_skip, name="step_skip"),
    path("incidents/<int:pk>/steps/<int:step_pk>/reopen", views.step_reopen, name="step_reopen"),
    path("incidents/<int:pk>/steps/<int:step_pk>/assign", views.step_assign, name="step_assign"),
    path("follow-ups/<int:pk>/done", views.follow_up_done, name="follow_up_done"),
    path("my-work/", views.my_work, name="my_work"),
    path("playbooks/", views.playbook_list, name="playbook_list"),
    path("playbooks/<int:pk>/", views.playbook_detail, name="playbook_detail"),
    path("playbooks/<slug:slug>/edit", views.playbook_edit, name="playbook_edit"),
]
