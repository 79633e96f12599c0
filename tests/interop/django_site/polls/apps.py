from __future__ import annotations

from django.apps import AppConfig


class PollsConfig(AppConfig):
    name = "tests.interop.django_site.polls"
    label = "polls"
