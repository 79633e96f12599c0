"""Fixtures shared by the engine's tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def certificate() -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for localhost, made at test time with openssl."""
    if shutil.which("openssl") is None:  # pragma: no cover - Debian has it
        pytest.fail("openssl is needed to make the test certificate")
    directory = Path(tempfile.mkdtemp(prefix="typhoon-tls-"))
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        yield cert, key
    finally:
        shutil.rmtree(directory, ignore_errors=True)
