"""The Python client with the C ones: mpcat (libmpclient) and the C echo
examples, in both wire formats; and examples/echo.py itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import EXAMPLES_DIR, MPCAT, PACKAGE_DIR, T, Broker

import mpclient
from mpclient import Connection

X = TypeVar("X")
ECHO_PY = str(PACKAGE_DIR / "examples" / "echo.py")
FORMAT_PAIRS = [("json", "json"), ("binary", "binary"), ("json", "binary"), ("binary", "json")]
PAIR_IDS = [f"py_{p}-c_{c}" for p, c in FORMAT_PAIRS]


async def within(aw: Awaitable[X], seconds: float = 5.0) -> X:
    return await asyncio.wait_for(aw, T(seconds))


class Process:
    """A child process whose output is read line by line, killed if the
    test ends before it does."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str, stdin: int | None = asyncio.subprocess.DEVNULL) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def wait_line(self, stream: asyncio.StreamReader | None, text: str) -> list[str]:
        """Read lines until one contains ``text``; return them all."""
        assert stream is not None
        lines: list[str] = []
        while True:
            raw = await within(stream.readline())
            if not raw:
                pytest.fail(f"no line with {text!r}; got {lines}")
            lines.append(raw.decode(errors="replace").rstrip("\n"))
            if text in lines[-1]:
                return lines

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal it, and return (exit status, the rest of stdout, stderr)."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        out, err = await within(self.proc.communicate(), 10)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


def need(path: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


# ----------------------------------------------------------------------------
# mpcat


@pytest.mark.parametrize("py_fmt,c_fmt", FORMAT_PAIRS, ids=PAIR_IDS)
async def test_python_opens_to_mpcat_echo(broker: Broker, py_fmt: str, c_fmt: str) -> None:
    mpcat = await Process.start(
        MPCAT, "-a", broker.address(c_fmt), "-f", c_fmt, "-n", "srv", "-s", "x",
        "-v", "-e", "listen", "echo",
    )
    try:
        await mpcat.wait_line(mpcat.proc.stderr, "logged in at")
        client = await within(mpclient.connect(broker.address(py_fmt), "cli", b"x", format=py_fmt))
        conn = await within(client.open("srv", "echo"))
        for msg in [b"hello", b"with \x00 and \xff bytes", b"x" * 100000]:
            await within(conn.send(msg))
            assert await within(conn.recv()) == msg
        with pytest.raises(mpclient.UnknownProtocol):
            await within(client.open("srv", "other"))
        await within(conn.close())
        await within(client.close())
        status, _, err = await mpcat.stop()
        assert status == 0, err
    finally:
        mpcat.kill()


@pytest.mark.parametrize("py_fmt,c_fmt", FORMAT_PAIRS, ids=PAIR_IDS)
async def test_mpcat_connects_to_python_handler(broker: Broker, py_fmt: str, c_fmt: str) -> None:
    served: asyncio.Queue[list[bytes]] = asyncio.Queue()

    async def upper(conn: Connection) -> None:
        got = []
        async for msg in conn:
            got.append(msg)
            await conn.send(msg.upper())
            if msg == b"quit":
                await conn.close()  # mpcat exits once the peer closes
        await served.put(got)

    server = await within(
        mpclient.connect(broker.address(py_fmt), "srv", b"x", format=py_fmt,
                         handlers={"upper": upper})
    )
    mpcat = await Process.start(
        MPCAT, "-a", broker.address(c_fmt), "-f", c_fmt, "-n", "cli", "-s", "x", "-w", "10",
        "connect", "srv", "upper", stdin=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await within(mpcat.proc.communicate(b"hello\nworld <&>\nquit\n"), 10)
        assert mpcat.proc.returncode == 0, err
        assert out == b"HELLO\nWORLD <&>\nQUIT\n"
        assert await within(served.get()) == [b"hello", b"world <&>", b"quit"]
        # An unknown protocol: mpcat's exit status 4 (connection refused).
        mpcat = await Process.start(
            MPCAT, "-a", broker.address(c_fmt), "-f", c_fmt, "-n", "cli", "-s", "x",
            "connect", "srv", "nothing",
        )
        await within(mpcat.proc.communicate(), 10)
        assert mpcat.proc.returncode == 4
    finally:
        mpcat.kill()
    await within(server.close())


# ----------------------------------------------------------------------------
# The echo examples


async def start_echo_server(*argv: str) -> Process:
    server = await Process.start(*argv)
    await server.wait_line(server.proc.stdout, "waiting for echo connections")
    return server


async def run_echo_client(*argv: str) -> str:
    client = await Process.start(*argv)
    out, err = await within(client.proc.communicate(), 15)
    assert client.proc.returncode == 0, (out, err)
    return out.decode()


@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_example_echo_py(broker: Broker, fmt: str) -> None:
    addr = broker.address(fmt)
    server = await start_echo_server(
        sys.executable, ECHO_PY, "server", "-a", addr, "-f", fmt, "-s", "x"
    )
    try:
        out = await run_echo_client(
            sys.executable, ECHO_PY, "client", "-a", addr, "-f", fmt, "-s", "x", "hi", "a\tb"
        )
        assert "opened echo connection alice:0 to echo" in out
        assert "got 'hi' back from echo" in out and "got 'a\\x09b' back from echo" in out
        status, rest, err = await server.stop()
        assert status == 0, err
        assert "echo 'hi' back to alice" in rest and "alice closed" in rest
        assert "SIGTERM: stopping" in rest
    finally:
        server.kill()
    # No server: exit status 1, and why.
    client = await Process.start(
        sys.executable, ECHO_PY, "client", "-a", addr, "-f", fmt, "-s", "x"
    )
    _, err_bytes = await within(client.proc.communicate(), 15)
    assert client.proc.returncode == 1
    assert "no client named 'echo'" in err_bytes.decode()


@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_example_echo_py_server_c_client(broker: Broker, fmt: str) -> None:
    c_client = need(str(Path(EXAMPLES_DIR) / "echo_client"))
    addr = broker.address(fmt)
    server = await start_echo_server(
        sys.executable, ECHO_PY, "server", "-a", addr, "-f", fmt, "-s", "x"
    )
    try:
        out = await run_echo_client(c_client, "-a", addr, "-f", fmt, "-s", "x", "one", "two")
        assert "got 'one' back from echo" in out and "got 'two' back from echo" in out
        status, _, err = await server.stop()
        assert status == 0, err
    finally:
        server.kill()


@pytest.mark.parametrize("fmt", ["json", "binary"])
async def test_example_echo_py_client_c_server(broker: Broker, fmt: str) -> None:
    c_server = need(str(Path(EXAMPLES_DIR) / "echo_server"))
    addr = broker.address(fmt)
    server = await start_echo_server(c_server, "-a", addr, "-f", fmt, "-s", "x")
    try:
        out = await run_echo_client(
            sys.executable, ECHO_PY, "client", "-a", addr, "-f", fmt, "-s", "x", "one", "two"
        )
        assert "got 'one' back from echo" in out and "got 'two' back from echo" in out
        status, _, err = await server.stop()
        assert status == 0, err
    finally:
        server.kill()
