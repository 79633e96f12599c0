"""Fixtures shared by every test directory.

The real Redis and PostgreSQL on 127.0.0.1: tests that need Redis take ``redis_url``,
tests that need PostgreSQL ``postgres_dsn``; without the service they are skipped,
except under CI (``CI=true``), where a missing service is a failure. And TLS
certificates made at test time with openssl (``certificate``, ``encrypted_certificate``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The DSN of the PostgreSQL the tests use; skips (fails under CI) when it is not up."""
    try:
        with socket.create_connection((POSTGRES_HOST, POSTGRES_PORT), timeout=1.0):
            pass
    except OSError:
        reason = f"no PostgreSQL listening at {POSTGRES_HOST}:{POSTGRES_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the CI run must start PostgreSQL)")
        pytest.skip(reason)
    return f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/postgres"


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:  # pragma: no cover - Debian has it
        pytest.fail("openssl is needed to make the test certificates")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def certificate() -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for localhost, made at test time with openssl."""
    directory = Path(tempfile.mkdtemp(prefix="typhoon-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    try:
        yield cert, key
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def encrypted_certificate() -> Iterator[tuple[Path, Path, str]]:
    """(cert, key, password): a certificate for localhost whose key needs the password."""
    directory = Path(tempfile.mkdtemp(prefix="typhoon-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    password = "correct horse"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-passout", f"pass:{password}",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    try:
        yield cert, key, password
    finally:
        shutil.rmtree(directory, ignore_errors=True)
