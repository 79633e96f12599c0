"""The publish/subscribe hub: numbered messages per topic, replay, bounded fan-out.

A hub keeps one ``_Topic`` for every topic that has a local reader (a started
``Subscription`` or a parked ``wait()``) or, in memory, messages to replay. A topic
holds the id of the last message it has seen, its replay buffer, the inboxes of the
subscriptions reading it and the futures of the ``wait()`` calls parked on it.

Rules:

1. Every message reaches local readers through ``PubSub._dispatch``. It is the only
   place that appends to a replay buffer, moves ``last_id`` forward and wakes readers.
   A backend brings messages to ``_dispatch`` in id order (memory: at once, from
   ``publish``; Redis: from its listener) and calls ``_synced`` when it has read a
   topic's history from elsewhere.
2. Nothing grows without bound. Replay buffers are deques with ``maxlen``; an inbox's
   queue is capped by its overflow policy; a topic with no reader, no waiter and nothing
   to replay is forgotten when its last reader leaves (``_release``). A subscription that
   is dropped without ``close()`` is detached when it is garbage-collected.
3. A reader never sees an id twice or out of order. Each inbox remembers, per topic,
   the last id it yielded and skips anything at or below it: this is what makes
   "replay, then live" gap-free and duplicate-free when the two overlap.
4. The hub never blocks a publisher on a slow reader. Overflow is settled inside
   ``_dispatch`` by the reader's policy: drop its oldest queued message, or fail it.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from typhoon.realtime._pubsub_input import (
    Overflow,
    check_data,
    check_id,
    check_int,
    check_overflow,
    check_timeout,
    check_topic,
    format_cursor,
    parse_cursor,
)

__all__ = [
    "MemoryPubSub",
    "Message",
    "Overflow",
    "PubSub",
    "SlowConsumer",
    "Subscription",
    "hub_from_setting",
]

logger = logging.getLogger("typhoon.pubsub")


@dataclass(frozen=True, slots=True)
class Message:
    """One published message.

    Attributes:
        topic: the topic it was published to.
        id: its number in the topic: 1, 2, 3 … strictly increasing. With Redis, every
            process attached to the same Redis shares the numbering.
        data: what was published: ``str``, ``bytes`` or a JSON-able value.
    """

    topic: str
    id: int
    data: Any


class SlowConsumer(Exception):
    """A subscription under ``overflow="disconnect"`` fell more than its queue behind.

    Raised by the subscription's iteration; the subscription is closed by then.

    Attributes:
        topics: the subscription's topics.
        queue_size: the bound it went over.
    """

    def __init__(self, topics: tuple[str, ...], queue_size: int) -> None:
        self.topics = topics
        self.queue_size = queue_size
        names = ", ".join(repr(topic) for topic in topics)
        super().__init__(
            f"subscriber of {names} fell more than {queue_size} messages behind "
            f'and was disconnected (overflow="disconnect")'
        )


# -- hub state -------------------------------------------------------------------------


class _Topic:
    """What a hub knows about one topic (see the module's rules)."""

    __slots__ = ("buffer", "inboxes", "last_id", "name", "ready", "waiters")

    def __init__(self, name: str, replay: int, *, ready: bool) -> None:
        self.name = name
        self.last_id = 0
        self.buffer: deque[Message] = deque(maxlen=replay)
        self.inboxes: set[_Inbox] = set()
        self.waiters: set[asyncio.Future[Message | None]] = set()
        # False until the backend has learnt last_id and the history (Redis).
        self.ready = ready

    def after(self, after: int, limit: int | None = None) -> list[Message]:
        """The buffered messages with an id above ``after``, oldest first."""
        if not self.buffer or self.buffer[-1].id <= after:
            return []
        found = [message for message in self.buffer if message.id > after]
        return found if limit is None else found[:limit]

    def wake_waiters(self, message: Message | None) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(message)
        self.waiters.clear()


class _Inbox:
    """The part of a subscription the hub holds: its queue, positions and wake-up.

    It never refers back to its ``Subscription``, so a subscription dropped without
    ``close()`` can be garbage-collected (and detached by its finalizer).
    """

    __slots__ = (
        "backlog",
        "closed",
        "dropped",
        "failed",
        "overflow",
        "positions",
        "queue",
        "queue_size",
        "topics",
        "wakeup",
    )

    def __init__(
        self,
        topics: tuple[str, ...],
        positions: dict[str, int | None],
        queue_size: int,
        overflow: Overflow,
    ) -> None:
        self.topics = topics
        # Per topic: the last id yielded (or the id to resume after); None: "from now",
        # fixed to the topic's last id when the topic is ready.
        self.positions = positions
        self.queue_size = queue_size
        self.overflow = overflow
        self.backlog: deque[Message] = deque()  # replayed messages: at most `replay` a topic
        self.queue: deque[Message] = deque()  # live messages: at most `queue_size`
        self.dropped = 0
        self.failed = False
        self.closed = False
        self.wakeup: asyncio.Event | None = None

    def topic_ready(self, topic: _Topic) -> None:
        """Take the replay for ``topic``: what its buffer holds after our position."""
        position = self.positions[topic.name]
        if position is None:
            self.positions[topic.name] = topic.last_id
            return
        if position > topic.last_id:
            # A position from a previous life of the hub (memory restarted, Redis
            # flushed): every message the topic has now is new to this reader.
            position = self.positions[topic.name] = 0
        self.backlog.extend(topic.after(position))
        self._wake()

    def deliver(self, message: Message) -> bool:
        """Queue a live message; False when the policy says to disconnect this reader."""
        queue = self.queue
        if len(queue) >= self.queue_size:
            if self.overflow == "disconnect":
                self.failed = True
                self.close()
                return False
            queue.popleft()
            self.dropped += 1
        queue.append(message)
        self._wake()
        return True

    def close(self) -> None:
        self.closed = True
        self.queue.clear()
        self.backlog.clear()
        self._wake()

    def _wake(self) -> None:
        if self.wakeup is not None:
            self.wakeup.set()


class Subscription:
    """A reader of one or more topics: an async iterator of ``Message``.

    Built by ``PubSub.subscribe``; nothing is registered with the hub until the first
    ``__anext__`` (or ``async with``), so ``resume_from`` can still be called after the
    subscription has been handed to a response. Iteration ends on ``close()`` or when
    the hub drains, and raises ``SlowConsumer`` under ``overflow="disconnect"``.

    Example::

        async with hub.subscribe("chat:lobby") as messages:
            async for message in messages:
                print(message.id, message.data)
    """

    __slots__ = ("__weakref__", "_finalizer", "_hub", "_inbox", "_started")

    def __init__(
        self,
        hub: PubSub,
        topics: tuple[str, ...],
        positions: dict[str, int | None],
        queue_size: int,
        overflow: Overflow,
    ) -> None:
        self._hub = hub
        self._inbox = _Inbox(topics, positions, queue_size, overflow)
        self._started = False
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read, in the order given to ``subscribe``."""
        return self._inbox.topics

    @property
    def dropped(self) -> int:
        """How many live messages ``overflow="drop_oldest"`` has dropped so far."""
        return self._inbox.dropped

    @property
    def cursor(self) -> str:
        """The position after the last message yielded, to give back to ``resume_from``.

        One topic: the id, e.g. ``"7"``. Several topics: ``"a=7,b=3"``, one
        ``topic=id`` pair per topic whose position is known, each topic percent-encoded
        (``%``, ``,``, ``=``, spaces, controls and non-ASCII characters), so the token is
        a single header-safe line. Before the subscription has started, a topic read
        "from now" has no position yet and is left out ("" for a single topic).
        """
        return format_cursor(self._inbox.topics, self._inbox.positions)

    def resume_from(self, cursor: str) -> None:
        """Start after ``cursor`` (a ``Last-Event-ID``): replay what came after it.

        Must be called before iteration starts. An empty token changes nothing; a topic
        the token does not name keeps the position given to ``subscribe``; topics the
        subscription does not read are ignored.

        Raises:
            TypeError: ``cursor`` is not a str.
            ValueError: ``cursor`` is malformed (the message quotes it).
            RuntimeError: iteration has already started.
        """
        if not isinstance(cursor, str):
            raise TypeError(f"cursor must be a str, got {type(cursor).__name__}")
        if self._started:
            raise RuntimeError("resume_from() must be called before iteration starts")
        self._inbox.positions.update(parse_cursor(cursor, self._inbox.topics))

    def close(self) -> None:
        """Stop reading: iteration ends (``StopAsyncIteration``); idempotent."""
        self._started = True
        inbox = self._inbox
        inbox.failed = False  # closed by its reader: no SlowConsumer to report any more
        inbox.close()
        if self._finalizer is not None:
            self._finalizer()  # detaches the inbox from the hub, once

    async def _start(self) -> None:
        self._started = True
        hub = self._hub
        inbox = self._inbox
        if hub.is_draining:
            inbox.closed = True
            return
        inbox.wakeup = asyncio.Event()
        finalizer = weakref.finalize(self, hub._detach, inbox)
        finalizer.atexit = False
        self._finalizer = finalizer
        await hub._attach(inbox)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        if not self._started:
            await self._start()
        inbox = self._inbox
        positions = inbox.positions
        while True:
            if inbox.failed:
                inbox.failed = False  # raised once; afterwards the iteration has ended
                raise SlowConsumer(inbox.topics, inbox.queue_size)
            if inbox.closed:
                raise StopAsyncIteration
            if inbox.backlog:
                message = inbox.backlog.popleft()
            elif inbox.queue:
                message = inbox.queue.popleft()
            else:
                assert inbox.wakeup is not None  # set by _start unless closed
                inbox.wakeup.clear()
                await inbox.wakeup.wait()
                continue
            last = positions[message.topic]
            if last is not None and message.id <= last:
                continue
            positions[message.topic] = message.id
            return message

    async def __aenter__(self) -> Self:
        if not self._started:
            await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._inbox.closed else "started" if self._started else "new"
        return f"<Subscription {list(self.topics)!r} {state} cursor={self.cursor!r}>"


# -- the hub ---------------------------------------------------------------------------


class PubSub(abc.ABC):
    """Publish messages to topics and read them back: live, replayed or long-polled.

    The shared logic of every backend: topic state, replay buffers, fan-out into
    bounded per-subscriber queues, ``wait()`` and drain. A backend supplies
    ``_publish`` and ``_history`` and, when messages come from elsewhere, the topic
    open/close hooks. ``MemoryPubSub`` is the default backend; ``RedisPubSub``
    (``typhoon.realtime.redis``) shares messages between processes.

    Args:
        replay: messages kept per topic for replay (``after=``, ``resume_from``,
            ``wait()``, ``history()``); 0 keeps none.
        queue_size: the default bound of a subscriber's queue of live messages.
        overflow: what happens when a subscriber's queue is full and a message
            arrives: ``"drop_oldest"`` (default) drops the oldest queued message and
            counts it in ``Subscription.dropped``; ``"disconnect"`` ends that
            subscriber's iteration with ``SlowConsumer``.

    Raises:
        TypeError: a count is not an int.
        ValueError: ``replay`` < 0, ``queue_size`` < 1, or an unknown ``overflow``.
    """

    def __init__(
        self, *, replay: int = 100, queue_size: int = 1000, overflow: Overflow = "drop_oldest"
    ) -> None:
        self.replay: int = check_int(replay, "replay", 0)
        self.queue_size: int = check_int(queue_size, "queue_size", 1)
        self.overflow: Overflow = check_overflow(overflow)
        self._topics: dict[str, _Topic] = {}
        self._draining = False
        self._closed = False

    @property
    def is_draining(self) -> bool:
        """True once ``drain()`` or ``close()`` has been called."""
        return self._draining

    # -- public API ----------------------------------------------------------------

    async def publish(self, topic: str, data: Any) -> Message:
        """Publish ``data`` to ``topic`` and return the message with its id.

        Args:
            topic: a non-empty str.
            data: ``str``, ``bytes`` or a JSON-able value (dict with str keys, list,
                str, int, float, bool, None). The hub keeps a reference: do not mutate
                it afterwards.

        Raises:
            TypeError, ValueError: a bad topic, or data no backend can carry.
            RuntimeError: the hub is closed.
            ConnectionError: the backend is unreachable (Redis).

        Example::

            message = await hub.publish("chat:lobby", {"user": "ann", "text": "hi"})
            print(message.id)
        """
        check_topic(topic)
        check_data(data)
        self._check_open()
        return await self._publish(topic, data)

    def subscribe(
        self,
        *topics: str,
        after: int | Mapping[str, int] | None = None,
        queue_size: int | None = None,
        overflow: Overflow | None = None,
    ) -> Subscription:
        """Read ``topics``: replayed messages after ``after``, then live ones.

        Args:
            topics: one or more topic names (duplicates are read once).
            after: ``None`` (default): only messages published once the subscription
                has started. An id: the buffered messages above it first, for every
                topic. A mapping ``{topic: id}``: per topic; topics it leaves out are
                read from now. Replay and live messages meet with no gap and no
                duplicate.
            queue_size: this subscriber's bound (default: the hub's).
            overflow: this subscriber's policy (default: the hub's).

        Raises:
            TypeError, ValueError: no topic, a bad topic, ``after``, ``queue_size`` or
                ``overflow``.

        Example::

            async for message in hub.subscribe("news", after=41):
                ...  # 42, 43 … from the replay buffer, then live messages
        """
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        for topic in topics:
            check_topic(topic, "topics")
        names = tuple(dict.fromkeys(topics))
        positions: dict[str, int | None] = dict.fromkeys(names)
        if isinstance(after, Mapping):
            for topic, position in after.items():
                if topic not in positions:
                    raise ValueError(f"after names {topic!r}, which is not among the topics")
                positions[topic] = check_id(position, f"after[{topic!r}]")
        elif after is not None:
            position = check_id(after, "after")
            positions = dict.fromkeys(names, position)
        size = self.queue_size if queue_size is None else check_int(queue_size, "queue_size", 1)
        policy = self.overflow if overflow is None else check_overflow(overflow)
        return Subscription(self, names, positions, size, policy)

    async def wait(
        self,
        topic: str,
        *,
        after: int | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 -- the long-poll deadline is part of the API
        limit: int = 100,
    ) -> tuple[list[Message], int]:
        """Long polling: the messages after ``after``, waiting up to ``timeout`` for one.

        Returns at once when the replay buffer holds messages above ``after`` (at most
        ``limit``, oldest first); otherwise waits for the next message. A cursor ahead of
        the topic's last id (the hub restarted) counts as 0. Cancelling the call leaves
        nothing behind.

        Args:
            topic: the topic.
            after: the client's cursor; ``None``: from now.
            timeout: seconds to wait when nothing is buffered (0: do not wait).
            limit: the most messages returned.

        Returns:
            ``(messages, cursor)``: the cursor is the id of the last message returned,
            else the cursor the call waited after (``([], after)`` on timeout or drain).

        Raises:
            TypeError, ValueError: a bad argument.
            RuntimeError: the hub is closed.
            ConnectionError: ``after`` is None and the backend could not tell the
                topic's last id within ``timeout`` (Redis unreachable).

        Example::

            messages, cursor = await hub.wait("news", after=int(request.query["after"]))
            return {"messages": [m.data for m in messages], "cursor": cursor}
        """
        check_topic(topic)
        cursor = None if after is None else check_id(after, "after")
        seconds = check_timeout(timeout)
        check_int(limit, "limit", 1)
        self._check_open()
        state, created = self._acquire(topic)
        try:
            async with asyncio.timeout(seconds):
                if created:
                    await self._topic_opened(state)
                while True:
                    if state.ready:
                        if cursor is None:
                            cursor = state.last_id
                        elif cursor > state.last_id:
                            cursor = 0
                        found = state.after(cursor, limit)
                        if found:
                            return found, found[-1].id
                    if self._draining:
                        break
                    waiter = asyncio.get_running_loop().create_future()
                    state.waiters.add(waiter)
                    try:
                        message = await waiter
                    finally:
                        state.waiters.discard(waiter)
                    # replay=0: the message that woke us is the only copy of it.
                    if message is None or state.buffer or not state.ready or cursor is None:
                        continue
                    if message.id > cursor:
                        return [message], message.id
        except TimeoutError:
            pass
        finally:
            self._release(state)
        if cursor is None:
            if self._draining:
                return [], state.last_id
            raise ConnectionError(
                f"could not learn the last id of {topic!r} within {timeout} s: "
                "the pub/sub backend is unreachable"
            )
        return [], cursor

    async def history(self, topic: str, *, after: int = 0) -> list[Message]:
        """The messages of ``topic`` still kept for replay with an id above ``after``.

        Raises:
            TypeError, ValueError: a bad argument.
            RuntimeError: the hub is closed.
            ConnectionError: the backend is unreachable (Redis).
        """
        check_topic(topic)
        position = check_id(after, "after")
        self._check_open()
        return await self._history(topic, position)

    def drain(self) -> None:
        """Begin a graceful shutdown: end every subscription, wake every ``wait()``.

        Started subscriptions stop (``StopAsyncIteration``); ones started later end at
        once; parked ``wait()`` calls return what they have. ``publish`` still works,
        so requests in flight can finish. Idempotent.
        """
        self._draining = True
        for topic in list(self._topics.values()):
            for inbox in list(topic.inboxes):
                inbox.close()
                self._detach(inbox)
            topic.wake_waiters(None)

    async def close(self) -> None:
        """Drain, then release the backend; later calls to the hub raise RuntimeError.

        Idempotent.
        """
        if self._closed:
            return
        self.drain()
        self._closed = True
        await self._close()
        self._topics.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(replay={self.replay}, queue_size={self.queue_size}, "
            f"overflow={self.overflow!r})"
        )

    # -- backend hooks ---------------------------------------------------------------

    @abc.abstractmethod
    async def _publish(self, topic: str, data: Any) -> Message:
        """Give the message an id and get it to every reader (rule 1)."""
        raise NotImplementedError

    @abc.abstractmethod
    async def _history(self, topic: str, after: int) -> list[Message]:
        """The kept messages of ``topic`` above ``after``, oldest first."""
        raise NotImplementedError

    async def _topic_opened(self, topic: _Topic) -> None:  # noqa: B027 -- optional hook
        """A new topic has a local reader: start receiving it (then ``_synced``)."""

    def _topic_closed(self, topic: _Topic) -> None:  # noqa: B027 -- optional hook
        """``topic`` has been forgotten: stop receiving it. Must not await."""

    def _should_keep(self, topic: _Topic) -> bool:
        """Whether an idle topic stays in memory (it holds the only replay copy)."""
        return False

    async def _close(self) -> None:  # noqa: B027 -- optional hook
        """Release the backend's resources."""

    # -- shared machinery --------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def _new_topic(self, name: str) -> _Topic:
        return _Topic(name, self.replay, ready=True)

    def _acquire(self, name: str) -> tuple[_Topic, bool]:
        topic = self._topics.get(name)
        if topic is not None:
            return topic, False
        topic = self._topics[name] = self._new_topic(name)
        return topic, True

    def _release(self, topic: _Topic) -> None:
        """Forget ``topic`` once nobody reads it and it has nothing to keep (rule 2)."""
        if topic.inboxes or topic.waiters or self._should_keep(topic):
            return
        if self._topics.get(topic.name) is topic:
            del self._topics[topic.name]
            self._topic_closed(topic)

    async def _attach(self, inbox: _Inbox) -> None:
        opened: list[_Topic] = []
        for name in inbox.topics:
            topic, created = self._acquire(name)
            topic.inboxes.add(inbox)
            if created:
                opened.append(topic)
            if topic.ready:
                inbox.topic_ready(topic)
        for topic in opened:
            await self._topic_opened(topic)

    def _detach(self, inbox: _Inbox) -> None:
        for name in inbox.topics:
            topic = self._topics.get(name)
            if topic is not None and inbox in topic.inboxes:
                topic.inboxes.discard(inbox)
                self._release(topic)

    def _dispatch(self, topic: _Topic, message: Message) -> None:
        """Record ``message`` and hand it to every reader of ``topic`` (rule 1)."""
        topic.last_id = message.id
        topic.buffer.append(message)
        failed = [inbox for inbox in topic.inboxes if not inbox.deliver(message)]
        for inbox in failed:
            self._detach(inbox)
        if topic.waiters:
            topic.wake_waiters(message)

    def _synced(self, topic: _Topic, last_id: int, history: list[Message]) -> None:
        """Apply what a backend read about ``topic``: its last id and kept messages.

        The first time, this fills the buffer, fixes the readers' starting positions
        and hands them their replay. Later (after a reconnection), it dispatches what
        was missed, and logs what fell out of the replay window meanwhile.
        """
        if not topic.ready:
            topic.buffer.clear()
            topic.buffer.extend(message for message in history if message.id <= last_id)
            topic.last_id = last_id
            topic.ready = True
            for inbox in topic.inboxes:
                inbox.topic_ready(topic)
            topic.wake_waiters(None)
            return
        before = topic.last_id
        if last_id < before:
            # The backend lost its counters (e.g. Redis restarted without persistence):
            # ids start again; readers positioned beyond them are reset.
            logger.warning(
                "pub/sub: the last id of topic %r went back from %d to %d "
                "(the backend lost its data?); ids start again",
                topic.name,
                before,
                last_id,
            )
            topic.buffer.clear()
            topic.last_id = before = 0
            for inbox in topic.inboxes:
                inbox.positions[topic.name] = 0
        missed = [message for message in history if before < message.id <= last_id]
        for message in missed:
            self._dispatch(topic, message)
        topic.last_id = max(topic.last_id, last_id)
        if (lost := last_id - before - len(missed)) > 0:
            logger.warning(
                "pub/sub: %d message(s) of topic %r were published while disconnected "
                "and are no longer in the replay window",
                lost,
                topic.name,
            )


class MemoryPubSub(PubSub):
    """The in-process hub (the default): every reader lives in this process.

    Ids start at 1 per topic. A topic is kept while it has readers or buffered messages;
    with ``replay=0`` a topic nobody reads is forgotten and its ids start again at 1.

    Example::

        hub = MemoryPubSub(replay=50)
        await hub.publish("news", "hello")
        assert [m.data for m in await hub.history("news")] == ["hello"]
    """

    async def _publish(self, topic: str, data: Any) -> Message:
        state = self._topics.get(topic)
        if state is None:
            if not self.replay:
                return Message(topic, 1, data)  # nobody reads it and nothing is kept
            state = self._topics[topic] = self._new_topic(topic)
        message = Message(topic, state.last_id + 1, data)
        self._dispatch(state, message)
        return message

    async def _history(self, topic: str, after: int) -> list[Message]:
        state = self._topics.get(topic)
        return [] if state is None else state.after(after)

    def _should_keep(self, topic: _Topic) -> bool:
        return bool(topic.buffer)


def hub_from_setting(value: object) -> PubSub:
    """Build the hub an ``App(pubsub=...)`` setting names.

    Args:
        value: ``None`` or ``"memory"``: a ``MemoryPubSub``; a ``redis://``,
            ``rediss://`` or ``unix://`` URL: a ``RedisPubSub`` on it; a ``PubSub``:
            itself.

    Raises:
        TypeError, ValueError: anything else (the message names ``pubsub``).
        ImportError: a Redis URL without the ``redis`` package installed.

    Example::

        hub = hub_from_setting(os.environ.get("PUBSUB_URL"))   # None → memory
    """
    if value is None or value == "memory":
        return MemoryPubSub()
    if isinstance(value, PubSub):
        return value
    if isinstance(value, str):
        if value.startswith(("redis://", "rediss://", "unix://")):
            try:
                from typhoon.realtime.redis import RedisPubSub
            except ModuleNotFoundError as exc:
                raise ImportError(
                    "pubsub=<a Redis URL> needs the redis package: pip install 'typhoon[redis]'"
                ) from exc
            return RedisPubSub(value)
        raise ValueError(f"pubsub must be 'memory', a redis:// URL or a PubSub, got {value!r}")
    raise TypeError(
        f"pubsub must be None, 'memory', a redis:// URL or a PubSub, got {type(value).__name__}"
    )
