from __future__ import annotations

from django.urls import path
from tests.interop.django_site.polls import views

app_name = "polls"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:question_id>/", views.detail, name="detail"),
    path("<int:question_id>/vote/", views.vote, name="vote"),
    path("<int:question_id>/results.json", views.results, name="results"),
]
