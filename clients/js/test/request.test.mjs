// Request/reply and reconnect, against a real broker.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import {
  BrokerLost,
  ConnectionClosed,
  connect,
  Disconnected,
  NoSuchClient,
  TimeoutError,
  UnknownProtocol,
} from "../dist/index.js";
import { ALLOW_ALL, Broker, DEFAULT_LISTENERS, T, within } from "./support/broker.mjs";

const dec = new TextDecoder();
let broker;
let seq = 0;
const uniq = (base) => `${base}${++seq}`;

before(async () => {
  broker = await Broker.start();
});

after(async () => {
  await broker?.cleanup();
});

for (const format of ["json", "binary"]) {
  test(`request/reply (${format})`, async () => {
    const sname = uniq("upper");
    const server = await connect(broker.address(format), sname, "", { format, logger: {} });
    server.handleRequests("upper", (data) => dec.decode(data).toUpperCase());
    server.handleRequests("async", async (data) => Uint8Array.from(data).reverse());
    server.handleRequests("silent", () => null);
    server.handleRequests("boom", () => {
      throw new Error("no");
    });
    const client = await connect(broker.address(format), uniq("asker"), "", { format });
    try {
      assert.equal(dec.decode(await client.request(sname, "upper", "hi", { timeoutMs: T(5000) })), "HI");
      assert.deepEqual(await client.request(sname, "async", Uint8Array.from([1, 2, 3])), Uint8Array.from([3, 2, 1]));
      // Many at once, each on its own connection.
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.request(sname, "upper", `q${i}`, { timeoutMs: T(5000) })),
      );
      replies.forEach((r, i) => assert.equal(dec.decode(r), `Q${i}`));
      await assert.rejects(client.request(sname, "silent", "x", { timeoutMs: T(200) }), TimeoutError);
      await assert.rejects(client.request(sname, "boom", "x", { timeoutMs: T(5000) }), ConnectionClosed);
      await assert.rejects(client.request(sname, "nope", "x"), UnknownProtocol);
      await assert.rejects(client.request(uniq("absent"), "upper", "x"), NoSuchClient);
      // Every request closed its connection.
      await within(
        (async () => {
          while (client.connections.length || server.connections.length) await new Promise((r) => setImmediate(r));
        })(),
        5000,
        "the connections to close",
      );
    } finally {
      await client.close();
      await server.close();
    }
  });
}

/** A broker config whose listeners have fixed ports (those of `b`), to restart "the same" broker. */
function samePorts(b) {
  const tcp = b.listeners.filter((l) => l.scheme === "tcp");
  return (
    ALLOW_ALL +
    "listeners = (\n" +
    tcp.map((l) => `  { address = "127.0.0.1"; port = ${l.port}; translator = "${l.translator}"; }`).join(",\n") +
    ` );\n`
  );
}

test("reconnect after the broker restarts on the same port", async () => {
  const b1 = await Broker.start();
  let b2;
  const clients = [];
  try {
    const events = [];
    let reconnected;
    const back = new Promise((r) => (reconnected = r));
    const sname = uniq("srv");
    const opts = (extra) => ({
      reconnect: true,
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
      logger: {},
      ...extra,
    });
    const server = await connect(b1.address("binary"), sname, "", opts({}));
    clients.push(server);
    server.handleRequests("upper", (d) => dec.decode(d).toUpperCase());
    let serverBack;
    const serverReconnected = new Promise((r) => (serverBack = r));
    server.onReconnected = () => serverBack();
    const client = await connect(
      b1.address("json"),
      uniq("cli"),
      "",
      opts({
        format: "json",
        onDisconnected: (e) => events.push(["disconnected", e]),
        onReconnecting: (n, delay) => events.push(["reconnecting", n, delay]),
        onReconnected: () => {
          events.push(["reconnected"]);
          reconnected();
        },
      }),
    );
    clients.push(client);
    assert.equal(dec.decode(await client.request(sname, "upper", "one")), "ONE");
    const conn = await client.open(sname, "upper");
    await b1.kill();
    await assert.rejects(within(conn.recv(), 5000, "the loss"), BrokerLost);
    assert.ok(client.reconnecting || client.loggedIn);
    if (client.reconnecting) await assert.rejects(client.request(sname, "upper", "x"), Disconnected);
    b2 = await Broker.start(samePorts(b1));
    await within(back, 10000, "the client to reconnect");
    await within(serverReconnected, 10000, "the server to reconnect");
    assert.ok(client.loggedIn);
    assert.equal(events[0][0], "disconnected");
    assert.ok(events[0][1] instanceof BrokerLost);
    assert.equal(events[1][0], "reconnecting");
    assert.equal(events[1][1], 1);
    assert.equal(events[1][2], 0);
    assert.equal(events.at(-1)[0], "reconnected");
    // The handlers stayed: request/reply works on the new session.
    assert.equal(dec.decode(await client.request(sname, "upper", "two", { timeoutMs: T(5000) })), "TWO");
    await client.close();
    await server.close();
    await client.closed;
  } finally {
    for (const c of clients) c.abort();
    await b1.cleanup();
    await b2?.cleanup();
  }
});

test("reconnect gives up after reconnectMaxAttempts; closed rejects", async () => {
  const b = await Broker.start();
  try {
    const client = await connect(b.address("binary"), uniq("cli"), "", {
      reconnect: true,
      reconnectInitialMs: 10,
      reconnectMaxMs: 20,
      reconnectMaxAttempts: 3,
      logger: {},
    });
    let attempts = 0;
    client.onReconnecting = () => attempts++;
    await b.kill();
    await assert.rejects(within(client.closed, 10000, "giving up"), (e) => {
      assert.match(e.message, /cannot connect/);
      return true;
    });
    assert.equal(attempts, 3);
    assert.match(client.lostReason, /gave up after 3 reconnect attempts/);
  } finally {
    await b.cleanup();
  }
});

test("close() while reconnecting stops it; closed resolves", async () => {
  const b = await Broker.start();
  try {
    let lost;
    const gone = new Promise((r) => (lost = r));
    const client = await connect(b.address("binary"), uniq("cli"), "", {
      reconnect: true,
      reconnectInitialMs: 50,
      logger: {},
      onDisconnected: () => lost(),
    });
    await b.kill();
    await within(gone, 5000, "the loss");
    assert.ok(client.reconnecting);
    await client.close();
    await within(client.closed, 5000, "closed");
    assert.ok(!client.reconnecting && !client.loggedIn);
  } finally {
    await b.cleanup();
  }
});
