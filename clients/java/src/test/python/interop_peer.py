"""interop_peer.py - the Python client's side of the Java client's interop
tests (InteropTest.java), on the Python client of this tree
(PYTHONPATH=clients/python/src).

  serve ADDRESS FORMAT NAME       answer "echo" (each message sent back)
                                  and "upper" requests (handle_requests);
                                  print "ready" once logged in; leave when
                                  stdin ends
  ask ADDRESS FORMAT NAME PEER    one echo round trip with PEER ("echo:
                                  ..."), then one "upper" request
                                  ("reply: ..."); exit 0

Every wait is bounded (10 s); a failure exits non-zero with a traceback.
"""

import asyncio
import sys

import mpclient


async def echo(conn):
    async for msg in conn:
        await conn.send(msg)


async def serve(address, fmt, name):
    client = await asyncio.wait_for(
        mpclient.connect(address, name, b"x", format=fmt, handlers={"echo": echo}), 10
    )
    client.handle_requests("upper", lambda data: data.upper())
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.wait_for(client.close(), 10)


async def ask(address, fmt, name, peer):
    client = await asyncio.wait_for(mpclient.connect(address, name, b"x", format=fmt), 10)
    try:
        conn = await asyncio.wait_for(client.open(peer, "echo"), 10)
        await conn.send(b"from python \x00\xff")
        got = await asyncio.wait_for(conn.recv(), 10)
        print("echo:", repr(got), flush=True)
        await asyncio.wait_for(conn.close(), 10)
        reply = await client.request(peer, "upper", b"python asks", timeout=10)
        print("reply:", reply.decode(), flush=True)
    finally:
        await asyncio.wait_for(client.close(), 10)


def main(mode, *args):
    asyncio.run({"serve": serve, "ask": ask}[mode](*args))


if __name__ == "__main__":
    main(*sys.argv[1:])
