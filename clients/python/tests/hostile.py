"""A scripted fake broker for testing the client against a hostile one.

:class:`FakeBroker` listens on a loopback port, accepts clients and logs
them in (AuthOk for any name); the test then scripts what each
:class:`FakeSession` sends: floods of Syns or Data, garbage, huge frames,
replies it never reads. Everything here uses blocking sockets in threads,
so the client under test owns the event loop (and tracemalloc sees little
of the fake broker: build the flood bytes before starting it).
"""

from __future__ import annotations

import asyncio
import collections
import select
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable
from typing import Any

from conftest import T

from mpclient.codec import get_codec
from mpclient.protocol import Message, Meta

#: The fake broker's receive buffer: small, so what the client writes and
#: the fake broker does not read backs up in the client, not in the kernel.
SMALL_SOCKET_BUFFER = 4096


class FakeSession:
    """One client connected to the fake broker."""

    def __init__(self, sock: socket.socket, fmt: str) -> None:
        self.sock = sock
        self.codec = get_codec(fmt)
        self.name = ""
        self.auth: Message | None = None  # the client's Auth
        self._decoder = self.codec.decoder(1 << 22)
        self._received: collections.deque[Message] = collections.deque()
        self._senders: list[threading.Thread] = []

    def frame(
        self, meta: int, other: str = "", conn_id: str = "", data: bytes | None = None
    ) -> bytes:
        """One message in this session's format."""
        return self.codec.encode(Message(meta, other, conn_id, data))

    def login(self, timeout: float, auth_ok_data: bytes | None = None) -> str:
        """Read the Auth, answer AuthOk (with ``auth_ok_data``: the
        settings of a level-2 broker, e.g. ``b"level=2 window=1000
        watches=2"``); return the client's name."""
        (auth,) = self.read(1, timeout)
        assert auth.meta == Meta.AUTH, auth
        self.auth = auth
        self.name = auth.other_client
        self.sock.sendall(self.frame(Meta.AUTH_OK, self.name, "", auth_ok_data))
        return self.name

    def read(self, count: int, timeout: float) -> list[Message]:
        """The next ``count`` messages the client sent (blocking; run it
        in a thread from a coroutine). Fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self._received) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {count} messages "
                    f"(got {list(self._received)})"
                )
            # select, not a socket timeout: a sender thread may be in
            # sendall() on the same socket, and a timeout would cut it.
            readable, _, _ = select.select([self.sock], [], [], left)
            if not readable:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the client closed; got {list(self._received)}")
            self._received.extend(self._decoder.feed(chunk))
        return [self._received.popleft() for _ in range(count)]

    def send(self, data: bytes) -> threading.Event:
        """Send ``data`` from a thread (it blocks while the client does not
        read), after what earlier calls sent; the event is set once all of
        it went, or the socket closed."""
        done = threading.Event()
        previous = self._senders[-1] if self._senders else None

        def run() -> None:
            try:
                if previous is not None:
                    previous.join()
                self.sock.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self._senders.append(t)
        return done

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for t in self._senders:
            t.join(T(5))


class FakeBroker:
    """A loopback listener that logs clients in and then does what the
    test says."""

    def __init__(self, fmt: str = "binary", auth_ok_data: bytes | None = None) -> None:
        self.fmt = fmt
        self.auth_ok_data = auth_ok_data
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Inherited by the accepted sockets.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_SOCKET_BUFFER)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = f"tcp:127.0.0.1:{self.listener.getsockname()[1]}"
        self.sessions: list[FakeSession] = []

    def accept_login(self, timeout: float) -> FakeSession:
        self.listener.settimeout(timeout)
        sock, _ = self.listener.accept()
        session = FakeSession(sock, self.fmt)
        self.sessions.append(session)
        session.login(timeout, self.auth_ok_data)
        return session

    def close(self) -> None:
        for s in self.sessions:
            s.close()
        self.listener.close()

    def __enter__(self) -> FakeBroker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


async def connect_to(
    fake: FakeBroker, client: Any, *, small_send_buffer: bool = True
) -> FakeSession:
    """Connect ``client`` (an mpclient.Client) to ``fake``; return the
    fake broker's session. With ``small_send_buffer`` the client's socket
    gets a small send buffer, so what it writes backs up in the client."""
    accepting = asyncio.ensure_future(asyncio.to_thread(fake.accept_login, T(10)))
    await client.connect()
    session = await accepting
    if small_send_buffer:
        sock = client._writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER)
    return session


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``condition()`` holds, checking it every few
    milliseconds (the states waited on have no event of their own);
    fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def frames(session: FakeSession, msgs: Iterable[tuple[Any, ...]]) -> bytes:
    return b"".join(session.frame(*m) for m in msgs)


class MemoryProbe:
    """tracemalloc around a block: ``current`` and ``peak`` bytes
    allocated (and not freed) since it started."""

    def __enter__(self) -> MemoryProbe:
        tracemalloc.start()
        self.current = self.peak = 0
        return self

    def sample(self) -> None:
        self.current, self.peak = tracemalloc.get_traced_memory()

    def __exit__(self, *exc: Any) -> None:
        self.sample()
        tracemalloc.stop()

    def __str__(self) -> str:
        return f"{self.current / 1e6:.1f} MB held, {self.peak / 1e6:.1f} MB peak"
