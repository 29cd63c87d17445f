#!/usr/bin/env python3
"""echo.py - the echo example of mpbroker (examples/echo_server.c and
examples/echo_client.c) with the Python client.

    echo.py server [-a ADDR] [-f json|binary] [-n NAME] [-s SECRET] [TLS...] [-r]
    echo.py client [-a ADDR] [-f json|binary] [-n NAME] [-s SECRET] [TLS...]
                   [-p PEER] [MESSAGE...]

TLS options (for tls:HOST:PORT addresses): --ca FILE (the CAs that sign
the broker's certificate; default: the system's), --cert FILE and --key
FILE (a client certificate, for brokers that ask for one).

server: logs in (by default as "echo") and accepts connections for the
protocol "echo": every message that arrives on one is sent straight back.
It runs until SIGINT or SIGTERM (exit status 0); it exits 1 when it cannot
log in or loses the broker, 2 on a usage error. With -r it rides out a
broker restart instead: it logs in again (backoff from 0.1 s to 10 s)
and says so, and exits 1 only when the broker refuses the login (the
name taken, the secret no longer accepted). -a may be repeated: the
addresses are tried in turn.

client: logs in (by default as "alice"), opens an "echo" connection to the
peer (by default "echo"), sends each message (default: hello world), waits
until every one has come back, closes the connection and exits 0. It exits
1 with a message on stderr when the login fails, when the peer is not
connected or does not speak "echo", or when no reply comes within 10
seconds.

The address defaults to $MP_ADDRESS, else tcp:127.0.0.1:7330, and the
secret to $MP_SECRET, else "demo": the broker of the quick start
(sh tools/quickstart.sh run) and its demo users. Both speak to the C
examples: this server answers echo_client, this client talks to
echo_server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import sys
from pathlib import Path

try:
    import mpclient
except ImportError:  # run from the source tree, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import mpclient

TIMEOUT_SECONDS = 10


def quoted(data: bytes) -> str:
    """A message between quotes, control characters as \\xNN so that they
    cannot mess up the terminal (as the C examples print it)."""
    out = []
    for b in data:
        out.append(f"\\x{b:02x}" if b < 0x20 or b == 0x7F else chr(b))
    return "'" + "".join(out) + "'"


def make_client(args: argparse.Namespace, **options: object) -> mpclient.Client:
    ssl = None
    if all(a.startswith("tls:") for a in args.addresses):
        ssl = mpclient.tls_context(args.ca, args.cert, args.key)
    return mpclient.Client(
        args.addresses, args.name, args.secret, format=args.format, ssl=ssl, **options
    )


# ----------------------------------------------------------------------------
# server


async def on_echo_connection(conn: mpclient.Connection) -> None:
    """A peer opened an "echo" connection: the library has accepted it.
    This coroutine runs as a task; when it returns, the connection is
    closed if it is still open."""
    print(f"{conn.peer} opened {conn.protocol} connection {conn.id}")
    try:
        async for msg in conn:  # ends when the peer closes
            print(f"echo {quoted(msg)} back to {conn.peer}")
            await conn.send(msg)  # waits while the broker does not keep up
        print(f"{conn.peer} closed")
    except mpclient.PeerLeft:
        print(f"{conn.peer} left the broker")
    except mpclient.BrokerLost:
        pass  # serve() reports it


async def serve(args: argparse.Namespace) -> int:
    client = make_client(
        args,
        reconnect=args.reconnect,
        on_disconnected=lambda error: print(f"lost the broker: {error.detail}"),
        on_reconnecting=lambda attempt, delay: print(
            f"reconnect attempt {attempt} in {delay:.2f} s"
        ),
        on_reconnected=lambda: print(f"logged in again to {client.address}"),
    )
    # Answer the "echo" protocol. A peer opening any other protocol is
    # refused by the library (UnknownProto).
    client.handle("echo", on_echo_connection)

    # Stop cleanly on Ctrl-C and on `kill`.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        print(f"{sig.name}: stopping")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    login = asyncio.ensure_future(client.connect())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({login, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not login.done():  # a signal came first
        login.cancel()
        return 0
    try:
        login.result()
    except mpclient.MPError as e:
        print(f"echo.py: cannot log in to {args.address} as {args.name}: {e}", file=sys.stderr)
        return 1
    print(f"logged in to {client.address} as {client.name}; waiting for echo connections")

    # Serve until a signal (status 0) or until the broker is gone (1); with
    # -r, wait_closed() goes on across reconnects and raises only when the
    # client gives up.
    lost = asyncio.ensure_future(client.wait_closed())
    await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if lost.done():
        try:
            lost.result()
        except mpclient.MPError as e:
            print(f"echo.py: {e}", file=sys.stderr)
            return 1
    stopping.cancel()
    await client.close()
    return 0


# ----------------------------------------------------------------------------
# client


async def talk(args: argparse.Namespace, messages: list[bytes]) -> int:
    async with make_client(args) as client:  # logs in; closes at the end
        print(f"logged in as {client.name}")
        try:
            conn = await client.open(args.peer, "echo")
        except mpclient.OpenError as e:
            # NoSuchClient: the peer is not logged in;
            # UnknownProtocol: it does not handle "echo".
            print(f"echo.py: cannot open an echo connection to {args.peer}: {e}", file=sys.stderr)
            return 1
        print(f"opened echo connection {conn.id} to {conn.peer}")

        # Send everything at once; the replies come back in order.
        for msg in messages:
            await conn.send(msg)
            print(f"sent {quoted(msg)}")

        received = 0
        try:
            async for reply in conn:
                want = messages[received]
                print(f"got {quoted(reply)} back from {conn.peer}", end="")
                if reply != want:
                    print(f", expected {quoted(want)}")
                    print("echo.py: wrong reply", file=sys.stderr)
                    return 1
                print()
                received += 1
                if received == len(messages):
                    await conn.close()  # the peer is told
                    return 0
        except mpclient.ConnectionEnded as e:
            print(
                f"echo.py: the echo connection with {conn.peer} ended after "
                f"{received} of {len(messages)} replies: {e}",
                file=sys.stderr,
            )
            return 1
        print(
            f"echo.py: the echo connection with {conn.peer} ended after "
            f"{received} of {len(messages)} replies: closed by the peer",
            file=sys.stderr,
        )
        return 1


async def run_client(args: argparse.Namespace) -> int:
    messages = [m.encode() for m in (args.messages or ["hello", "world"])]
    try:
        return await asyncio.wait_for(talk(args, messages), TIMEOUT_SECONDS)
    except TimeoutError:
        print(f"echo.py: gave up after {TIMEOUT_SECONDS} seconds", file=sys.stderr)
        return 1
    except mpclient.AuthError as e:
        print(f"echo.py: cannot log in to {args.address}: {e}", file=sys.stderr)
        return 1
    except mpclient.MPError as e:
        print(f"echo.py: {e}", file=sys.stderr)
        return 1


# ----------------------------------------------------------------------------
# main


def parse_args(argv: list[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-a", dest="addresses", action="append",
                        help="broker address: tcp:HOST:PORT, tls:HOST:PORT or unix:PATH "
                        "(default: $MP_ADDRESS, else tcp:127.0.0.1:7330, the quick start's); "
                        "repeat it for more brokers, tried in turn")
    common.add_argument("-f", dest="format", choices=["json", "binary"], default="binary",
                        help="wire format of that listener (default binary)")
    common.add_argument("-s", dest="secret", default=os.environ.get("MP_SECRET", "demo"),
                        help="the secret (default: $MP_SECRET, else demo)")
    common.add_argument("--ca", help="tls: the CAs that sign the broker's certificate")
    common.add_argument("--cert", help="tls: a client certificate to present")
    common.add_argument("--key", help="tls: its private key (default: in --cert)")

    parser = argparse.ArgumentParser(description="the mpbroker echo example")
    modes = parser.add_subparsers(dest="mode", required=True)
    server = modes.add_parser("server", parents=[common], help="echo every message back")
    server.add_argument("-n", dest="name", default="echo", help="the name (default echo)")
    server.add_argument("-r", dest="reconnect", action="store_true",
                        help="ride out a broker restart: log in again when it is lost")
    client = modes.add_parser("client", parents=[common], help="send messages to an echo server")
    client.add_argument("-n", dest="name", default="alice", help="the name (default alice)")
    client.add_argument("-p", dest="peer", default="echo", help="the echo server's name (default echo)")
    client.add_argument("messages", nargs="*", metavar="MESSAGE", help="default: hello world")
    args = parser.parse_args(argv)
    if not args.addresses:
        args.addresses = [os.environ.get("MP_ADDRESS", "tcp:127.0.0.1:7330")]
    args.address = ", ".join(args.addresses)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Lines show at once, even in a pipe.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    try:
        if args.mode == "server":
            return asyncio.run(serve(args))
        return asyncio.run(run_client(args))
    except (ValueError, OSError) as e:  # a bad address or name, TLS files
        print(f"echo.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
