"""A real Django project (tests/interop/django_site) through its asgi.py and its wsgi.py.

Django's settings are process-wide: this module sets ``DJANGO_SETTINGS_MODULE`` and the
SQLite file once, in a module fixture that also runs the migrations (``migrate``) and
creates a question with two choices. Both hosts then serve the same database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.interop.servers import serving

from typhoon.cli.interfaces import as_application
from typhoon.http.app_api import Application
from typhoon.http.asgi import ASGIHost
from typhoon.http.wsgi import WSGIHost

SETTINGS = "tests.interop.django_site.settings"


@pytest.fixture(scope="module")
def question_id(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Set Django up on a fresh SQLite file, migrate it, and create a poll."""
    database = Path(tmp_path_factory.mktemp("django")) / "db.sqlite3"
    configured = os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    assert configured == SETTINGS, f"another Django project is configured: {configured}"
    os.environ["TYPHOON_DJANGO_DB"] = str(database)

    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    connections["default"].settings_dict["NAME"] = str(database)  # if set up before
    call_command("migrate", verbosity=0)
    assert database.stat().st_size > 0

    from tests.interop.django_site.polls.models import Question

    question = Question.objects.create(text="Best engine?", published=datetime.now(UTC))
    question.choices.create(text="typhoon")
    question.choices.create(text="something else")
    yield int(question.pk)
    connections.close_all()


def _host(kind: str) -> Application:
    if kind == "asgi":
        from tests.interop.django_site import asgi

        host = as_application(asgi.application)
        assert isinstance(host, ASGIHost)
        return host
    from tests.interop.django_site import wsgi

    host = as_application(wsgi.application, threads=2)
    assert isinstance(host, WSGIHost)
    return host


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
async def test_list_detail_vote_with_csrf_then_read_the_count(kind: str, question_id: int) -> None:
    async with serving(_host(kind)) as server:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base) as client:
            index = await client.get("/polls/")
            assert index.status_code == 200
            assert f'<a href="/polls/{question_id}/">Best engine?</a>' in index.text

            before = (await client.get(f"/polls/{question_id}/results.json")).json()
            choice = before["choices"][0]

            detail = await client.get(f"/polls/{question_id}/")
            assert "csrftoken" in client.cookies
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', detail.text)
            assert match is not None
            token = match.group(1)

            async with httpx.AsyncClient(base_url=base) as stranger:  # no cookie, no token
                refused = await stranger.post(
                    f"/polls/{question_id}/vote/", data={"choice": str(choice["id"])}
                )
            assert refused.status_code == 403

            vote = await client.post(
                f"/polls/{question_id}/vote/",
                data={"choice": str(choice["id"]), "csrfmiddlewaretoken": token},
            )
            assert vote.status_code == 302
            assert vote.headers["location"] == f"/polls/{question_id}/results.json"

            after = (await client.get(vote.headers["location"])).json()
            assert after["question"] == "Best engine?"
            assert after["choices"][0]["votes"] == choice["votes"] + 1
            assert after["choices"][1] == before["choices"][1]

            no_choice = await client.post(
                f"/polls/{question_id}/vote/", data={"csrfmiddlewaretoken": token}
            )
            assert no_choice.status_code == 400
            assert "You didn&#x27;t select a choice." in no_choice.text
            assert (await client.get("/polls/999/")).status_code == 404
