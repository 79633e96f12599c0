"""PostgresPubSub: the hub on PostgreSQL LISTEN/NOTIFY, for apps that run PostgreSQL anyway.

Tables (``table`` defaults to ``"typhoon_pubsub"``), created on first use::

    {table}_topics (topic text PRIMARY KEY, last_id bigint)          each topic's last id
    {table}_log    (topic text, id bigint, data bytea, PK (topic, id))  its last ``replay``

and one notification channel, named ``table``, for every topic.

Theory of operation:

1. ``publish`` is one statement: upsert the topic's counter (its row lock orders the
   topic's publishers), insert into the log and trim it, and ``pg_notify`` the JSON
   ``[id, topic, data]``. NOTIFY is delivered in commit order, which is id order. The
   data (msgpack, base64) travels in the notification when it fits NOTIFY's 8000 bytes;
   otherwise it is ``null`` and listeners read the row from the log.
2. One connection per hub LISTENs. Its notifications, and the syncs of newly opened
   topics, go through one queue that the listener task handles in arrival order.
3. A sync reads a topic's counter and log in one REPEATABLE READ transaction, after
   LISTEN is in effect, and hands them to ``PubSub._synced``. A notification handled
   before the sync is for a commit the snapshot already holds; one handled after it with
   an id at or below the snapshot's is a duplicate (dropped by id).
4. If the connection drops, the listener logs it, backs off, reconnects and queues a
   sync of every topic: each catches up from its last delivered id.

Only this module imports ``asyncpg``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import msgspec

from typhoon.realtime.pubsub import Message, Overflow, PubSub, _Topic

__all__ = ["PostgresPubSub"]

logger = logging.getLogger("typhoon.pubsub")

_is_table_name = re.compile(r"[a-z_][a-z0-9_]{0,40}").fullmatch
_NOTIFY_LIMIT_BYTES: Final = 7900  # PostgreSQL refuses payloads of 8000 bytes and more
_PING_AFTER_S: Final = 15.0
_BACKOFF_MIN_S: Final = 0.05
_BACKOFF_MAX_S: Final = 5.0
_STABLE_S: Final = 5.0
_UNREACHABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError)

_SYNC: Final = "sync"
_NOTE: Final = "note"
_LOST: Final = "lost"


class PostgresPubSub(PubSub):
    """The hub on PostgreSQL: publish in one process, receive in all of them.

    Shares ids and replay between processes like ``RedisPubSub``, through two tables
    and LISTEN/NOTIFY. Every process receives the notifications of every topic (one
    channel) and keeps those it has readers for, so prefer Redis for heavy traffic.
    Nothing connects until first use; ``close()`` releases the connections.

    Args:
        dsn: the PostgreSQL DSN; asyncpg reads server settings from its query, e.g.
            ``?application_name=web``.
        table: the prefix of the two table names and the channel name: lowercase
            letters, digits and ``_``, at most 41 characters.
        replay: messages kept per topic in the log for replay.
        queue_size: the default bound of a subscriber's queue.
        overflow: the default policy of a full queue (see ``PubSub``).

    Raises:
        TypeError, ValueError: a bad argument.

    Example::

        hub = PostgresPubSub("postgresql://app@db.internal/app", table="chat_pubsub")
        await hub.publish("room:1", {"text": "hi"})
    """

    def __init__(
        self,
        dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
        *,
        table: str = "typhoon_pubsub",
        replay: int = 100,
        queue_size: int = 1000,
        overflow: Overflow = "drop_oldest",
    ) -> None:
        super().__init__(replay=replay, queue_size=queue_size, overflow=overflow)
        if not isinstance(dsn, str):
            raise TypeError(f"dsn must be a str, got {type(dsn).__name__}")
        if not dsn.startswith(("postgresql://", "postgres://")):
            raise ValueError("dsn must start with postgresql:// or postgres://")
        if not isinstance(table, str) or not _is_table_name(table):
            raise ValueError(
                f"table must be lowercase letters, digits and _ (at most 41), got {table!r}"
            )
        self.dsn = dsn
        self.table = table
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder().decode
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._connection: Any = None  # the LISTEN connection, while it is up
        self._stopping = False
        topics, log = f"{table}_topics", f"{table}_log"
        self._schema = f"""
            CREATE TABLE IF NOT EXISTS {topics} (topic text PRIMARY KEY, last_id bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS {log} (
                topic text NOT NULL, id bigint NOT NULL, data bytea NOT NULL,
                PRIMARY KEY (topic, id)
            )
        """
        # $1 topic, $2 data, $3 replay, $4 data for the notification (base64 or null).
        self._publish_sql = f"""
            WITH c AS (
                INSERT INTO {topics} AS t (topic, last_id) VALUES ($1, 1)
                ON CONFLICT (topic) DO UPDATE SET last_id = t.last_id + 1
                RETURNING last_id
            ), kept AS (
                INSERT INTO {log} (topic, id, data) SELECT $1, last_id, $2 FROM c WHERE $3::int > 0
            ), trimmed AS (
                DELETE FROM {log} WHERE topic = $1 AND id <= (SELECT last_id FROM c) - $3::int
            )
            SELECT last_id, pg_notify('{table}', json_build_array(last_id, $1, $4::text)::text)
            FROM c
        """
        self._last_id_sql = f"SELECT last_id FROM {topics} WHERE topic = $1"
        self._log_sql = f"SELECT id, data FROM {log} WHERE topic = $1 AND id > $2 ORDER BY id"

    def __repr__(self) -> str:
        return (
            f"PostgresPubSub(table={self.table!r}, replay={self.replay}, "
            f"queue_size={self.queue_size}, overflow={self.overflow!r})"
        )

    # -- connections -------------------------------------------------------------------

    async def _connect(self) -> Any:
        """The pool, made (and the tables created) on first use."""
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is None:
                pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
                try:
                    async with pool.acquire() as connection, connection.transaction():
                        # Two processes creating the tables at once would collide.
                        await connection.execute(
                            "SELECT pg_advisory_xact_lock(hashtext($1))", self.table
                        )
                        await connection.execute(self._schema)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    def _unreachable(self, action: str, exc: BaseException) -> ConnectionError:
        return ConnectionError(f"{action}: PostgreSQL is unreachable ({exc})")

    # -- backend hooks -----------------------------------------------------------------

    async def _publish(self, topic: str, data: Any) -> Message:
        encoded = self._encode(data)
        inline: str | None = base64.b64encode(encoded).decode()
        overhead = len(json.dumps(topic, ensure_ascii=False).encode()) + 40
        if len(inline or "") + overhead > _NOTIFY_LIMIT_BYTES:
            if not self.replay:
                raise ValueError(
                    "data is too large for a PostgreSQL notification (8000 bytes) and "
                    "replay=0 keeps no copy to read it from"
                )
            inline = None  # listeners read it from the log
        try:
            pool = await self._connect()
            row = await pool.fetchrow(self._publish_sql, topic, encoded, self.replay, inline)
        except _UNREACHABLE as exc:
            raise self._unreachable(f"cannot publish to {topic!r}", exc) from exc
        return Message(topic, int(row["last_id"]), data)

    async def _history(self, topic: str, after: int) -> list[Message]:
        try:
            pool = await self._connect()
            rows = await pool.fetch(self._log_sql, topic, after)
        except _UNREACHABLE as exc:
            raise self._unreachable(f"cannot read the history of {topic!r}", exc) from exc
        return [Message(topic, row["id"], self._decode(row["data"])) for row in rows]

    def _new_topic(self, name: str) -> _Topic:
        return _Topic(name, self.replay, ready=False)  # ready once synced (rule 3)

    async def _topic_opened(self, topic: _Topic) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"typhoon pub/sub listener ({self.table})"
            )
        if self._connection is not None:
            self._queue.put_nowait((_SYNC, topic.name))
        # else: the listener queues a sync of every topic when it (re)connects

    async def _close(self) -> None:
        self._stopping = True
        listener, self._listener = self._listener, None
        if listener is not None:
            while not listener.done():  # see RedisPubSub._close
                listener.cancel()
                await asyncio.wait([listener], timeout=0.05)
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # -- the listener --------------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        delay = _BACKOFF_MIN_S
        failures = 0
        while not self._stopping:
            started = loop.time()
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn)
                connection.add_termination_listener(self._terminated)
                await connection.add_listener(self.table, self._notified)
                # One step with no await: a topic opened from now on queues its own sync.
                self._connection = connection
                for name in self._topics:
                    self._queue.put_nowait((_SYNC, name))
                if failures:
                    logger.warning("pub/sub: reconnected to PostgreSQL")
                    failures = 0
                await self._consume(connection)
            except _UNREACHABLE as exc:
                failures += 1
                if loop.time() - started >= _STABLE_S:
                    delay = _BACKOFF_MIN_S
                logger.warning(
                    "pub/sub: connection to PostgreSQL lost, or it is unreachable (%s); "
                    "retrying in %.2f s",
                    exc or type(exc).__name__,
                    delay,
                )
            except Exception:
                failures += 1
                logger.exception("pub/sub: listener error; reconnecting in %.2f s", delay)
            finally:
                self._connection = None
                if connection is not None:
                    connection.remove_termination_listener(self._terminated)
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=1)
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._queue.put_nowait((_NOTE, payload))

    def _terminated(self, connection: Any) -> None:
        self._queue.put_nowait((_LOST, connection))

    async def _consume(self, connection: Any) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(_PING_AFTER_S):
                    kind, value = await self._queue.get()
            except TimeoutError:
                async with asyncio.timeout(_PING_AFTER_S):
                    await connection.execute("SELECT 1")
                continue
            if kind == _NOTE:
                await self._received(value)
            elif kind == _SYNC:
                await self._sync(value)
            elif value is connection:
                raise ConnectionError("the LISTEN connection was closed")

    async def _received(self, payload: str) -> None:
        try:
            new_id, name, inline = json.loads(payload)
            if not isinstance(new_id, int) or not isinstance(name, str):
                raise ValueError("not [id, topic, data]")
            data = None if inline is None else self._decode(base64.b64decode(inline))
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            logger.warning("pub/sub: ignored a malformed notification (%s)", exc)
            return
        topic = self._topics.get(name)
        # Before the topic is synced its snapshot will carry the message (rule 3).
        if topic is None or not topic.ready or new_id <= topic.last_id:
            return
        if inline is None:
            history = await self._history(name, new_id - 1)
            if not history or history[0].id != new_id:
                logger.warning(
                    "pub/sub: message %d of topic %r left the log before it was read",
                    new_id,
                    name,
                )
                return
            data = history[0].data
        self._dispatch(topic, Message(name, new_id, data))

    async def _sync(self, name: str) -> None:
        if name not in self._topics:
            return
        pool = await self._connect()
        async with (
            pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            last_id = await connection.fetchval(self._last_id_sql, name)
            rows = await connection.fetch(self._log_sql, name, 0)
        topic = self._topics.get(name)
        if topic is not None:
            history = [Message(name, row["id"], self._decode(row["data"])) for row in rows]
            self._synced(topic, last_id or 0, history)
