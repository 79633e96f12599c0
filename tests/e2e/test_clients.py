"""Real clients against the in-process server: httpx and curl."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from typhoon.http import HTTPServer

TIMEOUT_S = 10.0
STREAM_BODY = b"".join(f"part {i}\n".encode() for i in range(5))  # conftest.STREAM_PARTS


@pytest.fixture
async def client(server: HTTPServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}", trust_env=False, timeout=TIMEOUT_S
    ) as http_client:
        yield http_client


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.fail("curl is not installed (not on PATH); these end-to-end tests need it")
    return path


async def run_curl(curl: str, *args: str) -> str:
    """Run curl (never through a proxy) in a thread so the server's loop keeps running."""
    command = [curl, "--silent", "--show-error", "--noproxy", "*", "--max-time", "10", *args]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, timeout=TIMEOUT_S + 5, check=False
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr!r}"
    return done.stdout.decode("latin-1")


def split_curl_output(text: str) -> list[tuple[str, dict[str, str], str]]:
    """Split ``curl -si`` output into (status line, headers, body); 1xx heads come first."""
    replies: list[tuple[str, dict[str, str], str]] = []
    rest = text
    while rest.startswith("HTTP/"):
        head, _, rest = rest.partition("\r\n\r\n")
        status, *lines = head.split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        replies.append((status, headers, ""))
    assert replies, f"no status line in curl output: {text[:200]!r}"
    status, headers, _ = replies[-1]
    replies[-1] = (status, headers, rest)
    return replies


async def test_httpx_get_returns_text_with_length_and_date(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.text == "Hello, world!"
    assert response.headers["content-length"] == "13"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["server"] == "typhoon"
    assert response.headers["date"].endswith(" GMT")


async def test_httpx_post_json_is_echoed(client: httpx.AsyncClient) -> None:
    document = {"name": "typhoon", "tags": ["fast", "async"], "n": 3, "nested": {"ok": True}}
    response = await client.post("/echo", json=document)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == document


async def test_httpx_stream_reads_chunked_response(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = [piece async for piece in response.aiter_bytes()]
    assert b"".join(pieces) == STREAM_BODY


async def test_httpx_16_kib_body_is_echoed_intact(client: httpx.AsyncClient) -> None:
    body = os.urandom(16 * 1024)
    response = await client.post("/body", content=body)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(body))
    assert response.content == body
    # The connection is kept and reused for the next request.
    again = await client.get("/q", params={"x": "reused"})
    assert again.text == "reused"


async def test_httpx_many_requests_share_one_connection(
    server: HTTPServer, client: httpx.AsyncClient
) -> None:
    ports = {(await client.get("/peer")).text for _ in range(5)}
    assert len(ports) == 1
    assert server.connections == 1


async def test_curl_get_shows_status_date_and_length(curl: str, server: HTTPServer) -> None:
    output = await run_curl(curl, "-si", f"http://127.0.0.1:{server.port}/")
    [(status, headers, body)] = split_curl_output(output)
    assert status == "HTTP/1.1 200 OK"
    assert headers["date"].endswith(" GMT")
    assert headers["content-length"] == "13"
    assert body == "Hello, world!"


async def test_curl_http10_gets_answer_and_close(curl: str, server: HTTPServer) -> None:
    output = await run_curl(curl, "-si", "--http1.0", f"http://127.0.0.1:{server.port}/")
    [(status, headers, body)] = split_curl_output(output)
    assert status.startswith("HTTP/1.1 200")
    assert headers["content-length"] == "13"
    assert headers["connection"] == "close"
    assert body == "Hello, world!"


async def test_curl_expect_continue_2_mb_file_is_received(
    curl: str, server: HTTPServer, tmp_path: Path
) -> None:
    assert server.config.limits.max_body_bytes == 16 * 1024 * 1024  # the default
    data = os.urandom(2 * 1000 * 1000)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(data)
    output = await run_curl(
        curl,
        "-si",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{upload}",
        f"http://127.0.0.1:{server.port}/size",
    )
    replies = split_curl_output(output)
    assert [status for status, _, _ in replies] == ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]
    _, headers, body = replies[-1]
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def test_curl_over_unix_socket_gets_answer(
    curl: str, unix_server: HTTPServer, uds_path: Path
) -> None:
    output = await run_curl(curl, "-si", "--unix-socket", str(uds_path), "http://localhost/")
    [(status, headers, body)] = split_curl_output(output)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-length"] == "13"
    assert body == "Hello, world!"
