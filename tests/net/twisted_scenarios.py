"""Twisted-on-typhoon scenarios, each run in a fresh interpreter by test_twisted.py.

Twisted's reactor is process-global and cannot restart, so every scenario gets its own
process: ``python tests/net/twisted_scenarios.py NAME asyncio|uvloop``. A scenario
passes when it returns and the script prints ``ok NAME LOOP`` as its last line; anything
Twisted logs as an error (an unhandled error in a Deferred, say) fails it too.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

import httpx
import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import CancelledError as DeferredCancelledError
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IAddress, IProtocolFactory, IReactorTime
from twisted.internet.protocol import DatagramProtocol, Factory
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, globalLogBeginner
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from typhoon import App, Request, Text
from typhoon.http import HTTPConfig, HTTPServer
from typhoon.net import loop as net_loop
from typhoon.net import twisted as tx

T = TypeVar("T")
IO_TIMEOUT_S = 5.0
Scenario = Callable[[bool], None]
SCENARIOS: dict[str, Scenario] = {}


# Twisted's zope interfaces are opaque to mypy (without the mypy-zope plugin), and some
# reactor methods carry no annotations: these Protocols type the calls made here.
class ListeningPort(Protocol):
    def getHost(self) -> IPv4Address: ...

    def stopListening(self) -> Deferred[None]: ...


class ReactorCalls(Protocol):
    def listenTCP(self, port: int, factory: Factory[Any], *, interface: str) -> ListeningPort: ...

    def listenUDP(
        self, port: int, protocol: DatagramProtocol, *, interface: str
    ) -> ListeningPort: ...

    def callLater(self, delay: float, fn: Callable[..., object], /, *args: object) -> object: ...

    def callFromThread(self, fn: Callable[..., object], /, *args: object) -> None: ...

    def stop(self) -> None: ...


class Closable(Protocol):
    def loseConnection(self) -> None: ...


class DatagramSender(Protocol):
    def write(self, datagram: bytes, addr: Any) -> None: ...


def calls(reactor: tx.LoopReactor) -> ReactorCalls:
    return cast(ReactorCalls, reactor)


def later(reactor: tx.LoopReactor, seconds: float, fn: Callable[[], T]) -> Deferred[T]:
    return deferLater(cast(IReactorTime, reactor), seconds, fn)


def is_cancelled(outcome: object) -> bool:
    """Whether ``outcome`` is a Failure holding Twisted's CancelledError."""
    return isinstance(outcome, Failure) and isinstance(outcome.value, DeferredCancelledError)


class ErrorLog:
    """Keeps what Twisted logs with a failure or at level error and above."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, event: LogEvent) -> None:
        level = event.get("log_level")
        if "log_failure" in event or (level is not None and level.name in ("error", "critical")):
            failure = event.get("log_failure")
            self.errors.append(failure.getTraceback() if failure else repr(event))


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def check_loop(use_uvloop: bool) -> None:
    name = type(asyncio.get_running_loop()).__module__
    assert name.startswith("uvloop") == use_uvloop, name


def run_on_loop(main: Callable[[], Awaitable[None]], use_uvloop: bool) -> None:
    """Run ``main()`` on typhoon's loop, stopping the reactor afterwards."""

    async def wrapper() -> None:
        try:
            await main()
        finally:
            await tx.stop_reactor()

    net_loop.run(wrapper(), use_uvloop=use_uvloop)


async def read_line(reader: asyncio.StreamReader) -> bytes:
    return (await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S)).rstrip(b"\r\n")


# -- the two services: a Twisted LineReceiver and a typhoon App ------------------------------


class LineHub:
    """Lines received by the Twisted service, handed to typhoon views as Deferreds."""

    def __init__(self) -> None:
        self.waiting: list[Deferred[bytes]] = []
        self.http_base = ""

    def next_line(self) -> Deferred[bytes]:
        deferred: Deferred[bytes] = Deferred(self.waiting.remove)
        self.waiting.append(deferred)
        return deferred

    def line_arrived(self, line: bytes) -> None:
        waiting, self.waiting = self.waiting, []
        for deferred in waiting:
            deferred.callback(line)

    async def fetch(self, path: str) -> bytes:
        """A typhoon-side coroutine: an HTTP request to the typhoon App."""
        async with httpx.AsyncClient(base_url=self.http_base, trust_env=False) as client:
            response = await client.get(path)
        return f"{response.status_code}:{response.text}".encode()


class HubLine(LineReceiver):
    """``fetch PATH`` asks typhoon over HTTP; any other line goes to the hub."""

    def __init__(self, hub: LineHub) -> None:
        self.hub = hub

    def lineReceived(self, line: bytes) -> None:
        if line.startswith(b"fetch "):

            def reply(answer: bytes) -> None:
                self.send_line(b"fetched:" + answer)

            tx.as_deferred(self.hub.fetch(line[6:].decode())).addCallback(reply)
            return
        self.hub.line_arrived(line)
        self.send_line(b"seen:" + line)

    def send_line(self, line: bytes) -> None:
        """``sendLine``, which Twisted leaves unannotated."""
        cast(Callable[[bytes], None], self.sendLine)(line)


class HubFactory(Factory[HubLine]):
    def __init__(self, hub: LineHub) -> None:
        self.hub = hub

    def buildProtocol(self, addr: IAddress | None) -> HubLine:
        protocol = HubLine(self.hub)
        protocol.factory = self
        return protocol


def make_app(hub: LineHub) -> App:
    app = App()
    reactor = tx.installed_reactor()
    assert reactor is not None

    @app.get("/ping")
    async def ping(request: Request) -> Text:
        return Text("pong")

    @app.get("/later")
    async def in_a_moment(request: Request) -> Text:
        word: str = await tx.as_future(later(reactor, 0.01, lambda: "later"))
        return Text(word)

    @app.get("/next-line")
    async def next_line(request: Request) -> Text:
        within = request.query.get("within")
        try:
            async with asyncio.timeout(None if within is None else float(within)):
                line = await tx.as_future(hub.next_line())
        except TimeoutError:
            return Text("no line", status=504)
        return Text(line.decode())

    return app


# -- scenarios ---------------------------------------------------------------------------------


@scenario
def shared_loop(use_uvloop: bool) -> None:
    """A Twisted line service and a typhoon App on one loop, each calling the other."""

    async def main() -> None:
        check_loop(use_uvloop)
        reactor = tx.install_reactor()
        from twisted.internet import reactor as imported

        assert imported is reactor
        assert reactor.running
        ran: list[str] = []
        reactor.callWhenRunning(ran.append, "at once")
        assert ran == ["at once"]

        hub = LineHub()
        port = calls(reactor).listenTCP(0, HubFactory(hub), interface="127.0.0.1")
        async with HTTPServer(make_app(hub), HTTPConfig(access_log=False)) as server:
            await server.listen_tcp("127.0.0.1", 0)
            hub.http_base = f"http://127.0.0.1:{server.port}"
            reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
            async with httpx.AsyncClient(
                base_url=hub.http_base, trust_env=False, timeout=IO_TIMEOUT_S
            ) as client:
                # typhoon view awaits a Twisted deferLater
                assert (await client.get("/later")).text == "later"
                # typhoon view awaits a Deferred the Twisted protocol fires
                waiting = asyncio.create_task(client.get("/next-line"))
                for _ in range(500):
                    if hub.waiting:
                        break
                    await asyncio.sleep(0.002)
                writer.write(b"hello\r\n")
                assert await read_line(reader) == b"seen:hello"
                assert (await asyncio.wait_for(waiting, IO_TIMEOUT_S)).text == "hello"
                # Twisted callback awaits a typhoon coroutine (an HTTP call to the App)
                writer.write(b"fetch /later\r\n")
                assert await read_line(reader) == b"fetched:200:later"
                # a view that gives up cancels its Deferred: the hub forgets it
                response = await client.get("/next-line", params={"within": "0.02"})
                assert (response.status_code, response.text) == (504, "no line")
                assert hub.waiting == []
            writer.close()
            await writer.wait_closed()
        await tx.as_future(port.stopListening())

    run_on_loop(main, use_uvloop)


class OneShot(LineReceiver):
    """Answers one line, then hangs up (so file descriptors are reused quickly)."""

    def lineReceived(self, line: bytes) -> None:
        cast(Callable[[bytes], None], self.sendLine)(b"echo:" + line)
        cast(Closable, self.transport).loseConnection()


class Asker(LineReceiver):
    """A Twisted client: sends one line, fires ``answer`` with the reply."""

    def __init__(self, question: bytes) -> None:
        self.question = question
        self.answer: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        cast(Callable[[bytes], None], self.sendLine)(self.question)

    def lineReceived(self, line: bytes) -> None:
        self.answer.callback(line)


def factory_of(asker: Asker) -> IProtocolFactory:
    return cast(IProtocolFactory, Factory.forProtocol(lambda: asker))


class UDPEcho(DatagramProtocol):
    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        cast(DatagramSender, self.transport).write(b"udp:" + datagram, addr)


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait(data)


@scenario
def connections_udp_and_threads(use_uvloop: bool) -> None:
    """Many short TCP connections (Twisted and asyncio clients), UDP, callFromThread."""

    async def main() -> None:
        check_loop(use_uvloop)
        reactor = tx.install_reactor()
        server = calls(reactor).listenTCP(0, Factory.forProtocol(OneShot), interface="127.0.0.1")
        port = server.getHost().port
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        for i in range(200):
            asker = Asker(b"t%d" % i)
            await tx.as_future(endpoint.connect(factory_of(asker)))
            assert (
                await asyncio.wait_for(tx.as_future(asker.answer), IO_TIMEOUT_S) == b"echo:t%d" % i
            )
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"a%d\r\n" % i)
            assert await read_line(reader) == b"echo:a%d" % i
            writer.close()

        udp = calls(reactor).listenUDP(0, UDPEcho(), interface="127.0.0.1")
        loop = asyncio.get_running_loop()
        transport, datagrams = await loop.create_datagram_endpoint(
            Datagrams, remote_addr=("127.0.0.1", udp.getHost().port)
        )
        transport.sendto(b"ping")
        assert await asyncio.wait_for(datagrams.received.get(), IO_TIMEOUT_S) == b"udp:ping"
        transport.close()

        from_thread: asyncio.Future[str] = loop.create_future()
        thread = threading.Thread(
            target=calls(reactor).callFromThread, args=(from_thread.set_result, "hello")
        )
        thread.start()
        assert await asyncio.wait_for(from_thread, IO_TIMEOUT_S) == "hello"
        thread.join()
        await tx.as_future(server.stopListening())
        await tx.as_future(udp.stopListening())

    run_on_loop(main, use_uvloop)


@scenario
def deferred_errors_and_cancellation(use_uvloop: bool) -> None:
    """Errors and cancellation through the reactor's own timers."""

    async def main() -> None:
        check_loop(use_uvloop)
        reactor = tx.install_reactor()

        def fail() -> None:
            raise ValueError("from twisted")

        with pytest.raises(ValueError, match="from twisted"):
            await tx.as_future(later(reactor, 0.01, fail))

        # asyncio gives up: Twisted's timer is cancelled
        future = tx.as_future(later(reactor, 30, lambda: None))
        await asyncio.sleep(0.01)
        assert len(reactor.getDelayedCalls()) == 1
        future.cancel()
        await asyncio.sleep(0)
        assert reactor.getDelayedCalls() == []

        # Twisted gives up: the awaiting task sees CancelledError
        deferred = later(reactor, 30, lambda: None)
        calls(reactor).callLater(0.01, deferred.cancel)
        with pytest.raises(asyncio.CancelledError):
            await tx.as_future(deferred)

        # Twisted gives up on a typhoon coroutine: the task is cancelled
        cleaned: list[str] = []

        async def slow() -> None:
            try:
                await asyncio.sleep(30)
            finally:
                cleaned.append("finally")

        outcome: list[Any] = []
        pending = tx.as_deferred(slow())
        pending.addBoth(outcome.append)
        calls(reactor).callLater(0.01, pending.cancel)
        for _ in range(500):
            if cleaned:
                break
            await asyncio.sleep(0.002)
        assert cleaned == ["finally"]
        [failure] = outcome
        assert is_cancelled(failure)

    run_on_loop(main, use_uvloop)


@scenario
def install_is_idempotent_per_loop(use_uvloop: bool) -> None:
    with pytest.raises(RuntimeError, match="needs a running event loop"):
        tx.install_reactor()

    async def main() -> None:
        first = tx.install_reactor()
        assert tx.install_reactor() is first
        assert tx.install_reactor(asyncio.get_running_loop()) is first
        assert tx.installed_reactor() is first
        other = net_loop.new_event_loop(use_uvloop)
        try:
            with pytest.raises(RuntimeError, match="another event loop"):
                tx.install_reactor(other)
        finally:
            other.close()

    run_on_loop(main, use_uvloop)


@scenario
def default_reactor_installed_first(use_uvloop: bool) -> None:
    """``from twisted.internet import reactor`` before install_reactor(): a clear error."""
    from twisted.internet import reactor  # noqa: F401 - installs Twisted's default reactor

    async def main() -> None:
        with pytest.raises(RuntimeError, match="another Twisted reactor") as raised:
            tx.install_reactor()
        message = str(raised.value)
        assert "imported twisted.internet.reactor" in message
        assert "Call install_reactor() first" in message
        assert tx.installed_reactor() is None
        await tx.stop_reactor()  # nothing of ours to stop: a no-op

    net_loop.run(main(), use_uvloop=use_uvloop)

    async def nothing() -> None:
        return None

    with pytest.raises(RuntimeError, match="another Twisted reactor"):
        tx.run(nothing(), use_uvloop=use_uvloop)  # fails the same way; `nothing()` is closed


@scenario
def plain_asyncio_reactor_installed_first(use_uvloop: bool) -> None:
    async def main() -> None:
        from twisted.internet import asyncioreactor

        asyncioreactor.install(asyncio.get_running_loop())  # type: ignore[no-untyped-call]
        with pytest.raises(RuntimeError, match="AsyncioSelectorReactor"):
            tx.install_reactor()

    net_loop.run(main(), use_uvloop=use_uvloop)


@scenario
def shutdown_keeps_the_loop(use_uvloop: bool) -> None:
    """stop_reactor(): Twisted's shutdown triggers run, its port closes, typhoon serves on."""

    async def main() -> None:
        check_loop(use_uvloop)
        reactor = tx.install_reactor()
        with pytest.raises(RuntimeError, match=r"don't call reactor\.run\(\)"):
            reactor.run()

        phases: list[str] = []
        for phase in ("before", "during", "after"):
            reactor.addSystemEventTrigger(phase, "shutdown", phases.append, phase)
        hub = LineHub()
        port = calls(reactor).listenTCP(0, HubFactory(hub), interface="127.0.0.1")
        twisted_port = port.getHost().port
        reader, writer = await asyncio.open_connection("127.0.0.1", twisted_port)
        writer.write(b"one\r\n")
        assert await read_line(reader) == b"seen:one"

        async with HTTPServer(make_app(hub), HTTPConfig(access_log=False)) as server:
            await server.listen_tcp("127.0.0.1", 0)
            calls(reactor).stop()  # Twisted code may stop it too; stop_reactor() then waits
            await asyncio.wait_for(tx.stop_reactor(), IO_TIMEOUT_S)
            assert phases == ["before", "during", "after"]
            assert not reactor.running
            assert reactor.is_shut_down
            assert await asyncio.wait_for(reader.read(), IO_TIMEOUT_S) == b""  # dropped
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", twisted_port)
            async with httpx.AsyncClient(trust_env=False, timeout=IO_TIMEOUT_S) as client:
                response = await client.get(f"http://127.0.0.1:{server.port}/ping")
                assert response.text == "pong"  # typhoon still serves
            await tx.stop_reactor()  # again: a no-op
            with pytest.raises(RuntimeError, match="cannot be restarted"):
                tx.install_reactor()
        writer.close()

    net_loop.run(main(), use_uvloop=use_uvloop)


@scenario
def run_stops_twisted_threads(use_uvloop: bool) -> None:
    """tx.run() installs, runs and stops: Twisted's thread pool does not outlive it."""
    from twisted.internet.threads import deferToThread

    async def main() -> str:
        check_loop(use_uvloop)
        assert tx.installed_reactor() is not None
        answer: str = await tx.as_future(deferToThread(lambda: "from a thread"))
        return answer

    started = time.monotonic()
    assert tx.run(main(), use_uvloop=use_uvloop) == "from a thread"
    reactor = tx.installed_reactor()
    assert reactor is not None
    assert reactor.is_shut_down
    assert time.monotonic() - started < IO_TIMEOUT_S


def main(argv: list[str]) -> int:
    name, loop_kind = argv
    errors = ErrorLog()
    globalLogBeginner.beginLoggingTo([cast(ILogObserver, errors)], redirectStandardIO=False)
    SCENARIOS[name](loop_kind == "uvloop")
    gc.collect()  # an unhandled failure in a dropped Deferred is logged when collected
    if errors.errors:
        print("\n".join(errors.errors), file=sys.stderr)
        return 1
    print(f"ok {name} {loop_kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
