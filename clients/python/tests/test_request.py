"""Request/reply against the real broker: Client.request() and
Client.handle_requests(), each way a request can end (a reply, as soon
as it arrives; a timeout; no handler; no such client; denied by an ACL;
the peer closing or leaving without a reply; the broker lost), and the
blocking facade's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from conftest import DEFAULT_LISTENERS, T, Broker, BrokerFactory

import mpclient
from mpclient import Connection

X = TypeVar("X")


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    """Every wait is bounded."""
    return await asyncio.wait_for(aw, T(seconds))


async def login(broker: Broker, name: str, fmt: str = "binary", **kwargs: Any) -> mpclient.Client:
    return await within(mpclient.connect(broker.address(fmt), name, b"x", format=fmt, **kwargs))


@pytest.mark.parametrize("server_fmt,client_fmt", [("binary", "binary"), ("json", "binary"), ("binary", "json")])
async def test_request_reply(broker: Broker, server_fmt: str, client_fmt: str) -> None:
    server = await login(broker, "srv", server_fmt)
    server.handle_requests("upper", lambda data: data.upper())
    client = await login(broker, "cli", client_fmt)
    for question in [b"hello", b"", bytes(range(256))]:
        reply = await within(client.request("srv", "upper", question, timeout=T(5)))
        assert reply == question.upper()
    # Every request's connection was closed.
    assert client.connections == []
    await within(client.close())
    await within(server.close())


async def test_request_returns_as_soon_as_the_reply_arrives(broker: Broker) -> None:
    """A long timeout is only a bound: the reply ends the wait. (And the
    request handler may be a coroutine function.)"""

    async def upper(data: bytes) -> bytes:
        await asyncio.sleep(0)
        return data.upper()

    server = await login(broker, "srv")
    server.handle_requests("upper", upper)
    client = await login(broker, "cli")
    started = time.monotonic()
    assert await within(client.request("srv", "upper", b"quick", timeout=30)) == b"QUICK"
    assert time.monotonic() - started < T(5)
    await within(client.close())
    await within(server.close())


async def test_one_connection_carries_several_requests(broker: Broker) -> None:
    """handle_requests answers each message of a connection, in order; a
    None reply sends nothing."""
    server = await login(broker, "srv")
    server.handle_requests("num", lambda data: None if data == b"skip" else b"#" + data)
    client = await login(broker, "cli")
    conn = await within(client.open("srv", "num"))
    for msg in [b"1", b"skip", b"2", b"3"]:
        await within(conn.send(msg))
    assert [await within(conn.recv()) for _ in range(3)] == [b"#1", b"#2", b"#3"]
    await within(conn.close())
    await within(client.close())
    await within(server.close())


async def test_request_timeout(broker: Broker) -> None:
    never = asyncio.Event()
    asked = asyncio.Event()

    async def no_answer(data: bytes) -> bytes:
        asked.set()
        await never.wait()
        return data

    server = await login(broker, "srv")
    server.handle_requests("slow", no_answer)
    client = await login(broker, "cli")
    started = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        await within(client.request("srv", "slow", b"?", timeout=0.2))
    assert time.monotonic() - started >= 0.19  # (timers may fire a hair early)
    assert "no reply from 'srv'" in str(info.value)
    assert asked.is_set() and client.connections == []
    # The client goes on: a request of another protocol works.
    server.handle_requests("echo", lambda data: data)
    assert await within(client.request("srv", "echo", b"x", timeout=T(5))) == b"x"
    never.set()
    await within(client.close())
    await within(server.close())


async def test_request_refusals(broker_factory: BrokerFactory) -> None:
    acl = (
        'authenticators = ( { module = "acl.so"; options = { rules = "@DIR@/acl"; }; },\n'
        '                   { module = "auth_allow_all.so"; } );\n'
    )
    broker = broker_factory(
        acl + DEFAULT_LISTENERS,
        setup=lambda b: b.write_file("acl", "deny * -> * secret\nallow * -> * *\n"),
    )
    server = await login(broker, "srv")
    server.handle_requests("echo", lambda data: data)
    server.handle_requests("secret", lambda data: data)
    client = await login(broker, "cli")
    with pytest.raises(mpclient.UnknownProtocol):
        await within(client.request("srv", "nothing", b"?", timeout=T(5)))
    with pytest.raises(mpclient.NoSuchClient):
        await within(client.request("nobody", "echo", b"?", timeout=T(5)))
    with pytest.raises(mpclient.Denied) as denied:
        await within(client.request("srv", "secret", b"?", timeout=T(5)))
    assert denied.value.reason == "not authorized"
    with pytest.raises(mpclient.MessageTooBig):
        await within(client.request("srv", "echo", b"x" * client.max_message_size))
    with pytest.raises(ValueError):
        await within(client.request("cli", "echo", b"to myself"))
    with pytest.raises(TypeError):
        await within(client.request("srv", "echo", "not bytes"))  # type: ignore[arg-type]
    assert client.connections == []
    assert await within(client.request("srv", "echo", b"still fine", timeout=T(5))) == b"still fine"
    await within(client.close())
    await within(server.close())


async def test_request_peer_closes_without_a_reply(broker: Broker) -> None:
    async def hang_up(conn: Connection) -> None:
        await conn.recv()  # the question; returning closes the connection

    def fails(data: bytes) -> bytes:
        raise RuntimeError("the server's bug")

    server = await login(broker, "srv", handlers={"hangup": hang_up})
    server.handle_requests("buggy", fails)
    client = await login(broker, "cli")
    with pytest.raises(mpclient.ConnectionClosed) as info:
        await within(client.request("srv", "hangup", b"?", timeout=T(5)))
    assert info.value.reason is mpclient.CloseReason.BY_PEER
    # A request handler that raises closes the connection (and is logged).
    with pytest.raises(mpclient.ConnectionClosed):
        await within(client.request("srv", "buggy", b"?", timeout=T(5)))
    await within(client.close())
    await within(server.close())


async def test_request_peer_leaves(broker: Broker) -> None:
    server = await login(broker, "srv")
    server.handle_requests("quit", lambda data: server.abort())
    client = await login(broker, "cli")
    with pytest.raises(mpclient.PeerLeft):
        await within(client.request("srv", "quit", b"?", timeout=T(5)))
    await within(client.close())


async def test_request_broker_lost_midway(broker: Broker) -> None:
    asked = asyncio.Event()
    never = asyncio.Event()

    async def no_answer(data: bytes) -> bytes:
        asked.set()
        await never.wait()
        return data

    server = await login(broker, "srv")
    server.handle_requests("slow", no_answer)
    client = await login(broker, "cli")
    pending = asyncio.create_task(client.request("srv", "slow", b"?", timeout=T(30)))
    await within(asked.wait())
    broker.kill()
    with pytest.raises(mpclient.BrokerLost):
        await within(pending)
    never.set()
    with pytest.raises(mpclient.BrokerLost):
        await within(client.wait_closed())
    with pytest.raises(mpclient.BrokerLost):
        await within(server.wait_closed())


async def test_request_before_connect() -> None:
    client = mpclient.Client("tcp:127.0.0.1:1", "cli")
    with pytest.raises(mpclient.MPError, match="not logged in"):
        await within(client.request("srv", "echo", b"?"))


def test_sync_request(broker: Broker) -> None:
    from mpclient import sync

    addr = broker.address()
    with sync.connect(addr, "srv", b"x", timeout=T(10)) as srv:
        srv.handle_requests("upper", lambda data: data.upper())
        with sync.connect(addr, "cli", b"x", timeout=T(10)) as cli:
            assert cli.request("srv", "upper", b"hi", timeout=T(5)) == b"HI"
            assert cli.request("srv", "upper", bytearray(b"ba"), timeout=T(5)) == b"BA"
            with pytest.raises(mpclient.UnknownProtocol):
                cli.request("srv", "nothing", b"?", timeout=T(5))
            with pytest.raises(mpclient.NoSuchClient):
                cli.request("nobody", "upper", b"?", timeout=T(5))

            def never_replies(conn: sync.SyncConnection) -> None:
                for _ in conn:  # takes the question, answers nothing
                    pass

            hold = sync.SyncClient(addr, "hold", b"x", handlers={"wait": never_replies})
            hold.connect(T(10))
            with pytest.raises(TimeoutError):
                cli.request("hold", "wait", b"?", timeout=0.2)
            hold.close()
