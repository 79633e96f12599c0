"""URLs of the test Django project."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("polls/", include("tests.interop.django_site.polls.urls"))]
