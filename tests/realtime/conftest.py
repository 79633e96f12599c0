"""Fixtures for the realtime tests: a real Redis on 127.0.0.1:6379 when there is one.

Tests that need Redis take ``redis_url``: without an answer to PING they are skipped,
except under CI (``CI=true``), where a missing Redis is a failure.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def _redis_answers_ping() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the Redis the tests use; skips (fails under CI) when it is not up."""
    if not _redis_answers_ping():
        reason = f"no Redis answering PING at {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the CI run must start Redis)")
        pytest.skip(reason)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
