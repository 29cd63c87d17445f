"""A small blocking facade over the asyncio client, for simple scripts.

The asyncio client runs on an event loop in a background thread; every
method here blocks until the loop has done the work. Handlers are plain
functions, each accepted connection served in a thread of its own::

    from mpclient import sync

    def echo(conn: sync.SyncConnection) -> None:
        for msg in conn:              # ends when the peer closes
            conn.send(msg)

    with sync.connect("tcp:127.0.0.1:7330", "echo", b"pw",
                      handlers={"echo": echo}) as server:
        server.wait_closed()          # serve until the broker goes away

    with sync.connect("tcp:127.0.0.1:7330", "alice", b"pw") as client:
        conn = client.open("echo", "echo")
        conn.send(b"hello")
        print(conn.recv(timeout=5))
        conn.close()

Methods take an optional ``timeout`` in seconds (``None``: wait as long
as it takes) and raise ``TimeoutError`` when it passes; otherwise they
raise what their asyncio counterparts raise.

Protocol level 2 is here too: per-connection credit
(:meth:`SyncConnection.send` waits for its connection's credit,
:meth:`SyncConnection.send_nowait` raises :class:`~mpclient.WouldBlock`,
:meth:`SyncConnection.grant`), presence (:meth:`SyncClient.watch`,
:meth:`SyncClient.presence`, :meth:`SyncClient.list`) and GoingAway
(:meth:`SyncClient.wait_going_away`).

Request/reply: :meth:`SyncClient.request` asks one question and returns
the first reply; :meth:`SyncClient.handle_requests` answers with a plain
function (each connection in a thread of its own, as handlers).

Reconnecting (``reconnect=True`` and the other options of
:class:`~mpclient.Client`): :meth:`SyncClient.wait_closed` keeps blocking
while the client logs in again; ``on_disconnected``, ``on_reconnecting``
and ``on_reconnected`` are called in the loop thread, so they must not
block nor call this client's blocking methods (hand the news to your own
threads, e.g. with a :class:`threading.Event`). While the client
reconnects, ``open()``, ``request()``, ``watch()`` and ``list()`` raise
:class:`~mpclient.Disconnected` at once.
"""

from __future__ import annotations

import asyncio
import builtins  # SyncClient.list() hides the type in the class body
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from .client import Client, Connection, NameList, PresenceEvent
from .errors import ConnectionClosed, ConnectionEnded, MPError
from .protocol import CloseReason, Settings

__all__ = ["SyncClient", "SyncConnection", "SyncHandler", "SyncRequestHandler", "connect"]

log = logging.getLogger("mpclient")

T = TypeVar("T")

#: A blocking handler: called in a new thread with each accepted
#: connection; the connection is closed when it returns.
SyncHandler = Callable[["SyncConnection"], None]

#: A blocking request handler (:meth:`SyncClient.handle_requests`): called
#: with each message, it returns the reply (bytes-like) or ``None``.
SyncRequestHandler = Callable[[bytes], "bytes | bytearray | memoryview | None"]


async def _bounded(coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await coro
    except TimeoutError:
        if deadline.expired():
            raise TimeoutError(f"no result within {timeout} s") from None
        raise  # ConnectTimeout, open()'s own timeout, ...


class SyncConnection:
    """The blocking face of a :class:`~mpclient.Connection`."""

    def __init__(self, client: SyncClient, conn: Connection) -> None:
        self._client = client
        self._conn = conn

    @property
    def id(self) -> str:
        """The connection id."""
        return self._conn.id

    @property
    def peer(self) -> str:
        """The peer's name."""
        return self._conn.peer

    @property
    def protocol(self) -> str:
        """The protocol."""
        return self._conn.protocol

    @property
    def close_reason(self) -> CloseReason | None:
        """Why it ended, or ``None`` while open."""
        return self._conn.close_reason

    @property
    def closed(self) -> bool:
        """True once ended."""
        return self._conn.closed

    @property
    def connection(self) -> Connection:
        """The asyncio connection underneath (use it on the client's loop
        only)."""
        return self._conn

    @property
    def credit(self) -> int | None:
        """Level 2: the credit held to send (``None`` at level 1); see
        :attr:`Connection.credit`."""
        return self._conn.credit

    @property
    def receive_window(self) -> int:
        """Level 2: the window granted to the peer; 0 at level 1."""
        return self._conn.receive_window

    @property
    def consumed(self) -> int:
        """Level 2: bytes taken and not yet granted back."""
        return self._conn.consumed

    def send(self, data: bytes | bytearray | memoryview, timeout: float | None = None) -> None:
        """Send one message; see :meth:`Connection.send` (at level 2 it
        waits while this connection has no credit)."""
        self._client._run(self._conn.send(bytes(data)), timeout)

    def send_nowait(self, data: bytes | bytearray | memoryview) -> None:
        """Send one message now or raise :class:`~mpclient.WouldBlock`;
        see :meth:`Connection.send_nowait`."""
        payload = bytes(data)

        async def send() -> None:
            self._conn.send_nowait(payload)

        self._client._run(send(), None)

    def wait_writable(self, timeout: float | None = None) -> None:
        """Wait until :meth:`send_nowait` may succeed; see
        :meth:`Connection.wait_writable`."""
        self._client._run(self._conn.wait_writable(), timeout)

    def grant(self, nbytes: int | None = None) -> None:
        """Level 2: grant the peer credit; see :meth:`Connection.grant`."""

        async def grant() -> None:
            self._conn.grant(nbytes)

        self._client._run(grant(), None)

    def recv(self, timeout: float | None = None) -> bytes:
        """The next message; see :meth:`Connection.recv` (raises
        :class:`ConnectionClosed` at the end)."""
        return self._client._run(self._conn.recv(), timeout)

    def close(self) -> None:
        """Close it (the peer is told)."""
        if self._client._running():
            self._client._run(self._conn.close(), None)

    def __iter__(self) -> Iterator[bytes]:
        """Every message until the connection is closed (by either side);
        raises :class:`PeerLeft` or :class:`BrokerLost` at those ends."""
        while True:
            try:
                yield self.recv()
            except ConnectionClosed:
                return

    def __enter__(self) -> SyncConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Sync{self._conn!r}>"


class SyncClient:
    """A blocking client: the same arguments as :class:`~mpclient.Client`,
    with handlers that are plain functions (:data:`SyncHandler`)."""

    def __init__(
        self,
        address: str | Sequence[str],
        name: str,
        secret: bytes | str = b"",
        *,
        handlers: Mapping[str, SyncHandler] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(address, str):
            address = list(address)
        self._args: tuple[str | builtins.list[str], str, bytes | str] = (address, name, secret)
        self._options = options
        # Checks the arguments now, in the caller's thread.
        Client(address, name, secret, **options)
        self._handlers: dict[str, SyncHandler] = dict(handlers or {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._stopped = False

    @property
    def client(self) -> Client:
        """The asyncio client underneath (use it on its loop only)."""
        if self._client is None:
            raise MPError("not connected")
        return self._client

    @property
    def name(self) -> str:
        """The name logged in with."""
        return self._client.name if self._client is not None else self._args[1]

    @property
    def address(self) -> str:
        """The broker address of the session (or of the attempt under way);
        see :attr:`Client.address`."""
        if self._client is not None:
            return self._client.address
        first = self._args[0]
        return first if isinstance(first, str) else first[0]

    @property
    def logged_in(self) -> bool:
        """True while logged in (False while reconnecting)."""
        return self._client is not None and self._client.logged_in

    @property
    def reconnecting(self) -> bool:
        """True while the client tries to log in again (see
        :attr:`Client.reconnecting`)."""
        return self._client is not None and self._client.reconnecting

    @property
    def lost_reason(self) -> str | None:
        """Why the broker connection was last lost, or ``None``."""
        return self._client.lost_reason if self._client is not None else None

    @property
    def level(self) -> int:
        """The protocol level spoken with the broker (see
        :attr:`Client.level`)."""
        return self._client.level if self._client is not None else 1

    @property
    def settings(self) -> Settings:
        """What the broker's AuthOk said (see :attr:`Client.settings`)."""
        return self.client.settings

    @property
    def window(self) -> int:
        """Level 2: the window connections start with; 0 at level 1."""
        return self.client.window

    @property
    def max_watches(self) -> int:
        """Level 2: the most watches the broker allows; 0 at level 1."""
        return self.client.max_watches

    @property
    def going_away(self) -> float | None:
        """Level 2: the delay, in seconds, of the broker's GoingAway once
        it announced one; ``None`` before."""
        return self.client.going_away

    # -- the loop thread ----------------------------------------------------

    def _running(self) -> bool:
        return self._loop is not None and not self._stopped

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        if not self._running():
            coro.close()
            raise ConnectionClosed(CloseReason.LOCAL, "the client is closed")
        assert self._loop is not None
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("blocking mpclient.sync call from its own event loop")
        # The timeout acts inside the loop: a message that arrives just as
        # it passes is either returned or left in the inbox, never lost.
        fut = asyncio.run_coroutine_threadsafe(_bounded(coro, timeout), self._loop)
        return fut.result()

    def _stop_loop(self) -> None:
        if self._loop is None or self._stopped:
            return
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._loop.close()

    # -- handlers -----------------------------------------------------------

    def _async_handler(self, fn: SyncHandler) -> Callable[[Connection], Coroutine[Any, Any, None]]:
        async def handler(conn: Connection) -> None:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()

            def finished() -> None:
                if not done.done():
                    done.set_result(None)

            def target() -> None:
                try:
                    fn(SyncConnection(self, conn))
                except ConnectionEnded as e:
                    log.debug("sync handler for %r ended: %s", conn.protocol, e)
                except Exception:
                    log.exception("the sync handler for %r raised", conn.protocol)
                finally:
                    try:
                        loop.call_soon_threadsafe(finished)
                    except RuntimeError:  # the loop is closed
                        pass

            threading.Thread(
                target=target, name=f"mpclient-{conn.protocol}-{conn.id}", daemon=True
            ).start()
            await done

        return handler

    def handle(self, protocol: str, fn: SyncHandler) -> None:
        """Accept connections for ``protocol``: each one is served by
        ``fn(conn)`` in a new thread, and closed when ``fn`` returns."""
        if protocol in self._handlers:
            raise ValueError(f"protocol {protocol!r} already has a handler")
        self._handlers[protocol] = fn
        if self._client is not None and self._running():

            async def register() -> None:
                assert self._client is not None
                self._client.handle(protocol, self._async_handler(fn))

            self._run(register(), None)

    # -- lifecycle ----------------------------------------------------------

    def connect(self, timeout: float | None = None) -> None:
        """Connect and log in (see :meth:`Client.connect`)."""
        if self._loop is not None:
            raise MPError("connect() called twice")
        loop = asyncio.new_event_loop()
        self._loop = loop
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        self._thread = threading.Thread(target=main, name="mpclient-loop", daemon=True)
        self._thread.start()
        started.wait()

        async def login() -> Client:
            handlers = {p: self._async_handler(fn) for p, fn in self._handlers.items()}
            client = Client(*self._args, handlers=handlers, **self._options)
            await client.connect()
            return client

        try:
            self._client = self._run(login(), timeout)
        except BaseException:
            self._stop_loop()
            raise

    def open(self, peer: str, protocol: str, timeout: float | None = None) -> SyncConnection:
        """Open a connection (see :meth:`Client.open`)."""
        conn = self._run(self.client.open(peer, protocol, timeout=timeout), None)
        return SyncConnection(self, conn)

    def request(
        self,
        peer: str,
        protocol: str,
        data: bytes | bytearray | memoryview,
        timeout: float | None = None,
    ) -> bytes:
        """Ask ``peer`` one question and return its first reply, as soon as
        it arrives (see :meth:`Client.request`: ``timeout`` bounds the
        whole exchange and raises ``TimeoutError``)."""
        payload = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
        return self._run(self.client.request(peer, protocol, payload, timeout=timeout), None)

    def handle_requests(self, protocol: str, fn: SyncRequestHandler) -> None:
        """Answer each message of the connections for ``protocol`` with
        ``fn(data)`` (the reply, or ``None`` for none), each connection
        in a thread of its own; see :meth:`Client.handle_requests`."""
        if not callable(fn):
            raise TypeError("fn must be callable")

        def answer(conn: SyncConnection) -> None:
            for data in conn:
                reply = fn(data)
                if reply is not None:
                    conn.send(reply)

        self.handle(protocol, answer)

    def watch(self, name: str, *, prefix: bool = False, timeout: float | None = None) -> None:
        """Level 2: watch a name or a prefix; see :meth:`Client.watch`."""
        self._run(self.client.watch(name, prefix=prefix), timeout)

    def unwatch(self, name: str, *, prefix: bool = False, timeout: float | None = None) -> None:
        """End a watch; see :meth:`Client.unwatch`."""
        self._run(self.client.unwatch(name, prefix=prefix), timeout)

    def next_presence(self, timeout: float | None = None) -> PresenceEvent:
        """The next presence notice; see :meth:`Client.next_presence`."""
        return self._run(self.client.next_presence(), timeout)

    def presence(self, timeout: float | None = None) -> Iterator[PresenceEvent]:
        """The presence notices as they come, until the client is closed
        (raises :class:`BrokerLost` when the broker is lost); with
        ``timeout``, each wait is bounded (``TimeoutError``)."""
        while True:
            try:
                yield self.next_presence(timeout)
            except ConnectionClosed:
                return

    def list(self, prefix: str = "", timeout: float | None = None) -> NameList:
        """Level 2: the names online under ``prefix``; see
        :meth:`Client.list`."""
        return self._run(self.client.list(prefix), timeout)

    def wait_going_away(self, timeout: float | None = None) -> float:
        """Level 2: wait for the broker's GoingAway; return its delay in
        seconds (see :meth:`Client.wait_going_away`)."""
        return self._run(self.client.wait_going_away(), timeout)

    def wait_closed(self, timeout: float | None = None) -> None:
        """Block until the client is closed; raise :class:`BrokerLost` if
        the broker went away (see :meth:`Client.wait_closed`)."""
        self._run(self.client.wait_closed(), timeout)

    def close(self) -> None:
        """Leave gracefully (see :meth:`Client.close`) and stop the loop
        thread. A no-op when already closed."""
        if self._client is not None and self._running():
            try:
                self._run(self._client.close(), None)
            finally:
                self._stop_loop()
        else:
            self._stop_loop()

    def abort(self) -> None:
        """Drop the broker connection at once (see :meth:`Client.abort`)."""
        if self._client is not None and self._running():

            async def do_abort() -> None:
                assert self._client is not None
                self._client.abort()

            self._run(do_abort(), None)
        self._stop_loop()

    def __enter__(self) -> SyncClient:
        if self._loop is None:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    address: str | Sequence[str],
    name: str,
    secret: bytes | str = b"",
    *,
    timeout: float | None = None,
    **options: Any,
) -> SyncClient:
    """Create a :class:`SyncClient`, log it in and return it."""
    client = SyncClient(address, name, secret, **options)
    client.connect(timeout)
    return client
