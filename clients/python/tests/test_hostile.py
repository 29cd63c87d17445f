"""The client against a hostile broker (a scripted fake, tests/hostile.py)
and hostile peers (through the real broker): its memory stays bounded,
bad input gets a clear error, and one misbehaving peer costs only its own
connection."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import pytest
from conftest import ALLOW_ALL, DEFAULT_LISTENERS, T, Broker, BrokerFactory
from hostile import FakeBroker, MemoryProbe, connect_to, frames, until

import mpclient
from mpclient import sync
from mpclient.codec import get_codec
from mpclient.protocol import Message, Meta

FORMATS = ["binary", "json"]
IGNORE_P = {"p": lambda conn: None}  # accepts protocol "p", never reads
MB = 1_000_000


def paused(client: mpclient.Client) -> bool:
    return getattr(client, "paused", None) is not None


# ----------------------------------------------------------------------------
# Floods from the broker


@pytest.mark.parametrize("fmt", FORMATS)
async def test_syn_flood_and_undrained_replies_stay_bounded(fmt: str) -> None:
    """20000 Syns the client accepts and 20000 it refuses, from a broker
    that never reads the ConnAcks and UnknownProtos: at most
    max_connections connections, and the replies wait in the socket (the
    client stops reading) instead of piling up in memory."""
    accepted: list[mpclient.Connection] = []
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(
            fake.address, "victim", format=fmt,
            handlers={"p": accepted.append}, max_connections=100,
        )
        session = await connect_to(fake, client)
        n = 20000
        flood = frames(session, [(Meta.CONN_SYN, "evil", f"evil:{i:x}", b"p") for i in range(n)])
        flood += frames(session, [(Meta.CONN_SYN, "evil", f"evil:r{i:x}", b"q") for i in range(n)])
        # The end marker: the first connection is closed by its peer.
        flood += session.frame(Meta.CONN_CLOSED, "evil", "evil:0")
        with MemoryProbe() as mem:
            session.send(flood)
            await until(
                lambda: paused(client) or (accepted and accepted[0].closed),
                T(30), "the client to pause or to take the whole flood",
            )
            mem.sample()
            print(f"{fmt}: {len(accepted)} accepted, {mem}")
            assert len(accepted) <= 100, f"{len(accepted)} connections accepted ({mem})"
            assert mem.peak < 4 * MB, f"the Syn flood cost {mem}"
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_refused_syns_replies_wait_in_the_socket(fmt: str) -> None:
    """100000 Syns for a protocol without a handler, from a broker that
    never reads: the UnknownProto replies stay within the transport's
    high-water mark (plus one batch); the client stops reading instead."""
    accepted: list[mpclient.Connection] = []
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(
            fake.address, "victim", format=fmt, handlers={"p": accepted.append}
        )
        session = await connect_to(fake, client)
        n = 100000
        flood = frames(session, [(Meta.CONN_SYN, "evil", f"evil:{i:x}", b"q") for i in range(n)])
        flood += session.frame(Meta.CONN_SYN, "evil", "evil:end", b"p")  # the end marker
        session.send(flood)
        await until(
            lambda: paused(client) or bool(accepted),
            T(30), "the client to pause or to take the whole flood",
        )
        queued = client._writer.transport.get_write_buffer_size()
        print(f"{fmt}: {queued} bytes of replies queued")
        assert queued < 131072, f"{queued} bytes of replies queued"
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_empty_data_flood_fills_the_inbox(fmt: str) -> None:
    """100000 empty messages on a connection nobody reads: the inbox
    counts memory, not payload, so it fills and the client stops
    reading."""
    accepted: list[mpclient.Connection] = []
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(
            fake.address, "victim", format=fmt,
            handlers={"p": accepted.append}, inbox_limit=65536,
        )
        session = await connect_to(fake, client)
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(accepted), T(10), "the Syn")
        conn = accepted[0]
        n = 100000
        flood = frames(session, [(Meta.DATA, "evil", "evil:0", b"")] * n)
        with MemoryProbe() as mem:
            session.send(flood)
            await until(
                lambda: paused(client) or len(conn._inbox) >= n,
                T(30), "the client to pause or to take the whole flood",
            )
            mem.sample()
            print(f"{fmt}: inbox {len(conn._inbox)} messages, {mem}")
            assert len(conn._inbox) <= 65536 // 64 + 1, (
                f"the inbox holds {len(conn._inbox)} empty messages ({mem})"
            )
        assert client.paused == "an inbox is full"
        # Reading it lets the client go on.
        for _ in range(200):
            assert await conn.recv() == b""
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_inboxes_are_bounded_in_total(fmt: str) -> None:
    """200 connections, each sent a bit less than inbox_limit: all the
    inboxes together stop at inbox_total_limit."""
    accepted: list[mpclient.Connection] = []
    limit, total = 65536, 1048576
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(
            fake.address, "victim", format=fmt, handlers={"p": accepted.append},
            inbox_limit=limit, inbox_total_limit=total,
        )
        session = await connect_to(fake, client)
        n = 200
        flood = frames(session, [(Meta.CONN_SYN, "evil", f"evil:{i:x}", b"p") for i in range(n)])
        data = b"d" * (limit - 1024)
        flood += frames(session, [(Meta.DATA, "evil", f"evil:{i:x}", data) for i in range(n)])
        session.send(flood)

        def held() -> int:
            return sum(len(m) for c in accepted for m in c._inbox)

        await until(
            lambda: paused(client) or (len(accepted) == n and held() >= n * (limit - 1024)),
            T(30), "the client to pause or to take the whole flood",
        )
        print(f"{fmt}: {held()} bytes in {len(accepted)} inboxes")
        assert held() <= total + limit, f"{held()} bytes held in the inboxes"
        # Reading from one inbox lets the client go on.
        before = held()
        await accepted[0].recv()
        await until(lambda: held() >= before, T(10), "the client to read on")
        client.abort()


async def test_open_past_max_connections(broker: Broker) -> None:
    async with mpclient.Client(broker.address("binary"), "srv", handlers={"p": lambda c: None}):
        async with mpclient.Client(broker.address("binary"), "cli", max_connections=2) as cli:
            await cli.open("srv", "p", timeout=T(10))
            await cli.open("srv", "p", timeout=T(10))
            with pytest.raises(mpclient.MPError, match="max_connections"):
                await cli.open("srv", "p", timeout=T(10))
            await cli.connections[0].close()
            await cli.open("srv", "p", timeout=T(10))


async def test_json_line_of_empty_objects_stays_bounded() -> None:
    """One line of ~175000 ``{}``, as long as a legal line may be: decoded
    a batch at a time, not all at once."""
    accepted: list[mpclient.Connection] = []
    m = 262144
    with FakeBroker("json") as fake:
        client = mpclient.Client(
            fake.address, "victim", format="json",
            handlers={"p": accepted.append}, max_message_size=m,
        )
        session = await connect_to(fake, client, small_send_buffer=False)
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(accepted), T(10), "the Syn")
        limit = get_codec("json").max_received_size(m)
        line = b"{}" * (limit // 2 - 1) + b"\n"
        line += session.frame(Meta.CONN_CLOSED, "evil", "evil:0")  # the end marker
        with MemoryProbe() as mem:
            session.send(line)
            await until(lambda: accepted[0].closed, T(30), "the end marker")
        print(f"a {len(line)}-byte line of {{}}: {mem}")
        assert client.logged_in
        assert mem.peak < 8 * len(line), f"a {len(line)}-byte line cost {mem}"
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_concurrent_senders_share_one_bounded_queue(fmt: str) -> None:
    """20 tasks each send 256 KiB to a broker that does not read: the
    transport holds its high-water mark plus one message, not 20."""
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(fake.address, "victim", format=fmt, handlers=IGNORE_P)
        session = await connect_to(fake, client)
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(client.connections), T(10), "the Syn")
        conn = client.connections[0]
        size = 262144
        tasks = [asyncio.ensure_future(conn.send(b"x" * size)) for _ in range(20)]
        transport = client._writer.transport
        high = transport.get_write_buffer_limits()[1]
        await until(lambda: transport.get_write_buffer_size() > high, T(10), "a full transport")
        for _ in range(20):  # let every sender run as far as it can
            await asyncio.sleep(0)
        queued = transport.get_write_buffer_size()
        print(f"{fmt}: {queued} bytes queued by 20 senders")
        assert queued <= high + 2 * size, f"{queued} bytes queued"
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        client.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_send_timeout_sheds_a_stalled_peer(fmt: str) -> None:
    """A broker (or a peer behind it) that does not read: send(timeout=)
    raises TimeoutError with nothing queued, and the connection can be
    closed."""
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(fake.address, "victim", format=fmt, handlers=IGNORE_P)
        session = await connect_to(fake, client)
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(client.connections), T(10), "the Syn")
        conn = client.connections[0]
        transport = client._writer.transport
        with pytest.raises(TimeoutError):
            for _ in range(1000):
                await conn.send(b"x" * 65536, timeout=0.2)
        queued = transport.get_write_buffer_size()
        with pytest.raises(TimeoutError):
            await conn.send(b"y" * 65536, timeout=0.05)
        assert transport.get_write_buffer_size() == queued  # nothing queued
        await asyncio.wait_for(conn.close(), T(5))  # does not wait for the broker
        assert conn.closed
        client.abort()


async def test_open_timeout_covers_a_full_transport() -> None:
    """open(timeout=) while the broker takes nothing: TimeoutError, and
    neither a Syn nor a ConnClosed to withdraw it was queued."""
    with FakeBroker() as fake:
        client = mpclient.Client(fake.address, "victim", handlers=IGNORE_P)
        session = await connect_to(fake, client)
        session.send(session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(client.connections), T(10), "the Syn")
        conn = client.connections[0]
        with pytest.raises(TimeoutError):
            for _ in range(1000):
                await conn.send(b"x" * 65536, timeout=0.2)
        transport = client._writer.transport
        queued = transport.get_write_buffer_size()
        with pytest.raises(TimeoutError):
            await client.open("evil", "p", timeout=0.1)
        assert transport.get_write_buffer_size() == queued
        assert client.connections == [conn]
        client.abort()


# ----------------------------------------------------------------------------
# Garbage and huge frames


GARBAGE = {
    "binary": struct.pack(">IBBBB", 4, 0, 0xFF, 0, 0),  # reserved flags
    "json": b"\x00\xffnot json\n",
}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_garbage_is_a_clear_error_and_other_clients_go_on(fmt: str) -> None:
    with FakeBroker(fmt) as fake:
        victim = mpclient.Client(fake.address, "victim", format=fmt)
        bystander = mpclient.Client(fake.address, "bystander", format=fmt, handlers=IGNORE_P)
        session = await connect_to(fake, victim)
        other = await connect_to(fake, bystander)
        session.send(GARBAGE[fmt])
        with pytest.raises(mpclient.BrokerLost, match="undecodable message from the broker"):
            await asyncio.wait_for(victim.wait_closed(), T(10))
        other.send(other.frame(Meta.CONN_SYN, "evil", "evil:0", b"p"))
        await until(lambda: bool(bystander.connections), T(10), "the bystander's connection")
        assert bystander.logged_in
        bystander.abort()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_huge_frame_is_refused_early(fmt: str) -> None:
    """A frame (or line) longer than any legal message: refused as soon
    as that is known, without buffering it."""
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(fake.address, "victim", format=fmt, max_message_size=65536)
        session = await connect_to(fake, client)
        limit = get_codec(fmt).max_received_size(65536)
        if fmt == "binary":
            huge = struct.pack(">I", 0xFFFFFFF0) + b"\0" * 65536
        else:
            huge = b'{"Meta":0,"Data":"' + b"A" * (2 * limit)
        with MemoryProbe() as mem:
            session.send(huge)
            with pytest.raises(mpclient.BrokerLost, match="longer than|is over"):
                await asyncio.wait_for(client.wait_closed(), T(10))
        assert mem.peak < 4 * limit + MB, f"a huge frame cost {mem}"


def test_worst_case_encoding_is_the_limit() -> None:
    """The longest encoding of a legal message (255-byte names of ``<``,
    6 bytes each in JSON; data the size of the broker's limit) decodes
    with the client's limit; one byte more is refused."""
    m = 4096
    worst = Message(255, "<" * 255, "<" * 255, b"\xff" * m)
    for fmt in FORMATS:
        codec = get_codec(fmt)
        limit = codec.max_received_size(m)
        wire = codec.encode(worst)
        assert len(wire) <= limit, (fmt, len(wire), limit)
        assert codec.decoder(limit).feed(wire) == [worst]
        extra = 0
        while True:  # the shortest encoding over the limit
            over = codec.encode(Message(255, "<" * 255, "<" * 255, b"\xff" * (m + extra)))
            if len(over) > limit:
                break
            extra += 1
        with pytest.raises(mpclient.DecodeError):
            codec.decoder(limit).feed(over)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_largest_legal_message_through_the_broker(
    broker_factory: BrokerFactory, fmt: str
) -> None:
    """Through the real broker: a binary sender whose name and connection
    id are all ``<`` (6 bytes each in JSON) sends a message of exactly the
    broker's max_message_size; a receiver of each format gets it."""
    m = 4096
    limits = f"limits = {{ max_message_size = {m}; }};\n"
    b: Broker = broker_factory(ALLOW_ALL + DEFAULT_LISTENERS + limits)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def sink(conn: mpclient.Connection) -> None:
        async for msg in conn:
            got.put_nowait(msg)

    receiver = mpclient.Client(
        b.address(fmt), "r", format=fmt, max_message_size=m, handlers={"s": sink}
    )
    async with receiver as r:
        async with mpclient.Client(b.address("binary"), "<" * 253, max_message_size=m) as s:
            conn = await s.open("r", "s", timeout=T(10))
            assert len(conn.id.encode()) == 255
            data = b"\xfb" * (m - 4 - 4 - 1 - 255)  # the frame is exactly m bytes
            await conn.send(data)
            assert await asyncio.wait_for(got.get(), T(10)) == data
        assert r.logged_in


# ----------------------------------------------------------------------------
# Hostile peers through the real broker


async def test_overflowing_connection_is_closed_others_served(broker: Broker) -> None:
    """inbox_overflow="close": a peer flooding a connection whose handler
    does not read loses that connection; the server goes on serving
    everyone else."""
    stuck: list[mpclient.Connection] = []

    async def echo(conn: mpclient.Connection) -> None:
        async for msg in conn:
            await conn.send(msg)

    # Level 1: at level 2 the flooder's credit stops it at one window
    # before the inbox overflows (test_level2_broker.py).
    server = mpclient.Client(
        broker.address("binary"), "server",
        handlers={"sink": stuck.append, "echo": echo},
        inbox_limit=4096, inbox_overflow="close", level=1,
    )
    async with server:
        async with mpclient.Client(broker.address("json"), "flooder", format="json") as flooder:
            conn = await flooder.open("server", "sink", timeout=T(10))
            with pytest.raises(mpclient.ConnectionClosed) as e:
                for _ in range(10000):
                    await conn.send(b"z" * 512)
                    await asyncio.sleep(0)
                await asyncio.wait_for(conn.recv(), T(10))
            assert e.value.reason == mpclient.CloseReason.BY_PEER
            assert stuck[0].closed
            with pytest.raises(mpclient.ConnectionClosed, match="inbox_limit"):
                await stuck[0].recv()
        async with mpclient.Client(broker.address("binary"), "good") as good:
            c = await good.open("server", "echo", timeout=T(10))
            await c.send(b"still here")
            assert await asyncio.wait_for(c.recv(), T(10)) == b"still here"
        assert server.logged_in


async def test_overflow_close_accepts_one_large_message() -> None:
    """inbox_overflow="close" still takes one message larger than
    inbox_limit (without pausing); the next one closes the connection."""
    accepted: list[mpclient.Connection] = []
    with FakeBroker() as fake:
        client = mpclient.Client(
            fake.address, "victim", handlers={"p": accepted.append},
            inbox_limit=4096, inbox_overflow="close",
        )
        session = await connect_to(fake, client, small_send_buffer=False)
        session.send(
            session.frame(Meta.CONN_SYN, "evil", "evil:0", b"p")
            + session.frame(Meta.DATA, "evil", "evil:0", b"B" * 10000)
        )
        await until(lambda: bool(accepted and accepted[0]._inbox), T(10), "the message")
        conn = accepted[0]
        assert not conn.closed and client.paused is None
        session.send(session.frame(Meta.DATA, "evil", "evil:0", b"s"))
        await until(lambda: conn.closed, T(10), "the connection to be shed")
        with pytest.raises(mpclient.ConnectionClosed, match="inbox_limit"):
            await conn.recv()
        assert client.logged_in
        client.abort()


# ----------------------------------------------------------------------------
# A dead network


async def test_tcp_keepalive_by_default(broker: Broker) -> None:
    async with mpclient.Client(broker.address("binary"), "alive") as c:
        sock = c._writer.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 6
    async with mpclient.Client(broker.address("binary"), "off", keepalive=None) as c:
        sock = c._writer.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


@pytest.mark.parametrize("fmt", FORMATS)
async def test_idle_timeout_gives_up_a_silent_broker(fmt: str) -> None:
    with FakeBroker(fmt) as fake:
        client = mpclient.Client(fake.address, "victim", format=fmt, idle_timeout=0.3)
        await connect_to(fake, client)
        with pytest.raises(mpclient.BrokerLost, match="idle_timeout"):
            await asyncio.wait_for(client.wait_closed(), T(10))


def test_idle_timeout_blocking_api() -> None:
    with FakeBroker() as fake:
        accepting = threading.Thread(target=fake.accept_login, args=(T(10),))
        accepting.start()
        client = sync.connect(fake.address, "victim", idle_timeout=0.3, timeout=T(10))
        accepting.join(T(10))
        with pytest.raises(mpclient.BrokerLost, match="idle_timeout"):
            client.wait_closed(timeout=T(10))
        client.close()


async def test_idle_timeout_spares_a_broker_that_talks() -> None:
    """Traffic resets the idle timer: a broker that sends something every
    0.1 s outlives an idle_timeout of 1 s (2.5 s of it), then falls
    silent and is given up."""
    with FakeBroker() as fake:
        client = mpclient.Client(fake.address, "victim", idle_timeout=1.0)
        session = await connect_to(fake, client)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < 2.5:  # the broker's own pace, not synchronisation
            # Data for no connection: ignored, but it is traffic.
            session.sock.sendall(session.frame(Meta.DATA, "evil", "evil:none", b"tick"))
            await asyncio.sleep(0.1)
            assert client.logged_in
        with pytest.raises(mpclient.BrokerLost, match="idle_timeout"):
            await asyncio.wait_for(client.wait_closed(), T(10))
