"""The asyncio client against the real broker: login, echo in both
formats and across them, refusals, the ways a connection ends, large and
many messages, flow control, Unix sockets."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from conftest import ALLOW_ALL, DEFAULT_LISTENERS, T, Broker, BrokerFactory

import mpclient
from mpclient import CloseReason, Connection, Message, Meta
from mpclient.codec import BINARY

FORMATS = ["json", "binary"]
X = TypeVar("X")


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    """Every wait is bounded."""
    return await asyncio.wait_for(aw, T(seconds))


async def echo(conn: Connection) -> None:
    async for msg in conn:
        await conn.send(msg)


async def login(
    broker: Broker, name: str, fmt: str = "binary", **kwargs: Any
) -> mpclient.Client:
    return await within(
        mpclient.connect(broker.address(fmt), name, b"x", format=fmt, **kwargs)
    )


# ----------------------------------------------------------------------------
# Login


@pytest.mark.parametrize("fmt", FORMATS)
async def test_login_ok(broker: Broker, fmt: str) -> None:
    client = await login(broker, "alice", fmt)
    assert client.logged_in and client.name == "alice" and client.format == fmt
    await within(client.close())
    assert not client.logged_in
    await within(client.wait_closed())  # closed by us: no exception


def passwd_setup(b: Broker) -> None:
    b.write_file("passwd", b.passwd_entry("alice", "s3cret") + "\n")


PASSWD_BODY = (
    'authenticators = ( { module = "auth_passwd.so"; options = { file = "@DIR@/passwd"; }; } );\n'
    + DEFAULT_LISTENERS
)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_login_passwd(broker_factory: BrokerFactory, fmt: str) -> None:
    broker = broker_factory(PASSWD_BODY, setup=passwd_setup)
    addr = broker.address(fmt)
    client = await within(mpclient.connect(addr, "alice", b"s3cret", format=fmt))
    await within(client.close())
    # A str secret is UTF-8.
    client = await within(mpclient.connect(addr, "alice", "s3cret", format=fmt))
    await within(client.close())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_login_failure_carries_the_reason(broker_factory: BrokerFactory, fmt: str) -> None:
    broker = broker_factory(PASSWD_BODY, setup=passwd_setup)
    addr = broker.address(fmt)
    for name, secret in [("alice", b"wrong"), ("mallory", b"s3cret")]:
        with pytest.raises(mpclient.AuthError) as info:
            await within(mpclient.connect(addr, name, secret, format=fmt))
        assert info.value.reason == "invalid name or secret"
        assert "invalid name or secret" in str(info.value)


async def test_duplicate_name_rejected(broker_factory: BrokerFactory) -> None:
    broker = broker_factory('duplicate_names = "reject";\n' + ALLOW_ALL + DEFAULT_LISTENERS)
    first = await login(broker, "alice", "json")
    with pytest.raises(mpclient.AuthError) as info:
        await login(broker, "alice", "binary")
    assert info.value.reason == "name already in use"
    await within(first.close())


async def test_duplicate_name_replaces_and_old_session_is_lost(broker: Broker) -> None:
    first = await login(broker, "alice", "json")
    second = await login(broker, "alice", "binary")
    with pytest.raises(mpclient.BrokerLost):
        await within(first.wait_closed())
    assert first.lost_reason is not None
    await within(second.close())


async def test_connect_refused() -> None:
    with pytest.raises(mpclient.ConnectError):
        await within(mpclient.connect("unix:/nonexistent/mp.sock", "alice"))


# ----------------------------------------------------------------------------
# Echo, in and across formats


@pytest.mark.parametrize("fmt", FORMATS)
async def test_echo_round_trip(broker: Broker, fmt: str) -> None:
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    client = await login(broker, "cli", fmt)
    conn = await within(client.open("srv", "echo"))
    assert conn.id == "cli:0" and conn.peer == "srv" and conn.protocol == "echo"
    for msg in [b"hello", b"", bytes(range(256)), b'<&>"\\\n', "é€😀".encode()]:
        await within(conn.send(msg))
        assert await within(conn.recv()) == msg
    await within(conn.close())
    assert conn.close_reason is CloseReason.LOCAL
    conn2 = await within(client.open("srv", "echo"))
    assert conn2.id == "cli:1"
    await within(client.close())
    await within(server.close())


@pytest.mark.parametrize("server_fmt,client_fmt", [("json", "binary"), ("binary", "json")])
async def test_cross_format(broker: Broker, server_fmt: str, client_fmt: str) -> None:
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def record_and_echo(conn: Connection) -> None:
        async for msg in conn:
            await seen.put(msg)
            await conn.send(msg)

    server = await login(broker, "srv", server_fmt, handlers={"rec": record_and_echo})
    client = await login(broker, "cli", client_fmt)
    conn = await within(client.open("srv", "rec"))
    payloads = [b"", b"\x00", bytes(range(256)), b"a" * 70000, "<é>".encode()]
    for msg in payloads:
        await within(conn.send(msg))
        assert await within(seen.get()) == msg  # arrived intact in the other format
        assert await within(conn.recv()) == msg  # and back again
    await within(conn.close())
    await within(client.close())
    await within(server.close())


# ----------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_protocol_refused(broker: Broker, fmt: str) -> None:
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    client = await login(broker, "cli", fmt)
    with pytest.raises(mpclient.UnknownProtocol) as info:
        await within(client.open("srv", "chat"))
    assert (info.value.peer, info.value.protocol) == ("srv", "chat")
    assert client.connections == []
    # unhandle(): the protocol is refused from then on.
    server.unhandle("echo")
    with pytest.raises(mpclient.UnknownProtocol):
        await within(client.open("srv", "echo"))
    await within(client.close())
    await within(server.close())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_no_such_client(broker: Broker, fmt: str) -> None:
    client = await login(broker, "cli", fmt)
    with pytest.raises(mpclient.NoSuchClient) as info:
        await within(client.open("nobody", "echo"))
    assert info.value.peer == "nobody"
    assert isinstance(info.value, mpclient.OpenError)
    assert client.logged_in and client.connections == []
    # A connection to itself is refused here: its two ends would share one
    # id, and the messages of the two directions could not be told apart.
    with pytest.raises(ValueError):
        await within(client.open("cli", "echo"))
    # The client goes on working.
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"after"))
    assert await within(conn.recv()) == b"after"
    await within(client.close())
    await within(server.close())


async def test_open_timeout_withdraws_the_syn(broker: Broker) -> None:
    # A raw peer that logs in and never answers a Syn.
    reader, writer = await within(asyncio.open_connection("127.0.0.1", broker.listeners[1].port))
    assert broker.listeners[1].translator == "binary"
    writer.write(BINARY.encode(Message(Meta.AUTH, "mute", "", b"x")))
    decoder = BINARY.decoder(1 << 20)

    async def next_message() -> Message:
        while True:
            msgs = decoder.feed(await within(reader.read(65536)))
            if msgs:
                assert len(msgs) == 1
                return msgs[0]

    assert (await next_message()).meta == Meta.AUTH_OK
    client = await login(broker, "cli", "json")
    with pytest.raises(TimeoutError):
        await client.open("mute", "slow", timeout=T(0.3))
    assert await next_message() == Message(Meta.CONN_SYN, "cli", "cli:0", b"slow")
    assert await next_message() == Message(Meta.CONN_CLOSED, "cli", "cli:0", None)
    assert client.connections == []
    writer.close()
    await within(client.close())


# ----------------------------------------------------------------------------
# How connections end


@pytest.mark.parametrize("fmt", FORMATS)
async def test_close_by_peer_ends_iteration(broker: Broker, fmt: str) -> None:
    async def say_bye(conn: Connection) -> None:
        msg = await conn.recv()
        await conn.send(b"bye " + msg)
        await conn.close()

    server = await login(broker, "srv", fmt, handlers={"bye": say_bye})
    client = await login(broker, "cli", fmt)
    conn = await within(client.open("srv", "bye"))
    await within(conn.send(b"cli"))

    async def collect() -> list[bytes]:
        return [msg async for msg in conn]

    assert await within(collect()) == [b"bye cli"]
    assert conn.close_reason is CloseReason.BY_PEER and conn.closed
    with pytest.raises(mpclient.ConnectionClosed) as info:
        await within(conn.send(b"more"))
    assert info.value.reason is CloseReason.BY_PEER
    with pytest.raises(mpclient.ConnectionClosed):
        await within(conn.recv())
    await within(conn.close())  # a no-op now
    await within(client.close())
    await within(server.close())


async def test_close_by_opener_and_handler_return(broker: Broker) -> None:
    ended: asyncio.Queue[CloseReason | None] = asyncio.Queue()

    async def watch(conn: Connection) -> None:
        async for _ in conn:
            pass
        await ended.put(conn.close_reason)

    server = await login(broker, "srv", "json", handlers={"watch": watch})
    client = await login(broker, "cli", "binary")
    conn = await within(client.open("srv", "watch"))
    await within(conn.send(b"x"))
    await within(conn.close())
    assert await within(ended.get()) is CloseReason.BY_PEER

    # A handler that returns (or raises) closes its connection.
    async def short(conn: Connection) -> None:
        await conn.recv()
        raise RuntimeError("handler bug")

    server.handle("short", short)
    conn = await within(client.open("srv", "short"))
    await within(conn.send(b"x"))
    with pytest.raises(mpclient.ConnectionClosed):
        await within(conn.recv())
    assert conn.close_reason is CloseReason.BY_PEER
    await within(client.close())
    await within(server.close())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_peer_leaves(broker: Broker, fmt: str) -> None:
    """The peer disconnects without closing (ClientClosed, meta 4): the
    messages it sent first are delivered, then PeerLeft is raised."""
    opened: asyncio.Queue[Connection] = asyncio.Queue()

    async def talker(conn: Connection) -> None:
        await conn.send(b"one")
        await conn.send(b"two")
        await opened.put(conn)
        await asyncio.Event().wait()  # until cancelled

    server = await login(broker, "srv", fmt, handlers={"talk": talker})
    client = await login(broker, "cli", fmt)
    conn = await within(client.open("srv", "talk"))
    await within(opened.get())
    server.abort()  # as if the process died
    got = []
    with pytest.raises(mpclient.PeerLeft) as info:
        async for msg in conn:
            got.append(msg)
            if len(got) > 2:
                break
    assert got == [b"one", b"two"]
    assert info.value.peer == "srv" and info.value.reason is CloseReason.PEER_LEFT
    assert conn.close_reason is CloseReason.PEER_LEFT
    with pytest.raises(mpclient.PeerLeft):
        await within(conn.send(b"x"))
    with pytest.raises(mpclient.NoSuchClient):
        await within(client.open("srv", "talk"))
    await within(client.close())


async def test_peer_leaving_gracefully_closes_its_connections(broker: Broker) -> None:
    ended: asyncio.Queue[CloseReason | None] = asyncio.Queue()

    async def watch(conn: Connection) -> None:
        try:
            async for _ in conn:
                pass
        finally:
            await ended.put(conn.close_reason)

    server = await login(broker, "srv", "binary", handlers={"watch": watch})
    client = await login(broker, "cli", "json")
    await within(client.open("srv", "watch"))
    await within(client.open("srv", "watch"))
    await within(client.close())  # ConnClosed for each, then leave
    assert await within(ended.get()) is CloseReason.BY_PEER
    assert await within(ended.get()) is CloseReason.BY_PEER
    assert server.connections == []
    await within(server.close())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_broker_stops(broker: Broker, fmt: str) -> None:
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    client = await login(broker, "cli", fmt)
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"ping"))
    assert await within(conn.recv()) == b"ping"
    await within(asyncio.to_thread(broker.stop), 15)  # SIGTERM; exits 0
    with pytest.raises(mpclient.BrokerLost) as info:
        async for _ in conn:
            pass
    assert info.value.reason is CloseReason.BROKER_LOST
    assert conn.close_reason is CloseReason.BROKER_LOST
    with pytest.raises(mpclient.BrokerLost):
        await within(client.wait_closed())
    with pytest.raises(mpclient.BrokerLost):
        await within(server.wait_closed())
    assert client.lost_reason and not client.logged_in
    with pytest.raises(mpclient.BrokerLost):
        await within(conn.send(b"x"))
    with pytest.raises(mpclient.BrokerLost):
        await within(client.open("srv", "echo"))
    await within(client.close())  # a no-op now
    await within(server.close())


# ----------------------------------------------------------------------------
# Large and many messages, flow control


@pytest.mark.parametrize("fmt", FORMATS)
async def test_large_messages(broker: Broker, fmt: str) -> None:
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    client = await login(broker, "cli", fmt)
    conn = await within(client.open("srv", "echo"))
    big = bytes(range(256)) * 2734  # 699,904 bytes: fits 1 MiB even as base64
    for msg in [big, b"x" * 65536, big[::-1]]:
        await within(conn.send(msg))
        assert await within(conn.recv()) == msg
    # Over max_message_size: refused here, nothing sent, the connection goes on.
    with pytest.raises(mpclient.MessageTooBig):
        await within(conn.send(b"y" * 1048576))
    await within(conn.send(b"still here"))
    assert await within(conn.recv()) == b"still here"
    await within(client.close())
    await within(server.close())


async def test_large_message_binary_to_json(broker: Broker) -> None:
    """900 kB from a binary client becomes 1.2 MB of JSON for a JSON
    recipient: more than max_message_size, and still received."""
    sizes: asyncio.Queue[int] = asyncio.Queue()

    async def measure(conn: Connection) -> None:
        async for msg in conn:
            await sizes.put(len(msg))
            await conn.send(b"ok")

    server = await login(broker, "srv", "json", handlers={"measure": measure})
    client = await login(broker, "cli", "binary")
    conn = await within(client.open("srv", "measure"))
    await within(conn.send(b"z" * 900_000))
    assert await within(sizes.get()) == 900_000
    assert await within(conn.recv()) == b"ok"
    await within(client.close())
    await within(server.close())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_many_messages_in_order(broker: Broker, fmt: str) -> None:
    server = await login(broker, "srv", fmt, handlers={"echo": echo})
    client = await login(broker, "cli", "binary" if fmt == "json" else "json")
    conn = await within(client.open("srv", "echo"))
    n = 5000

    async def send_all() -> None:
        for i in range(n):
            await conn.send(struct.pack(">I", i) + b"." * (i % 50))

    sender = asyncio.create_task(send_all())
    for i in range(n):
        msg = await within(conn.recv())
        assert struct.unpack(">I", msg[:4])[0] == i and len(msg) == 4 + i % 50
    await within(sender)
    await within(client.close())
    await within(server.close())


async def test_slow_consumer_bounded_inbox(broker: Broker) -> None:
    """A handler that does not read: its inbox stops at inbox_limit (plus
    one message), the client stops reading from the broker, and once it
    reads everything arrives, in order."""
    limit = 8192
    accepted: asyncio.Queue[Connection] = asyncio.Queue()
    go = asyncio.Event()
    received: list[int] = []

    async def slow(conn: Connection) -> None:
        await accepted.put(conn)
        await go.wait()
        async for msg in conn:
            received.append(struct.unpack(">I", msg[:4])[0])

    # Level 1: at level 2 the sender's credit, not the inbox, stops it
    # (at one window: test_level2_broker.py).
    server = await login(
        broker, "srv", "binary", handlers={"slow": slow}, inbox_limit=limit, level=1
    )
    client = await login(broker, "cli", "binary")
    conn = await within(client.open("srv", "slow"))
    peer_conn = await within(accepted.get())
    n, size = 400, 4096

    async def send_all() -> None:
        for i in range(n):
            await conn.send(struct.pack(">I", i) + b"." * (size - 4))
        await conn.close()

    sender = asyncio.create_task(send_all())

    async def inbox_full() -> None:
        while peer_conn._inbox_bytes < limit:
            await asyncio.sleep(0.005)

    await within(inbox_full())
    assert peer_conn._inbox_bytes < limit + size
    go.set()
    await within(sender, 20)

    async def all_received() -> None:
        while peer_conn.close_reason is None:
            await asyncio.sleep(0.005)

    await within(all_received(), 20)
    assert received == list(range(n))
    await within(client.close())
    await within(server.close())


# ----------------------------------------------------------------------------
# Unix sockets, the blocking facade


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unix_socket(broker: Broker, fmt: str) -> None:
    path = broker.address("auto", "unix")
    server = await within(
        mpclient.connect(path, "srv", b"x", format=fmt, handlers={"echo": echo})
    )
    client = await within(mpclient.connect(path, "cli", b"x", format=fmt))
    conn = await within(client.open("srv", "echo"))
    await within(conn.send(b"over unix"))
    assert await within(conn.recv()) == b"over unix"
    await within(client.close())
    await within(server.close())


def test_sync_facade(broker: Broker) -> None:
    from mpclient import sync

    def upper(conn: sync.SyncConnection) -> None:
        for msg in conn:
            conn.send(msg.upper())

    addr = broker.address("json")
    with sync.connect(addr, "srv", b"x", format="json", handlers={"upper": upper}, timeout=T(5)):
        with sync.connect(broker.address("binary"), "cli", b"x", timeout=T(5)) as client:
            conn = client.open("srv", "upper", timeout=T(5))
            conn.send(b"hello")
            assert conn.recv(timeout=T(5)) == b"HELLO"
            with pytest.raises(TimeoutError):
                conn.recv(timeout=0.05)
            conn.send(b"again")
            assert conn.recv(timeout=T(5)) == b"AGAIN"
            with pytest.raises(mpclient.NoSuchClient):
                client.open("nobody", "upper", timeout=T(5))
            conn.close()
            assert conn.close_reason is CloseReason.LOCAL
    with pytest.raises(mpclient.ConnectError):
        sync.connect("unix:/nonexistent/mp.sock", "cli", timeout=T(5))
