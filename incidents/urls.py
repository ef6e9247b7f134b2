from django.urls import path

from incidents import views

urlpatterns = [
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("my-work/", views.my_work, name="my_work"),
    path("playbooks/", views.playbook_list, name="playbook_list"),
]
