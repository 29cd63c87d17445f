"""The asyncio client: :class:`Client` and :class:`Connection`.

A client connects to the broker, logs in with a name and a secret, and then
opens connections to other clients by (peer name, protocol) with
:meth:`Client.open`, or accepts the ones they open through handlers
registered per protocol with :meth:`Client.handle` (the original
MessagePasser's MappedConnectionHandler: a Syn for a protocol without a
handler is refused with UnknownProto, automatically).

A :class:`Connection` is a two-way, ordered stream of whole messages::

    async with Client("tcp:127.0.0.1:7330", "alice", b"secret") as client:
        conn = await client.open("bob", "echo")
        await conn.send(b"hello")
        async for msg in conn:          # ends when bob closes
            print(msg)
            await conn.close()

How a connection ends, as seen by ``recv()`` and ``async for``:

=====================  ==========================  ===========================
the connection ended   ``async for msg in conn``   ``await conn.recv()``
=====================  ==========================  ===========================
the peer closed it     iteration ends              raises ConnectionClosed
this side closed it    iteration ends              raises ConnectionClosed
the peer left          raises :class:`PeerLeft`    raises PeerLeft
the broker was lost    raises :class:`BrokerLost`  raises BrokerLost
=====================  ==========================  ===========================

In every case the messages that arrived before the end are delivered first,
and ``conn.close_reason`` (a :class:`CloseReason`) says why it ended.

Flow control and memory: a send waits (in turn with the other senders)
until the transport holds less than its high-water mark, then queues its
message, so a sender waits while the broker does not keep up, and the
transport holds at most that mark plus one message. The replies the library
writes on its own (ConnAck, UnknownProto, ConnClosed) count too: past the
mark the client stops reading from the broker until it drains. Received
messages wait in a per-connection inbox of at most ``inbox_limit`` bytes,
counted as memory (payload plus a fixed overhead per message, so a flood of
empty messages fills it too; a single larger message is always accepted),
and all inboxes together hold at most ``inbox_total_limit``. While an inbox
is full the client stops reading from the broker (for every connection:
consume, or close, every connection you hold), and the broker in turn
stalls the senders; with ``inbox_overflow="close"`` the connection that
overflows is closed instead and the others keep being served. At most
``max_connections`` connections exist at once (further Syns are refused
with UnknownProto), and a decoder returns at most a bounded batch of
messages per read, so whatever the broker sends, the client's memory stays
bounded.

Protocol level 2 (announced at the login unless ``level=1``; used when
the broker's AuthOk says it speaks it, :attr:`Client.level`):

* credit per connection: each direction of a connection has a window of
  bytes (a message costs its length plus 64); :meth:`Connection.send`
  waits while its connection has no credit (and only that connection
  waits), :meth:`Connection.send_nowait` raises :class:`WouldBlock`, and
  the client grants the peer credit as the application takes messages,
  once half a window was taken (or the application does, with
  ``credit="manual"`` and :meth:`Connection.grant`). A peer then sends at
  most a window (plus one message) ahead, so an inbox that holds that
  does not pause reading: one stalled connection stalls only its peer;
* presence: :meth:`Client.watch`, :meth:`Client.presence`,
  :meth:`Client.list`;
* refusals that say why: :class:`Denied` from :meth:`Client.open`;
  :class:`Replaced` and :class:`GoingAway` (both :class:`BrokerLost`)
  when the broker closes the session, and :meth:`Client.wait_going_away`
  as soon as it announces it.

Reconnecting (``reconnect=True``, as libmpclient's reconnect option): a
client that loses the broker after its login logs in again by itself,
with the same name and secret, trying its addresses in turn with
exponential backoff and jitter; :meth:`Client.wait_closed` keeps waiting
meanwhile. What belonged to the lost session is never resumed silently:
its connections end (:class:`BrokerLost`), pending opens and lists fail;
the handlers stay, and the watches are sent again. While it reconnects,
:meth:`Client.open`, :meth:`Client.request`, :meth:`Client.watch` and
:meth:`Client.list` raise :class:`Disconnected` at once.

Request/reply: :meth:`Client.request` asks a peer one question (open,
send one message, the first reply, close) and
:meth:`Client.handle_requests` answers each message of the connections
of a protocol.
"""

from __future__ import annotations

import asyncio
import builtins  # Client.list() hides the type in the class body
import collections
import inspect
import logging
import random
import socket
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .address import Address, parse_address
from .codec import Codec, Decoder, get_codec
from .netconnect import Attempts, connect_any
from .errors import (
    AuthError,
    BrokerLost,
    ConnectError,
    ConnectionClosed,
    ConnectionEnded,
    ConnectTimeout,
    DecodeError,
    Denied,
    Disconnected,
    GoingAway,
    LevelRequired,
    MessageTooBig,
    MPError,
    NameTaken,
    NoSuchClient,
    PeerLeft,
    Replaced,
    TLSError,
    UnknownProtocol,
    WouldBlock,
    RETRY_LATER,
)
from .protocol import (
    CREDIT_MAX,
    CREDIT_MESSAGE_COST,
    LEVEL1_SETTINGS,
    NAME_MAX,
    PROTOCOL_LEVEL,
    CloseReason,
    Message,
    Meta,
    Settings,
    check_name,
    name_error,
    parse_credit,
    parse_settings,
)

__all__ = [
    "Client",
    "Connection",
    "Handler",
    "RequestHandler",
    "NameList",
    "PresenceEvent",
    "connect",
    "reconnect_delay",
    "tls_context",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MESSAGE_OVERHEAD",
]

log = logging.getLogger("mpclient")

#: The broker's default ``limits.max_message_size``.
DEFAULT_MAX_MESSAGE_SIZE = 1048576

_READ_CHUNK = 65536

#: What one received message costs beyond its payload in an inbox: the
#: bytes object's header and the deque slot, rounded up. An inbox counts
#: memory, so a flood of empty messages fills it as surely as big ones.
MESSAGE_OVERHEAD = 64

#: The most messages decoded from one read (the decoder's max_batch).
_DECODE_BATCH = 256

#: TCP keepalive: probes every sixth of the idle time, this many of them
#: (as the broker's tcp_keepalive_s), so a dead peer is found in about
#: twice the idle time.
_KEEPALIVE_PROBES = 6

#: Presence (level 2): the most names whose notice waits for the
#: application (one entry a name, in its last state) before the client
#: stops reading from the broker until it takes them.
PRESENCE_PENDING_LIMIT = 65536

#: List (level 2): the most names one reply may accumulate; past it the
#: rest is dropped and the result is marked truncated (the broker's own
#: cap, limits.max_list_names, is 10000 by default).
LIST_NAMES_LIMIT = 100000


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """A name watched (protocol level 2) came ``online`` (True) or went
    offline (False). Notices of one name that the application has not
    taken yet are merged: it sees the name once, in its last state."""

    name: str
    online: bool


class NameList(list[str]):
    """What :meth:`Client.list` returns: the names online (in no
    particular order), and ``truncated``: True when there were more than
    the broker lists (its ``limits.max_list_names``)."""

    def __init__(self, names: list[str] | None = None, truncated: bool = False) -> None:
        super().__init__(names or [])
        self.truncated: bool = truncated

    def __repr__(self) -> str:
        return f"NameList({list.__repr__(self)}, truncated={self.truncated})"


class _ListRequest:
    """A List sent and the names its replies brought so far."""

    def __init__(self, prefix: str, future: asyncio.Future[NameList]) -> None:
        self.prefix = prefix
        self.future = future
        self.names = NameList()


#: A handler: called with each accepted connection. It may be a coroutine
#: function (the coroutine then runs as a task, and the connection is
#: closed when it returns) or a plain callable (it then owns the
#: connection; if it returns an awaitable, that is run as for a coroutine).
Handler = Callable[["Connection"], Any]

#: A request handler (:meth:`Client.handle_requests`): called with each
#: message of a connection, it returns the reply (bytes-like), or an
#: awaitable of it, or ``None`` to send none.
RequestHandler = Callable[[bytes], Any]

_NEW, _CONNECTING, _READY, _RECONNECTING, _CLOSING, _CLOSED, _LOST = (
    "new",
    "connecting",
    "ready",
    "reconnecting",
    "closing",
    "closed",
    "lost",
)

#: The reconnect options' defaults, as libmpclient's (seconds).
RECONNECT_INITIAL = 0.1
RECONNECT_MAX = 10.0


def reconnect_delay(attempt: int, initial: float, maximum: float) -> float:
    """The wait before reconnect attempt ``attempt`` (1, 2, ...): none for
    the first (a restarted broker is often back already), then
    ``min(maximum, initial * 2**(attempt - 2))`` scaled by a random factor
    in [0.5, 1], so that clients that lost the same broker do not all come
    back at once."""
    if attempt <= 1:
        return 0.0
    base = min(maximum, initial * 2.0 ** min(attempt - 2, 60))
    return base * random.uniform(0.5, 1.0)


def _retryable(error: BaseException) -> bool:
    """Whether a failed login attempt may succeed if tried again: not when
    the name is taken, the secret refused (unless the broker says "try
    again later"), the listener is not one to log in at, or TLS fails."""
    if isinstance(error, NameTaken):
        return False
    if isinstance(error, AuthError):
        return error.reason.endswith(RETRY_LATER)
    if isinstance(error, ConnectError):
        return not error.permanent
    return False


def tls_context(
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> _ssl.SSLContext:
    """An :class:`ssl.SSLContext` for ``tls:`` addresses: the broker's
    certificate is verified against ``ca_file`` (PEM; the system's CAs when
    ``None``) and must name the host (hostname verification is on). With
    ``cert_file`` (and ``key_file``, or the key inside ``cert_file``) the
    client presents that certificate to brokers that ask for one."""
    ctx = _ssl.create_default_context(_ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    ctx.minimum_version = _ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


def _set_keepalive(sock: socket.socket | None, idle: float) -> None:
    """TCP keepalive on ``sock``: probes after ``idle`` seconds without
    traffic, every sixth of that, 6 of them (the broker's scheme)."""
    if sock is None:
        return
    seconds = max(1, round(idle))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", seconds),
        ("TCP_KEEPINTVL", max(1, seconds // _KEEPALIVE_PROBES)),
        ("TCP_KEEPCNT", _KEEPALIVE_PROBES),
    ):
        if hasattr(socket, option):  # Linux; other systems use their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


class Connection:
    """One connection between this client and a peer: a two-way, ordered
    stream of whole messages (``bytes``).

    Made by the library: returned by :meth:`Client.open`, or handed to a
    handler. Iterate it (``async for msg in conn``) or call :meth:`recv`;
    :meth:`send` and :meth:`close`. Also an async context manager that
    closes it on exit.

    At protocol level 2 each direction of the connection has its own
    window of credit, in bytes (a message costs its length plus
    :data:`~mpclient.CREDIT_MESSAGE_COST`, 64): :meth:`send` waits while
    this connection has no credit (and only this one: the client's other
    connections go on), :meth:`send_nowait` raises :class:`WouldBlock`,
    and the credit comes back as the peer's application consumes. This
    side grants the peer credit as the application takes messages
    (:meth:`recv`, iteration), once half a window has been taken; with
    ``Client(credit="manual")`` the application grants with
    :meth:`grant`.
    """

    def __init__(
        self, client: Client, conn_id: str, peer: str, protocol: str, *, opening: bool
    ) -> None:
        self._client = client
        self._id = conn_id
        self._peer = peer
        self._protocol = protocol
        self._opening = opening
        self._opened: asyncio.Future[None] | None = (
            asyncio.get_running_loop().create_future() if opening else None
        )
        self._inbox: collections.deque[bytes] = collections.deque()
        self._inbox_bytes = 0  # memory: payload + MESSAGE_OVERHEAD each
        self._readable = asyncio.Event()
        self.close_reason: CloseReason | None = None
        """Why the connection ended, or ``None`` while it is open."""
        self._end_detail = ""
        # The loss of the broker as it was when this connection ended (a
        # reconnected client may have a new session by the time it asks).
        self._lost: BrokerLost | None = None
        # Level 2 credit: what this side may still send (None: level 1, no
        # credit), the window it grants the peer, and what the application
        # took since the last grant.
        self._send_credit: int | None = None
        self._writable = asyncio.Event()  # set when credit comes or it ends
        self._recv_window = 0
        self._consumed = 0

    # -- properties ---------------------------------------------------------

    @property
    def id(self) -> str:
        """The connection id, ``"<initiator>:<suffix>"``."""
        return self._id

    @property
    def peer(self) -> str:
        """The name of the client at the other end."""
        return self._peer

    @property
    def protocol(self) -> str:
        """The protocol the connection was opened for."""
        return self._protocol

    @property
    def client(self) -> Client:
        """The client this connection belongs to."""
        return self._client

    @property
    def closed(self) -> bool:
        """True once the connection has ended, for whatever reason."""
        return self.close_reason is not None

    @property
    def credit(self) -> int | None:
        """Protocol level 2: the bytes of credit this side holds to send on
        this connection (at or below zero: :meth:`send` waits, and
        :meth:`send_nowait` raises :class:`WouldBlock`, until the peer
        grants more). ``None`` at level 1, where there is no credit."""
        return self._send_credit

    @property
    def receive_window(self) -> int:
        """Protocol level 2: the window this side grants the peer, in bytes
        (the broker's ``window``, or the client's larger
        ``receive_window``); 0 at level 1."""
        return self._recv_window

    @property
    def consumed(self) -> int:
        """Protocol level 2: bytes of credit (message lengths plus 64 each)
        the application took with :meth:`recv` and not yet granted back:
        what ``grant()`` gives in manual mode."""
        return self._consumed

    def __repr__(self) -> str:
        state = "open" if self.close_reason is None else self.close_reason.name.lower()
        return f"<Connection {self._id} peer={self._peer!r} protocol={self._protocol!r} {state}>"

    # -- sending ------------------------------------------------------------

    async def send(
        self, data: bytes | bytearray | memoryview, *, timeout: float | None = None
    ) -> None:
        """Send one message (``b""`` is an empty message): wait, in turn
        with the other senders, until the transport has room (flow
        control), then queue it.

        With ``timeout`` (seconds), raises ``TimeoutError`` when there was
        no room in time; nothing was queued then. A server sheds a peer
        that does not read this way: the broker stalls this client while a
        recipient of its messages is slow, so close that connection (or
        the client) when its sends time out.

        Raises :class:`ConnectionClosed` (closed by either side),
        :class:`PeerLeft`, :class:`BrokerLost`, :class:`MessageTooBig`, or
        ``TypeError`` for anything but bytes-like data.
        """
        if timeout is None:
            await self._client._send_data(self, data)
            return
        async with asyncio.timeout(timeout):
            await self._client._send_data(self, data)

    def send_nowait(self, data: bytes | bytearray | memoryview) -> None:
        """Send one message now, or raise :class:`WouldBlock` and send
        nothing: its ``credit`` attribute is True when this connection is
        out of credit (protocol level 2; :meth:`wait_writable` waits for
        the peer's grant), False when the client's transport is full or
        another task is sending. Otherwise as :meth:`send`."""
        self._client._send_data_nowait(self, data)

    async def wait_writable(self, *, timeout: float | None = None) -> None:
        """Wait until a :meth:`send_nowait` may succeed: this connection
        holds credit (level 2) and the transport is below its high-water
        mark. Raises as :meth:`send` (``TimeoutError`` after
        ``timeout``)."""
        async with asyncio.timeout(timeout):
            await self._wait_credit()
            await self._client._wait_transport_room(self)

    def grant(self, nbytes: int | None = None) -> None:
        """Protocol level 2: give the peer ``nbytes`` more bytes of credit
        on this connection (a Credit, queued at once); without ``nbytes``,
        what the application took since the last grant (:attr:`consumed`;
        nothing when that is 0). For ``Client(credit="manual")``, where
        the library does not grant by itself; in automatic mode an extra
        grant widens the peer's window. Raises :class:`LevelRequired` at
        level 1, ``ValueError`` for a grant outside 1..2147483647, and as
        :meth:`send` once the connection ended."""
        self._client._grant(self, nbytes)

    async def close(self) -> None:
        """Close the connection: the peer is told (its iteration ends).
        Messages not yet received are dropped. A no-op once ended. It
        queues the ConnClosed and returns without waiting for the broker
        to take it, so it also sheds a connection whose sends time out."""
        self._client._close_conn(self)

    # -- receiving ----------------------------------------------------------

    async def recv(self) -> bytes:
        """The next message. Raises :class:`ConnectionClosed` once the
        connection was closed (by the peer, after the messages it sent
        before closing; or by this side), :class:`PeerLeft` or
        :class:`BrokerLost`."""
        while not self._inbox:
            if self.close_reason is not None:
                raise self._end_error()
            self._readable.clear()
            await self._readable.wait()
        data = self._inbox.popleft()
        self._client._inbox_taken(self, len(data) + MESSAGE_OVERHEAD)
        if self._send_credit is not None:
            self._client._consumed_by_app(self, len(data) + CREDIT_MESSAGE_COST)
        return data

    def __aiter__(self) -> Connection:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- library side -------------------------------------------------------

    def _end_error(self) -> ConnectionEnded:
        reason = self.close_reason or CloseReason.LOCAL
        if reason is CloseReason.PEER_LEFT:
            return PeerLeft(self._peer)
        if reason is CloseReason.BROKER_LOST:
            return self._lost or self._client._lost_error(self._end_detail)
        return ConnectionClosed(reason, self._end_detail)

    async def _wait_credit(self) -> None:
        """Wait while this connection has no credit (level 2); raise once
        it ended."""
        while self._send_credit is not None and self._send_credit <= 0:
            if self.close_reason is not None:
                raise self._end_error()
            self._writable.clear()
            await self._writable.wait()
        if self.close_reason is not None:
            raise self._end_error()

    def _credited(self, nbytes: int) -> None:
        if self._send_credit is None:
            return
        self._send_credit = min(self._send_credit + nbytes, CREDIT_MAX)
        if self._send_credit > 0:
            self._writable.set()

    def _deliver(self, data: bytes) -> None:
        self._inbox.append(data)
        cost = len(data) + MESSAGE_OVERHEAD
        self._inbox_bytes += cost
        self._client._inbox_total += cost
        self._readable.set()

    def _open_done(self) -> None:
        self._opening = False
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)

    def _fail_open(self, error: BaseException) -> None:
        fut = self._opened
        if fut is not None and not fut.done():
            fut.set_exception(error)

    def _end(self, reason: CloseReason, detail: str = "") -> None:
        if self.close_reason is not None:
            return
        self.close_reason = reason
        self._end_detail = detail
        if reason is CloseReason.BROKER_LOST:
            self._lost = self._client._lost_error(detail)
        # What is left in the inbox stays readable but leaves the client's
        # total: the library no longer adds to it.
        self._client._inbox_left(self._inbox_bytes)
        if reason is CloseReason.LOCAL:
            self._inbox.clear()
            self._inbox_bytes = 0
        if self._opening:
            self._fail_open(self._end_error())
        self._readable.set()
        self._writable.set()


class Client:
    """A client of an mpbroker.

    :param address: ``"tcp:HOST:PORT"`` (``"tcp:[::1]:7330"``),
        ``"tls:HOST:PORT"`` or ``"unix:PATH"``; or a list of them (several
        brokers, e.g. of a cluster): :meth:`connect` tries them in turn
        until one can be reached, and each reconnect attempt tries the
        next, round robin.
    :param name: the name to log in with (1-255 bytes of UTF-8, no ``:``,
        no control character).
    :param secret: the secret, bytes (a ``str`` is encoded as UTF-8).
    :param format: the listener's wire format, ``"binary"`` (default) or
        ``"json"``.
    :param ssl: for ``tls:`` addresses, the :class:`ssl.SSLContext` (see
        :func:`tls_context`); default: the system's CAs, hostname checked.
    :param server_hostname: the name the broker's certificate must carry
        (default: HOST of the address).
    :param max_message_size: the broker's limit: the largest encoded
        message this client sends (:class:`MessageTooBig` beyond). A
        received message may be longer, since the broker re-encodes
        messages between formats; the client accepts exactly the longest
        encoding of a message legal under this limit
        (:meth:`Codec.max_received_size`). Default: the broker's default,
        1 MiB.
    :param connect_timeout: seconds for connecting and logging in, and for
        a graceful :meth:`close`.
    :param inbox_limit: bytes of received messages a connection holds
        (payload plus :data:`MESSAGE_OVERHEAD` each) before the client
        stops reading from the broker (flow control) or, with
        ``inbox_overflow="close"``, closes that connection.
    :param inbox_total_limit: the same bound for all the inboxes together
        (always pauses reading).
    :param inbox_overflow: ``"pause"`` (default: stop reading from the
        broker until the connection's inbox is read; no message is lost,
        but every connection waits) or ``"close"`` (close the connection
        whose inbox is over the limit with more than one message, telling
        the peer; the others go on).
    :param max_connections: the most connections open or being opened at
        once: a peer's Syn past it is refused with UnknownProto, an
        :meth:`open` past it raises :class:`MPError`.
    :param keepalive: TCP keepalive for ``tcp:`` and ``tls:``: probes
        after this many idle seconds, every sixth of it, 6 of them, so a
        dead network is noticed in about twice this time (as the broker's
        ``tcp_keepalive_s``); ``None`` or 0 turns it off.
    :param idle_timeout: seconds without a byte from the broker after
        which the client gives it up as lost (:class:`BrokerLost`); for
        applications whose peers send regularly (the protocol has no ping
        yet). ``None`` (default): wait forever.
    :param handlers: protocol -> handler, as by :meth:`handle`.
    :param level: the protocol level to announce at the login: 2
        (default: credit per connection, presence, Denied/Replaced/
        GoingAway, with a broker that speaks it; :attr:`level` says what
        the broker answered) or 1 (announce none, exactly as the 2015
        clients).
    :param credit: level 2: ``"auto"`` (default: the client grants the
        peer credit as the application takes messages, once half a window
        has been taken) or ``"manual"`` (the application grants with
        :meth:`Connection.grant`).
    :param receive_window: level 2: the window, in bytes, to give the
        peers of this client's connections when it is larger than the
        broker's (granted with a Credit right after the Syn or the Ack);
        ``None`` (default): the broker's ``window``.
    :param reconnect: when the broker connection is lost after a login
        (the broker restarted or said GoingAway, the network failed), log
        in again by itself instead of ending (see the module's text).
        Default False: the client is done, :meth:`wait_closed` raises
        :class:`BrokerLost`.
    :param reconnect_initial: seconds before the second attempt (the first
        starts at once); the delay doubles with each attempt, times a
        random factor in [0.5, 1]. Default 0.1.
    :param reconnect_max: the most the delay grows to, in seconds.
        Default 10.
    :param reconnect_max_attempts: failed attempts in a row after which
        the client gives up (:meth:`wait_closed` raises the last
        attempt's error); 0 or ``None`` (default): never.
    :param on_disconnected: ``fn(error)``, called when the session is lost
        and the client will reconnect: ``error`` is the
        :class:`BrokerLost` (or :class:`GoingAway`) saying why. By then
        every connection of the session has ended.
    :param on_reconnecting: ``fn(attempt, delay)``, called before each
        attempt (1, 2, ...) with the seconds it waits before starting
        (:attr:`address` is the one it tries).
    :param on_reconnected: ``fn()``, called once logged in again: open
        connections, send. The three are called on the client's event
        loop and must not block; one that returns an awaitable has it run
        as a task.
    """

    def __init__(
        self,
        address: str | Sequence[str],
        name: str,
        secret: bytes | str = b"",
        *,
        format: str = "binary",
        ssl: _ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        connect_timeout: float = 10.0,
        inbox_limit: int = 1048576,
        inbox_total_limit: int = 16777216,
        inbox_overflow: str = "pause",
        max_connections: int = 4096,
        keepalive: float | None = 60.0,
        idle_timeout: float | None = None,
        handlers: Mapping[str, Handler] | None = None,
        level: int = PROTOCOL_LEVEL,
        credit: str = "auto",
        receive_window: int | None = None,
        reconnect: bool = False,
        reconnect_initial: float = RECONNECT_INITIAL,
        reconnect_max: float = RECONNECT_MAX,
        reconnect_max_attempts: int | None = 0,
        on_disconnected: Callable[[BrokerLost], Any] | None = None,
        on_reconnecting: Callable[[int, float], Any] | None = None,
        on_reconnected: Callable[[], Any] | None = None,
    ) -> None:
        texts = [address] if isinstance(address, str) else list(address)
        if not texts or not all(isinstance(a, str) for a in texts):
            raise ValueError("address is a broker address, or a non-empty list of them")
        self._addresses: list[Address] = [parse_address(a) for a in texts]
        self._address_index = 0
        self._address: Address = self._addresses[0]
        if ssl is not None and any(a.scheme != "tls" for a in self._addresses):
            raise ValueError("an SSL context is only for tls: addresses")
        self._name = check_name(name)
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        self._codec: Codec = get_codec(format)
        self._ssl = ssl
        self._server_hostname = server_hostname
        if max_message_size < 256:
            raise ValueError("max_message_size must be at least 256")
        self.max_message_size: int = max_message_size
        self.connect_timeout: float = connect_timeout
        if inbox_limit < 1 or inbox_total_limit < 1:
            raise ValueError("inbox_limit and inbox_total_limit must be positive")
        self.inbox_limit: int = inbox_limit
        self.inbox_total_limit: int = inbox_total_limit
        if inbox_overflow not in ("pause", "close"):
            raise ValueError(f"inbox_overflow must be 'pause' or 'close', not {inbox_overflow!r}")
        self.inbox_overflow: str = inbox_overflow
        if max_connections < 1:
            raise ValueError("max_connections must be positive")
        self.max_connections: int = max_connections
        if keepalive is not None and keepalive < 0:
            raise ValueError("keepalive must be None or at least 0")
        self.keepalive: float | None = keepalive or None
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be None or positive")
        self.idle_timeout: float | None = idle_timeout
        if isinstance(level, bool) or level not in (1, 2):
            raise ValueError(f"level must be 1 or 2, not {level!r}")
        self._wanted_level = level
        if credit not in ("auto", "manual"):
            raise ValueError(f"credit must be 'auto' or 'manual', not {credit!r}")
        self.credit_mode: str = credit
        if receive_window is not None and not 1 <= receive_window <= CREDIT_MAX:
            raise ValueError(f"receive_window must be None or 1 to {CREDIT_MAX}")
        self.receive_window: int | None = receive_window
        self.reconnect: bool = bool(reconnect)
        if not 0 < reconnect_initial <= reconnect_max:
            raise ValueError("want 0 < reconnect_initial <= reconnect_max")
        self.reconnect_initial: float = reconnect_initial
        self.reconnect_max: float = reconnect_max
        if reconnect_max_attempts is not None and (
            isinstance(reconnect_max_attempts, bool) or reconnect_max_attempts < 0
        ):
            raise ValueError("reconnect_max_attempts must be None or at least 0")
        self.reconnect_max_attempts: int = reconnect_max_attempts or 0
        self.on_disconnected: Callable[[BrokerLost], Any] | None = on_disconnected
        """Reconnect: ``fn(error)`` when the session is lost (see the class)."""
        self.on_reconnecting: Callable[[int, float], Any] | None = on_reconnecting
        """Reconnect: ``fn(attempt, delay)`` before each attempt."""
        self.on_reconnected: Callable[[], Any] | None = on_reconnected
        """Reconnect: ``fn()`` once logged in again."""
        self._handlers: dict[str, Handler] = {}
        for protocol, handler in (handlers or {}).items():
            self.handle(protocol, handler)
        self._state = _NEW
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        # Exactly what a legal message may take, no more.
        self._decoder: Decoder = self._codec.decoder(
            self._codec.max_received_size(max_message_size), _DECODE_BATCH
        )
        self._pending: collections.deque[Message] = collections.deque()
        self._inbox_total = 0
        self._room = asyncio.Event()  # set when an inbox shrinks
        self._send_lock = asyncio.Lock()  # senders queue one at a time
        self._paused: str | None = None
        self._syn_limit_logged = False
        self._conns: dict[str, Connection] = {}
        self._next_conn = 0
        self._read_task: asyncio.Task[None] | None = None
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._done: asyncio.Event | None = None
        self._lost_detail: str | None = None
        # Reconnect: the task that logs in again, the error the client gave
        # up on, and a number per session, so that a sender still waiting
        # on a lost session's socket cannot end the next session.
        self._reconnect_task: asyncio.Task[None] | None = None
        self._gave_up: BaseException | None = None
        self._session = 0
        self._hook_tasks: set[asyncio.Future[Any]] = set()
        self._attempts = Attempts()  # the addresses connect() tried
        # Level 2: what the AuthOk said, presence, lists and notices.
        self._settings: Settings = LEVEL1_SETTINGS
        self._watches: set[tuple[str, bool]] = set()  # (name or prefix, is prefix)
        self._presence: dict[str, bool] = {}  # name -> online, not yet taken
        self._presence_ready = asyncio.Event()
        self._lists: dict[str, _ListRequest] = {}
        self._next_list = 0
        self._replaced: str | None = None  # the Replaced notice's text
        self._going_away: float | None = None  # GoingAway's delay, seconds
        self._going_away_told = asyncio.Event()

    # -- properties ---------------------------------------------------------

    @property
    def name(self) -> str:
        """The name this client logs in with (once logged in: the name the
        broker's AuthOk confirmed)."""
        return self._name

    @property
    def address(self) -> str:
        """The broker address, as text: of the session, of the attempt
        under way or of the next one (one of :attr:`addresses`)."""
        return str(self._address)

    @property
    def addresses(self) -> builtins.list[str]:
        """Every broker address the client may use, in order."""
        return [str(a) for a in self._addresses]

    @property
    def format(self) -> str:
        """The wire format, ``"json"`` or ``"binary"``."""
        return self._codec.name

    @property
    def logged_in(self) -> bool:
        """True between a successful login and the end (close or loss);
        False while reconnecting."""
        return self._state == _READY

    @property
    def reconnecting(self) -> bool:
        """True while the client, having lost the broker, tries to log in
        again (``reconnect=True``)."""
        return self._state == _RECONNECTING

    @property
    def lost_reason(self) -> str | None:
        """Why the broker connection was lost, or ``None`` if it was not."""
        return self._lost_detail

    @property
    def paused(self) -> str | None:
        """Why the client is not reading from the broker now (an inbox is
        full, or the broker does not take what this client writes), or
        ``None`` while it reads."""
        return self._paused

    @property
    def connections(self) -> builtins.list[Connection]:
        """The connections open or being opened now."""
        return list(self._conns.values())

    @property
    def level(self) -> int:
        """The protocol level spoken with the broker: 2 when this client
        announced it and the broker speaks it (its AuthOk said so), else 1
        (also before the login)."""
        return self._settings.level

    @property
    def settings(self) -> Settings:
        """What the broker's AuthOk said (level, window, watches)."""
        return self._settings

    @property
    def window(self) -> int:
        """Level 2: the window, in bytes, each direction of a connection
        starts with (the broker's ``limits.connection_window``); 0 at
        level 1."""
        return self._settings.window

    @property
    def max_watches(self) -> int:
        """Level 2: the most watches the broker lets this client hold; 0
        at level 1."""
        return self._settings.watches

    @property
    def watches(self) -> builtins.list[tuple[str, bool]]:
        """The watches held now: ``(name or prefix, is_prefix)``."""
        return sorted(self._watches)

    @property
    def going_away(self) -> float | None:
        """Level 2: once the broker announced that it shuts down
        (GoingAway), the delay it gave, in seconds: it closes the socket
        within it. ``None`` until then."""
        return self._going_away

    def __repr__(self) -> str:
        return f"<Client {self._name!r} at {self._address} ({self._codec.name}) {self._state}>"

    # -- handlers -----------------------------------------------------------

    def handle(self, protocol: str, handler: Handler) -> None:
        """Accept connections for ``protocol`` with ``handler`` (see
        :data:`Handler`). A peer opening a protocol without a handler is
        refused with UnknownProto, automatically. Raises ``ValueError`` if
        ``protocol`` already has one."""
        if not isinstance(protocol, str):
            raise TypeError("protocol must be a str")
        if not callable(handler):
            raise TypeError("handler must be callable")
        if protocol in self._handlers:
            raise ValueError(f"protocol {protocol!r} already has a handler")
        self._handlers[protocol] = handler

    def unhandle(self, protocol: str) -> None:
        """Stop accepting ``protocol`` (open connections stay). Raises
        ``KeyError`` if it has no handler."""
        del self._handlers[protocol]

    # -- lifecycle ----------------------------------------------------------

    async def connect(self) -> None:
        """Connect and log in; return once logged in.

        Raises :class:`AuthError` (with the broker's ``reason``) if the
        login is refused (:class:`NameTaken` when another session holds
        the name), :class:`TLSError`, :class:`ConnectTimeout` (after
        ``connect_timeout`` seconds) or :class:`ConnectError`. With
        several addresses, each is tried in turn (``connect_timeout``
        each) while they cannot be reached; the error then names every
        one. A client connects once; after a failure it is closed.
        """
        if self._state != _NEW:
            raise MPError(f"connect() on a client that is {self._state}")
        self._state = _CONNECTING
        self._done = asyncio.Event()
        failures: builtins.list[str] = []
        for index in range(len(self._addresses)):
            self._use_address(index)
            try:
                await self._try_login()
                break
            except BaseException as e:
                last = index == len(self._addresses) - 1
                if last or not _retryable(e) or self._state != _CONNECTING:
                    self._state = _CLOSED
                    self._done.set()
                    if failures and isinstance(e, ConnectError) and not e.permanent:
                        failures.append(str(e))
                        raise ConnectError(
                            f"cannot log in at any of {len(self._addresses)} brokers: "
                            + "; ".join(failures)
                        ) from e
                    raise
                failures.append(str(e))
                log.debug("%s: %s; trying the next address", self._name, e)
        if self._state != _CONNECTING:  # close() or abort() meanwhile
            if self._writer is not None:
                self._writer.transport.abort()
            self._state = _CLOSED
            self._done.set()
            raise ConnectionClosed(CloseReason.LOCAL, "the client was closed during the login")
        self._start_session()

    def _use_address(self, index: int) -> None:
        self._address_index = index % len(self._addresses)
        self._address = self._addresses[self._address_index]

    def _start_session(self) -> None:
        """Logged in: start reading from the broker."""
        self._session += 1
        self._state = _READY
        self._read_task = asyncio.create_task(self._read_loop(), name=f"mpclient-read-{self._name}")

    async def _try_login(self) -> None:
        """One login at :attr:`address`, within ``connect_timeout``. On
        failure the socket is closed and the error is an :class:`MPError`
        that says what happened (or the cancellation goes on)."""
        self._attempts = Attempts()
        self._reader = self._writer = None
        self._decoder = self._codec.decoder(
            self._codec.max_received_size(self.max_message_size), _DECODE_BATCH
        )
        self._pending.clear()
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self._login()
        except BaseException as e:
            if self._writer is not None:
                self._writer.transport.abort()
            if isinstance(e, TimeoutError) and not isinstance(e, MPError):
                raise ConnectTimeout(self._timeout_text()) from None
            if isinstance(e, _ssl.SSLError):
                raise TLSError(f"TLS with {self._address} failed: {e}") from e
            if isinstance(e, socket.gaierror):
                raise ConnectError(
                    f"cannot connect to {self._address}: cannot resolve "
                    f"{self._address.host!r}: {e.strerror or e} (check the host name)"
                ) from e
            if isinstance(e, (OSError, EOFError)):
                raise ConnectError(
                    f"cannot connect to {self._address}: {e} "
                    "(is the broker running, with a listener at that address?)"
                ) from e
            raise

    async def _read_first_answer(self) -> None:
        """Read the start of the broker's answer to the Auth and check that
        it is in this client's wire format before decoding it: a listener
        of the other format answers in its own (an AuthFailure the client
        would misread, e.g. JSON's ``{"`` as a binary length of 2065845609
        bytes), and one that does not recognise the format at all writes a
        text line ``mpbroker: ...`` before closing. Either is a
        :class:`ConnectError` naming the cause and the fix."""
        first = b""
        # Read on only while the bytes so far could start either (an AuthOk
        # may be shorter than the text line: no more is read than needed).
        while not first or first == b"{" or (
            len(first) < len(_REFUSAL_PREFIX) and _REFUSAL_PREFIX.startswith(first)
        ):
            chunk = await self._read_chunk()
            if not chunk:
                break
            first += chunk
        if first:
            hint = _wrong_format_hint(self._codec.name, first)
            if hint is not None:
                raise ConnectError(f"{self._address}: {hint}", permanent=True)
            self._pending.extend(self._decoder.feed(first))

    def _timeout_text(self) -> str:
        tried = self._attempts.results
        if tried and not any(outcome == "connected" for _, outcome in tried):
            return (
                f"cannot connect to {self._address} within {self.connect_timeout:g} s "
                f"(connect_timeout): {self._attempts.describe()}"
            )
        return (
            f"no login at {self._address} within {self.connect_timeout:g} s "
            "(connect_timeout): connected, but the login (or the TLS handshake) "
            "got no answer (a busy broker, or not an mpbroker listener?)"
        )

    async def _login(self) -> None:
        a = self._address
        if a.scheme == "unix":
            self._reader, self._writer = await asyncio.open_unix_connection(a.path)
        elif a.scheme == "tls":
            ctx = self._ssl if self._ssl is not None else tls_context()
            sock = await connect_any(a.host, a.port, self._attempts)
            self._reader, self._writer = await asyncio.open_connection(
                sock=sock, ssl=ctx, server_hostname=self._server_hostname or a.host
            )
        else:
            sock = await connect_any(a.host, a.port, self._attempts)
            self._reader, self._writer = await asyncio.open_connection(sock=sock)
        if a.scheme != "unix" and self.keepalive:
            _set_keepalive(self._writer.get_extra_info("socket"), self.keepalive)
        # Level 1 announces nothing: the Auth of the 2015 clients, byte for byte.
        level = self._wanted_level if self._wanted_level > 1 else None
        self._writer.write(
            self._codec.encode(Message(Meta.AUTH, self._name, "", self._secret, level))
        )
        await self._writer.drain()
        try:
            await self._read_first_answer()
            msg = await self._next_message()
        except DecodeError as e:
            raise ConnectError(f"undecodable login answer from {a}: {e}", permanent=True) from e
        except BrokerLost as e:  # idle_timeout
            raise ConnectError(f"{a}: {e.detail}") from e
        if msg is None:
            raise ConnectError(f"{a} closed the connection without answering the login")
        if msg.meta == Meta.AUTH_FAILURE:
            reason = (msg.data or b"").decode("utf-8", "replace")
            if reason == _NAME_TAKEN:
                raise NameTaken(reason, self._name)
            raise AuthError(reason, self._name)
        if msg.meta != Meta.AUTH_OK:
            raise ConnectError(f"{a} answered the login with meta {msg.meta}", permanent=True)
        if msg.other_client and name_error(msg.other_client) is None:
            self._name = msg.other_client
        if self._wanted_level >= 2:
            self._settings = parse_settings(msg.data)

    async def close(self) -> None:
        """Leave the broker gracefully: every connection is closed (the
        peers are told), pending :meth:`open` calls raise
        :class:`ConnectionClosed`, everything queued is sent, and this
        returns once the broker has read it all and closed its side (or
        after ``connect_timeout``). Handler tasks still running are then
        cancelled. A no-op on a client already closed or lost; a client
        that is reconnecting stops trying and is closed."""
        if self._state in (_NEW, _CONNECTING):
            self._state = _CLOSED
            return
        if self._state in (_CLOSED, _LOST):
            return
        if self._state == _RECONNECTING:
            await self._stop_reconnecting()
            return
        assert self._done is not None and self._writer is not None
        if self._state == _CLOSING:
            await self._done.wait()
            return
        self._state = _CLOSING
        writer = self._writer
        for conn in list(self._conns.values()):
            self._write(Message(Meta.CONN_CLOSED, conn.peer, conn.id))
            conn._end(CloseReason.LOCAL)
        self._conns.clear()
        self._end_requests()
        try:
            async with asyncio.timeout(self.connect_timeout):
                await writer.drain()
                if writer.can_write_eof():
                    # Half-close: the broker reads to the end, then closes
                    # its side, which ends the read loop.
                    writer.write_eof()
                    if self._read_task is not None:
                        await asyncio.shield(self._read_task)
        except (TimeoutError, OSError):
            pass
        finally:  # also when cancelled: then the cancellation goes on
            await self._shutdown()

    def abort(self) -> None:
        """Drop the broker connection at once, without closing the
        connections first: the peers get ClientClosed, as if this process
        had died. Nothing queued is sent."""
        if self._state in (_NEW, _CONNECTING):
            self._state = _CLOSED
            return
        if self._state in (_CLOSED, _LOST):
            return
        if self._state == _RECONNECTING:
            self._state = _CLOSED
            if self._reconnect_task is not None:
                self._reconnect_task.cancel()
            self._cancel_handlers()
            self._end_requests(final=True)
            assert self._done is not None
            self._done.set()
            return
        self._state = _CLOSED
        for conn in list(self._conns.values()):
            conn._end(CloseReason.LOCAL)
        self._conns.clear()
        self._end_requests()
        if self._writer is not None:
            self._writer.transport.abort()
        if self._read_task is not None:
            self._read_task.cancel()
        self._cancel_handlers()
        if self._done is not None:
            self._done.set()

    async def wait_closed(self) -> None:
        """Wait until the client is done: return after :meth:`close` or
        :meth:`abort`; raise :class:`BrokerLost` when the broker
        connection was lost. Use it to serve until the broker goes away.

        With ``reconnect=True`` it keeps waiting while the client
        reconnects, and when the client gives up it raises what ended it:
        the last attempt's error (:class:`NameTaken`, :class:`AuthError`,
        :class:`ConnectError`, ...), or :class:`Replaced` (never
        reconnected)."""
        if self._done is None:
            raise MPError("wait_closed() before connect()")
        await self._done.wait()
        if self._gave_up is not None:
            raise self._gave_up
        if self._lost_detail is not None and self._state == _LOST:
            raise self._lost_error()

    async def __aenter__(self) -> Client:
        if self._state == _NEW:
            await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _shutdown(self) -> None:
        task = self._read_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=self.connect_timeout)
        if self._writer is not None:
            self._writer.close()
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._writer.wait_closed()
            except (TimeoutError, OSError):
                pass
        await self._cancel_handlers_and_wait()
        self._state = _CLOSED
        assert self._done is not None
        self._done.set()

    def _cancel_handlers(self) -> builtins.list[asyncio.Task[None]]:
        current = asyncio.current_task()
        tasks = [t for t in self._handler_tasks if t is not current and not t.done()]
        for t in tasks:
            t.cancel()
        return tasks

    async def _cancel_handlers_and_wait(self) -> None:
        tasks = self._cancel_handlers()
        if tasks:
            await asyncio.wait(tasks, timeout=self.connect_timeout)

    # -- opening connections ------------------------------------------------

    async def open(self, peer: str, protocol: str, *, timeout: float | None = None) -> Connection:
        """Open a connection to ``peer`` for ``protocol`` and wait until
        the peer accepts it.

        Raises :class:`NoSuchClient` (no client of that name is connected),
        :class:`UnknownProtocol` (the peer has no handler for it),
        :class:`Denied` (level 2: refused by the broker's authorization or
        a connection limit, or by the peer, with a reason),
        :class:`PeerLeft`, :class:`BrokerLost`, :class:`ConnectionClosed`
        (the peer or this client closed it meanwhile), ``TimeoutError``
        (after ``timeout`` seconds, waiting for room to send the Syn
        included; a Syn sent is then withdrawn), or
        ``ValueError`` for a bad peer name or this client's own name.
        """
        check_name(peer)
        if peer == self._name:
            raise ValueError(
                f"{peer!r} is this client's own name: a client cannot open a "
                "connection to itself (both ends would share one connection id); "
                "log in a second client under another name to talk to this one"
            )
        if not isinstance(protocol, str):
            raise TypeError("protocol must be a str")
        self._check_ready()
        if len(self._conns) >= self.max_connections:
            raise MPError(f"max_connections ({self.max_connections}) connections are open")
        conn_id = f"{self._name}:{self._next_conn:x}"
        if len(conn_id.encode("utf-8")) > NAME_MAX:
            raise MPError("connection id too long: use a shorter client name")
        frame = self._codec.encode(
            Message(Meta.CONN_SYN, peer, conn_id, protocol.encode("utf-8"))
        )
        if len(frame) > self.max_message_size:
            raise MessageTooBig(f"a Syn of {len(frame)} bytes is over {self.max_message_size}")
        self._next_conn += 1
        conn = Connection(self, conn_id, peer, protocol, opening=True)
        # A larger window is granted right after the Syn, in one write.
        frame += self._start_credit(conn)
        self._conns[conn_id] = conn
        assert conn._opened is not None
        syn_queued = False
        try:
            async with asyncio.timeout(timeout):
                await self._queue_frame(frame, conn)
                syn_queued = True
                await asyncio.shield(conn._opened)
        except BaseException:
            if not conn._opened.done():
                conn._opened.cancel()
            elif not conn._opened.cancelled():
                conn._opened.exception()  # retrieved: no "never retrieved" warning
            if syn_queued:
                self._close_conn(conn)  # withdraws the Syn, or closes it if acked
            else:  # the broker never heard of it
                self._conns.pop(conn.id, None)
                conn._end(CloseReason.LOCAL)
            raise
        return conn

    # -- request/reply ------------------------------------------------------

    async def request(
        self,
        peer: str,
        protocol: str,
        data: bytes | bytearray | memoryview,
        *,
        timeout: float | None = None,
    ) -> bytes:
        """Ask ``peer`` one question: open a connection for ``protocol``,
        send ``data`` as one message, and return the first message the
        peer sends back, as soon as it arrives; the connection is closed
        then (and on every error). ``timeout`` (seconds) bounds the whole
        exchange; ``None``: no bound.

        Raises ``TimeoutError`` (no reply in time; the connection is
        withdrawn), :class:`NoSuchClient`, :class:`UnknownProtocol`,
        :class:`Denied` (as :meth:`open`), :class:`ConnectionClosed` (the
        peer closed the connection without replying),
        :class:`PeerLeft`, :class:`BrokerLost` (lost during the
        exchange), :class:`Disconnected` at once while the client
        reconnects, :class:`MessageTooBig` (nothing sent), ``ValueError``
        / ``TypeError`` for bad arguments. The peer answers with
        :meth:`handle_requests` (or any handler that sends back).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a message is bytes, not {type(data).__name__}")
        check_name(peer)
        self._check_ready()
        # The Data frame with the id open() is about to use: a message
        # that could never be sent fails before anything is.
        frame = self._codec.encode(
            Message(Meta.DATA, peer, f"{self._name}:{self._next_conn:x}", bytes(data))
        )
        if len(frame) > self.max_message_size:
            raise MessageTooBig(
                f"a request of {len(data)} bytes encodes to {len(frame)} bytes in "
                f"{self._codec.name}, over max_message_size {self.max_message_size}"
            )
        deadline = asyncio.timeout(timeout)
        conn: Connection | None = None
        try:
            async with deadline:
                conn = await self.open(peer, protocol)
                await conn.send(data)
                return await conn.recv()
        except TimeoutError:
            if deadline.expired():
                raise TimeoutError(
                    f"no reply from {peer!r} ({protocol!r}) within {timeout:g} s"
                ) from None
            raise
        finally:
            if conn is not None:
                self._close_conn(conn)

    def handle_requests(self, protocol: str, fn: RequestHandler) -> None:
        """The server side of :meth:`request`: accept connections for
        ``protocol`` and answer each message that arrives on them, in
        order, with ``fn(data)``: it returns the reply (bytes-like), an
        awaitable of it (a coroutine function), or ``None`` to send none.
        A connection stays open until the requester closes it (
        :meth:`request` does after the first reply), so one connection may
        carry several requests. When ``fn`` raises, the exception is
        logged and the connection closed (the requester sees
        :class:`ConnectionClosed`). Raises as :meth:`handle`."""
        if not callable(fn):
            raise TypeError("fn must be callable")

        async def answer(conn: Connection) -> None:
            async for data in conn:
                reply = fn(data)
                if inspect.isawaitable(reply):
                    reply = await reply
                if reply is not None:
                    await conn.send(reply)

        answer.__qualname__ = f"handle_requests({protocol!r})"
        self.handle(protocol, answer)

    # -- presence (level 2) -------------------------------------------------

    def _need_level2(self, what: str) -> None:
        self._check_ready()
        if self._settings.level < 2:
            why = (
                "this client announced level 1"
                if self._wanted_level < 2
                else "the broker speaks level 1"
            )
            raise LevelRequired(f"{what} needs protocol level 2, and {why}")

    def _watch_key(self, target: str, prefix: bool) -> tuple[str, bool]:
        if not isinstance(target, str):
            raise TypeError("a watched name or prefix is a str")
        if prefix:
            try:
                encoded = target.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"prefix {target!r} is not valid UTF-8") from None
            if len(encoded) > NAME_MAX:
                raise ValueError(f"a prefix is at most {NAME_MAX} bytes")
        else:
            check_name(target)
        return (target, prefix)

    async def watch(self, name: str, *, prefix: bool = False) -> None:
        """Protocol level 2: be told when ``name`` comes online or goes
        offline (:meth:`presence`); with ``prefix=True``, every name that
        starts with ``name`` (``""``: every name). A name watch is
        answered at once with the name's state now; a prefix watch is not:
        :meth:`list` after it gives the names online, and nothing is
        missed in between. Watching what is already watched does nothing.

        The broker tells only of names this client may see (its
        authorization), and lets a client hold :attr:`max_watches`
        watches: one more raises :class:`MPError` without asking it.
        Raises :class:`LevelRequired` at level 1."""
        key = self._watch_key(name, prefix)
        self._need_level2("watch()")
        if key in self._watches:
            return
        if len(self._watches) >= self._settings.watches:
            raise MPError(
                f"too many watches: the broker allows {self._settings.watches} "
                "(limits.max_watches_per_client); unwatch() one first"
            )
        self._watches.add(key)  # counted now, so that concurrent watches respect the cap
        try:
            await self._queue_frame(self._watch_frame(Meta.WATCH, key), None)
        except BaseException:
            self._watches.discard(key)
            raise

    async def unwatch(self, name: str, *, prefix: bool = False) -> None:
        """End a :meth:`watch` (same arguments); nothing if not watched.
        Notices of it already received are still in :meth:`presence`."""
        key = self._watch_key(name, prefix)
        self._need_level2("unwatch()")
        if key not in self._watches:
            return
        await self._queue_frame(self._watch_frame(Meta.UNWATCH, key), None)
        self._watches.discard(key)

    def _watch_frame(self, meta: Meta, key: tuple[str, bool]) -> bytes:
        target, prefix = key
        return self._codec.encode(Message(meta, target, "", b"prefix" if prefix else None))

    async def next_presence(self) -> PresenceEvent:
        """The next presence notice (see :meth:`watch`), waiting for one.
        Notices of one name not yet taken are merged into its last state.
        Raises :class:`ConnectionClosed` once the client is closed,
        :class:`BrokerLost` (or :class:`Replaced`, :class:`GoingAway`)
        once the broker connection is lost; a reconnecting client keeps
        waiting (its watches are sent again once it is back)."""
        while not self._presence:
            if self._state not in (_READY, _RECONNECTING):
                raise self._not_ready_error()
            self._presence_ready.clear()
            await self._presence_ready.wait()
        name = next(iter(self._presence))
        online = self._presence.pop(name)
        self._room.set()  # the read loop may wait for presence room
        return PresenceEvent(name, online)

    async def presence(self) -> AsyncIterator[PresenceEvent]:
        """The presence notices, as they come: ``async for event in
        client.presence()``. Ends when the client is closed; raises
        :class:`BrokerLost` (or a subclass) when the broker is lost. One
        consumer at a time: each notice is given once."""
        while True:
            try:
                event = await self.next_presence()
            except ConnectionClosed:
                return
            yield event

    async def list(self, prefix: str = "", *, timeout: float | None = None) -> NameList:
        """Protocol level 2: the names online that start with ``prefix``
        (``""``: all), among those this client may see, as a
        :class:`NameList` (a list of str, in no particular order, with
        ``truncated`` True when the broker had more than it lists).
        Raises :class:`LevelRequired` at level 1, ``TimeoutError`` after
        ``timeout`` seconds, and as :meth:`open` when the client ends."""
        self._watch_key(prefix, True)
        self._need_level2("list()")
        request_id = f"list:{self._next_list:x}"
        self._next_list += 1
        request = _ListRequest(prefix, asyncio.get_running_loop().create_future())
        self._lists[request_id] = request
        try:
            async with asyncio.timeout(timeout):
                frame = self._codec.encode(Message(Meta.LIST, prefix, request_id))
                await self._queue_frame(frame, None)
                return await asyncio.shield(request.future)
        finally:
            self._lists.pop(request_id, None)
            if not request.future.done():
                request.future.cancel()

    async def wait_going_away(self) -> float:
        """Protocol level 2: wait until the broker announces that it shuts
        down (GoingAway); return the delay it gave, in seconds, within
        which it closes the socket (connect to another broker meanwhile).
        Raises as :meth:`next_presence` if the client ends first (and as
        it, keeps waiting while the client reconnects)."""
        while self._going_away is None:
            if self._state not in (_READY, _RECONNECTING):
                raise self._not_ready_error()
            await self._going_away_told.wait()
        return self._going_away

    # -- credit (level 2) ---------------------------------------------------

    def _start_credit(self, conn: Connection) -> bytes:
        """Level 2: give a new connection its credit, both ways; return the
        Credit to write right after the Syn or Ack when this client wants
        a larger window than the broker's (else nothing)."""
        window = self._settings.window
        if self._settings.level < 2:
            return b""
        conn._send_credit = window
        conn._recv_window = max(window, self.receive_window or 0)
        extra = conn._recv_window - window
        if extra <= 0:
            return b""
        return self._codec.encode(
            Message(Meta.CREDIT, conn.peer, conn.id, str(extra).encode("ascii"))
        )

    # -- sending ------------------------------------------------------------

    def _check_ready(self) -> None:
        if self._state != _READY:
            raise self._not_ready_error()

    def _not_ready_error(self) -> MPError:
        if self._state == _LOST:
            return self._lost_error()
        if self._state == _RECONNECTING:
            return Disconnected(self._lost_detail or "")
        if self._state in (_CLOSING, _CLOSED):
            return ConnectionClosed(CloseReason.LOCAL, "the client is closed")
        return MPError("not logged in: call connect() first")

    def _end_requests(self, error: MPError | None = None, final: bool = True) -> None:
        """The session ended: fail the lists waiting for replies (with
        ``error``, else as the client's state says). When the client is
        done (``final``), also wake whoever waits for presence or
        GoingAway (they raise); a reconnecting client keeps them waiting."""
        for request in self._lists.values():
            if not request.future.done():
                request.future.set_exception(error or self._not_ready_error())
        self._lists.clear()
        if final:
            self._presence_ready.set()
            self._going_away_told.set()
        self._room.set()  # a read loop waiting for presence room looks again

    def _write(self, msg: Message) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(self._codec.encode(msg))

    async def _queue_frame(self, frame: bytes, conn: Connection | None, cost: int = 0) -> bool:
        """Queue ``frame`` (for ``conn``, if any) once the transport has
        room, in turn with the other senders: the transport then holds at
        most its high-water mark plus one message, however many tasks
        send. A Data frame's ``cost`` is taken from ``conn``'s credit
        (level 2); when another sender took the last of it meanwhile,
        nothing is queued and this returns False (wait for credit and try
        again). Nothing is queued when this raises (or is cancelled)."""
        async with self._send_lock:
            await self._drain()
            if conn is not None and conn.close_reason is not None:
                raise conn._end_error()
            self._check_ready()
            if cost and conn is not None and conn._send_credit is not None:
                if conn._send_credit <= 0:
                    return False
                conn._send_credit -= cost
            assert self._writer is not None
            self._writer.write(frame)
            return True

    async def _wait_transport_room(self, conn: Connection) -> None:
        async with self._send_lock:
            await self._drain()
            if conn.close_reason is not None:
                raise conn._end_error()
            self._check_ready()

    def _transport_full(self) -> bool:
        assert self._writer is not None
        transport = self._writer.transport
        return transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]

    async def _drain(self) -> None:
        assert self._writer is not None
        session = self._session
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as e:
            if self._state == _READY and session == self._session:
                self._lose(f"write failed: {e}")
            if self._state == _RECONNECTING:
                raise Disconnected(self._lost_detail or str(e)) from e
            if self._state != _READY:
                raise self._lost_error(self._lost_detail or str(e)) from e
            # A later session is up: the caller checks its own state.

    async def _drain_quietly(self) -> None:
        if self._writer is None or self._state not in (_READY, _CLOSING):
            return
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass

    def _data_frame(self, conn: Connection, data: bytes | bytearray | memoryview) -> bytes:
        """The Data frame of ``data`` on ``conn``, after the checks every
        send makes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a message is bytes, not {type(data).__name__}")
        if conn.close_reason is not None:
            raise conn._end_error()
        if conn._opening:
            raise MPError("the connection is not open yet")
        self._check_ready()
        frame = self._codec.encode(Message(Meta.DATA, conn.peer, conn.id, bytes(data)))
        if len(frame) > self.max_message_size:
            raise MessageTooBig(
                f"a message of {len(data)} bytes encodes to {len(frame)} bytes in "
                f"{self._codec.name}, over max_message_size {self.max_message_size}"
            )
        return frame

    async def _send_data(self, conn: Connection, data: bytes | bytearray | memoryview) -> None:
        frame = self._data_frame(conn, data)
        if conn._send_credit is None:  # level 1: the transport is the only limit
            await self._queue_frame(frame, conn)
            return
        # Level 2: wait for this connection's credit before taking a turn
        # at the transport, so that a connection without credit never
        # holds up the others.
        cost = len(data) + CREDIT_MESSAGE_COST
        while True:
            await conn._wait_credit()
            if await self._queue_frame(frame, conn, cost):
                return

    def _send_data_nowait(self, conn: Connection, data: bytes | bytearray | memoryview) -> None:
        frame = self._data_frame(conn, data)
        credit = conn._send_credit
        if credit is not None and credit <= 0:
            raise WouldBlock(
                f"{conn.id}: no credit left ({credit} bytes): the peer has not "
                "consumed what was sent yet (wait_writable() waits for its grant)",
                credit=True,
            )
        if self._send_lock.locked() or self._transport_full():
            raise WouldBlock(
                "the transport is full: the broker does not take what this "
                "client writes fast enough (wait_writable() waits for room)",
                credit=False,
            )
        assert self._writer is not None
        self._writer.write(frame)
        if credit is not None:
            conn._send_credit = credit - (len(data) + CREDIT_MESSAGE_COST)

    def _grant(self, conn: Connection, nbytes: int | None) -> None:
        if conn._send_credit is None:
            raise LevelRequired(
                "credit is a protocol level 2 feature: this client speaks level "
                f"{self.level} with the broker"
            )
        if conn.close_reason is not None:
            raise conn._end_error()
        self._check_ready()
        if nbytes is None:
            nbytes = min(conn._consumed, CREDIT_MAX)
            if nbytes == 0:
                return
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise TypeError("a grant is an int, in bytes")
        if not 1 <= nbytes <= CREDIT_MAX:
            raise ValueError(f"a grant is 1 to {CREDIT_MAX} bytes, not {nbytes}")
        conn._consumed = max(0, conn._consumed - nbytes)
        self._write(Message(Meta.CREDIT, conn.peer, conn.id, str(nbytes).encode("ascii")))

    def _consumed_by_app(self, conn: Connection, cost: int) -> None:
        """The application took a message of ``cost`` from ``conn``: in
        automatic mode, grant it back once half a window was taken (a
        Credit per message would double the traffic of small messages)."""
        conn._consumed += cost
        if (
            self.credit_mode == "auto"
            and conn.close_reason is None
            and self._state == _READY
            and conn._consumed >= max(1, conn._recv_window // 2)
        ):
            self._grant(conn, None)

    def _close_conn(self, conn: Connection, detail: str = "") -> None:
        if conn.close_reason is not None:
            return
        if self._state == _READY:
            self._write(Message(Meta.CONN_CLOSED, conn.peer, conn.id))
        self._conns.pop(conn.id, None)
        conn._end(CloseReason.LOCAL, detail)

    # -- receiving ----------------------------------------------------------

    async def _next_message(self) -> Message | None:
        """The next message from the broker, or None at EOF. Raises
        :class:`BrokerLost` after ``idle_timeout`` seconds without a byte."""
        while not self._pending:
            if self._decoder.more:  # a batch was left in the decoder
                self._pending.extend(self._decoder.feed(b""))
                continue
            chunk = await self._read_chunk()
            if not chunk:
                return None
            self._pending.extend(self._decoder.feed(chunk))
        return self._pending.popleft()

    async def _read_chunk(self) -> bytes:
        assert self._reader is not None
        if self.idle_timeout is None:
            return await self._reader.read(_READ_CHUNK)
        try:
            async with asyncio.timeout(self.idle_timeout):
                return await self._reader.read(_READ_CHUNK)
        except TimeoutError:
            raise BrokerLost(
                f"nothing from the broker for {self.idle_timeout:g} s (idle_timeout)"
            ) from None

    async def _wait_write_room(self) -> None:
        """Stop reading while the broker does not take what this client
        writes: the replies the library writes on its own (ConnAck,
        UnknownProto, ConnClosed) are bounded by the transport's high-water
        mark like the messages the application sends."""
        assert self._writer is not None
        transport = self._writer.transport
        if transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[1]:
            return
        self._paused = "the broker does not read what this client writes"
        try:
            await self._writer.drain()
        finally:
            self._paused = None

    def _inbox_over(self, conn: Connection) -> bool:
        if conn.close_reason is not None:
            return False
        limit = self.inbox_limit
        if conn._send_credit is not None:
            # Level 2: the peer sends at most the window granted, plus the
            # message that passes it; an inbox that holds that must not
            # pause reading (every connection would wait for this one).
            limit = max(limit, conn._recv_window + self.max_message_size + MESSAGE_OVERHEAD)
        return conn._inbox_bytes >= limit

    async def _wait_inbox_room(self, conn: Connection) -> None:
        """After a delivery to ``conn``: with ``inbox_overflow="pause"``,
        wait (not reading from the broker) while its inbox is full; with
        ``"close"``, close ``conn`` when its inbox is over the limit with
        more than one message (one larger message is always accepted).
        Either way, wait while all the inboxes together are full."""
        if self._inbox_over(conn) and self.inbox_overflow == "close" and len(conn._inbox) > 1:
            log.warning(
                "%s: closed %s: its inbox passed inbox_limit (%d bytes) "
                "(inbox_overflow = close)",
                self._name,
                conn.id,
                self.inbox_limit,
            )
            self._close_conn(conn, f"its inbox passed inbox_limit ({self.inbox_limit} bytes)")
        pause_for_conn = self.inbox_overflow == "pause"
        while (pause_for_conn and self._inbox_over(conn)) or (
            self._inbox_total >= self.inbox_total_limit
        ):
            self._paused = "an inbox is full"
            self._room.clear()
            try:
                await self._room.wait()
            finally:
                self._paused = None

    def _inbox_taken(self, conn: Connection, cost: int) -> None:
        conn._inbox_bytes -= cost
        if conn.close_reason is None:
            self._inbox_left(cost)

    def _inbox_left(self, cost: int) -> None:
        self._inbox_total -= cost
        self._room.set()

    async def _read_loop(self) -> None:
        try:
            while True:
                msg = await self._next_message()
                if msg is None:
                    if self._state == _READY:
                        self._lose("the broker closed the connection")
                    return
                if self._state == _READY:
                    await self._dispatch(msg)
                    await self._wait_write_room()
        except asyncio.CancelledError:
            raise
        except BrokerLost as e:  # idle_timeout
            self._lose(e.detail)
        except MPError as e:  # DecodeError
            self._lose(f"undecodable message from the broker: {e}")
        except (OSError, EOFError) as e:
            self._lose(f"read failed: {e}")

    def _lost_error(self, detail: str | None = None) -> BrokerLost:
        """The exception for a lost broker connection: :class:`Replaced`
        or :class:`GoingAway` when the broker said why (level 2), else
        :class:`BrokerLost` with ``detail``."""
        if self._replaced is not None:
            return Replaced(self._replaced)
        if self._going_away is not None:
            return GoingAway(self._going_away)
        return BrokerLost(detail if detail is not None else (self._lost_detail or ""))

    def _lose(self, detail: str) -> None:
        """The broker connection of the session was lost: end everything
        of the session, then either reconnect (``reconnect=True``, unless
        the broker said Replaced) or be done."""
        if self._state != _READY:
            return
        error = self._lost_error(detail)
        again = self.reconnect and not isinstance(error, Replaced)
        self._state = _RECONNECTING if again else _LOST
        detail = error.detail
        self._lost_detail = detail
        log.log(
            logging.WARNING if again else logging.DEBUG,
            "%s: broker lost: %s%s",
            self._name,
            detail,
            "; reconnecting" if again else "",
        )
        for conn in list(self._conns.values()):
            conn._end(CloseReason.BROKER_LOST, detail)
        self._conns.clear()
        self._end_requests(error, final=not again)
        if self._writer is not None:
            self._writer.transport.abort()
        if not again:
            assert self._done is not None
            self._done.set()
            return
        self._reconnect_task = asyncio.create_task(
            self._reconnect(), name=f"mpclient-reconnect-{self._name}"
        )
        self._call_hook(self.on_disconnected, error)

    # -- reconnecting -------------------------------------------------------

    def _call_hook(self, hook: Callable[..., Any] | None, *args: Any) -> None:
        """Call a reconnect callback; an awaitable it returns runs as a
        task. What it raises is logged, never propagated."""
        if hook is None:
            return
        try:
            result = hook(*args)
        except Exception:
            log.exception("%s: the %s callback raised", self._name, getattr(hook, "__name__", "?"))
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_done)

    def _hook_done(self, task: asyncio.Future[Any]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a reconnect callback raised", self._name, exc_info=task.exception())

    async def _reconnect(self) -> None:
        """Log in again: attempt n waits :func:`reconnect_delay`, at the
        next address (round robin, starting after the lost one), until
        one succeeds, an error retrying cannot mend, or
        ``reconnect_max_attempts`` failures in a row."""
        old = self._read_task
        if old is not None and not old.done():
            # It must not read the next session's socket.
            old.cancel()
            await asyncio.wait({old})
        attempt = 0
        while True:
            attempt += 1
            delay = reconnect_delay(attempt, self.reconnect_initial, self.reconnect_max)
            self._use_address(self._address_index + 1)
            self._call_hook(self.on_reconnecting, attempt, delay)
            if delay > 0:
                await asyncio.sleep(delay)
            if self._state != _RECONNECTING:
                return
            try:
                await self._try_login()
            except Exception as e:
                if not _retryable(e):
                    self._give_up(e, f"cannot log in again at {self._address}")
                    return
                if self.reconnect_max_attempts and attempt >= self.reconnect_max_attempts:
                    self._give_up(e, f"gave up after {attempt} reconnect attempts")
                    return
                self._lost_detail = str(e)
                log.info("%s: reconnect attempt %d failed: %s", self._name, attempt, e)
                continue
            if self._state != _RECONNECTING:  # closed meanwhile
                if self._writer is not None:
                    self._writer.transport.abort()
                return
            break
        # A new session: nothing of the old one carries over but the
        # handlers and the watches.
        self._replaced = None
        self._going_away = None
        self._going_away_told.clear()
        self._settings_changed_watches()
        self._start_session()
        self._resend_watches()
        log.info("%s: logged in again at %s (attempt %d)", self._name, self._address, attempt)
        self._call_hook(self.on_reconnected)

    def _give_up(self, error: BaseException, why: str) -> None:
        self._state = _LOST
        self._gave_up = error
        self._going_away = None  # the detail says more now
        self._lost_detail = f"{why}: {error}"
        log.warning("%s: %s", self._name, self._lost_detail)
        self._end_requests(final=True)
        assert self._done is not None
        self._done.set()

    async def _stop_reconnecting(self) -> None:
        """close() while reconnecting: stop the attempts, and be closed."""
        self._state = _CLOSED
        task = self._reconnect_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=self.connect_timeout)
        self._end_requests(final=True)
        await self._cancel_handlers_and_wait()
        assert self._done is not None
        self._done.set()

    def _settings_changed_watches(self) -> None:
        """The new session's broker may allow fewer watches, or none (level
        1): keep those it allows; say what is dropped."""
        keep = self._settings.watches if self._settings.level >= 2 else 0
        if len(self._watches) <= keep:
            return
        dropped = sorted(self._watches)[keep:]
        for key in dropped:
            self._watches.discard(key)
        log.warning(
            "%s: the broker of the new session allows %d watches: dropped %s",
            self._name,
            keep,
            ", ".join(repr(name) + (" (prefix)" if prefix else "") for name, prefix in dropped),
        )

    def _resend_watches(self) -> None:
        """Send the watches again (queued at once: the transport is new and
        empty); the presence notices then report each name anew."""
        for key in sorted(self._watches):
            self._write(Message(Meta.WATCH, key[0], "", b"prefix" if key[1] else None))

    async def _dispatch(self, msg: Message) -> None:
        meta = msg.meta
        if meta == Meta.CONN_SYN:
            self._handle_syn(msg)
            return
        if meta == Meta.CLIENT_CLOSED:
            for gone in [c for c in self._conns.values() if c.peer == msg.other_client]:
                del self._conns[gone.id]
                gone._end(CloseReason.PEER_LEFT)
            return
        if meta == Meta.WAT:
            log.warning(
                "%s: the broker did not understand a message (WAT): %s",
                self._name,
                (msg.data or b"").decode("utf-8", "replace"),
            )
            return
        if self._settings.level >= 2 and meta in _LEVEL2_BROKER_NOTICES:
            await self._dispatch_notice(msg)
            return
        conn = self._conns.get(msg.connection_id)
        # Late messages for a connection we closed, and anything that does
        # not come from the connection's peer, are ignored.
        if conn is None or conn.peer != msg.other_client:
            log.debug("%s: ignored meta %d on %r", self._name, meta, msg.connection_id)
            return
        if meta == Meta.DATA:
            if not conn._opening:
                conn._deliver(msg.data if msg.data is not None else b"")
                await self._wait_inbox_room(conn)
        elif meta == Meta.CONN_ACK:
            if conn._opening:
                conn._open_done()
        elif meta in (Meta.UNKNOWN_PROTO, Meta.NO_SUCH_CONNECTION, Meta.CONN_CLOSED):
            del self._conns[conn.id]
            if conn._opening:
                if meta == Meta.UNKNOWN_PROTO:
                    conn._fail_open(UnknownProtocol(conn.peer, conn.protocol))
                elif meta == Meta.NO_SUCH_CONNECTION:
                    conn._fail_open(NoSuchClient(conn.peer, conn.protocol))
            conn._end(CloseReason.BY_PEER)
        elif meta == Meta.CREDIT and self._settings.level >= 2:
            grant = parse_credit(msg.data)
            if grant is None:
                log.warning("%s: a malformed Credit on %s ignored", self._name, conn.id)
            else:
                conn._credited(grant)
        elif meta == Meta.DENIED and self._settings.level >= 2:
            # The broker removed the connection: refused by its
            # authorization or a limit, or by the peer.
            reason = (msg.data or b"").decode("utf-8", "replace")
            del self._conns[conn.id]
            if conn._opening:
                conn._fail_open(Denied(conn.peer, conn.protocol, reason))
            conn._end(CloseReason.BY_PEER, f"denied: {reason}")
        else:
            log.debug("%s: ignored meta %d from the broker", self._name, meta)

    async def _dispatch_notice(self, msg: Message) -> None:
        """The level-2 messages that belong to no connection: Presence,
        List replies, Replaced and GoingAway."""
        meta = msg.meta
        if meta == Meta.PRESENCE:
            if msg.data not in (b"online", b"offline") or not msg.other_client:
                log.warning("%s: a malformed Presence ignored", self._name)
                return
            # One entry a name, in its last state, moved to the end.
            self._presence.pop(msg.other_client, None)
            self._presence[msg.other_client] = msg.data == b"online"
            self._presence_ready.set()
            await self._wait_presence_room()
        elif meta == Meta.LIST:
            self._list_reply(msg)
        elif meta == Meta.REPLACED:
            self._replaced = (msg.data or b"").decode("utf-8", "replace")
            log.warning(
                "%s: the broker closes this session: %s (Replaced: the name "
                "logged in again elsewhere)",
                self._name,
                self._replaced,
            )
        elif meta == Meta.GOING_AWAY:
            # Decimal milliseconds; a malformed delay is taken as "at once".
            ms = msg.data if msg.data is not None and msg.data.isdigit() else b"0"
            self._going_away = int(ms[:10]) / 1000
            log.warning(
                "%s: the broker is going away: it closes the socket within %g s",
                self._name,
                self._going_away,
            )
            self._going_away_told.set()

    def _list_reply(self, msg: Message) -> None:
        request = self._lists.get(msg.connection_id)
        if request is None or request.prefix != msg.other_client or request.future.done():
            log.debug("%s: a List reply for no request ignored", self._name)
            return
        names = request.names
        # The last reply: absent data, or empty data if the broker left
        # names out (a reply with names is never empty).
        if msg.data is None or msg.data == b"":
            names.truncated = names.truncated or msg.data is not None
            request.future.set_result(names)
            return
        for raw in msg.data.split(b"\n"):
            if not raw:
                continue
            if len(names) >= LIST_NAMES_LIMIT:
                names.truncated = True
                break
            names.append(raw.decode("utf-8", "replace"))

    async def _wait_presence_room(self) -> None:
        """Stop reading while too many presence notices wait for the
        application (as for a full inbox)."""
        while len(self._presence) > PRESENCE_PENDING_LIMIT and self._state == _READY:
            self._paused = "presence notices wait for the application"
            self._room.clear()
            try:
                await self._room.wait()
            finally:
                self._paused = None

    def _handle_syn(self, msg: Message) -> None:
        try:
            protocol: str | None = (msg.data or b"").decode("utf-8")
        except UnicodeDecodeError:
            protocol = None
        handler = self._handlers.get(protocol) if protocol is not None else None
        if (
            handler is None
            or protocol is None
            or msg.connection_id in self._conns
            or name_error(msg.other_client) is not None
        ):
            self._write(Message(Meta.UNKNOWN_PROTO, msg.other_client, msg.connection_id))
            return
        if len(self._conns) >= self.max_connections:
            # As the broker's max_connections_per_client: refused, logged;
            # at level 2 with Denied, which says why.
            level2 = self._settings.level >= 2
            if not self._syn_limit_logged:
                log.warning(
                    "%s: max_connections (%d) reached: refusing Syns with %s",
                    self._name,
                    self.max_connections,
                    "Denied" if level2 else "UnknownProto",
                )
                self._syn_limit_logged = True
            if level2:
                self._write(
                    Message(Meta.DENIED, msg.other_client, msg.connection_id, _TOO_MANY)
                )
            else:
                self._write(Message(Meta.UNKNOWN_PROTO, msg.other_client, msg.connection_id))
            return
        conn = Connection(self, msg.connection_id, msg.other_client, protocol, opening=False)
        self._conns[conn.id] = conn
        ack = self._codec.encode(Message(Meta.CONN_ACK, conn.peer, conn.id))
        # A larger window is granted right after the Ack, in one write.
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(ack + self._start_credit(conn))
        try:
            result = handler(conn)
        except Exception:
            log.exception("%s: the handler for %r raised", self._name, protocol)
            self._close_conn(conn)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._run_handler(result, conn))
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_tasks.discard)

    async def _run_handler(self, work: Awaitable[Any], conn: Connection) -> None:
        try:
            await work
        except ConnectionEnded as e:
            log.debug("%s: handler for %r ended: %s", self._name, conn.protocol, e)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s: the handler for %r raised", self._name, conn.protocol)
        finally:
            self._close_conn(conn)
            await self._drain_quietly()


#: The level-2 messages of the broker that belong to no connection.
_LEVEL2_BROKER_NOTICES = frozenset(
    (Meta.PRESENCE, Meta.LIST, Meta.REPLACED, Meta.GOING_AWAY)
)

#: The reason of a Denied for a Syn past max_connections.
_TOO_MANY = b"too many connections"

#: The broker's AuthFailure when another session holds the name.
_NAME_TAKEN = "name already in use"

#: How the broker's line starts when it does not recognise a client's wire
#: format ("mpbroker: unknown wire format; this listener speaks: ...").
_REFUSAL_PREFIX = b"mpbroker: "


def _broker_line(first: bytes) -> str:
    """The first line of what the broker sent, as printable text."""
    line = first.split(b"\n", 1)[0][:200].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "?" for ch in line)


def _wrong_format_hint(fmt: str, first: bytes) -> str | None:
    """Why the first bytes of the broker's answer cannot be in ``fmt``, and
    what to do; ``None`` when they may be."""
    if first.startswith(_REFUSAL_PREFIX):
        # The broker did not recognise this client's wire format.
        return (
            f"the broker refused this client's wire format ({fmt}): it said "
            f"{_broker_line(first)!r}; use a format= the listener speaks, "
            "or another listener"
        )
    if fmt == "binary" and first.startswith(b'{"'):
        reason = ""
        try:
            answer = get_codec("json").decoder(len(first) + 1).feed(first)
            if answer and answer[0].data:
                text = answer[0].data.decode("utf-8", "replace")
                reason = f" (its answer: {text})"
        except MPError:
            pass
        return (
            "the broker answered in JSON: this listener speaks JSON, not "
            f"binary{reason}; use format='json', or a binary or \"auto\" listener"
        )
    if fmt == "json" and first[:1] not in (b"{", b" ", b"\t", b"\r", b"\n"):
        # A binary frame starts with its length, 4 bytes big-endian: for
        # any answer to a login, a zero byte.
        if first[:1] == b"\x00":
            return (
                "the broker answered in the binary format: this listener speaks "
                "binary, not JSON; use format='binary', or a JSON or \"auto\" listener"
            )
        return (
            f"the broker's answer is not JSON ({_broker_line(first)!r}): is this an "
            "mpbroker listener of the JSON format?"
        )
    return None


async def connect(
    address: str,
    name: str,
    secret: bytes | str = b"",
    **options: Any,
) -> Client:
    """Create a :class:`Client` (same arguments), log it in and return it.

    ::

        client = await mpclient.connect("tcp:127.0.0.1:7330", "alice", b"pw",
                                        handlers={"echo": echo})
    """
    client = Client(address, name, secret, **options)
    await client.connect()
    return client
