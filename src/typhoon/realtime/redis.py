"""RedisPubSub: one hub shared by every process attached to the same Redis.

Key layout (``prefix`` defaults to ``"typhoon:"``; the topic follows verbatim)::

    {prefix}seq:{topic}   string    the topic's last id (INCR)
    {prefix}log:{topic}   list      its last ``replay`` entries, oldest first
    {prefix}pub:{topic}   channel   every entry, as it is published

An entry is ``b"<id> <msgpack of data>"``: msgpack keeps ``bytes`` and ``str`` apart.

Theory of operation:

1. ``publish`` is one Lua script: INCR the counter, append to the log and trim it,
   PUBLISH the entry. Being atomic, it makes the ids and the channel's order agree.
2. The listener task owns this hub's one pub/sub connection. A topic is SUBSCRIBEd while
   it has local readers; messages are fanned out locally (``PubSub._dispatch``).
3. Every subscribe confirmation triggers a sync: GET the counter and LRANGE the log in
   one MULTI, handed to ``PubSub._synced``. Redis sends the confirmation before any
   message of that channel and the snapshot is taken after it, so replay and live
   messages meet with no gap; duplicates are dropped by id.
4. If the connection drops, the listener logs it, backs off, reconnects and subscribes
   every topic again; their confirmations re-sync them from their last delivered id,
   so nothing still in the replay window is missed. The listener never dies of an error.
5. Unsubscribing is lazy: a forgotten topic only raises a flag, and the listener
   UNSUBSCRIBEs its channel at its next turn (at most ``_TICK_S`` later). An
   unsubscribe confirmation for a channel that is wanted again re-subscribes it.

Only this module imports ``redis``: the rest of typhoon runs without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final, cast
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub as RedisChannels
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from typhoon.realtime.pubsub import Message, Overflow, PubSub, _Topic

__all__ = ["RedisPubSub"]

logger = logging.getLogger("typhoon.pubsub")

# KEYS[1] counter, KEYS[2] log; ARGV[1] encoded data, ARGV[2] replay, ARGV[3] channel.
_PUBLISH_LUA: Final = """
local id = redis.call('INCR', KEYS[1])
local entry = string.format('%d', id) .. ' ' .. ARGV[1]
local keep = tonumber(ARGV[2])
if keep > 0 then
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], -keep, -1)
end
redis.call('PUBLISH', ARGV[3], entry)
return id
"""

_SCHEMES: Final = ("redis://", "rediss://", "unix://")
_TICK_S: Final = 1.0  # the listener's longest sleep: lazy unsubscribes wait at most this
_PING_AFTER_S: Final = 15.0  # silence before a PING; no answer by the next one: reconnect
_BACKOFF_MIN_S: Final = 0.05
_BACKOFF_MAX_S: Final = 5.0
_STABLE_S: Final = 5.0  # a connection that lived this long resets the backoff
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _redact(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisPubSub(PubSub):
    """The hub on Redis: publish in one process, receive in all of them.

    Ids are shared: every process attached to the same Redis and ``prefix`` numbers a
    topic's messages from one counter, and replay comes from Redis, so a client can
    resume on any process. Nothing connects until first use; ``close()`` releases the
    connections. All processes should use the same ``prefix`` and ``replay``.

    Args:
        url: the Redis URL (``redis://``, ``rediss://`` or ``unix://``); redis-py's
            connection options go in its query, e.g. ``?socket_timeout=5``.
        prefix: the start of every key and channel name.
        replay: entries kept per topic in Redis for replay.
        queue_size: the default bound of a subscriber's queue.
        overflow: the default policy of a full queue (see ``PubSub``).

    Raises:
        TypeError, ValueError: a bad argument.

    Example::

        hub = RedisPubSub("redis://127.0.0.1:6379/0", prefix="myapp:")
        await hub.publish("chat:lobby", "hello")   # every process's subscribers get it
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "typhoon:",
        replay: int = 100,
        queue_size: int = 1000,
        overflow: Overflow = "drop_oldest",
    ) -> None:
        super().__init__(replay=replay, queue_size=queue_size, overflow=overflow)
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__name__}")
        if not url.startswith(_SCHEMES):
            raise ValueError(
                f"url must start with redis://, rediss:// or unix://, got {_redact(url)!r}"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        self.url = url
        self.prefix = prefix
        self._channel_prefix = f"{prefix}pub:".encode()
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder().decode
        self._client: aioredis.Redis | None = None
        self._script: AsyncScript | None = None
        self._listener: asyncio.Task[None] | None = None
        # Set while the listener is connected; only then may others SUBSCRIBE on it.
        self._channels: RedisChannels | None = None
        self._subscribed: set[bytes] = set()  # confirmed on the current connection
        self._unsubscribing: set[bytes] = set()
        self._should_reconcile = False
        self._stopping = False

    def __repr__(self) -> str:
        return (
            f"RedisPubSub({_redact(self.url)!r}, prefix={self.prefix!r}, "
            f"replay={self.replay}, queue_size={self.queue_size}, overflow={self.overflow!r})"
        )

    # -- names and entries -----------------------------------------------------------

    def _key(self, kind: str, topic: str) -> str:
        return f"{self.prefix}{kind}:{topic}"

    def _channel(self, topic: str) -> bytes:
        return self._channel_prefix + topic.encode()

    def _topic_of(self, channel: bytes) -> str:
        # Only channels made by _channel() are subscribed: the prefix is there and the
        # rest is UTF-8.
        return channel[len(self._channel_prefix) :].decode()

    def _message(self, topic: str, entry: bytes) -> Message | None:
        head, space, body = entry.partition(b" ")
        try:
            if not space or not head.isdigit():
                raise ValueError("no id")
            return Message(topic, int(head), self._decode(body))
        except (ValueError, msgspec.DecodeError) as exc:
            logger.warning("pub/sub: ignored a malformed entry of topic %r (%s)", topic, exc)
            return None

    def _messages(self, topic: str, entries: list[bytes]) -> list[Message]:
        found = (self._message(topic, entry) for entry in entries)
        return [message for message in found if message is not None]

    # -- backend hooks ---------------------------------------------------------------

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(self.url)
            self._script = self._client.register_script(_PUBLISH_LUA)
        return self._client

    def _unreachable(self, action: str, exc: BaseException) -> ConnectionError:
        return ConnectionError(f"{action}: Redis at {_redact(self.url)} is unreachable ({exc})")

    async def _publish(self, topic: str, data: Any) -> Message:
        client = self._redis()
        assert self._script is not None  # made with the client
        keys = [self._key("seq", topic), self._key("log", topic)]
        args: list[bytes | int] = [self._encode(data), self.replay, self._channel(topic)]
        try:
            new_id = await self._script(keys=keys, args=args, client=client)
        except _UNREACHABLE as exc:
            raise self._unreachable(f"cannot publish to {topic!r}", exc) from exc
        return Message(topic, int(new_id), data)

    async def _history(self, topic: str, after: int) -> list[Message]:
        try:
            entries = await self._redis().lrange(self._key("log", topic), 0, -1)
        except _UNREACHABLE as exc:
            raise self._unreachable(f"cannot read the history of {topic!r}", exc) from exc
        found = self._messages(topic, cast("list[bytes]", entries))  # no decode_responses
        return [message for message in found if message.id > after]

    def _new_topic(self, name: str) -> _Topic:
        return _Topic(name, self.replay, ready=False)  # ready once synced (rule 3)

    async def _topic_opened(self, topic: _Topic) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"typhoon pub/sub listener ({self.prefix})"
            )
        channels = self._channels
        if channels is None:
            return  # the listener subscribes every topic when it (re)connects
        try:
            await channels.subscribe(self._channel(topic.name))
        except _UNREACHABLE:
            pass  # the listener sees the same failure, reconnects and subscribes again

    def _topic_closed(self, topic: _Topic) -> None:
        self._should_reconcile = True  # rule 5

    async def _close(self) -> None:
        self._stopping = True
        listener, self._listener = self._listener, None
        if listener is not None:
            # On Python 3.11 a cancellation can be lost: redis-py sends commands through
            # asyncio.wait_for, which swallows a cancel that lands as the send completes.
            # So cancel until the task is done; the flag also ends its loop.
            while not listener.done():
                listener.cancel()
                await asyncio.wait([listener], timeout=0.05)
        client, self._client = self._client, None
        self._script = None
        if client is not None:
            await client.aclose()

    # -- the listener ------------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        delay = _BACKOFF_MIN_S
        failures = 0
        while not self._stopping:
            channels = self._redis().pubsub()
            started = loop.time()
            try:
                await channels.connect()  # type: ignore[no-untyped-call]
                self._subscribed.clear()
                self._unsubscribing.clear()
                # One step with no await: a topic opened from now on subscribes itself.
                self._channels = channels
                wanted = [self._channel(name) for name in self._topics]
                if wanted:
                    await channels.subscribe(*wanted)
                if failures:
                    logger.warning("pub/sub: reconnected to Redis at %s", _redact(self.url))
                    failures = 0
                await self._read(channels)
            except _UNREACHABLE as exc:
                failures += 1
                if loop.time() - started >= _STABLE_S:
                    delay = _BACKOFF_MIN_S
                logger.warning(
                    "pub/sub: connection to Redis lost, or Redis at %s is unreachable (%s); "
                    "retrying in %.2f s",
                    _redact(self.url),
                    exc or type(exc).__name__,
                    delay,
                )
            except Exception:
                failures += 1
                logger.exception("pub/sub: listener error; reconnecting in %.2f s", delay)
            finally:
                self._channels = None
                with contextlib.suppress(Exception):
                    await channels.aclose()  # type: ignore[no-untyped-call]
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)

    async def _read(self, channels: RedisChannels) -> None:
        silent_s = 0.0
        pinged = False
        while not self._stopping:
            if self._should_reconcile:
                await self._unsubscribe_idle(channels)
            response = await channels.get_message(timeout=_TICK_S)
            if response is None:
                silent_s += _TICK_S
                if silent_s >= _PING_AFTER_S:
                    if pinged:
                        raise ConnectionError("no answer to PING")
                    await channels.ping()
                    pinged, silent_s = True, 0.0
                continue
            silent_s, pinged = 0.0, False
            kind = response["type"]
            channel = response["channel"]
            if kind == "message":
                self._received(channel, response["data"])
            elif kind == "subscribe":
                self._subscribed.add(channel)
                await self._sync(channel)
            elif kind == "unsubscribe":
                self._subscribed.discard(channel)
                self._unsubscribing.discard(channel)
                if self._topic_of(channel) in self._topics:
                    await channels.subscribe(channel)  # wanted again meanwhile

    def _received(self, channel: bytes, entry: bytes) -> None:
        name = self._topic_of(channel)
        topic = self._topics.get(name)
        if topic is None:
            self._should_reconcile = True  # a channel nobody here reads any more
            return
        message = self._message(name, entry)
        # Before the topic is synced its snapshot will carry the message; after, an id
        # at or below last_id was delivered already (rule 3).
        if message is not None and topic.ready and message.id > topic.last_id:
            self._dispatch(topic, message)

    async def _sync(self, channel: bytes) -> None:
        name = self._topic_of(channel)
        if name not in self._topics:
            self._should_reconcile = True
            return
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.get(self._key("seq", name))
            pipe.lrange(self._key("log", name), 0, -1)
            raw_last, entries = await pipe.execute()
        topic = self._topics.get(name)
        if topic is None:
            return
        self._synced(topic, int(raw_last or 0), self._messages(name, entries))

    async def _unsubscribe_idle(self, channels: RedisChannels) -> None:
        self._should_reconcile = False
        stale = [
            channel
            for channel in self._subscribed
            if channel not in self._unsubscribing and self._topic_of(channel) not in self._topics
        ]
        if stale:
            self._unsubscribing.update(stale)
            await channels.unsubscribe(*stale)
