"""Exchange: how a response is rendered from odd headers, and the errors for misuse.

An application that calls the streaming methods out of order, or hands the exchange
headers that would corrupt the framing, gets an exception naming what was wrong; the
connection answers 500 (or closes, once the head has left) and serves on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from typhoon.http import Exchange, writer
from typhoon.testing import connect, feed, parse_responses, settle

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"

Step = Callable[[Exchange], Awaitable[None]]


class Misuse:
    """Runs ``step`` on the exchange, records what it raised, then answers if it can."""

    def __init__(self, step: Step) -> None:
        self.step = step
        self.raised: BaseException | None = None

    async def handle(self, exchange: Exchange) -> None:
        try:
            await self.step(exchange)
        except (RuntimeError, ValueError) as exc:
            self.raised = exc
        if not exchange.status:
            exchange.respond(200, [], b"after")


async def _write_before_start(exchange: Exchange) -> None:
    await exchange.write(b"x")


async def _write_after_end(exchange: Exchange) -> None:
    exchange.start(200, [(b"content-length", b"0")])
    await exchange.end()
    await exchange.write(b"x")


async def _body_on_204(exchange: Exchange) -> None:
    exchange.start(204)
    await exchange.write(b"x")


async def _end_before_start(exchange: Exchange) -> None:
    await exchange.end()


async def _end_twice(exchange: Exchange) -> None:
    exchange.start(200, [(b"content-length", b"0")])
    await exchange.end()
    await exchange.end()


async def _sendfile_before_start(exchange: Exchange) -> None:
    with open(__file__, "rb") as file:  # noqa: ASYNC230 - never read: the call is refused
        await exchange.sendfile(file, 0, 1)


async def _respond_twice(exchange: Exchange) -> None:
    exchange.respond(200, [], b"one")
    exchange.respond(200, [], b"two")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (_write_before_start, "write() called before start()"),
        (_write_after_end, "write() called after end()"),
        (_body_on_204, "a 204 response cannot have a body"),
        (_end_before_start, "end() called before start()"),
        (_end_twice, "end() called twice"),
        (_sendfile_before_start, "sendfile() called before start()"),
        (_respond_twice, "the response was already started"),
    ],
)
async def test_streaming_calls_out_of_order_raise_runtime_error_naming_the_call(
    step: Step, message: str
) -> None:
    app = Misuse(step)
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    assert isinstance(app.raised, RuntimeError)
    assert str(app.raised) == message
    assert parse_responses(bytes(transport.written))[0].status in (200, 204)


async def test_header_pair_given_as_a_list_is_rendered_like_a_tuple() -> None:
    app = Misuse(lambda exchange: _respond_with(exchange, [[b"x-list", b"yes"]]))
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.header("x-list") == "yes"


@pytest.mark.parametrize("name", [b"Connection", b"Date", b"Content-Length"])
async def test_framing_header_with_cr_lf_is_refused_naming_it(name: bytes) -> None:
    app = Misuse(lambda exchange: _respond_with(exchange, [(name, b"1\r\nx-evil: 1")]))
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    assert isinstance(app.raised, ValueError)
    assert name.decode() in str(app.raised)
    [response] = parse_responses(bytes(transport.written))
    assert response.header("x-evil") is None
    assert response.body == b"after"


async def test_transfer_encoding_from_the_application_is_replaced_by_the_servers_framing() -> None:
    app = Misuse(
        lambda exchange: _respond_with(exchange, [(b"Transfer-Encoding", b"chunked")], b"abc")
    )
    protocol, transport = connect(app)
    feed(protocol, GET)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.header("transfer-encoding") is None
    assert (response.header("content-length"), response.body) == ("3", b"abc")


async def test_large_body_after_a_wait_goes_out_beside_its_head() -> None:
    body = b"z" * 50_000

    async def after_a_wait(exchange: Exchange) -> None:
        await asyncio.sleep(0)  # now a Task, outside data_received: nothing is corked
        exchange.respond(200, [], body)

    protocol, transport = connect(Misuse(after_a_wait))
    feed(protocol, GET)
    await settle()
    [response] = parse_responses(bytes(transport.written))
    assert response.body == body


def test_header_line_cache_is_emptied_when_full_and_still_answers() -> None:
    for i in range(writer._LINES_MAX + 5):
        assert writer.header_line(b"x-n", b"%d" % i) == b"x-n: %d\r\n" % i
    assert len(writer._LINES) <= writer._LINES_MAX
    assert writer.cached_line((b"x-n", b"%d" % (writer._LINES_MAX + 4))) is not None


def test_content_length_line_cache_is_emptied_when_full_and_still_answers() -> None:
    for n in range(writer._LINES_MAX + 5):
        assert writer.content_length_line(n) == b"content-length: %d\r\n" % n
    assert len(writer._LENGTH_LINES) <= writer._LINES_MAX
    assert writer.cached_length_line(writer._LINES_MAX + 4) == b"content-length: %d\r\n" % (
        writer._LINES_MAX + 4
    )


async def _respond_with(exchange: Exchange, headers: object, body: bytes = b"") -> None:
    exchange.respond(200, headers, body)  # type: ignore[arg-type]  # deliberately odd input
