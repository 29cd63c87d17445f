// Integration tests against a real broker (one per file): login,
// open/accept/refuse, send/recv order, close both ways, errors; over TCP
// (both formats) and a Unix socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  AuthError,
  BrokerLost,
  Client,
  ConnectError,
  ConnectionClosed,
  connect,
  MessageTooBig,
  MpError,
  NameTaken,
  NoSuchClient,
  PeerLeft,
  TimeoutError,
  UnknownProtocol,
} from "../dist/index.js";
import { ALLOW_ALL, Broker, DEFAULT_LISTENERS, T, within } from "./support/broker.mjs";

const dec = new TextDecoder();
const str = (b) => dec.decode(b);

let broker;
let pwBroker;
let seq = 0;
const uniq = (base) => `${base}${++seq}`;

before(async () => {
  broker = await Broker.start(
    ALLOW_ALL + DEFAULT_LISTENERS.replace('translator = "binary"; }', 'translator = "binary"; }, { address = "127.0.0.1"; port = 0; translator = "auto"; }'),
  );
  pwBroker = await Broker.start(
    'authenticators = ( { module = "auth_passwd.so"; options = { file = "@DIR@/passwd"; }; } );\n' +
      'listeners = ( { address = "127.0.0.1"; port = 0; translator = "binary"; } );\n' +
      'duplicate_names = "reject";\n',
    { setup: (b) => b.writePasswd({ alice: "s3cret", bob: "hunter2" }) },
  );
});

after(async () => {
  await broker?.cleanup();
  await pwBroker?.cleanup();
});

async function echo(conn) {
  for await (const msg of conn) await conn.send(msg);
}

const ADDRESSES = [
  ["tcp json", () => broker.address("json"), "json"],
  ["tcp binary", () => broker.address("binary"), "binary"],
  ["unix binary", () => broker.address("auto", "unix"), "binary"],
  ["unix json", () => broker.address("auto", "unix"), "json"],
];

for (const [label, addr, format] of ADDRESSES) {
  describe(label, () => {
    test("echo: open, send, recv in order, close", async () => {
      const sname = uniq("srv");
      const server = await connect(addr(), sname, "", { format, handlers: { echo } });
      const client = await connect(addr(), uniq("cli"), "", { format });
      try {
        assert.equal(client.format, format);
        assert.equal(client.level, 2);
        const conn = await within(client.open(sname, "echo"), 5000, "open");
        assert.equal(conn.peer, sname);
        assert.equal(conn.protocol, "echo");
        assert.match(conn.id, new RegExp(`^${client.name}:0$`));
        await conn.send("hello");
        assert.equal(str(await within(conn.recv(), 5000, "echo")), "hello");
        const binary = Uint8Array.from([0, 1, 2, 0xff, 0x0a, 0x22]);
        await conn.send(binary);
        assert.deepEqual(await conn.recv(), binary);
        await conn.send("");
        assert.equal((await conn.recv()).length, 0);
        for (let i = 0; i < 200; i++) await conn.send(`msg ${i} <&>`);
        for (let i = 0; i < 200; i++) assert.equal(await conn.recvText(), `msg ${i} <&>`);
        await conn.close();
        assert.ok(conn.closed);
        await assert.rejects(conn.recv(), ConnectionClosed);
        await assert.rejects(conn.send("x"), ConnectionClosed);
      } finally {
        await client.close();
        await server.close();
      }
      await client.closed;
    });
  });
}

test("a large message in both formats", async () => {
  for (const format of ["json", "binary"]) {
    const sname = uniq("big");
    const server = await connect(broker.address(format), sname, "", { format, handlers: { echo } });
    const client = await connect(broker.address(format), uniq("cli"), "", { format });
    const big = Uint8Array.from({ length: 500000 }, (_, i) => (i * 7) & 255);
    const conn = await client.open(sname, "echo");
    await conn.send(big);
    assert.deepEqual(await within(conn.recv(), 10000, "a big echo"), big);
    await assert.rejects(conn.send(new Uint8Array(2 << 20)), MessageTooBig);
    await client.close();
    await server.close();
  }
});

test("login: the name the broker confirmed, and closed resolves on close()", async () => {
  const c = new Client(broker.address("binary"), uniq("alice"), "");
  assert.equal(c.loggedIn, false);
  await c.connect();
  assert.equal(c.loggedIn, true);
  assert.match(c.address, /^tcp:127\.0\.0\.1:\d+$/);
  await c.close();
  await within(c.closed, 5000, "closed");
  assert.equal(c.loggedIn, false);
  await assert.rejects(c.open("bob", "echo"), ConnectionClosed);
});

test("login: wrong secret, unknown user, bad name, name taken", async () => {
  const addr = pwBroker.address("binary");
  const alice = await connect(addr, "alice", "s3cret");
  try {
    await assert.rejects(connect(addr, "bob", "wrong"), (e) => {
      assert.ok(e instanceof AuthError && !(e instanceof NameTaken));
      assert.equal(e.reason, "invalid name or secret");
      assert.match(e.message, /mpbroker-passwd/);
      return true;
    });
    await assert.rejects(connect(addr, "nobody", "x"), AuthError);
    await assert.rejects(connect(addr, "alice", "s3cret"), (e) => {
      assert.ok(e instanceof NameTaken);
      assert.equal(e.reason, "name already in use");
      return true;
    });
    assert.throws(() => new Client(addr, "a:b", ""), RangeError);
    assert.throws(() => new Client(addr, "", ""), RangeError);
    const bob = await connect(addr, "bob", new TextEncoder().encode("hunter2"));
    await bob.close();
  } finally {
    await alice.close();
  }
});

test("connect errors: nothing listening, wrong format, bad address", async () => {
  await assert.rejects(connect("tcp:127.0.0.1:1", uniq("x"), ""), (e) => {
    assert.ok(e instanceof ConnectError);
    assert.match(e.message, /cannot connect to tcp:127\.0\.0\.1:1/);
    return true;
  });
  await assert.rejects(connect("unix:/nonexistent/mp.sock", uniq("x"), ""), ConnectError);
  await assert.rejects(connect(broker.address("json"), uniq("x"), "", { format: "binary" }), (e) => {
    assert.ok(e instanceof ConnectError && e.permanent, String(e));
    assert.match(e.message, /JSON/);
    return true;
  });
  await assert.rejects(connect(broker.address("binary"), uniq("x"), "", { format: "json" }), (e) => {
    assert.ok(e instanceof ConnectError && e.permanent, String(e));
    return true;
  });
  assert.throws(() => new Client("udp:1.2.3.4:5", "x", ""), RangeError);
  // A list of addresses: the dead one is skipped.
  const c = await connect(["tcp:127.0.0.1:1", broker.address("binary")], uniq("multi"), "");
  assert.equal(c.address, broker.address("binary"));
  await c.close();
});

test("open refused: no such client, unknown protocol, own name", async () => {
  const sname = uniq("srv");
  const server = await connect(broker.address("binary"), sname, "", { handlers: { echo } });
  const client = await connect(broker.address("binary"), uniq("cli"), "");
  try {
    await assert.rejects(client.open(uniq("absent"), "echo"), NoSuchClient);
    await assert.rejects(client.open(sname, "nosuchproto"), (e) => {
      assert.ok(e instanceof UnknownProtocol);
      assert.equal(e.peer, sname);
      assert.equal(e.protocol, "nosuchproto");
      return true;
    });
    await assert.rejects(client.open(client.name, "echo"), RangeError);
    assert.equal(client.connections.length, 0);
    // The refusals did not hurt the session.
    const conn = await client.open(sname, "echo");
    await conn.send("still ok");
    assert.equal(await conn.recvText(), "still ok");
  } finally {
    await client.close();
    await server.close();
  }
});

test("close both ways, and the peer leaving", async () => {
  const sname = uniq("srv");
  let accepted;
  const gotConn = new Promise((r) => (accepted = r));
  const server = await connect(broker.address("binary"), sname, "", {
    handlers: { hold: (conn) => accepted(conn) }, // a plain function owns the connection
  });
  const client = await connect(broker.address("json"), uniq("cli"), "", { format: "json" });
  try {
    // The opener closes: the acceptor's iteration ends after the messages sent before.
    let conn = await client.open(sname, "hold");
    let srv = await within(gotConn, 5000, "accept");
    await conn.send("one");
    await conn.send("two");
    await conn.close();
    const seen = [];
    for await (const m of srv) seen.push(str(m));
    assert.deepEqual(seen, ["one", "two"]);
    assert.ok(srv.closed);
    await assert.rejects(srv.recv(), ConnectionClosed);

    // The acceptor closes.
    const next = new Promise((r) => (accepted = r));
    conn = await client.open(sname, "hold");
    srv = await within(next, 5000, "accept");
    await srv.send("bye");
    await srv.close();
    assert.equal(await conn.recvText(), "bye");
    await assert.rejects(within(conn.recv(), 5000, "the close"), ConnectionClosed);

    // The acceptor's client leaves: PeerLeft.
    const third = new Promise((r) => (accepted = r));
    conn = await client.open(sname, "hold");
    await within(third, 5000, "accept");
    server.abort();
    await assert.rejects(within(conn.recv(), 5000, "ClientClosed"), PeerLeft);
    await assert.rejects(
      (async () => {
        for await (const _ of conn);
      })(),
      PeerLeft,
    );
  } finally {
    await client.close();
    await server.close();
  }
});

test("a handler that throws closes its connection; others go on", async () => {
  const sname = uniq("srv");
  const errors = [];
  const server = await connect(broker.address("binary"), sname, "", {
    logger: { error: (m) => errors.push(m) },
    handlers: {
      boom: async (conn) => {
        await conn.recv();
        throw new Error("boom");
      },
      echo,
    },
  });
  const client = await connect(broker.address("binary"), uniq("cli"), "");
  try {
    const conn = await client.open(sname, "boom");
    await conn.send("x");
    await assert.rejects(within(conn.recv(), 5000, "the close"), ConnectionClosed);
    assert.equal(errors.length, 1);
    const e = await client.open(sname, "echo");
    await e.send("ok");
    assert.equal(await e.recvText(), "ok");
  } finally {
    await client.close();
    await server.close();
  }
});

test("open with a timeout, and a Syn withdrawn", async () => {
  const sname = uniq("slow");
  // A peer that never answers Syns: a raw client that reads nothing.
  const net = await import("node:net");
  const { encodeBinary, message, Meta } = await import("../dist/index.js");
  const sock = net.connect(broker.listeners.find((l) => l.translator === "binary").port, "127.0.0.1");
  await new Promise((r) => sock.on("connect", r));
  const authOk = new Promise((r) => sock.once("data", r));
  sock.write(encodeBinary(message(Meta.AUTH, sname, "", new TextEncoder().encode("x"))));
  await within(authOk, 5000, "AuthOk");
  const client = await connect(broker.address("binary"), uniq("cli"), "");
  try {
    const t0 = Date.now();
    await assert.rejects(client.open(sname, "echo", { timeoutMs: T(200) }), TimeoutError);
    assert.ok(Date.now() - t0 >= T(190));
    assert.equal(client.connections.length, 0);
  } finally {
    sock.destroy();
    await client.close();
  }
});

test("the broker going away: closed rejects with BrokerLost, connections end", async () => {
  const b = await Broker.start();
  try {
    const sname = uniq("srv");
    const server = await connect(b.address("binary"), sname, "", { handlers: { echo } });
    const client = await connect(b.address("json"), uniq("cli"), "", { format: "json" });
    const conn = await client.open(sname, "echo");
    await b.kill();
    await assert.rejects(within(client.closed, 5000, "closed"), BrokerLost);
    await assert.rejects(within(server.closed, 5000, "closed"), BrokerLost);
    await assert.rejects(conn.recv(), BrokerLost);
    await assert.rejects(client.open(sname, "echo"), BrokerLost);
    assert.ok(client.lostReason);
    await client.close(); // a no-op
  } finally {
    await b.cleanup();
  }
});

test("invalid arguments are thrown, not sent", async () => {
  const client = await connect(broker.address("binary"), uniq("cli"), "");
  try {
    await assert.rejects(client.open("bad:name", "echo"), RangeError);
    await assert.rejects(client.request(uniq("p"), "x", 5), TypeError);
    assert.throws(() => client.handle("p", 5), TypeError);
    client.handle("p", () => {});
    assert.throws(() => client.handle("p", () => {}), RangeError);
    assert.ok(new MpError("x") instanceof Error);
  } finally {
    await client.close();
  }
});

test("a full inbox pauses reading from the broker until the application takes messages", async () => {
  const rname = uniq("slowrecv");
  let accepted;
  const gotConn = new Promise((r) => (accepted = r));
  const receiver = await connect(broker.address("binary"), rname, "", {
    level: 1,
    inboxLimit: 10000,
    handlers: { p: (c) => accepted(c) },
  });
  const sender = await connect(broker.address("binary"), uniq("fastsend"), "", { level: 1 });
  try {
    const conn = await sender.open(rname, "p");
    const peer = await within(gotConn, 5000, "the accept");
    for (let i = 0; i < 100; i++) await conn.send(new Uint8Array(1000).fill(i));
    await within(
      (async () => {
        while (!receiver.paused) await new Promise((r) => setTimeout(r, 2));
      })(),
      5000,
      "the pause",
    );
    for (let i = 0; i < 100; i++) {
      const m = await within(peer.recv(), 5000, `message ${i}`);
      assert.equal(m[0], i);
    }
    assert.equal(receiver.paused, false);
  } finally {
    await sender.close();
    await receiver.close();
  }
});
