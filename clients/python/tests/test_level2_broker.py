"""Protocol level 2 against the real broker: AuthOk's settings, credit end
to end, interop between a level-1 JSON client and a level-2 binary client
(both directions, credit on one side only), the head-of-line test,
presence and List, Denied, Replaced and GoingAway.

The head-of-line test prints its figures (run with ``-s`` to see them):
one sender with two connections to two receivers, one of which stops
reading."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from conftest import ALLOW_ALL, DEFAULT_LISTENERS, T, Broker, BrokerFactory

import mpclient
from mpclient import Connection

X = TypeVar("X")

#: A window small enough that tests use it up quickly.
WINDOW = 65536
LIMITS = f"limits = {{ connection_window = {WINDOW}; max_watches_per_client = 3; }};\n"
#: For the head-of-line tests: level 1's backpressure sets in at 64 KiB
#: queued for the stalled receiver (1 MiB by default), so that it shows
#: within the measurement; level 2 does not use it.
HOL_LIMITS = (
    f"limits = {{ connection_window = {WINDOW}; output_high_water = 65536; "
    "output_low_water = 16384; };\n"
)


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    return await asyncio.wait_for(aw, T(seconds))


async def login(broker: Broker, name: str, fmt: str = "binary", **kwargs: Any) -> mpclient.Client:
    return await within(mpclient.connect(broker.address(fmt), name, b"x", format=fmt, **kwargs))


@pytest.fixture
def l2broker(broker_factory: BrokerFactory) -> Broker:
    """A broker with a 64 KiB window and 3 watches a client."""
    return broker_factory(LIMITS + ALLOW_ALL + DEFAULT_LISTENERS)


def numbered(i: int, size: int) -> bytes:
    return struct.pack(">I", i) + b"." * (size - 4)


def number(msg: bytes) -> int:
    return int(struct.unpack(">I", msg[:4])[0])


class Sink:
    """A handler that takes every message of the connections it is given
    (or, with ``reading`` cleared, none), counting them."""

    def __init__(self, reading: bool = True) -> None:
        self.conns: asyncio.Queue[Connection] = asyncio.Queue()
        self.count = 0
        self.numbers: list[int] = []
        self.reading = asyncio.Event()
        if reading:
            self.reading.set()

    async def __call__(self, conn: Connection) -> None:
        await self.conns.put(conn)
        await self.reading.wait()
        async for msg in conn:
            self.count += 1
            self.numbers.append(number(msg))


# ----------------------------------------------------------------------------
# Login


@pytest.mark.parametrize("fmt", ["binary", "json"])
async def test_auth_ok_settings_from_the_broker(l2broker: Broker, fmt: str) -> None:
    client = await login(l2broker, "alice", fmt)
    assert client.level == 2
    assert client.settings == mpclient.Settings(2, WINDOW, 3)
    old = await login(l2broker, "bob", fmt, level=1)
    assert old.level == 1 and old.window == 0
    await within(client.close())
    await within(old.close())


# ----------------------------------------------------------------------------
# Credit, end to end


@pytest.mark.parametrize("fmt", ["binary", "json"])
async def test_credit_end_to_end(l2broker: Broker, fmt: str) -> None:
    """A receiver that grants nothing (manual mode) holds its sender at
    exactly one window; its grant lets the sender go on."""
    sink = Sink(reading=False)
    receiver = await login(l2broker, "recv", fmt, credit="manual", handlers={"p": sink})
    sender = await login(l2broker, "send", fmt)
    conn = await within(sender.open("recv", "p"))
    size = 1000  # costs 1064
    sent = 0
    while True:
        try:
            conn.send_nowait(numbered(sent, size))
        except mpclient.WouldBlock as e:
            assert e.credit
            break
        sent += 1
    # The message that takes the credit to zero or below is the last.
    assert sent == -(-WINDOW // (size + 64)) and conn.credit is not None and conn.credit <= 0
    peer = await within(sink.conns.get())
    sink.reading.set()

    async def taken(n: int) -> None:
        while sink.count < n:
            await asyncio.sleep(0.005)

    await within(taken(sent))
    assert sink.numbers == list(range(sent))
    assert peer.consumed == sent * (size + 64)
    peer.grant()
    await within(conn.wait_writable())
    assert conn.credit == WINDOW  # the grant gave back all that was sent
    await within(conn.send(numbered(sent, size)))
    await within(taken(sent + 1))
    await within(sender.close())
    await within(receiver.close())


# ----------------------------------------------------------------------------
# Interop: a level-1 JSON client and a level-2 binary client


async def test_level2_sender_to_level1_receiver(l2broker: Broker) -> None:
    """Credit on the sender's side only: the broker grants for the level-1
    receiver as it queues its messages, so the level-2 sender goes far
    past one window while the receiver reads; all arrive, in order."""
    sink = Sink()
    old = await login(l2broker, "old", "json", level=1, handlers={"p": sink})
    new = await login(l2broker, "new", "binary")
    conn = await within(new.open("old", "p"))
    assert conn.credit == WINDOW
    n, size = 400, 1000  # 6.5 windows
    for i in range(n):
        await within(conn.send(numbered(i, size)))
    await within(conn.close())
    peer = await within(sink.conns.get())

    async def ended() -> None:
        while peer.close_reason is None:
            await asyncio.sleep(0.005)

    await within(ended(), 20)
    assert sink.numbers == list(range(n))
    await within(new.close())
    await within(old.close())


async def test_level1_sender_to_level2_receiver(l2broker: Broker) -> None:
    """Credit on the receiver's side only: the level-1 sender never sees a
    Credit; while the receiver grants nothing, the broker stops reading
    the sender (its sends back up and time out) and the receiver gets one
    window; its grants let everything through, in order."""
    sink = Sink(reading=False)
    new = await login(l2broker, "new", "binary", credit="manual", handlers={"p": sink})
    old = await login(l2broker, "old", "json", level=1)
    conn = await within(old.open("new", "p"))
    assert conn.credit is None
    peer = await within(sink.conns.get())
    size = 1000
    sent = 0
    with pytest.raises(TimeoutError):
        while sent < 100000:
            await conn.send(numbered(sent, size), timeout=T(1))
            sent += 1
    assert sent < 100000
    # What reached the receiver is one window (plus the message past it).
    inbox = len(peer._inbox)
    assert inbox * (size + 64) >= WINDOW and (inbox - 1) * (size + 64) < WINDOW
    # Granting as it reads (here, not in the handler) lets the rest through.
    received = 0
    while received < sent:
        await within(peer.recv())
        received += 1
        peer.grant()
    await within(conn.send(numbered(sent, size)))
    await within(peer.recv())
    await within(old.close())
    await within(new.close())


@pytest.mark.parametrize("opener", ["old", "new"])
async def test_level1_json_and_level2_binary_echo_both_ways(l2broker: Broker, opener: str) -> None:
    async def echo(conn: Connection) -> None:
        async for msg in conn:
            await conn.send(msg)

    old = await login(l2broker, "old", "json", level=1, handlers={"echo": echo})
    new = await login(l2broker, "new", "binary", handlers={"echo": echo})
    client, server = (old, "new") if opener == "old" else (new, "old")
    conn = await within(client.open(server, "echo"))
    n, size = 300, 1000  # past the window, both ways
    received: list[int] = []

    async def read() -> None:
        async for msg in conn:
            received.append(number(msg))
            if len(received) == n:
                return

    reader = asyncio.create_task(read())
    for i in range(n):
        await within(conn.send(numbered(i, size)))
    await within(reader, 20)
    assert received == list(range(n))
    await within(old.close())
    await within(new.close())


# ----------------------------------------------------------------------------
# Head-of-line blocking


async def measure_head_of_line(
    broker: Broker, level: int, seconds: float, size: int = 1024
) -> dict[str, float]:
    """One sender, two connections to two receivers; the second receiver
    never reads. Returns the first connection's rate alone and beside the
    stalled one (messages/s, over the second half of ``2 * seconds``, once
    the stall has set in), what the stalled one took, and the broker's
    RSS. The stalled receiver's inbox_limit is small (64 KiB), so that at
    level 1 its client stops reading soon, as a real stalled one would;
    at level 2 its inbox is a window whatever inbox_limit says."""
    fast, stalled = Sink(), Sink(reading=False)
    r1 = await login(broker, "r1", level=level, handlers={"p": fast})
    r2 = await login(broker, "r2", level=level, handlers={"p": stalled}, inbox_limit=65536)
    sender = await login(broker, "s", level=level)
    # A small receive buffer for the stalled receiver, so that at level 1
    # the stall reaches the sender within the measurement.
    assert r2._writer is not None
    r2._writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    to_r1 = await within(sender.open("r1", "p"))
    to_r2 = await within(sender.open("r2", "p"))
    payload = b"x" * size
    sent = {"r1": 0, "r2": 0}

    async def pump(conn: Connection, key: str, until: float) -> None:
        """Send until ``until`` (a send that cannot go before then, as at
        level 1 when the socket is paused, ends it)."""
        while (left := until - time.monotonic()) > 0:
            try:
                await conn.send(payload, timeout=left)
            except TimeoutError:
                return
            sent[key] += 1

    rss_before = broker_rss_kib(broker)
    # The first connection alone.
    start = fast.count
    t0 = time.monotonic()
    await pump(to_r1, "r1", t0 + seconds)
    alone = (fast.count - start) / (time.monotonic() - t0)
    # Both, the second never read: the rate of the first over the second
    # half, once the stall has set in.
    t0 = time.monotonic()
    stalled_pump = asyncio.create_task(pump(to_r2, "r2", t0 + 2 * seconds))
    fast_pump = asyncio.create_task(pump(to_r1, "r1", t0 + 2 * seconds))
    await asyncio.sleep(seconds)  # the measurement's window, not a synchronisation
    start, t1 = fast.count, time.monotonic()
    await within(fast_pump, 2 * seconds + 5)
    beside = (fast.count - start) / (time.monotonic() - t1)
    await within(stalled_pump, 5)
    rss = broker_rss_kib(broker)
    figures = {
        "alone": alone,
        "beside": beside,
        "stalled_sent": float(sent["r2"]),
        "stalled_credit": float(to_r2.credit if to_r2.credit is not None else 0),
        "broker_rss_kib": float(rss),
        "broker_rss_growth_kib": float(rss - rss_before),
    }
    for c in (sender, r1, r2):
        c.abort()
    return figures


def broker_rss_kib(broker: Broker) -> int:
    assert broker.proc is not None
    with open(f"/proc/{broker.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def test_head_of_line(broker_factory: BrokerFactory) -> None:
    """Level 2: the connection whose receiver reads keeps its rate while
    the other stalls, and the stalled one holds at its window, with small
    and large messages. (Level 1, for comparison, in the next test: the
    stall pauses the sender's whole socket.)"""
    broker = broker_factory(HOL_LIMITS + ALLOW_ALL + DEFAULT_LISTENERS)
    seconds = float(os.environ.get("MP_HOL_SECONDS", "1.0"))
    for size in (1024, 16384):
        l2 = await measure_head_of_line(broker, 2, seconds, size)
        cost = size + 64
        print(
            f"\nhead-of-line, level 2 ({size} B messages): alone {l2['alone']:.0f} msg/s, "
            f"beside a stalled connection {l2['beside']:.0f} msg/s "
            f"(ratio {l2['beside'] / l2['alone']:.2f}); the stalled one took "
            f"{l2['stalled_sent']:.0f} messages ({l2['stalled_sent'] * cost:.0f} bytes of "
            f"credit, window {WINDOW}); broker RSS {l2['broker_rss_kib']:.0f} KiB "
            f"(+{l2['broker_rss_growth_kib']:.0f})"
        )
        assert l2["stalled_sent"] == -(-WINDOW // cost)
        # The rates are noisy on a shared machine (0.6 to 1.6 seen); level
        # 1 gives 0 here (the next test). A third is far from both.
        assert l2["beside"] > 0.3 * l2["alone"]


async def test_head_of_line_level1_for_comparison(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(HOL_LIMITS + ALLOW_ALL + DEFAULT_LISTENERS)
    seconds = float(os.environ.get("MP_HOL_SECONDS", "1.0"))
    # 16 KiB messages: the kernel's buffers (megabytes) fill in a fraction
    # of the measurement, so the stall shows within it.
    l1 = await measure_head_of_line(broker, 1, seconds, 16384)
    print(
        f"\nhead-of-line, level 1 (16 KiB messages): alone {l1['alone']:.0f} msg/s, beside a stalled "
        f"connection {l1['beside']:.0f} msg/s (ratio {l1['beside'] / l1['alone']:.2f}); "
        f"the stalled one took {l1['stalled_sent']:.0f} messages; "
        f"broker RSS {l1['broker_rss_kib']:.0f} KiB (+{l1['broker_rss_growth_kib']:.0f})"
    )
    # Only reported: at level 1 the stall stops the sender once the
    # stalled receiver's queue passes output_high_water.


# ----------------------------------------------------------------------------
# Presence and List


async def next_event(client: mpclient.Client) -> mpclient.PresenceEvent:
    return await within(client.next_presence())


@pytest.mark.parametrize("fmt", ["binary", "json"])
async def test_watch_a_name(l2broker: Broker, fmt: str) -> None:
    watcher = await login(l2broker, "watcher", fmt)
    await within(watcher.watch("bob"))
    assert await next_event(watcher) == mpclient.PresenceEvent("bob", False)
    bob = await login(l2broker, "bob", "binary")
    assert await next_event(watcher) == mpclient.PresenceEvent("bob", True)
    await within(bob.close())
    assert await next_event(watcher) == mpclient.PresenceEvent("bob", False)
    await within(watcher.unwatch("bob"))
    bob = await login(l2broker, "bob", "binary")
    assert "bob" in await within(watcher.list("b"))  # ordered after any notice
    assert watcher._presence == {}
    await within(bob.close())
    await within(watcher.close())


async def test_watch_a_prefix_and_list(l2broker: Broker) -> None:
    watcher = await login(l2broker, "watcher")
    await within(watcher.watch("b", prefix=True))
    clients = [await login(l2broker, name) for name in ("bob", "bea", "carol")]
    assert sorted(await within(watcher.list("b"))) == ["bea", "bob"]
    everyone = await within(watcher.list(""))
    assert sorted(everyone) == ["bea", "bob", "carol", "watcher"] and not everyone.truncated
    seen = {(await next_event(watcher)).name, (await next_event(watcher)).name}
    assert seen == {"bob", "bea"}
    old = await login(l2broker, "bill", level=1)  # a level-1 client is seen too
    assert await next_event(watcher) == mpclient.PresenceEvent("bill", True)
    for c in [*clients, old, watcher]:
        await within(c.close())


async def test_list_of_several_replies(l2broker: Broker) -> None:
    """300 names of 250 bytes: more than one List reply (at most 64 KiB
    of names each), accumulated into one NameList."""
    names = [f"{i:03d}" + "n" * 247 for i in range(300)]
    clients = []
    for i in range(0, len(names), 8):  # a few at a time: max_unauthenticated_per_address
        batch = names[i : i + 8]
        clients += await within(asyncio.gather(*(login(l2broker, n, level=1) for n in batch)))
    watcher = await login(l2broker, "watcher")
    got = await within(watcher.list(""))
    assert sorted(got) == sorted([*names, "watcher"]) and not got.truncated
    assert sorted(await within(watcher.list("299"))) == [names[299]]
    for c in clients:
        c.abort()
    await within(watcher.close())


async def test_name_watched_twice_is_reported_once(l2broker: Broker) -> None:
    watcher = await login(l2broker, "watcher")
    await within(watcher.watch("zed"))
    await within(watcher.watch("z", prefix=True))
    assert await next_event(watcher) == mpclient.PresenceEvent("zed", False)
    zed = await login(l2broker, "zed")
    assert await next_event(watcher) == mpclient.PresenceEvent("zed", True)
    # Anything still to come (a second notice) is before the List's reply.
    await within(watcher.list("zzz"))
    assert watcher._presence == {}
    await within(zed.close())
    await within(watcher.close())


async def test_list_truncated(broker_factory: BrokerFactory) -> None:
    broker = broker_factory("limits = { max_list_names = 3; };\n" + ALLOW_ALL + DEFAULT_LISTENERS)
    clients = [await login(broker, f"n{i}") for i in range(5)]
    names = await within(clients[0].list("n"))
    assert names.truncated and len(names) == 3
    assert set(names) <= {f"n{i}" for i in range(5)}
    for c in clients:
        await within(c.close())


async def test_watch_cap_from_the_broker(l2broker: Broker) -> None:
    client = await login(l2broker, "watcher")
    assert client.max_watches == 3
    for name in ("a", "b", "c"):
        await within(client.watch(name))
    with pytest.raises(mpclient.MPError, match="too many watches"):
        await within(client.watch("d"))
    await within(client.unwatch("a"))
    await within(client.watch("d"))
    await within(client.close())


async def test_presence_needs_level_2(l2broker: Broker) -> None:
    old = await login(l2broker, "old", level=1)
    with pytest.raises(mpclient.LevelRequired, match="announced level 1"):
        await within(old.watch("bob"))
    await within(old.close())


# ----------------------------------------------------------------------------
# Denied, Replaced, GoingAway


def acl_setup(b: Broker) -> None:
    b.write_file("acl", "deny * -> * secret\nallow * -> * *\n")


ACL = (
    'authenticators = ( { module = "acl.so"; options = { rules = "@DIR@/acl"; }; },\n'
    '                   { module = "auth_allow_all.so"; } );\n'
)


async def test_denied_by_the_acl(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(ACL + DEFAULT_LISTENERS, setup=acl_setup)
    server = await login(broker, "srv", handlers={"secret": lambda conn: None})
    new = await login(broker, "new", "binary")
    old = await login(broker, "old", "json", level=1)
    with pytest.raises(mpclient.Denied) as info:
        await within(new.open("srv", "secret"))
    assert info.value.reason == "not authorized"
    # The same refusal at level 1 is UnknownProto, as ever.
    with pytest.raises(mpclient.UnknownProtocol) as unknown:
        await within(old.open("srv", "secret"))
    assert not isinstance(unknown.value, mpclient.Denied)
    # No handler is still UnknownProtocol at level 2.
    with pytest.raises(mpclient.UnknownProtocol):
        await within(new.open("srv", "other"))
    for c in (server, new, old):
        await within(c.close())


async def test_denied_by_a_connection_limit(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(
        "limits = { max_connections_per_pair = 1; };\n" + ALLOW_ALL + DEFAULT_LISTENERS
    )
    server = await login(broker, "srv", handlers={"p": lambda conn: None})
    new = await login(broker, "new")
    await within(new.open("srv", "p"))
    with pytest.raises(mpclient.Denied) as info:
        await within(new.open("srv", "p"))
    assert info.value.reason == "too many connections"
    await within(new.close())
    await within(server.close())


async def test_denied_by_the_target(l2broker: Broker) -> None:
    """A level-2 target past its max_connections refuses with Denied: a
    level-2 initiator sees it, a level-1 one UnknownProto."""
    server = await login(l2broker, "srv", max_connections=1, handlers={"p": lambda conn: None})
    first = await login(l2broker, "first")
    await within(first.open("srv", "p"))
    new = await login(l2broker, "new")
    with pytest.raises(mpclient.Denied) as info:
        await within(new.open("srv", "p"))
    assert info.value.reason == "too many connections"
    old = await login(l2broker, "old", "json", level=1)
    with pytest.raises(mpclient.UnknownProtocol):
        await within(old.open("srv", "p"))
    for c in (server, first, new, old):
        await within(c.close())


@pytest.mark.parametrize("fmt", ["binary", "json"])
async def test_replaced(l2broker: Broker, fmt: str) -> None:
    first = await login(l2broker, "alice", fmt)
    second = await login(l2broker, "alice", "binary")
    with pytest.raises(mpclient.Replaced) as info:
        await within(first.wait_closed())
    assert info.value.text == "replaced by a newer login"
    # A level-1 session replaced just loses the broker.
    old = await login(l2broker, "bob", fmt, level=1)
    bob = await login(l2broker, "bob", "binary")
    with pytest.raises(mpclient.BrokerLost) as lost:
        await within(old.wait_closed())
    assert not isinstance(lost.value, mpclient.Replaced)
    await within(second.close())
    await within(bob.close())


async def test_going_away(l2broker: Broker) -> None:
    new = await login(l2broker, "new")
    old = await login(l2broker, "old", "json", level=1)
    stopping = threading.Thread(target=l2broker.stop)
    stopping.start()
    delay = await within(new.wait_going_away())
    assert delay > 0 and new.going_away == delay
    # It still serves: a list works; then the client leaves by itself,
    # and the broker exits as soon as no level-2 client is left.
    assert "new" in await within(new.list(""))
    await within(new.close())
    with pytest.raises(mpclient.BrokerLost) as lost:
        await within(old.wait_closed(), 15)
    assert not isinstance(lost.value, mpclient.GoingAway)
    await asyncio.to_thread(stopping.join, T(15))
    assert l2broker.returncode == 0


async def test_going_away_then_closed(broker_factory: BrokerFactory) -> None:
    broker = broker_factory("shutdown_grace_ms = 300;\n" + ALLOW_ALL + DEFAULT_LISTENERS)
    new = await login(broker, "new")
    stopping = threading.Thread(target=broker.stop)
    stopping.start()
    assert await within(new.wait_going_away()) == 0.3
    with pytest.raises(mpclient.GoingAway) as info:
        await within(new.wait_closed())
    assert info.value.delay == 0.3
    await asyncio.to_thread(stopping.join, T(15))


# ----------------------------------------------------------------------------
# The blocking facade


def test_sync_facade_level2(l2broker: Broker) -> None:
    from mpclient import sync

    held: list[sync.SyncConnection] = []
    done = threading.Event()

    def hold(conn: sync.SyncConnection) -> None:
        held.append(conn)
        done.wait(T(30))  # the connection closes when this returns

    addr = l2broker.address("binary")
    with sync.connect(addr, "srv", b"x", credit="manual", handlers={"p": hold},
                      timeout=T(10)) as srv:
        with sync.connect(addr, "cli", b"x", timeout=T(10)) as cli:
            assert cli.level == 2 and cli.window == WINDOW
            cli.watch("srv", timeout=T(5))
            assert cli.next_presence(timeout=T(5)) == mpclient.PresenceEvent("srv", True)
            assert sorted(cli.list("", timeout=T(5))) == ["cli", "srv"]
            conn = cli.open("srv", "p", timeout=T(5))
            sent = 0
            while conn.credit is not None and conn.credit > 0:
                conn.send(numbered(sent, 1000), timeout=T(5))
                sent += 1
            with pytest.raises(mpclient.WouldBlock):
                conn.send_nowait(b"more")
            # The handler holds the connection; the test reads it and grants.
            peer = held[0]
            for i in range(sent):
                assert number(peer.recv(timeout=T(5))) == i
            peer.grant()
            conn.wait_writable(timeout=T(5))
            conn.send_nowait(numbered(sent, 1000))
            assert number(peer.recv(timeout=T(5))) == sent
            done.set()
        assert srv.level == 2
